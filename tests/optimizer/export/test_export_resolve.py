"""Diffs and exports on a real week: the harbor sample, solved, then re-solved without T10.

Data (``data/``, made once with the solver, so no test here solves anything):

- ``harbor-week.json``: ``scenarios/harbor-week.yaml`` as JSON (120 participants, 12 therapists);
- ``harbor-week-no-T10.json``: the same without therapist T10, whose 8 named appointments
  went to any holder of ``group_facilitation``;
- ``harbor-before.schedule.json``, ``harbor-after.schedule.json``: their schedules
  (``iop-roster solve … --time-limit 25 --workers 1``), unmet reasons cut to 100 characters
  to keep the files small.

"Moved" is defined by the diff's content matching (``optimizer/export/diff.py``); these tests
check it against a definition that shares nothing with it: a participant's week is the
multiset of (day, start, end, therapist, kind, group type) of their sessions, and they moved
exactly when that multiset differs.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from pathlib import Path

import pytest

from models.io import load_scenario, load_schedule
from models.scenario import Scenario
from models.schedule import Schedule, ScheduledSession
from optimizer.export.diff import diff_schedules
from optimizer.export.ics import write_calendars

DATA = Path(__file__).resolve().parent / "data"

Slot = tuple[str, str, str, str, str, str | None]


@pytest.fixture(scope="module")
def harbor() -> Scenario:
    return load_scenario(DATA / "harbor-week.json").scenario


@pytest.fixture(scope="module")
def before() -> Schedule:
    return load_schedule(DATA / "harbor-before.schedule.json")


@pytest.fixture(scope="module")
def after() -> Schedule:
    return load_schedule(DATA / "harbor-after.schedule.json")


def _weeks(schedule: Schedule) -> dict[str, Counter[Slot]]:
    """Every participant's week: the multiset of their sessions' (day, start, end, therapist, kind, type)."""
    weeks: dict[str, Counter[Slot]] = {}
    for s in schedule.sessions:
        for participant in s.participants:
            weeks.setdefault(participant, Counter())[(s.day, s.start, s.end, s.therapist, s.kind, s.group_type)] += 1
    return weeks


def _changed_weeks(old: Schedule, new: Schedule) -> set[str]:
    old_weeks, new_weeks = _weeks(old), _weeks(new)
    return {p for p in old_weeks.keys() | new_weeks.keys() if old_weeks.get(p) != new_weeks.get(p)}


def test_resolve_without_a_therapist_lists_exactly_the_moved_people(before: Schedule, after: Schedule) -> None:
    diff = diff_schedules(before, after)
    assert set(diff.moved_participants) == _changed_weeks(before, after)
    # Everyone T10 saw had to move: T10 is gone.
    seen_by_t10 = {p for s in before.sessions if s.therapist == "T10" for p in s.participants}
    assert seen_by_t10 and seen_by_t10 <= set(diff.moved_participants)
    t10 = next(t for t in diff.therapists if t.therapist == "T10")
    assert t10.hours_after == 0 and t10.gained == () and t10.changed == ()
    assert sorted(s.id for s in t10.lost) == sorted(s.id for s in before.sessions if s.therapist == "T10")
    # Every session is accounted for once on each side.
    assert diff.unchanged + len(diff.changed) + len(diff.closed) == len(before.sessions)
    assert diff.unchanged + len(diff.changed) + len(diff.opened) == len(after.sessions)


def _perturb(schedule: Schedule, rng: random.Random, therapists: list[str]) -> Schedule:
    """One to three random edits a re-plan could make, then renumbered ids in a shuffled order."""
    sessions = list(schedule.sessions)  # edits replace sessions, never mutate them
    for _ in range(rng.randint(1, 3)):
        index = rng.randrange(len(sessions))
        session = sessions[index]
        edit = rng.choice(["therapist", "day", "move", "drop", "copy"])
        if edit == "therapist":
            sessions[index] = session.model_copy(update={"therapist": rng.choice(therapists)})
        elif edit == "day":
            sessions[index] = session.model_copy(update={"day": rng.choice(["mon", "tue", "wed", "thu", "fri"])})
        elif edit == "move" and session.kind == "group" and len(session.participants) > 1:
            others = [i for i, s in enumerate(sessions) if s.group_type == session.group_type and i != index]
            if others:
                mover = rng.choice(session.participants)
                target = rng.choice(others)
                sessions[index] = session.model_copy(update={"participants": [p for p in session.participants if p != mover]})
                sessions[target] = sessions[target].model_copy(
                    update={"participants": sorted({*sessions[target].participants, mover})}
                )
        elif edit == "drop":
            del sessions[index]
        elif edit == "copy":
            members = rng.sample(session.participants, k=max(1, len(session.participants) // 3))
            sessions.append(session.model_copy(update={"day": "sat", "participants": members}))
    rng.shuffle(sessions)
    renumbered: list[ScheduledSession] = [s.model_copy(update={"id": f"R{i:04d}"}) for i, s in enumerate(sessions)]
    return schedule.model_copy(update={"sessions": renumbered})


def test_random_replans_move_exactly_the_people_whose_week_changed(harbor: Scenario, before: Schedule) -> None:
    rng = random.Random(20261130)
    therapists = [t.id for t in harbor.therapists]
    for _ in range(60):
        new = _perturb(before, rng, therapists)
        diff = diff_schedules(before, new)
        changed = _changed_weeks(before, new)
        assert set(diff.moved_participants) == changed
        assert diff.is_empty == (not changed)


def test_no_participant_calendar_of_the_harbor_week_names_anyone_else(
    tmp_path: Path, harbor: Scenario, before: Schedule
) -> None:
    write_calendars(harbor, before, tmp_path)
    ids = re.compile(r"(?<![A-Za-z0-9])(P\d{4}|T\d{2})(?![A-Za-z0-9])")
    words = {g.id for g in harbor.group_types} | {g.name for g in harbor.group_types if g.name}
    words |= {tag for p in harbor.participants for tag in p.tags} | {harbor.program.name}
    for participant in harbor.participants:
        text = (tmp_path / f"participant-{participant.id}.ics").read_text(encoding="utf-8").replace("\r\n ", "")
        assert ids.findall(text) == [], participant.id
        lowered = text.lower()
        assert not [w for w in words if re.search(rf"(?<![a-z0-9]){re.escape(w.lower())}(?![a-z0-9])", lowered)], participant.id
