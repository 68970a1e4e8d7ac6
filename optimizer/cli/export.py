"""``iop-roster export`` (calendars, CSV, workbook, HTML report) and ``iop-roster diff``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Literal

import click

from models.errors import Issue
from models.io import (
    LoadedScenario,
    check_writable_file,
    check_writable_folder,
    load_scenario,
    load_schedule,
)
from models.schedule import Schedule
from optimizer.cli.common import (
    EXIT_INVALID,
    EXIT_OK,
    SHOWN_ISSUES,
    Choice,
    Command,
    echo_out,
    friendly_errors,
    print_issues,
    refuse_overwriting_inputs,
    require_references,
    writing,
)
from optimizer.export import DEFAULT_NAMES, FORMATS, ExportFormat, export_all
from optimizer.export import export as export_format
from optimizer.export.diff import diff_schedules, format_diff
from optimizer.export.timeline import require_positive_lengths

#: Modules of the ``export`` extra: without them, export says how to install them.
_EXTRA_MODULES = frozenset({"icalendar", "xlsxwriter", "jinja2", "matplotlib"})
_SUFFIXES: dict[ExportFormat, str] = {"ics": "-calendars", "csv": ".csv", "xlsx": ".xlsx", "html": ".html"}


def default_output(schedule_file: str, fmt: ExportFormat | Literal["all"]) -> Path:
    """Where ``export`` writes without ``-o``: beside the schedule, named after it.

    ``demo.schedule.yaml`` gives ``demo.schedule.csv`` (``.xlsx``, ``.html``),
    ``demo.schedule-calendars/`` for ``ics`` and ``demo.schedule-export/`` for ``all``.
    """
    path = Path(schedule_file)
    stem = path.stem if path.suffix.lower() in {".yaml", ".yml", ".json"} else path.name
    suffix = "-export" if fmt == "all" else _SUFFIXES[fmt]
    return path.with_name(stem + suffix)


def _load_pair(schedule_file: str, scenario_file: str) -> tuple[LoadedScenario, Schedule]:
    """The scenario and a schedule whose ids it defines; warn when they look unrelated."""
    loaded = load_scenario(scenario_file)
    schedule = load_schedule(schedule_file)
    require_references(loaded.scenario, schedule, schedule_file)
    require_positive_lengths(schedule, schedule_file)
    warnings: list[Issue] = []
    if schedule.scenario.name != loaded.scenario.program.name:
        warnings.append(Issue("scenario.name", "names another program than the scenario's program.name", "warning", schedule_file))
    elif schedule.scenario.sha256 and schedule.scenario.sha256 not in loaded.digests():
        warnings.append(Issue("scenario.sha256", "differs from the scenario file's: it was solved from another version", "warning", schedule_file))
    print_issues(warnings, limit=SHOWN_ISSUES)
    return loaded, schedule


@click.command(cls=Command)
@click.argument("schedule_file", metavar="SCHEDULE", type=click.Path(dir_okay=False, path_type=str))
@click.option("--scenario", "scenario_file", required=True, type=click.Path(dir_okay=False, path_type=str),
              help="The scenario the schedule was solved from.")
@click.option("--format", "fmt", type=Choice([*FORMATS, "all"]), default="all", show_default=True,
              help="ics: one calendar per person; csv; xlsx; html report; all of them.")
@click.option("-o", "--output", "output", type=click.Path(path_type=str), default=None,
              help="A file for csv/xlsx/html, a folder for ics and all (default: beside SCHEDULE).")
@friendly_errors
def export(schedule_file: str, scenario_file: str, fmt: str, output: str | None) -> None:
    """Write a schedule as calendars, a CSV, a workbook and/or an HTML report.

    \b
    ics   participant-<id>.ics and therapist-<id>.ics in a folder, each in its
          owner's time zone; participants' calendars show only neutral titles
          ("Group session", "Appointment"), never other members or group types.
    csv   one row per participant and session, safe against formula injection.
    xlsx  sheets by therapist, by participant, a day-by-time grid, unmet needs,
          summary figures.
    html  one self-contained page (no network): timetables, rosters, unmet needs,
          coverage and utilisation charts.
    all   everything, in one folder: calendars/, roster.csv, roster.xlsx, roster.html.

    \b
    Examples:
      iop-roster export demo.schedule.yaml --scenario demo.yaml --format html -o week.html
      iop-roster export demo.schedule.yaml --scenario demo.yaml -o out/
    """
    loaded, schedule = _load_pair(schedule_file, scenario_file)
    chosen: ExportFormat | Literal["all"] = "all" if fmt == "all" else _as_format(fmt)
    target = Path(output) if output else default_output(schedule_file, chosen)
    _check_target(target, chosen, schedule_file, scenario_file, "-o" if output else "the default output")
    try:
        with writing(target):
            _write(loaded, schedule, chosen, target)
    except ModuleNotFoundError as error:
        if error.name not in _EXTRA_MODULES:
            raise
        click.echo(f"error: export needs the 'export' extra ({error.name} is not installed): "
                   "pip install 'iop-roster[export]'", err=True)
        sys.exit(EXIT_INVALID)
    sys.exit(EXIT_OK)


def _check_target(target: Path, chosen: ExportFormat | Literal["all"], schedule_file: str, scenario_file: str, option: str) -> None:
    """Refuse a target that would replace an input, or that cannot be written (exit 2)."""
    folder = chosen in ("all", "ics")
    written = [target] + ([target / name for name in DEFAULT_NAMES.values()] if chosen == "all" else [])
    refuse_overwriting_inputs([(option, path) for path in written], {"the schedule": schedule_file, "the scenario": scenario_file})
    if folder:
        check_writable_folder(target)
    else:
        check_writable_file(target)


def _write(loaded: LoadedScenario, schedule: Schedule, chosen: ExportFormat | Literal["all"], target: Path) -> None:
    if chosen == "all":
        written = export_all(loaded.scenario, schedule, target)
        calendars = sum(1 for path in written if path.suffix == ".ics")
        echo_out(f"{target}: {calendars} calendar(s) in {DEFAULT_NAMES['ics']}/, "
                   f"{', '.join(DEFAULT_NAMES[f] for f in FORMATS if f != 'ics')}")
    else:
        written = export_format(loaded.scenario, schedule, chosen, target)
        if chosen == "ics":
            echo_out(f"{target}: {len(written)} calendar(s)")
        else:
            echo_out(f"{target}: written")


def _as_format(fmt: str) -> ExportFormat:
    for known in FORMATS:
        if known == fmt:
            return known
    raise click.BadParameter(f"unknown format {fmt!r}")


@click.command(cls=Command)
@click.argument("old_file", metavar="OLD", type=click.Path(dir_okay=False, path_type=str))
@click.argument("new_file", metavar="NEW", type=click.Path(dir_okay=False, path_type=str))
@click.option("--scenario", "scenario_file", type=click.Path(dir_okay=False, path_type=str), default=None,
              help="Optional: adds calendar dates and checks the ids of both schedules.")
@click.option("--format", "output_format", type=Choice(["text", "json"]), default="text", show_default=True,
              help="text for people, json for software.")
@friendly_errors
def diff(old_file: str, new_file: str, scenario_file: str | None, output_format: Literal["text", "json"]) -> None:
    """Show what changed from schedule OLD to schedule NEW of the same week.

    Sessions are matched by content, not by id (ids are renumbered by every solve):
    identical sessions are unchanged; otherwise the same kind and group type with the
    same cohort (at least half of the smaller one's participants) or the same therapist,
    day and start is the same session, changed. Lists sessions opened, closed and
    changed (time, therapist, members), per participant the sessions gained, lost and
    changed, per therapist the same and their hours. Exit 0 whatever the differences.

    \b
    Examples:
      iop-roster diff monday.schedule.yaml replan.schedule.yaml
      iop-roster diff old.yaml new.yaml --scenario demo.yaml --format json
    """
    scenario = load_scenario(scenario_file) if scenario_file is not None else None
    old = load_schedule(old_file)
    new = load_schedule(new_file)
    if scenario is not None:
        for file, schedule in ((old_file, old), (new_file, new)):
            require_references(scenario.scenario, schedule, file)
    if old.scenario.name != new.scenario.name:
        # (Names are display text: neither is echoed.)
        click.echo(f"warning: {old_file} and {new_file} were written for programs of different names: "
                   "the changes below compare two different programs' weeks", err=True)
    result = diff_schedules(old, new, scenario.scenario if scenario else None)
    if output_format == "json":
        echo_out(json.dumps(result.to_dict(), indent=2))
    else:
        echo_out(format_diff(result), nl=False)
    sys.exit(EXIT_OK)


commands = [export, diff]
