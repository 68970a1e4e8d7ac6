"""No session touches the wall times a daylight saving change skips or repeats (QA, held-out files).

Before: on the Sunday New York falls back (2026-11-01), a group at 01:00 was written as
``sun 01:00-02:00``, a time that happens twice; a therapist in Paris free only 07:00-08:00 and one
free only 08:00-09:00 (the two real hours "01:00" can mean) were both booked, ``optimal``, and the
checker agreed; a 120-minute group from 00:00 lasted 180 real minutes, and on the spring-forward
Sunday one from 01:00 lasted 60. Now the model leaves those wall times out, the checker reports a
session in them under rule 6 (``clock_change``), and an unmet need whose every start falls there
is explained as ``clock_change``.
"""

from __future__ import annotations

from typing import Any

import pytest
from builders import (
    build,
    checked,
    group_type,
    participant,
    scenario_data,
    solve_checked,
    therapist,
)

from models.schedule import Schedule
from optimizer.check import check
from optimizer.explain import explain_unmet

FALL_BACK_WEEK = "2026-10-26"  # New York: Sun 2026-11-01, 01:00-02:00 twice
SPRING_FORWARD_WEEK = "2026-03-02"  # New York: Sun 2026-03-08, 02:00-03:00 never
SUNDAY = {"sun": ["00:00-24:00"]}


def _week(week_start: str, *, starts: tuple[str, ...] | None, duration: int = 60, therapist_fields: dict[str, Any] | None = None,
          needs: int = 1) -> Any:
    return build(scenario_data(
        week_start=week_start, days=["sun"], hours="00:00-24:00", slot_minutes=30,
        group_types=[group_type("g", duration=duration, size=(1, 3), starts=starts, days=None)],
        therapists=[therapist("T1", **({"availability": SUNDAY} | (therapist_fields or {})))],
        participants=[participant("P1", {"g": needs}, availability=SUNDAY, max_sessions_per_day=needs)],
    ))


def _schedule(start: str, end: str) -> Schedule:
    return Schedule.model_validate({
        "format": "iop-schedule/1", "scenario": {"name": "Test IOP"}, "solver": {"status": "feasible"},
        "sessions": [{"id": "S1", "kind": "group", "group_type": "g", "therapist": "T1", "day": "sun",
                      "start": start, "end": end, "participants": ["P1"]}],
    })


@pytest.mark.parametrize(
    ("week_start", "start", "end", "broken"),
    [
        (FALL_BACK_WEEK, "01:00", "02:00", True),  # the repeated hour itself
        (FALL_BACK_WEEK, "00:30", "01:30", True),  # into it
        (FALL_BACK_WEEK, "01:30", "02:30", True),  # out of it
        (FALL_BACK_WEEK, "00:00", "01:00", False),  # ends as it begins
        (FALL_BACK_WEEK, "02:00", "03:00", False),
        (SPRING_FORWARD_WEEK, "01:30", "02:30", True),  # across the skipped hour
        (SPRING_FORWARD_WEEK, "02:00", "03:00", True),  # a time that never happens
        (SPRING_FORWARD_WEEK, "01:00", "02:00", False),
        (SPRING_FORWARD_WEEK, "03:00", "04:00", False),
        ("2026-11-30", "01:00", "02:00", False),  # no change that week
    ],
)
def test_checker_reports_a_session_in_the_skipped_or_repeated_hour(week_start: str, start: str, end: str, broken: bool) -> None:
    scenario = _week(week_start, starts=None)
    report = check(scenario, _schedule(start, end))
    codes = {(v.rule, v.code) for v in report.violations}
    assert codes == ({(6, "clock_change")} if broken else set()), report.violations
    if broken:
        message = report.violations[0].message
        assert "session S1 (" in message and "daylight saving time" in message
        assert ("sun 01:00-02:00" if week_start == FALL_BACK_WEEK else "sun 02:00-03:00") in message


@pytest.mark.parametrize("paris_window", ["07:00-08:00", "08:00-09:00"])
def test_an_ambiguous_start_is_not_booked_and_says_why(paris_window: str) -> None:
    # 07:00-08:00 and 08:00-09:00 in Paris are the first and the second New York 01:00 EST/EDT
    # of that Sunday: at most one of the two weeks could be served, and "sun 01:00" cannot say
    # which. Neither is booked.
    scenario = _week(FALL_BACK_WEEK, starts=("01:00",),
                     therapist_fields={"timezone": "Europe/Paris", "availability": {"sun": [paris_window]}})
    result, schedule, _ = solve_checked(scenario, time_limit=2.0)
    assert schedule.sessions == []
    assert result.status.value == "optimal" and result.objective == 0
    (explanation,) = explain_unmet(scenario, schedule)
    assert [reason.code for reason in explanation.reasons] == ["clock_change"]
    assert "Sun 01:00-02:00" in explanation.reasons[0].text


@pytest.mark.parametrize(("week_start", "hour"), [(FALL_BACK_WEEK, 60), (SPRING_FORWARD_WEEK, 120)])
def test_the_solver_places_sessions_around_the_hour(week_start: str, hour: int) -> None:
    # Four 120-minute groups on the half-hour grid of a whole Sunday: room for all of them, but
    # none may touch the hour (the checker would say so).
    scenario = _week(week_start, starts=None, duration=120, needs=4)
    result, schedule, report = solve_checked(scenario, time_limit=3.0)
    assert report.ok and len(schedule.sessions) == 4 and result.objective == 4
    for session in schedule.sessions:
        start = int(session.start[:2]) * 60 + int(session.start[3:])
        assert start + 120 <= hour or start >= hour + 60, session


def test_an_appointment_reason_names_the_hour_left_out() -> None:
    scenario = build(scenario_data(
        week_start=FALL_BACK_WEEK, days=["sun"], hours="00:00-24:00", slot_minutes=30,
        therapists=[therapist("T1", availability={"sun": ["01:00-02:00"]})],
        participants=[participant("P1", {}, availability=SUNDAY,
                                  appointments=[{"kind": "individual", "therapist": "T1", "duration_minutes": 60}])],
    ))
    _, schedule, report = solve_checked(scenario, time_limit=2.0)
    assert report.ok and schedule.sessions == []
    (explanation,) = explain_unmet(scenario, schedule)
    assert explanation.reasons[0].code == "no_appointment_slot"
    assert "without Sun 01:00-02:00" in explanation.reasons[0].text
    assert checked(scenario, schedule).ok
