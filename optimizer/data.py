"""Problem data: the scenario as integer indices and numpy arrays, built once and frozen.

Model code never looks at strings or time zones: every time here is a *program minute of the
week* (see :mod:`models.clock`), every person and group type an index. Candidates are pruned
by the masks before any variable exists: a (group type, start) no participant could attend,
or no therapist could lead, has no variable.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from models.clock import (
    DAY_INDEX,
    MINUTES_PER_DAY,
    WeekClock,
    intersect_intervals,
    intervals_to_mask,
    mask_prefix,
    parse_time,
    parse_window,
)
from models.scenario import Scenario

ADULT, ADOLESCENT = 0, 1
POPULATIONS = ("adult", "adolescent")
NO_LIMIT = -1


@dataclass(frozen=True)
class GroupCandidate:
    """A (group type, population, day, start) at which group sessions may run.

    ``participants`` could attend (eligible, needing the type, available, compatible with at
    least one listed therapist); ``therapists`` could lead (qualified, available, compatible
    with at least ``size_min`` listed participants). ``compatible[i, j]`` says whether
    therapist ``therapists[i]`` may see participant ``participants[j]`` (licensure in their
    state, not on their ``avoid_therapists``). ``classes`` partition the participants by
    compatibility column and size cap: participants of one class are interchangeable for
    every rule of a session, so the model counts them instead of naming them.
    """

    index: int
    group_type: int
    population: int
    day: int
    start: int
    end: int
    participants: np.ndarray
    therapists: np.ndarray
    compatible: np.ndarray
    class_of: np.ndarray  # class index of each participant (position in ``participants``)
    class_cap: tuple[int, ...]  # the largest session a member of the class may sit in
    class_therapists: tuple[tuple[int, ...], ...]  # positions in ``therapists`` compatible with it
    simple: bool  # every therapist compatible with everyone and no cap binds: counting suffices


class AppointmentOption(NamedTuple):
    """One way to deliver an appointment: a therapist and a start.

    A named tuple, not a dataclass: XL weeks have about a million of them, and making frozen
    dataclasses was half of the problem data's build time."""

    therapist: int
    day: int
    start: int
    end: int


@dataclass(frozen=True)
class AppointmentSpec:
    """One entry of a participant's ``appointments``, with every feasible option."""

    index: int
    participant: int
    position: int  # index in the participant's appointments list
    kind: str
    count: int
    duration: int
    options: tuple[AppointmentOption, ...]


@dataclass(frozen=True)
class ProblemData:
    """Everything the model needs, as indices and arrays; built by :func:`build_problem_data`."""

    scenario: Scenario
    clock: WeekClock
    program_days: tuple[int, ...]
    hours_start: int  # minute of the day
    hours_end: int
    slot_minutes: int
    max_concurrent: int  # NO_LIMIT for none

    participant_ids: tuple[str, ...]
    priority: np.ndarray  # [P]
    population: np.ndarray  # [P] ADULT / ADOLESCENT
    needs: np.ndarray  # [P, G]
    max_sessions_per_day: np.ndarray  # [P], NO_LIMIT for none
    days_min: np.ndarray  # [P]
    days_max: np.ndarray  # [P], NO_LIMIT
    hours_min: np.ndarray  # [P] minutes
    hours_max: np.ndarray  # [P] minutes, NO_LIMIT
    group_size_cap: np.ndarray  # [P], NO_LIMIT
    avoid_pairs: tuple[tuple[int, int], ...]
    preferred: tuple[frozenset[int], ...]  # therapist indices per participant
    participant_available: np.ndarray  # [P, W+1] prefix sums of the minute mask

    therapist_ids: tuple[str, ...]
    therapist_max_minutes: np.ndarray  # [T], NO_LIMIT
    therapist_max_sessions_per_day: np.ndarray  # [T], NO_LIMIT
    therapist_break: np.ndarray  # [T] minutes
    therapist_available: np.ndarray  # [T, W+1] prefix sums
    may_see: np.ndarray  # [T, P] licensure and no dual relationship

    group_type_ids: tuple[str, ...]
    duration: np.ndarray  # [G]
    size_min: np.ndarray  # [G]
    size_max: np.ndarray  # [G]
    max_sessions_per_week: np.ndarray  # [G], NO_LIMIT
    eligible: np.ndarray  # [P, G] population and tags

    candidates: tuple[GroupCandidate, ...]
    appointments: tuple[AppointmentSpec, ...]
    candidates_of_participant: tuple[tuple[tuple[int, int], ...], ...] = field(default=())  # (candidate, position)

    @property
    def num_participants(self) -> int:
        """Number of participants."""
        return len(self.participant_ids)

    @property
    def num_therapists(self) -> int:
        """Number of therapists."""
        return len(self.therapist_ids)

    @property
    def num_group_types(self) -> int:
        """Number of group types."""
        return len(self.group_type_ids)

    def needed_sessions(self) -> int:
        """Group sessions plus appointments asked for, unweighted."""
        return int(self.needs.sum()) + sum(spec.count for spec in self.appointments_all())

    def appointments_all(self) -> tuple[AppointmentSpec, ...]:
        """Every appointment spec, including those with no feasible option."""
        return self.appointments


# Hours become whole minutes; sessions last whole minutes, so a maximum of 0.33 h (19.8
# minutes) admits 19 of them, not 20 (rounding booked a 20-minute session under it), and a
# minimum of 0.33 h is met by 20. The tolerance keeps 1.1 h at 66 minutes (1.1 * 60 is
# 66.00000000000001 in floating point).
_MINUTE_TOLERANCE = 1e-6


def _limit(value: float | int | None, scale: float = 1) -> int:
    """A maximum in whole units: the largest integer that does not pass it."""
    return NO_LIMIT if value is None else math.floor(value * scale + _MINUTE_TOLERANCE)


def _at_least(value: float | int, scale: float = 1) -> int:
    """A minimum in whole units: the smallest integer that meets it."""
    return math.ceil(value * scale - _MINUTE_TOLERANCE)


def build_problem_data(scenario: Scenario) -> ProblemData:
    """Turn a validated scenario into frozen problem data.

    Parameters
    ----------
    scenario
        A scenario that passed :func:`models.validation.validate_scenario`.
    """
    program = scenario.program
    clock = WeekClock(program.timezone, program.week_start)
    program_days = tuple(sorted(DAY_INDEX[d] for d in program.days))
    hours_start, hours_end = parse_window(program.hours)

    participants = scenario.participants
    therapists = scenario.therapists
    group_types = scenario.group_types
    p_index = {p.id: i for i, p in enumerate(participants)}
    t_index = {t.id: i for i, t in enumerate(therapists)}
    g_index = {g.id: i for i, g in enumerate(group_types)}
    num_p, num_t, num_g = len(participants), len(therapists), len(group_types)

    # Availability masks, in program minutes, restricted to program days and hours.
    program_mask = np.zeros(7 * MINUTES_PER_DAY, dtype=bool)
    for day in program_days:
        program_mask[day * MINUTES_PER_DAY + hours_start : day * MINUTES_PER_DAY + hours_end] = True
    for change_start, change_end in clock.clock_changes():  # the hour a DST change skips or repeats
        program_mask[change_start:change_end] = False

    def prefix_of(intervals: list[tuple[int, int]]) -> np.ndarray:
        return mask_prefix(intervals_to_mask(intervals) & program_mask)

    participant_windows = [clock.windows_to_program(p.availability, p.timezone) for p in participants]
    participant_available = np.stack([prefix_of(w) for w in participant_windows]) if num_p else np.zeros((0, 7 * MINUTES_PER_DAY + 1), dtype=np.int32)
    therapist_available = (
        np.stack([prefix_of(clock.windows_to_program(t.availability, t.timezone)) for t in therapists])
        if num_t
        else np.zeros((0, 7 * MINUTES_PER_DAY + 1), dtype=np.int32)
    )

    # Licensed in the participant's state and not on their avoid_therapists (as arrays: a
    # double loop over 140 therapists and 2,000 participants took 1.2 s).
    state_index: dict[str, int] = {}
    participant_state = np.array([state_index.setdefault(p.state, len(state_index)) for p in participants], dtype=np.int64)
    licensed = np.zeros((num_t, len(state_index)), dtype=bool)
    for i, therapist in enumerate(therapists):
        for code in therapist.licensed_states:
            if code in state_index:
                licensed[i, state_index[code]] = True
    may_see = licensed[:, participant_state] if num_p else np.zeros((num_t, 0), dtype=bool)
    for j, person in enumerate(participants):
        for other in person.avoid_therapists:
            may_see[t_index[other], j] = False

    needs = np.zeros((num_p, num_g), dtype=np.int64)
    eligible = np.zeros((num_p, num_g), dtype=bool)
    for j, person in enumerate(participants):
        for group_id, count in person.needs.items():
            needs[j, g_index[group_id]] = count
        for g, group in enumerate(group_types):
            eligible[j, g] = (group.population in ("any", person.population)) and set(group.requires_tags) <= set(person.tags)

    population = np.array([ADULT if p.population == "adult" else ADOLESCENT for p in participants], dtype=np.int64)
    caps = np.array([_limit(p.max_group_size) for p in participants], dtype=np.int64)
    qualified = np.array(
        [[set(g.requires_qualifications) <= set(t.qualifications) for g in group_types] for t in therapists],
        dtype=bool,
    ).reshape(num_t, num_g)

    duration = np.array([g.duration_minutes for g in group_types], dtype=np.int64)
    size_min = np.array([g.size.min for g in group_types], dtype=np.int64)
    size_max = np.array([g.size.max for g in group_types], dtype=np.int64)

    partners: dict[int, set[int]] = defaultdict(set)
    for j, person in enumerate(participants):
        for other in person.avoid:
            partners[j].add(p_index[other])
            partners[p_index[other]].add(j)

    candidates: list[GroupCandidate] = []
    for g, group in enumerate(group_types):
        days = [DAY_INDEX[d] for d in (group.days or program.days)]
        days = sorted(d for d in days if d in program_days)
        if group.start_times:
            starts = sorted(parse_time(s) for s in group.start_times)
        else:
            starts = list(range(hours_start, hours_end - group.duration_minutes + 1, program.slot_minutes))
        starts = [s for s in starts if hours_start <= s and s + group.duration_minutes <= hours_end]
        wants = (needs[:, g] > 0) & eligible[:, g]
        for day in days:
            for minute in starts:
                start = day * MINUTES_PER_DAY + minute
                end = start + group.duration_minutes
                p_ok = wants & ((participant_available[:, end] - participant_available[:, start]) == end - start)
                p_ok &= (caps == NO_LIMIT) | (caps >= group.size.min)
                t_ok = qualified[:, g] & ((therapist_available[:, end] - therapist_available[:, start]) == end - start)
                if p_ok.sum() < group.size.min or not t_ok.any():
                    continue
                for pop in (ADULT, ADOLESCENT):
                    if group.population != "any" and POPULATIONS[pop] != group.population:
                        continue
                    candidate = _make_candidate(
                        len(candidates), g, pop, day, start, end,
                        np.flatnonzero(p_ok & (population == pop)), np.flatnonzero(t_ok),
                        may_see, caps, int(group.size.min), int(group.size.max), partners,
                    )
                    if candidate is not None:
                        candidates.append(candidate)

    grids: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    def slot_grid(duration: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Days, starts and ends (program minutes) of every appointment slot of a duration."""
        if duration not in grids:
            minutes = np.arange(hours_start, hours_end - duration + 1, program.slot_minutes, dtype=np.int64)
            days = np.repeat(np.array(program_days, dtype=np.int64), len(minutes))
            starts = days * MINUTES_PER_DAY + np.tile(minutes, len(program_days))
            grids[duration] = (days, starts, starts + duration)
        return grids[duration]

    appointments: list[AppointmentSpec] = []
    for j, person in enumerate(participants):
        for position, appointment in enumerate(person.appointments):
            if appointment.therapist is not None:
                pool = [t_index[appointment.therapist]]
            else:
                pool = [i for i, t in enumerate(therapists) if appointment.qualification in t.qualifications]
            pool = [i for i in pool if may_see[i, j]]
            if appointment.availability is not None:
                own = prefix_of(intersect_intervals(participant_windows[j], clock.windows_to_program(appointment.availability, person.timezone)))
            else:
                own = participant_available[j]  # (the participant's own windows: already summed)
            # Every (day, start) of the slot grid at once, then each therapist of the pool, in
            # the order day, start, therapist (a loop over them took most of XL's data build).
            grid_days, grid_starts, grid_ends = slot_grid(appointment.duration_minutes)
            length = appointment.duration_minutes
            fits = own[grid_ends] - own[grid_starts] == length
            days_ok, starts_ok, ends_ok = grid_days[fits], grid_starts[fits], grid_ends[fits]
            free = (np.stack([therapist_available[i, ends_ok] - therapist_available[i, starts_ok] == length for i in pool], axis=1)
                    if pool and len(starts_ok) else np.zeros((len(starts_ok), len(pool)), dtype=bool))
            rows, columns = np.nonzero(free)  # row-major: by slot, then by pool position
            options = list(map(AppointmentOption, np.asarray(pool, dtype=np.int64)[columns].tolist(),
                               days_ok[rows].tolist(), starts_ok[rows].tolist(), ends_ok[rows].tolist()))
            appointments.append(
                AppointmentSpec(len(appointments), j, position, appointment.kind, appointment.count, appointment.duration_minutes, tuple(options))
            )

    by_participant: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for candidate in candidates:
        for position, j in enumerate(candidate.participants):
            by_participant[int(j)].append((candidate.index, position))

    avoid_pairs = sorted(
        {(min(j, p_index[other]), max(j, p_index[other])) for j, person in enumerate(participants) for other in person.avoid}
    )
    return ProblemData(
        scenario=scenario,
        clock=clock,
        program_days=program_days,
        hours_start=hours_start,
        hours_end=hours_end,
        slot_minutes=program.slot_minutes,
        max_concurrent=_limit(program.max_concurrent_sessions),
        participant_ids=tuple(p.id for p in participants),
        priority=np.array([p.priority for p in participants], dtype=np.int64),
        population=population,
        needs=needs,
        max_sessions_per_day=np.array([_limit(p.max_sessions_per_day) for p in participants], dtype=np.int64),
        days_min=np.array([p.days_per_week.min for p in participants], dtype=np.int64),
        days_max=np.array([_limit(p.days_per_week.max) for p in participants], dtype=np.int64),
        hours_min=np.array([_at_least(p.hours_per_week.min, 60) for p in participants], dtype=np.int64),
        hours_max=np.array([_limit(p.hours_per_week.max, 60) for p in participants], dtype=np.int64),
        group_size_cap=caps,
        avoid_pairs=tuple(avoid_pairs),
        preferred=tuple(frozenset(t_index[t] for t in p.preferred_therapists) for p in participants),
        participant_available=participant_available,
        therapist_ids=tuple(t.id for t in therapists),
        therapist_max_minutes=np.array([_limit(t.max_hours_per_week, 60) for t in therapists], dtype=np.int64),
        therapist_max_sessions_per_day=np.array([_limit(t.max_sessions_per_day) for t in therapists], dtype=np.int64),
        therapist_break=np.array([t.min_break_minutes for t in therapists], dtype=np.int64),
        therapist_available=therapist_available,
        may_see=may_see,
        group_type_ids=tuple(g.id for g in group_types),
        duration=duration,
        size_min=size_min,
        size_max=size_max,
        max_sessions_per_week=np.array([_limit(g.max_sessions_per_week) for g in group_types], dtype=np.int64),
        eligible=eligible,
        candidates=tuple(candidates),
        appointments=tuple(appointments),
        candidates_of_participant=tuple(tuple(by_participant.get(j, ())) for j in range(num_p)),
    )


def _make_candidate(
    index: int,
    group_type: int,
    population: int,
    day: int,
    start: int,
    end: int,
    participants: np.ndarray,
    therapists: np.ndarray,
    may_see: np.ndarray,
    caps: np.ndarray,
    size_min: int,
    size_max: int,
    partners: dict[int, set[int]] | None = None,
) -> GroupCandidate | None:
    """Prune a candidate to the people who could really meet there, or None.

    A participant whose ``avoid`` partner could also be here gets a class of their own, so
    the model can send the two to different therapists' sessions (rule 4 is per session).
    """
    # A therapist compatible with fewer than size_min of the participants can never lead
    # here, and a participant no remaining therapist may see can never attend: iterate to
    # a fixed point (two or three rounds in practice).
    while True:
        if len(participants) < size_min or len(therapists) == 0:
            return None
        compatible = may_see[np.ix_(therapists, participants)]
        keep_t = compatible.sum(axis=1) >= size_min
        keep_p = compatible[keep_t].any(axis=0)
        if keep_t.all() and keep_p.all():
            break
        therapists, participants = therapists[keep_t], participants[keep_p]
    effective_cap = np.where(caps[participants] == NO_LIMIT, size_max, np.minimum(caps[participants], size_max))
    present = {int(p) for p in participants}
    keys: dict[tuple[bytes, int, int], int] = {}
    class_of = np.zeros(len(participants), dtype=np.int64)
    class_cap: list[int] = []
    class_therapists: list[tuple[int, ...]] = []
    for position in range(len(participants)):
        column = compatible[:, position]
        person = int(participants[position])
        alone = partners is not None and bool(partners.get(person, set()) & present)
        key = (column.tobytes(), int(effective_cap[position]), person if alone else -1)
        if key not in keys:
            keys[key] = len(class_cap)
            class_cap.append(int(effective_cap[position]))
            class_therapists.append(tuple(int(i) for i in np.flatnonzero(column)))
        class_of[position] = keys[key]
    singletons = len(keys) != len({key[:2] for key in keys})
    simple = bool(compatible.all()) and all(cap >= size_max for cap in class_cap) and not singletons
    return GroupCandidate(
        index=index,
        group_type=group_type,
        population=population,
        day=day,
        start=start,
        end=end,
        participants=participants,
        therapists=therapists,
        compatible=compatible,
        class_of=class_of,
        class_cap=tuple(class_cap),
        class_therapists=tuple(class_therapists),
        simple=simple,
    )


@dataclass(frozen=True)
class FixedGroup:
    """A group session held exactly as it is (re-planning: it already happened, or is locked)."""

    group_type: int
    therapist: int
    day: int
    start: int
    end: int
    participants: tuple[int, ...]
    session_id: str | None = None


@dataclass(frozen=True)
class FixedAppointment:
    """An appointment held exactly as it is."""

    spec: int
    option: AppointmentOption
    session_id: str | None = None


@dataclass(frozen=True)
class FixedSessions:
    """Sessions the model must keep: constants in every family, counted in coverage."""

    groups: tuple[FixedGroup, ...] = ()
    appointments: tuple[FixedAppointment, ...] = ()

    def group_count(self, participant: int, group_type: int) -> int:
        """Fixed sessions of a type a participant already has."""
        return sum(1 for f in self.groups if f.group_type == group_type and participant in f.participants)

    def appointment_count(self, spec: int) -> int:
        """Fixed sessions of an appointment spec."""
        return sum(1 for f in self.appointments if f.spec == spec)


@dataclass(frozen=True)
class KeepReference:
    """What re-planning prefers to keep from the current schedule (unlocked sessions).

    ``attend`` (participant, candidate), ``open`` (candidate, therapist position) and
    ``appointments`` (spec, option) are kept or lost in the structure model; ``seats``
    (participant, candidate, therapist position) in the assignment model.
    """

    attend: tuple[tuple[int, int], ...] = ()
    open: tuple[tuple[int, int], ...] = ()
    appointments: tuple[tuple[int, AppointmentOption], ...] = ()
    seats: tuple[tuple[int, int, int], ...] = ()

    @property
    def person_sessions(self) -> int:
        """Person-sessions in the reference (group seats and appointments)."""
        return len(self.attend) + len(self.appointments)
