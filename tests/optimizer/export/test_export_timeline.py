"""What the exports share (``optimizer/export/timeline.py``): figures of the week in real time."""

from __future__ import annotations

from models.io import scenario_from_data
from models.schedule import Schedule
from optimizer.export.timeline import utilisation


def _scenario(week_start: str, availability: dict[str, list[str]]) -> dict[str, object]:
    return {
        "format": "iop-scenario/1",
        "program": {"name": "DST", "timezone": "America/New_York", "week_start": week_start, "days": ["sun"], "hours": "00:00-24:00", "slot_minutes": 60},
        "therapists": [{"id": "T1", "licensed_states": ["NY"], "availability": availability}],
        "participants": [],
    }


def _no_sessions() -> Schedule:
    return Schedule.model_validate({"format": "iop-schedule/1", "scenario": {"name": "DST"}, "solver": {"status": "feasible"}, "sessions": []})


def test_available_hours_on_the_day_clocks_spring_forward() -> None:
    # QA c09: New York Sun 2026-03-08 00:00-06:00 = 05:00-10:00 UTC (02:00 EST -> 03:00 EDT at
    # 07:00 UTC): 5 real hours, not the 6 of the wall clock.
    scenario = scenario_from_data(_scenario("2026-03-02", {"sun": ["00:00-06:00"]})).scenario
    [row] = utilisation(scenario, _no_sessions())
    assert row.available_hours == 5.0


def test_available_hours_on_the_day_clocks_fall_back() -> None:
    # Sun 2026-11-01 00:00-24:00 = 04:00 UTC Sunday to 05:00 UTC Monday: 25 hours.
    scenario = scenario_from_data(_scenario("2026-10-26", {"sun": ["00:00-24:00"]})).scenario
    [row] = utilisation(scenario, _no_sessions())
    assert row.available_hours == 25.0


def test_available_hours_on_an_ordinary_sunday() -> None:
    # A week later nothing changes: 00:00-06:00 is 6 hours.
    scenario = scenario_from_data(_scenario("2026-03-09", {"sun": ["00:00-06:00"]})).scenario
    [row] = utilisation(scenario, _no_sessions())
    assert row.available_hours == 6.0
