"""Calendars: they parse, land at the right local time across DST, keep UIDs, keep secrets."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from icalendar import Calendar

from models.io import scenario_from_data
from models.scenario import Scenario
from models.schedule import Schedule
from optimizer.export.ics import (
    APPOINTMENT_TITLE,
    GROUP_TITLE,
    participant_calendar,
    therapist_calendar,
    write_calendars,
)

STAMP = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def _events(path: Path) -> list[object]:
    return list(Calendar.from_ical(path.read_bytes()).walk("VEVENT"))


def _unfolded(path: Path) -> str:
    # RFC 5545 folds long lines with CRLF + space; unfold before looking for substrings.
    return path.read_text(encoding="utf-8").replace("\r\n ", "")


def test_every_calendar_parses_with_icalendar(tmp_path: Path, scenario: Scenario, schedule: Schedule) -> None:
    written = write_calendars(scenario, schedule, tmp_path, STAMP)
    names = sorted(path.name for path in written)
    assert names == sorted(
        [f"participant-{p.id}.ics" for p in scenario.participants] + [f"therapist-{t.id}.ics" for t in scenario.therapists]
    )
    for path in written:
        calendar = Calendar.from_ical(path.read_bytes())
        assert calendar["VERSION"] == "2.0"
        assert [tz["TZID"] for tz in calendar.walk("VTIMEZONE")] == [str(calendar["X-WR-TIMEZONE"])]
    # P0001 is in all 4 sessions, P0002 in none; T01 leads all 4, T02 none.
    counts = {path.name: len(_events(path)) for path in written}
    assert counts["participant-P0001.ics"] == 4
    assert counts["participant-P0003.ics"] == 3
    assert counts["participant-P0002.ics"] == 0
    assert counts["therapist-T01.ics"] == 4
    assert counts["therapist-T02.ics"] == 0


def test_participant_calendar_in_own_zone_with_real_dates(scenario: Scenario, schedule: Schedule) -> None:
    # P0001 is in America/Chicago: S0001, mon 2026-11-30 18:00 New York (EST, UTC-5)
    # = 23:00 UTC = 17:00 CST (UTC-6).
    calendar = participant_calendar(scenario, schedule, "P0001", STAMP)
    first = next(iter(calendar.walk("VEVENT")))
    start = first.decoded("DTSTART")
    assert str(start.tzinfo) == "America/Chicago"
    assert start.replace(tzinfo=None) == datetime(2026, 11, 30, 17, 0)
    assert start.astimezone(UTC) == datetime(2026, 11, 30, 23, 0, tzinfo=UTC)
    assert first.decoded("DTEND").replace(tzinfo=None) == datetime(2026, 11, 30, 19, 0)
    titles = [str(e["SUMMARY"]) for e in calendar.walk("VEVENT")]
    assert titles == [GROUP_TITLE, GROUP_TITLE, APPOINTMENT_TITLE, GROUP_TITLE]


def test_therapist_calendar_lists_participants_and_group_type(scenario: Scenario, schedule: Schedule) -> None:
    calendar = therapist_calendar(scenario, schedule, "T01", STAMP)
    events = list(calendar.walk("VEVENT"))
    assert str(events[0]["SUMMARY"]) == "Process group (6)"
    description = str(events[0]["DESCRIPTION"])
    assert "S0001" in description and "process" in description
    for participant in ["P0001", "P0003", "P0004", "P0005", "P0006", "P0007"]:
        assert participant in description
    assert str(events[2]["SUMMARY"]) == "Individual: P0001"
    # T01 works in America/Chicago: 18:00 New York is 17:00 for them.
    assert events[0].decoded("DTSTART").replace(tzinfo=None) == datetime(2026, 11, 30, 17, 0)


def test_no_participant_calendar_reveals_others_or_the_program(
    tmp_path: Path, scenario: Scenario, schedule: Schedule
) -> None:
    write_calendars(scenario, schedule, tmp_path, STAMP)
    forbidden_everywhere = (
        [t.id for t in scenario.therapists]
        + [t.name for t in scenario.therapists if t.name]
        + [g.id for g in scenario.group_types]
        + [g.name for g in scenario.group_types if g.name]
        + sorted({tag for p in scenario.participants for tag in p.tags})
        + [scenario.program.name, "IOP", "intensive", "outpatient", "individual", "S000"]
    )
    for participant in scenario.participants:
        text = _unfolded(tmp_path / f"participant-{participant.id}.ics")
        others = [p.id for p in scenario.participants if p.id != participant.id]
        for word in others + forbidden_everywhere:
            assert not _mentions(text, word), f"{participant.id}'s calendar contains {word!r}"
        for event in Calendar.from_ical(text).walk("VEVENT"):
            assert str(event["SUMMARY"]) in {GROUP_TITLE, APPOINTMENT_TITLE}
            for field in ("ATTENDEE", "ORGANIZER", "LOCATION", "CATEGORIES"):
                assert field not in event


def _mentions(text: str, word: str) -> bool:
    """Whether ``word`` occurs as a whole word, in any case (``T02`` is not in ``20251102T020000``)."""
    return re.search(rf"(?<![A-Za-z0-9]){re.escape(word)}(?![A-Za-z0-9])", text, re.IGNORECASE) is not None


def _uids(path: Path) -> dict[str, str]:
    """UID by local start of every event of a calendar file."""
    return {e.decoded("DTSTART").isoformat(): str(e["UID"]) for e in _events(path)}


def test_uids_are_stable_across_exports_renumbering_and_order(
    tmp_path: Path, scenario: Scenario, schedule: Schedule
) -> None:
    first = write_calendars(scenario, schedule, tmp_path / "first", STAMP)
    # Another export time, every session renumbered and the list reversed: same UIDs.
    renumbered = schedule.model_copy(deep=True)
    renumbered.sessions = [
        s.model_copy(update={"id": f"X{9 - i}"}) for i, s in enumerate(reversed(renumbered.sessions))
    ]
    second = write_calendars(scenario, renumbered, tmp_path / "second", datetime(2026, 12, 1, tzinfo=UTC))
    for a, b in zip(first, second, strict=True):
        assert _uids(a) == _uids(b)
    uids = [uid for path in first for uid in _uids(path).values()]
    assert len(uids) == len(set(uids)), "a UID is shared by two events"

    # Moving one session changes its UID only.
    moved = schedule.model_copy(deep=True)
    moved.sessions[3] = moved.sessions[3].model_copy(update={"day": "fri"})
    third = write_calendars(scenario, moved, tmp_path / "third", STAMP)
    before = set(_uids(tmp_path / "first" / "therapist-T01.ics").values())
    after = set(_uids(third[-2]).values())
    assert len(before & after) == 3 and len(after) == 4


# A week in which daylight saving time ends: Sunday 2026-11-01 at 02:00 in New York.
# Monday 2026-10-26 is on EDT (UTC-4) and Sunday 2026-11-01, from 02:00, on EST (UTC-5).
# Phoenix keeps MST (UTC-7) all year.
DST_SCENARIO: dict[str, object] = {
    "format": "iop-scenario/1",
    "program": {
        "name": "DST week",
        "timezone": "America/New_York",
        "week_start": "2026-10-26",
        "days": ["mon", "sun"],
        "hours": "08:00-21:00",
    },
    "group_types": [
        {"id": "process", "name": "Process group", "duration_minutes": 120, "size": {"min": 2, "max": 10},
         "requires_tags": ["sud"]},
    ],
    "therapists": [
        {"id": "T01", "licensed_states": ["AZ", "NY"], "availability": {"mon": ["08:00-21:00"], "sun": ["08:00-21:00"]}},
    ],
    "participants": [
        {"id": "P0001", "state": "AZ", "timezone": "America/Phoenix", "population": "adult", "tags": ["sud"],
         "availability": {"mon": ["06:00-19:00"], "sun": ["06:00-19:00"]}, "needs": {"process": 2},
         "appointments": [{"kind": "individual", "therapist": "T01", "duration_minutes": 60}]},
        {"id": "P0002", "state": "NY", "timezone": "America/New_York", "population": "adult", "tags": ["sud"],
         "availability": {"mon": ["08:00-21:00"], "sun": ["08:00-21:00"]}, "needs": {"process": 2}},
    ],
}


@pytest.fixture
def dst_scenario() -> Scenario:
    return scenario_from_data(DST_SCENARIO).scenario


@pytest.fixture
def dst_schedule(make_schedule: Callable[..., Schedule]) -> Schedule:
    return make_schedule(
        [
            {"group_type": "process", "therapist": "T01", "day": "mon", "start": "18:00", "end": "20:00",
             "participants": ["P0001", "P0002"]},
            {"group_type": "process", "therapist": "T01", "day": "sun", "start": "18:00", "end": "20:00",
             "participants": ["P0001", "P0002"]},
            {"kind": "individual", "therapist": "T01", "day": "sun", "start": "10:00", "end": "11:00",
             "participants": ["P0001"]},
        ]
    )


def test_dst_week_lands_at_the_right_local_time(
    tmp_path: Path, dst_scenario: Scenario, dst_schedule: Schedule
) -> None:
    write_calendars(dst_scenario, dst_schedule, tmp_path, STAMP)

    def starts(name: str) -> list[datetime]:
        return sorted((e.decoded("DTSTART") for e in _events(tmp_path / name)), key=lambda d: d.astimezone(UTC))

    phoenix = starts("participant-P0001.ics")
    new_york = starts("participant-P0002.ics")
    assert [str(d.tzinfo) for d in phoenix] == ["America/Phoenix"] * 3
    assert [str(d.tzinfo) for d in new_york] == ["America/New_York"] * 2
    # Mon 2026-10-26 18:00 EDT = 22:00 UTC = 15:00 MST in Phoenix.
    assert phoenix[0].replace(tzinfo=None) == datetime(2026, 10, 26, 15, 0)
    assert phoenix[0].astimezone(UTC) == datetime(2026, 10, 26, 22, 0, tzinfo=UTC)
    assert new_york[0].replace(tzinfo=None) == datetime(2026, 10, 26, 18, 0)
    # Sun 2026-11-01 10:00 EST (after the 02:00 fall-back) = 15:00 UTC = 08:00 MST.
    assert phoenix[1].replace(tzinfo=None) == datetime(2026, 11, 1, 8, 0)
    # Sun 2026-11-01 18:00 EST = 23:00 UTC = 16:00 MST: one hour later in Phoenix than on
    # Monday for the same 18:00 program time, because New York left daylight time.
    assert phoenix[2].replace(tzinfo=None) == datetime(2026, 11, 1, 16, 0)
    assert phoenix[2].astimezone(UTC) == datetime(2026, 11, 1, 23, 0, tzinfo=UTC)
    assert new_york[1].replace(tzinfo=None) == datetime(2026, 11, 1, 18, 0)
    assert new_york[1].astimezone(UTC) == datetime(2026, 11, 1, 23, 0, tzinfo=UTC)


def test_vtimezone_carries_the_real_transitions(tmp_path: Path, dst_scenario: Scenario, dst_schedule: Schedule) -> None:
    write_calendars(dst_scenario, dst_schedule, tmp_path, STAMP)
    new_york = next(iter(Calendar.from_ical((tmp_path / "participant-P0002.ics").read_bytes()).walk("VTIMEZONE")))
    assert str(new_york["TZID"]) == "America/New_York"
    transitions = {
        (str(c.name), c.decoded("DTSTART").replace(tzinfo=None)): c.decoded("TZOFFSETTO").total_seconds() / 3600
        for c in new_york.subcomponents
    }
    # The STANDARD component starting 2025-11-02 recurs (RDATE) on 2026-11-01 at 02:00: -05:00.
    standard = [c for c in new_york.subcomponents if c.name == "STANDARD" and "RDATE" in c]
    rdates = [
        moment.dt.replace(tzinfo=None)
        for component in standard
        for rdate in (component["RDATE"] if isinstance(component["RDATE"], list) else [component["RDATE"]])
        for moment in rdate.dts
    ]
    assert datetime(2026, 11, 1, 2, 0) in rdates
    assert all(c.decoded("TZOFFSETTO").total_seconds() == -5 * 3600 for c in standard)
    assert -4.0 in transitions.values()  # daylight time exists in New York

    phoenix = next(iter(Calendar.from_ical((tmp_path / "participant-P0001.ics").read_bytes()).walk("VTIMEZONE")))
    assert str(phoenix["TZID"]) == "America/Phoenix"
    assert not list(phoenix.walk("DAYLIGHT"))
    assert {c.decoded("TZOFFSETTO").total_seconds() for c in phoenix.subcomponents} == {-7 * 3600}


def test_dst_calendars_keep_secrets(tmp_path: Path, dst_scenario: Scenario, dst_schedule: Schedule) -> None:
    write_calendars(dst_scenario, dst_schedule, tmp_path, STAMP)
    one, two = _unfolded(tmp_path / "participant-P0001.ics"), _unfolded(tmp_path / "participant-P0002.ics")
    assert "P0002" not in one and "P0001" not in two
    for text in (one, two):
        for word in ("process", "Process group", "sud", "T01", "individual", "DST week"):
            assert not _mentions(text, word)


def test_sessions_are_timed_once_per_export_not_once_per_calendar(
    tmp_path: Path, scenario: Scenario, schedule: Schedule, monkeypatch: pytest.MonkeyPatch
) -> None:
    # QA 2026-11-28: every calendar timed every session of the week again, so the calendars
    # of a 2,000-participant week (2,140 files, 14,000 sessions) took 63 s; now 17 s.
    import optimizer.export.ics as ics

    calls: list[int] = []
    original = ics.timed_sessions

    def counted(scenario: Scenario, schedule: Schedule) -> list[ics.TimedSession]:
        calls.append(1)
        return original(scenario, schedule)

    monkeypatch.setattr(ics, "timed_sessions", counted)
    written = write_calendars(scenario, schedule, tmp_path, STAMP)
    assert len(calls) == 1
    # The same calendars as each one built on its own.
    for path in written:
        kind, ident = path.stem.split("-", 1)
        build = participant_calendar if kind == "participant" else therapist_calendar
        assert path.read_bytes() == build(scenario, schedule, ident, STAMP).to_ical()
