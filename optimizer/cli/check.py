"""``iop-roster check``: the independent checker's report on a schedule file."""

from __future__ import annotations

import json
import sys
from itertools import groupby
from typing import Literal

import click

from models.io import load_scenario, load_schedule
from models.scenario import quote
from optimizer.check import RULE_TITLES, CheckReport
from optimizer.check import check as check_schedule
from optimizer.cli.common import (
    EXIT_OK,
    EXIT_VIOLATIONS,
    Choice,
    Command,
    echo_out,
    friendly_errors,
)

# Order and labels of the figures in the text report; anything else follows, as is.
_LEVEL_LABELS: dict[str, str] = {
    "coverage": "coverage (priority-weighted delivered)",
    "needed": "needed (priority-weighted)",
    "hours_shortfall_minutes": "hours shortfall (minutes)",
    "days_shortfall": "days shortfall",
    "continuity_extra_therapists": "continuity: extra therapists",
    "non_preferred_sessions": "sessions with a non-preferred therapist",
    "load_balance_hours": "busiest therapist (h)",
    "sessions": "sessions",
    "therapist_minutes": "therapist minutes",
}


def _number(value: float | int) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def report_text(report: CheckReport, scenario_file: str, schedule_file: str) -> str:
    """The report for people: verdict, violations grouped by rule, warnings, levels, summary.

    Plain text with fixed columns, so it reads the same in a terminal, a pipe or a log file.
    """
    lines: list[str] = []
    if report.ok:
        lines.append(f"{schedule_file}: OK - no hard rule of {scenario_file} is broken")
    else:
        lines.append(f"{schedule_file}: {len(report.violations)} violation(s) of {scenario_file}")
    for rule, violations in groupby(report.violations, key=lambda v: v.rule):
        found = list(violations)
        lines.append("")
        lines.append(f"rule {rule} - {RULE_TITLES.get(rule, '')} ({len(found)})")
        width = max(len(v.code) for v in found)
        lines.extend(f"  {v.code:<{width}}  {v.message}" for v in found)
    if report.warnings:
        lines.append("")
        lines.append(f"warnings ({len(report.warnings)})")
        lines.extend(f"  {warning}" for warning in report.warnings)

    lines.append("")
    lines.append("levels")
    keys = [k for k in _LEVEL_LABELS if k in report.levels] + [k for k in report.levels if k not in _LEVEL_LABELS]
    width = max((len(_LEVEL_LABELS.get(k, k)) for k in keys), default=0)
    lines.extend(f"  {_LEVEL_LABELS.get(k, k):<{width}}  {_number(report.levels[k])}" for k in keys)

    lines.append("")
    lines.append("summary")
    width = max((len(k) for k in report.summary), default=0)
    lines.extend(f"  {k:<{width}}  {_number(v)}" for k, v in report.summary.items())

    if report.unmet:
        lines.append("")
        lines.append(f"unmet needs ({len(report.unmet)})")
        lines.extend(f"  {participant}  {quote(need, bare=True)}  missing {missing}" for participant, need, missing in report.unmet)
    return "\n".join(lines)


@click.command(cls=Command)
@click.argument("scenario_file", metavar="SCENARIO", type=click.Path(dir_okay=False, path_type=str))
@click.argument("schedule_file", metavar="SCHEDULE", type=click.Path(dir_okay=False, path_type=str))
@click.option("--format", "output_format", type=Choice(["text", "json"]), default="text", show_default=True,
              help="text for people, json for software.")
@friendly_errors
def check(scenario_file: str, schedule_file: str, output_format: Literal["text", "json"]) -> None:
    """Check a SCHEDULE file against every hard rule of its SCENARIO.

    The checker shares no code with the optimizer's model: it re-derives each rule from the
    two files, recomputes coverage and the objective levels, and warns where the schedule's
    unmet list or figures disagree. Exit 0 when no rule is broken, 1 when any is,
    2 when a file is invalid.

    \b
    Examples:
      iop-roster check scenarios/demo.yaml demo.schedule.yaml
      iop-roster check scenarios/demo.yaml demo.schedule.yaml --format json
    """
    loaded = load_scenario(scenario_file)
    schedule = load_schedule(schedule_file)
    report = check_schedule(loaded, schedule)  # (its file's and its content's digests both match)
    if output_format == "json":
        payload = {"scenario": scenario_file, "schedule": schedule_file, **report.to_dict()}
        echo_out(json.dumps(payload, indent=2))
    else:
        echo_out(report_text(report, scenario_file, schedule_file))
    sys.exit(EXIT_OK if report.ok else EXIT_VIOLATIONS)


commands = [check]
