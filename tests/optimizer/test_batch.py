"""Batch runs: discovery, the resumability hash, summaries, crash isolation and end-to-end runs.

The end-to-end tests (``slow``) solve the samples, a few generated S scenarios and one
invalid file with the real solver, on the local process pool and on a real local Dask
cluster (2 workers, loopback), and check every schedule with :func:`optimizer.check`.
Crashes are real: a wrapped task function ``os._exit``s its worker process, or a Dask
worker process is killed with SIGKILL.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import csv
import functools
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from models.io import load_scenario, load_schedule, scenario_text, write_atomic
from optimizer.batch import (
    BatchEvent,
    BatchExecutor,
    BatchInput,
    BatchRow,
    BatchUsageError,
    DaskExecutor,
    LocalPoolExecutor,
    SolveTask,
    TaskFunction,
    TaskOutcome,
    discover_inputs,
    execute,
    input_hash,
    issues_reason,
    plan_batch,
    pool_shape,
    run_batch,
    schedule_path,
    solve_task,
    summary_csv,
    summary_markdown,
)
from optimizer.result import SolveParams

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "scenarios"
TWO_STATES = SAMPLES / "two-states.yaml"
EXAMPLE_SCHEDULE = (
    REPO.parent / "shared" / "examples" / "two-states.schedule.yaml"
)  # the contract's
INVALID_SAMPLE = SAMPLES / "invalid" / "week-start-not-monday.yaml"
SMALL_SAMPLE_PARTICIPANTS = 60
TIME_LIMIT = 2.0

INVALID_TEXT = "format: iop-scenario/1\nprogram: {name: Broken}\n"


def _has_solver() -> bool:
    return (REPO / "optimizer" / "solve.py").exists()


needs_solver = pytest.mark.skipif(not _has_solver(), reason="optimizer/solve.py has not landed yet")


# --------------------------------------------------------------------------------------------
# Task functions that crash on cue (module level: the spawned workers import them by name)
# --------------------------------------------------------------------------------------------


def crash_on_marker(marker_dir: str, task: SolveTask) -> TaskOutcome:
    """Kill this worker process if ``<marker_dir>/<name>.once`` (removed first) or
    ``<marker_dir>/<name>.always`` exists; otherwise do the real work."""
    once = Path(marker_dir) / f"{task.name}.once"
    if once.exists():
        once.unlink()
        os._exit(1)
    if (Path(marker_dir) / f"{task.name}.always").exists():
        os._exit(1)
    return solve_task(task)


# --------------------------------------------------------------------------------------------
# Discovery
# --------------------------------------------------------------------------------------------


def test_discover_files_folders_and_globs(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    for name in (
        "a/one.yaml",
        "a/two.yml",
        "a/three.json",
        "a/notes.txt",
        "a/one.schedule.yaml",
        "b/one.yaml",
    ):
        (tmp_path / name).write_text("x: 1\n")
    inputs = discover_inputs(
        [tmp_path / "a", str(tmp_path / "b" / "*.yaml"), tmp_path / "a" / "one.yaml"]
    )
    # Sorted within the folder; the repeated stem gets a suffix; the repeated file is kept once;
    # schedules and other extensions are left out of folders and globs.
    assert [(item.name, item.path.name) for item in inputs] == [
        ("one", "one.yaml"),
        ("three", "three.json"),
        ("two", "two.yml"),
        ("one-2", "one.yaml"),
    ]
    assert inputs[3].path.parent.name == "b"


def test_discover_takes_an_explicit_file_whatever_its_name(tmp_path: Path) -> None:
    odd = tmp_path / "plan.txt"
    odd.write_text("x: 1\n")
    assert discover_inputs([odd]) == [BatchInput("plan", odd)]


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("missing.yaml", "missing.yaml: no such file or folder"),
        ("*.nothing.yaml", "no scenario files"),
    ],
)
def test_discover_rejects_what_matches_nothing(tmp_path: Path, pattern: str, message: str) -> None:
    with pytest.raises(BatchUsageError, match=message):
        discover_inputs([str(tmp_path / pattern)])


def test_discover_rejects_a_folder_without_scenarios(tmp_path: Path) -> None:
    with pytest.raises(BatchUsageError, match="folder .*: no scenario files"):
        discover_inputs([tmp_path])


def test_a_folder_leaves_out_hidden_files_as_a_glob_does(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    (folder / ".drafts").mkdir(parents=True)
    for name in ("ok.yaml", ".hidden.yaml", ".drafts/draft.yaml"):
        (folder / name).write_text("x: 1\n")
    (folder / "._ok.yaml").write_bytes(b"\x00\x05\x16\x07\xff")  # a macOS resource fork
    assert [item.name for item in discover_inputs([folder])] == ["ok"]
    assert [item.name for item in discover_inputs([str(folder / "**" / "*.yaml")])] == ["ok"]


def test_discover_takes_a_single_path_or_pattern(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("x: 1\n")
    (tmp_path / "b.yaml").write_text("x: 1\n")
    expected = ["a", "b"]
    assert [item.name for item in discover_inputs(str(tmp_path))] == expected
    assert [item.name for item in discover_inputs(tmp_path)] == expected
    assert [item.name for item in discover_inputs(str(tmp_path / "*.yaml"))] == expected


def test_discover_refuses_no_inputs() -> None:
    with pytest.raises(BatchUsageError, match="no inputs given"):
        discover_inputs([])


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"jobs": 0}, "jobs must be a whole number of at least 1"),
        ({"jobs": -2}, "jobs must be"),
        ({"local_cluster": 0}, "local_cluster must be"),
        ({"scheduler": ""}, "--scheduler needs an address"),
        ({"scheduler": "tcp://h:8786", "local_cluster": 2}, "exclude each other"),
        ({"jobs": 2, "local_cluster": 2}, "--jobs sizes the local pool"),
    ],
)
def test_run_batch_refuses_impossible_options_before_anything_runs(
    tmp_path: Path, options: dict[str, object], message: str
) -> None:
    inputs = _invalid_folder(tmp_path / "in", ["a"])
    out = tmp_path / "out"
    with pytest.raises(BatchUsageError, match=message):
        run_batch(inputs, out, SolveParams(time_limit=1), **options)  # type: ignore[arg-type]
    assert not out.exists()


def test_run_batch_refuses_no_inputs_and_parameters_of_another_type(tmp_path: Path) -> None:
    with pytest.raises(BatchUsageError, match="no inputs given"):
        run_batch([], tmp_path / "out", SolveParams(time_limit=1))
    inputs = _invalid_folder(tmp_path / "in", ["a"])
    with pytest.raises(TypeError, match="params must be a SolveParams, not dict"):
        run_batch(inputs, tmp_path / "out", {"time_limit": 2})  # type: ignore[arg-type]
    assert not (tmp_path / "out").exists()


def test_the_executor_label_counts_the_solver_workers_used(tmp_path: Path) -> None:
    inputs = _invalid_folder(tmp_path / "in", ["a"])
    labels: list[str] = []
    report = run_batch(
        inputs,
        tmp_path / "out",
        SolveParams(time_limit=1, workers=3),
        jobs=1,
        on_executor=lambda executor: labels.append(executor.label),
    )
    assert labels == ["1 local process(es) x 3 CP-SAT worker(s)"]
    assert report.executor == labels[0]


# --------------------------------------------------------------------------------------------
# Hash, pool shape, summaries
# --------------------------------------------------------------------------------------------


def test_input_hash_follows_content_and_problem_parameters_only() -> None:
    base = input_hash(b"data", SolveParams(time_limit=5))
    assert base == input_hash(b"data", SolveParams(time_limit=5, workers=8, log=True))
    assert base != input_hash(b"data ", SolveParams(time_limit=5))
    assert base != input_hash(b"data", SolveParams(time_limit=6))
    assert base != input_hash(b"data", SolveParams(time_limit=5, seed=1))
    assert base != input_hash(b"data", SolveParams(time_limit=5, relative_gap=0.01))


@pytest.mark.parametrize(
    ("jobs", "tasks", "cores", "shape"),
    [
        (None, 10, 8, (8, 1)),  # default: a process per core, one CP-SAT worker each
        (2, 10, 8, (2, 4)),  # 2 x 4 = 8 cores
        (3, 10, 8, (3, 2)),  # 3 x 2 <= 8
        (None, 1, 8, (1, 8)),  # one scenario gets the whole machine
        (16, 10, 8, (10, 1)),  # never more processes than scenarios
        (None, 0, 2, (1, 2)),
    ],
)
def test_pool_shape_fits_the_cores(
    jobs: int | None, tasks: int, cores: int, shape: tuple[int, int]
) -> None:
    assert pool_shape(jobs, tasks, cores) == shape


def test_summaries_name_failures_and_figures() -> None:
    rows = [
        BatchRow(
            "demo",
            "scenarios/demo.yaml",
            "solved",
            "optimal",
            40,
            42,
            10,
            10,
            2.0,
            50.0,
            0.0,
            1.25,
            1,
        ),
        BatchRow("bad", "in/bad.yaml", "invalid", "invalid", reason="1 error(s): program: a | b"),
        BatchRow("late", "in/late.yaml", "skipped", "feasible", gap=0.125),
    ]
    csv_text = summary_csv(rows)
    assert csv_text.splitlines()[0].startswith(
        "scenario,file,outcome,status,delivered_group_sessions"
    )
    assert "demo,scenarios/demo.yaml,solved,optimal,40,42,10,10,2.0,50.0,0.0,1.25,1," in csv_text
    markdown = summary_markdown(rows, params=SolveParams(time_limit=3))
    assert "1 solved, 1 skipped, 1 invalid" in markdown
    assert "| demo | solved | optimal | 40/42 | 10/10 | 2 | 0.0% | 1.2 |  |" in markdown
    assert "program: a \\| b" in markdown  # a pipe in a reason cannot break the table
    assert "12.5%" in markdown


def test_invalid_file_becomes_an_outcome_naming_paths_not_values() -> None:
    data = INVALID_SAMPLE.read_bytes()
    task = SolveTask(
        "bad", str(INVALID_SAMPLE), data, SolveParams(time_limit=1), input_hash(data, SolveParams())
    )
    outcome = solve_task(task)
    assert outcome.kind == "invalid"
    assert outcome.status == "invalid"
    assert re.match(r"\d+ error\(s\): program\.week_start: .*Monday", outcome.reason)
    assert outcome.schedule_text is None


def test_issues_reason_keeps_the_first_errors() -> None:
    from models.errors import Issue

    issues = [Issue(f"participants[{i}] (id P{i:04d})", "rule broken") for i in range(5)]
    reason = issues_reason(issues)
    assert (
        reason
        == "5 error(s): participants[0] (id P0000): rule broken; participants[1] (id P0001): rule broken (+3 more)"
    )


def test_plan_skips_a_schedule_with_the_same_hash(tmp_path: Path) -> None:
    scenario = tmp_path / "two-states.yaml"
    shutil.copy(TWO_STATES, scenario)
    out = tmp_path / "out"
    params = SolveParams(time_limit=TIME_LIMIT)
    inputs = discover_inputs([scenario])
    assert len(plan_batch(inputs, out, params).tasks) == 1

    # A schedule written by an earlier run with the same input and parameters.
    if not EXAMPLE_SCHEDULE.exists():
        pytest.skip("shared/examples is not beside this checkout")
    example = load_schedule(EXAMPLE_SCHEDULE)
    solver = example.solver.model_dump() | {"input_hash": input_hash(scenario.read_bytes(), params)}
    stamped = example.model_copy(update={"solver": type(example.solver).model_validate(solver)})
    from models.io import save_schedule

    save_schedule(stamped, schedule_path(out, "two-states"))
    plan = plan_batch(inputs, out, params)
    assert plan.tasks == []
    row = plan.rows["two-states"]
    assert (row.outcome, row.status, row.delivered_group_sessions, row.needed_group_sessions) == (
        "skipped",
        "feasible",
        18,
        21,
    )

    # Other parameters or other content: solved again.
    assert len(plan_batch(inputs, out, SolveParams(time_limit=TIME_LIMIT, seed=3)).tasks) == 1
    scenario.write_bytes(scenario.read_bytes() + b"\n# edited\n")
    assert len(plan_batch(inputs, out, params).tasks) == 1


# --------------------------------------------------------------------------------------------
# Crash isolation on the process pool (invalid files: fast, no solver needed)
# --------------------------------------------------------------------------------------------


def _invalid_folder(folder: Path, names: list[str]) -> list[BatchInput]:
    folder.mkdir()
    for name in names:
        (folder / f"{name}.yaml").write_text(INVALID_TEXT)
    return discover_inputs([folder])


def test_a_crashing_scenario_is_charged_alone_and_the_batch_finishes(tmp_path: Path) -> None:
    inputs = _invalid_folder(tmp_path / "in", ["a", "b", "c", "d", "e"])
    markers = tmp_path / "markers"
    markers.mkdir()
    (markers / "b.always").touch()  # kills its worker every time
    (markers / "d.once").touch()  # kills its worker once
    events: list[BatchEvent] = []
    plan = plan_batch(inputs, tmp_path / "out", SolveParams(time_limit=1))
    with LocalPoolExecutor(2, 1) as executor:
        rows = execute(
            plan,
            executor,
            retries=1,
            on_event=events.append,
            task_function=functools.partial(crash_on_marker, str(markers)),
        )
    outcomes = {name: row.outcome for name, row in rows.items()}
    assert outcomes == {
        "a": "invalid",
        "b": "failed",
        "c": "invalid",
        "d": "invalid",
        "e": "invalid",
    }
    # b crashed twice alone (attempts = first try + 1 retry, plus any shared crash reruns).
    assert rows["b"].reason.startswith("worker process died")
    assert rows["b"].attempts >= 2
    assert any(event.kind == "retry" for event in events)
    assert events[-1].progress.finished == 5


def test_retries_zero_reports_the_first_crash(tmp_path: Path) -> None:
    inputs = _invalid_folder(tmp_path / "in", ["only"])
    markers = tmp_path / "markers"
    markers.mkdir()
    (markers / "only.once").touch()
    report = run_batch(
        inputs,
        tmp_path / "out",
        SolveParams(time_limit=1),
        jobs=1,
        retries=0,
        task_function=functools.partial(crash_on_marker, str(markers)),
    )
    assert [row.outcome for row in report.rows] == ["failed"]
    assert not report.ok
    assert "failed" in (tmp_path / "out" / "summary.md").read_text()


class _FailingExecutor(BatchExecutor):
    """An executor whose first ``failures`` tasks raise or are cancelled (Dask loses them),
    and whose later tasks run in this process."""

    label = "failing"
    capacity = 2
    solver_workers = 1

    def __init__(self, failures: int, cancel: bool = False) -> None:
        self.failures = failures
        self.cancel = cancel

    def submit(self, function: TaskFunction, task: SolveTask) -> cf.Future[TaskOutcome]:
        future: cf.Future[TaskOutcome] = cf.Future()
        if self.failures > 0:
            self.failures -= 1
            if self.cancel:
                future.cancel()
            else:
                future.set_exception(RuntimeError("boom"))
        else:
            future.set_result(function(task))
        return future


def test_task_exceptions_are_retried_then_failed(tmp_path: Path) -> None:
    inputs = _invalid_folder(tmp_path / "in", ["x", "y"])
    plan = plan_batch(inputs, tmp_path / "out", SolveParams(time_limit=1))
    rows = execute(plan, _FailingExecutor(failures=1000), retries=2)
    assert {row.outcome for row in rows.values()} == {"failed"}
    assert rows["x"].attempts == 3
    assert rows["x"].reason == "the task raised RuntimeError (3 attempt(s))"


def test_lost_futures_are_resubmitted(tmp_path: Path) -> None:
    inputs = _invalid_folder(tmp_path / "in", ["x", "y"])
    plan = plan_batch(inputs, tmp_path / "out", SolveParams(time_limit=1))
    events: list[BatchEvent] = []
    rows = execute(
        plan, _FailingExecutor(failures=2, cancel=True), retries=1, on_event=events.append
    )
    assert {name: (row.outcome, row.attempts) for name, row in rows.items()} == {
        "x": ("invalid", 2),
        "y": ("invalid", 2),
    }
    assert [event.message for event in events if event.kind == "retry"] == [
        "worker lost (cancelled); retry 1 of 1"
    ] * 2


def test_nothing_to_do_starts_no_executor(tmp_path: Path) -> None:
    out = tmp_path / "out"
    unreadable = tmp_path / "gone.yaml"
    unreadable.write_text("x: 1\n")
    inputs = discover_inputs([unreadable])
    unreadable.unlink()
    started: list[BatchExecutor] = []
    report = run_batch(inputs, out, SolveParams(time_limit=1), on_executor=started.append)
    assert started == []
    assert [(row.outcome, row.reason) for row in report.rows] == [
        ("invalid", "cannot be read: No such file or directory")
    ]
    assert report.executor == "nothing to solve"


def test_an_unusable_scheduler_is_refused_before_the_output_folder_is_touched(tmp_path: Path) -> None:
    # It was found only when a solve was due: after the folder was made and its summary
    # rewritten with 'not run' rows, and never when every scenario was skipped or unreadable.
    inputs = _invalid_folder(tmp_path / "in", ["x"])
    params = SolveParams(time_limit=1)
    with pytest.raises(BatchUsageError, match="cannot use scheduler localhost: missing port number"):
        run_batch(inputs, tmp_path / "new", params, scheduler="localhost")
    assert not (tmp_path / "new").exists()

    out = tmp_path / "out"
    run_batch(inputs, out, params, jobs=1)
    before = {path.name: path.read_bytes() for path in out.iterdir()}
    with pytest.raises(BatchUsageError, match="cannot use scheduler localhost"):
        run_batch(inputs, out, params, scheduler="localhost")
    assert {path.name: path.read_bytes() for path in out.iterdir()} == before

    unreadable = tmp_path / "gone.yaml"
    unreadable.write_text("x: 1\n")
    nothing_to_solve = discover_inputs([unreadable])
    unreadable.unlink()
    with pytest.raises(BatchUsageError, match="cannot use scheduler localhost"):
        run_batch(nothing_to_solve, tmp_path / "empty", params, scheduler="localhost")
    assert not (tmp_path / "empty").exists()


def test_a_scheduler_connected_to_first_solves_what_is_left(tmp_path: Path) -> None:
    # Connected before planning; with nothing to solve it runs nothing, otherwise the same
    # client solves (invalid files: validated in the worker, no solver needed).
    distributed = pytest.importorskip("distributed")
    unreadable = tmp_path / "gone.yaml"
    unreadable.write_text("x: 1\n")
    nothing_to_solve = discover_inputs([unreadable])
    unreadable.unlink()
    started: list[BatchExecutor] = []
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        address = cluster.scheduler_address
        idle = run_batch(
            nothing_to_solve, tmp_path / "idle", SolveParams(time_limit=1), scheduler=address,
            on_executor=started.append,
        )
        assert started == [] and idle.executor == "nothing to solve"
        assert [row.outcome for row in idle.rows] == ["invalid"]
        inputs = _invalid_folder(tmp_path / "in", ["x", "y"])
        busy = run_batch(
            inputs, tmp_path / "busy", SolveParams(time_limit=1), scheduler=address,
            on_executor=started.append,
        )
    assert len(started) == 1 and busy.executor.startswith(f"Dask at {address}: ")
    assert [row.outcome for row in busy.rows] == ["invalid", "invalid"]


# --------------------------------------------------------------------------------------------
# End to end, with the real solver and checker
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def batch_inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Small samples, two-states, three generated S scenarios and one invalid file."""
    folder = tmp_path_factory.mktemp("batch-inputs")
    for sample in sorted(SAMPLES.glob("*.yaml")):
        try:
            participants = len(load_scenario(sample).scenario.participants)
        except Exception:  # noqa: BLE001 - a sample another test is about to fix is not ours
            continue
        if participants <= SMALL_SAMPLE_PARTICIPANTS:
            shutil.copy(sample, folder / sample.name)
    shutil.copy(TWO_STATES, folder / "two-states.yaml")
    if (REPO / "optimizer" / "generate.py").exists():
        from optimizer.generate import generate_scenario

        for seed in (1, 2, 3):
            write_atomic(
                folder / f"generated-s-{seed}.yaml", scenario_text(generate_scenario("S", seed))
            )
    shutil.copy(INVALID_SAMPLE, folder / "broken.yaml")
    return folder


def _assert_all_valid_solved_and_checked(inputs_dir: Path, out: Path, rows: list[BatchRow]) -> None:
    from optimizer.check import check

    by_name = {row.scenario: row for row in rows}
    assert by_name.pop("broken").outcome == "invalid"
    assert by_name, "no valid scenario in the batch"
    for name, row in by_name.items():
        assert row.outcome == "solved", (name, row)
        assert row.status in ("optimal", "feasible")
        loaded = load_scenario(inputs_dir / Path(row.file).name)
        schedule = load_schedule(schedule_path(out, name))
        report = check(loaded.scenario, schedule)
        assert report.ok, (name, report.violations[:3])
        assert (schedule.solver.model_extra or {}).get("input_hash") == input_hash(
            (inputs_dir / Path(row.file).name).read_bytes(), SolveParams(time_limit=TIME_LIMIT)
        )
    csv_lines = (out / "summary.csv").read_text().splitlines()
    assert len(csv_lines) == len(rows) + 1
    assert "| broken | invalid | invalid |" in (out / "summary.md").read_text()


@pytest.mark.slow
@needs_solver
def test_local_pool_batch_then_rerun_does_no_work(batch_inputs: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    params = SolveParams(time_limit=TIME_LIMIT)
    inputs = discover_inputs([batch_inputs])
    report = run_batch(inputs, out, params, jobs=2)
    assert not report.ok  # the invalid file
    assert report.count("invalid") == 1
    _assert_all_valid_solved_and_checked(batch_inputs, out, report.rows)

    written = {path: path.stat().st_mtime_ns for path in out.glob("*.schedule.yaml")}
    again = run_batch(inputs, out, params, jobs=2)
    assert {row.outcome for row in again.rows if row.scenario != "broken"} == {"skipped"}
    assert {path: path.stat().st_mtime_ns for path in out.glob("*.schedule.yaml")} == written


@pytest.mark.slow
@needs_solver
def test_local_pool_survives_a_worker_killed_mid_batch(batch_inputs: Path, tmp_path: Path) -> None:
    markers = tmp_path / "markers"
    markers.mkdir()
    inputs = discover_inputs([batch_inputs])
    victim = (
        next(item.name for item in inputs if item.name.startswith("generated"))
        if any(item.name.startswith("generated") for item in inputs)
        else "two-states"
    )
    (markers / f"{victim}.once").touch()
    out = tmp_path / "out"
    report = run_batch(
        inputs,
        out,
        SolveParams(time_limit=TIME_LIMIT),
        jobs=2,
        retries=1,
        task_function=functools.partial(crash_on_marker, str(markers)),
    )
    assert not (markers / f"{victim}.once").exists()  # the crash did happen
    _assert_all_valid_solved_and_checked(batch_inputs, out, report.rows)


@pytest.mark.slow
@needs_solver
def test_local_dask_cluster_batch_survives_a_killed_worker(
    batch_inputs: Path, tmp_path: Path
) -> None:
    pytest.importorskip("distributed")
    out = tmp_path / "out"
    inputs = discover_inputs([batch_inputs])
    executors: list[BatchExecutor] = []
    killed: list[int] = []
    running = threading.Event()

    latest: list[BatchEvent] = []
    finished_at_kill: list[int] = []

    def on_event(event: BatchEvent) -> None:
        latest[:] = [event]
        if event.progress.running > 0:
            running.set()

    def kill_one_worker() -> None:
        # Once solves are running, SIGKILL one Dask worker process: the nanny restarts it and
        # the scheduler gives its task to a live worker.
        if not running.wait(timeout=120) or not executors:
            return
        time.sleep(0.5 * TIME_LIMIT)
        executor = executors[0]
        assert isinstance(executor, DaskExecutor)
        pids = executor.client.run(os.getpid)
        pid = sorted(pids.values())[0]
        finished_at_kill.append(latest[0].progress.finished)
        os.kill(pid, signal.SIGKILL)
        killed.append(pid)

    killer = threading.Thread(target=kill_one_worker, daemon=True)
    killer.start()
    report = run_batch(
        inputs,
        out,
        SolveParams(time_limit=TIME_LIMIT, workers=2),  # not the cluster's share: 1 on 2 cores
        local_cluster=2,
        retries=2,
        on_event=on_event,
        on_executor=executors.append,
    )
    killer.join(timeout=10)
    assert killed, "no worker was killed"
    assert finished_at_kill[0] < len(inputs), "the kill came after the batch had finished"
    assert report.executor.startswith("local Dask cluster of 2 worker(s): ")
    assert report.executor.endswith(" x 2 CP-SAT worker(s)")  # --solver-workers, as solved
    _assert_all_valid_solved_and_checked(batch_inputs, out, report.rows)

    # The rerun, on the local pool this time, finds every schedule and solves nothing.
    started: list[BatchExecutor] = []
    inputs_valid = [item for item in inputs if item.name != "broken"]
    again = run_batch(
        inputs_valid, out, SolveParams(time_limit=TIME_LIMIT), on_executor=started.append
    )
    assert started == []
    assert {row.outcome for row in again.rows} == {"skipped"}
    assert again.ok


def test_a_damaged_schedule_is_solved_again(tmp_path: Path) -> None:
    scenario = tmp_path / "two-states.yaml"
    shutil.copy(TWO_STATES, scenario)
    out = tmp_path / "out"
    out.mkdir()
    schedule_path(out, "two-states").write_text("format: iop-schedule/1\nsolver: [\n")
    plan = plan_batch(discover_inputs([scenario]), out, SolveParams(time_limit=1))
    assert [task.name for task in plan.tasks] == ["two-states"]


def test_a_solver_exception_is_reported_by_type_only(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    solve_module = importlib.import_module("optimizer.solve")

    def explode(*args: object, **kwargs: object) -> None:
        raise ValueError("P0001 secret detail")

    monkeypatch.setattr(solve_module, "solve", explode)
    data = TWO_STATES.read_bytes()
    outcome = solve_task(SolveTask("two", str(TWO_STATES), data, SolveParams(time_limit=1), "h"))
    assert (outcome.kind, outcome.reason) == ("error", "the solver raised ValueError")


# --------------------------------------------------------------------------------------------
# Scripts: the documented example, a script without the main guard, a batch killed outright
# --------------------------------------------------------------------------------------------


def _docs_example() -> str:
    """The Python block of docs/batch.md's "From Python" section."""
    text = (REPO / "docs" / "batch.md").read_text()
    section = text.split("## From Python", 1)[1]
    return section.split("```python\n", 1)[1].split("```", 1)[0]


def _run_script(folder: Path, code: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    script = folder / "script.py"
    script.write_text(code)
    env = os.environ | {"PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, str(script)],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _summary_outcomes(out: Path) -> list[tuple[str, str, str]]:
    with (out / "summary.csv").open(newline="") as handle:
        return [(row["scenario"], row["outcome"], row["reason"]) for row in csv.DictReader(handle)]


def test_the_documented_progress_lines_need_what_the_samples_need() -> None:
    # Found by QA: the sample output said harbor-week "groups 589/695", but harbor-week needs
    # 704 group sessions: it was not the output of the scenarios in scenarios/.
    text = (REPO / "docs" / "batch.md").read_text()
    lines = re.findall(r"\] (\S+): solved \(\w+\), groups (\d+)/(\d+), appointments (\d+)/(\d+)", text)
    assert {name for name, *_ in lines} >= {"demo", "harbor-week", "two-states"}
    for name, groups, groups_needed, appointments, appointments_needed in lines:
        scenario = load_scenario(REPO / "scenarios" / f"{name}.yaml").scenario
        assert int(groups_needed) == sum(sum(p.needs.values()) for p in scenario.participants), name
        assert int(appointments_needed) == sum(a.count for p in scenario.participants for a in p.appointments), name
        assert int(groups) <= int(groups_needed) and int(appointments) <= int(appointments_needed), name


def test_the_documented_example_runs_as_a_script(tmp_path: Path) -> None:
    _invalid_folder(tmp_path / "plans", ["north"])  # validated in a worker: nothing to solve
    example = _docs_example()
    assert 'if __name__ == "__main__":' in example
    finished = _run_script(tmp_path, example)
    assert finished.returncode == 0, finished.stderr
    assert "Traceback" not in finished.stderr
    assert [outcome for _, outcome, _ in _summary_outcomes(tmp_path / "runs" / "today")] == [
        "invalid"
    ]


def test_a_script_without_the_main_guard_is_told_why_its_workers_fail(tmp_path: Path) -> None:
    _invalid_folder(tmp_path / "plans", ["north", "south"])
    body = re.sub(r'if __name__ == "__main__":.*\n', "", _docs_example())
    unguarded = re.sub(r"(?m)^    ", "", body).replace("jobs=2", "jobs=1, retries=0")
    assert "__main__" not in unguarded
    finished = _run_script(tmp_path, unguarded)
    # Each worker stops at the import of the script, with one line saying why; the batch
    # (the parent) reports its scenarios failed, and only the parent writes the summaries.
    assert "must do so under 'if __name__ == \"__main__\":'" in finished.stderr
    assert "Traceback" not in finished.stderr
    assert finished.returncode == 0, finished.stderr
    assert _summary_outcomes(tmp_path / "runs" / "today") == [
        ("north", "failed", "worker process died (1 attempt(s))"),
        ("south", "failed", "worker process died (1 attempt(s))"),
    ]


def test_a_worker_is_refused_a_batch_of_its_own_while_it_starts(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import multiprocessing.process

    inputs = _invalid_folder(tmp_path / "in", ["a"])
    monkeypatch.setattr(
        multiprocessing.process.current_process(), "_inheriting", True, raising=False
    )
    with pytest.raises(SystemExit, match="while a worker process was starting"):
        run_batch(inputs, tmp_path / "out", SolveParams(time_limit=1), jobs=1)
    assert not (tmp_path / "out").exists()


SLEEPING_BATCH = """
import sys
import time

from optimizer.batch import SolveTask, TaskOutcome, discover_inputs, run_batch
from optimizer.result import SolveParams


def sleep_task(task: SolveTask) -> TaskOutcome:
    time.sleep(300)
    raise AssertionError("woke up")


if __name__ == "__main__":
    run_batch(discover_inputs("in"), "out", SolveParams(time_limit=1), jobs=2, task_function=sleep_task)
"""


@pytest.mark.slow
def test_pool_workers_end_when_the_batch_process_is_killed(tmp_path: Path) -> None:
    import psutil

    _invalid_folder(tmp_path / "in", ["a", "b"])
    (tmp_path / "script.py").write_text(SLEEPING_BATCH)
    env = os.environ | {"PYTHONPATH": str(REPO)}
    batch = subprocess.Popen(
        [sys.executable, "script.py"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    workers: list[psutil.Process] = []
    try:
        deadline = time.monotonic() + 60
        while len(workers) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
            children = psutil.Process(batch.pid).children()
            workers = [c for c in children if "spawn_main" in " ".join(c.cmdline())]
        assert len(workers) == 2, "the pool did not start its two workers"
        time.sleep(1.0)  # both are inside sleep_task now, or waiting for a task
        batch.send_signal(signal.SIGKILL)
        batch.wait(10)
        gone, alive = psutil.wait_procs(workers, timeout=5)
        alive = [p for p in alive if p.status() != psutil.STATUS_ZOMBIE]
        assert not alive, f"pool workers outlived the batch: {[p.pid for p in alive]}"
    finally:
        for process in workers:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()
        if batch.poll() is None:
            batch.kill()


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("notanaddress", "missing port number"),
        ("http://127.0.0.1:1", "unknown address scheme 'http'"),
        ("tcp://[::1", "invalid address"),
    ],
)
def test_a_scheduler_address_dask_cannot_use_is_a_usage_error(address: str, reason: str) -> None:
    pytest.importorskip("distributed")
    with pytest.raises(
        BatchUsageError, match=f"cannot use scheduler {re.escape(address)}: .*{reason}"
    ):
        DaskExecutor(address)


def test_a_named_pipe_given_by_name_is_an_invalid_row_not_a_hang(tmp_path: Path) -> None:
    # QA 2026-11-28: read_bytes() on a FIFO waited for a writer forever.
    pipe = tmp_path / "week.yaml"
    os.mkfifo(pipe)
    plan = plan_batch([BatchInput("week", pipe)], tmp_path / "out", SolveParams(time_limit=1))
    assert plan.tasks == []
    row = plan.rows["week"]
    assert (row.status, row.reason) == ("invalid", "is a named pipe, not a file")


def test_a_folders_pipe_and_dangling_link_are_invalid_rows_not_skipped(tmp_path: Path) -> None:
    # QA 2026-11-28: both were left out of the batch without a word.
    folder = tmp_path / "in"
    folder.mkdir()
    os.mkfifo(folder / "pipe.yaml")
    (folder / "gone.yaml").symlink_to(folder / "nowhere.yaml")
    (folder / "sub.yaml").mkdir()  # a folder named like a scenario is not an input
    inputs = discover_inputs(folder)
    assert sorted(item.name for item in inputs) == ["gone", "pipe"]
    plan = plan_batch(inputs, tmp_path / "out", SolveParams(time_limit=1))
    assert plan.tasks == []
    assert plan.rows["pipe"].reason == "is a named pipe, not a file"
    assert plan.rows["gone"].status == "invalid" and plan.rows["gone"].reason.startswith("cannot be read")


_INTERRUPTED_START = """
import os, signal, sys, threading, time
from distributed.deploy.spec import SpecCluster
from optimizer.batch import DaskExecutor

def interrupt_once_the_cluster_exists():
    deadline = time.monotonic() + 30
    # Once a worker has been created but not started: the state the exit hook trips on.
    while time.monotonic() < deadline and not any(
        getattr(cluster, "_created", None) for cluster in list(SpecCluster._instances)
    ):
        time.sleep(0.002)
    os.kill(os.getpid(), signal.SIGINT)

if __name__ == "__main__":
    threading.Thread(target=interrupt_once_the_cluster_exists, daemon=True).start()
    try:
        DaskExecutor(local_workers=1).close()
    except KeyboardInterrupt:
        sys.exit(130)
    sys.exit(0)
"""


def test_ctrl_c_while_a_local_cluster_starts_prints_no_traceback(tmp_path: Path) -> None:
    # QA: Ctrl-C during LocalCluster's start-up left a half-built cluster to distributed's
    # exit hook, which printed "Exception ignored in atexit callback ... AssertionError:
    # Status.init" after the batch's own "interrupted" line.
    pytest.importorskip("distributed")
    script = tmp_path / "interrupted_start.py"
    script.write_text(_INTERRUPTED_START)
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120, cwd=REPO,
    )
    assert done.returncode == 130, done.stderr
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr, done.stderr


@pytest.mark.parametrize(
    ("patterns", "message"),
    [
        (b"scenarios", "not bytes"),  # (was read as numbers: "115: no such file or folder")
        (5, "not int"),  # (was "'int' object is not iterable")
        ([TWO_STATES, 7], "not int"),
    ],
)
def test_discover_inputs_refuses_what_is_not_a_path(patterns: object, message: str) -> None:
    with pytest.raises(TypeError, match=rf"discover_inputs\(\) takes .*{message}"):
        discover_inputs(patterns)  # type: ignore[arg-type]


def test_discover_inputs_takes_any_iterable_of_paths() -> None:
    assert [item.name for item in discover_inputs(p for p in [TWO_STATES])] == ["two-states"]


@pytest.mark.parametrize("inputs", [[str(TWO_STATES)], str(TWO_STATES), [TWO_STATES]])
def test_run_batch_refuses_paths_before_making_the_output_folder(tmp_path: Path, inputs: object) -> None:
    # QA: paths given directly failed inside plan_batch with "AttributeError: 'str' object has
    # no attribute 'path'", after the output folder had been made.
    with pytest.raises(TypeError, match=r"run_batch\(\) takes the inputs that discover_inputs\(\) returns"):
        run_batch(inputs, tmp_path / "out", SolveParams(time_limit=1), jobs=1)  # type: ignore[arg-type]
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("retries", [-1, "1", True, 1.0])
def test_run_batch_refuses_retries_below_zero_or_not_whole(tmp_path: Path, retries: object) -> None:
    with pytest.raises(BatchUsageError, match="retries must be a whole number of at least 0"):
        run_batch(discover_inputs(TWO_STATES), tmp_path / "out", SolveParams(time_limit=1), jobs=1,
                  retries=retries)  # type: ignore[arg-type]
    assert not (tmp_path / "out").exists()


def test_ctrl_c_is_held_back_once_while_a_cluster_starts_and_a_second_one_raises() -> None:
    # (The one mechanism the batch's cluster start and the solve command both use.)
    from optimizer.interrupt import first_ctrl_c_noted

    before = signal.getsignal(signal.SIGINT)
    with first_ctrl_c_noted() as interrupted:
        signal.raise_signal(signal.SIGINT)
        assert interrupted.is_set()
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is before
