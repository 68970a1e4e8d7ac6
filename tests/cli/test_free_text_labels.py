"""Free-text labels (appointment kinds, tags, names) never reach messages, logs or reasons.

The privacy rule of ``models.scenario.quote``: a value of the file is shown only where it
cannot carry a name. A scenario whose kinds, tags and names are a person's name is solved,
checked, explained (with suggestions) and diffed; no message, table or reason names
them, and the data fields of the contract (``sessions[].kind``, ``unmet[].need``,
``scenario.name``) keep them as written. Exports render the roster's display names and
kinds as written.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from models.io import dump_text, load_schedule
from optimizer.cli import main

# Names typed where labels belong. "rx_special" and the ids are id-shaped: they show.
NAMES = ("Jordan", "Casey")

# Mon 08:00-21:00 New York, hourly grid. g (60 min, 2-3, Mon 17:00) requires a tag that P1
# and P2 carry and P3 lacks (not_eligible). P1 gets g with P2 and the visit with T1 at 18:00;
# nobody holds rx_special (meds: no_qualified_therapist); T3 works mornings only (late: no
# slot). P4 is free 17:00-18:00 only: one of its two appointments with T2 runs, the other is
# blocked by it (participant_busy, naming the booked appointment), and T2 is not preferred.
SCENARIO: dict[str, Any] = {
    "format": "iop-scenario/1",
    "program": {"name": "Jordan Smith Clinic", "timezone": "America/New_York", "week_start": "2026-11-30",
                "days": ["mon"], "hours": "08:00-21:00", "slot_minutes": 60},
    "group_types": [{"id": "g", "name": "Jordan Smith group", "duration_minutes": 60, "size": {"min": 2, "max": 3},
                     "start_times": ["17:00"], "requires_tags": ["Jordan Smith trauma"]}],
    "therapists": [
        {"id": "T1", "name": "Jordan Smith", "licensed_states": ["NY"], "availability": {"mon": ["08:00-21:00"]}},
        {"id": "T2", "name": "Casey Brown", "licensed_states": ["NY"], "availability": {"mon": ["08:00-21:00"]}},
        {"id": "T3", "name": "Casey Jones", "licensed_states": ["NY"], "availability": {"mon": ["08:00-12:00"]}},
    ],
    "participants": [
        {"id": "P1", "state": "NY", "population": "adult", "tags": ["Jordan Smith trauma"],
         "availability": {"mon": ["17:00-21:00"]}, "needs": {"g": 1},
         "appointments": [
             {"kind": "Jordan Smith visit", "therapist": "T1", "duration_minutes": 60},
             {"kind": "Jordan Smith meds", "qualification": "rx_special", "duration_minutes": 60},
             {"kind": "Jordan Smith late", "therapist": "T3", "duration_minutes": 60},
         ]},
        {"id": "P2", "state": "NY", "population": "adult", "tags": ["Jordan Smith trauma"],
         "availability": {"mon": ["17:00-21:00"]}, "needs": {"g": 1}},
        {"id": "P3", "state": "NY", "population": "adult", "tags": ["Casey Brown mood"],
         "availability": {"mon": ["17:00-21:00"]}, "needs": {"g": 1}},
        {"id": "P4", "state": "NY", "population": "adult", "availability": {"mon": ["17:00-18:00"]},
         "preferred_therapists": ["T1"],
         "appointments": [
             {"kind": "Casey Brown talk", "therapist": "T2", "duration_minutes": 60},
             {"kind": "Casey Brown walk", "therapist": "T2", "duration_minutes": 60},
         ]},
    ],
}
KINDS = {a["kind"] for p in SCENARIO["participants"] for a in p.get("appointments", [])}


def _clean(text: str, where: str) -> None:
    for name in NAMES:
        assert name not in text, f"{where} names {name!r}: {text}"


def _run(*args: str) -> Any:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, result.output
    _clean(result.stdout, f"{args[0]} stdout")
    _clean(result.stderr, f"{args[0]} stderr")
    return result


@pytest.fixture(scope="module")
def solved(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("pii")
    scenario = folder / "week.yaml"
    scenario.write_text(dump_text(SCENARIO, "yaml"))
    schedule = folder / "week.schedule.yaml"
    _run("solve", str(scenario), "-o", str(schedule), "--time-limit", "5", "--workers", "1")
    return scenario, schedule


def test_schedule_keeps_data_fields_and_reasons_name_nobody(solved: tuple[Path, Path]) -> None:
    _, schedule_file = solved
    schedule = load_schedule(str(schedule_file))
    assert schedule.scenario.name == "Jordan Smith Clinic"
    kinds = {s.kind for s in schedule.sessions}
    assert {"group", "Jordan Smith visit"} <= kinds and kinds & {"Casey Brown talk", "Casey Brown walk"}
    unmet = {(u.participant, u.need) for u in schedule.unmet}
    assert {("P1", "Jordan Smith meds"), ("P1", "Jordan Smith late"), ("P3", "g")} <= unmet
    assert any(p == "P4" and n.startswith("Casey Brown") for p, n in unmet)
    reasons = [reason for u in schedule.unmet for reason in u.reasons]
    assert reasons and any("a text of 17 characters" in reason for reason in reasons)
    assert any("a text of 16 characters" in reason for reason in reasons)  # the booked appointment of P4
    for reason in reasons:
        _clean(reason, "unmet[].reasons")


def test_check_and_explain_name_nobody(solved: tuple[Path, Path]) -> None:
    scenario, schedule = solved
    checked = _run("check", str(scenario), str(schedule))
    assert "P1  a text of 17 characters  missing 1" in checked.stdout
    explained = _run("explain", str(scenario), str(schedule), "--verbose", "--suggest", "--time-limit", "5",
                     "--solve-time", "0.5", "--trials", "2", "--workers", "1")
    assert "g requires tag(s) a text of 19 characters, which P3 does not carry" in explained.stdout
    assert "no therapist holds rx_special, which P1's a text of 17 characters needs" in explained.stdout
    # JSON for software: the need is a data field and keeps its value; the words do not.
    as_json = CliRunner().invoke(main, ["explain", str(scenario), str(schedule), "--format", "json"])
    assert as_json.exit_code == 0, as_json.output
    payload = json.loads(as_json.stdout)
    needs = payload["unmet"]
    assert {"Jordan Smith meds", "Jordan Smith late"} <= {need["need"] for need in needs}
    for need in needs:
        for reason in need["reasons"]:
            _clean(json.dumps(reason), "explain json reason")


def test_diff_names_nobody(solved: tuple[Path, Path], tmp_path: Path) -> None:
    scenario, schedule_file = solved
    data = load_schedule(str(schedule_file)).model_dump(mode="json")
    data["sessions"] = [s for s in data["sessions"] if s["kind"] == "group"]  # appointments closed
    data["unmet"] = []
    smaller = tmp_path / "smaller.yaml"
    smaller.write_text(dump_text(data, "yaml"))
    out = _run("diff", str(schedule_file), str(smaller), "--scenario", str(scenario)).stdout
    assert "Closed:" in out and "a text of 18 characters" in out


def test_exports_render_the_display_names_and_kinds_as_written(solved: tuple[Path, Path], tmp_path: Path) -> None:
    # Exports are the roster itself, rendered for the people who run the program: the
    # contract's display fields (program, group type and therapist names: "display only")
    # and the sessions' kinds show as written, like the schedule file's own data. The
    # quoting rule is for messages, logs and reasons (above).
    scenario, schedule = solved
    out = tmp_path / "out"
    _run("export", str(schedule), "--scenario", str(scenario), "--format", "all", "-o", str(out))
    therapist = (out / "calendars" / "therapist-T1.ics").read_text().replace("\r\n ", "")
    assert "Jordan Smith visit" in therapist
    html = (out / "roster.html").read_text()
    assert "Jordan Smith Clinic" in html and "Jordan Smith group" in html
    assert "Jordan Smith visit" in (out / "roster.csv").read_text()
