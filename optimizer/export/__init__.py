"""Outputs people use: calendars, a CSV, a workbook, an HTML report, and schedule diffs.

Every writer takes a validated scenario and a schedule and writes atomically
(:func:`models.io.write_atomic`). The format modules import their optional dependencies
(icalendar, xlsxwriter, jinja2, matplotlib: the ``export`` extra) only when called, so
``optimizer.export.diff`` works without them.

Files written by :func:`export_all` into ``out_dir``:

- ``calendars/participant-<id>.ics`` and ``calendars/therapist-<id>.ics``
- ``roster.csv``, ``roster.xlsx``, ``roster.html``
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from models.scenario import Scenario
from models.schedule import Schedule
from optimizer.export.timeline import require_positive_lengths
from optimizer.inputs import as_pair

ExportFormat = Literal["ics", "csv", "xlsx", "html"]
FORMATS: tuple[ExportFormat, ...] = ("ics", "csv", "xlsx", "html")

#: File (or, for ``ics``, folder) name of each format inside an :func:`export_all` folder.
DEFAULT_NAMES: dict[ExportFormat, str] = {
    "ics": "calendars",
    "csv": "roster.csv",
    "xlsx": "roster.xlsx",
    "html": "roster.html",
}

__all__ = ["DEFAULT_NAMES", "FORMATS", "ExportFormat", "export", "export_all"]


def _exportable(scenario: object, schedule: object, caller: str) -> tuple[Scenario, Schedule]:
    """The exports' door: :func:`optimizer.inputs.as_pair`, and no session that ends before it starts."""
    checked, roster = as_pair(scenario, schedule, caller)
    require_positive_lengths(roster, f"schedule given to {caller}")
    return checked, roster


def export(scenario: Scenario, schedule: Schedule, fmt: ExportFormat, path: str | Path) -> list[Path]:
    """Write one format.

    Parameters
    ----------
    scenario, schedule
        The week and its roster (the schedule's ids must be defined in the scenario).
    fmt
        ``ics`` (``path`` is a folder that receives one file per person), ``csv``, ``xlsx``
        or ``html`` (``path`` is the file).
    path
        Where to write.

    Returns
    -------
    list of Path
        The files written.

    Raises
    ------
    models.errors.InvalidDocument
        If the scenario is not valid, the schedule uses ids the scenario does not define, or
        a session does not end after it starts.
    """
    scenario, schedule = _exportable(scenario, schedule, "export")
    if fmt == "ics":
        from optimizer.export.ics import write_calendars

        return write_calendars(scenario, schedule, path)
    if fmt == "csv":
        from optimizer.export.csv_export import write_csv

        return [write_csv(scenario, schedule, path)]
    if fmt == "xlsx":
        from optimizer.export.xlsx import write_xlsx

        return [write_xlsx(scenario, schedule, path)]
    if fmt == "html":
        from optimizer.export.html import write_html

        return [write_html(scenario, schedule, path)]
    raise ValueError(f"unknown export format {fmt!r} (one of {', '.join(FORMATS)})")


def export_all(scenario: Scenario, schedule: Schedule, out_dir: str | Path) -> list[Path]:
    """Write every format into ``out_dir`` (created if missing), named as in :data:`DEFAULT_NAMES`.

    Returns
    -------
    list of Path
        Every file written: calendars first, then the CSV, the workbook and the report.
    """
    scenario, schedule = _exportable(scenario, schedule, "export_all")
    folder = Path(out_dir)
    written: list[Path] = []
    for fmt in FORMATS:
        written += export(scenario, schedule, fmt, folder / DEFAULT_NAMES[fmt])
    return written
