"""A scripted mid-week re-plan on ``scenarios/harbor-week.yaml`` (issue 7).

Monday has happened. On Tuesday two participants are admitted, one is discharged, and a
therapist is off on Thursday. The week is re-planned from the schedule in force with
Monday locked, and the script records how long it took and how many person-sessions moved.

Run: ``python -m benchmarks.replan_week [--time-limit 30] [--workers 2] [--out FILE]``.
"""

from __future__ import annotations

import argparse
import platform
import time
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

from models.io import load_scenario, scenario_from_data, write_atomic
from models.scenario import Scenario
from models.schedule import Schedule
from optimizer import SolveParams, check, solve
from optimizer.replan import ReplanRequest

ROOT = Path(__file__).resolve().parents[1]


def scripted_week(scenario: Scenario, current: Schedule) -> tuple[Scenario, dict[str, str]]:
    """The changed scenario: 2 admissions from Tuesday, 1 discharge on Tuesday, a therapist off Thursday.

    The discharged participant keeps Monday (it happened): their availability ends after
    Monday and their needs shrink to what Monday delivered, so nothing more is planned.
    """
    raw: dict[str, Any] = scenario.model_dump(mode="json", exclude_defaults=True)
    participants = raw["participants"]
    evening = [p for p in participants if p.get("availability", {}).get("tue") and p["population"] == "adult"]
    admitted = []
    for number, template in enumerate(evening[:2], start=1):
        newcomer = {key: value for key, value in template.items() if key not in ("avoid", "preferred_therapists")}
        newcomer["id"] = f"P9{number:03d}"
        newcomer["availability"] = {day: windows for day, windows in template["availability"].items() if day != "mon"}
        participants.append(newcomer)
        admitted.append(newcomer["id"])
    leaving = participants[5]
    monday = [s for s in current.sessions if s.day == "mon" and leaving["id"] in s.participants]
    leaving["availability"] = {day: windows for day, windows in leaving["availability"].items() if day == "mon"}
    leaving["needs"] = {g: sum(1 for s in monday if s.group_type == g) for g in leaving.get("needs", {})}
    kinds = {s.kind for s in monday if s.kind != "group"}
    leaving["appointments"] = [a for a in leaving.get("appointments", []) if a["kind"] in kinds]
    leaving.pop("hours_per_week", None)
    leaving.pop("days_per_week", None)
    absent = raw["therapists"][4]
    absent.get("availability", {}).pop("thu", None)
    changed = scenario_from_data(raw).scenario
    return changed, {"admitted": ", ".join(admitted), "discharged": leaving["id"], "absent_thursday": absent["id"]}


def main() -> None:
    """Solve the week, apply the script, re-plan, write the results table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--time-limit", type=float, default=30.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "replan-harbor.md")
    args = parser.parse_args()
    params = SolveParams(time_limit=args.time_limit, workers=args.workers, seed=0)

    scenario = load_scenario(ROOT / "scenarios" / "harbor-week.yaml").scenario
    first = solve(scenario, params)
    assert first.schedule is not None
    changed, script = scripted_week(scenario, first.schedule)
    started = time.perf_counter()
    result = solve(changed, params, replan=ReplanRequest(first.schedule, lock_through="mon"))
    seconds = time.perf_counter() - started
    assert result.schedule is not None, result.messages
    report = check(changed, result.schedule)
    changes: dict[str, Any] = (result.schedule.model_extra or {})["changes"]
    rows = [
        ("scenario", "scenarios/harbor-week.yaml"),
        ("script", f"admitted {script['admitted']} (from Tuesday), discharged {script['discharged']} (after Monday), "
                   f"{script['absent_thursday']} off Thursday, Monday locked"),
        ("first solve", f"objective {first.objective:g}, bound {first.best_bound:g}, {first.wall_seconds:.1f} s"),
        ("re-plan wall time", f"{seconds:.1f} s (time limit {args.time_limit:g} s, {args.workers} workers)"),
        ("re-plan objective", f"{result.objective:g} (bound {result.best_bound:g})"),
        ("person-sessions moved", f"{changes['moved_person_sessions']} of {changes['person_sessions_before']} "
                                  f"({float(changes['moved_share']):.1%})"),
        ("participants moved", str(len(changes["moved_participants"]))),
        ("sessions opened / closed / changed", f"{changes['opened']} / {changes['closed']} / {changes['changed']}"),
        ("checker", "pass" if report.ok else f"{len(report.violations)} violations"),
        ("admitted participants' sessions", str(sum(1 for s in result.schedule.sessions for p in s.participants if p.startswith("P9")))),
    ]
    header = (
        f"# Scripted mid-week re-plan\n\n{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.machine()}, "
        f"{len(__import__('os').sched_getaffinity(0))} cores, Python {platform.python_version()}, ortools {version('ortools')}. "
        "Measured on a machine shared with other work: times are upper bounds.\n\n"
        "Reproduce: `python -m benchmarks.replan_week`\n\n| measure | value |\n|---|---|\n"
    )
    text = header + "".join(f"| {name} | {value} |\n" for name, value in rows)
    write_atomic(args.out, text)
    print(text)


if __name__ == "__main__":
    main()
