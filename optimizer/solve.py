"""``solve(scenario, params) -> Result``: the staged, strictly lexicographic solve.

Stages (see ``docs/model.md``):

1. maximize level 1 (priority-weighted delivered sessions) on the structure model, hinted
   with the greedy schedule made complete (every auxiliary variable too);
2. with level 1 held at the value found, minimize level 2 (hours and days below the
   program minimums);
3. with who-attends-what held, name each session's therapist and members, minimizing
   level 3 (continuity, preferred therapists, balanced load) and then level 4 (sessions,
   therapist hours) in one objective whose weights keep the order strict.

Each stage starts from the previous stage's schedule, so a stage cut short by the time
limit or a stop request never makes the schedule worse, and the greedy schedule is the floor.
"""

from __future__ import annotations

import ctypes
import gc
import math
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib.metadata import version as _package_version

import numpy as np
from ortools.sat.python import cp_model, cp_model_helper

from models.io import LoadedScenario
from models.scenario import Scenario
from models.schedule import Schedule
from optimizer.bound import (
    LinearRelaxation,
    LpBound,
    LpBoundJob,
    RowModel,
    distinct,
    gather_ranges,
    range_indices,
    read_model,
    satisfies,
)
from optimizer.data import (
    AppointmentOption,
    FixedAppointment,
    FixedSessions,
    KeepReference,
    ProblemData,
    build_problem_data,
)
from optimizer.greedy import Solution, greedy_within, weighted_delivered
from optimizer.inputs import as_scenario
from optimizer.model import (
    NO_DEADLINE,
    BuildOutOfTime,
    BuiltModel,
    Deadline,
    build_assignment_model,
    build_full_model,
    build_structure_model,
)
from optimizer.reasons import reason_finder
from optimizer.replan import Reconciliation, ReplanRequest, reconcile
from optimizer.result import Progress, Result, SolveParams, SolveStatus, StopFlag
from optimizer.schedule import build_schedule

ProgressCallback = Callable[[Progress], None]
_ORTOOLS_VERSION = _package_version("ortools")

_SHARE_STAGE_1 = 0.6  # of the time limit; the rest is split between stages 2 and 3
_SHARE_FULL_SOLVE = 0.15  # of stage 1 for CP-SAT on the whole model; the rest is LNS (0.35 measured worse)
# LNS neighbourhoods of more primary variables than this on average get a finer tier below
# them, (half-day, group type or appointment kind): XL-1's half-days hold 12k variables each,
# too many for a sub-problem to be solved in the few seconds an LNS step has.
_LNS_FINE_TIER_ABOVE = 5_000
_LNS_STEPS = 15  # a sub-problem gets at most 1/_LNS_STEPS of the search
_LNS_STEP_MAX = 5.0  # seconds
_LNS_PROMOTE_AFTER = 10  # sub-problems solved to optimality in a row before the neighbourhoods grow (1 and 3 measured worse)
_FULL_SOLVE_MAX_CONSTRAINTS = 300_000
# Structure-model building speed, in decisions (attend and appointment options) per second:
# 29k-37k measured from M to XL on the benchmark machine (XL-1: 307k in 10.6 s).
_BUILD_DECISIONS_PER_SECOND = 30_000
_GREEDY_LEAST_SHARE = 0.25  # of the limit, for the greedy heuristic even when the problem data spent it all
_BUILD_SHARE = 0.75  # of the time left after the greedy schedule, at most, for building the structure model
# LNS sub-problems are solved with CP-SAT's strongest LP (max_lp: linearization level 2,
# every constraint in the LP) as the full-problem worker. Measured, 2 workers, seeds 1-3:
# M-1 at 30 s 1,173 -> 1,195 on average, harbor-week at 20 s 935 -> 946, S-1 at 10 s
# 308 -> 319; one worker (linearization level 2) S-1 at 10 s 305 -> 319. Named first, so
# two workers run it; with more the rest of the list keeps the portfolio diverse.
_LNS_SUBSOLVERS = ("max_lp", "default_lp", "core", "quick_restart", "no_lp", "reduced_costs", "pseudo_costs", "fixed")
# Above this model size the LP runs only in long solves: XL-1 (639k constraints) takes 21 s
# to build it and 53 s to solve it at tolerance 1e-3, with about 0.9 GB more memory.
_LP_MAX_CONSTRAINTS = 300_000
_LP_LONG_RUN = 120.0  # seconds
_LP_MAX_CONSTRAINTS_DETERMINISTIC = 60_000  # waited for, by PDLP iterations: keep it to a few seconds


class _Clock:
    """The solve's wall clock. ``reserve`` seconds of the limit are kept for writing the
    schedule (its unmet needs and their reasons), so the whole solve ends within the limit."""

    def __init__(self, params: SolveParams) -> None:
        self.start = time.perf_counter()
        self.params = params
        self.reserve = 0.0

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def remaining(self) -> float:
        return max(0.0, self.params.time_limit - self.reserve - self.elapsed())

    def deadline(self, share: float, at_least: float = 0.0) -> Deadline:
        """A build deadline ``share`` of the time left from now (at least ``at_least`` seconds);
        none in deterministic mode, whose output must not depend on the machine's load."""
        if self.params.deterministic:
            return NO_DEADLINE
        return Deadline(time.perf_counter() + max(at_least, share * self.remaining()))

    def has_time(self) -> bool:
        """Whether another stage may start. Deterministic mode never asks the wall clock:
        its stages have fixed deterministic budgets, so the schedule does not depend on load."""
        return self.params.deterministic or self.remaining() > 0.2


class _Reporter(cp_model.CpSolverSolutionCallback):
    """Sends a :class:`Progress` at every improved solution of a stage."""

    def __init__(self, stage: str, clock: _Clock, callback: ProgressCallback | None, level_one: Callable[[cp_model.CpSolverSolutionCallback], tuple[float, float | None]], counts: Callable[[cp_model.CpSolverSolutionCallback], tuple[int, int]], needed: int) -> None:
        super().__init__()
        self.stage, self.clock, self.callback = stage, clock, callback
        self.level_one, self.counts, self.needed = level_one, counts, needed
        self.first_solution: float | None = None

    def on_solution_callback(self) -> None:
        if self.first_solution is None:
            self.first_solution = self.clock.elapsed()
        if self.callback is None:
            return
        objective, bound = self.level_one(self)
        sessions, delivered = self.counts(self)
        self.callback(Progress(self.stage, round(self.clock.elapsed(), 3), objective, bound, _gap(objective, bound), sessions, delivered, self.needed))


# Kept of the time limit for writing the schedule (reasons for each unmet need): XL-1's
# greedy schedule, 2,312 unmet needs, took 3.0 s (8.5 s before the reasons were indexed).
_REPORT_PARTICIPANTS_PER_SECOND = 800
_REPORT_SHARE_MAX = 0.1
_REPORT_MARGIN = 0.05  # seconds
# The pass over the structure model's rows (bound.read_model) and the hint's completion, per
# second, with the LP worker's start: L-1 (137k constraints) about 1.5 s, XL-1 (620k) 5-9 s
# on a loaded machine.
_ROWS_READ_PER_SECOND = 70_000
_HINT_SECONDS_AT_LEAST = 0.05  # a hint is not completed with less
_REASONS_AT_LEAST = 0.1  # seconds for the unmet needs' reasons when the search ran over the limit
_TRIM_EVERY = 2.0  # seconds: the neighbourhood search hands freed memory back at most this often
# Models from this size on hand freed memory back after each stage (a full garbage collection
# costs 30-70 ms even on a small model: most of a two-states solve).
_RELEASE_ABOVE_CONSTRAINTS = 100_000
# Stage 3 on assignment models from this size on runs without CP-SAT's LP (linearization
# level 0). XL-1 (342k constraints) at 40 s, seeds 0, 2 and 3: peak 1.58-1.67 GB against
# 1.85-1.94 GB, and a lower (better) quality-and-cost objective on all three (1.103e12-1.126e12
# against 1.120e12-1.160e12). L-1 (44k) at 30 s, seeds 0, 2 and 3: 4.686e10-4.729e10 against
# 4.718e10-4.756e10, lower on all three. M-1 (6k) is proven optimal in under a second either way.
_STAGE3_NO_LP_ABOVE_CONSTRAINTS = 20_000
# Stage 3 over all schedules of equal coverage and minimums (build_full_model) on weeks with
# at most this many possible seats (participant x candidate x therapist): S (4.5k), demo
# (1.8k), M (19k) and harbor-week (24k); L has 173k. The assignment stage gets this share of
# stage 3's time first and its schedule is the full stage's hint.
_FULL_STAGE3_MAX_SEATS = 30_000
_SHARE_ASSIGNMENT_BEFORE_FULL = 0.4


def _load_malloc_trim() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None).malloc_trim  # type: ignore[no-any-return]
    except (OSError, AttributeError):  # not glibc (musl has no malloc_trim)
        return None


_MALLOC_TRIM = _load_malloc_trim()


def _return_freed_memory(collect: bool = True) -> None:
    """Hand memory freed by Python and CP-SAT back to the system (glibc's ``malloc_trim``).

    glibc keeps freed blocks for reuse, so a process's size only grows: at XL the
    neighbourhood search's sub-solves took the solve from 1.5 to 2.1 GB, and the structure
    model, released before stage 3, stayed in the process (1.8 GB there, 2.6 GB through
    stage 3). Trimmed after each stage and every few seconds of the search: 1.5-1.7 GB
    and 2.0 GB.
    """
    if collect:
        gc.collect()
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


def _gap(objective: float | None, bound: float | None) -> float | None:
    if objective is None or bound is None:
        return None
    if bound <= 0:
        return 0.0
    return max(0.0, (bound - objective) / bound)


def _close_enough(value: float, bound: float, relative_gap: float) -> bool:
    return value >= bound or (_gap(value, bound) or 0.0) <= relative_gap


def _solver(params: SolveParams, seconds: float, workers: int) -> cp_model.CpSolver:
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = workers
    solver.parameters.random_seed = params.seed
    solver.parameters.log_search_progress = params.log
    # Probing is expensive in presolve on these models and rarely pays (measured: docs/model.md).
    solver.parameters.cp_model_probing_level = 0
    if params.deterministic:
        solver.parameters.interleave_search = True
        solver.parameters.max_deterministic_time = max(0.05, seconds)
        solver.parameters.max_time_in_seconds = max(60.0, 20 * seconds)
    else:
        solver.parameters.max_time_in_seconds = max(0.05, seconds)
    return solver


def _lns_solver(params: SolveParams, seconds: float, workers: int) -> cp_model.CpSolver:
    """A solver for LNS sub-problems: ``max_lp`` as the full-problem worker (see _LNS_SUBSOLVERS)."""
    solver = _solver(params, seconds, workers)
    if workers == 1:
        solver.parameters.linearization_level = 2
    else:
        solver.parameters.subsolvers.extend(_LNS_SUBSOLVERS)
    return solver


def _run(solver: cp_model.CpSolver, model: cp_model.CpModel, reporter: _Reporter, stop: StopFlag | None) -> cp_model.CpSolverStatus:
    """Solve, stopping promptly when ``stop`` is set (CP-SAT's stop_search from a watcher)."""
    done = threading.Event()

    def watch() -> None:
        while not done.wait(0.1):
            if stop is not None and stop.is_set():
                solver.stop_search()
                return

    watcher = threading.Thread(target=watch, daemon=True) if stop is not None else None
    if watcher is not None:
        watcher.start()
    try:
        return solver.solve(model, reporter)
    finally:
        done.set()
        if watcher is not None:
            watcher.join()


def _hint_all(model: cp_model.CpModel, values: list[int]) -> None:
    # Variables created after ``values`` was read (constants of a later stage) get no hint.
    # Written to the proto directly: add_hint per variable costs seconds at 2,000 participants.
    model.clear_hints()
    count = min(len(values), len(model.proto.variables))
    hint = model.proto.solution_hint
    hint.vars.extend(range(count))
    hint.values.extend(values[:count])


@dataclass(frozen=True)
class _Linear:
    """A linear expression by variable index: ``coeffs @ values[vars] + offset``.

    What a level or family is once the model it was written in is gone.
    """

    vars: np.ndarray
    coeffs: np.ndarray
    offset: int

    @classmethod
    def of(cls, expr: cp_model.LinearExprT) -> _Linear:
        if not isinstance(expr, cp_model.LinearExpr):  # a constant
            return cls(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), int(expr))
        flat = cp_model_helper.FlatIntExpr(expr)
        indices = np.array([var.index for var in flat.vars], dtype=np.int64)
        assert (indices >= 0).all()  # (the model's expressions read variables, never their negations)
        return cls(indices, np.array(flat.coeffs, dtype=np.int64), int(flat.offset))

    def at(self, values: list[int] | np.ndarray) -> int:
        """The value with every variable at ``values`` (index -> value)."""
        return int(self.coeffs @ np.asarray(values, dtype=np.int64)[self.vars]) + self.offset


@dataclass(frozen=True)
class _Decisions:
    """The structure model's variables as indices: its decisions, levels and families.

    All the stages read of the model once its rows (:class:`RowModel`) are taken, so that at
    XL the model itself (about 440 MB of protobuf, kept alive by every ``IntVar``) can go.
    """

    attend: dict[int, list[tuple[int, int]]]  # candidate -> [(participant, index)]
    open: dict[int, list[int]]  # candidate -> index per position in k.therapists
    flow: dict[int, list[tuple[int, int, int]]]  # candidate -> [(therapist position, class, index)]
    appointment: dict[int, list[tuple[AppointmentOption, int]]]  # spec -> [(option, index)]
    levels: dict[str, _Linear]
    families: dict[str, _Linear]
    sessions: np.ndarray  # indices of the open and appointment variables
    delivered: np.ndarray  # indices of the attend and appointment variables

    @classmethod
    def of(cls, built: BuiltModel) -> _Decisions:
        v = built.variables
        assert v is not None
        attend = {k: [(p, var.index) for p, var in items] for k, items in v.attend.items()}
        opened = {k: [var.index for var in items] for k, items in v.open.items()}
        appointment = {s: [(option, var.index) for option, var in items] for s, items in v.appointment.items()}
        x = [i for items in attend.values() for _, i in items]
        a = [i for items in appointment.values() for _, i in items]
        flow: dict[int, list[tuple[int, int, int]]] = defaultdict(list)
        for (k, i, c), var in v.flow.items():
            flow[k].append((i, c, var.index))
        return cls(
            attend, opened, dict(flow), appointment,
            {name: _Linear.of(expr) for name, expr in built.levels.items()},
            {name: _Linear.of(expr) for name, expr in built.families.items()},
            np.array([i for items in opened.values() for i in items] + a, dtype=np.int64),
            np.array(x + a, dtype=np.int64),
        )

    def counts(self, values: list[int] | np.ndarray) -> tuple[int, int]:
        """Sessions and delivered person-sessions at ``values`` (the model's own, fixed ones apart)."""
        array = np.asarray(values, dtype=np.int64)
        return int(array[self.sessions].sum()), int(array[self.delivered].sum())


def _solution_values(solver: cp_model.CpSolver) -> list[int]:
    """Every variable's value in the solver's solution (from the response, not var by var)."""
    return [int(value) for value in solver.response_proto.solution]


def _hint_solver(seconds: float, deterministic: bool) -> cp_model.CpSolver:
    """One worker, at least half a second (deterministic time in deterministic mode)."""
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    if deterministic:
        solver.parameters.max_deterministic_time = max(0.5, seconds)
    else:
        solver.parameters.max_time_in_seconds = max(0.5, seconds)
    return solver


def _complete_hint(model: cp_model.CpModel, primary: dict[int, int], seconds: float, deterministic: bool = False) -> list[int] | None:
    """Values of *every* variable extending ``primary`` (var index -> value), or None.

    A hint of the main decisions only leaves CP-SAT to rediscover day indicators,
    shortfalls and flows, and measured worse than no hint at scale; fixing the main
    decisions and solving (propagation does nearly all the work) gives a complete, feasible
    hint. The decisions are fixed in ``model`` itself, without its objective, and both are
    restored afterwards: a copy of the stage-3 model cost about 340 MB at 2,000 participants.
    None too when ``seconds`` is under 0.05 outside deterministic mode (CP-SAT would load and
    presolve the model anyway, past the limit).
    """
    if not deterministic and seconds < _HINT_SECONDS_AT_LEAST:
        return None
    proto = model.proto
    saved = cp_model.CpModel()  # a holder for the objective and hint while they are off
    if proto.has_objective():
        saved.proto.objective.copy_from(proto.objective)
    if proto.has_solution_hint():
        saved.proto.solution_hint.copy_from(proto.solution_hint)
    domains = {index: list(proto.variables[index].domain) for index in primary}
    try:
        proto.clear_objective()
        proto.clear_solution_hint()
        for index, value in primary.items():
            domain = proto.variables[index].domain
            domain.clear()
            domain.extend([value, value])
        solver = _hint_solver(seconds, deterministic)
        status = solver.solve(model)
    finally:
        for index, domain in domains.items():
            proto.variables[index].domain.clear()
            proto.variables[index].domain.extend(domain)
        if saved.proto.has_objective():
            proto.objective.copy_from(saved.proto.objective)
        if saved.proto.has_solution_hint():
            proto.solution_hint.copy_from(saved.proto.solution_hint)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None
    return _solution_values(solver)


def _complete_structure_hint(
    v: _Decisions, rows: RowModel, relaxed: LinearRelaxation, primary: dict[int, int], seconds: float, deterministic: bool
) -> tuple[list[int] | None, _SubModel]:
    """:func:`_complete_hint` for the structure model without copying it: the decisions held,
    only the constraints that read an auxiliary variable (day indicators, shortfalls, cap
    flags) are solved, in a sub-model of the rows that read them with the decisions moved
    into their bounds; the others are checked against the relaxation's rows afterwards.

    At 2,000 participants the copy of :func:`_complete_hint` cost about 800 MB and seconds.
    Returns the completed values, or None when the decisions break a row (the caller then
    falls back), and the sub-model (its rows and objective): the neighbourhood search goes
    on with it.
    """
    decisions = np.fromiter(primary, dtype=np.int64)
    values = rows.lb.copy()
    values[decisions] = np.fromiter(primary.values(), dtype=np.int64)
    sub_model = _SubModel(rows, decisions, v.levels["coverage"], maximize=True)
    auxiliary = np.setdiff1d(np.arange(len(values)), decisions, assume_unique=True)
    sub_model.free_exactly(auxiliary, values.tolist())
    solver = _hint_solver(seconds, deterministic)
    if solver.solve(sub_model.sub) not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None, sub_model
    completed = sub_model.merge(solver, values).tolist()
    # The copied constraints hold by the solve; every other one must hold at the decisions.
    return (completed if satisfies(relaxed, np.asarray(completed, dtype=float)) else None), sub_model


def _structure_primary(data: ProblemData, v: _Decisions, solution: Solution) -> dict[int, int]:
    """Main decision values of the structure model for a solution."""
    values: dict[int, int] = {}
    attending: dict[int, set[int]] = defaultdict(set)
    open_positions: dict[int, set[int]] = defaultdict(set)
    flows: dict[tuple[int, int, int], int] = defaultdict(int)
    for k_index, i, people in solution.groups:
        k = data.candidates[k_index]
        attending[k_index].update(people)
        open_positions[k_index].add(i)
        position_of = {int(p): position for position, p in enumerate(k.participants)}
        for p in people:
            flows[k_index, i, int(k.class_of[position_of[p]])] += 1
    for k in data.candidates:
        for p, var in v.attend[k.index]:
            values[var] = int(p in attending[k.index])
        for i, var in enumerate(v.open[k.index]):
            values[var] = int(i in open_positions[k.index])
    for k_index, items in v.flow.items():
        for i, c, var in items:
            values[var] = flows.get((k_index, i, c), 0)
    chosen = defaultdict(list)
    for spec_index, option in solution.appointments:
        chosen[spec_index].append(option)
    for spec in data.appointments:
        for option, var in v.appointment[spec.index]:
            values[var] = int(option in chosen[spec.index])
    return values


def _structure_solution(data: ProblemData, v: _Decisions, values: list[int], fixed: FixedSessions | None = None) -> Solution:
    """Split a structure-model solution (``values``: index -> value) into named sessions
    (always legal: see docs/model.md)."""
    solution = Solution(fixed=fixed)
    for k in data.candidates:
        people = [p for p, var in v.attend[k.index] if values[var]]
        open_positions = [i for i, var in enumerate(v.open[k.index]) if values[var]]
        if not people or not open_positions:
            continue
        if k.simple:
            # min*n <= N <= max*n: deal the people out as evenly as possible.
            size = len(people)
            n = len(open_positions)
            base, extra = divmod(size, n)
            cursor = 0
            for j, i in enumerate(open_positions):
                take = base + (1 if j < extra else 0)
                solution.groups.append((k.index, i, people[cursor : cursor + take]))
                cursor += take
        else:
            position_of = {int(p): position for position, p in enumerate(k.participants)}
            pool: dict[int, list[int]] = defaultdict(list)
            for p in people:
                pool[int(k.class_of[position_of[p]])].append(p)
            members: dict[int, list[int]] = defaultdict(list)
            for i, c, var in v.flow.get(k.index, ()):
                count = values[var]
                members[i].extend(pool[c][:count])
                pool[c] = pool[c][count:]
            for i in open_positions:
                if members[i]:
                    solution.groups.append((k.index, i, members[i]))
    for spec in data.appointments:
        for option, var in v.appointment[spec.index]:
            if values[var]:
                solution.appointments.append((spec.index, option))
    return solution




def counting_bound(data: ProblemData, fixed: FixedSessions | None = None) -> int:
    """A level-1 bound by counting: no participant gets more of a type than it has places.

    For each participant and group type, at most ``min(need, candidates on distinct
    non-overlapping starts)``; for each appointment, ``count`` only if it has an option.
    It is often tighter than the LP bound where windows are narrow.
    """
    total = 0
    if fixed is not None:
        total += sum(int(data.priority[p]) for group in fixed.groups for p in group.participants)
        total += sum(int(data.priority[data.appointments[held.spec].participant]) for held in fixed.appointments)
    per_need: dict[tuple[int, int], list[tuple[int, int]]] = defaultdict(list)
    for k in data.candidates:
        for p in k.participants:
            per_need[int(p), k.group_type].append((k.start, k.end))
    limit = data.max_sessions_per_day
    for (p, g), intervals in per_need.items():
        # Greedy interval scheduling gives the most disjoint sessions this person could sit.
        chosen, last_end = 0, -1
        per_day: dict[int, int] = defaultdict(int)
        for start, end in sorted(intervals, key=lambda iv: iv[1]):
            day = start // 1440
            if start >= last_end and (limit[p] < 0 or per_day[day] < limit[p]):
                chosen += 1
                per_day[day] += 1
                last_end = end
        left = int(data.needs[p, g]) - (fixed.group_count(p, g) if fixed else 0)
        total += int(data.priority[p]) * max(0, min(left, chosen))
    for spec in data.appointments:
        if spec.options:
            left = spec.count - (fixed.appointment_count(spec.index) if fixed else 0)
            total += int(data.priority[spec.participant]) * max(0, min(left, len({(o.day, o.start) for o in spec.options})))
    return total


def _groups(variables: np.ndarray, *keys: np.ndarray) -> tuple[list[tuple[int, ...]], list[np.ndarray]]:
    """``variables`` split by equal ``keys``, in the keys' order: each part's key and the part, sorted."""
    if not len(variables):
        return [], []
    order = np.lexsort((variables, *reversed(keys)))  # (lexsort's last key is its primary one)
    stacked = np.stack([key[order] for key in keys])
    cuts = np.flatnonzero((stacked[:, 1:] != stacked[:, :-1]).any(axis=0)) + 1
    return [tuple(key) for key in stacked[:, np.concatenate(([0], cuts))].T.tolist()], np.split(variables[order], cuts)


def _neighbourhoods(data: ProblemData, v: _Decisions) -> tuple[np.ndarray, list[list[np.ndarray]]]:
    """Primary variable indices, and the neighbourhoods the LNS frees, in tiers from small to large.

    Tier 0: half-days and (day, group type); tier 1: days, group types and pairs of
    half-days; tier 2: pairs of days. Where tier 0 averages more than
    ``_LNS_FINE_TIER_ABOVE`` variables (XL), a finer tier comes first: (half-day, group
    type or appointment kind). Each neighbourhood is a sorted index array (as sets, XL-1's
    4.6 million entries took 250 MB for the whole search).

    Freeing whole days lets cohorts re-form: a session moved from Tuesday to Thursday needs
    every decision of both days free at once, which random neighbourhoods rarely give.
    """
    indices: list[int] = []
    day: list[int] = []
    start: list[int] = []
    kind: list[int] = []  # the group type, or -1, -2, ... for an appointment kind
    for k in data.candidates:
        own = [var for _, var in v.attend[k.index]] + v.open[k.index] + [var for _, _, var in v.flow.get(k.index, ())]
        indices += own
        day += [k.day] * len(own)
        start += [k.start] * len(own)
        kind += [k.group_type] * len(own)
    candidate_entries = len(indices)
    kinds: dict[str, int] = {}
    for spec in data.appointments:
        code = kinds.setdefault(spec.kind, -1 - len(kinds))
        for option, var in v.appointment[spec.index]:
            indices.append(var)
            day.append(option.day)
            start.append(option.start)
            kind.append(code)
    variables = np.array(indices, dtype=np.int64)
    days = np.array(day, dtype=np.int64)
    halves = ((np.array(start, dtype=np.int64) % 1440) >= 14 * 60).astype(np.int64)
    kind_of = np.array(kind, dtype=np.int64)
    _, by_day = _groups(variables, days)
    half_keys, by_half = _groups(variables, days, halves)
    is_group = slice(0, candidate_entries)
    _, by_day_type = _groups(variables[is_group], days[is_group], kind_of[is_group])
    _, by_type = _groups(variables[is_group], kind_of[is_group])
    small = by_half + by_day_type
    medium = by_day + by_type
    medium += [np.sort(np.concatenate((by_half[i], by_half[j]))) for i, a in enumerate(half_keys) for j in range(i + 1, len(half_keys))
               if a[1] == half_keys[j][1]]  # (the same half of two days)
    large = [np.sort(np.concatenate((by_day[i], by_day[j]))) for i in range(len(by_day)) for j in range(i + 1, len(by_day))]
    tiers = [tier for tier in (small, medium, large) if tier]
    if tiers and sum(map(len, tiers[0])) / len(tiers[0]) > _LNS_FINE_TIER_ABOVE:
        tiers.insert(0, _groups(variables, days, halves, kind_of)[1])
    return np.sort(variables), tiers


class _SubModel:
    """The sub-problem of one neighbourhood: its variables free, everything else moved into the bounds.

    Built afresh for each neighbourhood from the model's rows (:class:`RowModel`): only the
    rows that read a free variable, each with its held variables' part subtracted from its
    bounds, only the free variables (numbered 0, 1, ... in the order of ``free``), and the
    objective's free terms with the rest in its offset, so the sub-model's objective value
    is the whole schedule's. Rows the free part cannot break are left out. At 2,000
    participants CP-SAT then loads a few thousand short rows per iteration, where the
    whole model's 640k constraints (or a copy with 450k fixed variables) cost it 0.1-0.75 s
    and hundreds of MB each time.
    """

    def __init__(self, rows: RowModel, primary: np.ndarray, objective: _Linear, maximize: bool) -> None:
        self.rows = rows
        is_primary = np.zeros(len(rows.lb), dtype=bool)
        is_primary[primary] = True
        # For each row, the auxiliary (non-decision) variables it reads.
        auxiliary = ~is_primary[rows.row_vars]
        lengths = np.diff(rows.row_ptr)
        owner = np.repeat(np.arange(len(lengths)), lengths)
        self.aux_ptr = np.concatenate(([0], np.cumsum(np.bincount(owner[auxiliary], minlength=len(lengths)))))
        self.aux_vars = rows.row_vars[auxiliary]
        self.position = np.full(len(rows.lb), -1, dtype=np.int64)  # free variable -> its index in the sub-model
        self.floor: tuple[np.ndarray, np.ndarray, float] | None = None
        self.free: np.ndarray = np.zeros(0, dtype=np.int64)
        self.sub = cp_model.CpModel()
        self.use_objective(objective, maximize)

    def use_objective(self, objective: _Linear, maximize: bool) -> None:
        """Search ``objective`` from now on (each stage sets its own)."""
        # CP-SAT minimizes sum(coeffs * vars) + offset; a maximized objective is stored negated
        # with a scaling factor of -1 (as the Python API writes it).
        sign = -1 if maximize else 1
        self.objective_vars = objective.vars
        self.objective_coeffs = sign * objective.coeffs
        self.objective_offset = float(sign * objective.offset)
        self.scaling_factor = float(sign)
        self.maximize = maximize

    def hold_objective(self, value: float) -> None:
        """From now on every sub-model keeps the current objective at ``value`` or better
        (a level held while the next one is searched)."""
        limit = -value if self.maximize else value  # in the minimized form
        self.floor = (self.objective_vars.copy(), self.objective_coeffs.copy(), limit - self.objective_offset)

    def evaluate(self, values: list[int] | np.ndarray) -> float:
        """The current objective's value (as the user sees it) at ``values``."""
        inner = float(self.objective_coeffs @ np.asarray(values, dtype=np.int64)[self.objective_vars]) + self.objective_offset
        return -inner if self.maximize else inner

    def prepare(self, neighbourhood: np.ndarray, values: list[int] | np.ndarray) -> None:
        """Free ``neighbourhood`` and the auxiliary variables next to it (``values`` is the schedule held)."""
        # Day indicators, shortfalls and cap flags beside the freed decisions move with them.
        near = self.rows.rows_of(neighbourhood)
        free = distinct(np.concatenate((neighbourhood, gather_ranges(self.aux_ptr, self.aux_vars, near))), len(self.rows.lb))
        self.free_exactly(free, values)

    def free_exactly(self, free: np.ndarray, values: list[int] | np.ndarray) -> None:
        """The sub-model of ``free`` alone (no neighbours), hinted at ``values``."""
        rows, current = self.rows, np.asarray(values, dtype=np.int64)
        self.position[self.free] = -1
        self.free = free = np.asarray(free, dtype=np.int64)
        self.position[free] = np.arange(len(free))
        chosen = rows.rows_of(free)
        lengths = rows.row_ptr[chosen + 1] - rows.row_ptr[chosen]
        local = np.repeat(np.arange(len(chosen)), lengths)
        entries = range_indices(rows.row_ptr, chosen)
        variables, coeffs = rows.row_vars[entries], rows.row_coeffs[entries]
        where = self.position[variables]
        is_free = where >= 0
        held = ~is_free
        # The held part of each row is a constant: it moves into the row's bounds.
        constant = np.bincount(local[held], weights=(coeffs[held] * current[variables[held]]).astype(float), minlength=len(chosen))
        low, high = rows.lo[chosen] - constant, rows.hi[chosen] - constant
        lb, ub = rows.lb[free], rows.ub[free]
        f_local, f_where, f_coeffs = local[is_free], where[is_free], coeffs[is_free]
        low_term = np.where(f_coeffs > 0, f_coeffs * lb[f_where], f_coeffs * ub[f_where]).astype(float)
        high_term = np.where(f_coeffs > 0, f_coeffs * ub[f_where], f_coeffs * lb[f_where]).astype(float)
        reach_low = np.bincount(f_local, weights=low_term, minlength=len(chosen))
        reach_high = np.bincount(f_local, weights=high_term, minlength=len(chosen))
        binding = np.flatnonzero((reach_low < low) | (reach_high > high))  # rows the free part could break
        self.sub = cp_model.CpModel()  # (a cleared one would keep its largest size cached: the hint's, at XL)
        proto = self.sub.proto
        for low_value, high_value in zip(lb.tolist(), ub.tolist(), strict=True):
            proto.variables.add().domain.extend((low_value, high_value))
        bounds = np.searchsorted(f_local, np.arange(len(chosen) + 1))
        where_list, coeff_list = f_where.tolist(), f_coeffs.tolist()
        for start, end, low_value, high_value in zip(
            bounds[binding].tolist(), bounds[binding + 1].tolist(), low[binding].tolist(), high[binding].tolist(), strict=True
        ):
            linear = proto.constraints.add().linear
            linear.vars.extend(where_list[start:end])
            linear.coeffs.extend(coeff_list[start:end])
            linear.domain.extend((cp_model.INT_MIN if math.isinf(low_value) else math.ceil(low_value - 1e-9),
                                  cp_model.INT_MAX if math.isinf(high_value) else math.floor(high_value + 1e-9)))
        # The objective: the free terms; every other term is a constant at its value.
        objective = proto.objective
        in_objective = self.position[self.objective_vars]
        objective_free = in_objective >= 0
        objective.vars.extend(in_objective[objective_free].tolist())
        objective.coeffs.extend(self.objective_coeffs[objective_free].tolist())
        objective.offset = self.objective_offset + float(self.objective_coeffs[~objective_free] @ current[self.objective_vars[~objective_free]])
        objective.scaling_factor = self.scaling_factor
        if self.floor is not None:
            # The level held: its free terms may not lose what the held ones do not give.
            floor_vars, floor_coeffs, limit = self.floor
            floor_where = self.position[floor_vars]
            floor_free = floor_where >= 0
            row = proto.constraints.add().linear
            row.vars.extend(floor_where[floor_free].tolist())
            row.coeffs.extend(floor_coeffs[floor_free].tolist())
            held_part = int(floor_coeffs[~floor_free] @ current[floor_vars[~floor_free]])
            row.domain.extend([cp_model.INT_MIN, math.floor(limit - held_part + 1e-9)])
        hint = proto.solution_hint
        hint.vars.extend(range(len(free)))
        hint.values.extend(current[free].tolist())

    def merge(self, solver: cp_model.CpSolver, values: list[int] | np.ndarray) -> np.ndarray:
        """``values`` with the free variables taken from the sub-model's solution (a new array)."""
        merged = np.array(values, dtype=np.int64)
        merged[self.free] = np.asarray(solver.response_proto.solution, dtype=np.int64)
        return merged


def _lns(
    v: _Decisions,
    data: ProblemData,
    values: list[int],
    value: int,
    bound: Callable[[], float],
    params: SolveParams,
    budget: float,
    workers: int,
    stop: StopFlag | None,
    report: Callable[[float, np.ndarray], None],
    sub_model: _SubModel,
) -> tuple[list[int], int]:
    """Large-neighbourhood search: free a neighbourhood, fix the rest, re-solve.

    The objective is the model's as it is (stage 1 maximizes coverage; stage 2 at scale
    minimizes the shortfall below the program minimums with coverage held through
    :meth:`_SubModel.hold_objective`); it stops at ``bound()`` (within the relative gap when
    maximizing). Moves that keep the value are accepted too (walking plateaus). The
    neighbourhood size adapts: ``_LNS_PROMOTE_AFTER`` sub-problems solved to optimality in
    a row move up a tier, one cut short moves down.
    Deterministic mode counts CP-SAT's deterministic time instead of the wall clock, with a
    seeded neighbourhood order. Each sub-problem is a model of its own, built afresh from
    ``values`` for each neighbourhood by ``sub_model`` from the structure model's rows.
    """
    if budget <= 0:
        return values, value
    _, tiers = _neighbourhoods(data, v)
    if not tiers:
        return values, value
    maximize = sub_model.maximize

    def finished() -> bool:
        if maximize:
            return _close_enough(value, bound(), params.relative_gap)
        return value <= bound()

    # Held as an array through the search (a list of 450k values costs 15 ms to convert,
    # twice per sub-problem at XL); callers get a list back.
    current = np.asarray(values, dtype=np.int64)
    tier = min(1, len(tiers) - 1)
    solved = 0  # sub-problems solved to optimality in a row at this tier
    rng = np.random.default_rng(params.seed)
    spent = 0.0
    started = trimmed = time.perf_counter()
    step = min(_LNS_STEP_MAX, max(0.5, budget / _LNS_STEPS))
    # Neighbourhoods solved to optimality since the schedule last changed: solving one again
    # can give nothing (S-1 at 10 s solved the same day three times in a row). When a tier has
    # none left it is a local optimum for that tier, and the search moves up at once; when
    # every tier is spent, it frees unions of the largest neighbourhoods, with more time.
    spent_in: list[set[int]] = [set() for _ in tiers]
    while spent < budget and not finished() and not (stop is not None and stop.is_set()):
        while tier < len(tiers) - 1 and len(spent_in[tier]) >= len(tiers[tier]):
            tier, solved = tier + 1, 0
        choices = tiers[tier]
        open_choices = [i for i in range(len(choices)) if i not in spent_in[tier]]
        limit = min(step, budget - spent)
        if open_choices:
            pick = open_choices[int(rng.integers(len(open_choices)))]
            chosen: int | None = pick
            neighbourhood = choices[pick]
        else:  # every tier spent: two of the largest at once (four days on the generated weeks)
            chosen = None
            picked = rng.choice(len(choices), size=min(2, len(choices)), replace=False)
            neighbourhood = distinct(np.concatenate([choices[int(i)] for i in picked]), len(sub_model.rows.lb))
            limit = min(2 * step, budget - spent)
        chosen_tier = tier
        sub_model.prepare(neighbourhood, current)
        sub = _lns_solver(params, limit, workers)
        outcome = sub.solve(sub_model.sub)
        solved = solved + 1 if outcome == cp_model.OPTIMAL else 0
        if solved >= _LNS_PROMOTE_AFTER:
            tier, solved = min(tier + 1, len(tiers) - 1), 0
        elif not solved:
            tier = max(tier - 1, 0)
        spent = spent + sub.deterministic_time if params.deterministic else time.perf_counter() - started
        changed = False
        if outcome in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            found = int(round(sub.objective_value))
            if (found >= value) if maximize else (found <= value):
                improved = found != value
                merged = sub_model.merge(sub, current)
                changed = bool(np.any(merged != current))
                current = merged
                value = found
                if improved:
                    report(float(value), current)
        if changed:
            for done in spent_in:
                done.clear()
        if outcome == cp_model.OPTIMAL and chosen is not None:
            # (Level held: the same sub-problem, solved again, finds this optimum again.)
            spent_in[chosen_tier].add(chosen)
        if time.perf_counter() - trimmed >= _TRIM_EVERY:
            _return_freed_memory(collect=False)  # (a full collection costs up to a second at XL)
            trimmed = time.perf_counter()
    return current.tolist(), value


def _keep_expression(data: ProblemData, built: BuiltModel, reference: KeepReference) -> cp_model.LinearExpr | int:
    """How much of a schedule in force the structure model keeps: seats, sessions, appointments."""
    v = built.variables
    assert v is not None
    attend_var = {(p, k.index): var for k in data.candidates for p, var in v.attend[k.index]}
    terms: list[cp_model.IntVar] = [attend_var[key] for key in reference.attend if key in attend_var]
    terms += [v.open[k][i] for k, i in reference.open]
    option_var = {(s, option): var for s in v.appointment for option, var in v.appointment[s]}
    terms += [option_var[key] for key in reference.appointments if key in option_var]
    return sum(terms) if terms else 0


@dataclass(frozen=True)
class _Context:
    """What every stage of one solve reads: the problem, the parameters, the clock, the callbacks."""

    data: ProblemData
    fixed: FixedSessions | None
    reconciliation: Reconciliation | None
    replan: ReplanRequest | None
    params: SolveParams
    clock: _Clock
    workers: int
    on_progress: ProgressCallback | None
    stop: StopFlag | None
    messages: list[str]
    needed: int
    fixed_sessions: int
    fixed_delivered: int


class _LpFold:
    """The LP bound's worker (or None) and the best bound it has sent so far."""

    def __init__(self, job: LpBoundJob | None) -> None:
        self.job = job
        self.found: LpBound | None = None

    def take(self, bound: float, wait: bool = False) -> float:
        """``bound``, lowered to the LP bound once one has come (``wait``: deterministic mode)."""
        found = self.job.result(wait) if self.job is not None else None
        if found is not None and (self.found is None or found.bound < self.found.bound):
            self.found = found
        return min(bound, float(self.found.bound)) if self.found is not None else bound


@dataclass
class _StructureOutcome:
    """What stages 1-2b hand on: the schedule so far and what is proven about it."""

    solution: Solution
    status: SolveStatus
    best_bound: float
    coverage_value: int
    levels: dict[str, float]
    breakdown: dict[str, float]
    stopped: bool
    first_solution: float | None
    lp: _LpFold
    build_seconds: float
    constraints: int  # in the structure model (0: none was built)


def _greedy_outcome(data: ProblemData, greedy: Solution, fixed: FixedSessions | None, build_seconds: float) -> _StructureOutcome:
    """The greedy schedule as the stages' outcome, bounded by counting (no model was built)."""
    value = weighted_delivered(data, greedy)
    bound = float(counting_bound(data, fixed))
    status = SolveStatus.OPTIMAL if value >= bound else SolveStatus.FEASIBLE
    return _StructureOutcome(greedy, status, float(value) if status == SolveStatus.OPTIMAL else bound,
                             value, {"coverage": float(value)}, {}, False, None, _LpFold(None), build_seconds, 0)


def _structure_stages(context: _Context, greedy: Solution, greedy_seconds: float) -> _StructureOutcome:
    """Builds the structure model and runs stages 1, 1b, 2 and 2b on it: coverage, then the
    program minimums.

    Everything that reads the structure model lives here, so it is all released when this
    returns, before stage 3 builds the assignment model. Where the whole model is never
    solved (XL, no re-planning), it is dropped as soon as its rows are read and the hint is
    complete: the search and stage 2 work on the rows and on :class:`_Decisions` alone
    (XL-1: 440 MB less through stages 1-2).
    """
    data, fixed, reconciliation, replan = context.data, context.fixed, context.reconciliation, context.replan
    params, clock, workers, on_progress, stop = context.params, context.clock, context.workers, context.on_progress, context.stop
    messages, needed, fixed_sessions, fixed_delivered = context.messages, context.needed, context.fixed_sessions, context.fixed_delivered
    # Not deterministic: the build must end within _BUILD_SHARE of the time left, or the solve
    # returns the greedy schedule (solve() catches BuildOutOfTime): some valid weeks build
    # far slower than the estimate (a 5-minute grid on 24-hour windows: 43 s for 120
    # participants, estimated 17 s).
    structure: BuiltModel | None = build_structure_model(data, fixed, clock.deadline(_BUILD_SHARE, at_least=1.0))
    assert structure is not None
    rows_to_read = len(structure.model.proto.constraints)
    if not params.deterministic and clock.remaining() < max(0.5, rows_to_read / _ROWS_READ_PER_SECOND):
        # Built in time, but too late to read and search it (L at 5 s: the pass over the
        # rows and the hint took the solve to 6.9 s).
        raise BuildOutOfTime("the time left after building the model is less than reading it takes")
    # Model build time: problem data plus the CP-SAT model, not the greedy heuristic.
    build_seconds = clock.elapsed() - greedy_seconds
    v = _Decisions.of(structure)
    bound_by_counting = counting_bound(data, fixed)
    keep = _keep_expression(data, structure, reconciliation.reference) if reconciliation else 0
    coverage_is_constant = isinstance(structure.levels["coverage"], int)

    structure.model.maximize(structure.levels["coverage"])
    # The LP bound runs beside the search in a worker process (docs/model.md, "Bound and
    # gap"), from the relaxation read here before the hint is set.
    constraints = len(structure.model.proto.constraints)
    if params.deterministic:
        lp_wanted = params.lp_bound and constraints <= _LP_MAX_CONSTRAINTS_DETERMINISTIC
    else:
        lp_wanted = params.lp_bound and (constraints <= _LP_MAX_CONSTRAINTS or params.time_limit >= _LP_LONG_RUN)
    # Above _FULL_SOLVE_MAX_CONSTRAINTS the whole-model solve is skipped: on XL it ended
    # UNKNOWN at 60 s and found its first schedule after 75 s of 300, in 4.9 GB.
    full_solve = constraints <= _FULL_SOLVE_MAX_CONSTRAINTS
    # One pass over the model gives the LP its rows and the neighbourhood search its rows.
    # Skipped when neither can run: a short limit already spent on building (XL at 10 s,
    # where the pass alone takes 14 s).
    relaxed: LinearRelaxation | None = None
    rows: RowModel | None = None
    if lp_wanted or clock.has_time():
        relaxed, rows = read_model(structure.model)
    lp = _LpFold(LpBoundJob(structure.model, params.time_limit - clock.elapsed(), deterministic=params.deterministic, lp=relaxed) if lp_wanted else None)
    primary_hint = _structure_primary(data, v, greedy)
    hint_seconds = min(30.0, max(1.0, params.time_limit / 4))
    hint = None
    # The sub-model the hint is completed in goes on to the neighbourhood search (one copy).
    sub_model: _SubModel | None = None
    if rows is not None and relaxed is not None:
        hint, sub_model = _complete_structure_hint(v, rows, relaxed, primary_hint, hint_seconds, params.deterministic)
    del relaxed  # the LP job holds it as long as it needs it
    del primary_hint
    if hint is None:  # no pass over the model (or, never seen, decisions breaking a row): solve a copy
        hint = _complete_hint(structure.model, _structure_primary(data, v, greedy), hint_seconds, params.deterministic)
    if not full_solve and reconciliation is None and sub_model is not None:
        # Nothing below solves the whole model: the rows and the indices are all it needs.
        structure = None
    elif hint is not None:
        _hint_all(structure.model, hint)
    if constraints >= _RELEASE_ABOVE_CONSTRAINTS:
        _return_freed_memory()  # (the pass over the model, the hint's sub-model and the model itself: hundreds of MB at XL)
    if hint is None and not clock.has_time():  # XL at 10 s: the copy gets a few seconds and does not finish
        messages.append("the time limit was spent building the model: the greedy schedule is returned as it is")
    elif hint is None:  # pragma: no cover - the greedy schedule always obeys the model
        messages.append("the greedy schedule could not be completed into a hint")

    def counts_at(values: list[int] | np.ndarray) -> tuple[int, int]:
        """Sessions and delivered person-sessions of a schedule, fixed ones included."""
        sessions, delivered = v.counts(values)
        return sessions + fixed_sessions, delivered + fixed_delivered

    def counts(callback: cp_model.CpSolverSolutionCallback) -> tuple[int, int]:
        return counts_at(callback.response_proto.solution)

    def level_one_stage1(callback: cp_model.CpSolverSolutionCallback) -> tuple[float, float | None]:
        return float(callback.objective_value), float(min(callback.best_objective_bound, bound_by_counting))

    # ---- stage 1: coverage
    solution = greedy
    status = SolveStatus.FEASIBLE
    best_bound: float = float(bound_by_counting)
    share = _SHARE_STAGE_1 * (0.8 if reconciliation else 1.0)
    stage1_limit = clock.remaining() * share if not params.deterministic else params.time_limit * share
    # _SHARE_FULL_SOLVE of stage 1 for CP-SAT on the whole model (first improvements, and the
    # proof on small models), the rest for the large-neighbourhood search, which finds
    # cohorts much faster (docs/model.md).
    full_share = _SHARE_FULL_SOLVE if full_solve else 0.0
    stage1_started = clock.elapsed()
    whole_model_ended: str | None = None  # CP-SAT's status on the whole model when it found nothing
    coverage_value = weighted_delivered(data, greedy)
    stage_values: list[int] = hint or []
    first_solution: float | None = None
    # (Not with less time than loading the model takes, estimated like reading its rows:
    # CP-SAT's load and presolve alone took L-1 at 5 s 0.4 s past the limit. Small models
    # load at once and are often proven optimal here.)
    whole_model_run = full_solve and (params.deterministic or stage1_limit * full_share >= constraints / _ROWS_READ_PER_SECOND)
    if whole_model_run:
        assert structure is not None
        solver = _solver(params, stage1_limit * full_share, workers)
        solver.parameters.relative_gap_limit = params.relative_gap
        reporter = _Reporter("coverage", clock, on_progress, level_one_stage1, counts, needed)
        result_status = _run(solver, structure.model, reporter, stop)
        first_solution = reporter.first_solution
        if result_status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            found_values = _solution_values(solver)
            candidate = _structure_solution(data, v, found_values, fixed)
            if weighted_delivered(data, candidate) >= coverage_value:
                solution, coverage_value = candidate, weighted_delivered(data, candidate)
                stage_values = found_values
            best_bound = min(best_bound, math.floor(solver.best_objective_bound + 1e-6))
            # OPTIMAL is a proof only when the bound meets the value: with --gap, CP-SAT also
            # says OPTIMAL once the gap limit is met (demo at --gap 0.5: "optimal" 132 of 144).
            if result_status == cp_model.OPTIMAL and coverage_value >= best_bound:
                status = SolveStatus.OPTIMAL
                best_bound = float(coverage_value)
        else:
            whole_model_ended = solver.status_name(result_status)
            if solver.best_objective_bound:
                best_bound = min(best_bound, math.floor(solver.best_objective_bound + 1e-6))
    elif not full_solve and stage_values and clock.has_time():  # (else the limit was spent on building)
        messages.append(f"the model has {constraints:,} constraints: stage 1 skips CP-SAT on the whole model "
                        "and searches neighbourhoods from the greedy schedule")

    def fold_lp(wait: bool = False) -> float:
        """Take the LP bound into ``best_bound`` once it has come (deterministic mode waits)."""
        nonlocal best_bound
        best_bound = lp.take(best_bound, wait)
        return best_bound

    fold_lp(wait=params.deterministic)
    if coverage_value < best_bound and stage_values and sub_model is not None and not (stop is not None and stop.is_set()):
        def lns_report(found: float, values: np.ndarray) -> None:
            nonlocal first_solution
            if first_solution is None:
                first_solution = clock.elapsed()
            if on_progress is not None:
                on_progress(Progress("coverage", round(clock.elapsed(), 3), found, best_bound, _gap(found, best_bound),
                                     *counts_at(values), needed))

        budget = stage1_limit * (1 - full_share) if params.deterministic else max(0.0, stage1_limit - (clock.elapsed() - stage1_started))
        bound_now = (lambda: best_bound) if params.deterministic else fold_lp
        stage_values, lns_value = _lns(v, data, stage_values, coverage_value, bound_now, params, budget, workers, stop, lns_report, sub_model)
        if lns_value > coverage_value:
            solution = _structure_solution(data, v, stage_values, fixed)
            coverage_value = weighted_delivered(data, solution)
    if not params.deterministic:
        fold_lp()
    if whole_model_ended is not None:
        # (Said once stage 1 is over: the neighbourhood search may still have improved on the
        # greedy schedule, and demo then said "the greedy schedule is kept" above a better one.)
        then = "the greedy schedule is kept" if solution is greedy else "the neighbourhood search improved on the greedy schedule"
        messages.append(f"stage 1: CP-SAT on the whole model ended {whole_model_ended} in its share; {then}")
    if coverage_value >= best_bound:
        status, best_bound = SolveStatus.OPTIMAL, float(coverage_value)
    levels: dict[str, float] = {"coverage": float(coverage_value)}
    breakdown: dict[str, float] = {}
    stopped = stop is not None and stop.is_set()
    fixed_bound = best_bound

    def held_level(_cb: cp_model.CpSolverSolutionCallback) -> tuple[float, float | None]:
        return float(coverage_value), float(fixed_bound)

    def keep_stage(name: str, seconds: float) -> None:
        """Maximize what is kept of the schedule in force, the levels above held."""
        nonlocal solution, stage_values, stopped
        assert structure is not None  # (kept whenever re-planning)
        structure.model.maximize(keep)
        _hint_all(structure.model, stage_values)
        keep_solver = _solver(params, seconds, workers)
        keep_status = _run(keep_solver, structure.model, _Reporter(name, clock, on_progress, held_level, counts, needed), stop)
        if keep_status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            stage_values = _solution_values(keep_solver)
            solution = _structure_solution(data, v, stage_values, fixed)
            kept = int(keep_solver.value(keep))
            levels["kept"] = float(kept)
            structure.model.add(keep >= kept)
        stopped = stop is not None and stop.is_set()

    if structure is not None and stage_values and not stopped and not coverage_is_constant:
        # (A plain-int coverage, when nothing can be scheduled, would add a constant variable
        # and break the full-length hints of the stages below.)
        structure.model.add(structure.levels["coverage"] >= coverage_value)
    # ---- stage 1b (re-planning): keep the schedule in force, just below coverage
    if reconciliation and replan and replan.mode == "replan" and stage_values and not stopped and clock.has_time():
        keep_stage("changes", clock.remaining() * 0.4 if not params.deterministic else params.time_limit * 0.15)

    # ---- stage 2: program minimums, coverage held
    if stage_values and not stopped and clock.has_time() and not full_solve and sub_model is not None and "kept" not in levels:
        # Above _FULL_SOLVE_MAX_CONSTRAINTS (XL) CP-SAT on the whole model found no schedule in
        # 70 s and took the process from 2.0 to 2.4 GB: search neighbourhoods instead, in the
        # stage-1 sub-model, coverage held at its value in every sub-problem.
        sub_model.hold_objective(coverage_value)
        sub_model.use_objective(v.levels["minimums"], maximize=False)
        seconds = clock.remaining() * 0.5 if not params.deterministic else params.time_limit * (1 - _SHARE_STAGE_1) / 2
        start_minimum = int(round(sub_model.evaluate(stage_values)))

        def minimums_report(_found: float, values: np.ndarray) -> None:
            if on_progress is not None:
                on_progress(Progress("minimums", round(clock.elapsed(), 3), float(coverage_value), float(fixed_bound),
                                     _gap(coverage_value, fixed_bound), *counts_at(values), needed))

        stage_values, minimum = _lns(v, data, stage_values, start_minimum, lambda: 0.0, params, seconds, workers, stop,
                                     minimums_report, sub_model)
        messages.append(f"the model has {constraints:,} constraints: stage 2 searches neighbourhoods too "
                        f"(below the minimums {start_minimum:,} -> {minimum:,})")
        if minimum < start_minimum:
            solution = _structure_solution(data, v, stage_values, fixed)
        if structure is not None:
            structure.model.add(structure.levels["minimums"] <= minimum)
        for name, linear in v.families.items():
            breakdown[name] = float(linear.at(stage_values))
        stopped = stop is not None and stop.is_set()
    elif stage_values and not stopped and clock.has_time() and structure is not None:
        structure.model.minimize(structure.levels["minimums"])
        _hint_all(structure.model, stage_values)
        seconds = clock.remaining() * 0.5 if not params.deterministic else params.time_limit * (1 - _SHARE_STAGE_1) / 2
        solver2 = _solver(params, seconds, workers)
        status2 = _run(solver2, structure.model, _Reporter("minimums", clock, on_progress, held_level, counts, needed), stop)
        if status2 in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            stage_values = _solution_values(solver2)
            solution = _structure_solution(data, v, stage_values, fixed)
            minimum = int(solver2.value(structure.levels["minimums"]))
            structure.model.add(structure.levels["minimums"] <= minimum)
            for name, linear in v.families.items():
                breakdown[name] = float(linear.at(stage_values))
        stopped = stop is not None and stop.is_set()
    levels["minimums"] = sum(breakdown.get(name, 0.0) for name in v.families)

    # ---- stage 2b (rolling to a new week): keep last week's cohorts, first in quality
    if reconciliation and replan and replan.mode == "roll" and stage_values and not stopped and clock.has_time():
        keep_stage("continuity", clock.remaining() * 0.4 if not params.deterministic else params.time_limit * 0.15)

    return _StructureOutcome(solution, status, best_bound, coverage_value, levels, breakdown, stopped, first_solution, lp,
                             build_seconds, constraints)


def solve(
    scenario: Scenario | LoadedScenario | Mapping[str, object],
    params: SolveParams | None = None,
    *,
    on_progress: ProgressCallback | None = None,
    stop: StopFlag | None = None,
    scenario_sha256: str | None = None,
    replan: ReplanRequest | None = None,
) -> Result:
    """Find the best weekly schedule of a validated scenario.

    Parameters
    ----------
    scenario
        A scenario: ``models.load_scenario(path)`` (its sha256 is then recorded) or its
        ``.scenario``, or a parsed scenario document. It is validated (again) first: a broken
        one raises :class:`models.InvalidDocument` with every issue, anything else a
        ``TypeError`` (:mod:`optimizer.inputs`).
    params
        Time limit, gap, workers, seed, determinism; defaults to :class:`SolveParams`.
    on_progress
        Called at each improved schedule with a :class:`Progress`.
    stop
        Anything with ``is_set()``; when set, the search stops promptly and the best
        schedule found so far is returned.
    scenario_sha256
        Written to the schedule's ``scenario.sha256`` (the sha256 of the scenario file).
    replan
        Re-plan from a schedule in force (see :mod:`optimizer.replan`): locked sessions are
        held exactly, and keeping the rest ranks just below coverage (``replan``) or first
        in quality (``roll``).

    Returns
    -------
    Result
        With a schedule (the empty schedule obeys every rule, and the greedy one is the
        floor): status ``optimal`` when level 1 is proven optimal, else ``feasible``;
        ``infeasible`` (no schedule) when a locked session breaks a hard rule.
    """
    if params is not None and not isinstance(params, SolveParams):
        raise TypeError(f"solve() takes its parameters as SolveParams, not {type(params).__name__}")
    if stop is not None and not callable(getattr(stop, "is_set", None)):
        # (QA: stop=True failed in a watcher thread, with a traceback on stderr.)
        raise TypeError(f"solve() takes stop as a threading.Event or multiprocessing.Event (anything with is_set()), "
                        f"not {type(stop).__name__}")
    if on_progress is not None and not callable(on_progress):
        raise TypeError(f"solve() takes on_progress as a function of one Progress, not {type(on_progress).__name__}")
    params = params or SolveParams()
    clock = _Clock(params)
    if isinstance(scenario, LoadedScenario) and scenario_sha256 is None:
        scenario_sha256 = scenario.sha256
    scenario = as_scenario(scenario, "solve")
    workers = params.resolved_workers()
    data = build_problem_data(scenario)
    # Writing the schedule explains every unmet need: about 2 s at 2,000 participants.
    # Plus a margin for what follows the last search (reading its schedule, building the file):
    # demo at 5 s ended at 5.006 s without it.
    clock.reserve = min(_REPORT_SHARE_MAX * params.time_limit, _REPORT_MARGIN + data.num_participants / _REPORT_PARTICIPANTS_PER_SECOND)
    messages: list[str] = []
    fixed: FixedSessions | None = None
    reconciliation: Reconciliation | None = None
    if replan is not None:
        reconciliation = reconcile(data, replan)
        messages.extend(reconciliation.notes)
        if reconciliation.violations:
            return Result(status=SolveStatus.INFEASIBLE, schedule=None, seed=params.seed, ortools_version=_ORTOOLS_VERSION,
                          wall_seconds=clock.elapsed(), messages=reconciliation.violations + messages)
        fixed = reconciliation.fixed
    greedy_started = clock.elapsed()
    # Not deterministic: the greedy heuristic stops adding sessions when the limit (less the
    # time kept for writing) is spent (a 2,000-participant week on a 15-minute grid, 7 open
    # days, took 16 s of a 10 s limit); what it booked by then is the schedule.
    # When the problem data alone spent (nearly) the whole limit (a 1-minute grid round the
    # clock: 6 s of a 5 s limit), the greedy heuristic still gets a share of the limit past
    # it: QA found an empty week returned, where the heuristic books its best sessions first.
    greedy_deadline = None if params.deterministic else max(clock.start + params.time_limit - clock.reserve,
                                                            time.perf_counter() + _GREEDY_LEAST_SHARE * params.time_limit)
    greedy, greedy_cut = greedy_within(data, fixed=fixed, seed=reconciliation.seed if reconciliation else None,
                                       deadline=greedy_deadline)
    if greedy_cut:
        messages.append("the time limit ran out during the greedy schedule: the sessions it had booked are returned")
    greedy_seconds = clock.elapsed() - greedy_started
    needed = data.needed_sessions()
    fixed_sessions = (len(fixed.groups) + len(fixed.appointments)) if fixed else 0
    fixed_delivered = (sum(len(g.participants) for g in fixed.groups) + len(fixed.appointments)) if fixed else 0
    context = _Context(data, fixed, reconciliation, replan, params, clock, workers, on_progress, stop, messages, needed,
                       fixed_sessions, fixed_delivered)
    decisions = sum(len(k.participants) for k in data.candidates) + sum(len(spec.options) for spec in data.appointments)
    too_large = not params.deterministic and clock.remaining() < decisions / _BUILD_DECISIONS_PER_SECOND
    if too_large:
        # Building the model alone would overrun the limit (XL at 10 s: about 10 s to build
        # after 7 s of problem data and greedy), and a model built too late is never used.
        messages.append(f"the time limit leaves {clock.remaining():.1f}s, less than building the model takes "
                        f"(about {decisions / _BUILD_DECISIONS_PER_SECOND:.0f}s for {decisions:,} decisions): "
                        "the greedy schedule is returned as it is")
        outcome = _greedy_outcome(data, greedy, fixed, clock.elapsed() - greedy_seconds)
    else:
        try:
            outcome = _structure_stages(context, greedy, greedy_seconds)
        except BuildOutOfTime as error:
            too_large = True  # (no stage 3 either: the greedy schedule names its therapists)
            _return_freed_memory()  # (the part of the model built)
            why = str(error) or f"building the model took more than {_BUILD_SHARE:.0%} of the time left"
            messages.append(f"{why}: the greedy schedule is returned as it is")
            outcome = _greedy_outcome(data, greedy, fixed, clock.elapsed() - greedy_seconds)
        if outcome.constraints >= _RELEASE_ABOVE_CONSTRAINTS:
            _return_freed_memory()  # the structure model's memory goes before the assignment model is built
    build_seconds = outcome.build_seconds
    solution, status, best_bound, coverage_value = outcome.solution, outcome.status, outcome.best_bound, outcome.coverage_value
    levels, breakdown, stopped, lp = outcome.levels, outcome.breakdown, outcome.stopped, outcome.lp

    def held_level(_cb: cp_model.CpSolverSolutionCallback) -> tuple[float, float | None]:
        return float(coverage_value), float(outcome.best_bound)

    # ---- stage 3: therapists and members named; quality, then cost
    # (Not when the model was too large to build in time: the assignment model takes seconds
    # too, and the greedy schedule names its therapists already.)
    full_stage3 = (not too_large and fixed is None and reconciliation is None
                   and _possible_seats(data) <= _FULL_STAGE3_MAX_SEATS and bool(data.candidates or data.appointments))
    assignment: BuiltModel | None = None
    if not stopped and not too_large and clock.has_time() and solution.groups:
        held_appointments = [FixedAppointment(s, option) for s, option in solution.appointments]
        if lp.job is not None and outcome.constraints > _FULL_SOLVE_MAX_CONSTRAINTS:
            # The LP worker (0.5-0.6 GB at XL) ends before the assignment model, the solve's
            # largest, is built: stage 3 cannot change coverage, and where PDLP had not reached
            # its second tolerance by then (XL at 300 s on a slower machine) the two together
            # took the solve to 2.15-2.23 GB.
            if not params.deterministic:
                best_bound = lp.take(best_bound)
            lp.job.cancel()
        # The build gets at most half of the time left, so the search has the rest (XL-1 at
        # 60 s: stage 3 began with 3.2 s left, built for 3.7 s and ended at 61.5 s).
        try:
            assignment = build_assignment_model(
                data, solution.attendees(), held_appointments, fixed=fixed,
                keep_seats=reconciliation.reference.seats if reconciliation else (), deadline=clock.deadline(0.5),
            )
        except BuildOutOfTime:
            messages.append("stage 3: no time left to build it; sessions keep the stage-2 assignment")
    if assignment is not None:
        seat_hint: dict[int, int] = {}
        in_session = {(k, i, p) for k, i, people in solution.groups for p in people}
        open_now = {(k, i) for k, i, _ in solution.groups}
        for (p, k, i), var in assignment.seats.items():
            seat_hint[var.index] = int((k, i, p) in in_session)
        for (k, i), var in assignment.sessions.items():
            seat_hint[var.index] = int((k, i) in open_now)
        hint_seconds = min(5.0, max(0.5, params.time_limit / 8)) if params.deterministic else min(5.0, clock.remaining() / 4)
        completed = _complete_hint(assignment.model, seat_hint, hint_seconds, params.deterministic)
        if completed is not None:
            _hint_all(assignment.model, completed)
        seconds = clock.remaining() if not params.deterministic else params.time_limit * (1 - _SHARE_STAGE_1) / 2
        if full_stage3:
            seconds *= _SHARE_ASSIGNMENT_BEFORE_FULL
        if not params.deterministic and seconds < 0.1:
            # (CP-SAT loads and presolves even with no time: 0.8 s at XL, past the limit.)
            messages.append("stage 3: no time left to search; sessions keep the stage-2 assignment")
            assignment = None
    if assignment is not None:
        solver3 = _solver(params, seconds, workers)
        if len(assignment.model.proto.constraints) >= _STAGE3_NO_LP_ABOVE_CONSTRAINTS:
            solver3.parameters.linearization_level = 0
        reporter3 = _Reporter("quality", clock, on_progress, held_level,
                              _seat_counts(assignment, len(solution.appointments) + fixed_sessions,
                                           len(solution.appointments) + fixed_delivered), needed)
        if assignment.stages:
            solver3, status3 = _stage3_in_order(assignment, solver3, params, clock, seconds, reporter3, stop)
        else:
            status3 = _run(solver3, assignment.model, reporter3, stop)
        if status3 in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            solution = Solution(
                groups=_seated_groups(assignment, solver3),
                appointments=solution.appointments,
                fixed=fixed,
            )
            for name, expr in assignment.families.items():
                breakdown[name] = float(solver3.value(expr))
            levels["quality"] = float(solver3.value(assignment.levels["quality"]))
            levels["cost"] = float(solver3.value(assignment.levels["cost"]))
        else:
            messages.append(f"stage 3 ended {solver3.status_name(status3)}; sessions keep the stage-2 assignment")
    if full_stage3 and not (stop is not None and stop.is_set()) and clock.has_time() and (solution.groups or solution.appointments):
        seconds = clock.remaining() if not params.deterministic else params.time_limit * (1 - _SHARE_STAGE_1) / 2 * (1 - _SHARE_ASSIGNMENT_BEFORE_FULL)
        solution = _full_stage3(data, solution, params, clock, seconds, workers, on_progress, stop, needed, held_level,
                                levels, breakdown, messages)

    if lp.job is not None:
        if not params.deterministic:
            best_bound = lp.take(best_bound)
        lp.job.cancel()
        if lp.found is not None:
            messages.append(f"LP bound {lp.found.bound} (PDLP tolerance {lp.found.tolerance:g}, {lp.found.seconds:.1f}s)")
        if status == SolveStatus.FEASIBLE and coverage_value >= best_bound:
            status, best_bound = SolveStatus.OPTIMAL, float(coverage_value)
    if stop is not None and stop.is_set():
        messages.append("stopped on request; the best schedule so far is returned")
    objective = float(weighted_delivered(data, solution))
    # Stages 2 and 3 hold coverage at least at its stage-1 value and may raise it.
    levels["coverage"] = objective
    # Level 2 of the schedule returned, whichever stage made it: a stage 2 cut short, stopped
    # or never reached (the greedy schedule) left it out, and the file said "minimums: 0".
    minimum_families = _minimum_families(data, solution)
    breakdown.update(minimum_families)
    levels["minimums"] = sum(minimum_families.values())
    if "quality" not in levels and fixed is None:
        # Stage 3 did not run (out of time, stopped, no group): the schedule's own levels 3 and 4.
        quality, cost, families = _quality_and_cost(data, solution)
        levels["quality"], levels["cost"] = float(quality), float(cost)
        breakdown.update(families)
    gap = _gap(objective, best_bound)
    schedule = build_schedule(
        data,
        solution,
        status=status.value,  # type: ignore[arg-type]
        scenario_sha256=scenario_sha256,
        # Reasons get what is left of the limit, and a tenth of a second when the search ran
        # over it (a loaded machine): the most common reasons come first and are quick.
        reasons=reason_finder(data, solution, None if params.deterministic
                              else max(clock.start + params.time_limit, time.perf_counter() + _REASONS_AT_LEAST)),
        solver_fields={
            "objective": objective,
            "best_bound": float(best_bound),
            "gap": round(gap, 6) if gap is not None else None,
            "wall_seconds": None,  # (set below, once the schedule is written)
            "seed": params.seed,
            "build_seconds": round(build_seconds, 3),
            "greedy_seconds": round(greedy_seconds, 3),
            "time_limit": params.time_limit,
            "workers": workers,
            "deterministic": params.deterministic,
            "ortools_version": _ORTOOLS_VERSION,
            "levels": levels,
            "breakdown": breakdown,
        },
    )
    wall = clock.elapsed()
    schedule.solver.wall_seconds = round(wall, 3)
    if params.deterministic:
        # Wall times differ run to run; a deterministic schedule must be byte-identical.
        schedule.solver.wall_seconds = None
        schedule.solver.build_seconds = None  # type: ignore[attr-defined]
        schedule.solver.greedy_seconds = None  # type: ignore[attr-defined]
    if replan is not None:
        _record_changes(schedule, replan, messages)
    return Result(
        status=status,
        schedule=schedule,
        objective=objective,
        best_bound=float(best_bound),
        gap=gap,
        levels=levels,
        breakdown=breakdown,
        wall_seconds=wall,
        build_seconds=build_seconds,
        first_solution_seconds=outcome.first_solution,
        seed=params.seed,
        ortools_version=_ORTOOLS_VERSION,
        messages=messages,
    )


def _seat_counts(built: BuiltModel, more_sessions: int, more_delivered: int,
                 appointments: Sequence[cp_model.IntVar] = ()) -> Callable[[cp_model.CpSolverSolutionCallback], tuple[int, int]]:
    """Sessions and delivered person-sessions of each solution of a model that names seats
    (stage 3 may merge or split groups), plus ``more`` held outside it and the
    ``appointments`` variables of the full stage."""
    sessions = np.array([var.index for var in built.sessions.values()], dtype=np.int64)
    seats = np.array([var.index for var in built.seats.values()], dtype=np.int64)
    chosen = np.array([var.index for var in appointments], dtype=np.int64)

    def counts(callback: cp_model.CpSolverSolutionCallback) -> tuple[int, int]:
        values = np.asarray(callback.response_proto.solution, dtype=np.int64)
        booked = int(values[chosen].sum()) if len(chosen) else 0
        opened = int(values[sessions].sum()) if len(sessions) else 0
        seated = int(values[seats].sum()) if len(seats) else 0
        return opened + booked + more_sessions, seated + booked + more_delivered

    return counts


def _seated_groups(built: BuiltModel, solver: cp_model.CpSolver) -> list[tuple[int, int, list[int]]]:
    """The group sessions of a solved model that names seats: (candidate, therapist position, members)."""
    groups: dict[tuple[int, int], list[int]] = defaultdict(list)
    for (p, k, i), var in built.seats.items():
        if solver.value(var):
            groups[k, i].append(p)
    return [(k, i, sorted(people)) for (k, i), people in sorted(groups.items())]


def _possible_seats(data: ProblemData) -> int:
    """Seats the full stage-3 model would have: participant x candidate x therapist who may lead them."""
    return sum(len(k.class_therapists[int(k.class_of[position])]) for k in data.candidates for position in range(len(k.participants)))


def _minimum_families(data: ProblemData, solution: Solution) -> dict[str, float]:
    """Level 2 of a schedule by family, fixed sessions included, in the structure model's
    units: weighted minutes below ``hours_per_week.min``, weighted days below
    ``days_per_week.min`` x 60."""
    minutes = np.zeros(data.num_participants, dtype=np.int64)
    days: list[set[int]] = [set() for _ in range(data.num_participants)]
    for k_index, _, people in solution.groups:
        k = data.candidates[k_index]
        for p in people:
            minutes[p] += k.end - k.start
            days[p].add(k.day)
    for s, option in solution.appointments:
        p = data.appointments[s].participant
        minutes[p] += option.end - option.start
        days[p].add(option.day)
    if solution.fixed is not None:
        for group in solution.fixed.groups:
            for p in group.participants:
                minutes[p] += group.end - group.start
                days[p].add(group.day)
        for held in solution.fixed.appointments:
            p = data.appointments[held.spec].participant
            minutes[p] += held.option.end - held.option.start
            days[p].add(held.option.day)
    hours_short = int(np.maximum(0, data.hours_min.astype(np.int64) - minutes).sum())
    days_short = sum(max(0, int(data.days_min[p]) - len(days[p])) for p in range(data.num_participants))
    weights = data.scenario.objective
    return {"hours_shortfall": float(weights.hours_shortfall * hours_short),
            "days_shortfall": float(weights.days_shortfall * 60 * days_short)}


def _minimums_of(data: ProblemData, solution: Solution) -> int:
    """Level 2 of a schedule (see :func:`_minimum_families`)."""
    return int(sum(_minimum_families(data, solution).values()))


def _quality_and_cost(data: ProblemData, solution: Solution) -> tuple[int, int, dict[str, float]]:
    """Levels 3 and 4 of a schedule (no fixed sessions), exactly as the models weigh them:
    quality, cost and the five families."""
    weights = data.scenario.objective
    loads = np.zeros(max(1, data.num_therapists), dtype=np.int64)
    seen: dict[tuple[int, int], set[int]] = defaultdict(set)
    non_preferred = sessions = 0
    for k_index, i, people in solution.groups:
        k = data.candidates[k_index]
        t = int(k.therapists[i])
        loads[t] += k.end - k.start
        sessions += 1
        for p in people:
            seen[p, k.group_type].add(t)
            non_preferred += bool(data.preferred[p]) and t not in data.preferred[p]
    for s, option in solution.appointments:
        p = data.appointments[s].participant
        loads[option.therapist] += option.end - option.start
        sessions += 1
        non_preferred += bool(data.preferred[p]) and option.therapist not in data.preferred[p]
    families = {
        "continuity": weights.continuity * 60 * sum(len(t) - 1 for t in seen.values()),
        "preferred_therapist": weights.preferred_therapist * 60 * non_preferred,
        "load_balance": weights.load_balance * int(loads.max()),
        "sessions": weights.sessions * 60 * sessions,
        "therapist_hours": weights.therapist_hours * int(loads.sum()),
    }
    quality = families["continuity"] + families["preferred_therapist"] + families["load_balance"]
    cost = families["sessions"] + families["therapist_hours"]
    return quality, cost, {name: float(value) for name, value in families.items()}


def _full_stage3(
    data: ProblemData, solution: Solution, params: SolveParams, clock: _Clock, seconds: float, workers: int,
    on_progress: ProgressCallback | None, stop: StopFlag | None, needed: int,
    held_level: Callable[[cp_model.CpSolverSolutionCallback], tuple[float, float | None]],
    levels: dict[str, float], breakdown: dict[str, float], messages: list[str],
) -> Solution:
    """Stage 3 over every schedule with the coverage and minimums found (small weeks).

    The assignment stage holds who attends what, so two half-full groups at different starts
    stay two sessions where one would do, and an appointment stays with a non-preferred
    therapist (docs/model.md). Here attendance, appointments and seats are all free, with
    levels 1 and 2 held as constraints; the schedule so far is the hint, and the result is
    taken only when its (quality, cost) is at least as good. Updates ``levels`` and
    ``breakdown``; returns the schedule to keep.
    """
    coverage = weighted_delivered(data, solution)
    minimums = _minimums_of(data, solution)
    # The build and the hint get at most half of the time left, so the search has the rest
    # and the solve ends within its limit (harbor-week at 10 s on a loaded machine: the
    # build took 2.6 s of the 0.9 s left, and the solve 13.3 s).
    try:
        built = build_full_model(data, coverage, minimums, clock.deadline(0.5))
    except BuildOutOfTime:
        messages.append("stage 3 over all schedules of equal coverage: no time to build it; the schedule so far is kept")
        return solution
    v = built.variables
    assert v is not None
    attendees = {(k, p) for k, _, people in solution.groups for p in people}
    opened = {(k, i) for k, i, _ in solution.groups}
    seated = {(p, k, i) for k, i, people in solution.groups for p in people}
    chosen = {(s, option) for s, option in solution.appointments}
    primary: dict[int, int] = {}
    for k_index, pairs in v.attend.items():
        for p, var in pairs:
            primary[var.index] = int((k_index, p) in attendees)
    for (k_index, i), var in built.sessions.items():
        primary[var.index] = int((k_index, i) in opened)
    for key, var in built.seats.items():
        primary[var.index] = int(key in seated)
    for s, options in v.appointment.items():
        for option, var in options:
            primary[var.index] = int((s, option) in chosen)
    hint_seconds = min(5.0, max(0.5, seconds / 4)) if params.deterministic else min(5.0, clock.remaining() / 3)
    completed = _complete_hint(built.model, primary, hint_seconds, params.deterministic)
    if completed is None:  # (out of time: the schedule so far obeys every rule of the model)
        messages.append("stage 3 over all schedules of equal coverage: no time to start from the schedule "
                        "so far; it is kept")
        return solution
    _hint_all(built.model, completed)
    before = _quality_and_cost(data, solution)
    appointments = [var for options in v.appointment.values() for _, var in options]
    reporter = _Reporter("quality", clock, on_progress, held_level, _seat_counts(built, 0, 0, appointments), needed)
    budget = clock.remaining() if not params.deterministic else seconds
    solver = _solver(params, budget, workers)
    if built.stages:
        solver, status = _stage3_in_order(built, solver, params, clock, budget, reporter, stop)
    else:
        status = _run(solver, built.model, reporter, stop)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return solution
    found = Solution(
        groups=_seated_groups(built, solver),
        appointments=[(s, option) for s, options in v.appointment.items() for option, var in options if solver.value(var)],
    )
    after = _quality_and_cost(data, found)
    # Levels 1 and 2 are constraints of the model; checked again so that no slip can trade them.
    if (weighted_delivered(data, found) < coverage or _minimums_of(data, found) > minimums
            or (after[0], after[1]) > (before[0], before[1])):
        return solution
    if (after[0], after[1]) < (before[0], before[1]):
        messages.append(f"stage 3 over all schedules of equal coverage: quality {before[0]:,} -> {after[0]:,}, "
                        f"cost {before[1]:,} -> {after[1]:,}")
    levels["quality"], levels["cost"] = float(after[0]), float(after[1])
    breakdown.update(after[2])
    return found


def _stage3_in_order(
    assignment: BuiltModel, solver: cp_model.CpSolver, params: SolveParams, clock: _Clock, seconds: float,
    reporter: _Reporter, stop: StopFlag | None,
) -> tuple[cp_model.CpSolver, cp_model.CpSolverStatus]:
    """Stage 3 one level at a time (``assignment.stages``): each minimized, then held at the
    value found while the next is minimized, in a share of the time left. Used where the
    weighted sum of the levels would be too large for CP-SAT. Returns the solver holding
    the last schedule found and its status."""
    model = assignment.model
    found: tuple[cp_model.CpSolver, cp_model.CpSolverStatus] | None = None
    levels = [level for level in assignment.stages if not isinstance(level, int)]
    for position, level in enumerate(levels):
        left = len(levels) - position
        share = (clock.remaining() if not params.deterministic else seconds * left / len(levels)) / left
        linearization = solver.parameters.linearization_level
        solver = _solver(params, share, solver.parameters.num_workers)
        solver.parameters.linearization_level = linearization
        model.minimize(level)
        status = _run(solver, model, reporter, stop)
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            break
        found = (solver, status)
        model.add(level <= int(solver.value(level)))
        _hint_all(model, _solution_values(solver))
        if stop is not None and stop.is_set():
            break
    return found if found is not None else (solver, status)


def _record_changes(schedule: Schedule, replan: ReplanRequest, notes: list[str]) -> None:
    """Write what changed against the schedule in force into the schedule (``changes``)."""
    from optimizer.export.diff import diff_schedules

    if replan.mode == "roll":
        return
    diff = diff_schedules(replan.current, schedule)
    counts = diff.to_dict()["counts"]
    assert isinstance(counts, dict)
    person_sessions = sum(len(s.participants) for s in replan.current.sessions)
    moved = sum(len(change.lost) + len(change.changed) for change in diff.participants)
    schedule.changes = {  # type: ignore[attr-defined]
        **counts,
        "moved_person_sessions": moved,
        "person_sessions_before": person_sessions,
        "moved_share": round(moved / person_sessions, 4) if person_sessions else 0.0,
        "moved_participants": list(diff.moved_participants),
        "notes": notes,
    }


__all__ = ["counting_bound", "solve"]
