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
import tempfile
import threading
import time
from array import array
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
class RowModel:
    """Every constraint of a CP-SAT model as integer rows ``lo <= A x <= hi``, by row and by variable.

    Linear constraints and clauses without enforcement give one row each, an implication
    ``e => l`` the row ``l - e >= 0`` per literal, so the rows with the variables' integer
    domains *are* the model (``read_model`` says so only when every constraint is one of
    these). The neighbourhood search builds each sub-problem from them (see
    ``optimizer.solve._SubModel``): the rows that read a freed variable, with every held one
    moved into the bounds. ``lo``/``hi`` are ±inf where a side is open.
    """

    row_ptr: np.ndarray  # int64, rows + 1
    row_vars: np.ndarray  # int32
    row_coeffs: np.ndarray  # int64
    lo: np.ndarray  # float64
    hi: np.ndarray
    variable_ptr: np.ndarray  # int64, variables + 1
    variable_rows: np.ndarray  # int32, the rows reading each variable
    lb: np.ndarray  # int64, the variables' domains
    ub: np.ndarray

    @property
    def num_rows(self) -> int:
        return len(self.lo)

    def rows_of(self, variables: np.ndarray) -> np.ndarray:
        """The sorted rows that read any of ``variables``."""
        return distinct(gather_ranges(self.variable_ptr, self.variable_rows, variables), self.num_rows)


def distinct(ids: np.ndarray, size: int) -> np.ndarray:
    """The sorted distinct values of ``ids`` (all in ``[0, size)``), by marking them.

    ``np.unique`` sorts or hashes what it is given; the neighbourhood search asks this of
    hundreds of thousands of row ids per sub-problem at XL (60 ms each with ``np.unique``),
    where a mask over every row costs well under a millisecond.
    """
    mark = np.zeros(size, dtype=bool)
    mark[ids] = True
    return np.flatnonzero(mark)


def gather_ranges(ptr: np.ndarray, data: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """``data[ptr[i]:ptr[i + 1]]`` for every ``i`` in ``ids``, concatenated (no Python loop)."""
    return data[range_indices(ptr, ids)]


def range_indices(ptr: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """The positions ``ptr[i]``, ..., ``ptr[i + 1] - 1`` for every ``i`` in ``ids``, concatenated."""
    ids = np.asarray(ids, dtype=np.int64)
    lengths = ptr[ids + 1] - ptr[ids]
    total = int(lengths.sum())
    # Position j of the output is ptr[id] + (j - first output position of id).
    starts = np.repeat(ptr[ids] - (np.cumsum(lengths) - lengths), lengths)
    return starts + np.arange(total, dtype=np.int64)


def read_model(model: cp_model.CpModel) -> tuple[LinearRelaxation, RowModel | None]:
    """One pass over a CP-SAT model (linear objective, to maximize): its linear relaxation and its rows.

    Linear rows and clauses (``bool_or``, ``at_most_one``, ``exactly_one``) without enforcement
    enter the relaxation; everything else is dropped, which can only loosen it. The
    :class:`RowModel` holds those rows and one per literal of each implication (left out of
    the relaxation: on the samples they never moved the bound and cost PDLP 10-60% more
    time); it is None unless the rows are the whole model (an enforced linear constraint, a
    domain with holes). At 2,000 participants the pass reads 640k constraints in about 14 s,
    so the LP bound and the neighbourhood search share it.
    """
    proto = _readable_proto(model)
    which = _which_of_message if hasattr(proto, "DESCRIPTOR") else _which_of_pybind
    rows = array("q")
    cols = array("q")
    vals = array("d")
    lo = array("d")
    hi = array("d")
    implied = array("b")  # per row: an implication's (not in the relaxation)
    exact = True

    def add_literals(literals: list[int], low: float, high: float, implication: bool = False) -> None:
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
        implied.append(implication)

    for constraint in proto.constraints:
        enforced = list(constraint.enforcement_literal) if len(constraint.enforcement_literal) else []
        kind = which(constraint)
        if kind == "linear":
            linear = constraint.linear
            if enforced:
                exact = False
                continue
            domain = list(linear.domain)
            exact = exact and len(domain) == 2  # (holes relax to the hull)
            variables = list(linear.vars)
            coefficients = list(linear.coeffs)
            constant = 0
            if variables and min(variables) < 0:  # a negated reference: c * (1 - x)
                constant = sum(c for var, c in zip(variables, coefficients, strict=True) if var < 0)
                coefficients = [-c if var < 0 else c for var, c in zip(variables, coefficients, strict=True)]
                variables = [-var - 1 if var < 0 else var for var in variables]
            rows.extend([len(lo)] * len(variables))
            cols.extend(variables)
            vals.extend(coefficients)
            lo.append(-math.inf if domain[0] <= -_INFINITY else float(domain[0] - constant))
            hi.append(math.inf if domain[-1] >= _INFINITY else float(domain[-1] - constant))
            implied.append(False)
            continue
        literals, low, high = _clause(constraint, kind)
        if literals is None:
            raise ValueError("read_model reads linear constraints and clauses only")
        if not enforced and low is not None and high is not None:
            add_literals(literals, low, high)
        elif len(enforced) == 1 and kind == "bool_and":
            for literal in literals:  # e => l: the row l - e >= 0
                add_literals([literal, -enforced[0] - 1], 1, math.inf, implication=True)
        elif not enforced and kind == "bool_and":
            for literal in literals:
                add_literals([literal], 1, math.inf)
        else:
            exact = False
    exact = exact and all(len(var.domain) == 2 for var in proto.variables)
    lb = np.array([var.domain[0] for var in proto.variables], dtype=np.int64)
    ub = np.array([var.domain[len(var.domain) - 1] for var in proto.variables], dtype=np.int64)
    objective = np.zeros(len(lb))
    scale = proto.objective.scaling_factor or 1.0
    for var, coeff in zip(proto.objective.vars, proto.objective.coeffs, strict=True):
        # A negated reference in the objective is -x (CP-SAT keeps its sign in the coefficient).
        index = var if var >= 0 else -var - 1
        objective[index] += scale * coeff * (1 if var >= 0 else -1)
    row_of = np.frombuffer(rows, dtype=np.int64)
    col_of = np.frombuffer(cols, dtype=np.int64)
    value_of = np.frombuffer(vals)
    low_of, high_of = np.frombuffer(lo), np.frombuffer(hi)
    is_implied = np.frombuffer(implied, dtype=np.int8).astype(bool)
    kept = ~is_implied  # the relaxation's rows, renumbered
    number = np.cumsum(kept) - 1
    entries = kept[row_of]
    lp = LinearRelaxation(number[row_of[entries]], col_of[entries], value_of[entries], low_of[kept], high_of[kept],
                          lb.astype(float), ub.astype(float), objective, scale * proto.objective.offset)
    return lp, (_row_model(row_of, col_of, value_of, low_of, high_of, lb, ub) if exact else None)


def _readable_proto(model: cp_model.CpModel) -> Any:
    """The model as a protobuf message that Python reads quickly.

    The model's own proto is a C++ object reached through pybind11: every field read costs
    microseconds, and XL's 640k constraints took about 14 s to read. Written to a file in
    binary and parsed back as a ``cp_model_pb2`` message (protobuf's upb runtime), the same
    reading takes about 2 s (XL-1: export 0.3 s, parse 0.3 s, the pass 1.3 s), for a copy
    of about 65 MB serialized that goes when the pass ends. Falls back to the model's own
    proto if the file cannot be written.
    """
    from ortools.sat import cp_model_pb2

    descriptor, path = tempfile.mkstemp(prefix="iop-roster-model-", suffix=".pb")
    os.close(descriptor)
    try:
        if not model.export_to_file(path):
            return model.proto
        with open(path, "rb") as handle:
            return cp_model_pb2.CpModelProto.FromString(handle.read())
    except OSError:
        return model.proto
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)


_KINDS = ("linear", "bool_or", "at_most_one", "exactly_one", "bool_and")


def _which_of_message(constraint: Any) -> str | None:
    """The constraint's kind (its oneof field's name), read from a protobuf message."""
    return constraint.WhichOneof("constraint")  # type: ignore[no-any-return]


def _which_of_pybind(constraint: Any) -> str | None:
    """The same, read from the model's own proto (no WhichOneof there); others give "other"."""
    for kind in _KINDS:
        if getattr(constraint, f"has_{kind}")():
            return kind
    return "other"


def _clause(constraint: Any, kind: str | None) -> tuple[list[int] | None, float | None, float | None]:
    """The literals of a clause-like constraint (``kind``: which one it is) and its row bounds
    (None, None: no row)."""
    if kind == "bool_or":
        return list(constraint.bool_or.literals), 1, math.inf
    if kind == "at_most_one":
        return list(constraint.at_most_one.literals), -math.inf, 1
    if kind == "exactly_one":
        return list(constraint.exactly_one.literals), 1, 1
    if kind == "bool_and":
        # Only ever enforced (an implication): no row of its own without its enforcement.
        return list(constraint.bool_and.literals), None, None
    return None, None, None


def _row_model(row_of: np.ndarray, col_of: np.ndarray, value_of: np.ndarray, lo: np.ndarray, hi: np.ndarray,
               lb: np.ndarray, ub: np.ndarray) -> RowModel:
    """Compressed rows (the entries come row by row) and their transpose."""
    row_ptr = np.concatenate(([0], np.cumsum(np.bincount(row_of, minlength=len(lo))))).astype(np.int64)
    row_vars = col_of.astype(np.int32)
    order = np.argsort(row_vars, kind="stable")
    variable_ptr = np.searchsorted(row_vars[order], np.arange(len(lb) + 1)).astype(np.int64)
    return RowModel(row_ptr, row_vars, np.rint(value_of).astype(np.int64), lo, hi, variable_ptr,
                    row_of[order].astype(np.int32), lb, ub)


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


def dual_bound(lp: LinearRelaxation, y: np.ndarray, matrix: Any = None) -> float:
    """The weak-duality bound of multipliers ``y`` (any values; see the module docstring).

    ``matrix``: :func:`constraint_matrix` of ``lp``, made once by a caller that bounds many
    ``y`` (or whose ``lp`` no longer holds its rows).
    """
    if matrix is None:
        matrix = constraint_matrix(lp)
    y = np.where((y > 0) & np.isinf(lp.hi), 0.0, y)
    y = np.where((y < 0) & np.isinf(lp.lo), 0.0, y)
    reduced = lp.objective - matrix.T @ y
    box = np.maximum(reduced * lp.lb, reduced * lp.ub)
    rows = np.where(y > 0, y * np.where(np.isinf(lp.hi), 0.0, lp.hi), y * np.where(np.isinf(lp.lo), 0.0, lp.lo))
    return float(lp.offset + box.sum() + rows.sum())


def constraint_matrix(lp: LinearRelaxation) -> Any:
    """The rows of ``lp`` as a scipy sparse (CSC) matrix, as PDLP reads them."""
    from scipy import sparse

    return sparse.csc_matrix((lp.vals, (lp.rows, lp.cols)), shape=(lp.num_rows, len(lp.lb)))


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
    matrix: Any = None,
) -> LpBound | None:
    """Solve a relaxation with PDLP and prove a bound from its duals (the best one is returned).

    Deterministic mode stops PDLP by an iteration count instead of the clock, so the bound,
    like the schedule, does not depend on the machine's load. A loose tolerance first, then
    a tight one from where it stopped (deterministic mode: each to an iteration count).
    L-1: 1e-3 in 2.7 s (bound 4,205), then 1e-4 in 5.5 s more (4,189, the LP value being
    4,188.4); PDLP's default tolerance took 38 s for the same. Runs in the caller's thread
    and holds the GIL throughout: :class:`LpBoundJob` runs it in a process of its own.
    ``matrix`` is :func:`constraint_matrix` of ``lp``, made beforehand so that ``lp``'s own
    copy of the rows can go (the worker's memory at XL).
    """
    # Imported here: only the worker process (optimizer.lp_worker) solves LPs.
    from ortools.pdlp import solve_log_pb2
    from ortools.pdlp.python import pdlp

    started = time.perf_counter()
    qp = pdlp.QuadraticProgram()
    # PDLP minimizes: the maximization of c x is the minimization of -c x.
    qp.objective_vector = -lp.objective
    qp.objective_offset = -lp.offset
    if matrix is None:
        matrix = constraint_matrix(lp)
    qp.constraint_matrix = matrix
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
        value = min(dual_bound(lp, y, matrix), dual_bound(lp, -y, matrix))
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


__all__ = ["LinearRelaxation", "constraint_matrix", "LpBound", "LpBoundJob", "dual_bound", "gather_ranges", "pdlp_bound", "range_indices", "read_model", "relaxation", "RowModel", "satisfies"]
