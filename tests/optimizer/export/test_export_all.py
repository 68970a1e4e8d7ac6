"""``export_all``: every format into one folder, for any schedule, byte-stable where it can be."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from models.errors import InvalidDocument
from models.scenario import Scenario
from models.schedule import Schedule
from optimizer.export import export_all
from optimizer.export.html import html_text
from optimizer.export.xlsx import xlsx_bytes


def test_export_all_writes_every_format(tmp_path: Path, scenario: Scenario, schedule: Schedule) -> None:
    written = export_all(scenario, schedule, tmp_path / "out")
    names = [path.relative_to(tmp_path / "out").as_posix() for path in written]
    assert names[-3:] == ["roster.csv", "roster.xlsx", "roster.html"]
    assert sorted(names[:-3]) == sorted(
        [f"calendars/participant-P000{i}.ics" for i in range(1, 8)] + ["calendars/therapist-T01.ics", "calendars/therapist-T02.ics"]
    )
    assert all(path.is_file() and path.stat().st_size > 0 for path in written)


def test_an_empty_schedule_exports_without_sessions(
    tmp_path: Path, scenario: Scenario, make_schedule: Callable[..., Schedule]
) -> None:
    empty = make_schedule([], unmet=[{"participant": "P0001", "need": "process", "missing": 2, "reasons": ["no therapist"]}])
    written = export_all(scenario, empty, tmp_path)
    assert len(written) == 12
    assert (tmp_path / "roster.csv").read_text(encoding="utf-8").count("\n") == 1  # the header only
    assert "no therapist" in (tmp_path / "roster.html").read_text(encoding="utf-8")


def test_a_session_ending_at_midnight(tmp_path: Path, scenario: Scenario, make_schedule: Callable[..., Schedule]) -> None:
    late = make_schedule(
        [{"kind": "individual", "therapist": "T01", "day": "fri", "start": "23:00", "end": "24:00", "participants": ["P0001"]}]
    )
    export_all(scenario, late, tmp_path)
    calendar = (tmp_path / "calendars" / "participant-P0001.ics").read_text(encoding="utf-8")
    # 23:00-24:00 New York (EST) is 22:00-23:00 in Chicago.
    assert "DTSTART;TZID=America/Chicago:20261204T220000" in calendar
    assert "DTEND;TZID=America/Chicago:20261204T230000" in calendar
    assert 'id="session-S0001"' in (tmp_path / "roster.html").read_text(encoding="utf-8")


def test_report_and_workbook_are_deterministic(scenario: Scenario, schedule: Schedule) -> None:
    assert html_text(scenario, schedule) == html_text(scenario, schedule)
    assert len(xlsx_bytes(scenario, schedule)) == len(xlsx_bytes(scenario, schedule))


def test_an_unknown_format_is_refused(tmp_path: Path, scenario: Scenario, schedule: Schedule) -> None:
    from optimizer.export import export

    with pytest.raises(ValueError, match=r"unknown export format 'pdf' \(one of ics, csv, xlsx, html\)"):
        export(scenario, schedule, "pdf", tmp_path / "x.pdf")  # type: ignore[arg-type]


def test_the_library_refuses_a_session_that_does_not_end_after_it_starts(
    tmp_path: Path, scenario: Scenario, make_schedule: Callable[..., Schedule]
) -> None:
    # QA 2026-11-28: exported as a calendar event ending before it began.
    inverted = make_schedule(
        [{"kind": "individual", "therapist": "T01", "day": "fri", "start": "23:00", "end": "22:00", "participants": ["P0001"]}]
    )
    with pytest.raises(InvalidDocument, match=r"sessions\[0\] \(id S0001\)\.end: 22:00 is not after the start 23:00"):
        export_all(scenario, inverted, tmp_path / "out")
    assert not (tmp_path / "out").exists()
