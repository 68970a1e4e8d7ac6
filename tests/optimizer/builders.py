"""Tiny scenarios from compact arguments, and a solve that always goes through the checker.

Defaults keep hand-solved instances short: the program runs mon-fri 08:00-20:00 in
America/New_York in the week of 2026-11-30 (no DST change that week: New York is UTC-5,
Chicago UTC-6, Phoenix UTC-7), on a 60-minute grid. A group type runs 60 minutes, 2-3
people, population ``any``, at 10:00 on Monday. Therapists and participants are in NY,
adults, free mon-fri 08:00-20:00, with no caps. Everything can be overridden by keyword;
keywords are scenario-format field names.

Import from a test module beside this one: ``from builders import ...`` (pytest puts the
directory of a test module without ``__init__.py`` on ``sys.path``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from models.io import scenario_from_data
from models.scenario import Scenario
from models.schedule import Schedule, ScheduledSession
from optimizer.check import CheckReport, check
from optimizer.result import Result, SolveParams
from optimizer.solve import solve

Raw = dict[str, Any]

REPO = Path(__file__).resolve().parents[2]
SCENARIOS = REPO / "scenarios"
SHARED_EXAMPLES = REPO.parent / "shared" / "examples"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")
ALL_DAY = "08:00-20:00"


def every_day(*windows: str, days: Iterable[str] = WEEKDAYS) -> dict[str, list[str]]:
    """The same windows on each of ``days`` (default mon-fri); no windows means 08:00-20:00."""
    return {day: list(windows or (ALL_DAY,)) for day in days}


def group_type(
    ident: str = "g",
    *,
    duration: int = 60,
    size: tuple[int, int] = (2, 3),
    starts: Sequence[str] | None = ("10:00",),
    days: Sequence[str] | None = ("mon",),
    population: str = "any",
    **fields: Any,
) -> Raw:
    """A group type; ``starts=None`` means the slot grid, ``days=None`` the program days."""
    raw: Raw = {"id": ident, "duration_minutes": duration, "size": {"min": size[0], "max": size[1]}, "population": population}
    if starts is not None:
        raw["start_times"] = list(starts)
    if days is not None:
        raw["days"] = list(days)
    raw.update(fields)
    return raw


def therapist(
    ident: str = "T1",
    *,
    states: Sequence[str] = ("NY",),
    qualifications: Sequence[str] = (),
    availability: Mapping[str, Sequence[str]] | None = None,
    **fields: Any,
) -> Raw:
    """A therapist; default free mon-fri 08:00-20:00 in the program clock."""
    raw: Raw = {
        "id": ident,
        "licensed_states": list(states),
        "qualifications": list(qualifications),
        "availability": {day: list(w) for day, w in (availability or every_day()).items()},
    }
    raw.update(fields)
    return raw


def participant(
    ident: str,
    needs: Mapping[str, int] | None = None,
    *,
    state: str = "NY",
    population: str = "adult",
    availability: Mapping[str, Sequence[str]] | None = None,
    **fields: Any,
) -> Raw:
    """A participant; ``needs`` by group type id, default free mon-fri 08:00-20:00."""
    raw: Raw = {
        "id": ident,
        "state": state,
        "population": population,
        "availability": {day: list(w) for day, w in (availability or every_day()).items()},
        "needs": dict(needs or {}),
    }
    raw.update(fields)
    return raw


def people(prefix: str, count: int, needs: Mapping[str, int], **fields: Any) -> list[Raw]:
    """``count`` alike participants ``{prefix}1``, ``{prefix}2``, ..."""
    return [participant(f"{prefix}{n}", needs, **fields) for n in range(1, count + 1)]


def scenario_data(
    *,
    group_types: Sequence[Raw] = (),
    therapists: Sequence[Raw] = (),
    participants: Sequence[Raw] = (),
    objective: Mapping[str, int] | None = None,
    **program: Any,
) -> Raw:
    """The plain data of a scenario; ``program`` keywords override the program defaults."""
    raw: Raw = {
        "format": "iop-scenario/1",
        "program": {
            "name": "Test IOP",
            "timezone": "America/New_York",
            "week_start": "2026-11-30",
            "days": list(WEEKDAYS),
            "hours": ALL_DAY,
            "slot_minutes": 60,
            **program,
        },
        "group_types": list(group_types),
        "therapists": list(therapists),
        "participants": list(participants),
    }
    if objective is not None:
        raw["objective"] = dict(objective)
    return raw


def build(raw: Raw) -> Scenario:
    """Validate plain data into a scenario (raises ``InvalidDocument`` with every error)."""
    return scenario_from_data(raw).scenario


def make_scenario(**kwargs: Any) -> Scenario:
    """``build(scenario_data(**kwargs))``."""
    return build(scenario_data(**kwargs))


def checked(scenario: Scenario, schedule: Schedule) -> CheckReport:
    """The checker's report, asserted clean: no violation, and no disagreement warning."""
    report = check(scenario, schedule)
    assert report.ok, [f"rule {v.rule} {v.code}: {v.message}" for v in report.violations]
    assert not report.warnings, report.warnings
    return report


def solve_checked(
    scenario: Scenario,
    *,
    time_limit: float = 3.0,
    workers: int = 1,
    seed: int = 0,
    deterministic: bool = False,
) -> tuple[Result, Schedule, CheckReport]:
    """Solve, then check: the schedule breaks no rule and its figures agree with the checker's."""
    result = solve(scenario, SolveParams(time_limit=time_limit, workers=workers, seed=seed, deterministic=deterministic))
    assert result.schedule is not None, result.messages
    report = checked(scenario, result.schedule)
    assert result.objective == report.levels["coverage"], (result.objective, report.levels)
    return result, result.schedule, report


def groups(schedule: Schedule, group_type_id: str | None = None) -> list[ScheduledSession]:
    """The group sessions of a schedule, optionally of one type."""
    return [s for s in schedule.sessions if s.kind == "group" and (group_type_id is None or s.group_type == group_type_id)]


def appointments(schedule: Schedule, kind: str | None = None) -> list[ScheduledSession]:
    """The appointment sessions of a schedule, optionally of one kind."""
    return [s for s in schedule.sessions if s.kind != "group" and (kind is None or s.kind == kind)]


def unmet_of(schedule: Schedule) -> dict[tuple[str, str], int]:
    """``(participant, need) -> missing`` of the schedule's unmet list."""
    return {(u.participant, u.need): u.missing for u in schedule.unmet}
