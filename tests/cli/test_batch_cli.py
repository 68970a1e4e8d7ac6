"""``iop-roster batch``: usage errors, exit codes, summaries, progress output, reruns."""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path
from typing import Literal

import pytest
from click.testing import CliRunner
from rich.console import Console

from optimizer.batch import BatchEvent, BatchProgress, BatchRow
from optimizer.cli import main
from optimizer.cli.batch import BarReporter, PlainReporter, describe_row

REPO = Path(__file__).resolve().parents[2]
TWO_STATES = REPO / "scenarios" / "two-states.yaml"
INVALID_SAMPLE = REPO / "scenarios" / "invalid" / "yaml-syntax.yaml"

needs_solver = pytest.mark.skipif(
    not (REPO / "optimizer" / "solve.py").exists(), reason="optimizer/solve.py has not landed yet"
)


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["batch", *args])
    return result.exit_code, result.stdout, result.stderr


def _summary_rows(out: Path) -> list[dict[str, str]]:
    with (out / "summary.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.yaml", "--out", "o"], "missing.yaml: no such file or folder"),
        (
            ["x", "--out", "o", "--scheduler", "tcp://h:8786", "--local-cluster", "2"],
            "exclude each other",
        ),
        (["x", "--out", "o", "--jobs", "2", "--local-cluster", "2"], "--jobs sizes the local pool"),
        (["x", "--out", "o", "--jobs", "0"], "--jobs"),
        (["x"], "--out"),
    ],
)
def test_bad_usage_exits_2(args: list[str], message: str) -> None:
    code, _, stderr = _run(*args)
    assert code == 2
    assert message in stderr


@pytest.mark.parametrize(
    ("option", "value", "rule"),
    [
        ("--seed", "-1", "is not in the range 0<=x<=2147483647"),
        ("--seed", "4294967296", "is not in the range 0<=x<=2147483647"),
        ("--time-limit", "inf", "is not a finite number"),
        ("--time-limit", "nan", "is not a finite number"),
        ("--time-limit", "0", "is not in the range x>0"),
        ("--solver-workers", "5000", "is not in the range 1<=x<=1024"),
        ("--jobs", "5000", "is not in the range 1<=x<=1024"),
        ("--local-cluster", "5000", "is not in the range 1<=x<=1024"),
        ("--retries", "-1", "is not in the range x>=0"),
    ],
)
def test_option_values_a_solve_cannot_take_exit_2_before_any_output(
    tmp_path: Path, option: str, value: str, rule: str
) -> None:
    # Found by QA: these values passed click and made SolveParams raise (exit 70).
    out = tmp_path / "runs"
    code, stdout, stderr = _run(str(TWO_STATES), "--out", str(out), "--jobs", "1", option, value)
    assert code == 2, stdout + stderr
    assert f"Invalid value for '{option}'" in stderr
    assert rule in stderr
    assert "internal error" not in stderr
    assert not out.exists()


@pytest.mark.parametrize("option", ["--seed", "--jobs", "--time-limit", "--solver-workers"])
def test_a_bad_option_value_is_not_echoed(tmp_path: Path, option: str) -> None:
    code, stdout, stderr = _run(str(TWO_STATES), "--out", str(tmp_path / "o"), option, "Jordan Smith")
    assert code == 2
    assert "Jordan" not in stdout + stderr


def test_an_unreachable_scheduler_is_a_usage_error(tmp_path: Path) -> None:
    dask = pytest.importorskip("dask")
    pytest.importorskip("distributed")
    scenario = tmp_path / "a.yaml"
    shutil.copy(INVALID_SAMPLE, scenario)
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        code, _, stderr = _run(
            str(scenario), "--out", str(tmp_path / "out"), "--scheduler", "tcp://127.0.0.1:9"
        )
    assert code == 2
    assert "cannot use scheduler tcp://127.0.0.1:9: cannot connect: " in stderr
    assert "Traceback" not in stderr
    assert not (tmp_path / "out").exists()  # refused before the output folder was made


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("notanaddress", "missing port number"),
        ("http://127.0.0.1:1", "unknown address scheme 'http'"),
        ("tcp://[::1", "invalid address"),
    ],
)
def test_a_scheduler_address_dask_cannot_use_is_a_usage_error(
    tmp_path: Path, address: str, reason: str
) -> None:
    pytest.importorskip("distributed")
    scenario = tmp_path / "a.yaml"
    shutil.copy(INVALID_SAMPLE, scenario)
    code, _, stderr = _run(
        str(scenario), "--out", str(tmp_path / "out"), "--time-limit", "2", "--scheduler", address
    )
    assert code == 2, stderr
    assert f"Error: cannot use scheduler {address}: " in stderr
    assert reason in stderr
    assert "internal error" not in stderr
    assert "Traceback" not in stderr
    assert not (tmp_path / "out").exists()  # no summary of 'not run' rows


@needs_solver
def test_an_unusable_scheduler_leaves_a_finished_batch_as_it_was(tmp_path: Path) -> None:
    # Every scenario would be skipped: the scheduler was never looked at (exit 0), and a
    # scheduler refused later rewrote the summary with 'not run' rows.
    pytest.importorskip("distributed")
    scenario = tmp_path / "two-states.yaml"
    shutil.copy(TWO_STATES, scenario)
    out = tmp_path / "out"
    code, _, stderr = _run(str(scenario), "--out", str(out), "--time-limit", "1", "--jobs", "1")
    assert code == 0, stderr
    before = {path.name: (path.read_bytes(), path.stat().st_mtime_ns) for path in out.iterdir()}
    code, _, stderr = _run(str(scenario), "--out", str(out), "--time-limit", "1", "--scheduler", "localhost")
    assert code == 2, stderr
    assert "cannot use scheduler localhost: missing port number" in stderr
    assert {path.name: (path.read_bytes(), path.stat().st_mtime_ns) for path in out.iterdir()} == before


@pytest.mark.parametrize("address", ["", "  "])
def test_an_empty_scheduler_address_is_a_usage_error(tmp_path: Path, address: str) -> None:
    scenario = tmp_path / "a.yaml"
    shutil.copy(INVALID_SAMPLE, scenario)
    code, _, stderr = _run(str(scenario), "--out", str(tmp_path / "out"), "--scheduler", address)
    assert code == 2
    assert "--scheduler needs an address" in stderr
    assert not (tmp_path / "out").exists()  # refused before anything ran


def test_a_folder_leaves_out_hidden_files(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(INVALID_SAMPLE, folder / "broken.yaml")
    (folder / "._broken.yaml").write_bytes(b"\x00\x05\x16\x07\xff")  # a macOS resource fork
    shutil.copy(INVALID_SAMPLE, folder / ".hidden.yaml")
    out = tmp_path / "out"
    code, _, stderr = _run(str(folder), "--out", str(out), "--time-limit", "1", "--jobs", "1")
    assert code == 1, stderr
    assert [row["scenario"] for row in _summary_rows(out)] == ["broken"]


def test_the_banner_shows_the_solver_workers_asked_for(tmp_path: Path) -> None:
    scenario = tmp_path / "broken.yaml"
    shutil.copy(INVALID_SAMPLE, scenario)  # validated in a worker: the pool starts, nothing solves
    code, _, stderr = _run(
        str(scenario), "--out", str(tmp_path / "out"), "--jobs", "1", "--solver-workers", "3"
    )
    assert code == 1, stderr
    assert "solving on 1 local process(es) x 3 CP-SAT worker(s)" in stderr


def test_invalid_files_exit_1_with_their_reason_in_the_summaries(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(INVALID_SAMPLE, folder / "broken.yaml")
    out = tmp_path / "out"
    code, stdout, stderr = _run(str(folder), "--out", str(out), "--time-limit", "1", "--jobs", "1")
    assert code == 1
    assert "1 invalid; schedules and summary.md in" in stdout
    assert "[1/1] broken: INVALID: 1 error(s): line " in stderr  # plain lines: not a terminal
    (row,) = _summary_rows(out)
    assert (row["scenario"], row["outcome"], row["status"]) == ("broken", "invalid", "invalid")
    assert "not valid YAML" in row["reason"]
    assert "| broken | invalid | invalid |" in (out / "summary.md").read_text()
    assert not list(out.glob("*.schedule.yaml"))


@pytest.mark.slow
@needs_solver
def test_batch_solves_writes_and_a_rerun_skips(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(TWO_STATES, folder / "two-states.yaml")
    out = tmp_path / "out"
    args = [
        str(folder / "*.yaml"),
        "--out",
        str(out),
        "--time-limit",
        "2",
        "--jobs",
        "1",
        "--seed",
        "3",
    ]

    code, stdout, stderr = _run(*args)
    assert code == 0, stderr
    assert "1 solved; schedules and summary.md in" in stdout
    assert "solving on 1 local process(es)" in stderr
    schedule = (out / "two-states.schedule.yaml").read_text()
    assert "input_hash:" in schedule
    (row,) = _summary_rows(out)
    assert (row["outcome"], row["attempts"]) == ("solved", "1")
    assert row["status"] in ("optimal", "feasible")

    code, stdout, stderr = _run(*args)
    assert code == 0
    assert "1 skipped;" in stdout
    assert "solving on" not in stderr  # no pool was started
    assert (out / "two-states.schedule.yaml").read_text() == schedule
    assert _summary_rows(out)[0]["outcome"] == "skipped"

    # Another seed is another problem: solved again.
    code, stdout, _ = _run(*args[:-1], "4")
    assert (code, "1 solved;" in stdout) == (0, True)


def _event(
    kind: Literal["finished", "retry", "tick"],
    row: BatchRow | None = None,
    finished: int = 1,
    failed: int = 0,
) -> BatchEvent:
    progress = BatchProgress(
        total=3, finished=finished, failed=failed, running=2, solved_this_run=finished, elapsed=30.0
    )
    return BatchEvent(
        kind,
        progress,
        row.scenario if row else "x",
        row,
        "worker lost (KilledWorker); retry 1 of 1",
    )


SOLVED = BatchRow("demo", "demo.yaml", "solved", "optimal", 40, 42, 10, 10, 2.0, 50.0, 0.0, 1.25, 1)
FAILED = BatchRow("late", "late.yaml", "failed", reason="worker process died (2 attempt(s))")


def test_describe_row() -> None:
    assert (
        describe_row(SOLVED)
        == "demo: solved (optimal), groups 40/42, appointments 10/10, gap 0.0%, 1.2 s"
    )
    assert describe_row(FAILED) == "late: FAILED: worker process died (2 attempt(s))"


def test_plain_reporter_prints_finished_and_retries(capsys: pytest.CaptureFixture[str]) -> None:
    reporter = PlainReporter()
    reporter(_event("finished", SOLVED))
    reporter(_event("retry"))
    reporter(_event("tick"))  # silent: not 30 s since the last line
    assert capsys.readouterr().err.splitlines() == [
        "[1/3] demo: solved (optimal), groups 40/42, appointments 10/10, gap 0.0%, 1.2 s",
        "x: worker lost (KilledWorker); retry 1 of 1",
    ]


def test_bar_reporter_shows_done_failed_running_and_rate() -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=120, color_system=None)
    with BarReporter(console) as reporter:
        reporter(_event("finished", SOLVED))
        reporter(_event("finished", FAILED, finished=2, failed=1))
    text = buffer.getvalue()
    assert "late: FAILED: worker process died" in text
    assert "2/3" in text
    assert "1 failed" in text
    assert "2 running" in text
    assert "4.0/min" in text  # 2 scenarios in 30 s


def test_an_output_folder_that_cannot_be_made_is_a_usage_error_before_any_solve(tmp_path: Path) -> None:
    # --out under a file: the batch said "internal error: NotADirectoryError" (exit 70).
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    scenario = tmp_path / "week.yaml"
    shutil.copy(INVALID_SAMPLE, scenario)
    code, _out, err = _run(str(scenario), "--out", str(blocker / "sub"), "--time-limit", "1", "--jobs", "1")
    assert code == 2, err
    assert f"cannot write {blocker / 'sub'}: Not a directory" in err
    assert "internal error" not in err and blocker.read_text() == "x"


def test_ctrl_c_says_where_the_work_is_and_exits_130(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # QA 2026-11-28: click printed only "Aborted!", and no line on standard output.
    import optimizer.cli.batch as batch_cli

    def interrupted(_inputs: object, out_dir: str, *_args: object, **_kwargs: object) -> None:
        (Path(out_dir) / "summary.md").parent.mkdir(parents=True, exist_ok=True)
        (Path(out_dir) / "summary.md").write_text("(the summary, with 'not run' rows)\n")
        raise KeyboardInterrupt

    monkeypatch.setattr(batch_cli, "run_batch", interrupted)
    scenario = tmp_path / "two-states.yaml"
    shutil.copy(TWO_STATES, scenario)
    code, stdout, _ = _run(str(scenario), "--out", str(tmp_path / "out"), "--time-limit", "1", "--jobs", "1")
    assert code == 130
    assert "interrupted; unfinished scenarios are 'not run' in" in stdout and "rerun the same command" in stdout


def test_ctrl_c_before_the_plan_does_not_point_at_a_summary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # QA: a Ctrl-C while the batch started up (importing Dask, reading the inputs) said the
    # unfinished scenarios were in out/summary.md, in a folder that did not exist.
    import optimizer.cli.batch as batch_cli

    def interrupted(*_args: object, **_kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(batch_cli, "run_batch", interrupted)
    scenario = tmp_path / "two-states.yaml"
    shutil.copy(TWO_STATES, scenario)
    out = tmp_path / "out"
    code, stdout, _ = _run(str(scenario), "--out", str(out), "--time-limit", "1", "--jobs", "1")
    assert code == 130 and not out.exists()
    assert f"interrupted before any summary was written in {out}: rerun the same command" in stdout
    assert "summary.md" not in stdout


def test_the_documented_exit_codes_say_130_for_ctrl_c() -> None:
    # QA 2026-11-28: docs/batch.md listed Ctrl-C under exit 1 while the batch exits 130 (as the
    # README says); a script reading the code would take an interruption for failed scenarios.
    text = (REPO / "docs" / "batch.md").read_text()
    table = text.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    rows = {line.split("|")[1].strip(): line for line in table.splitlines() if line.startswith("| ") and line[2].isdigit()}
    assert "Ctrl-C" in rows["130"]
    assert "Ctrl-C" not in rows["1"]
