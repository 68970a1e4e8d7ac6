"""The independent checker: a hand-made valid week, then one broken rule at a time.

The base week (program clock America/New_York, week of 2026-11-30, no DST change):

- ``process``: 60 min, 2-3 adults, starts 17:00 or 18:00 on mon/wed, needs a
  ``group_facilitation`` therapist, at most 2 sessions a week.
- T1 (program clock): NY and IL, group_facilitation, mon-fri 16:00-21:00, at most 5 h and 2
  sessions a day, 15 minutes between sessions.
- T2 (America/Chicago): NY, prescriber, mon-wed 15:00-19:00 Chicago = 16:00-20:00 New York.
- P1 (priority 2): process x2 and an individual appointment with T1 (60 min);
  P2 (priority 1): process x2 and a medication appointment with any prescriber (30 min);
  P3 (priority 3): process x1; P4 (priority 1): process x1, free only mon 08:00-09:00 (unmet).

Sessions: S1 process mon 17:00 T1 [P1 P2 P3]; S2 process wed 17:00 T1 [P1 P2];
S3 individual tue 17:00-18:00 T1 [P1]; S4 medication tue 19:30-20:00 T2 [P2]. S4 is inside
T2's window only after conversion: 19:30 New York is 18:30 Chicago.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from models.io import load_scenario, load_schedule, scenario_from_data
from models.scenario import Scenario
from models.schedule import Schedule
from optimizer.check import CheckReport, Violation, check

Raw = dict[str, Any]
EXAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "examples"
WEEKDAYS = ["mon", "tue", "wed", "thu", "fri"]


def base_scenario() -> Raw:
    evenings = {day: ["16:00-21:00"] for day in WEEKDAYS}
    return {
        "format": "iop-scenario/1",
        "program": {
            "name": "Test IOP",
            "timezone": "America/New_York",
            "week_start": "2026-11-30",
            "days": list(WEEKDAYS),
            "hours": "08:00-20:00",
            "slot_minutes": 30,
            "max_concurrent_sessions": 2,
        },
        "group_types": [
            {
                "id": "process",
                "duration_minutes": 60,
                "size": {"min": 2, "max": 3},
                "population": "adult",
                "start_times": ["17:00", "18:00"],
                "days": ["mon", "wed"],
                "requires_qualifications": ["group_facilitation"],
                "max_sessions_per_week": 2,
            }
        ],
        "therapists": [
            {
                "id": "T1",
                "licensed_states": ["NY", "IL"],
                "qualifications": ["group_facilitation"],
                "availability": dict(evenings),
                "max_hours_per_week": 5,
                "max_sessions_per_day": 2,
                "min_break_minutes": 15,
            },
            {
                "id": "T2",
                "timezone": "America/Chicago",
                "licensed_states": ["NY"],
                "qualifications": ["prescriber"],
                "availability": {day: ["15:00-19:00"] for day in ("mon", "tue", "wed")},
            },
        ],
        "participants": [
            {
                "id": "P1", "state": "NY", "population": "adult", "tags": ["sud"],
                "availability": dict(evenings), "needs": {"process": 2},
                "hours_per_week": {"max": 5}, "days_per_week": {"max": 3}, "max_sessions_per_day": 2,
                "appointments": [{"kind": "individual", "therapist": "T1", "duration_minutes": 60}],
                "priority": 2,
            },
            {
                "id": "P2", "state": "NY", "population": "adult", "tags": ["sud"],
                "availability": dict(evenings), "needs": {"process": 2},
                "appointments": [{"kind": "medication", "qualification": "prescriber", "duration_minutes": 30}],
            },
            {
                "id": "P3", "state": "NY", "population": "adult",
                "availability": dict(evenings), "needs": {"process": 1}, "priority": 3,
            },
            {
                "id": "P4", "state": "NY", "population": "adult",
                "availability": {"mon": ["08:00-09:00"]}, "needs": {"process": 1},
            },
        ],
    }


def base_schedule() -> Raw:
    def session(ident: str, kind: str, therapist: str, day: str, start: str, end: str, people: list[str]) -> Raw:
        out: Raw = {"id": ident, "kind": kind, "therapist": therapist, "day": day, "start": start, "end": end,
                    "participants": people}
        if kind == "group":
            out["group_type"] = "process"
        return out

    return {
        "format": "iop-schedule/1",
        "scenario": {"name": "Test IOP"},
        "solver": {"status": "feasible", "objective": 12},
        "sessions": [
            session("S1", "group", "T1", "mon", "17:00", "18:00", ["P1", "P2", "P3"]),
            session("S2", "group", "T1", "wed", "17:00", "18:00", ["P1", "P2"]),
            session("S3", "individual", "T1", "tue", "17:00", "18:00", ["P1"]),
            session("S4", "medication", "T2", "tue", "19:30", "20:00", ["P2"]),
        ],
        "unmet": [{"participant": "P4", "need": "process", "missing": 1, "reasons": ["free only mon 08:00-09:00"]}],
    }


def build(scenario: Raw, schedule: Raw) -> tuple[Scenario, Schedule]:
    # Through the real validation, so that every broken case below starts from a valid scenario.
    return scenario_from_data(scenario).scenario, Schedule.model_validate(schedule)


def run(scenario: Raw, schedule: Raw) -> CheckReport:
    return check(*build(scenario, schedule))


def participant(scenario: Raw, ident: str) -> Raw:
    return next(p for p in scenario["participants"] if p["id"] == ident)


def therapist(scenario: Raw, ident: str) -> Raw:
    return next(t for t in scenario["therapists"] if t["id"] == ident)


def session(schedule: Raw, ident: str) -> Raw:
    return next(s for s in schedule["sessions"] if s["id"] == ident)


def move(schedule: Raw, ident: str, day: str, start: str, end: str) -> None:
    session(schedule, ident).update(day=day, start=start, end=end)


def add_session(schedule: Raw, ident: str, kind: str, day: str, start: str, end: str) -> None:
    schedule["sessions"].append(
        {"id": ident, "kind": kind, "therapist": "T1", "day": day, "start": start, "end": end, "participants": ["P1"]}
    )


# --------------------------------------------------------------------------- the valid week


def test_valid_week_is_ok_with_hand_computed_figures() -> None:
    report = run(base_scenario(), base_schedule())
    assert report.ok, report.violations
    assert report.warnings == []
    # coverage = P1 2 x (2 process + 1 individual) + P2 1 x (2 process + 1 medication)
    #          + P3 3 x 1 process + P4 1 x 0 = 6 + 3 + 3 = 12; needed adds P4's 1 x 1 = 13.
    assert report.levels["coverage"] == 12
    assert report.levels["needed"] == 13
    assert report.unmet == [("P4", "process", 1)]
    # T1 leads 3 h, T2 0.5 h: 210 minutes; the busiest, T1, 3 h.
    assert report.levels["therapist_minutes"] == 210
    assert report.levels["load_balance_hours"] == 3
    assert report.levels["hours_shortfall_minutes"] == 0
    assert report.levels["days_shortfall"] == 0
    assert report.levels["continuity_extra_therapists"] == 0
    assert report.summary == {
        "delivered_group_sessions": 5,  # P1 2 + P2 2 + P3 1
        "needed_group_sessions": 6,
        "delivered_appointments": 2,
        "needed_appointments": 2,
        "weighted_unmet": 1,
        "sessions": 4,
        "group_sessions_run": 2,
        "therapist_hours": 3.5,
        "peak_concurrent_sessions": 1,
    }
    assert report.to_dict()["ok"] is True


# --------------------------------------------------------------------------- one broken rule each

Mutation = Callable[[Raw, Raw], None]


def _set(path: Callable[[Raw, Raw], Raw], **values: Any) -> Mutation:
    def mutate(scenario: Raw, schedule: Raw) -> None:
        path(scenario, schedule).update(values)

    return mutate


def _both(*mutations: Mutation) -> Mutation:
    def mutate(scenario: Raw, schedule: Raw) -> None:
        for mutation in mutations:
            mutation(scenario, schedule)

    return mutate


def _move(ident: str, day: str, start: str, end: str) -> Mutation:
    return lambda scenario, schedule: move(schedule, ident, day, start, end)


def _session(ident: str) -> Callable[[Raw, Raw], Raw]:
    return lambda scenario, schedule: session(schedule, ident)


def _participant(ident: str) -> Callable[[Raw, Raw], Raw]:
    return lambda scenario, schedule: participant(scenario, ident)


def _therapist(ident: str) -> Callable[[Raw, Raw], Raw]:
    return lambda scenario, schedule: therapist(scenario, ident)


def _group(scenario: Raw, schedule: Raw) -> Raw:
    return scenario["group_types"][0]  # type: ignore[no-any-return]


def _program(scenario: Raw, schedule: Raw) -> Raw:
    return scenario["program"]  # type: ignore[no-any-return]


def _t1_prescribes(scenario: Raw, schedule: Raw) -> None:
    therapist(scenario, "T1")["qualifications"].append("prescriber")


def _add(ident: str, kind: str, day: str, start: str, end: str) -> Mutation:
    return lambda scenario, schedule: add_session(schedule, ident, kind, day, start, end)


# (case, mutation, rule, code, session named, id named)
CASES: list[tuple[str, Mutation, int, str, str, str]] = [
    # rule 0: the schedule's form
    ("duplicate session id", _set(_session("S2"), id="S1"), 0, "duplicate_session", "S1", "S1"),
    ("unknown therapist", _set(_session("S3"), therapist="T9"), 0, "unknown_therapist", "S3", "T9"),
    ("unknown participant", _set(_session("S1"), participants=["P1", "P2", "P99"]), 0, "unknown_participant", "S1", "P99"),
    ("participant listed twice", _set(_session("S2"), participants=["P1", "P2", "P2"]), 0, "duplicate_participant", "S2", "P2"),
    ("end not after start", _set(_session("S3"), end="17:00"), 0, "times", "S3", "S3"),
    ("group without group_type", _set(_session("S1"), group_type=None), 0, "missing_group_type", "S1", "S1"),
    ("unknown group type", _set(_session("S1"), group_type="nosuch"), 0, "unknown_group_type", "S1", "nosuch"),
    ("group duration", _set(_session("S1"), end="18:30"), 0, "duration", "S1", "process"),
    ("appointment duration", _set(_session("S3"), end="17:30"), 0, "duration", "S3", "P1"),
    ("appointment with two participants", _set(_session("S3"), participants=["P1", "P2"]), 0, "appointment_participants", "S3", "P2"),
    ("appointment with a group type", _set(_session("S3"), group_type="process"), 0, "unexpected_group_type", "S3", "process"),
    # rule 1: group size and eligibility
    ("group too small", _set(_session("S2"), participants=["P1"]), 1, "group_size", "S2", "process"),
    ("adolescent in an adult group", _set(_participant("P3"), population="adolescent"), 1, "population", "S1", "P3"),
    ("adolescent with adults", _both(_set(_group, population="any"), _set(_participant("P3"), population="adolescent")),
     1, "population_mixed", "S1", "P3"),
    ("missing required tag", _set(_group, requires_tags=["sud"]), 1, "requires_tags", "S1", "P3"),
    # rule 2: therapist qualifications, licensure, availability
    ("therapist lacks qualification", _set(_session("S1"), therapist="T2"), 2, "qualification", "S1", "T2"),
    ("therapist not licensed", _set(_participant("P3"), state="NJ"), 2, "licensure", "S1", "P3"),
    ("therapist unavailable", _set(_therapist("T1"), availability={"mon": ["16:00-17:30"], "tue": ["16:00-21:00"],
                                                                  "wed": ["16:00-21:00"]}),
     2, "therapist_unavailable", "S1", "T1"),
    ("therapist clock ignored", _set(_therapist("T2"), timezone=None), 2, "therapist_unavailable", "S4", "T2"),
    ("appointment with the wrong therapist", _set(_session("S3"), therapist="T2"), 2, "appointment_therapist", "S3", "T2"),
    # rule 3: nobody in two places at once; breaks
    ("participant in two sessions", _move("S4", "mon", "17:00", "17:30"), 3, "participant_overlap", "S4", "P2"),
    ("therapist in two sessions", _both(_t1_prescribes, _set(_session("S4"), therapist="T1"), _move("S4", "tue", "17:30", "18:00")),
     3, "therapist_overlap", "S4", "T1"),
    ("therapist break", _both(_t1_prescribes, _set(_session("S4"), therapist="T1"), _move("S4", "tue", "18:00", "18:30")),
     3, "therapist_break", "S4", "T1"),
    # rule 4: participants
    ("participant unavailable", _set(_participant("P3"), availability={"mon": ["16:00-17:30"]}), 4, "participant_unavailable", "S1", "P3"),
    ("outside the appointment's own availability",
     lambda scenario, schedule: participant(scenario, "P1")["appointments"][0].update(availability={"tue": ["18:00-21:00"]}),
     4, "participant_unavailable", "S3", "P1"),
    ("participant sessions per day", _both(_set(_participant("P1"), max_sessions_per_day=1), _move("S3", "mon", "19:00", "20:00")),
     4, "participant_sessions_per_day", "S3", "P1"),
    ("participant days per week", _set(_participant("P1"), days_per_week={"max": 2}), 4, "participant_days", "S2", "P1"),
    ("participant hours per week", _set(_participant("P1"), hours_per_week={"max": 2.5}), 4, "participant_hours", "S2", "P1"),
    ("avoid pair", _set(_participant("P2"), avoid=["P3"]), 4, "avoid", "S1", "P3"),
    ("avoid pair, other direction", _set(_participant("P3"), avoid=["P2"]), 4, "avoid", "S1", "P2"),
    ("avoided therapist", _set(_participant("P3"), avoid_therapists=["T1"]), 4, "avoid_therapist", "S1", "T1"),
    ("member's group size cap", _set(_participant("P1"), max_group_size=2), 4, "max_group_size", "S1", "P1"),
    # rule 5: therapist caps
    ("therapist hours per week", _set(_therapist("T1"), max_hours_per_week=2.5), 5, "therapist_hours", "S2", "T1"),
    ("therapist sessions per day", _both(_set(_therapist("T1"), max_sessions_per_day=1), _move("S3", "mon", "19:00", "20:00")),
     5, "therapist_sessions_per_day", "S3", "T1"),
    # rule 6: program
    ("not a program day", _set(_program, days=["mon", "tue", "thu", "fri"]), 6, "program_day", "S2", "wed"),
    ("outside program hours", _move("S3", "tue", "19:30", "20:30"), 6, "program_hours", "S3", "08:00-20:00"),
    ("group start not allowed", _move("S1", "mon", "17:30", "18:30"), 6, "start_time", "S1", "process"),
    ("appointment off the grid", _move("S3", "tue", "17:15", "18:15"), 6, "slot_grid", "S3", "S3"),
    ("group off the grid", _both(_set(_group, start_times=None), _move("S1", "mon", "17:10", "18:10")), 6, "slot_grid", "S1", "S1"),
    ("group on a day it does not run", _move("S2", "thu", "17:00", "18:00"), 6, "group_day", "S2", "process"),
    ("too many concurrent sessions", _both(_set(_program, max_concurrent_sessions=1), _move("S4", "tue", "17:00", "17:30")),
     6, "concurrency", "S4", "S3"),
    ("type sessions per week", _set(_group, max_sessions_per_week=1), 6, "type_sessions_per_week", "S2", "process"),
    # rule 7: no padding
    ("more group sessions than needed", _set(_session("S2"), participants=["P1", "P2", "P3"]), 7, "needs_exceeded", "S2", "P3"),
    ("appointment kind not needed", _add("S5", "family", "tue", "18:30", "19:30"), 7, "appointment_not_needed", "S5", "P1"),
    ("more appointments than needed", _add("S5", "individual", "tue", "18:30", "19:30"), 7, "appointments_exceeded", "S5", "P1"),
]


@pytest.mark.parametrize(("mutation", "rule", "code", "session_id", "named"),
                         [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_each_broken_rule_is_found_alone(mutation: Mutation, rule: int, code: str, session_id: str, named: str) -> None:
    scenario, schedule = base_scenario(), base_schedule()
    mutation(scenario, schedule)
    report = run(scenario, schedule)
    assert not report.ok
    assert {(v.rule, v.code) for v in report.violations} == {(rule, code)}, report.violations
    for violation in report.violations:
        assert violation.session == session_id
        assert f"session {session_id} (" in violation.message
        assert named in violation.message


def test_every_rule_has_a_case() -> None:
    assert {case[2] for case in CASES} == set(range(8))


def test_base_is_untouched_by_the_cases() -> None:
    # The mutations work on fresh copies; a shared nested dict would leak between cases.
    first, second = base_scenario(), base_scenario()
    participant(first, "P1")["appointments"][0]["availability"] = {"mon": ["16:00-17:00"]}
    therapist(first, "T1")["availability"]["mon"] = ["08:00-09:00"]
    assert second == base_scenario()
    assert therapist(second, "T1")["availability"]["mon"] == ["16:00-21:00"]


def test_violation_fields_name_the_ids() -> None:
    scenario, schedule = base_scenario(), base_schedule()
    participant(scenario, "P3")["state"] = "NJ"
    (violation,) = run(scenario, schedule).violations
    assert violation == Violation(2, "licensure", violation.message, "S1", "P3", "T1")
    assert "NJ" in violation.message and "mon 17:00-18:00" in violation.message


# --------------------------------------------------------------------------- appointments matching


def test_appointments_are_matched_to_specs_as_a_whole() -> None:
    # P1 has two individual specs: T1 for 60 min, or any prescriber (T2) for 30 min. Greedily
    # giving the first session to the wrong spec would leave the second without one.
    scenario, schedule = base_scenario(), base_schedule()
    participant(scenario, "P1")["appointments"] = [
        {"kind": "individual", "therapist": "T1", "duration_minutes": 60},
        {"kind": "individual", "qualification": "prescriber", "duration_minutes": 30},
    ]
    schedule["sessions"].append(
        {"id": "S5", "kind": "individual", "therapist": "T2", "day": "mon", "start": "19:00", "end": "19:30",
         "participants": ["P1"]}
    )
    schedule["solver"]["objective"] = 14
    report = run(scenario, schedule)
    assert report.ok, report.violations
    assert report.levels["coverage"] == 14  # P1's second individual: + 2 x 1
    assert report.summary["delivered_appointments"] == 3


def test_appointment_spec_availability_picks_the_spec_that_fits() -> None:
    # Two specs of one kind with T1, 60 min: one only on mon, one only on tue. The tue session
    # must be matched to the tue spec, even though the mon spec is listed first.
    scenario, schedule = base_scenario(), base_schedule()
    participant(scenario, "P1")["appointments"] = [
        {"kind": "individual", "therapist": "T1", "duration_minutes": 60, "availability": {"mon": ["19:00-21:00"]}},
        {"kind": "individual", "therapist": "T1", "duration_minutes": 60, "availability": {"tue": ["16:00-21:00"]}},
    ]
    assert run(scenario, schedule).violations == []


# --------------------------------------------------------------------------- time zones and DST


def _phoenix_week(week_start: str, days: list[str]) -> Raw:
    """One participant, one appointment with a therapist in America/Phoenix (no DST)."""
    return {
        "format": "iop-scenario/1",
        "program": {"name": "Zones", "timezone": "America/New_York", "week_start": week_start, "days": days,
                    "hours": "08:00-21:00"},
        "therapists": [{"id": "T5", "timezone": "America/Phoenix", "licensed_states": ["NY"],
                        "availability": {day: ["16:00-19:00"] for day in days}}],
        "participants": [{"id": "P1", "state": "NY", "population": "adult",
                          "availability": {day: ["08:00-21:00"] for day in days},
                          "appointments": [{"kind": "individual", "therapist": "T5", "duration_minutes": 60}]}],
    }


@pytest.mark.parametrize(
    ("week_start", "day", "ok"),
    [
        # Winter: Phoenix (UTC-7) is 2 h behind New York (UTC-5): 16:00-19:00 there is 18:00-21:00.
        ("2026-11-30", "mon", True),
        # Summer: New York is on UTC-4, 3 h ahead: 16:00-19:00 Phoenix is 19:00-22:00, too late.
        ("2026-06-01", "mon", False),
        # The week DST ends (Sunday 2026-11-01): Saturday is still summer time, Sunday is not.
        ("2026-10-26", "sat", False),
        ("2026-10-26", "sun", True),
    ],
)
def test_therapist_availability_is_converted_with_the_real_dates(week_start: str, day: str, ok: bool) -> None:
    scenario = _phoenix_week(week_start, ["mon", "tue", "wed", "thu", "fri", "sat", "sun"])
    schedule = {
        "format": "iop-schedule/1", "scenario": {"name": "Zones"}, "solver": {"status": "feasible"},
        "sessions": [{"id": "S1", "kind": "individual", "therapist": "T5", "day": day, "start": "18:00",
                      "end": "19:00", "participants": ["P1"]}],
    }
    report = run(scenario, schedule)
    if ok:
        assert report.ok, report.violations
    else:
        assert [(v.code, v.session, v.therapist) for v in report.violations] == [("therapist_unavailable", "S1", "T5")]
        assert "America/Phoenix" in report.violations[0].message


def test_participant_availability_in_their_own_clock() -> None:
    # P3 in Chicago, free 16:00-17:30 there = 17:00-18:30 New York: S1 (17:00-18:00) fits only
    # once converted; read in the program clock it would not.
    scenario, schedule = base_scenario(), base_schedule()
    participant(scenario, "P3").update(timezone="America/Chicago", availability={"mon": ["16:00-17:30"]})
    assert run(scenario, schedule).ok
    participant(scenario, "P3")["timezone"] = None
    (violation,) = run(scenario, schedule).violations
    assert (violation.code, violation.participant) == ("participant_unavailable", "P3")


def _appointment_week(program_zone: str, week_start: str, person_zone: str, person_windows: dict[str, list[str]]) -> Raw:
    """One participant in ``person_zone``, one 60-minute appointment count 2 with T1, who is
    free all week in the program clock; every day a program day, hours 00:00-24:00."""
    every = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    return {
        "format": "iop-scenario/1",
        "program": {"name": "Zones", "timezone": program_zone, "week_start": week_start, "days": every,
                    "hours": "00:00-24:00", "slot_minutes": 60},
        "therapists": [{"id": "T1", "licensed_states": ["GU", "IL"], "availability": {day: ["00:00-24:00"] for day in every}}],
        "participants": [{"id": "P1", "state": "GU", "timezone": person_zone, "population": "adult",
                          "availability": person_windows,
                          "appointments": [{"kind": "individual", "therapist": "T1", "duration_minutes": 60, "count": 2}]}],
    }


def _sessions(*times: tuple[str, str, str]) -> Raw:
    return {
        "format": "iop-schedule/1", "scenario": {"name": "Zones"}, "solver": {"status": "feasible"},
        "sessions": [{"id": f"S{n}", "kind": "individual", "therapist": "T1", "day": day, "start": start, "end": end,
                      "participants": ["P1"]} for n, (day, start, end) in enumerate(times, start=1)],
    }


def test_weekly_windows_recur_into_the_program_week() -> None:
    """QA c10: P1 in Pacific/Guam (UTC+10), New York on EDT (UTC-4) in the week of 2026-06-01.

    Guam Tue 08:00-10:00 = New York Mon 18:00-20:00. Guam Mon 06-01 08:00 is New York Sun 05-31,
    the week before; but the window recurs, and Guam Mon 06-08 08:00-10:00 = New York Sun 06-07
    18:00-20:00, this week's Sunday. A session then is inside P1's windows (it was
    participant_unavailable); one at Sun 20:00 is not."""
    scenario = _appointment_week("America/New_York", "2026-06-01", "Pacific/Guam", {"mon": ["08:00-10:00"], "tue": ["08:00-10:00"]})
    report = run(scenario, _sessions(("mon", "18:00", "19:00"), ("sun", "18:00", "19:00")))
    assert report.ok, report.violations
    (violation,) = run(scenario, _sessions(("mon", "18:00", "19:00"), ("sun", "20:00", "21:00"))).violations
    assert (violation.code, violation.session) == ("participant_unavailable", "S2")


def test_appointment_availability_recurs_too() -> None:
    # The appointment's own availability is read the same way, in P1's clock: Guam Mon
    # 08:00-09:00 is this week's Sun 18:00-19:00 New York (from the Monday of the week after).
    scenario = _appointment_week("America/New_York", "2026-06-01", "Pacific/Guam", {day: ["00:00-24:00"] for day in ("mon", "tue")})
    participant(scenario, "P1")["appointments"][0].update(count=1, availability={"mon": ["08:00-09:00"]})
    assert run(scenario, _sessions(("sun", "18:00", "19:00"))).ok
    # Sun 19:00 is inside P1's own windows (Guam Mon 00:00 of the week after is Sun 10:00),
    # outside the appointment's.
    (violation,) = run(scenario, _sessions(("sun", "19:00", "20:00"))).violations
    assert violation.code == "participant_unavailable"
    assert "outside the availability of P1's individual appointment" in violation.message


def test_a_window_ending_in_the_repeated_hour_is_an_hour_of_program_time() -> None:
    """QA c43: P1 in Chicago, Sun 2026-11-01 00:00-01:00 CDT = 05:00-06:00 UTC = New York 01:00
    EDT to 01:00 EST (New York falls back at 06:00 UTC). Its last minute reads 01:59, so it is
    01:00-02:00 program time (it was nothing: the window vanished). But those wall times happen
    twice that night, and "sun 01:00" cannot say which: a session there breaks rule 6
    (``clock_change``, QA 2026-11-28) and only that; 02:00-03:00 is outside P1's window."""
    scenario = _appointment_week("America/New_York", "2026-10-26", "America/Chicago", {"sun": ["00:00-01:00"]})
    participant(scenario, "P1").update(state="IL")
    participant(scenario, "P1")["appointments"][0]["count"] = 1
    (violation,) = run(scenario, _sessions(("sun", "01:00", "02:00"))).violations
    assert (violation.rule, violation.code) == (6, "clock_change")
    (violation,) = run(scenario, _sessions(("sun", "02:00", "03:00"))).violations
    assert (violation.code, violation.participant) == ("participant_unavailable", "P1")


# --------------------------------------------------------------------------- warnings and figures


def test_unmet_disagreement_is_warned() -> None:
    scenario, schedule = base_scenario(), base_schedule()
    schedule["unmet"] = [{"participant": "P3", "need": "process", "missing": 1}]
    report = run(scenario, schedule)
    assert report.ok  # a wrong unmet list is not a hard-rule violation
    assert len(report.warnings) == 2
    assert any("P3" in w and "process" in w for w in report.warnings)  # listed, but delivered
    assert any("P4" in w and "process" in w for w in report.warnings)  # missing, not listed


def test_unmet_count_disagreement_is_warned() -> None:
    scenario, schedule = base_scenario(), base_schedule()
    schedule["unmet"][0]["missing"] = 2
    (warning,) = run(scenario, schedule).warnings
    assert "P4" in warning and "2" in warning and "1" in warning


def test_undelivered_appointment_shows_as_unmet() -> None:
    scenario, schedule = base_scenario(), base_schedule()
    schedule["sessions"] = [s for s in schedule["sessions"] if s["id"] != "S4"]
    schedule["solver"]["objective"] = 11
    report = run(scenario, schedule)
    assert report.ok
    assert ("P2", "medication", 1) in report.unmet
    assert report.levels["coverage"] == 11
    assert any("P2" in w and "medication" in w for w in report.warnings)


def test_objective_and_summary_disagreement_is_warned() -> None:
    scenario, schedule = base_scenario(), base_schedule()
    schedule["solver"]["objective"] = 13
    schedule["summary"] = {"sessions": 5, "therapist_hours": 3.5}
    warnings = run(scenario, schedule).warnings
    assert len(warnings) == 2
    assert any("objective" in w for w in warnings)
    assert any("summary.sessions" in w for w in warnings)


def test_level_two_disagreement_is_warned() -> None:
    # A schedule said "minimums: 0" over a real shortfall (a stage 2 cut short). Within a
    # minute per participant it agrees (the solver counts a fractional minimum in whole minutes).
    scenario, schedule = base_scenario(), base_schedule()
    for person in scenario["participants"]:
        person["hours_per_week"] = {"min": 40}
    schedule["solver"]["levels"] = {"minimums": 0}
    report = run(scenario, schedule)
    assert report.levels["hours_shortfall_minutes"] > 0
    assert any("solver.levels.minimums is 0" in w for w in report.warnings)
    schedule["solver"]["levels"] = {"minimums": report.levels["hours_shortfall_minutes"] + 60 * report.levels["days_shortfall"]}
    assert not any("minimums" in w for w in run(scenario, schedule).warnings)


def test_scenario_hash_mismatch_is_warned() -> None:
    scenario, schedule = build(base_scenario(), base_schedule() | {"scenario": {"name": "Test IOP", "sha256": "ab" * 32}})
    assert check(scenario, schedule, scenario_sha256="ab" * 32).warnings == []
    (warning,) = check(scenario, schedule, scenario_sha256="cd" * 32).warnings
    assert "sha256" in warning


def test_levels_of_lower_objective_levels() -> None:
    scenario, schedule = base_scenario(), base_schedule()
    # P2 prefers T2 and must have 5 h on 4 days; P3 sees process with a second therapist.
    participant(scenario, "P2").update(preferred_therapists=["T2"], hours_per_week={"min": 5}, days_per_week={"min": 4})
    participant(scenario, "P3")["needs"] = {"process": 2}
    therapist(scenario, "T2")["qualifications"].append("group_facilitation")
    scenario["group_types"][0]["max_sessions_per_week"] = 3
    schedule["sessions"].append(
        {"id": "S5", "kind": "group", "group_type": "process", "therapist": "T2", "day": "wed", "start": "18:00",
         "end": "19:00", "participants": ["P3", "P4"]}
    )
    participant(scenario, "P4")["availability"] = {"wed": ["16:00-21:00"]}
    schedule["unmet"] = []
    schedule["solver"]["objective"] = None
    report = run(scenario, schedule)
    assert report.ok, report.violations
    # P2: S1, S2 (60 min each), S4 (30 min) = 150 of 300 minutes, on mon, tue, wed: 3 of 4 days.
    assert report.levels["hours_shortfall_minutes"] == 150
    assert report.levels["days_shortfall"] == 1
    # P2 prefers T2 but S1 and S2 are led by T1.
    assert report.levels["non_preferred_sessions"] == 2
    # P3 has process with T1 (S1) and T2 (S5): one extra therapist.
    assert report.levels["continuity_extra_therapists"] == 1
    # coverage 6 (P1) + 3 (P2) + 3 x 2 (P3) + 1 (P4) = 16 of 16.
    assert report.levels["coverage"] == report.levels["needed"] == 16
    assert report.levels["sessions"] == 5
    assert report.unmet == []


# --------------------------------------------------------------------------- robustness


def test_a_schedule_full_of_unknowns_is_reported_not_raised() -> None:
    scenario, _ = build(base_scenario(), base_schedule())
    schedule = Schedule.model_validate({
        "format": "iop-schedule/1", "scenario": {"name": "Other"}, "solver": {"status": "unknown"},
        "sessions": [
            {"id": "X1", "kind": "group", "group_type": "ghost", "therapist": "T7", "day": "sun", "start": "23:30",
             "end": "24:00", "participants": ["Q1", "Q1"]},
            {"id": "X1", "kind": "family", "therapist": "T1", "day": "sat", "start": "10:00", "end": "09:00",
             "participants": []},
            {"id": "X2", "kind": "group", "therapist": "T1", "day": "mon", "start": "00:00", "end": "24:00"},
        ],
        "unmet": [{"participant": "Q9", "need": "ghost", "missing": 3}],
    })
    report = check(scenario, schedule)
    codes = {v.code for v in report.violations}
    assert {"unknown_group_type", "unknown_therapist", "unknown_participant", "duplicate_participant",
            "duplicate_session", "times", "appointment_participants", "missing_group_type"} <= codes
    assert report.warnings  # Q9's claimed unmet need, the program name, every real shortfall


def test_the_empty_schedule_is_ok() -> None:
    scenario, schedule = base_scenario(), base_schedule()
    schedule["sessions"] = []
    schedule["unmet"] = []
    report = run(scenario, schedule)
    assert report.ok
    assert report.levels["coverage"] == 0
    assert report.summary["peak_concurrent_sessions"] == 0
    assert len(report.unmet) == 6  # process for P1-P4, the appointments of P1 and P2


# --------------------------------------------------------------------------- the shared example


def test_two_states_example_passes() -> None:
    scenario_file, schedule_file = EXAMPLES / "two-states.yaml", EXAMPLES / "two-states.schedule.yaml"
    if not (scenario_file.exists() and schedule_file.exists()):
        pytest.skip("shared/examples is not beside this checkout")
    loaded = load_scenario(scenario_file)
    schedule = load_schedule(schedule_file)
    report = check(loaded.scenario, schedule, scenario_sha256=loaded.sha256)
    assert report.ok, report.violations
    assert report.warnings == []
    # P0001 (priority 2): 2 process + 1 relapse prevention + 1 individual = 4 -> 8; P0003-P0007:
    # 3 group sessions each -> 15; P0002 gets nothing (avoid P0001). 23 of 26.
    assert report.levels["coverage"] == 23
    assert report.levels["needed"] == 26
    assert sorted(report.unmet) == [("P0002", "process", 2), ("P0002", "relapse_prevention", 1)]


def test_two_states_example_broken_by_hand() -> None:
    scenario_file, schedule_file = EXAMPLES / "two-states.yaml", EXAMPLES / "two-states.schedule.yaml"
    if not (scenario_file.exists() and schedule_file.exists()):
        pytest.skip("shared/examples is not beside this checkout")
    loaded = load_scenario(scenario_file)
    raw = load_schedule(schedule_file).model_dump(mode="json")
    raw = copy.deepcopy(raw)
    # Put P0002 into S0001 with P0001, whom P0002 must avoid: one violation, rule 4.
    raw["sessions"][0]["participants"].append("P0002")
    report = check(loaded.scenario, Schedule.model_validate(raw))
    assert [(v.rule, v.code, v.session) for v in report.violations] == [(4, "avoid", "S0001")]


def test_the_checker_never_repeats_free_text_from_the_files() -> None:
    # Kinds and needs are free labels: a name typed into one must not reach the report.
    marker = "Jordan Smith SECRET-PHI-123"
    sample = Path(__file__).resolve().parents[2] / "scenarios" / "two-states.yaml"
    loaded = load_scenario(sample)
    from optimizer import SolveParams, solve

    schedule = solve(loaded, SolveParams(time_limit=5, workers=1, seed=0)).schedule
    assert schedule is not None
    raw = schedule.model_dump(mode="json")
    appointment = next(s for s in raw["sessions"] if s["kind"] != "group")
    appointment["kind"] = marker
    raw["unmet"] = [{"participant": raw["sessions"][0]["participants"][0], "need": marker, "missing": 2, "reasons": []}]
    report = check(loaded, Schedule.model_validate(raw))
    text = " ".join([v.message for v in report.violations] + report.warnings)
    assert not report.ok and "appointment_not_needed" in {v.code for v in report.violations}
    assert "SECRET" not in text and "Jordan" not in text
    assert "a text of 27 characters" in text
