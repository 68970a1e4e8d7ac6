"""A level-1 bound from the linear relaxation of the structure model, proven by weak duality.

CP-SAT's own bound comes from an LP it solves a piece at a time between searches; on these
models it stays well above the relaxation for minutes (harbor-week: 1,017-1,036 after 100 s
against an LP optimum of 1,010.4). This module solves the relaxation directly with PDLP
(OR-Tools' first-order LP solver, a few seconds at a few hundred participants) and turns the
multipliers it returns into a bound that does not trust the LP solver at all:

for any multipliers ``y`` of the rows ``l <= A x <= u`` and any ``x`` in the box
``lb <= x <= ub`` that satisfies them,

    c x = (c - A'y) x + y A x <= sum_j max(r_j lb_j, r_j ub_j) + sum_i max(y_i u_i, y_i l_i)

with ``r = c - A'y``. Whatever the solver's accuracy, status or sign convention, the number is
a valid upper bound on the objective of every integer schedule; a poor ``y`` only makes it
weaker. Rows with an enforcement literal are left out (a relaxation stays a relaxation).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from ortools.linear_solver import pywraplp
from ortools.sat.python import cp_model

_INFINITY = 2**53  # CP-SAT domains use int64 extremes for "no bound"


@dataclass(frozen=True)
class LinearRelaxation:
    """Rows ``lo <= A x <= hi`` (coordinate form), the box and the objective to maximize."""

    rows: np.ndarray
    cols: np.ndarray
    vals: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    lb: np.ndarray
    ub: np.ndarray
    objective: np.ndarray
    offset: float

    @property
    def num_rows(self) -> int:
        return len(self.lo)


@dataclass(frozen=True)
class LpBound:
    """The proven bound (floored: the objective is integral), the LP value and the time spent."""

    bound: int
    lp_value: float | None
    seconds: float
    build_seconds: float
    rows: int
    status: str
    tolerance: float


def relaxation(model: cp_model.CpModel) -> LinearRelaxation:
    """The linear relaxation of a CP-SAT model with a linear objective (to maximize).

    Linear rows and clauses (``bool_or``, ``at_most_one``, ``exactly_one``) without enforcement
    enter; everything else is dropped, which can only loosen the relaxation.
    """
    proto = model.proto
    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    lo: list[float] = []
    hi: list[float] = []

    def add_literals(literals: list[int], low: float, high: float) -> None:
        # A negated literal -v-1 stands for 1 - x_v: move its constant to the bounds.
        row = len(lo)
        constant = 0
        for literal in literals:
            rows.append(row)
            cols.append(literal if literal >= 0 else -literal - 1)
            vals.append(1.0 if literal >= 0 else -1.0)
            constant += literal < 0
        lo.append(low - constant)
        hi.append(high - constant)

    for constraint in proto.constraints:
        if len(constraint.enforcement_literal):
            continue
        if constraint.has_linear():
            linear = constraint.linear
            domain = list(linear.domain)
            row = len(lo)
            for var, coeff in zip(linear.vars, linear.coeffs, strict=True):
                rows.append(row)
                cols.append(var)
                vals.append(float(coeff))
            lo.append(-math.inf if domain[0] <= -_INFINITY else float(domain[0]))
            hi.append(math.inf if domain[-1] >= _INFINITY else float(domain[-1]))
        elif constraint.has_bool_or():
            add_literals(list(constraint.bool_or.literals), 1, math.inf)
        elif constraint.has_at_most_one():
            add_literals(list(constraint.at_most_one.literals), -math.inf, 1)
        elif constraint.has_exactly_one():
            add_literals(list(constraint.exactly_one.literals), 1, 1)
    lb = np.array([float(var.domain[0]) for var in proto.variables])
    ub = np.array([float(var.domain[len(var.domain) - 1]) for var in proto.variables])
    objective = np.zeros(len(lb))
    scale = proto.objective.scaling_factor or 1.0
    for var, coeff in zip(proto.objective.vars, proto.objective.coeffs, strict=True):
        # A negated reference in the objective is -x (CP-SAT keeps its sign in the coefficient).
        index = var if var >= 0 else -var - 1
        objective[index] += scale * coeff * (1 if var >= 0 else -1)
    return LinearRelaxation(
        np.array(rows, dtype=np.int64), np.array(cols, dtype=np.int64), np.array(vals), np.array(lo), np.array(hi),
        lb, ub, objective, scale * proto.objective.offset,
    )


def dual_bound(lp: LinearRelaxation, y: np.ndarray) -> float:
    """The weak-duality bound of multipliers ``y`` (any values; see the module docstring)."""
    y = np.where((y > 0) & np.isinf(lp.hi), 0.0, y)
    y = np.where((y < 0) & np.isinf(lp.lo), 0.0, y)
    reduced = lp.objective - np.bincount(lp.cols, weights=lp.vals * y[lp.rows], minlength=len(lp.objective))
    box = np.maximum(reduced * lp.lb, reduced * lp.ub)
    rows = np.where(y > 0, y * np.where(np.isinf(lp.hi), 0.0, lp.hi), y * np.where(np.isinf(lp.lo), 0.0, lp.lo))
    return float(lp.offset + box.sum() + rows.sum())


def lp_bound(
    model: cp_model.CpModel,
    seconds: float,
    *,
    deterministic: bool = False,
    iterations: int = 50000,
    tolerances: tuple[float, ...] = (1e-3, 1e-4),
    on_read: Callable[[], None] | None = None,
    on_bound: Callable[[LpBound], None] | None = None,
    on_solver: Callable[[pywraplp.Solver], bool] | None = None,
) -> LpBound | None:
    """Solve the relaxation of ``model`` (objective maximized) and prove a bound from its duals.

    PDLP runs on one thread: measured on harbor-week, two threads took twice as long.
    Deterministic mode stops it by an iteration count instead of the clock, so the bound, like
    the schedule, does not depend on the machine's load. ``on_read`` is called once the model
    has been read (the caller may change it from then on); ``on_solver`` receives the LP solver
    (to interrupt it) and returns whether to go on. Returns None when PDLP stopped before it had multipliers to give.
    """
    started = time.perf_counter()
    lp = relaxation(model)
    if on_read is not None:
        on_read()
    solver = pywraplp.Solver.CreateSolver("PDLP")
    if solver is None:  # pragma: no cover - PDLP ships with every OR-Tools wheel
        return None
    xs = [solver.NumVar(float(low), float(high), "") for low, high in zip(lp.lb, lp.ub, strict=True)]
    # One entry per (row, column), rows in order: repeated terms are summed here, not in the solver.
    keys, inverse = np.unique(lp.rows * len(lp.lb) + lp.cols, return_inverse=True)
    values = np.bincount(inverse, weights=lp.vals, minlength=len(keys)).tolist()
    cols = (keys % len(lp.lb)).tolist()
    bounds = np.searchsorted(keys // len(lp.lb), np.arange(lp.num_rows + 1)).tolist()
    constraints = []
    for row in range(lp.num_rows):
        low = -solver.infinity() if math.isinf(lp.lo[row]) else float(lp.lo[row])
        high = solver.infinity() if math.isinf(lp.hi[row]) else float(lp.hi[row])
        constraint = solver.Constraint(low, high)
        for entry in range(bounds[row], bounds[row + 1]):
            constraint.SetCoefficient(xs[cols[entry]], values[entry])
        constraints.append(constraint)
    objective = solver.Objective()
    for index in np.flatnonzero(lp.objective):
        objective.SetCoefficient(xs[int(index)], float(lp.objective[index]))
    objective.SetMaximization()
    solver.SetNumThreads(1)
    built = time.perf_counter() - started
    best: LpBound | None = None
    # A loose tolerance first, then a tight one while time remains (deterministic mode: each
    # to an iteration count). L-1: 1e-3 in 2.7 s (bound 4,205), then 1e-4 in 5.5 s more
    # (4,189, the LP value being 4,188.4); PDLP's default tolerance took 38 s for the same.
    for tolerance in tolerances:
        criteria = f"simple_optimality_criteria {{ eps_optimal_relative: {tolerance} eps_optimal_absolute: {tolerance} }}"
        if deterministic:
            criteria += f" iteration_limit: {iterations}"
        else:
            remaining = seconds - (time.perf_counter() - started)
            if remaining <= 0.1:
                break
            solver.SetTimeLimit(int(remaining * 1000))
        solver.SetSolverSpecificParametersAsString(f"termination_criteria {{ {criteria} }}")
        if on_solver is not None and not on_solver(solver):
            break
        status = solver.Solve()
        if status not in (pywraplp.Solver.OPTIMAL, pywraplp.Solver.FEASIBLE):
            break  # stopped before an iterate came back: PDLP then has no multipliers to read
        y = np.array([constraint.dual_value() for constraint in constraints])
        value = dual_bound(lp, y) if np.all(np.isfinite(y)) else math.inf
        if not math.isfinite(value):
            break
        lp_value = objective.Value() if status == pywraplp.Solver.OPTIMAL else None
        status_name = "optimal" if status == pywraplp.Solver.OPTIMAL else "feasible"
        found = LpBound(math.floor(value + 1e-6), lp_value, time.perf_counter() - started, built, lp.num_rows, status_name, tolerance)
        if best is None or found.bound < best.bound:
            best = found
            if on_bound is not None:
                on_bound(best)
    return best


class LpBoundJob:
    """:func:`lp_bound` on a background thread, beside CP-SAT (PDLP releases the GIL).

    ``wait_read()`` before changing the model; ``result(wait)`` for the bound (None while
    running or when none came); ``cancel()`` interrupts PDLP, so a solve that ends early does
    not leave it burning a core.
    """

    def __init__(self, model: cp_model.CpModel, seconds: float, *, deterministic: bool = False) -> None:
        self._read = threading.Event()
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._solver: pywraplp.Solver | None = None
        self._cancelled = False
        self._result: LpBound | None = None
        self._thread = threading.Thread(target=self._run, args=(model, seconds, deterministic), daemon=True, name="lp-bound")
        self._thread.start()

    def _run(self, model: cp_model.CpModel, seconds: float, deterministic: bool) -> None:
        try:
            lp_bound(model, seconds, deterministic=deterministic, on_read=self._read.set, on_solver=self._keep, on_bound=self._found)
        except Exception:  # noqa: BLE001 - a bound is an extra; the solve never fails for it
            pass
        finally:
            self._read.set()
            self._done.set()

    def _keep(self, solver: pywraplp.Solver) -> bool:
        with self._lock:
            self._solver = solver
            return not self._cancelled

    def _found(self, found: LpBound) -> None:
        self._result = found

    def wait_read(self) -> None:
        self._read.wait()

    def result(self, wait: bool = False) -> LpBound | None:
        """The best bound so far (a loose-tolerance one may come before the tight one)."""
        if wait:
            self._done.wait()
        return self._result

    def cancel(self) -> None:
        with self._lock:
            self._cancelled = True
            if self._solver is not None:
                self._solver.InterruptSolve()


__all__ = ["LinearRelaxation", "LpBound", "LpBoundJob", "dual_bound", "lp_bound", "relaxation"]
