"""``iop-roster export`` and ``iop-roster diff`` end to end (click's runner, no subprocess)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from models.io import load_schedule, save_schedule
from optimizer.cli import main

DATA = Path(__file__).resolve().parents[1] / "optimizer" / "export" / "data"
SCENARIO = DATA / "two-states.yaml"
SCHEDULE = DATA / "two-states.schedule.yaml"


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_export_all_writes_every_format(runner: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = runner.invoke(main, ["export", str(SCHEDULE), "--scenario", str(SCENARIO), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "9 calendar(s)" in result.output
    assert sorted(p.name for p in out.iterdir()) == ["calendars", "roster.csv", "roster.html", "roster.xlsx"]
    assert len(list((out / "calendars").glob("participant-*.ics"))) == 7
    assert len(list((out / "calendars").glob("therapist-*.ics"))) == 2
    assert not list(out.rglob(".*.tmp")), "a temporary file was left behind"


@pytest.mark.parametrize(("fmt", "name"), [("csv", "s.schedule.csv"), ("xlsx", "s.schedule.xlsx"),
                                           ("html", "s.schedule.html"), ("ics", "s.schedule-calendars")])
def test_export_one_format_beside_the_schedule(runner: CliRunner, tmp_path: Path, fmt: str, name: str) -> None:
    schedule = tmp_path / "s.schedule.yaml"
    shutil.copy(SCHEDULE, schedule)
    result = runner.invoke(main, ["export", str(schedule), "--scenario", str(SCENARIO), "--format", fmt])
    assert result.exit_code == 0, result.output
    assert (tmp_path / name).exists()


def test_export_rejects_ids_the_scenario_lacks(runner: CliRunner, tmp_path: Path) -> None:
    schedule = load_schedule(SCHEDULE)
    schedule.sessions[0] = schedule.sessions[0].model_copy(update={"therapist": "T99", "participants": ["P0001", "P0999"]})
    path = tmp_path / "bad.schedule.yaml"
    save_schedule(schedule, path)
    result = runner.invoke(main, ["export", str(path), "--scenario", str(SCENARIO), "-o", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "sessions[0] (id S0001).therapist: T99 is not a therapist of the scenario" in result.output
    assert "P0999 is not a participant" in result.output
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("end", ["02:00", "03:00"])
def test_export_refuses_a_session_that_does_not_end_after_it_starts(runner: CliRunner, tmp_path: Path, end: str) -> None:
    # QA 2026-11-28: a hand-edited session 03:00-02:00 was exported as a calendar event that
    # ends before it begins (RFC 5545 refuses one) and a block of negative height.
    schedule = load_schedule(SCHEDULE)
    schedule.sessions[2] = schedule.sessions[2].model_copy(update={"start": "03:00", "end": end})
    path = tmp_path / "bad.schedule.yaml"
    save_schedule(schedule, path)
    for fmt in ("all", "ics", "csv"):
        result = runner.invoke(main, ["export", str(path), "--scenario", str(SCENARIO), "--format", fmt, "-o", str(tmp_path / "out")])
        assert result.exit_code == 2, result.output
        assert f"bad.schedule.yaml: sessions[2] (id S0003).end: {end} is not after the start 03:00" in result.output
        assert not (tmp_path / "out").exists()


def test_export_warns_when_the_schedule_was_solved_from_another_file(runner: CliRunner, tmp_path: Path) -> None:
    schedule = load_schedule(SCHEDULE)
    schedule.scenario.sha256 = "0" * 64
    path = tmp_path / "other.schedule.yaml"
    save_schedule(schedule, path)
    result = runner.invoke(main, ["export", str(path), "--scenario", str(SCENARIO), "--format", "csv",
                                  "-o", str(tmp_path / "r.csv")])
    assert result.exit_code == 0
    assert "warning" in result.output and "scenario.sha256" in result.output


def test_diff_of_a_schedule_with_itself(runner: CliRunner) -> None:
    result = runner.invoke(main, ["diff", str(SCHEDULE), str(SCHEDULE)])
    assert result.exit_code == 0
    assert result.output == "No changes: 4 session(s) identical.\n"


def test_diff_lists_a_handover_as_text_and_json(runner: CliRunner, tmp_path: Path) -> None:
    schedule = load_schedule(SCHEDULE)
    schedule.sessions[3] = schedule.sessions[3].model_copy(update={"therapist": "T02"})
    new = tmp_path / "new.schedule.yaml"
    save_schedule(schedule, new)

    text = runner.invoke(main, ["diff", str(SCHEDULE), str(new), "--scenario", str(SCENARIO)])
    assert text.exit_code == 0
    assert "0 opened, 0 closed, 1 changed, 3 unchanged" in text.output
    assert "~ S0004 process (wed 2026-12-02 18:00-20:00, T02): therapist T01 -> T02" in text.output
    assert "6 participant(s) moved" in text.output

    as_json = runner.invoke(main, ["diff", str(SCHEDULE), str(new), "--format", "json"])
    assert as_json.exit_code == 0
    data = json.loads(as_json.output)
    assert data["is_empty"] is False
    assert data["moved_participants"] == ["P0001", "P0003", "P0004", "P0005", "P0006", "P0007"]
    assert [t["therapist"] for t in data["therapists"]] == ["T01", "T02"]


def test_diff_of_two_programs_warns_without_their_names(runner: CliRunner, tmp_path: Path) -> None:
    # QA 2026-11-28: two unrelated programs' schedules were compared without a word.
    schedule = load_schedule(SCHEDULE)
    other = tmp_path / "other.schedule.yaml"
    save_schedule(schedule.model_copy(update={"scenario": schedule.scenario.model_copy(update={"name": "Another IOP"})}), other)
    result = runner.invoke(main, ["diff", str(SCHEDULE), str(other)])
    assert result.exit_code == 0
    assert "were written for programs of different names" in result.output
    assert "Another IOP" not in result.output and schedule.scenario.name not in result.output
    same = runner.invoke(main, ["diff", str(SCHEDULE), str(SCHEDULE)])
    assert "different names" not in same.output


def test_diff_rejects_a_missing_file(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(main, ["diff", str(SCHEDULE), str(tmp_path / "absent.yaml")])
    assert result.exit_code == 2
    assert "file not found" in result.output


def test_export_without_the_extra_says_what_to_install(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import builtins

    real_import = builtins.__import__

    def no_xlsxwriter(name: str, *args: object, **kwargs: object) -> object:
        if name == "xlsxwriter" or name.startswith("xlsxwriter."):
            raise ModuleNotFoundError(f"No module named {name!r}", name="xlsxwriter")
        return real_import(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.delitem(__import__("sys").modules, "optimizer.export.xlsx", raising=False)
    monkeypatch.setattr(builtins, "__import__", no_xlsxwriter)
    result = runner.invoke(main, ["export", str(SCHEDULE), "--scenario", str(SCENARIO), "--format", "xlsx",
                                  "-o", str(tmp_path / "r.xlsx")])
    assert result.exit_code == 2
    assert "pip install 'iop-roster[export]'" in result.output
