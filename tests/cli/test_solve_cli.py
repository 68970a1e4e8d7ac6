"""``iop-roster solve``: files written (YAML, JSON), exit codes, quiet logs, determinism, a real process.

Most runs use the contract's two-states example (7 adults, optimum 23, solved in well under
a second); the progress test uses the demo sample so that the search lasts a few seconds.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from models.io import load_scenario, load_schedule, schedule_text
from models.schema import json_schema
from optimizer.check import check
from optimizer.cli import main
from optimizer.result import SolveParams
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
