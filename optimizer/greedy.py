"""A careful-person constructive heuristic: the baseline, and the solver's first hint.

It does what a good operations person does by hand, fast: open the group session that
serves the most (priority-weighted) people right now, fill it, repeat while any session
can reach its minimum size; then top up open sessions with spare seats; then fit the
one-to-one appointments into the gaps, preferring days a participant already attends.
Every step keeps every hard rule, so its schedule always passes the checker.

Every hard rule is a cap (on time, days, hours, seats, sessions, concurrency) except a
group's minimum size, and a session is only ever opened with its minimum already seated, so
each step's schedule obeys every rule too: a greedy stopped at a deadline returns the
sessions booked so far, and they pass the checker as well.
"""

from __future__ import annotations

import heapq
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from models.clock import MINUTES_PER_WEEK
from models.scenario import Scenario
from models.schedule import Schedule
from optimizer.data import (
    NO_LIMIT,
    AppointmentOption,
    AppointmentSpec,
    FixedSessions,
    GroupCandidate,
    ProblemData,
    build_problem_data,
)


@dataclass
class Solution:
    """Sessions as indices: groups ``(candidate, therapist position, participants)`` and appointments."""

    groups: list[tuple[int, int, list[int]]] = field(default_factory=list)
    appointments: list[tuple[int, AppointmentOption]] = field(default_factory=list)
    fixed: FixedSessions | None = None  # re-planning: sessions held exactly as they were

    def attendees(self) -> dict[int, list[int]]:
        """Participants at each candidate, all sessions there together."""
        out: dict[int, list[int]] = {}
        for k, _, people in self.groups:
            out.setdefault(k, []).extend(people)
        return out


class _Deadline:
    """The greedy's time check: a ``time.perf_counter()`` value, or ``None`` for none.

    Once passed it stays passed, so the phase it stops and every later phase (and the second
    variant) book nothing more; ``passed`` then also tells the caller the greedy was cut short.
    Only loop heads check it, each before one more session is looked for, so a greedy that is
    never stopped makes the same schedule as one with no deadline.
    """

    def __init__(self, deadline: float | None) -> None:
        self.deadline = deadline
        self.passed = False

    def reached(self) -> bool:
        if not self.passed and self.deadline is not None and time.perf_counter() >= self.deadline:
            self.passed = True
        return self.passed


class _State:
    """Everything already booked, for O(1)-ish feasibility tests."""

    def __init__(self, data: ProblemData) -> None:
        self.data = data
        longest_break = int(data.therapist_break.max()) if data.num_therapists else 0
        self.p_busy = np.zeros((data.num_participants, MINUTES_PER_WEEK), dtype=bool)
        self.p_day_sessions = np.zeros((data.num_participants, 7), dtype=np.int64)
        self.p_minutes = np.zeros(data.num_participants, dtype=np.int64)
        self.need_left = data.needs.copy()
        # Places each participant could go (the tie-break of _pick_members), counted once.
        self.options = np.array([len(places) for places in data.candidates_of_participant], dtype=np.int64)
        self.t_busy = np.zeros((data.num_therapists, MINUTES_PER_WEEK + longest_break + 1), dtype=bool)
        self.t_day_sessions = np.zeros((data.num_therapists, 7), dtype=np.int64)
        self.t_minutes = np.zeros(data.num_therapists, dtype=np.int64)
        self.concurrent = np.zeros(MINUTES_PER_WEEK, dtype=np.int64)
        self.type_sessions = np.zeros(data.num_group_types, dtype=np.int64)
        self.at_candidate: dict[int, set[int]] = {}
        self.appointments_left = {spec.index: spec.count for spec in data.appointments}
        self.partners: dict[int, set[int]] = {}
        self._same_compatibility: dict[int, np.ndarray] = {}
        self._option_arrays: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        for p, q in data.avoid_pairs:
            self.partners.setdefault(p, set()).add(q)
            self.partners.setdefault(q, set()).add(p)
        # Who needs the careful pick of _pick_members: an avoid partner or a group-size cap.
        self.constrained = np.zeros(data.num_participants, dtype=bool)
        self.constrained[list(self.partners)] = True
        self.constrained |= data.group_size_cap != NO_LIMIT

    def same_compatibility(self, k: GroupCandidate) -> np.ndarray:
        """Per therapist position at ``k``, the first position with the same ``compatible`` row."""
        found = self._same_compatibility.get(k.index)
        if found is None:
            first: dict[bytes, int] = {}
            rows = np.packbits(k.compatible, axis=1)
            found = self._same_compatibility[k.index] = np.array(
                [first.setdefault(row.tobytes(), i) for i, row in enumerate(rows)], dtype=np.int64)
        return found

    # -- participants
    def participants_free(self, people: np.ndarray, day: int, start: int, end: int) -> np.ndarray:
        d = self.data
        ok = ~self.p_busy[people, start:end].any(axis=1)
        limit = d.max_sessions_per_day[people]
        ok &= (limit == NO_LIMIT) | (self.p_day_sessions[people, day] < limit)
        hours_max = d.hours_max[people]
        ok &= (hours_max == NO_LIMIT) | (self.p_minutes[people] + (end - start) <= hours_max)
        days_max = d.days_max[people]
        new_day = self.p_day_sessions[people, day] == 0
        days_used = (self.p_day_sessions[people] > 0).sum(axis=1)
        ok &= ~new_day | (days_max == NO_LIMIT) | (days_used < days_max)
        return ok

    def participant_free(self, p: int, day: int, start: int, end: int) -> bool:
        """:meth:`participants_free` for one participant (keeping a schedule in force)."""
        return bool(self.participants_free(np.array([p]), day, start, end)[0])

    def option_arrays(self, spec: AppointmentSpec) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Days, starts and ends of an appointment's options, as arrays (made once)."""
        found = self._option_arrays.get(spec.index)
        if found is None:
            table = np.array(spec.options, dtype=np.int64).reshape(-1, 4)  # (therapist, day, start, end)
            found = self._option_arrays[spec.index] = (table[:, 1], table[:, 2], table[:, 3])
        return found

    def participant_free_at(self, p: int, days: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
        """:meth:`participant_free` for one participant at many times."""
        d = self.data
        busy = np.zeros(MINUTES_PER_WEEK + 1, dtype=np.int64)
        np.cumsum(self.p_busy[p], out=busy[1:])
        ok = busy[ends] == busy[starts]
        day_sessions = self.p_day_sessions[p, days]
        limit = int(d.max_sessions_per_day[p])
        if limit != NO_LIMIT:
            ok &= day_sessions < limit
        hours_max = int(d.hours_max[p])
        if hours_max != NO_LIMIT:
            ok &= int(self.p_minutes[p]) + (ends - starts) <= hours_max
        days_max = int(d.days_max[p])
        if days_max != NO_LIMIT and int((self.p_day_sessions[p] > 0).sum()) >= days_max:
            ok &= day_sessions > 0  # no new day
        return ok

    def book_participant(self, p: int, day: int, start: int, end: int) -> None:
        self.p_busy[p, start:end] = True
        self.p_day_sessions[p, day] += 1
        self.p_minutes[p] += end - start

    # -- therapists and rooms
    def therapist_free(self, t: int, day: int, start: int, end: int) -> bool:
        d = self.data
        pause = int(d.therapist_break[t])
        if self.t_busy[t, start : end + pause].any():
            return False
        limit = d.therapist_max_sessions_per_day[t]
        if limit != NO_LIMIT and self.t_day_sessions[t, day] >= limit:
            return False
        cap = d.therapist_max_minutes[t]
        return cap == NO_LIMIT or self.t_minutes[t] + (end - start) <= cap

    def therapists_free(self, therapists: np.ndarray, day: int, start: int, end: int) -> np.ndarray:
        """:meth:`therapist_free` for many therapists at once."""
        d = self.data
        pauses = d.therapist_break[therapists]
        longest = int(pauses.max()) if len(therapists) else 0
        window = self.t_busy[therapists, start : end + longest]
        if longest and int(pauses.min()) != longest:
            # Each therapist's own break: only the first (end - start + pause) minutes count.
            window = window & (np.arange(end + longest - start)[None, :] < (end - start + pauses)[:, None])
        ok = ~window.any(axis=1)
        limit = d.therapist_max_sessions_per_day[therapists]
        ok &= (limit == NO_LIMIT) | (self.t_day_sessions[therapists, day] < limit)
        cap = d.therapist_max_minutes[therapists]
        ok &= (cap == NO_LIMIT) | (self.t_minutes[therapists] + (end - start) <= cap)
        return ok

    def unbook_therapist(self, t: int, day: int, start: int, end: int) -> None:
        """:meth:`book_therapist` undone (booked sessions' extended intervals never meet, so
        clearing this one's leaves every other as it was)."""
        self.t_busy[t, start : end + int(self.data.therapist_break[t])] = False
        self.t_day_sessions[t, day] -= 1
        self.t_minutes[t] -= end - start
        self.concurrent[start:end] -= 1

    def room_free(self, start: int, end: int) -> bool:
        limit = self.data.max_concurrent
        return limit == NO_LIMIT or int(self.concurrent[start:end].max()) < limit

    def book_therapist(self, t: int, day: int, start: int, end: int) -> None:
        # Mark the session extended by the break, so that two extended sessions never meet.
        self.t_busy[t, start : end + int(self.data.therapist_break[t])] = True
        self.t_day_sessions[t, day] += 1
        self.t_minutes[t] += end - start
        self.concurrent[start:end] += 1


def _in_pick_order(data: ProblemData, state: _State, k: GroupCandidate, free: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The free positions at ``k`` and their participants in the order members are picked:
    highest priority first, then those with the fewest other places to go, then position.
    Sorted once for every therapist of the candidate (each takes a subsequence)."""
    positions = np.flatnonzero(free)
    people = k.participants[positions]
    options = state.options[people] if len(state.options) else np.zeros(len(people), dtype=np.int64)
    order = np.lexsort((options, -data.priority[people]))
    return positions[order], people[order]


def _pick_members(data: ProblemData, state: _State, k: GroupCandidate, i: int, ordered: tuple[np.ndarray, np.ndarray]) -> list[int]:
    """The members a session of therapist position ``i`` at ``k`` would take now, from the
    free participants in pick order (:func:`_in_pick_order`)."""
    size_max = int(data.size_max[k.group_type])
    positions, everyone = ordered
    people = everyone[k.compatible[i][positions]]
    if len(people) < int(data.size_min[k.group_type]):
        return []
    if not state.constrained[people].any():
        # Nobody here has an avoid partner or a cap: the first size_max in that order.
        return people[:size_max].tolist()
    chosen: list[int] = []
    limit = size_max
    taken_here = state.at_candidate.get(k.index, set())
    constrained = state.constrained
    blocked: set[int] = set()  # the avoid partners of those chosen (the relation is symmetric)
    for p in people.tolist():
        if len(chosen) >= limit:
            break
        if not constrained[p]:  # no partner, no cap: nothing to check
            chosen.append(p)
            continue
        partners = state.partners.get(p)
        if p in blocked or (partners is not None and not partners.isdisjoint(taken_here)):
            continue
        cap = int(data.group_size_cap[p])
        new_limit = limit if cap == NO_LIMIT else min(limit, cap)
        if len(chosen) + 1 > new_limit:
            continue
        chosen.append(p)
        limit = new_limit
        if partners is not None:
            blocked |= partners
    return chosen


def _best_session(data: ProblemData, state: _State, k: GroupCandidate) -> tuple[int, int, list[int]]:
    """(score, therapist position, members) of the best session to open at ``k`` now."""
    g = k.group_type
    cap = data.max_sessions_per_week[g]
    if cap != NO_LIMIT and state.type_sessions[g] >= cap:
        return 0, -1, []
    if not state.room_free(k.start, k.end):
        return 0, -1, []
    wants = state.need_left[k.participants, g] > 0
    taken_here = state.at_candidate.get(k.index, set())
    if taken_here:
        wants &= ~np.isin(k.participants, list(taken_here))
    if wants.sum() < data.size_min[g]:
        return 0, -1, []
    # Only those who still want the type are checked (fewer and fewer as the week fills).
    wanting = np.flatnonzero(wants)
    free = np.zeros(len(wants), dtype=bool)
    free[wanting] = state.participants_free(k.participants[wanting], k.day, k.start, k.end)
    if free.sum() < data.size_min[g]:
        return 0, -1, []
    best: tuple[int, int, list[int]] = (0, -1, [])
    # Therapists who may see the same participants here would take the same members: pick
    # them once per such group (XL: 126k picks, most of the greedy's time, for 5k sessions).
    # The first free therapist of a group stands for it (the others would take the same
    # members at the same score, and a tie keeps the first).
    same_as = state.same_compatibility(k)
    seen: set[int] = set()
    ordered = _in_pick_order(data, state, k, free)
    size_min = int(data.size_min[g])
    for i in np.flatnonzero(state.therapists_free(k.therapists, k.day, k.start, k.end)).tolist():
        group = int(same_as[i])
        if group in seen:
            continue
        seen.add(group)
        members = _pick_members(data, state, k, i, ordered)
        if len(members) >= size_min:
            score = int(data.priority[members].sum())
            if score > best[0]:
                best = (score, i, members)
    return best


def _book_fixed(data: ProblemData, state: _State, fixed: FixedSessions) -> None:
    for group in fixed.groups:
        state.book_therapist(group.therapist, group.day, group.start, group.end)
        state.type_sessions[group.group_type] += 1
        for p in group.participants:
            state.book_participant(p, group.day, group.start, group.end)
            state.need_left[p, group.group_type] -= 1
    for held in fixed.appointments:
        option = held.option
        state.book_participant(data.appointments[held.spec].participant, option.day, option.start, option.end)
        state.book_therapist(option.therapist, option.day, option.start, option.end)
        state.appointments_left[held.spec] -= 1


def _book_seed(data: ProblemData, state: _State, seed: Solution, solution: Solution, clock: _Deadline) -> None:
    """Keep what can be kept of a schedule in force: each session if it still obeys every rule."""
    for k_index, i, people in seed.groups:
        if clock.reached():
            return
        k = data.candidates[k_index]
        t = int(k.therapists[i])
        g = k.group_type
        cap = data.max_sessions_per_week[g]
        if (cap != NO_LIMIT and state.type_sessions[g] >= cap) or not state.room_free(k.start, k.end):
            continue
        if not state.therapist_free(t, k.day, k.start, k.end):
            continue
        position_of = {int(p): position for position, p in enumerate(k.participants)}
        taken_here = state.at_candidate.get(k_index, set())
        members: list[int] = []
        limit = int(data.size_max[g])
        for p in people:
            if p not in position_of or not k.compatible[i, position_of[p]] or state.need_left[p, g] <= 0:
                continue
            if p in taken_here or state.partners.get(p, set()) & (taken_here | set(members)):
                continue
            if not state.participant_free(p, k.day, k.start, k.end):
                continue
            person_cap = int(data.group_size_cap[p])
            new_limit = limit if person_cap == NO_LIMIT else min(limit, person_cap)
            if len(members) + 1 > new_limit:
                continue
            members.append(p)
            limit = new_limit
        if len(members) < data.size_min[g]:
            continue
        state.book_therapist(t, k.day, k.start, k.end)
        state.type_sessions[g] += 1
        for p in members:
            state.book_participant(p, k.day, k.start, k.end)
            state.need_left[p, g] -= 1
        state.at_candidate.setdefault(k_index, set()).update(members)
        solution.groups.append((k_index, i, members))
    for spec_index, option in seed.appointments:
        if clock.reached():
            return
        p = data.appointments[spec_index].participant
        if state.appointments_left[spec_index] <= 0:
            continue
        if not state.participant_free(p, option.day, option.start, option.end):
            continue
        if not state.therapist_free(option.therapist, option.day, option.start, option.end) or not state.room_free(option.start, option.end):
            continue
        state.book_participant(p, option.day, option.start, option.end)
        state.book_therapist(option.therapist, option.day, option.start, option.end)
        state.appointments_left[spec_index] -= 1
        solution.appointments.append((spec_index, option))


def greedy_solution(
    data: ProblemData,
    *,
    appointments_first: bool = False,
    fixed: FixedSessions | None = None,
    seed: Solution | None = None,
) -> Solution:
    """Build a schedule that obeys every hard rule, greedily (see the module docstring).

    With ``appointments_first`` the one-to-one sessions are placed before the groups: on
    weeks where participants' windows are full, the groups then form around them.
    ``fixed`` sessions are booked first and kept; then whatever of ``seed`` (a schedule in
    force) still obeys every rule; then the greedy fills the rest.
    """
    return _greedy_variant(data, appointments_first=appointments_first, fixed=fixed, seed=seed, clock=_Deadline(None))


def _greedy_variant(
    data: ProblemData,
    *,
    appointments_first: bool,
    fixed: FixedSessions | None,
    seed: Solution | None,
    clock: _Deadline,
) -> Solution:
    """:func:`greedy_solution`, stopping where ``clock`` has passed with what is booked so far."""
    state = _State(data)
    solution = Solution(fixed=fixed)
    if fixed is not None:
        # Not a step that can be cut: fixed sessions are in the schedule whatever happens.
        _book_fixed(data, state, fixed)
    if seed is not None:
        _book_seed(data, state, seed, solution, clock)
    if appointments_first:
        _place_appointments(data, state, solution, clock)
    # Lazy greedy: a candidate's score can only fall as the week fills up, so a stale score
    # is an upper bound and only the top of the heap needs re-evaluating.
    heap: list[tuple[int, int]] = []
    for k in data.candidates:
        top = np.sort(data.priority[k.participants])[::-1][: int(data.size_max[k.group_type])]
        heapq.heappush(heap, (-int(top.sum()), k.index))
    while heap and not clock.reached():
        stale, k_index = heapq.heappop(heap)
        if stale == 0:
            break
        k = data.candidates[k_index]
        score, i, members = _best_session(data, state, k)
        if score == 0:
            continue
        if heap and score < -heap[0][0]:
            heapq.heappush(heap, (-score, k_index))
            continue
        t = int(k.therapists[i])
        state.book_therapist(t, k.day, k.start, k.end)
        state.type_sessions[k.group_type] += 1
        for p in members:
            state.book_participant(p, k.day, k.start, k.end)
            state.need_left[p, k.group_type] -= 1
        state.at_candidate.setdefault(k_index, set()).update(members)
        solution.groups.append((k_index, i, list(members)))
        heapq.heappush(heap, (-score, k_index))

    _top_up(data, state, solution, clock)
    if not appointments_first:
        _place_appointments(data, state, solution, clock)
    _hand_over_groups(data, state, solution, clock)
    return solution


def greedy_within(
    data: ProblemData,
    *,
    fixed: FixedSessions | None = None,
    seed: Solution | None = None,
    deadline: float | None = None,
) -> tuple[Solution, bool]:
    """The better (priority-weighted) of the groups-first and appointments-first greedy schedules, by a deadline.

    Parameters
    ----------
    data
        The problem data.
    fixed
        Sessions held exactly as they were (re-planning); always in the schedule.
    seed
        A schedule in force: what of it still obeys every rule is kept before the greedy fills the rest.
    deadline
        A ``time.perf_counter()`` value. Once it passes, no further session is booked and the
        sessions booked so far are returned (they obey every hard rule). ``None`` (the
        deterministic mode) never stops.

    Returns
    -------
    tuple[Solution, bool]
        The schedule, and whether the deadline cut the greedy short. When it did not, the
        schedule is exactly the one without a deadline. When it did, the schedule may be worse:
        a first variant cut short is returned as it is and the second is never started; a
        second variant cut short is compared with the first by the usual rule.
    """
    clock = _Deadline(deadline)
    best: Solution | None = None
    best_value = -1
    # The second variant is a refinement for small weeks; large ones skip it (decided by size,
    # never by the clock, so deterministic solves stay deterministic).
    variants = (False, True) if data.num_participants <= 400 else (False,)
    for appointments_first in variants:
        if best is not None and clock.passed:
            break
        solution = _greedy_variant(data, appointments_first=appointments_first, fixed=fixed, seed=seed, clock=clock)
        value = weighted_delivered(data, solution)
        if value > best_value:
            best, best_value = solution, value
    assert best is not None
    return best, clock.passed


def best_greedy_solution(
    data: ProblemData,
    *,
    fixed: FixedSessions | None = None,
    seed: Solution | None = None,
    deadline: float | None = None,
) -> Solution:
    """The better (priority-weighted) of the groups-first and appointments-first greedy schedules.

    :func:`greedy_within` without saying whether ``deadline`` cut it short.
    """
    return greedy_within(data, fixed=fixed, seed=seed, deadline=deadline)[0]


def _top_up(data: ProblemData, state: _State, solution: Solution, clock: _Deadline) -> None:
    """Fill spare seats of open sessions with people who still need that type."""
    for k_index, i, members in solution.groups:
        if clock.reached():
            return
        k = data.candidates[k_index]
        g = k.group_type
        limit = int(data.size_max[g])
        for p in members:
            cap = int(data.group_size_cap[p])
            if cap != NO_LIMIT:
                limit = min(limit, cap)
        if len(members) >= limit:
            continue
        wants = (state.need_left[k.participants, g] > 0) & k.compatible[i]
        taken_here = state.at_candidate.get(k_index, set())
        free = wants & state.participants_free(k.participants, k.day, k.start, k.end)
        for position in np.flatnonzero(free):
            p = int(k.participants[position])
            cap = int(data.group_size_cap[p])
            if p in taken_here or state.partners.get(p, set()) & taken_here:
                continue
            if len(members) + 1 > (limit if cap == NO_LIMIT else min(limit, cap)):
                continue
            members.append(p)
            taken_here.add(p)
            if cap != NO_LIMIT:
                limit = min(limit, cap)
            state.book_participant(p, k.day, k.start, k.end)
            state.need_left[p, g] -= 1
            if len(members) >= limit:
                break


def _place_appointments(
    data: ProblemData, state: _State, solution: Solution, clock: _Deadline,
    therapist_ready: Callable[[AppointmentOption], bool] | None = None,
) -> None:
    """First feasible option per appointment, on days the participant already attends if possible.

    ``therapist_ready(option)`` says whether the option's therapist can take it (default: is
    free then); :func:`_hand_over_groups` passes one that may free the therapist first.
    """
    if therapist_ready is None:
        def therapist_ready(option: AppointmentOption) -> bool:
            return state.therapist_free(option.therapist, option.day, option.start, option.end)
    order = sorted(data.appointments, key=lambda spec: (-int(data.priority[spec.participant]), len(spec.options)))
    for spec in order:
        p = spec.participant
        while state.appointments_left[spec.index] > 0:
            if clock.reached():
                return
            # The first option, in the order (a day they already attend first, then the
            # earliest start, then the list's order), that the participant, a video room and
            # the therapist can all take: the participant's rules for every option at once.
            best: AppointmentOption | None = None
            days, starts, ends = state.option_arrays(spec)
            free = state.participant_free_at(p, days, starts, ends)
            new_day = (state.p_day_sessions[p, days] == 0).astype(np.int64)
            for j in np.lexsort((np.arange(len(days)), starts, new_day)).tolist():
                if not free[j]:
                    continue
                option = spec.options[j]
                if state.room_free(option.start, option.end) and therapist_ready(option):
                    best = option
                    break
            if best is None:
                break
            state.book_participant(p, best.day, best.start, best.end)
            state.book_therapist(best.therapist, best.day, best.start, best.end)
            state.appointments_left[spec.index] -= 1
            solution.appointments.append((spec.index, best))


def _hand_over_groups(data: ProblemData, state: _State, solution: Solution, clock: _Deadline) -> None:
    """Place appointments still missing by handing their therapist's groups to a colleague.

    An individual session is often blocked only because the participant's own therapist
    leads a group at every time both are free. Another therapist who may lead that group
    (same candidate: qualified, available, may see every member) and is free then takes it
    over, and the appointment goes into the time freed. Nobody moves and no room is added
    but the appointment's; each change passes the same tests as a booking. XL-1: 15,322 ->
    15,383 priority-weighted sessions (43 more appointments) in 0.3 s. (Moving the
    participant to another session of the group's type as well gave 10 more at XL-1 and
    took 19 s: not kept.)
    """
    if not any(left > 0 for left in state.appointments_left.values()):
        return
    led: dict[int, list[int]] = defaultdict(list)  # therapist -> indices into solution.groups
    able: dict[int, np.ndarray] = {}  # group index -> the positions at its candidate who may lead its members
    failed: set[tuple[int, int, int]] = set()  # (therapist, start, end) no hand-over frees, since the last success
    for index, (k_index, i, _) in enumerate(solution.groups):
        led[int(data.candidates[k_index].therapists[i])].append(index)

    def ready(option: AppointmentOption) -> bool:
        key = (option.therapist, option.start, option.end)
        if key in failed:
            return False  # (the same whoever asks: only the therapist's sessions decide)
        if not _take_over(data, state, solution, led, able, option):
            failed.add(key)
            return False
        failed.clear()
        return True

    _place_appointments(data, state, solution, clock, ready)


def _take_over(
    data: ProblemData, state: _State, solution: Solution, led: dict[int, list[int]], able: dict[int, np.ndarray], option: AppointmentOption,
) -> bool:
    """Free ``option``'s therapist for it by handing the groups in the way to other therapists.

    True when the therapist is free for ``option`` afterwards (the hand-overs are booked);
    False with nothing changed.
    """
    t = option.therapist
    if state.therapist_free(t, option.day, option.start, option.end):
        return True
    pause = int(data.therapist_break[t])
    in_way = []
    for index in led.get(t, ()):
        k_index, i, _ = solution.groups[index]
        k = data.candidates[k_index]
        if k.start < option.end + pause and option.start < k.end + pause:
            in_way.append(index)
    if not in_way:
        return False  # an appointment, a fixed session or a limit is in the way
    for index in in_way:
        k = data.candidates[solution.groups[index][0]]
        state.unbook_therapist(t, k.day, k.start, k.end)
    handed: list[tuple[int, int]] = []  # (group index, new position)
    for index in in_way:
        k_index, i, members = solution.groups[index]
        k = data.candidates[k_index]
        leaders = able.get(index)
        if leaders is None:
            leaders = able[index] = np.flatnonzero(k.compatible[:, np.isin(k.participants, members)].all(axis=1))
        chosen = -1
        for other in leaders.tolist():
            if other != i and state.therapist_free(int(k.therapists[other]), k.day, k.start, k.end):
                chosen = other
                break
        if chosen < 0:
            break
        state.book_therapist(int(k.therapists[chosen]), k.day, k.start, k.end)
        handed.append((index, chosen))
    if len(handed) == len(in_way) and state.therapist_free(t, option.day, option.start, option.end):
        for index, chosen in handed:
            k_index, i, members = solution.groups[index]
            k = data.candidates[k_index]
            solution.groups[index] = (k_index, chosen, members)
            led[t].remove(index)
            led[int(k.therapists[chosen])].append(index)
        return True
    for index, chosen in handed:  # undo
        k = data.candidates[solution.groups[index][0]]
        state.unbook_therapist(int(k.therapists[chosen]), k.day, k.start, k.end)
    for index in in_way:
        k = data.candidates[solution.groups[index][0]]
        state.book_therapist(t, k.day, k.start, k.end)
    return False


def weighted_delivered(data: ProblemData, solution: Solution) -> int:
    """Level 1 of a solution: priority-weighted delivered sessions, fixed ones included."""
    total = sum(int(data.priority[p]) for _, _, people in solution.groups for p in people)
    total += sum(int(data.priority[data.appointments[s].participant]) for s, _ in solution.appointments)
    if solution.fixed is not None:
        total += sum(int(data.priority[p]) for group in solution.fixed.groups for p in group.participants)
        total += sum(int(data.priority[data.appointments[held.spec].participant]) for held in solution.fixed.appointments)
    return total


def greedy_schedule(scenario: Scenario) -> Schedule:
    """The greedy baseline's schedule for a scenario (what the benchmark compares against)."""
    from optimizer.schedule import build_schedule  # local: schedule imports this module's types

    data = build_problem_data(scenario)
    return build_schedule(data, best_greedy_solution(data), status="feasible")
