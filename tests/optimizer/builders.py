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

from hypothesis import strategies as st

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


# --------------------------------------------------------------------------- random scenarios

_STATES = ("NY", "NJ", "IL")
_QUALIFICATIONS = ("gf", "trauma", "prescriber")
_TAGS = ("sud", "vet")
_TIMEZONES = (None, "America/New_York", "America/Chicago", "America/Phoenix", "America/Los_Angeles")
# Plain weeks, and weeks with a DST change on their Sunday (2026-03-08, 2026-11-01), and a
# summer week (Phoenix three hours behind New York instead of two).
_WEEKS = ("2026-11-30", "2026-03-02", "2026-10-26", "2026-06-01")
_HOURS = ("08:00-20:00", "07:00-22:00", "00:00-24:00")
_ALL_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


@st.composite
def _window(draw: st.DrawFn) -> str:
    # Half the windows are wide (most people are free much of the day), half narrow and anywhere.
    if draw(st.booleans()):
        return draw(st.sampled_from(["08:00-20:00", "09:00-17:00", "12:00-21:00", "06:00-24:00"]))
    start = draw(st.integers(12, 44)) * 30  # 06:00 .. 22:00
    length = draw(st.integers(2, 16)) * 30  # 1 .. 8 hours
    return f"{_hhmm(start)}-{_hhmm(min(start + length, 1440))}"


@st.composite
def _availability(draw: st.DrawFn, days: Sequence[str] = _ALL_DAYS) -> dict[str, list[str]]:
    chosen = draw(st.lists(st.sampled_from(list(days)), min_size=1, max_size=len(days), unique=True) | st.just(list(WEEKDAYS)))
    return {day: draw(st.lists(_window(), min_size=1, max_size=2)) for day in chosen}


def _subset(items: Sequence[str], *, min_size: int = 0, max_size: int | None = None) -> st.SearchStrategy[list[str]]:
    return st.lists(st.sampled_from(list(items)), min_size=min_size, max_size=max_size or len(items), unique=True)


@st.composite
def random_scenario_data(draw: st.DrawFn) -> Raw:
    """Plain data of a small valid scenario: 2-8 participants, 1-3 therapists, 1-3 group types.

    Everything the format allows may appear: windows in other time zones and DST weeks,
    states and licences, qualifications and tags, populations, caps of every kind, avoid
    pairs and avoided therapists, preferred therapists, priorities and appointments (named
    or by qualification, with their own availability and counts).
    """
    hours = draw(st.sampled_from(_HOURS))
    hours_start, hours_end = (int(part[:2]) * 60 for part in hours.split("-"))
    slot = draw(st.sampled_from([30, 60]))
    program_days = draw(st.just(list(WEEKDAYS)) | _subset(_ALL_DAYS, min_size=1))
    program: Raw = {
        "name": "Random IOP",
        "timezone": draw(st.sampled_from(["America/New_York", "America/Chicago"])),
        "week_start": draw(st.sampled_from(_WEEKS)),
        "days": program_days,
        "hours": hours,
        "slot_minutes": slot,
    }
    if draw(st.booleans()):
        program["max_concurrent_sessions"] = draw(st.integers(1, 3))

    group_types: list[Raw] = []
    for g in range(draw(st.integers(1, 3))):
        duration = draw(st.sampled_from([30, 60, 90, 120]))
        size_min = draw(st.sampled_from([1, 2, 2, 3]))
        raw: Raw = {
            "id": f"g{g + 1}",
            "duration_minutes": duration,
            "size": {"min": size_min, "max": size_min + draw(st.integers(0, 3))},
            "population": draw(st.sampled_from(["any", "any", "adult", "adolescent"])),
            "requires_qualifications": draw(st.sampled_from([[], [], ["gf"], ["trauma"]])),
            "requires_tags": draw(st.sampled_from([[], [], [], ["sud"]])),
        }
        if draw(st.booleans()):
            grid = list(range(hours_start, hours_end - duration + 1, 30))
            raw["start_times"] = sorted(_hhmm(m) for m in draw(st.lists(st.sampled_from(grid), min_size=1, max_size=4, unique=True)))
        if draw(st.booleans()):
            raw["days"] = draw(_subset(_ALL_DAYS, min_size=1))
        if draw(st.booleans()):
            raw["max_sessions_per_week"] = draw(st.integers(0, 3))
        group_types.append(raw)

    therapists: list[Raw] = []
    for t in range(draw(st.integers(1, 3))):
        raw = {
            "id": f"T{t + 1}",
            "licensed_states": draw(st.just(["NY"]) | _subset(_STATES, min_size=1)),
            "qualifications": draw(st.sampled_from([list(_QUALIFICATIONS), list(_QUALIFICATIONS), ["gf"], ["gf", "prescriber"], ["trauma"], []])),
            "availability": draw(_availability()),
            "min_break_minutes": draw(st.sampled_from([0, 0, 15, 30])),
        }
        timezone = draw(st.sampled_from(_TIMEZONES))
        if timezone is not None:
            raw["timezone"] = timezone
        if draw(st.booleans()):
            raw["max_hours_per_week"] = draw(st.sampled_from([1, 1.5, 2, 4, 8]))
        if draw(st.booleans()):
            raw["max_sessions_per_day"] = draw(st.sampled_from([1, 2, 3, 3]))
        therapists.append(raw)
    therapist_ids = [t["id"] for t in therapists]
    held = sorted({q for t in therapists for q in t["qualifications"]})

    count = draw(st.integers(2, 8))
    participant_ids = [f"P{n + 1}" for n in range(count)]
    participants: list[Raw] = []
    for ident in participant_ids:
        hours_min = draw(st.sampled_from([0, 0, 1, 2, 4]))
        days_min = draw(st.integers(0, 2))
        raw = {
            "id": ident,
            "state": draw(st.sampled_from(["NY", "NY", *_STATES])),
            "population": draw(st.sampled_from(["adult", "adult", "adult", "adolescent"])),
            "tags": draw(st.sampled_from([["sud"], ["sud", "vet"], [], ["vet"]])),
            "availability": draw(_availability()),
            "needs": {g["id"]: n for g in group_types if (n := draw(st.sampled_from([0, 1, 1, 2])))},
            "hours_per_week": {"min": hours_min},
            "days_per_week": {"min": days_min},
            "priority": draw(st.integers(1, 3)),
        }
        timezone = draw(st.sampled_from(_TIMEZONES))
        if timezone is not None:
            raw["timezone"] = timezone
        if draw(st.booleans()):
            raw["hours_per_week"]["max"] = hours_min + draw(st.sampled_from([1, 2.5, 6]))
        if draw(st.booleans()):
            raw["days_per_week"]["max"] = days_min + draw(st.integers(0, 3))
        if draw(st.booleans()):
            raw["max_sessions_per_day"] = draw(st.sampled_from([1, 2, 2]))
        if draw(st.integers(0, 3)) == 0:
            raw["max_group_size"] = draw(st.integers(2, 4))
        others = [p for p in participant_ids if p != ident]
        raw["avoid"] = draw(_subset(others, max_size=2))
        raw["avoid_therapists"] = draw(st.just([]) | _subset(therapist_ids, max_size=1))
        raw["preferred_therapists"] = draw(_subset(therapist_ids, max_size=2))
        appointments: list[Raw] = []
        for _ in range(draw(st.integers(0, 2))):
            appointment: Raw = {
                "kind": draw(st.sampled_from(["individual", "family", "medication"])),
                "duration_minutes": draw(st.sampled_from([30, 60, 90])),
                "count": draw(st.integers(1, 2)),
            }
            allowed = [t for t in therapist_ids if t not in raw["avoid_therapists"]]
            if held and (not allowed or draw(st.booleans())):
                appointment["qualification"] = draw(st.sampled_from(held))
            elif allowed:
                appointment["therapist"] = draw(st.sampled_from(allowed))
            else:
                continue
            if draw(st.booleans()):
                appointment["availability"] = draw(_availability())
            appointments.append(appointment)
        raw["appointments"] = appointments
        participants.append(raw)
    return scenario_data(group_types=group_types, therapists=therapists, participants=participants, **program)


def random_scenarios() -> st.SearchStrategy[Scenario]:
    """Small valid scenarios (see :func:`random_scenario_data`), validated."""
    return random_scenario_data().map(build)
