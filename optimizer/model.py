"""The CP-SAT models: variables, one function per constraint family, and the objective levels.

Two models are built from the same problem data (see ``docs/model.md``):

*Structure model* (stages 1 and 2). ``attend[p, k]`` says participant ``p`` goes to group
candidate ``k`` (a group type, population, day and start); ``open[k, i]`` says therapist
``k.therapists[i]`` leads a session there; ``appointment[s, o]`` picks option ``o`` of
appointment spec ``s``. Participants are *not* assigned to therapists: at a candidate whose
participants are all compatible with all its therapists, ``min * sessions <= attendees <=
max * sessions`` is exactly the condition for splitting them into sessions. Elsewhere
participants are counted per *class* (same compatible therapists, same size cap) and a
flow ``flow[k, i, c]`` of class-``c`` people into therapist ``i``'s session keeps
licensure exact: every integral flow splits into sessions that obey every rule.

*Assignment model* (stage 3). With who-attends-what held, it names each session's
therapist and members (``seat[p, k, i]``) to optimize quality (continuity, preferred
therapists, balanced load) and then cost.

Ordering: families only read variables created in :func:`create_structure_variables`, so
they may be called in any order; the list in :func:`build_structure_model` follows the
rule numbers of ``scenario-format.md``.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from ortools.sat.python import cp_model

from models.scenario import ObjectiveWeights
from optimizer.data import (
    NO_LIMIT,
    AppointmentOption,
    FixedAppointment,
    FixedSessions,
    GroupCandidate,
    ProblemData,
)

LinearTerm = cp_model.LinearExprT
# (variable or 1 for a fixed session, day, start, end, minutes)
TimedItem = tuple[cp_model.IntVar | int, int, int, int, int]


@dataclass
class StructureVariables:
    """Variables of the structure model, indexed for the constraint families."""

    attend: dict[int, list[tuple[int, cp_model.IntVar]]]  # candidate -> [(participant, var)]
    open: dict[int, list[cp_model.IntVar]]  # candidate -> var per position in k.therapists
    flow: dict[tuple[int, int, int], cp_model.IntVar]  # (candidate, therapist position, class)
    appointment: dict[int, list[tuple[AppointmentOption, cp_model.IntVar]]]  # spec -> options
    participant_items: list[list[TimedItem]] = field(default_factory=list)
    therapist_items: list[list[TimedItem]] = field(default_factory=list)


@dataclass
class BuiltModel:
    """A CP-SAT model with its levels and named soft-family terms (score analysis)."""

    model: cp_model.CpModel
    levels: dict[str, cp_model.LinearExpr | int]
    families: dict[str, cp_model.LinearExpr | int]
    variables: StructureVariables | None = None
    seats: dict[tuple[int, int, int], cp_model.IntVar] = field(default_factory=dict)
    sessions: dict[tuple[int, int], cp_model.IntVar] = field(default_factory=dict)
    # Objectives to minimize one after the other, each held at its optimum before the next,
    # where one weighted sum of them would be too large for CP-SAT (see build_assignment_model).
    # Empty: the model's own objective is the whole order.
    stages: list[cp_model.LinearExprT] = field(default_factory=list)


# Largest weighted quality-and-cost objective solved as one sum; above it stage 3 runs its
# levels one after the other (2**50: CP-SAT keeps objective bounds in doubles too).
MAX_WEIGHTED_OBJECTIVE = 2**50


class BuildOutOfTime(Exception):
    """A model was not built by its :class:`Deadline` (structure, assignment or full model),
    or was built too late to be searched (the message says which)."""


@dataclass(frozen=True)
class Deadline:
    """A ``time.perf_counter()`` moment by which a model must be built (None: no limit).

    The families check it once per candidate, participant or therapist, so a week whose
    model would take far longer than its time limit to build (a 5-minute grid on 24-hour
    windows, hundreds of avoid partners) stops within a fraction of a second of it."""

    at: float | None = None

    def check(self) -> None:
        if self.at is not None and time.perf_counter() > self.at:
            raise BuildOutOfTime


NO_DEADLINE = Deadline()

# --------------------------------------------------------------------------- helpers


def _no_overlap_cliques(model: cp_model.CpModel, items: Sequence[tuple[cp_model.IntVar | int, int, int]], capacity: int) -> None:
    """At every moment at most ``capacity`` of the items run.

    Two half-open intervals overlap exactly when one contains the other's start, so it is
    enough to bound, at every distinct start, the sum of the items running then. These
    clique constraints are also much stronger in the LP relaxation than pairwise ones.
    """
    if len(items) <= capacity:
        return
    ordered = sorted(items, key=lambda item: (item[1], item[2]))
    starts = sorted({item[1] for item in ordered})
    active: list[tuple[cp_model.IntVar | int, int, int]] = []
    cursor = 0
    for moment in starts:
        while cursor < len(ordered) and ordered[cursor][1] <= moment:
            active.append(ordered[cursor])
            cursor += 1
        active = [item for item in active if item[2] > moment]
        if len(active) > capacity:
            variables = [item[0] for item in active if not isinstance(item[0], int)]
            fixed = sum(item[0] for item in active if isinstance(item[0], int))
            if variables:
                model.add(sum(variables) <= capacity - fixed)


def _has_variables(items: Iterable[TimedItem]) -> bool:
    return any(not isinstance(item[0], int) for item in items)


def _by_day(items: Iterable[TimedItem]) -> dict[int, list[TimedItem]]:
    days: dict[int, list[TimedItem]] = defaultdict(list)
    for item in items:
        days[item[1]].append(item)
    return days


# --------------------------------------------------------------------------- variables


def create_structure_variables(data: ProblemData, model: cp_model.CpModel, fixed: FixedSessions | None = None, deadline: Deadline = NO_DEADLINE) -> StructureVariables:
    """Create ``attend``, ``open``, ``flow`` and ``appointment`` variables, pruned by the data.

    Fixed sessions enter the participants' and therapists' timelines as constants (1).
    """
    attend: dict[int, list[tuple[int, cp_model.IntVar]]] = {}
    opened: dict[int, list[cp_model.IntVar]] = {}
    flow: dict[tuple[int, int, int], cp_model.IntVar] = {}
    participant_items: list[list[TimedItem]] = [[] for _ in range(data.num_participants)]
    therapist_items: list[list[TimedItem]] = [[] for _ in range(data.num_therapists)]
    for k in data.candidates:
        deadline.check()
        minutes = k.end - k.start
        attend[k.index] = []
        for p in k.participants:
            var = model.new_bool_var(f"attend_p{p}_k{k.index}")
            attend[k.index].append((int(p), var))
            participant_items[int(p)].append((var, k.day, k.start, k.end, minutes))
        opened[k.index] = []
        for t in k.therapists:
            var = model.new_bool_var(f"open_k{k.index}_t{t}")
            opened[k.index].append(var)
            therapist_items[int(t)].append((var, k.day, k.start, k.end, minutes))
        if not k.simple:
            size_max = int(data.size_max[k.group_type])
            for c, positions in enumerate(k.class_therapists):
                for i in positions:
                    flow[k.index, i, c] = model.new_int_var(0, min(size_max, k.class_cap[c]), f"flow_k{k.index}_i{i}_c{c}")
    appointment: dict[int, list[tuple[AppointmentOption, cp_model.IntVar]]] = {}
    for spec in data.appointments:
        appointment[spec.index] = []
        for o, option in enumerate(spec.options):
            var = model.new_bool_var(f"appt_s{spec.index}_o{o}")
            appointment[spec.index].append((option, var))
            minutes = option.end - option.start
            participant_items[spec.participant].append((var, option.day, option.start, option.end, minutes))
            therapist_items[option.therapist].append((var, option.day, option.start, option.end, minutes))
    _add_fixed_items(fixed, participant_items, therapist_items)
    return StructureVariables(attend, opened, flow, appointment, participant_items, therapist_items)


def _add_fixed_items(fixed: FixedSessions | None, participant_items: list[list[TimedItem]], therapist_items: list[list[TimedItem]]) -> None:
    if fixed is None:
        return
    for group in fixed.groups:
        item: TimedItem = (1, group.day, group.start, group.end, group.end - group.start)
        therapist_items[group.therapist].append(item)
        for p in group.participants:
            participant_items[p].append(item)
    for held in fixed.appointments:
        option = held.option
        item = (1, option.day, option.start, option.end, option.end - option.start)
        therapist_items[option.therapist].append(item)


# --------------------------------------------------------------------------- hard families


def add_group_size(data: ProblemData, model: cp_model.CpModel, v: StructureVariables, deadline: Deadline = NO_DEADLINE) -> None:
    """Rule 1: every session that runs has between ``size.min`` and ``size.max`` members.

    Simple candidates: ``min * n <= N <= max * n`` with ``n`` sessions and ``N`` attendees
    splits into sessions of legal size. Others are sized per therapist in :func:`add_licensure`.
    """
    for k in data.candidates:
        deadline.check()
        # Nobody attends where no session of a therapist who may see them is open. Implied
        # by the sizes below in integers, but it tightens the LP relaxation a great deal:
        # without it a fraction of a session can host any number of fractional attendees.
        for position, (_, var) in enumerate(v.attend[k.index]):
            allowed = k.class_therapists[int(k.class_of[position])]
            model.add(var <= sum(v.open[k.index][i] for i in allowed))
        if not k.simple:
            continue
        sessions = sum(v.open[k.index])
        attendees = sum(var for _, var in v.attend[k.index])
        model.add(attendees >= int(data.size_min[k.group_type]) * sessions)
        model.add(attendees <= int(data.size_max[k.group_type]) * sessions)


def add_licensure(data: ProblemData, model: cp_model.CpModel, v: StructureVariables, deadline: Deadline = NO_DEADLINE) -> None:
    """Rules 1, 2 and 4 at mixed candidates: each member's state, dual relationships and caps.

    Each class's attendees flow to therapists licensed for them; each therapist's session
    gets between ``min`` and ``max`` people (``max`` lowered to the cap of any capped class
    that sends someone).
    """
    for k in data.candidates:
        deadline.check()
        if k.simple:
            continue
        size_min, size_max = int(data.size_min[k.group_type]), int(data.size_max[k.group_type])
        members: dict[int, list[cp_model.IntVar]] = defaultdict(list)
        for position, (_, var) in enumerate(v.attend[k.index]):
            members[int(k.class_of[position])].append(var)
        for c, positions in enumerate(k.class_therapists):
            model.add(sum(v.flow[k.index, i, c] for i in positions) == sum(members[c]))
        for i in range(len(k.therapists)):
            inflow = [(c, v.flow[k.index, i, c]) for c in range(len(k.class_cap)) if (k.index, i, c) in v.flow]
            is_open = v.open[k.index][i]
            total = sum(var for _, var in inflow)
            # No session here is larger than the largest cap of those who may sit in it (all
            # capped at 4 under a size.max of 10: a plain size.max of 4, no indicator at all).
            largest = min(size_max, max((k.class_cap[c] for c, _ in inflow), default=size_max))
            model.add(total >= size_min * is_open)
            model.add(total <= largest * is_open)
            _add_cap_indicators(model, f"k{k.index}_i{i}", total, largest, [(k.class_cap[c], var) for c, var in inflow])


def _add_cap_indicators(
    model: cp_model.CpModel, name: str, total: cp_model.LinearExpr | int, largest: int,
    members: Sequence[tuple[int, cp_model.IntVar]],
) -> None:
    """Rule 4's ``max_group_size`` in one session of at most ``largest``: ``members`` pairs
    each seat (or flow) with its cap, and anyone with a cap below ``largest`` sitting there
    holds ``total`` to that cap.

    One indicator per cap value, not per member or class: with avoid pairs every partner is
    a class of their own, and a row per class repeating the whole inflow grew with classes
    squared (2,000 participants avoiding 20 each, caps of 4: over 2 million rows and 8 GB
    before the model was built).
    """
    by_cap: dict[int, list[cp_model.IntVar]] = defaultdict(list)
    for cap, var in members:
        if cap < largest:
            by_cap[cap].append(var)
    for cap, capped in sorted(by_cap.items()):
        # has_capped = 1 when anyone with this cap sits in the session.
        has_capped = model.new_bool_var(f"capped_{name}_m{cap}")
        model.add(sum(capped) <= cap * has_capped)
        model.add(total <= cap + (largest - cap) * (1 - has_capped))


def add_avoid_pairs(data: ProblemData, model: cp_model.CpModel, v: StructureVariables, deadline: Deadline = NO_DEADLINE) -> None:
    """Rule 4: ``avoid`` pairs never share a session.

    At a candidate where both could be, each has a class of their own (see
    :func:`optimizer.data._make_candidate`), so they may attend in parallel sessions but
    never flow into the same therapist's session.
    """
    if not data.avoid_pairs:
        return
    for k in data.candidates:
        deadline.check()
        position_of = {int(p): position for position, p in enumerate(k.participants)}
        for p, q in data.avoid_pairs:
            if p not in position_of or q not in position_of:
                continue
            class_p, class_q = int(k.class_of[position_of[p]]), int(k.class_of[position_of[q]])
            for i in set(k.class_therapists[class_p]) & set(k.class_therapists[class_q]):
                model.add(v.flow[k.index, i, class_p] + v.flow[k.index, i, class_q] <= 1)


def add_participant_no_overlap(data: ProblemData, model: cp_model.CpModel, v: StructureVariables, deadline: Deadline = NO_DEADLINE) -> None:
    """Rule 3: nobody is in two places at once."""
    for items in v.participant_items:
        deadline.check()
        _no_overlap_cliques(model, [(var, start, end) for var, _, start, end, _ in items], 1)


def add_therapist_no_overlap(data: ProblemData, model: cp_model.CpModel, items_by_therapist: Sequence[Sequence[TimedItem]], deadline: Deadline = NO_DEADLINE) -> None:
    """Rule 3: a therapist leads one session at a time and keeps ``min_break_minutes``.

    Extending each session by the break turns "a break between sessions" into plain
    non-overlap: ``[s1, e1 + b)`` and ``[s2, e2 + b)`` overlap exactly when the gap is short.
    """
    for t, items in enumerate(items_by_therapist):
        deadline.check()
        pause = int(data.therapist_break[t])
        _no_overlap_cliques(model, [(var, start, end + pause) for var, _, start, end, _ in items], 1)


def add_participant_limits(data: ProblemData, model: cp_model.CpModel, v: StructureVariables, deadline: Deadline = NO_DEADLINE) -> dict[str, list[cp_model.IntVar]]:
    """Rule 4: ``max_sessions_per_day``, ``days_per_week.max``, ``hours_per_week.max``.

    Returns the day indicators and the shortfall variables of the program minimums
    (level 2), which need the same per-day sums.
    """
    hours_short: list[cp_model.IntVar] = []
    days_short: list[cp_model.IntVar] = []
    for p, items in enumerate(v.participant_items):
        deadline.check()
        if not items:
            if data.hours_min[p] > 0:
                hours_short.append(model.new_constant(int(data.hours_min[p])))
            if data.days_min[p] > 0:
                days_short.append(model.new_constant(int(data.days_min[p])))
            continue
        per_day = _by_day(items)
        limit = int(data.max_sessions_per_day[p])
        if limit != NO_LIMIT:
            for day_items in per_day.values():
                if len(day_items) > limit and _has_variables(day_items):
                    model.add(sum(item[0] for item in day_items) <= limit)
        total_minutes = sum(item[4] * item[0] for item in items)
        if data.hours_max[p] != NO_LIMIT and _has_variables(items):
            model.add(total_minutes <= int(data.hours_max[p]))
        if data.hours_min[p] > 0:
            short = model.new_int_var(0, int(data.hours_min[p]), f"hours_short_p{p}")
            model.add(short >= int(data.hours_min[p]) - total_minutes)
            hours_short.append(short)
        days_max, days_min = int(data.days_max[p]), int(data.days_min[p])
        if (days_max != NO_LIMIT and days_max < len(per_day)) or days_min > 0:
            indicators = []
            for day, day_items in per_day.items():
                present = model.new_bool_var(f"present_p{p}_d{day}")
                for item in day_items:
                    if isinstance(item[0], int):
                        model.add(present == 1)
                    else:
                        model.add_implication(item[0], present)
                model.add(present <= sum(item[0] for item in day_items))
                indicators.append(present)
            if days_max != NO_LIMIT and days_max < len(per_day):
                model.add(sum(indicators) <= days_max)
            if days_min > 0:
                short_days = model.new_int_var(0, days_min, f"days_short_p{p}")
                model.add(short_days >= days_min - sum(indicators))
                days_short.append(short_days)
    return {"hours_shortfall": hours_short, "days_shortfall": days_short}


def add_therapist_limits(data: ProblemData, model: cp_model.CpModel, items_by_therapist: Sequence[Sequence[TimedItem]]) -> list[cp_model.LinearExpr | int]:
    """Rule 5: ``max_hours_per_week`` and ``max_sessions_per_day``. Returns minutes per therapist."""
    loads: list[cp_model.LinearExpr | int] = []
    for t, items in enumerate(items_by_therapist):
        minutes = sum(item[4] * item[0] for item in items)
        loads.append(minutes)
        if data.therapist_max_minutes[t] != NO_LIMIT and _has_variables(items):
            model.add(minutes <= int(data.therapist_max_minutes[t]))
        limit = int(data.therapist_max_sessions_per_day[t])
        if limit != NO_LIMIT:
            for day_items in _by_day(items).values():
                variables = [item[0] for item in day_items if not isinstance(item[0], int)]
                fixed = sum(item[0] for item in day_items if isinstance(item[0], int))
                if len(day_items) > limit and variables:
                    model.add(sum(variables) <= limit - fixed)
    return loads


def add_concurrency(data: ProblemData, model: cp_model.CpModel, items_by_therapist: Sequence[Sequence[TimedItem]]) -> None:
    """Rule 6: at no moment more than ``max_concurrent_sessions`` sessions (video rooms)."""
    if data.max_concurrent == NO_LIMIT:
        return
    items = [(var, start, end) for therapist_items in items_by_therapist for var, _, start, end, _ in therapist_items]
    _no_overlap_cliques(model, items, data.max_concurrent)


def add_weekly_type_caps(
    data: ProblemData,
    model: cp_model.CpModel,
    sessions_of_candidate: Mapping[int, Sequence[cp_model.IntVar]],
    fixed: FixedSessions | None = None,
) -> None:
    """Rule 6: no group type runs more than ``max_sessions_per_week`` sessions (fixed ones included)."""
    per_type: dict[int, list[cp_model.IntVar]] = defaultdict(list)
    for k in data.candidates:
        per_type[k.group_type].extend(sessions_of_candidate.get(k.index, ()))
    held: dict[int, int] = defaultdict(int)
    for group in fixed.groups if fixed else ():
        held[group.group_type] += 1
    for g, variables in per_type.items():
        cap = int(data.max_sessions_per_week[g])
        if cap != NO_LIMIT and len(variables) + held[g] > cap:
            model.add(sum(variables) <= max(0, cap - held[g]))


def add_needs(data: ProblemData, model: cp_model.CpModel, v: StructureVariables, fixed: FixedSessions | None = None) -> None:
    """Rule 7 and appointment counts: no more sessions of a type than ``needs`` asks.

    Fixed sessions already deliver part of a need; the rest is what the variables may add.
    """
    per_need: dict[tuple[int, int], list[cp_model.IntVar]] = defaultdict(list)
    for k in data.candidates:
        for p, var in v.attend[k.index]:
            per_need[p, k.group_type].append(var)
    for (p, g), variables in per_need.items():
        left = int(data.needs[p, g]) - (fixed.group_count(p, g) if fixed else 0)
        if len(variables) > left:
            model.add(sum(variables) <= max(0, left))
    for spec in data.appointments:
        options = v.appointment[spec.index]
        left = spec.count - (fixed.appointment_count(spec.index) if fixed else 0)
        if len(options) > left:
            model.add(sum(var for _, var in options) <= max(0, left))


# --------------------------------------------------------------------------- objective


def coverage_expression(data: ProblemData, v: StructureVariables, fixed: FixedSessions | None = None) -> cp_model.LinearExpr | int:
    """Level 1: priority-weighted delivered sessions (groups and appointments), fixed ones included."""
    terms: list[cp_model.LinearExpr] = []
    constant = 0
    if fixed is not None:
        constant += sum(int(data.priority[p]) for group in fixed.groups for p in group.participants)
        constant += sum(int(data.priority[data.appointments[held.spec].participant]) for held in fixed.appointments)
    for k in data.candidates:
        terms.extend(int(data.priority[p]) * var for p, var in v.attend[k.index])
    for spec in data.appointments:
        weight = int(data.priority[spec.participant])
        terms.extend(weight * var for _, var in v.appointment[spec.index])
    return (sum(terms) + constant) if terms else constant


def program_minimums(weights: ObjectiveWeights, shortfalls: dict[str, list[cp_model.IntVar]]) -> dict[str, cp_model.LinearExpr | int]:
    """Level 2 families, in minutes-equivalent: hours below the minimum, days below the minimum."""
    return {
        "hours_shortfall": weights.hours_shortfall * sum(shortfalls["hours_shortfall"]),
        "days_shortfall": weights.days_shortfall * 60 * sum(shortfalls["days_shortfall"]),
    }


def build_structure_model(data: ProblemData, fixed: FixedSessions | None = None, deadline: Deadline = NO_DEADLINE) -> BuiltModel:
    """The structure model of stages 1 and 2, every hard family applied.

    ``fixed`` sessions (re-planning) are constants: they occupy people, therapists and video
    rooms, count toward needs and caps, and count in coverage. Raises :class:`BuildOutOfTime`
    once ``deadline`` passes.
    """
    model = cp_model.CpModel()
    v = create_structure_variables(data, model, fixed, deadline)
    if fixed is not None:
        for held in fixed.appointments:
            option = held.option
            v.participant_items[data.appointments[held.spec].participant].append(
                (1, option.day, option.start, option.end, option.end - option.start)
            )
    add_group_size(data, model, v, deadline)  # rule 1
    add_licensure(data, model, v, deadline)  # rules 1, 2, 4 at mixed candidates
    add_participant_no_overlap(data, model, v, deadline)  # rule 3
    add_therapist_no_overlap(data, model, v.therapist_items, deadline)  # rule 3
    add_avoid_pairs(data, model, v, deadline)  # rule 4
    shortfalls = add_participant_limits(data, model, v, deadline)  # rule 4 (+ level-2 shortfalls)
    add_therapist_limits(data, model, v.therapist_items)  # rule 5
    add_concurrency(data, model, v.therapist_items)  # rule 6
    add_weekly_type_caps(data, model, v.open, fixed)  # rule 6
    add_needs(data, model, v, fixed)  # rule 7
    deadline.check()
    families = program_minimums(data.scenario.objective, shortfalls)
    levels: dict[str, cp_model.LinearExpr | int] = {
        "coverage": coverage_expression(data, v, fixed),
        "minimums": sum(families.values()),
    }
    return BuiltModel(model, levels, families, variables=v)


@dataclass
class SeatTerms:
    """Seats and the quality terms that read them, gathered over candidates."""

    seats: dict[tuple[int, int, int], cp_model.IntVar] = field(default_factory=dict)  # (participant, candidate, position)
    continuity: dict[tuple[int, int, int], cp_model.IntVar] = field(default_factory=dict)  # (participant, type, therapist)
    non_preferred: list[cp_model.IntVar] = field(default_factory=list)
    partners: dict[int, list[int]] | None = None  # avoid partners by participant, made on first use

    def partners_of(self, data: ProblemData) -> dict[int, list[int]]:
        if self.partners is None:
            self.partners = defaultdict(list)
            for p, q in data.avoid_pairs:
                self.partners[p].append(q)
        return self.partners


def add_seats(
    data: ProblemData,
    model: cp_model.CpModel,
    k: GroupCandidate,
    people: Sequence[tuple[int, cp_model.IntVar | None]],
    sessions: Sequence[cp_model.IntVar],
    terms: SeatTerms,
) -> None:
    """Rules 1, 2 and 4 per named session: ``seat[p, k, i]`` puts participant ``p`` in the
    session of therapist ``k.therapists[i]`` (``sessions[i]``).

    ``people`` pairs each participant with their attendance: None when they attend for
    certain (stage 3, attendance held), else the ``attend`` variable their seats sum to.
    Each session gets between ``size.min`` and ``size.max`` members, no ``avoid`` pair, no
    more than any member's ``max_group_size``; a therapist's session nobody may sit in stays
    closed. Seats add their continuity indicators and non-preferred seats to ``terms``.
    """
    size_min, size_max = int(data.size_min[k.group_type]), int(data.size_max[k.group_type])
    position_of = {int(p): position for position, p in enumerate(k.participants)}
    seats_of_session: dict[int, list[tuple[int, cp_model.IntVar]]] = defaultdict(list)
    for p, attends in people:
        position = position_of[p]
        choices = []
        for i in k.class_therapists[int(k.class_of[position])]:
            seat = model.new_bool_var(f"seat_p{p}_k{k.index}_i{i}")
            terms.seats[p, k.index, i] = seat
            model.add_implication(seat, sessions[i])
            seats_of_session[i].append((p, seat))
            choices.append(seat)
            t = int(k.therapists[i])
            key = (p, k.group_type, t)
            if key not in terms.continuity:
                terms.continuity[key] = model.new_bool_var(f"sees_p{p}_g{k.group_type}_t{t}")
            model.add_implication(seat, terms.continuity[key])
            if data.preferred[p] and t not in data.preferred[p]:
                terms.non_preferred.append(seat)
        if attends is None:
            model.add_exactly_one(choices)
        else:
            model.add(sum(choices) == attends)
    for i, members in seats_of_session.items():
        seated = {p: seat for p, seat in members}
        if data.avoid_pairs:
            # (by the members' partners: a pass over every pair per session took 15 s at
            # 2,000 participants with 20 partners each)
            partners = terms.partners_of(data)
            for p, seat in members:
                for q in partners.get(p, ()):
                    if q in seated:
                        model.add(seat + seated[q] <= 1)
        total = sum(seat for _, seat in members)
        caps = {p: min(size_max, int(data.group_size_cap[p])) if data.group_size_cap[p] != NO_LIMIT else size_max for p, _ in members}
        largest = max(caps.values())  # (as in add_licensure)
        model.add(total >= size_min * sessions[i])
        model.add(total <= largest * sessions[i])
        _add_cap_indicators(model, f"k{k.index}_i{i}", total, largest, [(caps[p], seat) for p, seat in members])
    for i in range(len(k.therapists)):
        if i not in seats_of_session:
            model.add(sessions[i] == 0)


# --------------------------------------------------------------------------- assignment model


def build_assignment_model(
    data: ProblemData,
    attendees: dict[int, list[int]],
    appointments: Sequence[FixedAppointment],
    *,
    fixed: FixedSessions | None = None,
    keep_seats: Sequence[tuple[int, int, int]] = (),
    deadline: Deadline = NO_DEADLINE,
) -> BuiltModel:
    """Stage 3: name each session's therapist and members, with who-attends-what held.

    ``attendees[k]`` lists the participants at candidate ``k``. Quality (level 3) is
    weighted above cost (level 4) by more than the largest possible cost, so no cost saving
    ever buys a unit of quality. ``fixed`` sessions (re-planning) are constants;
    ``keep_seats`` (participant, candidate, therapist position) of a schedule in force are
    kept before any quality or cost consideration. Raises :class:`BuildOutOfTime` once
    ``deadline`` passes.
    """
    model = cp_model.CpModel()
    weights = data.scenario.objective
    seats: dict[tuple[int, int, int], cp_model.IntVar] = {}
    sessions: dict[tuple[int, int], cp_model.IntVar] = {}
    therapist_items: list[list[TimedItem]] = [[] for _ in range(data.num_therapists)]
    for held in appointments:
        option = held.option
        therapist_items[option.therapist].append((1, option.day, option.start, option.end, option.end - option.start))
    _add_fixed_items(fixed, [[] for _ in range(data.num_participants)], therapist_items)

    sessions_of_candidate: dict[int, list[cp_model.IntVar]] = {}
    terms = SeatTerms()
    for k_index, people in attendees.items():
        deadline.check()
        if not people:
            continue
        k: GroupCandidate = data.candidates[k_index]
        sessions_of_candidate[k_index] = []
        for i, t in enumerate(k.therapists):
            is_open = model.new_bool_var(f"session_k{k_index}_t{t}")
            sessions[k_index, i] = is_open
            sessions_of_candidate[k_index].append(is_open)
            therapist_items[int(t)].append((is_open, k.day, k.start, k.end, k.end - k.start))
        add_seats(data, model, k, [(p, None) for p in people], sessions_of_candidate[k_index], terms)
    seats, continuity, non_preferred = terms.seats, terms.continuity, terms.non_preferred

    add_therapist_no_overlap(data, model, therapist_items, deadline)
    deadline.check()
    loads = add_therapist_limits(data, model, therapist_items)
    add_concurrency(data, model, therapist_items)
    add_weekly_type_caps(data, model, sessions_of_candidate, fixed)
    deadline.check()

    for held in appointments:
        spec = data.appointments[held.spec]
        preferred = data.preferred[spec.participant]
        if preferred and held.option.therapist not in preferred:
            non_preferred.append(model.new_constant(1))

    horizon = sum(int(data.duration[data.candidates[k].group_type]) * len(data.candidates[k].therapists) for k in sessions_of_candidate)
    horizon += sum(held.option.end - held.option.start for held in appointments)
    # Each (participant, group type) needs one therapist; every further one is a break in continuity.
    pairs = len({(p, g) for p, g, _ in continuity})
    extra_therapists = (sum(continuity.values()) - pairs) if continuity else 0
    kept = [seats[key] for key in keep_seats if key in seats]
    return _quality_then_cost(
        model, weights, loads, horizon,
        extra_therapists=extra_therapists, extra_bound=len(continuity),
        non_preferred=non_preferred, non_preferred_bound=len(seats) + len(appointments),
        sessions=sum(sessions.values()) + len(appointments), sessions_bound=len(sessions) + len(appointments),
        kept=kept, seats=seats, session_vars=sessions,
    )


def _quality_then_cost(
    model: cp_model.CpModel,
    weights: ObjectiveWeights,
    loads: Sequence[cp_model.LinearExpr | int],
    horizon: int,
    *,
    extra_therapists: cp_model.LinearExpr | int,
    extra_bound: int,
    non_preferred: Sequence[cp_model.IntVar],
    non_preferred_bound: int,
    sessions: cp_model.LinearExpr | int,
    sessions_bound: int,
    kept: Sequence[cp_model.IntVar] = (),
    seats: dict[tuple[int, int, int], cp_model.IntVar] | None = None,
    session_vars: dict[tuple[int, int], cp_model.IntVar] | None = None,
    variables: StructureVariables | None = None,
) -> BuiltModel:
    """Levels 3 and 4 of a model that names therapists: quality (continuity, preferred
    therapists, the busiest therapist's minutes) strictly above cost (sessions, therapist
    minutes), as one weighted sum or, where that could pass :data:`MAX_WEIGHTED_OBJECTIVE`,
    as stages. ``horizon`` bounds any therapist's and all therapists' minutes; the ``*_bound``
    arguments bound the counts. ``kept`` seats (re-planning) outrank every quality and cost
    consideration."""
    busiest = model.new_int_var(0, max(horizon, 0), "busiest_therapist_minutes")
    for load in loads:
        model.add(busiest >= load)
    families: dict[str, cp_model.LinearExpr | int] = {
        "continuity": weights.continuity * 60 * extra_therapists,
        "preferred_therapist": weights.preferred_therapist * 60 * sum(non_preferred),
        "load_balance": weights.load_balance * busiest,
        "sessions": weights.sessions * 60 * sessions,
        "therapist_hours": weights.therapist_hours * (sum(loads) if loads else 0),
    }
    quality = families["continuity"] + families["preferred_therapist"] + families["load_balance"]
    cost = families["sessions"] + families["therapist_hours"]
    # Strict order: one unit of quality outweighs the largest cost any schedule can have.
    cost_bound = weights.sessions * 60 * sessions_bound + weights.therapist_hours * horizon
    quality_bound = (
        weights.continuity * 60 * extra_bound
        + weights.preferred_therapist * 60 * non_preferred_bound
        + weights.load_balance * horizon
    )
    objective = (cost_bound + 1) * quality + cost
    largest = (quality_bound + 1) * (cost_bound + 1)
    order: list[cp_model.LinearExprT] = [quality, cost]
    if kept:
        # Re-planning: a participant kept in their session with their therapist outranks
        # every quality and cost consideration (changes sit just below coverage).
        lost = len(kept) - sum(kept)
        families["kept_seats_lost"] = lost
        objective = (quality_bound + 1) * (cost_bound + 1) * lost + objective
        largest *= len(kept) + 1
        order.insert(0, lost)
    built = BuiltModel(model, {"quality": quality, "cost": cost}, families, variables=variables,
                       seats=seats or {}, sessions=session_vars or {})
    if largest <= MAX_WEIGHTED_OBJECTIVE:
        model.minimize(objective)
    else:
        # The weighted sum could pass what CP-SAT takes (its objective must stay well inside
        # 64 bits; harbor-week with weights of 40,000 was MODEL_INVALID): the same order,
        # one level at a time (optimizer.solve runs the stages).
        model.minimize(order[0])
        built.stages = order
    return built


def build_full_model(data: ProblemData, coverage_at_least: int, minimums_at_most: int, deadline: Deadline = NO_DEADLINE) -> BuiltModel:
    """Stage 3 over every schedule with levels 1 and 2 at the values found: the structure
    model (attendance and appointments free), seats naming every session's therapist and
    members (:func:`add_seats`), coverage held at ``coverage_at_least`` and the program
    minimums' shortfall at ``minimums_at_most``, then quality and cost as in the assignment
    model.

    The assignment model holds who attends what, so it cannot see that moving a participant
    to another start, day or appointment time of equal coverage gives fewer sessions (two
    half-full groups where one would do) or keeps them with one therapist; this model can.
    It is the participant x (therapist, candidate) formulation that does not scale, so it
    is built for small weeks only (``optimizer.solve``). Not for re-planning. Raises
    :class:`BuildOutOfTime` once ``deadline`` passes.
    """
    built = build_structure_model(data, deadline=deadline)
    model, v = built.model, built.variables
    assert v is not None
    weights = data.scenario.objective
    coverage, minimums = built.levels["coverage"], built.levels["minimums"]
    if not isinstance(coverage, int):
        model.add(coverage >= coverage_at_least)
    if not isinstance(minimums, int):
        model.add(minimums <= minimums_at_most)
    terms = SeatTerms()
    session_vars: dict[tuple[int, int], cp_model.IntVar] = {}
    for k in data.candidates:
        deadline.check()
        add_seats(data, model, k, v.attend[k.index], v.open[k.index], terms)
        for i, var in enumerate(v.open[k.index]):
            session_vars[k.index, i] = var
    non_preferred: list[cp_model.IntVar] = list(terms.non_preferred)
    appointment_vars: list[cp_model.IntVar] = []
    for spec in data.appointments:
        preferred = data.preferred[spec.participant]
        for option, var in v.appointment[spec.index]:
            appointment_vars.append(var)
            if preferred and option.therapist not in preferred:
                non_preferred.append(var)
    # Continuity: every therapist beyond the first a participant sees for a group type (a
    # pair nobody attends counts nothing, as attendance is free here).
    seen: dict[tuple[int, int], list[cp_model.IntVar]] = defaultdict(list)
    for (p, g, _), var in terms.continuity.items():
        seen[p, g].append(var)
    extra: list[cp_model.IntVar] = []
    for (p, g), therapists in seen.items():
        if len(therapists) > 1:
            more = model.new_int_var(0, len(therapists) - 1, f"extra_therapists_p{p}_g{g}")
            model.add(more >= sum(therapists) - 1)
            extra.append(more)
    loads = [sum(item[4] * item[0] for item in items) for items in v.therapist_items]
    horizon = sum(item[4] for items in v.therapist_items for item in items)
    return _quality_then_cost(
        model, weights, loads, horizon,
        extra_therapists=sum(extra), extra_bound=sum(len(t) - 1 for t in seen.values()),
        non_preferred=non_preferred, non_preferred_bound=len(terms.seats) + len(appointment_vars),
        sessions=sum(session_vars.values()) + sum(appointment_vars),
        sessions_bound=len(session_vars) + len(appointment_vars),
        seats=terms.seats, session_vars=session_vars, variables=v,
    )
