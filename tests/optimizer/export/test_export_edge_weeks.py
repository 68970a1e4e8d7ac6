"""Every export path for the first and last weeks a scenario allows, and a DST week.

QA: ``week_start: 9999-12-13`` (and ``0001-01-08``) passed validation and solved, then the
export exited 70: the calendars' VTIMEZONE range ran from the year before the week to the
year after, which is year 0 or 10001.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar
from test_export_ics import DST_SCENARIO

from models.clock import EARLIEST_WEEK_START, LATEST_WEEK_START
from models.io import scenario_from_data
from models.scenario import Scenario
from models.schedule import Schedule
from optimizer.export import export, export_all
from optimizer.export.diff import diff_schedules
from optimizer.export.timeline import local_span, participant_timezone, timed_sessions

# Zones at the edges of the offsets and with odd rules: UTC+14, UTC-11, a 30-minute southern
# daylight time (on in December and January, so the last week is on daylight time there), and
# New York, whose daylight time ends in the DST week (Sunday 2026-11-01 02:00).
EDGE_ZONES = {"P0001": "Pacific/Kiritimati", "P0002": "America/New_York", "P0003": "Australia/Lord_Howe", "P0004": "Pacific/Pago_Pago"}


def _scenario(week_start: str) -> Scenario:
    data = copy.deepcopy(DST_SCENARIO)
    program = data["program"]
    assert isinstance(program, dict)
    program["week_start"] = week_start
    participants = data["participants"]
    assert isinstance(participants, list)
    template = participants[1]
    while len(participants) < len(EDGE_ZONES):
        participants.append({**template, "id": f"P{len(participants) + 1:04d}"})
    for participant in participants:
        participant["timezone"] = EDGE_ZONES[participant["id"]]
    return scenario_from_data(data).scenario


@pytest.fixture
def edge_schedule(make_schedule: Callable[..., Schedule]) -> Schedule:
    # Monday morning and Sunday night: the earliest and latest moments of the week, where a
    # far zone's local date leaves the week.
    everyone = list(EDGE_ZONES)
    return make_schedule(
        [
            {"group_type": "process", "therapist": "T01", "day": "mon", "start": "08:00", "end": "10:00", "participants": everyone},
            {"group_type": "process", "therapist": "T01", "day": "sun", "start": "18:00", "end": "20:00", "participants": everyone},
            {"kind": "individual", "therapist": "T01", "day": "sun", "start": "20:00", "end": "21:00", "participants": ["P0001"]},
        ]
    )


def _offset_from_vtimezone(calendar: Calendar, instant: datetime) -> timedelta:
    """The UTC offset a calendar app that knows only the file's VTIMEZONE uses at ``instant``.

    The observance in force is the one with the latest onset (DTSTART or RDATE, written on the
    clock of its TZOFFSETFROM) at or before the instant.
    """
    (vtimezone,) = calendar.walk("VTIMEZONE")
    onsets: list[tuple[datetime, timedelta]] = []
    for observance in vtimezone.subcomponents:
        offset_from = observance.decoded("TZOFFSETFROM")
        offset_to = observance.decoded("TZOFFSETTO")
        locals_ = [observance.decoded("DTSTART")]
        rdates = observance.get("RDATE", [])
        for rdate in rdates if isinstance(rdates, list) else [rdates]:
            locals_ += [moment.dt for moment in rdate.dts]
        onsets += [((moment.replace(tzinfo=None) - offset_from).replace(tzinfo=UTC), offset_to) for moment in locals_]
    in_force = [(onset, offset) for onset, offset in onsets if onset <= instant]
    assert in_force, f"the VTIMEZONE starts after {instant}"
    return max(in_force)[1]


@pytest.mark.parametrize(
    "week_start",
    [EARLIEST_WEEK_START.isoformat(), "2026-10-26", LATEST_WEEK_START.isoformat()],
    ids=["first-week", "dst-week", "last-week"],
)
def test_every_export_of_an_edge_week(tmp_path: Path, edge_schedule: Schedule, week_start: str) -> None:
    scenario = _scenario(week_start)
    written = export_all(scenario, edge_schedule, tmp_path / "all")
    assert len(written) == len(EDGE_ZONES) + 1 + 3
    for fmt, name in [("ics", "calendars"), ("csv", "roster.csv"), ("xlsx", "roster.xlsx"), ("html", "roster.html")]:
        assert export(scenario, edge_schedule, fmt, tmp_path / "one" / name)  # type: ignore[arg-type]
    assert diff_schedules(edge_schedule, edge_schedule, scenario) is not None

    sunday = (datetime.fromisoformat(week_start) + timedelta(days=6)).date().isoformat()
    assert f"{week_start},08:00" in (tmp_path / "all" / "roster.csv").read_text(encoding="utf-8").replace('"', "")
    assert sunday in (tmp_path / "all" / "roster.html").read_text(encoding="utf-8")

    sessions = timed_sessions(scenario, edge_schedule)
    for participant in scenario.participants:
        calendar = Calendar.from_ical((tmp_path / "all" / "calendars" / f"participant-{participant.id}.ics").read_bytes())
        zone = ZoneInfo(participant_timezone(scenario, participant.id))
        events = list(calendar.walk("VEVENT"))
        mine = [timed for timed in sessions if participant.id in timed.session.participants]
        assert len(events) == len(mine)
        for event, timed in zip(events, mine, strict=True):
            start = event.decoded("DTSTART")
            expected_start, _ = local_span(scenario, timed, str(zone))
            assert str(start.tzinfo) == str(zone)
            assert start.replace(tzinfo=None) == expected_start.replace(tzinfo=None)
            instant = expected_start.astimezone(UTC)
            # An app without the tz database places the event by the VTIMEZONE alone: right.
            assert _offset_from_vtimezone(calendar, instant) == instant.astimezone(zone).utcoffset()
