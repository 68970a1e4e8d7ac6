"""``iop-roster check``: report, exit codes 0 / 1 / 2, text and JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from models.io import dump_text
from optimizer.cli import main

EXAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "examples"

# One adult in NY, one 60-minute individual appointment with T1 on Monday 18:00.
SCENARIO: dict[str, Any] = {
    "format": "iop-scenario/1",
    "program": {"name": "CLI IOP", "timezone": "America/New_York", "week_start": "2026-11-30",
                "days": ["mon", "tue"], "hours": "08:00-21:00"},
    "therapists": [{"id": "T1", "licensed_states": ["NY"], "availability": {"mon": ["17:00-21:00"]}}],
    "participants": [{"id": "P1", "state": "NY", "population": "adult", "availability": {"mon": ["17:00-21:00"]},
                      "appointments": [{"kind": "individual", "therapist": "T1", "duration_minutes": 60}]}],
}


def schedule(day: str = "mon") -> dict[str, Any]:
    return {
        "format": "iop-schedule/1",
        "scenario": {"name": "CLI IOP"},
        "solver": {"status": "optimal", "objective": 1},
        "sessions": [{"id": "S1", "kind": "individual", "therapist": "T1", "day": day, "start": "18:00",
                      "end": "19:00", "participants": ["P1"]}],
    }


@pytest.fixture()
def files(tmp_path: Path) -> tuple[Path, Path, Path]:
    scenario = tmp_path / "week.yaml"
    scenario.write_text(dump_text(SCENARIO, "yaml"))
    good = tmp_path / "good.schedule.yaml"
    good.write_text(dump_text(schedule("mon"), "yaml"))
    # On Tuesday neither T1 nor P1 is available: rule 2 and rule 4.
    bad = tmp_path / "bad.schedule.json"
    bad.write_text(dump_text(schedule("tue"), "json"))
    return scenario, good, bad


def invoke(*args: str) -> Any:
    return CliRunner().invoke(main, ["check", *args])


def test_clean_schedule_exits_0(files: tuple[Path, Path, Path]) -> None:
    scenario, good, _ = files
    result = invoke(str(scenario), str(good))
    assert result.exit_code == 0, result.output
    assert "OK" in result.output
    assert "coverage" in result.output and "peak_concurrent_sessions" in result.output


def test_violations_exit_1_grouped_by_rule(files: tuple[Path, Path, Path]) -> None:
    scenario, _, bad = files
    result = invoke(str(scenario), str(bad))
    assert result.exit_code == 1, result.output
    assert "2 violation(s)" in result.output
    text = result.output
    assert text.index("rule 2") < text.index("therapist_unavailable") < text.index("rule 4")
    assert text.index("rule 4") < text.index("participant_unavailable")
    assert "session S1 (tue 18:00-19:00)" in text


def test_json_format(files: tuple[Path, Path, Path]) -> None:
    scenario, _, bad = files
    result = invoke(str(scenario), str(bad), "--format", "json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["ok"] is False
    assert [(v["rule"], v["code"]) for v in report["violations"]] == [
        (2, "therapist_unavailable"), (4, "participant_unavailable"),
    ]
    assert report["levels"]["coverage"] == 1
    assert report["summary"]["delivered_appointments"] == 1
    assert report["schedule"] == str(bad)


def test_invalid_scenario_exits_2(files: tuple[Path, Path, Path], tmp_path: Path) -> None:
    _, good, _ = files
    broken = tmp_path / "broken.yaml"
    broken.write_text(dump_text({**SCENARIO, "therapists": [{"id": "T1", "licensed_states": ["XX"]}]}, "yaml"))
    result = invoke(str(broken), str(good))
    assert result.exit_code == 2
    assert "XX" in result.output


def test_invalid_schedule_exits_2(files: tuple[Path, Path, Path], tmp_path: Path) -> None:
    scenario, _, _ = files
    broken = tmp_path / "broken.schedule.yaml"
    broken.write_text(dump_text({**schedule(), "sessions": [{"id": "S1", "start": "25:00"}]}, "yaml"))
    result = invoke(str(scenario), str(broken))
    assert result.exit_code == 2


def test_missing_file_exits_2(files: tuple[Path, Path, Path], tmp_path: Path) -> None:
    scenario, _, _ = files
    result = invoke(str(scenario), str(tmp_path / "nowhere.yaml"))
    assert result.exit_code == 2
    assert "not found" in result.output


def test_unmet_disagreement_is_a_warning_not_a_failure(files: tuple[Path, Path, Path], tmp_path: Path) -> None:
    scenario, _, _ = files
    claimed = tmp_path / "claimed.schedule.yaml"
    claimed.write_text(dump_text(
        {**schedule(), "unmet": [{"participant": "P1", "need": "individual", "missing": 1}]}, "yaml"))
    result = invoke(str(scenario), str(claimed))
    assert result.exit_code == 0
    assert "warnings (1)" in result.output and "P1" in result.output


def test_two_states_example() -> None:
    scenario_file, schedule_file = EXAMPLES / "two-states.yaml", EXAMPLES / "two-states.schedule.yaml"
    if not (scenario_file.exists() and schedule_file.exists()):
        pytest.skip("shared/examples is not beside this checkout")
    result = invoke(str(scenario_file), str(schedule_file))
    assert result.exit_code == 0, result.output
    assert "warnings" not in result.output
