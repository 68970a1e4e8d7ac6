"""``iop-roster solve``: files written (YAML, JSON), exit codes, quiet logs, determinism, a real process.

Most runs use the contract's two-states example (7 adults, optimum 23, solved in well under
a second); the progress test uses the demo sample so that the search lasts a few seconds.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from rich.console import Console

from models.io import load_scenario, load_schedule, schedule_text
from models.schema import json_schema
from optimizer.check import check
from optimizer.cli import main
from optimizer.cli.solve import ProgressPrinter
from optimizer.result import Progress, SolveParams
from optimizer.solve import solve

REPO = Path(__file__).resolve().parents[2]
TWO_STATES = REPO / "scenarios" / "two-states.yaml"
DEMO = REPO / "scenarios" / "demo.yaml"
INVALID = REPO / "scenarios" / "invalid"
INVALID_FILES = sorted(p for p in INVALID.iterdir() if p.suffix in (".yaml", ".json"))


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, ["solve", *args])


def assert_checks(scenario: Path, schedule: Path) -> None:
    loaded = load_scenario(scenario)
    report = check(loaded.scenario, load_schedule(schedule), scenario_sha256=loaded.sha256)
    assert report.ok, report.violations
    assert not report.warnings, report.warnings


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_writes_the_schedule_file(tmp_path: Path, suffix: str) -> None:
    out = tmp_path / f"week.schedule{suffix}"
    result = invoke(str(TWO_STATES), "-o", str(out), "--time-limit", "5", "--workers", "1")
    assert result.exit_code == 0, result.output
    text = out.read_text()
    if suffix == ".json":
        assert json.loads(text)["format"] == "iop-schedule/1"
    else:
        assert text.startswith("format: iop-schedule/1")
    schedule = load_schedule(out)
    assert schedule.solver.status == "optimal"
    assert schedule.solver.objective == 23
    assert schedule.scenario.sha256 == load_scenario(TWO_STATES).sha256
    assert_checks(TWO_STATES, out)
    # The summary goes to stderr, the file path too; stdout stays empty when -o is given.
    assert result.stdout == ""
    assert "Coverage by need" in result.stderr
    assert "status optimal: objective 23" in result.stderr
    assert f"schedule written to {out}" in result.stderr


def test_format_json_to_stdout() -> None:
    result = invoke(str(TWO_STATES), "--format", "json", "--time-limit", "5", "--workers", "1", "--quiet")
    assert result.exit_code == 0, result.output
    document: dict[str, Any] = json.loads(result.stdout)
    assert document["format"] == "iop-schedule/1"
    assert document["solver"]["objective"] == 23
    assert result.stderr == ""


def test_format_option_overrides_the_extension(tmp_path: Path) -> None:
    out = tmp_path / "week.yaml"
    result = invoke(str(TWO_STATES), "-o", str(out), "--format", "json", "--time-limit", "5", "--workers", "1", "--quiet")
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["format"] == "iop-schedule/1"


def _expected(path: Path) -> tuple[list[str], list[str]]:
    """Substrings that must and must not appear, from ``X.expected`` (validate's own last line aside)."""
    lines = [line for line in path.with_suffix(".expected").read_text().splitlines() if line.strip()]
    present = [line for line in lines if not line.startswith("! ") and not line.startswith("INVALID")]
    absent = [line[2:] for line in lines if line.startswith("! ")]
    return present, absent


@pytest.mark.parametrize("path", INVALID_FILES, ids=[p.stem for p in INVALID_FILES])
def test_invalid_file_exits_2_with_its_errors(tmp_path: Path, path: Path) -> None:
    out = tmp_path / "never.yaml"
    result = invoke(str(path), "-o", str(out), "--time-limit", "1")
    assert result.exit_code == 2, result.output
    present, absent = _expected(path)
    for text in present:
        assert text in result.stderr, f"{text!r} missing from:\n{result.stderr}"
    for text in absent:
        assert text not in result.output
    assert "invalid" in result.stderr
    assert "Traceback" not in result.output
    assert not out.exists()
    assert result.stdout == ""


def test_missing_file_exits_2(tmp_path: Path) -> None:
    result = invoke(str(tmp_path / "nowhere.yaml"))
    assert result.exit_code == 2
    assert "file not found" in result.stderr
    assert "Traceback" not in result.output


def test_deterministic_twice_gives_identical_files(tmp_path: Path) -> None:
    outputs = []
    for n in (1, 2):
        out = tmp_path / f"run{n}.yaml"
        result = invoke(str(TWO_STATES), "-o", str(out), "--deterministic", "--seed", "7", "--time-limit", "3", "--workers", "2")
        assert result.exit_code == 0, result.output
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]
    assert b"seed: 7" in outputs[0]


def test_the_python_api_writes_the_bytes_the_cli_writes(tmp_path: Path) -> None:
    # An integer time limit (``time_limit=2``) is written as the CLI's ``--time-limit 2``: 2.0.
    out = tmp_path / "cli.yaml"
    result = invoke(str(TWO_STATES), "-o", str(out), "--deterministic", "--seed", "7", "--time-limit", "2",
                    "--workers", "2", "--quiet")
    assert result.exit_code == 0, result.output
    loaded = load_scenario(TWO_STATES)
    solved = solve(loaded.scenario, SolveParams(time_limit=2, seed=7, deterministic=True, workers=2),
                   scenario_sha256=loaded.sha256)
    assert solved.schedule is not None
    assert schedule_text(solved.schedule) == out.read_text()
    assert "  time_limit: 2.0\n" in out.read_text()
    # Every key of the solver block is documented in the exported JSON Schema.
    documented = json_schema("schedule")["$defs"]["SolverInfo"]["properties"]  # type: ignore[index]
    assert set(load_schedule(out).solver.model_dump()) <= set(documented)


def _executable() -> str:
    found = shutil.which("iop-roster")
    if found is not None:
        return found
    beside = Path(sys.executable).parent / "iop-roster"
    assert beside.exists(), "iop-roster is not installed in this environment"
    return str(beside)


def test_real_process_writes_a_schedule_that_check_accepts(tmp_path: Path) -> None:
    out = tmp_path / "week.schedule.yaml"
    solved = subprocess.run(
        [_executable(), "solve", str(TWO_STATES), "-o", str(out), "--time-limit", "5", "--workers", "1"],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert solved.returncode == 0, solved.stderr
    assert "Traceback" not in solved.stderr
    checked = subprocess.run([_executable(), "check", str(TWO_STATES), str(out)], capture_output=True, text=True, timeout=120, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_real_process_invalid_file_exits_2_without_traceback(tmp_path: Path) -> None:
    bad = INVALID / "bad-state.yaml"
    solved = subprocess.run([_executable(), "solve", str(bad), "-o", str(tmp_path / "x.yaml")], capture_output=True, text=True, timeout=120, check=False)
    assert solved.returncode == 2
    assert "Traceback" not in solved.stderr
    assert "is not a two-letter US state code" in solved.stderr


def test_progress_does_not_flood_a_log(tmp_path: Path) -> None:
    # stderr is a file here, not a terminal: progress comes as plain lines, a few seconds
    # apart, not one per improved schedule (the demo improves many times in 4 seconds).
    log = tmp_path / "solve.log"
    with log.open("w") as stderr:
        solved = subprocess.run(
            [_executable(), "solve", str(DEMO), "-o", str(tmp_path / "demo.yaml"), "--time-limit", "4", "--workers", "2"],
            stdout=subprocess.DEVNULL, stderr=stderr, timeout=120, check=False,
        )
    assert solved.returncode == 0
    text = log.read_text()
    progress = [line for line in text.splitlines() if "stage " in line and "objective" in line]
    assert 1 <= len(progress) <= 4, text
    assert "\r" not in text
    assert "\x1b[" not in text  # no terminal control sequences in a log file
    assert len(text.splitlines()) < 60
    # The last progress line is the state the solve ended in (QA: it said objective 131
    # above a summary of 144; a report held back by the throttle was never printed). Level 1
    # is compared: the unit tests below pin that the held report is the latest one.
    summary = re.search(r"status \w+: objective (\S+),", text)
    last = re.search(r"objective +(\S+) ", progress[-1])
    assert summary is not None and last is not None, text
    assert last.group(1) == summary.group(1), text


def _report(elapsed: float, objective: float, sessions: int) -> Progress:
    return Progress("coverage", elapsed, objective, 144.0, (144.0 - objective) / 144.0, sessions, int(objective), 144)


class _FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_throttled_log_prints_the_held_back_report_before_the_summary() -> None:
    # Reports at 0 s, 1 s, 2 s, 6 s, 7 s, 8 s with a 5 s interval: the 0 s and 6 s ones are
    # printed as they come (the 6 s one is 5 s after the last printed), 1 s-2 s and 7 s-8 s are
    # held back; close() prints the latest held one (8 s), never the stale 2 s one.
    log = io.StringIO()
    clock = _FakeClock()
    printer = ProgressPrinter(Console(file=log, force_terminal=False, width=200), interval=5.0, clock=clock)
    for elapsed, objective, sessions in [(0, 120, 30), (1, 125, 33), (2, 131, 37), (6, 135, 38), (7, 140, 40), (8, 144, 42)]:
        clock.now = 100.0 + elapsed
        printer(_report(elapsed, objective, sessions))
    assert [line.split("]")[0] for line in log.getvalue().splitlines()] == ["[   0.0s", "[   6.0s"]
    printer.close()
    lines = log.getvalue().splitlines()
    assert len(lines) == 3
    assert lines[-1] == ProgressPrinter.line(_report(8, 144, 42))
    assert "objective     144" in lines[-1] and "sessions   42" in lines[-1]
    printer.close()  # idempotent: nothing held, nothing printed twice
    assert len(log.getvalue().splitlines()) == 3


def test_a_log_prints_nothing_more_when_the_last_report_was_printed() -> None:
    log = io.StringIO()
    clock = _FakeClock()
    printer = ProgressPrinter(Console(file=log, force_terminal=False, width=200), interval=5.0, clock=clock)
    printer(_report(0, 120, 30))
    clock.now += 6
    printer(_report(6, 144, 42))
    printer.close()
    assert [line.split("]")[0] for line in log.getvalue().splitlines()] == ["[   0.0s", "[   6.0s"]


def test_a_terminal_shows_every_report_in_place_and_keeps_the_last() -> None:
    # A narrow terminal wraps the line over two rows: the live display redraws both rows in
    # place (it printed a stale row per report with a bare carriage return) and leaves the
    # final state on screen when closed.
    screen = io.StringIO()
    printer = ProgressPrinter(Console(file=screen, force_terminal=True, width=60, color_system=None))
    for elapsed, objective, sessions in [(0, 120, 30), (0.1, 131, 37), (0.2, 144, 42)]:
        printer(_report(elapsed, objective, sessions))
    printer.close()
    text = screen.getvalue()
    assert text.count("\x1b[1A") >= 2  # cursor up: the wrapped line is redrawn, not repeated
    final = text.rsplit("\x1b[2K", 1)[-1]
    assert "objective     144" in final and "42" in final and "131" not in final
    assert printer.display is None


def test_help_says_what_the_time_limit_counts() -> None:
    # QA: --deterministic --time-limit 3 on the demo took 9.9 s of wall time while --help
    # said "Seconds for the whole solve": in deterministic mode the limit is CP-SAT
    # deterministic time (optimizer.solve._solver, docs/model.md "Parameters").
    result = invoke("--help")
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    assert "Seconds of wall time for the whole solve (starting, reading the file and writing the schedule come on top" in text
    assert "with --deterministic, CP-SAT deterministic time instead" in text
    assert "not seconds: the solve can take several times longer" in text
    assert "--time-limit counts CP-SAT deterministic time, not wall seconds" in text


def test_ctrl_c_stops_the_search_and_writes_the_best_schedule_so_far(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # QA 2026-11-28: Ctrl-C during a solve printed click's "Aborted!" (exit 1) and wrote
    # nothing, though the solver can stop promptly with the best schedule found so far.
    import signal
    import time

    solver = sys.modules["optimizer.solve"]  # (the package's `solve` is the function)
    real_solve = solver.solve

    def interrupted_at_once(*args: Any, **kwargs: Any) -> Any:
        signal.raise_signal(signal.SIGINT)  # as a user's Ctrl-C, before the search starts
        return real_solve(*args, **kwargs)

    monkeypatch.setattr(solver, "solve", interrupted_at_once)
    out = tmp_path / "s.yaml"
    started = time.monotonic()
    result = invoke(str(DEMO), "-o", str(out), "--time-limit", "60", "--workers", "1")
    assert result.exit_code == 0, result.output
    assert time.monotonic() - started < 30  # stopped, not the whole 60 s
    assert "interrupted (Ctrl-C)" in result.output
    assert_checks(DEMO, out)
    # The handler is the one before the solve again: a later Ctrl-C interrupts as usual.
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
