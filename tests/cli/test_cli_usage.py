"""Bad usage of every command ends in exit 2 with a clear message, never exit 70 or a traceback.

Options out of range (seeds CP-SAT cannot take, NaN and infinity), outputs that would replace
an input or cannot be written (checked before the solve starts), ``--lock`` values that are
not session ids, and one broken file among many in ``validate``. Messages quote numbers, ids
and paths only: never free text a user typed.
"""

from __future__ import annotations

import errno
import importlib
import json
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from optimizer.cli import main

REPO = Path(__file__).resolve().parents[2]
TWO_STATES = REPO / "scenarios" / "two-states.yaml"
DEMO = REPO / "scenarios" / "demo.yaml"
DATA = REPO / "tests" / "optimizer" / "export" / "data"
SCHEDULE = DATA / "two-states.schedule.yaml"  # solved from two-states: sessions S0001..
SECRET = "Jordan Smith SECRET-PHI-123"
QUICK = ("--time-limit", "2", "--workers", "1", "--quiet")


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def assert_usage_error(result: Result, *expected: str) -> None:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert "internal error" not in result.output
    for text in expected:
        assert text in result.stderr, result.stderr


@pytest.fixture
def inputs(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """A scenario and a schedule of it in tmp_path, to check they survive untouched."""
    scenario = tmp_path / "week.yaml"
    schedule = tmp_path / "week.schedule.yaml"
    shutil.copy(TWO_STATES, scenario)
    shutil.copy(SCHEDULE, schedule)
    before = scenario.read_bytes(), schedule.read_bytes()
    yield scenario, schedule
    assert (scenario.read_bytes(), schedule.read_bytes()) == before, "an input file was changed"


@pytest.fixture
def no_solve(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if a solve starts: the error must be found before."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the solve started")

    # The module, not the function ``optimizer.solve`` that the package exports under its name.
    monkeypatch.setattr(importlib.import_module("optimizer.solve"), "solve", refuse)


# -- defect 1: seeds and workers CP-SAT cannot take ------------------------------------------


@pytest.mark.parametrize(
    ("option", "value", "shown"),
    [
        ("--seed", "2147483648", "2147483648 is not in the range 0<=x<=2147483647"),
        ("--seed", "1180591620717411303424", "is not in the range 0<=x<=2147483647"),
        ("--seed", "-5", "-5 is not in the range 0<=x<=2147483647"),
        ("--workers", "1099511627776", "1099511627776 is not in the range 1<=x<=1024"),
        ("--workers", "0", "0 is not in the range 1<=x<=1024"),
    ],
)
@pytest.mark.parametrize("command", ["solve", "roll", "explain"])
def test_seed_and_workers_out_of_range_exit_2(
    tmp_path: Path, no_solve: None, command: str, option: str, value: str, shown: str
) -> None:
    out = tmp_path / "out.yaml"
    args = {
        "solve": ["solve", str(TWO_STATES), "-o", str(out)],
        "roll": ["roll", str(TWO_STATES), "--previous", str(SCHEDULE), "-o", str(out)],
        "explain": ["explain", str(TWO_STATES), str(SCHEDULE), "--suggest"],
    }[command]
    result = invoke(*args, option, value)
    assert_usage_error(result, f"Invalid value for '{option}'", shown, "Usage:")
    assert not out.exists()


def test_the_largest_seed_is_accepted(tmp_path: Path) -> None:
    out = tmp_path / "out.yaml"
    result = invoke("solve", str(TWO_STATES), "-o", str(out), "--seed", str(2**31 - 1), *QUICK)
    assert result.exit_code == 0, result.output
    assert f"seed: {2**31 - 1}" in out.read_text()


def test_generate_refuses_a_negative_seed(tmp_path: Path) -> None:
    out = tmp_path / "g.yaml"
    assert_usage_error(invoke("generate", "--seed", "-1", "-o", str(out)), "Invalid value for '--seed'")
    assert not out.exists()


# -- defect 2: NaN and infinity pass range checks ---------------------------------------------


@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-inf", "Infinity", "1e400"])
@pytest.mark.parametrize(
    ("command", "option"),
    [("solve", "--time-limit"), ("solve", "--gap"), ("roll", "--time-limit"),
     ("explain", "--time-limit"), ("explain", "--solve-time")],
)
def test_nan_and_infinity_are_refused(tmp_path: Path, no_solve: None, command: str, option: str, value: str) -> None:
    out = tmp_path / "out.yaml"
    args = {
        "solve": ["solve", str(TWO_STATES), "-o", str(out)],
        "roll": ["roll", str(TWO_STATES), "--previous", str(SCHEDULE), "-o", str(out)],
        "explain": ["explain", str(TWO_STATES), str(SCHEDULE), "--suggest"],
    }[command]
    result = invoke(*args, option, value)
    assert_usage_error(result, f"Invalid value for '{option}'", "is not a finite number")
    assert not out.exists()


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (("solve", str(TWO_STATES), "--time-limit", SECRET), "--time-limit"),
        (("solve", str(TWO_STATES), "--seed", SECRET), "--seed"),
        (("solve", str(TWO_STATES), "--format", SECRET), "--format"),
        (("solve", str(TWO_STATES), "--lock-through", SECRET), "--lock-through"),
        (("explain", str(TWO_STATES), str(SCHEDULE), "--top", SECRET), "--top"),
        (("check", str(TWO_STATES), str(SCHEDULE), "--format", SECRET), "--format"),
        (("validate", str(TWO_STATES), "--format", SECRET), "--format"),
        (("generate", "--size", SECRET), "--size"),
        (("export", str(SCHEDULE), "--scenario", str(TWO_STATES), "--format", SECRET), "--format"),
    ],
)
def test_a_bad_option_value_is_not_echoed(no_solve: None, args: tuple[str, ...], option: str) -> None:
    result = invoke(*args)
    assert_usage_error(result, f"Invalid value for '{option}'")
    assert "Jordan" not in result.output
    assert "SECRET" not in result.output


def test_an_id_shaped_bad_choice_is_named() -> None:
    result = invoke("solve", str(TWO_STATES), "--format", "xml")
    assert_usage_error(result, "'xml' is not one of 'yaml', 'json'")


def test_stray_arguments_are_not_echoed(no_solve: None) -> None:
    # `--lock Jordan Smith` typed without quotes: "Smith" is an extra argument.
    result = invoke("solve", str(TWO_STATES), "--from", str(SCHEDULE), "--lock", "Jordan", "Smith", "SECRET-PHI-123")
    assert_usage_error(result, "unexpected extra argument", "quote a value that contains spaces")
    assert "Smith" not in result.output
    assert "SECRET" not in result.output


# -- defect 3: an output that would replace an input -------------------------------------------


def test_solve_refuses_to_write_over_its_scenario(inputs: tuple[Path, Path], no_solve: None) -> None:
    scenario, _ = inputs
    result = invoke("solve", str(scenario), "-o", str(scenario), *QUICK)
    assert_usage_error(result, f"-o {scenario} is the scenario", "choose another path")


def test_the_same_file_by_another_name_is_recognised(
    inputs: tuple[Path, Path], no_solve: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    scenario, _ = inputs
    monkeypatch.chdir(scenario.parent)
    (scenario.parent / "sub").mkdir()
    result = invoke("solve", "week.yaml", "-o", "sub/../week.yaml", *QUICK)
    assert_usage_error(result, "is the scenario")
    linked = scenario.parent / "linked.yaml"
    os.link(scenario, linked)
    result = invoke("solve", "week.yaml", "-o", "linked.yaml", *QUICK)
    assert_usage_error(result, "-o linked.yaml is the scenario")


def test_solve_refuses_to_write_over_the_schedule_in_force(inputs: tuple[Path, Path], no_solve: None) -> None:
    scenario, schedule = inputs
    result = invoke("solve", str(scenario), "--from", str(schedule), "-o", str(schedule), *QUICK)
    assert_usage_error(result, "is the --from schedule")


def test_roll_refuses_to_write_over_last_weeks_schedule(inputs: tuple[Path, Path], no_solve: None) -> None:
    scenario, schedule = inputs
    result = invoke("roll", str(scenario), "--previous", str(schedule), "-o", str(schedule), *QUICK)
    assert_usage_error(result, "is the --previous schedule")


def test_solve_export_refuses_a_folder_where_it_would_replace_an_input(inputs: tuple[Path, Path], no_solve: None) -> None:
    scenario, _ = inputs
    renamed = scenario.parent / "roster.csv"  # a scenario named as the export's CSV
    scenario.rename(renamed)
    try:
        result = invoke("solve", str(renamed), "--export", str(scenario.parent), *QUICK)
        assert_usage_error(result, f"--export {renamed} is the scenario")
    finally:
        renamed.rename(scenario)


def test_solve_export_refuses_to_replace_the_schedule_it_writes(tmp_path: Path, no_solve: None) -> None:
    out = tmp_path / "roster.html"
    result = invoke("solve", str(TWO_STATES), "-o", str(out), "--export", str(tmp_path), *QUICK)
    assert_usage_error(result, "is the -o schedule")


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "html", "ics", "all"])
@pytest.mark.parametrize("which", ["scenario", "schedule"])
def test_export_refuses_to_write_over_an_input(inputs: tuple[Path, Path], fmt: str, which: str) -> None:
    scenario, schedule = inputs
    target = scenario if which == "scenario" else schedule
    result = invoke("export", str(schedule), "--scenario", str(scenario), "--format", fmt, "-o", str(target))
    assert_usage_error(result, f"-o {target} is the {which}")


# -- defect 4: outputs that cannot be written ---------------------------------------------------


def test_a_parent_that_is_a_file(tmp_path: Path, no_solve: None) -> None:
    (tmp_path / "afile").write_text("x")
    out = tmp_path / "afile" / "x.yaml"
    result = invoke("solve", str(TWO_STATES), "-o", str(out), *QUICK)
    assert_usage_error(result, f"cannot write {out}: Not a directory")


@pytest.mark.skipif(not Path("/proc/self").exists(), reason="needs /proc")
def test_a_folder_where_no_file_can_be_made(no_solve: None) -> None:
    result = invoke("solve", str(TWO_STATES), "-o", "/proc/iop-roster-test.yaml", *QUICK)
    assert_usage_error(result, "cannot write /proc/iop-roster-test.yaml: ")


@pytest.mark.skipif(not Path("/dev/null").exists(), reason="needs /dev/null")
def test_a_device_is_not_replaced(no_solve: None) -> None:
    result = invoke("solve", str(TWO_STATES), "-o", "/dev/null", *QUICK)
    assert_usage_error(result, "cannot write /dev/null: not a regular file")
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def _read_only_folder(path: Path) -> Path:
    """A folder no file can be created in, even by root (immutable), or skip."""
    path.mkdir()
    if os.geteuid() != 0:
        path.chmod(0o555)
        return path
    made = subprocess.run(["chattr", "+i", str(path)], capture_output=True, check=False) if shutil.which("chattr") else None
    if made is None or made.returncode != 0:
        pytest.skip("cannot make a read-only folder here (root without chattr +i)")
    return path


@pytest.fixture
def read_only(tmp_path: Path) -> Iterator[Path]:
    folder = _read_only_folder(tmp_path / "ro")
    yield folder
    if os.geteuid() == 0:
        subprocess.run(["chattr", "-i", str(folder)], check=False)
    else:
        folder.chmod(0o755)


def test_a_read_only_folder(read_only: Path, no_solve: None) -> None:
    out = read_only / "x.yaml"
    result = invoke("solve", str(TWO_STATES), "-o", str(out), *QUICK)
    assert_usage_error(result, f"cannot write {out}: ")
    result = invoke("solve", str(TWO_STATES), "--export", str(read_only), *QUICK)
    assert_usage_error(result, f"cannot write {read_only}: ")
    assert list(read_only.iterdir()) == []


def test_export_to_a_read_only_folder(read_only: Path) -> None:
    for fmt, target in (("all", read_only), ("csv", read_only / "x.csv"), ("ics", read_only / "cal")):
        result = invoke("export", str(SCHEDULE), "--scenario", str(TWO_STATES), "--format", fmt, "-o", str(target))
        assert_usage_error(result, f"cannot write {target}: ")
    assert list(read_only.iterdir()) == []


def test_generate_to_a_path_under_a_file(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    out = tmp_path / "afile" / "g.yaml"
    assert_usage_error(invoke("generate", "-o", str(out)), f"cannot write {out}: Not a directory")


def test_a_write_that_fails_after_the_solve_exits_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The disk fills up during the solve: the write fails, with its path and reason.
    def full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(tmp_path / ".out.yaml.tmp"))

    monkeypatch.setattr("optimizer.cli.solve.save_schedule", full)
    out = tmp_path / "out.yaml"
    result = invoke("solve", str(TWO_STATES), "-o", str(out), *QUICK)
    assert_usage_error(result, f"cannot write {out}: No space left on device")
    assert not out.exists()


def test_an_export_that_fails_after_the_schedule_was_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def denied(*args: object, **kwargs: object) -> None:
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))

    monkeypatch.setattr("optimizer.export.export_all", denied)
    out, folder = tmp_path / "out.yaml", tmp_path / "export"
    result = invoke("solve", str(TWO_STATES), "-o", str(out), "--export", str(folder), *QUICK)
    assert_usage_error(result, f"cannot write {folder}: Permission denied", f"the schedule was written to {out}")
    assert out.read_text().startswith("format: iop-schedule/1")


def test_a_new_output_folder_is_made(tmp_path: Path) -> None:
    out = tmp_path / "new" / "dir" / "out.yaml"
    result = invoke("solve", str(TWO_STATES), "-o", str(out), "--export", str(tmp_path / "new" / "exp"), *QUICK)
    assert result.exit_code == 0, result.output
    assert out.exists()
    assert (tmp_path / "new" / "exp" / "roster.csv").exists()
    assert not list(tmp_path.rglob(".iop-roster-probe-*"))


def test_an_output_error_from_anywhere_exits_2() -> None:
    # models.io.write_atomic raises OutputError; a command that lets one through still exits 2.
    from models.errors import OutputError
    from optimizer.cli.common import friendly_errors

    @click.command()
    @friendly_errors
    def writes() -> None:
        raise OutputError(errno.EACCES, os.strerror(errno.EACCES), "out/week.yaml")

    result = CliRunner().invoke(writes, [])
    assert result.exit_code == 2, result.output
    assert "cannot write out/week.yaml: Permission denied" in result.stderr


# -- defect 5: one broken file among many --------------------------------------------------------


@pytest.mark.parametrize("output_format", ["text", "json"])
def test_validate_reports_every_file_when_one_meets_a_bug(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, output_format: str
) -> None:
    import optimizer.cli.validate as validate_module

    real = validate_module.load_scenario
    crash = tmp_path / "crash.yaml"
    shutil.copy(TWO_STATES, crash)
    broken = REPO / "scenarios" / "invalid" / "bad-state.yaml"

    def load(path: str) -> object:
        if Path(path) == crash:
            raise ValueError(f"{SECRET} in a message the user must not see")
        return real(path)

    monkeypatch.setattr(validate_module, "load_scenario", load)
    result = invoke("validate", str(broken), str(crash), str(TWO_STATES), "--format", output_format)
    assert result.exit_code == 70, result.output
    assert "SECRET" not in result.output
    assert f"{crash}: internal error: ValueError" in result.stderr
    if output_format == "json":
        reports = json.loads(result.stdout)
        assert [r["file"] for r in reports] == [str(broken), str(crash), str(TWO_STATES)]
        assert [r["valid"] for r in reports] == [False, False, True]
        assert reports[1]["internal_error"] == "ValueError"
        assert all(r["warnings"] == [] for r in reports)  # every entry has the key
    else:
        assert f"{broken}: INVALID" in result.stdout
        assert f"{TWO_STATES}: valid" in result.stdout


# -- defect 6: --lock values ------------------------------------------------------------------------


def test_a_lock_that_is_not_an_id_is_a_usage_error(no_solve: None) -> None:
    result = invoke("solve", str(TWO_STATES), "--from", str(SCHEDULE), "--lock", SECRET, *QUICK)
    assert_usage_error(result, "Invalid value for '--lock': not a session id")
    assert "Jordan" not in result.output
    assert "SECRET" not in result.output


def test_a_lock_on_an_unknown_session_is_a_usage_error(no_solve: None) -> None:
    result = invoke("solve", str(TWO_STATES), "--from", str(SCHEDULE), "--lock", "S0001", "--lock", "S9999", *QUICK)
    assert_usage_error(result, "no session with id S9999 in the --from schedule")
    assert "S0001" not in result.stderr


def test_a_lock_on_a_known_session_solves(tmp_path: Path) -> None:
    out = tmp_path / "replan.yaml"
    result = invoke("solve", str(TWO_STATES), "--from", str(SCHEDULE), "--lock", "S0001", "-o", str(out), *QUICK)
    assert result.exit_code == 0, result.output
    assert out.exists()


# -- defect 7: a named pipe as an input ------------------------------------------------------------


def _executable() -> str:
    found = shutil.which("iop-roster")
    if found is not None:
        return found
    beside = Path(sys.executable).parent / "iop-roster"
    assert beside.exists(), "iop-roster is not installed in this environment"
    return str(beside)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
@pytest.mark.parametrize("command", ["validate", "solve"])
def test_a_named_pipe_is_refused_not_waited_on(tmp_path: Path, command: str) -> None:
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    try:
        ran = subprocess.run(
            [_executable(), command, str(fifo), *(("-o", str(tmp_path / "o.yaml"), *QUICK) if command == "solve" else ())],
            capture_output=True, text=True, timeout=15, check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("the command waited on the pipe")
    assert ran.returncode == 2, ran.stderr
    assert "Traceback" not in ran.stderr
    assert str(fifo) in ran.stdout + ran.stderr


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize(
    "args",
    [("schema",), ("validate", str(TWO_STATES)), ("validate", str(TWO_STATES), "--format", "json"),
     ("check", str(TWO_STATES), str(SCHEDULE)), ("solve", str(TWO_STATES), *QUICK)],
    ids=["schema", "validate", "validate-json", "check", "solve"],
)
def test_a_full_stdout_is_exit_2_not_a_crash(args: tuple[str, ...]) -> None:
    with open("/dev/full", "w") as full:
        ran = subprocess.run([_executable(), *args], stdout=full, stderr=subprocess.PIPE, text=True, timeout=120, check=False)
    assert ran.returncode == 2, ran.stderr
    assert "Traceback" not in ran.stderr
    assert "Exception ignored" not in ran.stderr
    assert "cannot write stdout: No space left on device" in ran.stderr


def test_roll_and_from_warn_of_another_programs_schedule(tmp_path: Path) -> None:
    # QA 2026-11-28: a schedule of another program was taken as last week's without a word.
    from models.io import load_schedule, save_schedule

    schedule = load_schedule(SCHEDULE)
    other = tmp_path / "other.schedule.yaml"
    save_schedule(schedule.model_copy(update={"scenario": schedule.scenario.model_copy(update={"name": "Another IOP"})}), other)
    for command in (["roll", str(TWO_STATES), "--previous", str(other)], ["solve", str(TWO_STATES), "--from", str(other)]):
        result = invoke(*command, "-o", str(tmp_path / "out.yaml"), "--time-limit", "1", "--workers", "1")
        assert result.exit_code == 0, result.output
        assert f"{other} was written for a program of another name" in " ".join(result.output.split())
        assert "Another IOP" not in result.output
    same = invoke("roll", str(TWO_STATES), "--previous", str(SCHEDULE), "-o", str(tmp_path / "out.yaml"), "--time-limit", "1", "--workers", "1")
    assert "another name" not in same.output
