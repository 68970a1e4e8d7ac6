"""``iop-roster validate`` and ``iop-roster schema`` (``optimizer/cli/validate.py``)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from models.schema import json_schema_text
from optimizer.cli import main

REPO = Path(__file__).resolve().parents[2]
SAMPLES = sorted((REPO / "scenarios").glob("*.yaml"))
INVALID = sorted(p for p in (REPO / "scenarios" / "invalid").iterdir() if p.suffix in {".yaml", ".json"})


def run(*args: str) -> Result:
    """Run the command line in-process (click's runner), exceptions propagating."""
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def expectations(path: Path) -> tuple[list[str], list[str]]:
    """Lines ``X.expected`` says must appear, and those (``! ``-prefixed) that must not."""
    lines = [line for line in path.with_suffix(".expected").read_text(encoding="utf-8").splitlines() if line.strip()]
    present = [line for line in lines if not line.startswith("! ")]
    absent = [line[2:] for line in lines if line.startswith("! ")]
    return present, absent


def test_there_are_samples_and_broken_files() -> None:
    assert REPO / "scenarios" / "demo.yaml" in SAMPLES
    assert len(INVALID) >= 8
    for path in INVALID:
        assert path.with_suffix(".expected").is_file(), f"{path.name} has no .expected beside it"


# --------------------------------------------------------------------------- valid files


@pytest.mark.parametrize("path", SAMPLES, ids=[p.name for p in SAMPLES])
def test_every_sample_is_valid(path: Path) -> None:
    result = run("validate", str(path))
    assert result.exit_code == 0, result.output
    assert f"{path}: valid - " in result.output
    assert "error:" not in result.output


def test_demo_summary_and_no_warnings() -> None:
    result = run("validate", str(REPO / "scenarios" / "demo.yaml"))
    assert result.exit_code == 0
    assert "16 participants, 4 therapists, 6 group types; states IL, NY" in result.output
    assert "needs: 94 group sessions, 22 appointments" in result.output
    assert "states without a licensed therapist: none" in result.output
    assert "warning" not in result.output


def test_all_samples_at_once() -> None:
    result = run("validate", *map(str, SAMPLES))
    assert result.exit_code == 0
    assert result.output.count(": valid - ") == len(SAMPLES)


def test_a_warning_is_printed_but_the_file_is_valid(tmp_path: Path) -> None:
    text = (REPO / "scenarios" / "demo.yaml").read_text(encoding="utf-8")
    path = tmp_path / "texas.yaml"
    path.write_text(text.replace("  - id: P0005\n    state: NY", "  - id: P0005\n    state: TX"), encoding="utf-8")
    result = run("validate", str(path))
    assert result.exit_code == 0, result.output
    assert "states without a licensed therapist: TX" in result.output
    assert f"warning: {path}: participants[4] (id P0005).state: no therapist is licensed in TX" in result.output


# --------------------------------------------------------------------------- broken files


@pytest.mark.parametrize("path", INVALID, ids=[p.name for p in INVALID])
def test_every_broken_file_is_reported(path: Path) -> None:
    result = run("validate", str(path))
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert f"{path}: INVALID (" in result.output
    present, absent = expectations(path)
    assert present, f"{path.with_suffix('.expected').name} lists nothing"
    for line in present:
        assert line in result.output, f"{path.name}: missing {line!r}"
    for text in absent:
        assert text not in result.output, f"{path.name}: echoed {text!r}"


def test_valid_and_broken_together_exit_2_and_report_both() -> None:
    demo, broken = REPO / "scenarios" / "demo.yaml", REPO / "scenarios" / "invalid" / "duplicate-ids.yaml"
    result = run("validate", str(demo), str(broken))
    assert result.exit_code == 2
    assert f"{demo}: valid - " in result.output
    assert f"{broken}: INVALID (3 error(s))" in result.output


def test_missing_file(tmp_path: Path) -> None:
    result = run("validate", str(tmp_path / "nope.yaml"))
    assert result.exit_code == 2
    assert f"{tmp_path / 'nope.yaml'}: file not found" in result.output


def test_a_folder_among_the_files_is_reported_with_the_others(tmp_path: Path) -> None:
    # QA 2026-11-28: a folder aborted the whole command with a usage error, and --format json
    # printed nothing; now it is one more file that is not valid.
    folder = tmp_path / "week.yaml"
    folder.mkdir()
    result = run("validate", str(SAMPLES[0]), str(folder))
    assert result.exit_code == 2
    assert f"{SAMPLES[0].name}: valid" in result.output
    assert f"{folder}: is a directory, not a file" in result.output
    as_json = json.loads(run("validate", "--format", "json", str(SAMPLES[0]), str(folder)).output)
    assert [entry["valid"] for entry in as_json] == [True, False]


def test_an_unquoted_number_for_an_id_says_to_quote_it(tmp_path: Path) -> None:
    # QA 2026-11-28: "id: 010" was reported as "got 10", a value nobody typed, with no hint.
    text = (REPO / "scenarios" / "demo.yaml").read_text(encoding="utf-8").replace("id: P0001", "id: 010", 1)
    assert "id: 010" in text
    broken = tmp_path / "numeric.yaml"
    broken.write_text(text, encoding="utf-8")
    result = run("validate", str(broken))
    assert result.exit_code == 2
    assert "id: Input should be a valid string (got 10); an unquoted 010 or 0x1F is read as a number: write ids in quotes" in result.output


def test_no_file_is_a_usage_error() -> None:
    result = run("validate")
    assert result.exit_code == 2
    assert "Missing argument 'FILES...'" in result.output


# --------------------------------------------------------------------------- --format json


def test_json_output() -> None:
    demo, broken = REPO / "scenarios" / "demo.yaml", REPO / "scenarios" / "invalid" / "unknown-timezone.yaml"
    result = CliRunner().invoke(main, ["validate", str(demo), str(broken), "--format", "json"])
    assert result.exit_code == 2
    report = json.loads(result.stdout)
    assert [entry["valid"] for entry in report] == [True, False]
    summary = report[0]
    assert summary["participants"] == 16 and summary["therapists"] == 4 and summary["group_types"] == 6
    assert summary["states"] == ["IL", "NY"] and summary["states_without_licensed_therapist"] == []
    assert summary["warnings"] == []
    assert summary["demand_therapist_hours"] < summary["available_therapist_hours"]
    errors = report[1]["errors"]
    # The message's wording is the models' (tests/models pin it); here: the shape of the entry.
    assert {key: errors[0][key] for key in ("file", "path", "severity")} == {
        "file": str(broken),
        "path": "program.timezone",
        "severity": "error",
    }
    assert "is not an IANA time zone" in errors[0]["message"]
    assert "America/New_York" in errors[0]["message"]
    assert len(errors) == 3


def test_every_json_entry_has_warnings() -> None:
    # Found by QA: an invalid file's entry had no "warnings" key, which the docs promise.
    demo, broken = REPO / "scenarios" / "demo.yaml", REPO / "scenarios" / "invalid" / "unknown-timezone.yaml"
    result = CliRunner().invoke(main, ["validate", str(broken), str(demo), "--format", "json"])
    report = json.loads(result.stdout)
    assert [entry["valid"] for entry in report] == [False, True]
    assert report[0]["warnings"] == []
    assert all(issue["severity"] == "error" for issue in report[0]["errors"])
    assert all(isinstance(entry["warnings"], list) for entry in report)


# --------------------------------------------------------------------------- schema and help


@pytest.mark.parametrize("kind", ["scenario", "schedule"])
def test_schema_command(kind: str) -> None:
    result = run("schema", kind)
    assert result.exit_code == 0
    assert result.output == json_schema_text(kind)  # type: ignore[arg-type]


def test_schema_defaults_to_scenario_and_rejects_other_kinds() -> None:
    assert run("schema").output == json_schema_text("scenario")
    result = CliRunner().invoke(main, ["schema", "roster"])
    assert result.exit_code == 2
    assert "'roster' is not one of 'scenario', 'schedule'" in result.output


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((), "iop-roster validate scenarios/demo.yaml"),
        (("validate",), "iop-roster validate scenarios/*.yaml --format json"),
        (("schema",), "iop-roster schema scenario > scenario.schema.json"),
    ],
)
def test_help_everywhere_with_examples(args: tuple[str, ...], expected: str) -> None:
    for flag in ("--help", "-h"):
        result = run(*args, flag)
        assert result.exit_code == 0
        assert expected in result.output


# --------------------------------------------------------------------------- the installed command


def _installed() -> str:
    beside_python = Path(sys.executable).parent / "iop-roster"
    found = str(beside_python) if beside_python.exists() else shutil.which("iop-roster")
    if found is None:
        pytest.skip("the iop-roster console script is not installed (pip install -e .)")
    return found


def test_real_process_exit_codes_and_no_traceback() -> None:
    command = _installed()
    good = subprocess.run([command, "validate", "scenarios/demo.yaml"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert good.returncode == 0, good.stderr
    # program.name is free text that could be a name: the line leaves it out.
    assert "scenarios/demo.yaml: valid - week of 2026-12-07" in good.stdout
    bad = subprocess.run(
        [command, "validate", "scenarios/invalid/yaml-syntax.yaml", "scenarios/invalid/many-problems.yaml"],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )
    assert bad.returncode == 2
    assert "Traceback" not in bad.stdout + bad.stderr
    assert "scenarios/invalid/yaml-syntax.yaml: line 8, column 8: not valid YAML" in bad.stdout
    assert "scenarios/invalid/many-problems.yaml: INVALID (17 error(s))" in bad.stdout
