"""CSV: one row per participant in a session, safe to open in a spreadsheet.

Columns: ``session, day, date, start, end, timezone, kind, group_type, therapist,
participant``; times are program time and ``timezone`` is the program's. A session without
participants (possible in a hand-edited file) still gets one row, with ``participant``
empty. Every cell that a spreadsheet would read as a formula is defused (see
:func:`defuse`).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from models.io import write_atomic
from models.scenario import Scenario
from models.schedule import Schedule
from optimizer.export.timeline import timed_sessions

COLUMNS: tuple[str, ...] = (
    "session",
    "day",
    "date",
    "start",
    "end",
    "timezone",
    "kind",
    "group_type",
    "therapist",
    "participant",
)

#: First characters that make Excel, LibreOffice or Google Sheets evaluate a cell (OWASP).
FORMULA_TRIGGERS: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")


def defuse(cell: str) -> str:
    """A cell that no spreadsheet evaluates: one starting with a trigger gets a ``'`` prefix.

    Examples
    --------
    >>> defuse("=1+2")
    "'=1+2"
    >>> defuse("P0001")
    'P0001'
    """
    return "'" + cell if cell.startswith(FORMULA_TRIGGERS) else cell


def csv_rows(scenario: Scenario, schedule: Schedule) -> list[list[str]]:
    """The rows under the header, in time order, each cell already defused."""
    rows: list[list[str]] = []
    for timed in timed_sessions(scenario, schedule):
        session = timed.session
        for participant in session.participants or [""]:
            rows.append(
                [
                    defuse(cell)
                    for cell in (
                        session.id,
                        session.day,
                        timed.date.isoformat(),
                        session.start,
                        session.end,
                        scenario.program.timezone,
                        session.kind,
                        session.group_type or "",
                        session.therapist,
                        participant,
                    )
                ]
            )
    return rows


def csv_text(scenario: Scenario, schedule: Schedule) -> str:
    """The whole CSV document (header included, RFC 4180 line ends)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    writer.writerows(csv_rows(scenario, schedule))
    return buffer.getvalue()


def write_csv(scenario: Scenario, schedule: Schedule, path: str | Path) -> Path:
    """Write the CSV file atomically and return its path."""
    write_atomic(path, csv_text(scenario, schedule))
    return Path(path)
