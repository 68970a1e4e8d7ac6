"""The workbook opens with openpyxl and its cells match the schedule."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest
from openpyxl.workbook.workbook import Workbook

from models.scenario import Scenario
from models.schedule import Schedule, ScheduledSession
from optimizer.export.xlsx import SHEETS, write_xlsx


@pytest.fixture
def workbook(tmp_path: Path, scenario: Scenario, schedule: Schedule) -> Workbook:
    return openpyxl.load_workbook(write_xlsx(scenario, schedule, tmp_path / "roster.xlsx"))


def _rows(workbook: Workbook, sheet: str) -> list[tuple[object, ...]]:
    return [row for row in workbook[sheet].iter_rows(values_only=True) if any(v is not None for v in row)]


def test_sheets_have_frozen_headers_and_widths(workbook: Workbook) -> None:
    assert tuple(workbook.sheetnames) == SHEETS
    for name in SHEETS:
        sheet = workbook[name]
        assert sheet.freeze_panes in {"A2", "B2"}
        widths = [dimension.width for dimension in sheet.column_dimensions.values() if dimension.width]
        assert widths and all(6 <= width <= 72 for width in widths)
    assert workbook["By therapist"].column_dimensions["J"].width >= len("P0001, P0003, P0004, P0005, P0006, P0007")


def test_by_therapist_matches_the_schedule(workbook: Workbook, schedule: Schedule) -> None:
    header, *rows = _rows(workbook, "By therapist")
    assert header[:6] == ("Therapist", "Day", "Date", "Start", "End", "Session")
    assert len(rows) == len(schedule.sessions)
    by_id = {s.id: s for s in schedule.sessions}
    for therapist, day, _date, start, end, session_id, kind, group_type, size, members in rows:
        session = by_id[str(session_id)]
        assert (therapist, day, start, end, kind) == (session.therapist, session.day, session.start, session.end, session.kind)
        assert group_type == (session.group_type or None)
        assert size == len(session.participants)
        assert members == ", ".join(session.participants)
    assert rows[0][2] == "2026-11-30"


def test_by_participant_matches_the_schedule(workbook: Workbook, schedule: Schedule) -> None:
    header, *rows = _rows(workbook, "By participant")
    assert len(rows) == sum(len(s.participants) for s in schedule.sessions)
    assert {(r[0], r[8]) for r in rows} == {(p, s.id) for s in schedule.sessions for p in s.participants}
    # P0001 is in Chicago: 18:00 in New York is 17:00 local.
    first = rows[0]
    assert first[0] == "P0001" and first[5] == "Mon 2026-11-30 17:00" and first[7] == "America/Chicago"


def test_grid_shows_each_session_in_its_slots(workbook: Workbook) -> None:
    rows = _rows(workbook, "Grid")
    header = rows[0]
    assert header[1] == "mon 2026-11-30"
    times = {row[0]: row for row in rows[1:]}
    assert "S0001 process T01 (6)" in str(times["18:00"][1])
    assert "S0001" in str(times["19:30"][1])
    assert times["20:00"][1] is None  # S0001 ends at 20:00
    assert "S0003 individual T01 (1)" in str(times["20:00"][2])
    assert all(row[4] is None for row in rows[1:])  # nothing on Thursday


def test_unmet_and_summary(workbook: Workbook, schedule: Schedule) -> None:
    header, *rows = _rows(workbook, "Unmet")
    assert [(r[0], r[1], r[2]) for r in rows] == [(u.participant, u.need, u.missing) for u in schedule.unmet]
    assert "avoid" in str(rows[0][3])
    summary = {row[0]: row[1:] for row in _rows(workbook, "Summary")}
    assert summary["Sessions"][0] == 4
    assert summary["Solver status"][0] == "feasible"
    assert summary["Process group (process)"][:3] == (14, 12, 0.857)
    assert summary["T01"][:2] == (4, 6)


def test_text_that_looks_like_a_formula_stays_text(tmp_path: Path, scenario: Scenario, schedule: Schedule) -> None:
    hostile = ScheduledSession.model_construct(
        id="=1+2", kind="group", group_type="process", therapist="T01", day="mon", start="09:00", end="11:00",
        participants=["P0003"],
    )
    path = write_xlsx(scenario, schedule.model_copy(update={"sessions": [hostile]}), tmp_path / "x.xlsx")
    cell = openpyxl.load_workbook(path)["By therapist"]["F2"]
    assert cell.value == "=1+2" and cell.data_type == "s"
