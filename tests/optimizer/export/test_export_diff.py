"""Schedule diffs: nothing against itself, exactly the changes against hand-modified copies.

The base is the two-states schedule: S0001 mon 18:00-20:00 process T01, S0002 tue
18:00-19:00 relapse_prevention T01, S0003 tue 19:30-20:30 individual T01 (P0001), S0004 wed
18:00-20:00 process T01; the groups hold P0001, P0003, P0004, P0005, P0006, P0007.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from models.scenario import Scenario
from models.schedule import Schedule, ScheduledSession, UnmetNeed
from optimizer.export.diff import diff_schedules, format_diff

COHORT = ("P0001", "P0003", "P0004", "P0005", "P0006", "P0007")


def _edit(schedule: Schedule, session_id: str, **changes: object) -> Schedule:
    copy = schedule.model_copy(deep=True)
    copy.sessions = [s.model_copy(update=changes) if s.id == session_id else s for s in copy.sessions]
    return copy


def test_a_schedule_against_itself_is_empty(schedule: Schedule) -> None:
    diff = diff_schedules(schedule, schedule)
    assert diff.is_empty
    assert diff.moved_participants == ()
    assert (diff.opened, diff.closed, diff.changed, diff.renumbered) == ((), (), (), ())
    assert diff.unchanged == 4
    assert format_diff(diff) == "No changes: 4 session(s) identical.\n"


def test_renumbered_and_reordered_sessions_are_not_changes(schedule: Schedule) -> None:
    renumbered = schedule.model_copy(deep=True)
    renumbered.sessions = [
        s.model_copy(update={"id": f"N{i}", "participants": list(reversed(s.participants))})
        for i, s in enumerate(reversed(renumbered.sessions))
    ]
    diff = diff_schedules(schedule, renumbered)
    assert diff.is_empty
    assert diff.renumbered == (("S0001", "N3"), ("S0002", "N2"), ("S0003", "N1"), ("S0004", "N0"))


def test_a_therapist_handing_over_a_session(schedule: Schedule) -> None:
    # T01's Wednesday process group goes to T02 at the same time: one change, the six
    # members moved (their session has a new therapist), T01 loses 2 h and T02 gains them.
    new = _edit(schedule, "S0004", therapist="T02")
    diff = diff_schedules(schedule, new)
    assert not diff.is_empty
    assert (diff.opened, diff.closed) == ((), ())
    [change] = diff.changed
    assert (change.old.id, change.new.id) == ("S0004", "S0004")
    assert change.therapist_changed and not change.time_changed
    assert (change.joined, change.left) == ((), ())
    assert diff.moved_participants == COHORT
    assert all(p.changed == (change,) and not p.gained and not p.lost for p in diff.participants)
    therapists = {t.therapist: t for t in diff.therapists}
    assert [s.id for s in therapists["T01"].lost] == ["S0004"] and therapists["T01"].gained == ()
    assert [s.id for s in therapists["T02"].gained] == ["S0004"] and therapists["T02"].lost == ()
    assert (therapists["T01"].hours_before, therapists["T01"].hours_after) == (6.0, 4.0)
    assert (therapists["T02"].hours_before, therapists["T02"].hours_after) == (0.0, 2.0)


def test_one_participant_moved_to_a_new_group(schedule: Schedule, make_schedule: Callable[..., Schedule]) -> None:
    # P0007 leaves Monday's group for a new Friday group with P0002, who had no process
    # group; P0002's unmet process need drops from 2 to 1.
    new = _edit(schedule, "S0001", participants=[p for p in COHORT if p != "P0007"])
    new.sessions.append(
        ScheduledSession(id="S0005", kind="group", group_type="process", therapist="T02", day="fri",
                         start="09:00", end="11:00", participants=["P0002", "P0007"])
    )
    new.unmet = [UnmetNeed(participant="P0002", need="process", missing=1), new.unmet[1]]
    diff = diff_schedules(schedule, new)
    assert [s.id for s in diff.opened] == ["S0005"] and diff.closed == ()
    [change] = diff.changed
    assert change.new.id == "S0001" and change.left == ("P0007",) and change.joined == ()
    assert not (change.time_changed or change.therapist_changed)
    assert diff.moved_participants == ("P0002", "P0007")
    moved = {p.participant: p for p in diff.participants}
    assert [s.id for s in moved["P0007"].lost] == ["S0001"] and [s.id for s in moved["P0007"].gained] == ["S0005"]
    assert [s.id for s in moved["P0002"].gained] == ["S0005"] and moved["P0002"].lost == ()
    therapists = {t.therapist: t for t in diff.therapists}
    assert [c.new.id for c in therapists["T01"].changed] == ["S0001"]
    assert [s.id for s in therapists["T02"].gained] == ["S0005"]
    assert [(u.participant, u.need, u.missing_before, u.missing_after) for u in diff.unmet] == [
        ("P0002", "process", 2, 1)
    ]
    text = format_diff(diff)
    assert "+ S0005 fri 09:00-11:00 process T02 (2): P0002, P0007" in text
    assert "~ S0001 process (mon 18:00-20:00, T01): left P0007" in text


def test_a_retimed_and_renumbered_session_is_matched_by_its_cohort(schedule: Schedule) -> None:
    new = _edit(schedule, "S0002", id="S0099", day="fri")
    diff = diff_schedules(schedule, new)
    [change] = diff.changed
    assert (change.old.id, change.new.id) == ("S0002", "S0099")
    assert change.time_changed and not change.therapist_changed
    assert diff.moved_participants == COHORT
    assert (diff.opened, diff.closed) == ((), ())
    # T01 keeps the session, at another time.
    [t01] = diff.therapists
    assert (t01.therapist, [c.new.id for c in t01.changed], t01.gained, t01.lost) == ("T01", ["S0099"], (), ())


def test_a_dropped_appointment_is_closed(schedule: Schedule) -> None:
    new = schedule.model_copy(deep=True)
    new.sessions = [s for s in new.sessions if s.id != "S0003"]
    diff = diff_schedules(schedule, new)
    assert [s.id for s in diff.closed] == ["S0003"] and diff.opened == () and diff.changed == ()
    assert diff.moved_participants == ("P0001",)
    assert [s.id for s in diff.participants[0].lost] == ["S0003"]
    assert [s.id for s in diff.therapists[0].lost] == ["S0003"]


def test_an_unrelated_cohort_at_another_time_is_closed_and_opened(schedule: Schedule) -> None:
    # Same type, but only 2 of 6 members shared (less than half) and another slot:
    # not the same session.
    new = _edit(schedule, "S0004", day="fri", participants=["P0001", "P0003", "P0002", "P0008", "P0009", "P0010"])
    diff = diff_schedules(schedule, new)
    assert [s.id for s in diff.closed] == ["S0004"] and [s.id for s in diff.opened] == ["S0004"]
    assert diff.changed == ()
    # Same members swap but the slot is kept: the same session, with new members.
    kept = _edit(schedule, "S0004", participants=["P0002", "P0008", "P0009", "P0010", "P0011", "P0012"])
    [change] = diff_schedules(schedule, kept).changed
    assert set(change.left) == set(COHORT) and len(change.joined) == 6


def test_to_dict_is_json_and_carries_dates_with_a_scenario(scenario: Scenario, schedule: Schedule) -> None:
    new = _edit(schedule, "S0004", therapist="T02")
    data = diff_schedules(schedule, new, scenario).to_dict()
    text = json.dumps(data)
    assert json.loads(text) == data
    assert data["counts"] == {"opened": 0, "closed": 0, "changed": 1, "unchanged": 3, "renumbered": 0,
                              "moved_participants": 6}
    assert data["changed"][0]["new"]["date"] == "2026-12-02"  # type: ignore[index]
    assert data["moved_participants"] == list(COHORT)
