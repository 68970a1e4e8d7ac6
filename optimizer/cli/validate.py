"""``iop-roster validate`` and ``iop-roster schema``."""

from __future__ import annotations

import json
import sys
from typing import Literal

import click

from models.errors import InvalidDocument
from models.io import LoadedScenario, load_scenario
from models.scenario import is_quotable
from models.schema import json_schema_text
from models.validation import demand_hours, therapist_hours
from optimizer.cli.common import (
    EXIT_INTERNAL,
    EXIT_INVALID,
    EXIT_OK,
    Choice,
    Command,
    debugging,
    echo_out,
    friendly_errors,
    internal_error_text,
    print_issues,
)


def _summary(loaded: LoadedScenario) -> dict[str, object]:
    scenario = loaded.scenario
    licensed = {state for t in scenario.therapists for state in t.licensed_states}
    states = sorted({p.state for p in scenario.participants})
    return {
        "file": loaded.file,
        "valid": True,
        "program": scenario.program.name,
        "week_start": scenario.program.week_start.isoformat(),
        "participants": len(scenario.participants),
        "therapists": len(scenario.therapists),
        "group_types": len(scenario.group_types),
        "needed_group_sessions": sum(sum(p.needs.values()) for p in scenario.participants),
        "needed_appointments": sum(a.count for p in scenario.participants for a in p.appointments),
        "demand_therapist_hours": demand_hours(scenario),
        "available_therapist_hours": therapist_hours(scenario),
        "states": states,
        "states_without_licensed_therapist": [s for s in states if s not in licensed],
        "warnings": [w.as_dict() for w in loaded.warnings],
    }


@click.command(cls=Command)
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=str))  # (a folder among them is reported as such, per file)
@click.option("--format", "output_format", type=Choice(["text", "json"]), default="text", show_default=True,
              help="text for people, json for software.")
@friendly_errors
def validate(files: tuple[str, ...], output_format: Literal["text", "json"]) -> None:
    """Check scenario FILES against the format and print a summary of each.

    Every problem of a file is listed at once, with the path and id of the offending entry
    and the rule it breaks. Exit 0 when all files are valid, 2 when any is not, 70 when a
    file met a bug in iop-roster (the other files are still checked and reported).

    \b
    Examples:
      iop-roster validate scenarios/demo.yaml
      iop-roster validate scenarios/*.yaml --format json
    """
    any_invalid = False
    any_internal = False
    results: list[dict[str, object]] = []
    for file in files:
        # Each file on its own: a bug met in one file must not hide the others' reports.
        try:
            loaded = load_scenario(file)
            summary = _summary(loaded)
        except InvalidDocument as error:
            any_invalid = True
            # Every entry has ``warnings`` (docs/scenario-format.md), an invalid file's too.
            results.append({
                "file": file,
                "valid": False,
                "errors": [i.as_dict() for i in error.issues if i.severity == "error"],
                "warnings": [i.as_dict() for i in error.issues if i.severity != "error"],
            })
            if output_format == "text":
                print_issues(error.issues, err=False)
                echo_out(f"{file}: INVALID ({len(error.issues)} error(s))\n")
            continue
        except Exception as error:  # noqa: BLE001 - reported per file, exit 70 at the end
            if debugging():
                raise
            any_internal = True
            results.append({"file": file, "valid": False, "internal_error": type(error).__name__, "warnings": []})
            click.echo(f"{file}: {internal_error_text(error)}", err=True)
            continue
        results.append(summary)
        if output_format == "text":
            missing = summary["states_without_licensed_therapist"]
            # program.name is free text: named only where it cannot be a person's name.
            program = f"{summary['program']}, " if is_quotable(summary["program"]) else ""
            echo_out(
                f"{file}: valid - {program}week of {summary['week_start']}\n"
                f"  {summary['participants']} participants, {summary['therapists']} therapists, "
                f"{summary['group_types']} group types; states {', '.join(summary['states'])}\n"  # type: ignore[arg-type]
                f"  needs: {summary['needed_group_sessions']} group sessions, {summary['needed_appointments']} appointments\n"
                f"  therapist hours: {summary['demand_therapist_hours']} needed (groups at full size) "
                f"vs {summary['available_therapist_hours']} available\n"
                f"  states without a licensed therapist: {', '.join(missing) if missing else 'none'}"  # type: ignore[arg-type]
            )
            print_issues(loaded.warnings, err=False)
            echo_out()
    if output_format == "json":
        echo_out(json.dumps(results, indent=2))
    sys.exit(EXIT_INTERNAL if any_internal else EXIT_INVALID if any_invalid else EXIT_OK)


@click.command(cls=Command)
@click.argument("kind", type=Choice(["scenario", "schedule"]), default="scenario")
@friendly_errors
def schema(kind: Literal["scenario", "schedule"]) -> None:
    """Print the JSON Schema of a scenario (default) or schedule document.

    \b
    Example:
      iop-roster schema scenario > scenario.schema.json
    """
    echo_out(json_schema_text(kind), nl=False)


commands = [validate, schema]
