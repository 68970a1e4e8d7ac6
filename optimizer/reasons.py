"""Why a need went unmet: the chain of filters that left no option, in plain words.

Reasons are derived from the scenario and the sessions of a schedule, never from solver
internals, so they hold for a hand-made schedule as much as for a solved one, and an
operations person can act on them ("no therapist qualified for process is licensed in TX").

Two kinds of filter are applied, in this order:

1. *Static* filters, from the scenario alone: eligibility (population, tags), the group's
   starts inside the participant's windows (program time), a qualified therapist licensed in
   the participant's state and free at one of those starts, and at least ``size.min``
   eligible people who share such a start. For an appointment: the named or qualified
   therapist, licensure, and a common slot on the grid.
2. *Schedule* filters, at each start (or appointment slot) the static filters leave: the
   participant's own sessions and limits, the sessions of that type running then (full, or
   joining would break ``max_group_size``, ``avoid`` or licensure), and for a new session
   the therapists' time, the video rooms, the weekly cap of the type and the people still
   needing it who are free then. When capacity is the cause, the reason names who took it:
   the needs served instead, higher priorities first.

:func:`reason_finder` is what :func:`optimizer.solve` calls; :func:`optimizer.explain.unmet_reasons`
uses the same :class:`ReasonAnalysis` for any schedule.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from models.clock import DAY_INDEX, DAYS, MINUTES_PER_DAY, format_time, parse_time
from models.scenario import quote
from models.schedule import ScheduledSession
from optimizer.data import NO_LIMIT, AppointmentSpec, ProblemData
from optimizer.greedy import Solution
from optimizer.schedule import build_sessions

__all__ = [
    "REASON_TITLES",
    "NeedExplanation",
    "Reason",
    "ReasonAnalysis",
    "reason_finder",
    "span",
    "when",
]

#: Stable reason codes, in the order of the filter chain, with a heading for reports.
REASON_TITLES: dict[str, str] = {
    "not_eligible": "not eligible for the group type (population or tags)",
    "no_start": "the group type has no start inside program days and hours",
    "size_cap_below_min": "the participant's max_group_size is below the group's minimum size",
    "clock_change": "every start of the group type overlaps the hour a daylight saving change skips or repeats",
    "no_start_in_windows": "no start of the group type inside the participant's windows",
    "no_qualified_therapist": "no therapist holds the required qualification",
    "not_licensed": "no qualified therapist licensed in the participant's state",
    "therapist_unavailable": "no qualified, licensed therapist available at the possible times",
    "too_few_people": "fewer than size.min eligible people share any start",
    "no_appointment_slot": "no common slot of participant and therapist",
    "participant_busy": "the participant is in other sessions at the possible times",
    "participant_limit": "the participant's day or hour limits are reached",
    "session_full": "the sessions at the possible times are full",
    "session_rule": "joining would break max_group_size, avoid or licensure",
    "therapist_busy": "the therapists' time went to other sessions",
    "therapist_limit": "the therapists' daily or weekly limits are reached",
    "video_rooms": "all video rooms are in use",
    "type_cap": "the group type's weekly session cap is reached",
    "too_few_free": "fewer than size.min people still needing it are free",
    "could_be_served": "nothing found blocks it: a better schedule may exist",
}

_EXAMPLES = 4  # times or sessions named in one reason before "and N more"


def when(program_minute: int) -> str:
    """``"Tue 18:00"``: a program minute of the week as a day and a time, program clock."""
    day, minute = divmod(program_minute, MINUTES_PER_DAY)
    return f"{DAYS[day].capitalize()} {format_time(minute)}"


def span(start: int, end: int) -> str:
    """``"Mon 17:00-21:00"``: program minutes ``[start, end)`` as a day and times, program clock.

    An end on a later day than the start names its day (``"Mon 23:00-Tue 01:00"``); an end at
    midnight closes the day of the span's last minute (``"Sun 22:00-24:00"``), as schedules
    write it.
    """
    last_day = max(end - 1, start) // MINUTES_PER_DAY
    end_text = format_time(end - last_day * MINUTES_PER_DAY)
    if last_day != start // MINUTES_PER_DAY:
        end_text = f"{DAYS[last_day].capitalize()} {end_text}"
    return f"{when(start)}-{end_text}"


def _listing(items: Sequence[str], limit: int = _EXAMPLES) -> str:
    """``a, b, c`` or ``a, b, c, d and 3 more``."""
    unique = list(dict.fromkeys(items))
    if len(unique) <= limit:
        return ", ".join(unique)
    return f"{', '.join(unique[:limit])} and {len(unique) - limit} more"


@dataclass(frozen=True)
class Reason:
    """One reason a need went unmet.

    Attributes
    ----------
    code
        A stable slug naming the filter (a key of :data:`REASON_TITLES`).
    text
        Plain words with the ids, days and times (program time) involved.
    therapists
        Therapist ids the reason is about (the ones not licensed, not free, ...).
    taken_by
        Participant ids whose sessions took the capacity, higher priority first.
    starts
        Program minutes of the week of the starts (or slots) the reason covers.
    state
        The participant's state, where licensure is the cause.
    """

    code: str
    text: str
    therapists: tuple[str, ...] = ()
    taken_by: tuple[str, ...] = ()
    starts: tuple[int, ...] = ()
    state: str | None = None


@dataclass(frozen=True)
class NeedExplanation:
    """An unmet need with its reasons, first the one that covers the most options."""

    participant: str
    need: str
    missing: int
    priority: int
    reasons: tuple[Reason, ...]

    @property
    def code(self) -> str:
        """The code of the main reason (what a report groups by)."""
        return self.reasons[0].code if self.reasons else "could_be_served"


@dataclass(frozen=True)
class _Booking:
    """A session of the schedule, in indices and program minutes."""

    session: str
    label: str  # group type id or appointment kind
    group_type: int | None
    therapist: int | None
    participants: tuple[int, ...]
    start: int
    end: int

    @property
    def day(self) -> int:
        return self.start // MINUTES_PER_DAY

    def describe(self, therapist_ids: Sequence[str], *, with_therapist: bool = True) -> str:
        who = f", {therapist_ids[self.therapist]}" if with_therapist and self.therapist is not None else ""
        return f"{self.session} ({quote(self.label, bare=True)}, {span(self.start, self.end)}{who})"


def _clock_minute(text: str, *, is_end: bool) -> int | None:
    if is_end and text == "24:00":
        return MINUTES_PER_DAY
    try:
        return parse_time(text)
    except ValueError:
        return None


@dataclass
class _Blocker:
    """Why one option (a start, or an appointment slot) cannot take the participant."""

    code: str
    detail: str
    takers: list[_Booking] = field(default_factory=list)
    therapists: list[int] = field(default_factory=list)


@dataclass
class _Opening:
    """What a new session of one group type at one time needs, whoever it is for.

    Every unmet participant of the type asks about every start, so these are worked out once
    per (type, start, end) and kept (a 1-minute grid round the clock: 10,080 starts a type).
    """

    type_cap: _Blocker | None
    room: _Blocker | None
    #: Qualified therapists available for the whole window, ascending.
    therapists: list[int]
    #: Participants who still need the type, eligible, available and not capped below size.min.
    could: np.ndarray
    #: Therapist -> the first thing keeping them from it ([] when free), filled on demand.
    therapist_blocker: dict[int, list[_Blocker]] = field(default_factory=dict)


class ReasonAnalysis:
    """Reasons for unmet needs of one schedule, with its bookings indexed once.

    Parameters
    ----------
    data
        Problem data of the scenario (:func:`optimizer.data.build_problem_data`): masks,
        licensure and candidate starts, all derived from the scenario alone.
    sessions
        The schedule's sessions (solved or hand-made). Sessions naming unknown ids or with
        times that do not parse are skipped for what they cannot tell.
    """

    def __init__(self, data: ProblemData, sessions: Iterable[ScheduledSession]) -> None:
        self.data = data
        self.scenario = data.scenario
        self.p_index = {pid: i for i, pid in enumerate(data.participant_ids)}
        self.t_index = {tid: i for i, tid in enumerate(data.therapist_ids)}
        self.g_index = {gid: g for g, gid in enumerate(data.group_type_ids)}
        self.qualified = np.array(
            [
                [set(g.requires_qualifications) <= set(t.qualifications) for g in self.scenario.group_types]
                for t in self.scenario.therapists
            ],
            dtype=bool,
        ).reshape(data.num_therapists, data.num_group_types)
        self.bookings: list[_Booking] = []
        for session in sessions:
            booking = self._booking(session)
            if booking is not None:
                self.bookings.append(booking)
        # For the video-room question: bookings by start, the longest one, answers kept.
        self._by_start = sorted(self.bookings, key=lambda b: b.start)
        self._starts = [b.start for b in self._by_start]
        self._longest = max((b.end - b.start for b in self.bookings), default=0)
        self._rooms: dict[tuple[int, int], _Blocker | None] = {}
        # (group type, start, end) -> _Opening; (participant, start, end) -> no own blocker.
        self._openings: dict[tuple[int, int, int], _Opening] = {}
        self._free_then: dict[tuple[int, int, int], bool] = {}
        self.of_participant: dict[int, list[_Booking]] = defaultdict(list)
        self.of_therapist: dict[int, list[_Booking]] = defaultdict(list)
        self.groups_at: dict[tuple[int, int], list[_Booking]] = defaultdict(list)
        self.attended: dict[tuple[int, int], int] = defaultdict(int)
        self.type_sessions: dict[int, int] = defaultdict(int)
        for booking in self.bookings:
            for p in booking.participants:
                self.of_participant[p].append(booking)
                if booking.group_type is not None:
                    self.attended[p, booking.group_type] += 1
            if booking.therapist is not None:
                self.of_therapist[booking.therapist].append(booking)
            if booking.group_type is not None:
                self.groups_at[booking.group_type, booking.start].append(booking)
                self.type_sessions[booking.group_type] += 1
        self._therapist_minutes: dict[int, int] = defaultdict(int)
        for t, theirs in self.of_therapist.items():
            self._therapist_minutes[t] = sum(b.end - b.start for b in theirs)
        self._days_of_therapist: dict[int, dict[int, list[_Booking]]] = {}
        self.attended_matrix = np.zeros((data.num_participants, data.num_group_types), dtype=np.int64)
        for (p, g), count in self.attended.items():
            self.attended_matrix[p, g] = count
        self.specs_of: dict[tuple[int, str], list[AppointmentSpec]] = defaultdict(list)
        for spec in data.appointments:
            self.specs_of[spec.participant, spec.kind].append(spec)
        self.avoid: dict[int, set[int]] = defaultdict(set)
        for a, b in data.avoid_pairs:
            self.avoid[a].add(b)
            self.avoid[b].add(a)

    # ------------------------------------------------------------------ helpers

    def _booking(self, session: ScheduledSession) -> _Booking | None:
        day = DAY_INDEX.get(session.day)
        start = _clock_minute(session.start, is_end=False)
        end = _clock_minute(session.end, is_end=True)
        if day is None or start is None or end is None or end <= start:
            return None
        group_type = self.g_index.get(session.group_type or "") if session.kind == "group" else None
        label = session.group_type if session.kind == "group" and session.group_type else session.kind
        people = tuple(self.p_index[p] for p in dict.fromkeys(session.participants) if p in self.p_index)
        offset = day * MINUTES_PER_DAY
        return _Booking(session.id, label, group_type, self.t_index.get(session.therapist), people, offset + start, offset + end)

    def _participant_free(self, p: int, start: int, end: int) -> bool:
        return self._window_ok(self.data.participant_available[p], start, end)

    def _therapist_window(self, t: int, start: int, end: int) -> bool:
        return self._window_ok(self.data.therapist_available[t], start, end)

    @staticmethod
    def _window_ok(prefix: np.ndarray, start: int, end: int) -> bool:
        if start < 0 or end >= prefix.shape[0] or end <= start:
            return False
        return bool(prefix[end] - prefix[start] == end - start)

    def _priority(self, p: int) -> int:
        return int(self.data.priority[p])

    def _pid(self, p: int) -> str:
        return self.data.participant_ids[p]

    def _tid(self, t: int) -> str:
        return self.data.therapist_ids[t]

    def _windows_text(self, prefix: np.ndarray) -> str:
        """The True runs of a prefix-summed minute mask, as ``Mon 17:00-21:00, ...``."""
        mask = np.diff(prefix) > 0
        edges = np.flatnonzero(np.diff(np.concatenate(([0], mask.astype(np.int8), [0]))))
        runs = [span(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True)]
        return _listing(runs, 6) if runs else "none"

    def participant_blockers(self, p: int, start: int, end: int, *, ignore: _Booking | None = None) -> list[_Blocker]:
        """The participant's own sessions and limits that rule out ``[start, end)``."""
        blockers: list[_Blocker] = []
        person = self.scenario.participants[p]
        mine = [b for b in self.of_participant.get(p, []) if b is not ignore]
        clashes = [b for b in mine if b.start < end and start < b.end]
        for booking in clashes:
            blockers.append(_Blocker("participant_busy", booking.describe(self.data.therapist_ids), [booking]))
        day = start // MINUTES_PER_DAY
        on_day = [b for b in mine if b.day == day]
        if person.max_sessions_per_day is not None and len(on_day) >= person.max_sessions_per_day:
            blockers.append(_Blocker(
                "participant_limit",
                f"has {len(on_day)} session(s) on {DAYS[day].capitalize()} already (max_sessions_per_day {person.max_sessions_per_day})",
                on_day,
            ))
        days = {b.day for b in mine}
        days_max = person.days_per_week.max
        if days_max is not None and day not in days and len(days) >= days_max:
            blockers.append(_Blocker(
                "participant_limit",
                f"attends on {len(days)} day(s) already (days_per_week.max {days_max})",
                mine,
            ))
        hours_max = person.hours_per_week.max
        minutes = sum(b.end - b.start for b in mine)
        if hours_max is not None and minutes + (end - start) > hours_max * 60 + 1e-9:
            blockers.append(_Blocker(
                "participant_limit",
                f"has {minutes / 60:g} h booked and {(end - start) / 60:g} h more would pass hours_per_week.max {hours_max:g}",
                mine,
            ))
        return blockers

    def therapist_blockers(self, t: int, start: int, end: int) -> list[_Blocker]:
        """What keeps an available therapist from leading a new session in ``[start, end)``."""
        therapist = self.scenario.therapists[t]
        pause = therapist.min_break_minutes
        blockers: list[_Blocker] = []
        theirs = self.of_therapist.get(t, [])
        for booking in theirs:
            if booking.start < end + pause and start < booking.end + pause:
                # Overlap and a too-short break read the same to an operations person.
                text = f"{self._tid(t)} leads {booking.describe(self.data.therapist_ids, with_therapist=False)}"
                blockers.append(_Blocker("therapist_busy", text, [booking], [t]))
        day = start // MINUTES_PER_DAY
        on_day = self._therapist_days(t).get(day, [])
        if therapist.max_sessions_per_day is not None and len(on_day) >= therapist.max_sessions_per_day:
            blockers.append(_Blocker(
                "therapist_limit",
                f"{self._tid(t)} already leads {len(on_day)} session(s) on {DAYS[day].capitalize()} (max_sessions_per_day {therapist.max_sessions_per_day})",
                on_day, [t],
            ))
        minutes = self._therapist_minutes[t]
        cap = therapist.max_hours_per_week
        if cap is not None and minutes + (end - start) > cap * 60 + 1e-9:
            blockers.append(_Blocker(
                "therapist_limit",
                f"{self._tid(t)} has {minutes / 60:g} h of max_hours_per_week {cap:g}",
                theirs, [t],
            ))
        return blockers

    def _therapist_days(self, t: int) -> dict[int, list[_Booking]]:
        """A therapist's bookings by day (made once per therapist)."""
        if t not in self._days_of_therapist:
            days: dict[int, list[_Booking]] = defaultdict(list)
            for booking in self.of_therapist.get(t, []):
                days[booking.day].append(booking)
            self._days_of_therapist[t] = days
        return self._days_of_therapist[t]

    def room_blocker(self, start: int, end: int) -> _Blocker | None:
        """All video rooms in use at some moment of ``[start, end)``, or None.

        Asked for every slot of every unmet appointment (30,000 times at 2,000
        participants), so the answers are kept, and only the bookings starting within the
        longest session before ``end`` are looked at (they are sorted by start).
        """
        limit = self.scenario.program.max_concurrent_sessions
        if limit is None:
            return None
        key = (start, end)
        if key not in self._rooms:
            self._rooms[key] = self._room_blocker(start, end, limit)
        return self._rooms[key]

    def _room_blocker(self, start: int, end: int, limit: int) -> _Blocker | None:
        first = bisect_left(self._starts, start - self._longest)
        last = bisect_left(self._starts, end)
        running = [b for b in self._by_start[first:last] if start < b.end]
        for moment in sorted({max(start, b.start) for b in running}):
            at_once = [b for b in running if b.start <= moment < b.end]
            if len(at_once) >= limit:
                names = _listing([b.session for b in at_once], 3)
                return _Blocker("video_rooms", f"{when(moment)}: {len(at_once)} of {limit} video rooms in use ({names})", at_once)
        return None

    def _takers_text(self, p: int, takers: Iterable[_Booking], own: bool = False) -> tuple[str, tuple[str, ...]]:
        """``; that capacity went to higher-priority P0003 (priority 3), ...`` and the ids."""
        people = {q for booking in takers for q in booking.participants if q != p}
        if own or not people:
            return "", ()
        mine = self._priority(p)
        ranked = sorted(people, key=lambda q: (-self._priority(q), self._pid(q)))
        higher = [q for q in ranked if self._priority(q) > mine]
        if higher:
            names = _listing([f"{self._pid(q)} (priority {self._priority(q)})" for q in higher], 5)
            return f"; that capacity went to higher-priority {names}", tuple(self._pid(q) for q in higher)
        names = _listing([self._pid(q) for q in ranked], 5)
        return f"; that capacity went to participants of the same or lower priority ({names})", tuple(self._pid(q) for q in ranked)

    # ------------------------------------------------------------------ group needs

    def _group_starts(self, g: int) -> list[int]:
        """Every allowed start of a group type in the week, program minutes."""
        group = self.scenario.group_types[g]
        program = self.scenario.program
        days = sorted(DAY_INDEX[d] for d in (group.days or program.days) if d in program.days)
        if group.start_times:
            minutes = sorted(parse_time(s) for s in group.start_times)
        else:
            minutes = list(range(self.data.hours_start, self.data.hours_end - group.duration_minutes + 1, program.slot_minutes))
        minutes = [m for m in minutes if self.data.hours_start <= m and m + group.duration_minutes <= self.data.hours_end]
        return [d * MINUTES_PER_DAY + m for d in days for m in minutes]

    def _clock_change_text(self) -> str:
        """The wall times the program's clock skips or repeats this week (DST), for reasons."""
        return ", ".join(span(start, end) for start, end in self.data.clock.clock_changes())

    def _clear_of_clock_changes(self, start: int, end: int) -> bool:
        return all(end <= change_start or change_end <= start for change_start, change_end in self.data.clock.clock_changes())

    def _static_group(self, p: int, g: int) -> list[Reason]:
        """Reasons from the scenario alone when no candidate start has the participant."""
        person = self.scenario.participants[p]
        group = self.scenario.group_types[g]
        gid = group.id
        if not self.data.eligible[p, g]:
            if group.population not in ("any", person.population):
                return [Reason("not_eligible", f"{gid} is for {group.population} participants; {person.id} is {person.population}")]
            missing = [t for t in group.requires_tags if t not in person.tags]
            shown = ", ".join(quote(tag, bare=True) for tag in missing)
            return [Reason("not_eligible", f"{gid} requires tag(s) {shown}, which {person.id} does not carry")]
        if person.max_group_size is not None and person.max_group_size < group.size.min:
            return [Reason(
                "size_cap_below_min",
                f"{person.id}'s max_group_size {person.max_group_size} is below the {gid} minimum size of {group.size.min}",
            )]
        duration = group.duration_minutes
        starts = self._group_starts(g)
        days_text = ", ".join(group.days or self.scenario.program.days)
        if not starts:
            return [Reason("no_start", f"{gid} has no start inside program hours {self.scenario.program.hours} on {days_text}")]
        clear = [s for s in starts if self._clear_of_clock_changes(s, s + duration)]
        if not clear:
            return [Reason(
                "clock_change",
                f"every {gid} start ({_listing([when(s) for s in starts])}, {duration} min) overlaps "
                f"{self._clock_change_text()}, the wall times the program's clock skips or repeats this week "
                "(daylight saving time), where no session is placed",
                starts=tuple(starts),
            )]
        starts = clear
        inside = [s for s in starts if self._participant_free(p, s, s + duration)]
        if not inside:
            times = ", ".join(group.start_times) if group.start_times else f"every {self.scenario.program.slot_minutes} min"
            windows = self._windows_text(self.data.participant_available[p])
            return [Reason(
                "no_start_in_windows",
                f"no {gid} start ({times} on {days_text}, {duration} min, program time) lies inside "
                f"{person.id}'s windows (program time: {windows})",
                starts=tuple(starts),
            )]
        qualified = [t for t in range(self.data.num_therapists) if self.qualified[t, g]]
        if not qualified:
            needed = ", ".join(group.requires_qualifications)
            return [Reason("no_qualified_therapist", f"no therapist holds {needed}, which {gid} requires")]
        licensed = [t for t in qualified if self.data.may_see[t, p]]
        if not licensed:
            in_state = [t for t in qualified if person.state in self.scenario.therapists[t].licensed_states]
            text = (
                f"no therapist qualified for {gid} ({_listing([self._tid(t) for t in qualified], 6)}) is licensed in {person.state}"
            )
            if in_state:
                text = (
                    f"the therapists qualified for {gid} and licensed in {person.state} "
                    f"({_listing([self._tid(t) for t in in_state])}) are on {person.id}'s avoid_therapists"
                )
            return [Reason("not_licensed", text, therapists=tuple(self._tid(t) for t in qualified), state=person.state)]
        free = [(s, t) for s in inside for t in licensed if self._therapist_window(t, s, s + duration)]
        if not free:
            return [Reason(
                "therapist_unavailable",
                f"no therapist qualified for {gid} and licensed in {person.state} "
                f"({_listing([self._tid(t) for t in licensed], 6)}) is available at any {gid} start inside "
                f"{person.id}'s windows ({_listing([when(s) for s in inside])}, program time)",
                therapists=tuple(self._tid(t) for t in licensed),
                starts=tuple(inside),
                state=person.state,
            )]
        # Enough people at one start, all seen by one therapist there?
        wants = (self.data.needs[:, g] > 0) & self.data.eligible[:, g] & (self.data.population == self.data.population[p])
        caps = self.data.group_size_cap
        wants &= (caps == NO_LIMIT) | (caps >= group.size.min)
        best: tuple[int, int, int, list[int]] = (0, -1, -1, [])
        for s, t in free:
            prefix = self.data.participant_available
            here = wants & ((prefix[:, s + duration] - prefix[:, s]) == duration) & self.data.may_see[t]
            people = [int(q) for q in np.flatnonzero(here)]
            if len(people) > best[0]:
                best = (len(people), s, t, people)
        count, s, t, people = best
        shown = _listing([self._pid(q) for q in people], 6)
        return [Reason(
            "too_few_people",
            f"fewer than {group.size.min} eligible people who need {gid} can meet with {person.id} at any start "
            f"(the best, {when(s)} with {self._tid(t)}, has {count}: {shown})",
            starts=tuple(sorted({s for s, _ in free})),
        )]

    def _candidate_starts(self, p: int, g: int) -> list[int]:
        starts: set[int] = set()
        for k_index, _position in self.data.candidates_of_participant[p]:
            candidate = self.data.candidates[k_index]
            if candidate.group_type == g:
                starts.add(candidate.start)
        return sorted(starts)

    def _opening(self, g: int, start: int, end: int) -> _Opening:
        """The participant-independent part of opening a session of ``g`` in ``[start, end)``."""
        key = (g, start, end)
        found = self._openings.get(key)
        if found is not None:
            return found
        group = self.scenario.group_types[g]
        cap = self.data.max_sessions_per_week[g]
        type_cap = None
        if cap != NO_LIMIT and self.type_sessions[g] >= cap:
            type_cap = _Blocker("type_cap", f"{group.id} already runs {self.type_sessions[g]} session(s), its max_sessions_per_week")
        available = self.data.therapist_available
        therapists = [
            int(t) for t in np.flatnonzero(self.qualified[:, g] & ((available[:, end] - available[:, start]) == end - start))
        ]
        data = self.data
        prefix = data.participant_available
        caps = data.group_size_cap
        could = (
            data.eligible[:, g]
            & (self.attended_matrix[:, g] < data.needs[:, g])
            & ((prefix[:, end] - prefix[:, start]) == end - start)
            & ((caps == NO_LIMIT) | (caps >= group.size.min))
        )
        found = _Opening(type_cap, self.room_blocker(start, end), therapists, could)
        self._openings[key] = found
        return found

    def _free_for_new_session(self, q: int, start: int, end: int) -> bool:
        """Whether nothing of the participant's own rules out ``[start, end)`` (kept)."""
        key = (q, start, end)
        free = self._free_then.get(key)
        if free is None:
            free = self._free_then[key] = not self.participant_blockers(q, start, end)
        return free

    def _new_session_blockers(self, p: int, g: int, start: int, end: int) -> list[_Blocker]:
        """Why no new session of type ``g`` opens at ``start`` with the participant in it."""
        group = self.scenario.group_types[g]
        opening = self._opening(g, start, end)
        if opening.type_cap is not None:
            return [opening.type_cap]
        blockers: list[_Blocker] = []
        if opening.room is not None:
            blockers.append(opening.room)
        licensed = [t for t in opening.therapists if self.data.may_see[t, p]]
        free_therapists = []
        therapist_reasons: list[_Blocker] = []
        for t in licensed:
            found = opening.therapist_blocker.get(t)
            if found is None:
                found = opening.therapist_blocker[t] = self.therapist_blockers(t, start, end)[:1]
            if found:
                therapist_reasons.extend(found)
            else:
                free_therapists.append(t)
        if not free_therapists:
            blockers.extend(therapist_reasons)
        # People who still need the type and are free then: the participant-independent
        # filters (eligible, still needing the type, available, cap) come with the opening;
        # then same population, seen by a therapist of the pool, not avoided, and each one's
        # own sessions and limits.
        pool = free_therapists or licensed
        data = self.data
        could = opening.could & (data.population == data.population[p])
        if pool:
            could &= data.may_see[pool].any(axis=0)
        else:
            could[:] = False
        could[list(self.avoid[p])] = False
        # Enough is enough: counting stops at size.min (the reason names at most that many).
        peers = [p]
        for q in np.flatnonzero(could):
            if len(peers) >= group.size.min:
                break
            if q != p and self._free_for_new_session(int(q), start, end):
                peers.append(int(q))
        if len(peers) < group.size.min:
            shown = _listing([self._pid(q) for q in peers], 6)
            blockers.append(_Blocker(
                "too_few_free",
                f"{when(start)}: {len(peers)} ({shown})" if peers else f"{when(start)}: none",
            ))
        if not blockers:
            team = _listing([self._pid(q) for q in peers], 6)
            blockers.append(_Blocker(
                "could_be_served",
                f"a new {group.id} session could run at {when(start)} with {self._tid(free_therapists[0])} and {team}",
            ))
        return blockers

    def _join_blockers(self, p: int, booking: _Booking) -> list[_Blocker]:
        """Why the participant cannot join an existing group session."""
        assert booking.group_type is not None
        group = self.scenario.group_types[booking.group_type]
        size = len(booking.participants)
        where = booking.describe(self.data.therapist_ids)
        found: list[_Blocker] = []
        if size >= group.size.max:
            found.append(_Blocker("session_full", f"{where} is full ({size}/{group.size.max})", [booking]))
        members = list(booking.participants) + [p]
        caps = [(int(self.data.group_size_cap[q]), q) for q in members if self.data.group_size_cap[q] != NO_LIMIT]
        tight = [(cap, q) for cap, q in caps if cap < size + 1]
        if tight and size < group.size.max:
            cap, q = min(tight)
            found.append(_Blocker("session_rule", f"{where} has {size}; one more breaks the max_group_size {cap} of {self._pid(q)}", [booking]))
        clash = [q for q in booking.participants if q in self.avoid[p]]
        if clash:
            found.append(_Blocker("session_rule", f"{where} has {_listing([self._pid(q) for q in clash])}, on an avoid list with {self._pid(p)}"))
        if booking.therapist is not None and not self.data.may_see[booking.therapist, p]:
            person = self.scenario.participants[p]
            why = (
                f"is on {person.id}'s avoid_therapists" if self._tid(booking.therapist) in person.avoid_therapists
                else f"is not licensed in {person.state}"
            )
            found.append(_Blocker("session_rule", f"{where}: {self._tid(booking.therapist)} {why}", therapists=[booking.therapist]))
        populations = {int(self.data.population[q]) for q in booking.participants}
        if populations and int(self.data.population[p]) not in populations:
            found.append(_Blocker("session_rule", f"{where} is for {'adolescents' if 1 in populations else 'adults'}"))
        return found

    def group_reasons(self, p: int, g: int) -> list[Reason]:
        """Reasons a participant misses sessions of group type ``g``."""
        starts = self._candidate_starts(p, g)
        if not starts:
            return self._static_group(p, g)
        duration = int(self.data.duration[g])
        per_start: list[tuple[int, list[_Blocker]]] = []
        for start in starts:
            end = start + duration
            own = self.participant_blockers(p, start, end)
            if own:
                per_start.append((start, own))
                continue
            found: list[_Blocker] = []
            joinable = False
            for booking in self.groups_at.get((g, start), []):
                if p in booking.participants:
                    continue
                why = self._join_blockers(p, booking)
                if why:
                    found.extend(why)
                else:
                    joinable = True
                    found = [_Blocker("could_be_served", f"{self._pid(p)} could join {booking.describe(self.data.therapist_ids)}")]
                    break
            if not joinable:
                found.extend(self._new_session_blockers(p, g, start, end))
            per_start.append((start, found))
        return self._summarize(p, self.data.group_type_ids[g], "start", per_start)

    # ------------------------------------------------------------------ appointments

    def appointment_reasons(self, p: int, kind: str) -> list[Reason]:
        """Reasons a participant misses appointments of ``kind``."""
        person = self.scenario.participants[p]
        shown = quote(kind, bare=True)  # a free label: itself only when it cannot carry a name
        reasons: list[Reason] = []
        served = self._served_specs(p, kind)
        for spec in self.specs_of.get((p, kind), []):
            if served.get(spec.index, 0) >= spec.count:
                continue  # this entry got all its sessions: another entry of the kind is short
            appointment = person.appointments[spec.position]
            if appointment.therapist is not None:
                pool = [self.t_index[appointment.therapist]]
                who = appointment.therapist
            else:
                pool = [t for t, th in enumerate(self.scenario.therapists) if appointment.qualification in th.qualifications]
                who = f"a therapist with qualification {appointment.qualification}"
                if not pool:
                    reasons.append(Reason("no_qualified_therapist", f"no therapist holds {appointment.qualification}, which {person.id}'s {shown} needs"))
                    continue
            seeing = [t for t in pool if self.data.may_see[t, p]]
            if not seeing:
                names = _listing([self._tid(t) for t in pool], 6)
                avoided = [t for t in pool if self._tid(t) in person.avoid_therapists]
                if appointment.therapist is not None:
                    named = f"{appointment.therapist}, named for {person.id}'s {shown},"
                    text = (
                        f"{named} is on {person.id}'s avoid_therapists" if avoided
                        else f"{named} is not licensed in {person.state}"
                    )
                elif avoided:
                    why = "; ".join(
                        f"{self._tid(t)} on {person.id}'s avoid_therapists" if t in avoided
                        else f"{self._tid(t)} not licensed in {person.state}"
                        for t in pool
                    )
                    text = f"no {who.removeprefix('a ')} may see {person.id} ({why})"
                else:
                    text = f"no {who.removeprefix('a ')} ({names}) is licensed in {person.state}"
                reasons.append(Reason("not_licensed", text, therapists=tuple(self._tid(t) for t in pool), state=person.state))
                continue
            if not spec.options:
                if appointment.availability is not None:
                    mine = f"{person.id}'s windows for {shown}, narrowed by its own availability"
                else:
                    mine = f"{person.id}'s windows ({self._windows_text(self.data.participant_available[p])})"
                theirs = "; ".join(f"{self._tid(t)}: {self._windows_text(self.data.therapist_available[t])}" for t in seeing[:3])
                changes = self._clock_change_text()
                left_out = f" (without {changes}, which the program's clock skips or repeats this week)" if changes else ""
                reasons.append(Reason(
                    "no_appointment_slot",
                    f"no {appointment.duration_minutes}-minute slot on the {self.scenario.program.slot_minutes}-minute grid lies inside "
                    f"both {mine} and the availability of {who} ({theirs}), program time{left_out}",
                    therapists=tuple(self._tid(t) for t in seeing),
                ))
                continue
            per_slot: list[tuple[int, list[_Blocker]]] = []
            by_start: dict[int, list[int]] = defaultdict(list)
            for option in spec.options:
                by_start[option.start].append(option.therapist)
            for start, therapists in sorted(by_start.items()):
                end = start + spec.duration
                own = self.participant_blockers(p, start, end)
                if own:
                    per_slot.append((start, own))
                    continue
                found: list[_Blocker] = []
                free = []
                for t in therapists:
                    blocked = self.therapist_blockers(t, start, end)
                    if blocked:
                        found.extend(blocked[:1])
                    else:
                        free.append(t)
                room = self.room_blocker(start, end)
                if free and room is None:
                    found = [_Blocker("could_be_served", f"{self._tid(free[0])} and {person.id} are both free at {when(start)}")]
                elif free and room is not None:
                    found = [room]
                per_slot.append((start, found))
            reasons.extend(self._summarize(p, kind, "slot", per_slot))
        if not reasons:
            reasons.append(Reason("could_be_served", f"{person.id} has no {shown} appointment in the scenario"))
        return reasons

    def _pool(self, spec: AppointmentSpec) -> set[int]:
        """The therapists who may hold an appointment entry (named, or by qualification)."""
        appointment = self.scenario.participants[spec.participant].appointments[spec.position]
        if appointment.therapist is not None:
            return {self.t_index[appointment.therapist]} if appointment.therapist in self.t_index else set()
        return {t for t, th in enumerate(self.scenario.therapists) if appointment.qualification in th.qualifications}

    def _delivered_groups(self, p: int, g: int) -> int:
        """Group sessions of type ``g`` the participant attends in the schedule."""
        return sum(1 for booking in self.of_participant.get(p, []) if booking.group_type == g)

    def _served_specs(self, p: int, kind: str) -> dict[int, int]:
        """How many of a participant's ``kind`` appointments each entry got.

        A schedule's appointment names its kind, not which entry of ``appointments`` it
        serves; with two entries of one kind (a weekly individual session with the primary
        therapist, check-ins with another) each session is given to an entry it fits (its
        therapist and length), the most specific entries first, so the reasons speak of the
        entry that is short.
        """
        specs = sorted(self.specs_of.get((p, kind), []), key=lambda spec: (len(self._pool(spec)), spec.position))
        served: dict[int, int] = defaultdict(int)
        for booking in self.of_participant.get(p, []):
            if booking.group_type is not None or booking.label != kind:
                continue
            for spec in specs:
                fits = booking.therapist in self._pool(spec) and booking.end - booking.start == spec.duration
                if fits and served[spec.index] < spec.count:
                    served[spec.index] += 1
                    break
        return served

    # ------------------------------------------------------------------ wording

    def _summarize(self, p: int, need: str, noun: str, per_option: list[tuple[int, list[_Blocker]]]) -> list[Reason]:
        """One reason per blocker code, the code covering the most options first."""
        person_id = self._pid(p)
        shown = quote(need, bare=True)  # an appointment kind is a free label
        total = len(per_option)
        by_code: dict[str, list[tuple[int, _Blocker]]] = defaultdict(list)
        for start, blockers in per_option:
            for blocker in blockers:
                by_code[blocker.code].append((start, blocker))
        order = sorted(by_code, key=lambda code: (-len({s for s, _ in by_code[code]}), list(REASON_TITLES).index(code)))
        reasons: list[Reason] = []
        for code in order:
            items = by_code[code]
            starts = sorted({s for s, _ in items})
            details = _listing([b.detail for _, b in items])
            takers = [booking for _, b in items for booking in b.takers]
            therapists = tuple(dict.fromkeys(self._tid(t) for _, b in items for t in b.therapists))
            head = f"{len(starts)} of {total} possible {shown} {noun}(s) ({_listing([when(s) for s in starts])}, program time)"
            own = code in ("participant_busy", "participant_limit")
            taken_text, taken = self._takers_text(p, takers, own=own)
            if code == "participant_busy":
                text = f"{head}: {person_id} is already in a session then: {details}"
            elif code == "participant_limit":
                text = f"{head}: {person_id} {details}"
            elif code == "session_full":
                text = f"{head}: the {shown} sessions then are full: {details}{taken_text}"
            elif code == "session_rule":
                text = f"{head}: joining would break a rule: {details}"
            elif code == "therapist_busy":
                text = f"{head}: every qualified therapist who may see {person_id} and is available then is taken: {details}{taken_text}"
            elif code == "therapist_limit":
                text = f"{head}: the therapists who could lead it have reached their limits: {details}{taken_text}"
            elif code == "video_rooms":
                text = f"{head}: all video rooms are in use (max_concurrent_sessions): {details}{taken_text}"
            elif code == "type_cap":
                text = f"{head}: {details}"
            elif code == "too_few_free":
                size_min = self.scenario.group_type(need).size.min
                text = (
                    f"{head}: no {shown} session there takes {person_id}, and fewer than the {size_min} people "
                    f"a new one needs still need {shown} and are free then: {details}"
                )
            else:
                text = f"{head}: nothing found blocks it ({details}); the schedule could serve this need (it may not be optimal)"
            reasons.append(Reason(code, text, therapists=therapists, taken_by=taken, starts=tuple(starts)))
        return reasons

    # ------------------------------------------------------------------ entry points

    def explain(self, participant: str, need: str, missing: int) -> list[Reason]:
        """Reasons for one unmet need (a group type id or an appointment kind)."""
        p = self.p_index.get(participant)
        if p is None:
            return [Reason("could_be_served", f"{quote(participant, bare=True)} is not in the scenario")]
        g = self.g_index.get(need)
        if g is None:
            return self.appointment_reasons(p, need)
        if not self.specs_of.get((p, need)):
            return self.group_reasons(p, g)
        # An appointment kind written like a group type id (validate warns): the unmet entry
        # counts both, so the reasons of whichever falls short are given (QA: an appointment
        # no therapist is qualified for was explained by the group's avoid list).
        group_short = int(self.data.needs[p][g]) > self._delivered_groups(p, g)
        appointment = self.appointment_reasons(p, need)
        if not group_short:
            return appointment
        return self.group_reasons(p, g) + appointment

    def explain_all(self, unmet: Iterable[tuple[str, str, int]]) -> list[NeedExplanation]:
        """Every ``(participant, need, missing)`` with its reasons."""
        out: list[NeedExplanation] = []
        for participant, need, missing in unmet:
            p = self.p_index.get(participant)
            priority = self._priority(p) if p is not None else 1
            out.append(NeedExplanation(participant, need, missing, priority, tuple(self.explain(participant, need, missing))))
        return out


NOT_ANALYSED = ("not analysed within the time limit: `iop-roster explain SCENARIO SCHEDULE` "
                "gives the reasons for this schedule")


def reason_finder(data: ProblemData, solution: Solution, deadline: float | None = None) -> Callable[[str, str, int], list[str]]:
    """A function ``(participant id, need, missing) -> reasons`` for this solution.

    The solution is turned into its schedule sessions first, so the reasons are exactly those
    :func:`optimizer.explain.unmet_reasons` gives for the written schedule. Past ``deadline``
    (a ``time.perf_counter()`` moment: the end of the solve's time limit), a need gets
    :data:`NOT_ANALYSED` instead: some weeks have thousands of unmet needs whose analysis
    takes longer than the whole limit (2,000 participants with 20 avoid partners each:
    4,498 needs, about 15 s).
    """
    analysis = ReasonAnalysis(data, build_sessions(data, solution))

    def find(participant: str, need: str, missing: int) -> list[str]:
        if deadline is not None and time.perf_counter() > deadline:
            return [NOT_ANALYSED]
        return [reason.text for reason in analysis.explain(participant, need, missing)]

    return find
