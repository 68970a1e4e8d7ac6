"""CSV: one row per participant and session, and no cell a spreadsheet would evaluate."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from models.scenario import Scenario
from models.schedule import Schedule, ScheduledSession
from optimizer.export.csv_export import COLUMNS, csv_rows, csv_text, defuse, write_csv


def test_one_row_per_participant_and_session(tmp_path: Path, scenario: Scenario, schedule: Schedule) -> None:
    path = write_csv(scenario, schedule, tmp_path / "roster.csv")
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
    assert tuple(rows[0]) == COLUMNS
    # 6 + 6 + 1 + 6 participants in S0001..S0004.
    assert len(rows) == 19
    assert {(r["session"], r["participant"]) for r in rows} == {
        (s.id, p) for s in schedule.sessions for p in s.participants
    }
    first = rows[0]
    assert first == {
        "session": "S0001", "day": "mon", "date": "2026-11-30", "start": "18:00", "end": "20:00",
        "timezone": "America/New_York", "kind": "group", "group_type": "process", "therapist": "T01",
        "participant": "P0001",
    }
    individual = [r for r in rows if r["session"] == "S0003"]
    assert individual == [{**individual[0], "kind": "individual", "group_type": "", "date": "2026-12-01"}]
    assert path.read_bytes().count(b"\r\n") == 20


@pytest.mark.parametrize("trigger", ["=", "+", "-", "@", "\t", "\r"])
def test_formula_triggers_are_defused(trigger: str) -> None:
    assert defuse(f"{trigger}1+1") == f"'{trigger}1+1"


@pytest.mark.parametrize("value", ["P0001", "2026-11-30", "18:00", "", "a=b", "S-1"])
def test_plain_cells_are_left_alone(value: str) -> None:
    assert defuse(value) == value


def test_a_hostile_hand_edited_schedule_cannot_inject_formulas(scenario: Scenario, schedule: Schedule) -> None:
    # Ids are validated (they start with a letter or digit), so build the session unchecked,
    # as a buggy or hostile producer could.
    hostile = ScheduledSession.model_construct(
        id="=HYPERLINK(\"http://evil\")", kind="group", group_type="@SUM(A1)", therapist="+T01",
        day="mon", start="09:00", end="11:00", participants=["-P0001", "\tP0002"],
    )
    tampered = schedule.model_copy(update={"sessions": [hostile]})
    rows = csv_rows(scenario, tampered)
    cells = [cell for row in rows for cell in row]
    assert not [cell for cell in cells if cell[:1] in {"=", "+", "-", "@", "\t", "\r"}]
    assert rows[0][0] == "'=HYPERLINK(\"http://evil\")"
    assert "'-P0001" in cells[9] and rows[1][9] == "'\tP0002"
    assert csv_text(scenario, tampered).splitlines()[1].startswith("\"'=HYPERLINK")
