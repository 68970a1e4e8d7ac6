"""The LP bound (optimizer/bound.py): valid by weak duality whatever the multipliers."""

from __future__ import annotations

import dataclasses
import io
import itertools
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from ortools.sat.python import cp_model

from models.io import load_scenario
from optimizer.bound import (
    LinearRelaxation,
    LpBoundJob,
    constraint_matrix,
    dual_bound,
    pdlp_bound,
    read_model,
    relaxation,
    satisfies,
)
from optimizer.data import build_problem_data
from optimizer.lp_worker import read_relaxation, write_relaxation
from optimizer.model import build_structure_model
from optimizer.result import SolveParams
from optimizer.solve import solve

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


def _odd_cycle() -> cp_model.CpModel:
    # max x + y + z with every pair at most one: integer optimum 1, LP optimum 1.5 (all 1/2).
    model = cp_model.CpModel()
    x, y, z = (model.new_bool_var(name) for name in "xyz")
    model.add(x + y <= 1)
    model.add(y + z <= 1)
    model.add_at_most_one(x, z)
    model.maximize(x + y + z)
    return model


def test_odd_cycle_bound_is_the_lp_value_floored() -> None:
    found = pdlp_bound(relaxation(_odd_cycle()), 10.0)
    assert found is not None
    assert found.lp_value == pytest.approx(1.5, abs=1e-3)
    assert found.bound == 1  # integral objective: floor(1.5)
    assert found.status == "optimal"


def test_negated_literals_and_offsets_enter_the_relaxation() -> None:
    # max 3 + x + y with (not x or not y) and x -> nothing: integer and LP optimum 3 + 1.
    model = cp_model.CpModel()
    x, y = model.new_bool_var("x"), model.new_bool_var("y")
    model.add_bool_or([x.Not(), y.Not()])
    model.maximize(x + y + 3)
    found = pdlp_bound(relaxation(model), 10.0)
    assert found is not None
    assert found.bound == 4


def test_enforced_rows_are_dropped_which_only_loosens() -> None:
    # The enforced row would cap x + y at 1; without it the LP may take 2: still a valid bound.
    model = cp_model.CpModel()
    x, y, b = (model.new_bool_var(name) for name in "xyb")
    model.add(x + y <= 1).only_enforce_if(b)
    model.maximize(x + y)
    found = pdlp_bound(relaxation(model), 10.0)
    assert found is not None and found.bound == 2


def test_any_multipliers_give_a_bound_above_every_integer_point() -> None:
    rng = np.random.default_rng(3)
    for _ in range(20):
        model = cp_model.CpModel()
        xs = [model.new_bool_var(f"x{i}") for i in range(6)]
        rows = []
        for _ in range(5):
            coeffs = rng.integers(0, 3, size=6)
            cap = int(rng.integers(1, 5))
            model.add(sum(int(c) * x for c, x in zip(coeffs, xs, strict=True)) <= cap)
            rows.append((coeffs, cap))
        weights = rng.integers(1, 4, size=6)
        model.maximize(sum(int(w) * x for w, x in zip(weights, xs, strict=True)))
        best = max(
            int(weights @ np.array(point))
            for point in itertools.product((0, 1), repeat=6)
            if all(coeffs @ np.array(point) <= cap for coeffs, cap in rows)
        )
        lp = relaxation(model)
        for _ in range(10):
            y = rng.normal(size=lp.num_rows) * 2  # any sign, any size: the bound stays valid
            assert dual_bound(lp, y) >= best - 1e-9


def _row_satisfied(rows: Any, point: np.ndarray) -> bool:
    activity = np.array([rows.row_coeffs[a:b] @ point[rows.row_vars[a:b]] for a, b in itertools.pairwise(rows.row_ptr)])
    return bool(np.all(activity >= rows.lo - 1e-9) and np.all(activity <= rows.hi + 1e-9))


def test_the_rows_are_the_model_exactly() -> None:
    # Linear rows with a negated reference, clauses of every kind, an implication and an
    # integer variable: a point of the box obeys the rows exactly when CP-SAT accepts it.
    model = cp_model.CpModel()
    a, b, c = (model.new_bool_var(name) for name in "abc")
    n = model.new_int_var(0, 2, "n")
    model.add(a + 2 * n - c <= 3)
    model.add(n >= b)
    model.add_bool_or([a, b.Not()])
    model.add_at_most_one(b, c)
    model.add_implication(c, a)  # (an enforced bool_and: out of the relaxation, in the rows)
    model.add_exactly_one(a, b.Not(), c)
    model.maximize(a + b + n)
    lp, rows = read_model(model)
    assert rows is not None and rows.num_rows == lp.num_rows + 1  # the implication's row
    for values in itertools.product((0, 1), (0, 1), (0, 1), (0, 1, 2)):
        fixed = cp_model.CpModel()
        fixed.proto.copy_from(model.proto)
        for index, value in enumerate(values):
            domain = fixed.proto.variables[index].domain
            domain[0] = domain[1] = value
        solver = cp_model.CpSolver()
        accepted = solver.solve(fixed) in (cp_model.OPTIMAL, cp_model.FEASIBLE)
        point = np.array(values)
        assert _row_satisfied(rows, point) == accepted, values
    assert np.array_equal(rows.rows_of(np.array([3])), [0, 1])  # n is read by the first two rows


def test_a_model_with_an_enforced_linear_row_has_no_row_model() -> None:
    model = cp_model.CpModel()
    x, y, b = (model.new_bool_var(name) for name in "xyb")
    model.add(x + y <= 1).only_enforce_if(b)
    model.maximize(x + y)
    lp, rows = read_model(model)
    assert rows is None and lp.num_rows == 0  # (the relaxation just leaves the row out)


def test_the_bound_from_a_matrix_is_the_bound_from_the_rows() -> None:
    lp = relaxation(_coverage_model("demo.yaml"))
    matrix = constraint_matrix(lp)
    y = np.random.default_rng(5).normal(size=lp.num_rows)
    assert dual_bound(lp, y, matrix) == pytest.approx(dual_bound(lp, y), rel=1e-12)
    bare = dataclasses.replace(lp, rows=np.zeros(0, dtype=np.int64), cols=np.zeros(0, dtype=np.int64), vals=np.zeros(0))
    found = pdlp_bound(bare, 30.0, matrix=matrix)  # as the worker runs it: the coordinates gone
    assert found is not None and found.bound >= 144


def _coverage_model(name: str) -> cp_model.CpModel:
    """The structure model of a sample scenario, coverage maximized (stage 1)."""
    built = build_structure_model(build_problem_data(load_scenario(SCENARIOS / name).scenario))
    built.model.maximize(built.levels["coverage"])
    return built.model


def test_lp_job_on_demo_never_cuts_off_the_proven_optimum() -> None:
    job = LpBoundJob(_coverage_model("demo.yaml"), 30.0)
    found = job.result(wait=True)
    assert found is not None and found.status == "optimal"
    assert found.bound >= 144  # demo's proven optimum: the bound never cuts it off


def test_cancel_before_pdlp_starts_gives_no_bound() -> None:
    # Cancelled right after the model is read: PDLP is either never started or interrupted,
    # and an interrupted PDLP has no multipliers to give.
    job = LpBoundJob(_coverage_model("harbor-week.yaml"), 120.0)
    job.cancel()
    assert job.result(wait=True) is None


def test_solve_reports_the_lp_bound_and_it_holds() -> None:
    scenario = load_scenario(SCENARIOS / "harbor-week.yaml").scenario
    result = solve(scenario, SolveParams(time_limit=12, workers=2, seed=0))
    assert result.schedule is not None and result.best_bound is not None and result.objective is not None
    assert any(message.startswith("LP bound") for message in result.messages)
    # The relaxation's value is 1,010.4 (GLOP and PDLP agree); CP-SAT alone stays above 1,017 here.
    assert result.objective <= result.best_bound <= 1010


def test_the_worker_reads_back_exactly_what_was_written() -> None:
    lp = relaxation(_coverage_model("demo.yaml"))
    stream = io.BytesIO()
    settings = {"seconds": 5.0, "deterministic": True, "iterations": 100, "tolerances": [1e-3]}
    write_relaxation(stream, lp, settings)
    stream.seek(0)
    back, read_settings = read_relaxation(stream)
    assert read_settings == settings
    for field in dataclasses.fields(LinearRelaxation):
        assert np.array_equal(getattr(back, field.name), getattr(lp, field.name)), field.name


def test_cancel_ends_the_worker_process() -> None:
    job = LpBoundJob(_coverage_model("harbor-week.yaml"), 120.0)
    deadline = time.monotonic() + 30
    while job._process is None and time.monotonic() < deadline:  # the thread starts it
        time.sleep(0.01)
    process = job._process
    assert process is not None
    job.cancel()
    assert process.wait(timeout=30) is not None  # killed, not left to run its 120 s
    job.result(wait=True)


def test_a_schedule_satisfies_the_relaxation_and_a_broken_one_does_not() -> None:
    model = cp_model.CpModel()
    x, y = model.new_bool_var("x"), model.new_bool_var("y")
    model.add(x + y <= 1)
    model.maximize(x + y)
    lp = relaxation(model)
    assert satisfies(lp, np.array([1.0, 0.0]))
    assert not satisfies(lp, np.array([1.0, 1.0]))
    assert not satisfies(lp, np.array([2.0, 0.0]))  # outside the box


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_the_worker_ends_with_the_process_that_started_it(tmp_path: Path) -> None:
    # A solver process killed by the service must not leave its LP running for minutes.
    script = tmp_path / "owner.py"
    script.write_text(
        "import sys, time\n"
        "from models.io import load_scenario\n"
        "from optimizer.bound import LpBoundJob\n"
        "from optimizer.data import build_problem_data\n"
        "from optimizer.model import build_structure_model\n"
        f"built = build_structure_model(build_problem_data(load_scenario({str(SCENARIOS / 'harbor-week.yaml')!r}).scenario))\n"
        "built.model.maximize(built.levels['coverage'])\n"
        "job = LpBoundJob(built.model, 600.0, deterministic=True, iterations=10**9, tolerances=(1e-15,))\n"
        "while job._process is None:\n"
        "    time.sleep(0.01)\n"
        "time.sleep(3)  # the relaxation is sent by then: the worker is solving\n"
        "print(job._process.pid, flush=True)\n"
        "time.sleep(600)\n"
    )
    owner = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        assert owner.stdout is not None
        worker = int(owner.stdout.readline())
        owner.kill()
        owner.wait(timeout=30)
        deadline = time.monotonic() + 30
        while _alive(worker) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(worker)
    finally:
        owner.kill()


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "State:\tZ" not in status  # a zombie has ended


def test_distinct_is_numpy_unique_for_ids_in_range() -> None:
    # The neighbourhood search's replacement for np.unique (a mask over every row).
    from optimizer.bound import distinct

    rng = np.random.default_rng(7)
    for size in (1, 5, 1000):
        for length in (0, 1, 50, 5000):
            ids = rng.integers(0, size, length)
            found = distinct(ids, size)
            assert np.array_equal(found, np.unique(ids))
            assert found.dtype.kind == "i"


def test_read_model_reads_the_same_rows_from_the_models_own_proto(monkeypatch) -> None:
    # read_model parses an exported copy of the model (fast); the model's own proto, its
    # fallback, must give exactly the same relaxation and rows.
    from models import load_scenario
    from optimizer import bound
    from optimizer.data import build_problem_data
    from optimizer.model import build_structure_model

    sample = Path(__file__).resolve().parents[2] / "scenarios" / "demo.yaml"
    built = build_structure_model(build_problem_data(load_scenario(sample).scenario))
    built.model.maximize(built.levels["coverage"])
    fast_lp, fast_rows = bound.read_model(built.model)
    monkeypatch.setattr(bound, "_readable_proto", lambda model: model.proto)
    slow_lp, slow_rows = bound.read_model(built.model)
    for name in ("rows", "cols", "vals", "lo", "hi", "lb", "ub", "objective"):
        assert np.array_equal(getattr(fast_lp, name), getattr(slow_lp, name)), name
    assert fast_lp.offset == slow_lp.offset
    assert fast_rows is not None and slow_rows is not None
    for name in ("row_ptr", "row_vars", "row_coeffs", "lo", "hi", "variable_ptr", "variable_rows", "lb", "ub"):
        assert np.array_equal(getattr(fast_rows, name), getattr(slow_rows, name)), name
