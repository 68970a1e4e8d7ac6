"""What changed between two schedules of one week: sessions, participants, therapists.

Session ids are renumbered by every solve, so sessions are matched by *content*, in two
rounds:

1. **Unchanged**: same kind, group type, therapist, day, start, end and participant set.
   Such a pair is unchanged whatever the ids (a differing id is only reported as
   ``renumbered``).
2. **Changed**: among the rest, an old and a new session are candidates when they have the
   same kind and group type, and either share at least half of the smaller one's
   participants (at least one), i.e. they are the same cohort (for an appointment: the same
   participant), or they keep the same therapist, day and start (the same slot, re-staffed
   with other members). Candidates are paired greedily, best first, by (participants shared,
   same day and start, same therapist, same id), ties broken by ids, so the result is
   deterministic. A pair differs in time, therapist or members.

Old sessions left unpaired are **closed**, new ones **opened**.

From these follow, per participant, the sessions **gained** (joined, or opened with them in
it), **lost** (left, or closed) and **changed** (still theirs, at another time or with
another therapist); a participant with any of them has **moved**. Per therapist: sessions
gained (taken over or opened), lost (handed over or closed), changed (time or members), and
hours before and after. Unmet needs whose ``missing`` count differs are listed too.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from models.clock import DAY_INDEX, WeekClock, parse_time
from models.scenario import Scenario, quote
from models.schedule import Schedule, ScheduledSession
from optimizer.export.timeline import end_minute

JsonDict = dict[str, object]


@dataclass(frozen=True)
class SessionRef:
    """A session as the diff sees it (participants sorted; ``date`` when a scenario was given)."""

    id: str
    kind: str
    group_type: str | None
    therapist: str
    day: str
    start: str
    end: str
    participants: tuple[str, ...]
    date: str | None = None

    @classmethod
    def of(cls, session: ScheduledSession, clock: WeekClock | None = None) -> SessionRef:
        """The reference of a scheduled session."""
        return cls(
            id=session.id,
            kind=session.kind,
            group_type=session.group_type,
            therapist=session.therapist,
            day=session.day,
            start=session.start,
            end=session.end,
            participants=tuple(sorted(session.participants)),
            date=clock.date_of(session.day).isoformat() if clock else None,
        )

    @property
    def what(self) -> str:
        """The group type id, or the appointment kind, as text for people may show it (a kind
        is a free label: described, not repeated, where it could carry a name)."""
        return self.group_type or quote(self.kind, bare=True)

    @property
    def when(self) -> str:
        """``mon 18:00-20:00`` (with the date when known)."""
        day = f"{self.day} {self.date}" if self.date else self.day
        return f"{day} {self.start}-{self.end}"

    @property
    def hours(self) -> float:
        """Length in hours."""
        return (end_minute(self.end) - parse_time(self.start)) / 60

    def content_key(self) -> tuple[object, ...]:
        """Everything but the id: equal keys mean the same session for everyone in it."""
        return (self.kind, self.group_type, self.therapist, self.day, self.start, self.end, self.participants)

    def describe(self) -> str:
        """One line: ``S0001 mon 18:00-20:00 process T01 (6)``."""
        return f"{self.id} {self.when} {self.what} {self.therapist} ({len(self.participants)})"

    def to_dict(self) -> JsonDict:
        """JSON-ready form."""
        out: JsonDict = {
            "id": self.id,
            "kind": self.kind,
            "group_type": self.group_type,
            "therapist": self.therapist,
            "day": self.day,
            "start": self.start,
            "end": self.end,
            "participants": list(self.participants),
        }
        if self.date is not None:
            out["date"] = self.date
        return out


@dataclass(frozen=True)
class SessionChange:
    """An old session and its new counterpart, which differ in time, therapist or members."""

    old: SessionRef
    new: SessionRef

    @property
    def time_changed(self) -> bool:
        """Whether the day, start or end differ."""
        return (self.old.day, self.old.start, self.old.end) != (self.new.day, self.new.start, self.new.end)

    @property
    def therapist_changed(self) -> bool:
        """Whether another therapist leads it."""
        return self.old.therapist != self.new.therapist

    @property
    def joined(self) -> tuple[str, ...]:
        """Participants in the new session only."""
        return tuple(p for p in self.new.participants if p not in self.old.participants)

    @property
    def left(self) -> tuple[str, ...]:
        """Participants in the old session only."""
        return tuple(p for p in self.old.participants if p not in self.new.participants)

    @property
    def stayed(self) -> tuple[str, ...]:
        """Participants in both."""
        return tuple(p for p in self.new.participants if p in self.old.participants)

    def describe(self) -> str:
        """One line: ids, type, new time and therapist, then each difference."""
        parts = []
        if self.time_changed:
            parts.append(f"time {self.old.when} -> {self.new.when}")
        if self.therapist_changed:
            parts.append(f"therapist {self.old.therapist} -> {self.new.therapist}")
        if self.joined:
            parts.append(f"joined {', '.join(self.joined)}")
        if self.left:
            parts.append(f"left {', '.join(self.left)}")
        ids = self.old.id if self.old.id == self.new.id else f"{self.old.id} -> {self.new.id}"
        return f"{ids} {self.new.what} ({self.new.when}, {self.new.therapist}): {'; '.join(parts)}"

    def to_dict(self) -> JsonDict:
        """JSON-ready form."""
        return {
            "old": self.old.to_dict(),
            "new": self.new.to_dict(),
            "time_changed": self.time_changed,
            "therapist_changed": self.therapist_changed,
            "joined": list(self.joined),
            "left": list(self.left),
        }


@dataclass(frozen=True, kw_only=True)
class _SessionsChange:
    """Sessions a person gained, lost and kept with a change."""

    gained: tuple[SessionRef, ...] = ()
    lost: tuple[SessionRef, ...] = ()
    changed: tuple[SessionChange, ...] = ()

    def _sessions_dict(self) -> JsonDict:
        return {
            "gained": [s.id for s in self.gained],
            "lost": [s.id for s in self.lost],
            "changed": [{"old": c.old.id, "new": c.new.id} for c in self.changed],
        }


@dataclass(frozen=True)
class ParticipantChange(_SessionsChange):
    """How one participant's week changed: sessions joined, left, and moved in time or therapist."""

    participant: str

    def to_dict(self) -> JsonDict:
        """JSON-ready form (sessions by id; see the diff's session lists for details)."""
        return {"participant": self.participant, **self._sessions_dict()}


@dataclass(frozen=True)
class TherapistChange(_SessionsChange):
    """How one therapist's week changed: sessions taken over or opened, handed over or closed,
    retimed or with other members; hours before and after."""

    therapist: str
    hours_before: float = 0.0
    hours_after: float = 0.0

    def to_dict(self) -> JsonDict:
        """JSON-ready form."""
        return {
            "therapist": self.therapist,
            **self._sessions_dict(),
            "hours_before": self.hours_before,
            "hours_after": self.hours_after,
        }


@dataclass(frozen=True)
class UnmetChange:
    """A need whose missing count differs (0: fully met on that side)."""

    participant: str
    need: str
    missing_before: int
    missing_after: int

    def to_dict(self) -> JsonDict:
        """JSON-ready form."""
        return {
            "participant": self.participant,
            "need": self.need,
            "missing_before": self.missing_before,
            "missing_after": self.missing_after,
        }


@dataclass(frozen=True)
class ScheduleDiff:
    """Every difference between an old and a new schedule (see the module docstring)."""

    opened: tuple[SessionRef, ...] = ()
    closed: tuple[SessionRef, ...] = ()
    changed: tuple[SessionChange, ...] = ()
    unchanged: int = 0
    renumbered: tuple[tuple[str, str], ...] = ()
    participants: tuple[ParticipantChange, ...] = ()
    therapists: tuple[TherapistChange, ...] = ()
    unmet: tuple[UnmetChange, ...] = field(default=())

    @property
    def is_empty(self) -> bool:
        """Nothing changed for anyone (renumbered ids alone do not count)."""
        return not (self.opened or self.closed or self.changed or self.unmet)

    @property
    def moved_participants(self) -> tuple[str, ...]:
        """Ids of participants who gained, lost or had changed any session, sorted."""
        return tuple(change.participant for change in self.participants)

    def to_dict(self) -> JsonDict:
        """JSON-ready form: counts, then every list."""
        return {
            "is_empty": self.is_empty,
            "counts": {
                "opened": len(self.opened),
                "closed": len(self.closed),
                "changed": len(self.changed),
                "unchanged": self.unchanged,
                "renumbered": len(self.renumbered),
                "moved_participants": len(self.participants),
            },
            "opened": [s.to_dict() for s in self.opened],
            "closed": [s.to_dict() for s in self.closed],
            "changed": [c.to_dict() for c in self.changed],
            "renumbered": [{"old": old, "new": new} for old, new in self.renumbered],
            "moved_participants": list(self.moved_participants),
            "participants": [p.to_dict() for p in self.participants],
            "therapists": [t.to_dict() for t in self.therapists],
            "unmet": [u.to_dict() for u in self.unmet],
        }


def _order(ref: SessionRef) -> tuple[int, int, str, str]:
    return (DAY_INDEX[ref.day], parse_time(ref.start), ref.therapist, ref.id)


def _candidate_score(old: SessionRef, new: SessionRef) -> tuple[int, bool, bool, bool] | None:
    """Preference of pairing two sessions, or None when they are not the same session."""
    if (old.kind, old.group_type) != (new.kind, new.group_type):
        return None
    shared = len(set(old.participants) & set(new.participants))
    smaller = min(len(old.participants), len(new.participants))
    same_cohort = shared >= max(1, (smaller + 1) // 2)
    same_slot = (old.therapist, old.day, old.start) == (new.therapist, new.day, new.start)
    if not (same_cohort or same_slot):
        return None
    return (shared, (old.day, old.start) == (new.day, new.start), old.therapist == new.therapist, old.id == new.id)


def _match(old: list[SessionRef], new: list[SessionRef]) -> tuple[
    list[tuple[SessionRef, SessionRef]], list[SessionChange], list[SessionRef], list[SessionRef]
]:
    """(unchanged pairs, changed pairs, closed, opened)."""
    # Round 1: identical content; pair equal ids first so an untouched file maps onto itself.
    new_by_key: dict[tuple[object, ...], list[SessionRef]] = defaultdict(list)
    for ref in new:
        new_by_key[ref.content_key()].append(ref)
    unchanged: list[tuple[SessionRef, SessionRef]] = []
    old_rest: list[SessionRef] = []
    for ref in sorted(old, key=lambda r: r.id):
        pool = new_by_key.get(ref.content_key())
        if not pool:
            old_rest.append(ref)
            continue
        partner = next((n for n in pool if n.id == ref.id), min(pool, key=lambda n: n.id))
        pool.remove(partner)
        unchanged.append((ref, partner))
    new_rest = [ref for pool in new_by_key.values() for ref in pool]

    # Round 2: the same session, changed; greedy on the best candidate pairs.
    candidates = []
    for o in old_rest:
        for n in new_rest:
            score = _candidate_score(o, n)
            if score is not None:
                candidates.append((score, o.id, n.id, o, n))
    candidates.sort(key=lambda c: (tuple(-int(x) for x in c[0]), c[1], c[2]))
    used_old: set[str] = set()
    used_new: set[str] = set()
    changed: list[SessionChange] = []
    for _, old_id, new_id, o, n in candidates:
        if old_id in used_old or new_id in used_new:
            continue
        used_old.add(old_id)
        used_new.add(new_id)
        changed.append(SessionChange(o, n))
    closed = [o for o in old_rest if o.id not in used_old]
    opened = [n for n in new_rest if n.id not in used_new]
    return unchanged, changed, closed, opened


def _hours(refs: list[SessionRef]) -> dict[str, float]:
    hours: dict[str, float] = defaultdict(float)
    for ref in refs:
        hours[ref.therapist] += ref.hours
    return hours


def diff_schedules(old: Schedule, new: Schedule, scenario: Scenario | None = None) -> ScheduleDiff:
    """Compare two schedules of one week.

    Parameters
    ----------
    old, new
        The schedules; session ids need not agree (sessions are matched by content).
    scenario
        Optional: when given, sessions carry their calendar ``date``.

    Returns
    -------
    ScheduleDiff
        Sessions opened, closed and changed, per-participant and per-therapist changes,
        and changed unmet needs; lists in time order, people by id.
    """
    clock = WeekClock(scenario.program.timezone, scenario.program.week_start) if scenario else None
    old_refs = [SessionRef.of(s, clock) for s in old.sessions]
    new_refs = [SessionRef.of(s, clock) for s in new.sessions]
    unchanged, changed, closed, opened = _match(old_refs, new_refs)
    changed.sort(key=lambda c: _order(c.new))
    closed.sort(key=_order)
    opened.sort(key=_order)

    gained: dict[str, list[SessionRef]] = defaultdict(list)
    lost: dict[str, list[SessionRef]] = defaultdict(list)
    moved: dict[str, list[SessionChange]] = defaultdict(list)
    t_gained: dict[str, list[SessionRef]] = defaultdict(list)
    t_lost: dict[str, list[SessionRef]] = defaultdict(list)
    t_changed: dict[str, list[SessionChange]] = defaultdict(list)
    for ref in closed:
        for participant in ref.participants:
            lost[participant].append(ref)
        t_lost[ref.therapist].append(ref)
    for ref in opened:
        for participant in ref.participants:
            gained[participant].append(ref)
        t_gained[ref.therapist].append(ref)
    for change in changed:
        for participant in change.left:
            lost[participant].append(change.old)
        for participant in change.joined:
            gained[participant].append(change.new)
        if change.time_changed or change.therapist_changed:
            for participant in change.stayed:
                moved[participant].append(change)
        if change.therapist_changed:
            t_lost[change.old.therapist].append(change.old)
            t_gained[change.new.therapist].append(change.new)
        else:
            t_changed[change.new.therapist].append(change)

    participants = tuple(
        ParticipantChange(p, gained=tuple(gained[p]), lost=tuple(lost[p]), changed=tuple(moved[p]))
        for p in sorted(set(gained) | set(lost) | set(moved))
    )
    hours_before, hours_after = _hours(old_refs), _hours(new_refs)
    therapists = tuple(
        TherapistChange(
            t,
            gained=tuple(sorted(t_gained[t], key=_order)),
            lost=tuple(sorted(t_lost[t], key=_order)),
            changed=tuple(t_changed[t]),
            hours_before=round(hours_before.get(t, 0.0), 4),
            hours_after=round(hours_after.get(t, 0.0), 4),
        )
        for t in sorted(set(t_gained) | set(t_lost) | set(t_changed))
    )

    missing_before = {(u.participant, u.need): u.missing for u in old.unmet}
    missing_after = {(u.participant, u.need): u.missing for u in new.unmet}
    unmet = tuple(
        UnmetChange(p, need, missing_before.get((p, need), 0), missing_after.get((p, need), 0))
        for p, need in sorted(set(missing_before) | set(missing_after))
        if missing_before.get((p, need), 0) != missing_after.get((p, need), 0)
    )
    renumbered = tuple(sorted((o.id, n.id) for o, n in unchanged if o.id != n.id))
    return ScheduleDiff(
        opened=tuple(opened),
        closed=tuple(closed),
        changed=tuple(changed),
        unchanged=len(unchanged),
        renumbered=renumbered,
        participants=participants,
        therapists=therapists,
        unmet=unmet,
    )


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]
    lines = ["  " + "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip()]
    lines.append("  " + "  ".join("-" * w for w in widths))
    lines += ["  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    return lines


def format_diff(diff: ScheduleDiff) -> str:
    """The diff as text for people: counts, session lists, then tables per person."""
    if diff.is_empty:
        note = f" ({len(diff.renumbered)} session id(s) renumbered)" if diff.renumbered else ""
        return f"No changes: {diff.unchanged} session(s) identical{note}.\n"
    lines = [
        f"Sessions: {len(diff.opened)} opened, {len(diff.closed)} closed, {len(diff.changed)} changed, "
        f"{diff.unchanged} unchanged ({len(diff.renumbered)} renumbered); "
        f"{len(diff.moved_participants)} participant(s) moved"
    ]
    if diff.opened:
        lines += ["", "Opened:"] + [f"  + {ref.describe()}: {', '.join(ref.participants)}" for ref in diff.opened]
    if diff.closed:
        lines += ["", "Closed:"] + [f"  - {ref.describe()}: {', '.join(ref.participants)}" for ref in diff.closed]
    if diff.changed:
        lines += ["", "Changed:"] + [f"  ~ {change.describe()}" for change in diff.changed]
    if diff.participants:
        lines += ["", "Participants:"]
        lines += _table(
            ["participant", "gained", "lost", "changed (time or therapist)"],
            [
                [
                    p.participant,
                    ", ".join(s.id for s in p.gained) or "-",
                    ", ".join(s.id for s in p.lost) or "-",
                    ", ".join(c.new.id for c in p.changed) or "-",
                ]
                for p in diff.participants
            ],
        )
    if diff.therapists:
        lines += ["", "Therapists:"]
        lines += _table(
            ["therapist", "gained", "lost", "changed", "hours before", "hours after"],
            [
                [
                    t.therapist,
                    ", ".join(s.id for s in t.gained) or "-",
                    ", ".join(s.id for s in t.lost) or "-",
                    ", ".join(c.new.id for c in t.changed) or "-",
                    f"{t.hours_before:g}",
                    f"{t.hours_after:g}",
                ]
                for t in diff.therapists
            ],
        )
    if diff.unmet:
        lines += ["", "Unmet needs:"]
        lines += _table(
            ["participant", "need", "missing before", "missing after"],
            [[u.participant, quote(u.need, bare=True), str(u.missing_before), str(u.missing_after)] for u in diff.unmet],
        )
    return "\n".join(lines) + "\n"
