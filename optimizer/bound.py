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

import contextlib
import json
import math
import os
import subprocess
import sys
import threading
import time
from array import array
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ortools.sat.python import cp_model

_INFINITY = 2**53  # CP-SAT domains use int64 extremes for "no bound"
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[1])


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


@dataclass(frozen=True)
class Incidence:
    """Which variables each constraint reads and which constraints read each variable.

    Both directions in compressed-row form; every constraint counts, enforced ones too (the
    neighbourhood search builds sub-models from it, see ``optimizer.solve._lns``).
    """

    constraint_ptr: np.ndarray
    constraint_vars: np.ndarray
    variable_ptr: np.ndarray
    variable_constraints: np.ndarray

    def constraints_of(self, variables: np.ndarray) -> np.ndarray:
        """The sorted constraints that read any of ``variables``."""
        return np.unique(gather_ranges(self.variable_ptr, self.variable_constraints, variables))

    def variables_of(self, constraints: np.ndarray) -> np.ndarray:
        """The sorted variables that any of ``constraints`` reads."""
        return np.unique(gather_ranges(self.constraint_ptr, self.constraint_vars, constraints))


def gather_ranges(ptr: np.ndarray, data: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """``data[ptr[i]:ptr[i + 1]]`` for every ``i`` in ``ids``, concatenated (no Python loop)."""
    ids = np.asarray(ids, dtype=np.int64)
    lengths = ptr[ids + 1] - ptr[ids]
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=data.dtype)
    # Position j of the output reads data[ptr[id] + (j - first output position of id)].
    starts = np.repeat(ptr[ids] - (np.cumsum(lengths) - lengths), lengths)
    return data[starts + np.arange(total)]


def read_model(model: cp_model.CpModel) -> tuple[LinearRelaxation, Incidence]:
    """One pass over a CP-SAT model (linear objective, to maximize): its linear relaxation and its incidence.

    Linear rows and clauses (``bool_or``, ``at_most_one``, ``exactly_one``) without enforcement
    enter the relaxation; everything else is dropped, which can only loosen it. At 2,000
    participants the pass reads 640k constraints in about 14 s, so the LP bound and the
    neighbourhood search share it.
    """
    proto = model.proto
    rows = array("q")
    cols = array("q")
    vals = array("d")
    lo = array("d")
    hi = array("d")
    refs = array("q")  # every variable reference of every constraint, constraint by constraint
    lengths = array("q")

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
        enforced = list(constraint.enforcement_literal)
        read = len(enforced)
        refs.extend(enforced)
        if constraint.has_linear():
            linear = constraint.linear
            variables = list(linear.vars)
            refs.extend(variables)
            read += len(variables)
            if not enforced:
                domain = list(linear.domain)
                rows.extend([len(lo)] * len(variables))
                cols.extend(variables)
                vals.extend(linear.coeffs)
                lo.append(-math.inf if domain[0] <= -_INFINITY else float(domain[0]))
                hi.append(math.inf if domain[-1] >= _INFINITY else float(domain[-1]))
        else:
            literals, low, high = _clause(constraint)
            if literals is None:
                raise ValueError("read_model reads linear constraints and clauses only")
            refs.extend(literals)
            read += len(literals)
            if not enforced and low is not None and high is not None:
                add_literals(literals, low, high)
        lengths.append(read)
    lb = np.array([float(var.domain[0]) for var in proto.variables])
    ub = np.array([float(var.domain[len(var.domain) - 1]) for var in proto.variables])
    objective = np.zeros(len(lb))
    scale = proto.objective.scaling_factor or 1.0
    for var, coeff in zip(proto.objective.vars, proto.objective.coeffs, strict=True):
        # A negated reference in the objective is -x (CP-SAT keeps its sign in the coefficient).
        index = var if var >= 0 else -var - 1
        objective[index] += scale * coeff * (1 if var >= 0 else -1)
    lp = LinearRelaxation(
        np.frombuffer(rows, dtype=np.int64), np.frombuffer(cols, dtype=np.int64), np.frombuffer(vals),
        np.frombuffer(lo), np.frombuffer(hi), lb, ub, objective, scale * proto.objective.offset,
    )
    return lp, _incidence(np.frombuffer(refs, dtype=np.int64), np.frombuffer(lengths, dtype=np.int64), len(lb))


def _clause(constraint: object) -> tuple[list[int] | None, float | None, float | None]:
    """The literals of a clause-like constraint and its row bounds (None, None: no row)."""
    if constraint.has_bool_or():  # type: ignore[attr-defined]
        return list(constraint.bool_or.literals), 1, math.inf  # type: ignore[attr-defined]
    if constraint.has_at_most_one():  # type: ignore[attr-defined]
        return list(constraint.at_most_one.literals), -math.inf, 1  # type: ignore[attr-defined]
    if constraint.has_exactly_one():  # type: ignore[attr-defined]
        return list(constraint.exactly_one.literals), 1, 1  # type: ignore[attr-defined]
    if constraint.has_bool_and():  # type: ignore[attr-defined]
        # Only ever enforced (an implication): no row of its own without its enforcement.
        return list(constraint.bool_and.literals), None, None  # type: ignore[attr-defined]
    return None, None, None


def _incidence(refs: np.ndarray, lengths: np.ndarray, num_variables: int) -> Incidence:
    variables = np.where(refs < 0, -refs - 1, refs).astype(np.int32)
    constraint_ptr = np.concatenate(([0], np.cumsum(lengths)))
    owner = np.repeat(np.arange(len(lengths), dtype=np.int32), lengths)
    order = np.argsort(variables, kind="stable")
    variable_ptr = np.searchsorted(variables[order], np.arange(num_variables + 1)).astype(np.int64)
    return Incidence(constraint_ptr, variables, variable_ptr, owner[order])


def relaxation(model: cp_model.CpModel) -> LinearRelaxation:
    """The linear relaxation of a CP-SAT model with a linear objective (to maximize).

    Linear rows and clauses (``bool_or``, ``at_most_one``, ``exactly_one``) without enforcement
    enter; everything else is dropped, which can only loosen the relaxation.
    """
    return read_model(model)[0]


def satisfies(lp: LinearRelaxation, values: np.ndarray, tolerance: float = 1e-9) -> bool:
    """Whether ``values`` (one per variable) lies in the box and obeys every row of ``lp``."""
    activity = np.bincount(lp.rows, weights=lp.vals * values[lp.cols], minlength=lp.num_rows)
    in_box = bool(np.all(values >= lp.lb - tolerance) and np.all(values <= lp.ub + tolerance))
    return in_box and bool(np.all(activity >= lp.lo - tolerance) and np.all(activity <= lp.hi + tolerance))


def dual_bound(lp: LinearRelaxation, y: np.ndarray) -> float:
    """The weak-duality bound of multipliers ``y`` (any values; see the module docstring)."""
    y = np.where((y > 0) & np.isinf(lp.hi), 0.0, y)
    y = np.where((y < 0) & np.isinf(lp.lo), 0.0, y)
    reduced = lp.objective - np.bincount(lp.cols, weights=lp.vals * y[lp.rows], minlength=len(lp.objective))
    box = np.maximum(reduced * lp.lb, reduced * lp.ub)
    rows = np.where(y > 0, y * np.where(np.isinf(lp.hi), 0.0, lp.hi), y * np.where(np.isinf(lp.lo), 0.0, lp.lo))
    return float(lp.offset + box.sum() + rows.sum())


def _pdlp_params(tolerance: float, deterministic: bool, iterations: int, seconds: float) -> object:
    from ortools.pdlp import solvers_pb2

    params = solvers_pb2.PrimalDualHybridGradientParams()
    params.num_threads = 1  # measured on harbor-week: two threads took twice as long
    criteria = params.termination_criteria
    criteria.simple_optimality_criteria.eps_optimal_relative = tolerance
    criteria.simple_optimality_criteria.eps_optimal_absolute = tolerance
    if deterministic:
        criteria.iteration_limit = iterations
    else:
        criteria.time_sec_limit = seconds
    return params


def pdlp_bound(
    lp: LinearRelaxation,
    seconds: float,
    *,
    deterministic: bool = False,
    iterations: int = 50000,
    tolerances: tuple[float, ...] = (1e-3, 1e-4),
    on_bound: Callable[[LpBound], None] | None = None,
) -> LpBound | None:
    """Solve a relaxation with PDLP and prove a bound from its duals (the best one is returned).

    Deterministic mode stops PDLP by an iteration count instead of the clock, so the bound,
    like the schedule, does not depend on the machine's load. A loose tolerance first, then
    a tight one from where it stopped (deterministic mode: each to an iteration count).
    L-1: 1e-3 in 2.7 s (bound 4,205), then 1e-4 in 5.5 s more (4,189, the LP value being
    4,188.4); PDLP's default tolerance took 38 s for the same. Runs in the caller's thread
    and holds the GIL throughout: :class:`LpBoundJob` runs it in a process of its own.
    """
    # Imported here: only the worker process (optimizer.lp_worker) solves LPs.
    from ortools.pdlp import solve_log_pb2
    from ortools.pdlp.python import pdlp
    from scipy import sparse

    started = time.perf_counter()
    qp = pdlp.QuadraticProgram()
    # PDLP minimizes: the maximization of c x is the minimization of -c x.
    qp.objective_vector = -lp.objective
    qp.objective_offset = -lp.offset
    qp.constraint_matrix = sparse.csc_matrix((lp.vals, (lp.rows, lp.cols)), shape=(lp.num_rows, len(lp.lb)))
    qp.constraint_lower_bounds = lp.lo
    qp.constraint_upper_bounds = lp.hi
    qp.variable_lower_bounds = lp.lb
    qp.variable_upper_bounds = lp.ub
    built = time.perf_counter() - started
    best: LpBound | None = None
    warm = None
    for tolerance in tolerances:
        remaining = seconds - (time.perf_counter() - started)
        if not deterministic and remaining <= 0.1:
            break
        result = pdlp.primal_dual_hybrid_gradient(qp, _pdlp_params(tolerance, deterministic, iterations, remaining), warm)
        reason = result.solve_log.termination_reason
        y = np.asarray(result.dual_solution, dtype=float)
        if len(y) != lp.num_rows or not np.all(np.isfinite(y)):
            break  # stopped before an iterate came back: no multipliers to read
        # The multipliers of the minimization, in whichever sign convention: both signs give
        # valid bounds (weak duality holds for any y), so take the better.
        value = min(dual_bound(lp, y), dual_bound(lp, -y))
        if not math.isfinite(value):
            break
        optimal = reason == solve_log_pb2.TERMINATION_REASON_OPTIMAL
        x = np.asarray(result.primal_solution, dtype=float)
        lp_value = float(lp.objective @ x + lp.offset) if optimal and len(x) == len(lp.lb) else None
        found = LpBound(
            math.floor(value + 1e-6), lp_value, time.perf_counter() - started, built, lp.num_rows,
            "optimal" if optimal else "feasible", tolerance,
        )
        if best is None or found.bound < best.bound:
            best = found
            if on_bound is not None:
                on_bound(best)
        warm = pdlp.PrimalAndDualSolution()
        warm.primal_solution = result.primal_solution
        warm.dual_solution = result.dual_solution
    return best


class LpBoundJob:
    """:func:`pdlp_bound` in a worker process (``optimizer.lp_worker``), beside the search.

    The relaxation is read in the caller's thread (or given as ``lp``), so the caller may
    change the model once the job exists; a thread of this job sends it to the worker and
    reads back each bound the worker proves. ``result(wait)`` for the bound (None while
    running or when none came); ``cancel()`` ends the worker, so a solve that ends early does not leave it
    burning a core, and its memory is returned at once.
    """

    def __init__(
        self,
        model: cp_model.CpModel,
        seconds: float,
        *,
        deterministic: bool = False,
        lp: LinearRelaxation | None = None,
        iterations: int = 50000,
        tolerances: tuple[float, ...] = (1e-3, 1e-4),
    ) -> None:
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._cancelled = False
        self._result: LpBound | None = None
        # Held here only until the worker has it (a thread's arguments would live as long as the thread).
        self._lp: LinearRelaxation | None = lp if lp is not None else relaxation(model)
        settings = {
            "seconds": seconds, "deterministic": deterministic, "iterations": iterations, "tolerances": list(tolerances),
            "parent": os.getpid(),
        }
        self._thread = threading.Thread(target=self._run, args=(settings,), daemon=True, name="lp-bound")
        self._thread.start()

    def _run(self, settings: dict[str, object]) -> None:
        from optimizer.lp_worker import write_relaxation

        lp, self._lp = self._lp, None
        try:
            with self._lock:
                if self._cancelled:
                    return
                environment = dict(os.environ)
                # The worker imports this package, installed or not (a source checkout).
                environment["PYTHONPATH"] = os.pathsep.join(filter(None, [_PACKAGE_ROOT, environment.get("PYTHONPATH")]))
                self._process = subprocess.Popen(
                    [sys.executable, "-m", "optimizer.lp_worker"],
                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=environment,
                )
            process = self._process
            assert process.stdin is not None and process.stdout is not None and lp is not None
            write_relaxation(process.stdin, lp, settings)
            process.stdin.close()
            del lp
            for line in process.stdout:
                found = LpBound(**json.loads(line))
                if self._result is None or found.bound < self._result.bound:
                    self._result = found
            process.wait()
        except Exception:  # noqa: BLE001 - a bound is an extra; the solve never fails for it
            pass
        finally:
            self._done.set()

    def result(self, wait: bool = False) -> LpBound | None:
        """The best bound so far (a loose-tolerance one may come before the tight one)."""
        if wait:
            self._done.wait()
        return self._result

    def cancel(self) -> None:
        with self._lock:
            self._cancelled = True
            if self._process is not None and self._process.poll() is None:
                self._process.kill()
                with contextlib.suppress(subprocess.TimeoutExpired):  # a killed process ends
                    self._process.wait(timeout=10)  # reaped now: its resources are accounted and gone


__all__ = ["Incidence", "LinearRelaxation", "LpBound", "LpBoundJob", "dual_bound", "gather_ranges", "pdlp_bound", "read_model", "relaxation", "satisfies"]
