"""Reading and writing scenario and schedule files (``models/io.py``)."""

from __future__ import annotations

import hashlib
import json
from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models.clock import DAYS, format_time
from models.errors import InvalidDocument, OutputError
from models.io import (
    canonical_json,
    dump_text,
    format_of,
    load_scenario,
    load_schedule,
    parse_text,
    read_document,
    save_schedule,
    scenario_from_data,
    scenario_text,
    schedule_text,
    write_atomic,
)
from models.scenario import US_STATES, Scenario
from models.schedule import Schedule

REPO = Path(__file__).resolve().parents[2]
SHARED_EXAMPLES = Path(__file__).parents[2] / ".." / "shared" / "examples"

# --------------------------------------------------------------------------- parsing


def test_yaml_is_read_as_yaml_1_2() -> None:
    """YAML 1.1 readers turn 10:30 into 630 and no into False; a 1.2 reader keeps strings."""
    data = parse_text("start: 10:30\nanswer: no\nstate: NO\nweek_start: 2026-12-07\n", "yaml")
    assert data == {"start": "10:30", "answer": "no", "state": "NO", "week_start": date(2026, 12, 7)}


def test_yaml_syntax_error_names_line_and_column() -> None:
    with pytest.raises(InvalidDocument, match=r"f\.yaml: line 2, column 1: not valid YAML: expected ',' or '\]'") as caught:
        parse_text("days: [mon, tue\n", "yaml", "f.yaml")
    assert caught.value.file == "f.yaml"


def test_duplicate_yaml_keys_are_errors_without_their_values() -> None:
    text = "participants:\n  - id: P0001\n    id: Jane Doe\n"
    with pytest.raises(InvalidDocument, match='line 3, column 5: not valid YAML: found duplicate key "id"') as caught:
        parse_text(text, "yaml", "f.yaml")
    assert "Jane" not in str(caught.value)


def test_json_syntax_error() -> None:
    with pytest.raises(InvalidDocument, match=r"f\.json: line 1, column 9: not valid JSON: Expecting property name"):
        parse_text('{"a": 1,}', "json", "f.json")


def test_format_of() -> None:
    assert format_of("week.JSON") == "json"
    assert format_of(Path("a/week.yaml")) == "yaml"
    assert format_of("week.yml") == "yaml"


def test_read_document_errors(tmp_path: Path) -> None:
    with pytest.raises(InvalidDocument, match="file not found"):
        read_document(tmp_path / "missing.yaml")
    with pytest.raises(InvalidDocument, match="is a directory, not a file"):
        read_document(tmp_path)
    latin1 = tmp_path / "latin1.yaml"
    latin1.write_bytes("program: {name: Caf\u00e9}\n".encode("latin-1"))
    with pytest.raises(InvalidDocument, match="is not UTF-8 text"):
        read_document(latin1)


def test_read_document_accepts_a_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + b'{"format": "iop-scenario/1"}')
    data, raw = read_document(path)
    assert data == {"format": "iop-scenario/1"}
    assert raw.startswith(b"\xef\xbb\xbf")


# --------------------------------------------------------------------------- loading and hashing


def test_load_scenario_hashes_the_file_bytes(tmp_path: Path, raw: dict[str, object]) -> None:
    path = tmp_path / "week.json"
    path.write_text(json.dumps(raw))
    loaded = load_scenario(path)
    assert loaded.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert loaded.file == str(path)
    assert loaded.scenario.program.name == "Test IOP"


def test_data_without_bytes_is_hashed_canonically(raw: dict[str, object]) -> None:
    reordered = dict(reversed(list(raw.items())))
    first, second = scenario_from_data(raw), scenario_from_data(reordered)
    assert first.sha256 == second.sha256 == hashlib.sha256(canonical_json(raw).encode()).hexdigest()


def test_a_schedule_naming_the_contents_digest_is_of_this_scenario(tmp_path: Path) -> None:
    # The service hashes the JSON it receives (content), the CLI the file (bytes): a schedule
    # the service made for demo.yaml is checked against demo.yaml with no "may have changed".
    from optimizer.check import check
    from optimizer.greedy import greedy_schedule

    loaded = load_scenario(REPO / "scenarios" / "demo.yaml")
    raw, _ = read_document(REPO / "scenarios" / "demo.yaml")
    assert loaded.content_sha256 == scenario_from_data(raw).sha256 != loaded.sha256
    assert loaded.digests() == {loaded.sha256, loaded.content_sha256}
    schedule = greedy_schedule(loaded.scenario)
    for digest, warned in ((loaded.content_sha256, False), (loaded.sha256, False), ("0" * 64, True)):
        stamped = schedule.model_copy(update={"scenario": schedule.scenario.model_copy(update={"sha256": digest})})
        report = check(loaded, stamped)
        assert any("may have changed" in w for w in report.warnings) is warned, digest


def test_invalid_file_names_itself(tmp_path: Path, raw: dict[str, object]) -> None:
    raw["program"]["week_start"] = "2026-12-09"  # type: ignore[index]
    path = tmp_path / "week.yaml"
    path.write_text(dump_text(raw, "yaml"))
    with pytest.raises(InvalidDocument) as caught:
        load_scenario(path)
    assert [str(i) for i in caught.value.issues] == [f"{path}: program.week_start: week_start 2026-12-09 is a wed, not a Monday"]


# --------------------------------------------------------------------------- writing


def test_dump_quotes_what_a_yaml_1_1_reader_would_misread() -> None:
    text = dump_text({"a": "10:30", "b": "no", "c": "07", "d": "P0001", "e": "ON", "f": "-1"}, "yaml")
    for quoted in ("'10:30'", "'no'", "'07'", "'ON'", "'-1'"):
        assert quoted in text
    assert "d: P0001" in text
    assert parse_text(text, "yaml") == {"a": "10:30", "b": "no", "c": "07", "d": "P0001", "e": "ON", "f": "-1"}


def test_write_atomic_leaves_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "out" / "week.schedule.yaml"
    write_atomic(target, "first\n")
    write_atomic(target, b"second\n")
    assert target.read_text() == "second\n"
    assert sorted(p.name for p in target.parent.iterdir()) == ["week.schedule.yaml"]


def test_write_atomic_failure_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "week.yaml"
    target.write_text("old\n")

    def fail(source: str, destination: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("models.io.os.replace", fail)
    with pytest.raises(OutputError, match=r"week\.yaml: cannot be written: disk full"):
        write_atomic(target, "new\n")
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["week.yaml"]


def _schedule() -> Schedule:
    return Schedule.model_validate({
        "format": "iop-schedule/1",
        "scenario": {"name": "Test IOP", "sha256": "0" * 64},
        "solver": {"status": "feasible", "objective": 3, "best_bound": 4, "gap": 0.25, "seed": 7},
        "sessions": [{"id": "S1", "kind": "group", "group_type": "process", "therapist": "T01",
                      "day": "tue", "start": "18:00", "end": "20:00", "participants": ["P0001", "P0002"]}],
        "unmet": [{"participant": "P0003", "need": "process", "missing": 1, "reasons": ["no room"]}],
        "summary": {"coverage": 0.75, "by_state": {"NY": 3}},
    })


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_schedule_round_trip(tmp_path: Path, suffix: str) -> None:
    schedule = _schedule()
    path = tmp_path / f"week.schedule{suffix}"
    save_schedule(schedule, path)
    assert load_schedule(path).model_dump() == schedule.model_dump()
    if suffix == ".yaml":
        assert "start: '18:00'" in path.read_text()
    else:
        assert json.loads(path.read_text())["sessions"][0]["start"] == "18:00"


def test_schedule_text_in_either_format() -> None:
    schedule = _schedule()
    assert parse_text(schedule_text(schedule, "json"), "json") == schedule.model_dump(mode="json")
    assert parse_text(schedule_text(schedule), "yaml") == schedule.model_dump(mode="json")


def test_load_schedule_reports_form_errors(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("format: iop-schedule/1\nscenario: {name: X}\nsolver: {status: solved}\n")
    with pytest.raises(InvalidDocument, match=r"s\.yaml: solver\.status: Input should be 'optimal'"):
        load_schedule(path)


def test_scenario_text_leaves_defaults_out(raw: dict[str, object]) -> None:
    scenario = scenario_from_data(raw).scenario
    text = scenario_text(scenario)
    assert "priority" not in text and "min_break_minutes" not in text and "objective" not in text
    assert "hours: '08:00-21:00'" in text
    assert scenario_from_data(parse_text(text, "yaml")).scenario == scenario


# --------------------------------------------------------------------------- the shared examples


def _example(name: str) -> Path:
    path = SHARED_EXAMPLES / name
    if not path.is_file():
        pytest.skip(f"{path} is not there (the shared folder beside the repository is missing)")
    return path


def test_shared_example_scenario_loads_unchanged() -> None:
    path = _example("two-states.yaml")
    loaded = load_scenario(path)
    assert loaded.warnings == []
    scenario = loaded.scenario
    assert scenario.program.name == "Harbor Virtual IOP"
    assert scenario.program.week_start == date(2026, 11, 30)
    assert [p.id for p in scenario.participants] == [f"P000{i}" for i in range(1, 8)]
    assert scenario.therapist("T01").licensed_states == ["IL", "NY"]
    assert scenario.group_type("relapse_prevention").requires_tags == ["sud"]


def test_shared_example_schedule_loads_and_names_its_scenario() -> None:
    scenario_path = _example("two-states.yaml")
    schedule = load_schedule(_example("two-states.schedule.yaml"))
    assert schedule.solver.status == "feasible"
    assert schedule.scenario.name == "Harbor Virtual IOP"
    # The schedule names its scenario by the sha256 of the scenario file's bytes.
    assert schedule.scenario.sha256 == load_scenario(scenario_path).sha256
    assert {s.kind for s in schedule.sessions} >= {"group", "individual"}
    assert schedule.unmet and schedule.unmet[0].participant == "P0002"


def test_repository_samples_round_trip() -> None:
    for path in sorted((REPO / "scenarios").glob("*.yaml")):
        scenario = load_scenario(path).scenario
        for fmt in ("yaml", "json"):
            again = scenario_from_data(parse_text(scenario_text(scenario, fmt), fmt)).scenario  # type: ignore[arg-type]
            assert again.model_dump() == scenario.model_dump(), (path.name, fmt)


# --------------------------------------------------------------------------- property: nothing lost

_IDS = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,7}", fullmatch=True)
_ZONES = st.sampled_from(["America/New_York", "America/Chicago", "America/Phoenix", "Europe/London", "UTC", "Asia/Kolkata"])
_STATES = st.sampled_from(sorted(US_STATES))
_QUALIFICATIONS = ["group_facilitation", "sud", "trauma", "prescriber", "adolescent"]
_TAGS = ["sud", "trauma", "veteran", "lgbtq"]
# Free text: letters, digits, punctuation, symbols and spaces, e.g. "no", "10:30", "# x", " a".
_TEXT = st.text(st.characters(codec="utf-8", categories=["L", "N", "P", "S", "Zs"]), min_size=1, max_size=30)


@st.composite
def _window(draw: st.DrawFn) -> str:
    start = draw(st.integers(0, 1439))
    end = draw(st.integers(start + 1, 1440))
    return f"{format_time(start)}-{format_time(end)}"


_AVAILABILITY = st.dictionaries(st.sampled_from(DAYS), st.lists(_window(), max_size=3), max_size=4)


def _maybe(draw: st.DrawFn, entry: dict[str, object], key: str, strategy: st.SearchStrategy[object]) -> None:
    """Set ``entry[key]`` from ``strategy`` or leave the key out (to exercise defaults)."""
    if draw(st.booleans()):
        entry[key] = draw(strategy)


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, object]:
    """Valid scenario documents as parsed data: every reference resolves, every range is ordered."""
    monday = draw(st.dates(date(2000, 1, 3), date(2040, 12, 31)))
    monday -= timedelta(days=monday.weekday())
    opening = draw(st.integers(0, 1380))
    closing = draw(st.integers(opening + 60, 1440))
    program: dict[str, object] = {
        "name": draw(_TEXT),
        "timezone": draw(_ZONES),
        "week_start": monday.isoformat(),
        "days": draw(st.lists(st.sampled_from(DAYS), min_size=1, unique=True)),
        "hours": f"{format_time(opening)}-{format_time(closing)}",
    }
    _maybe(draw, program, "slot_minutes", st.sampled_from([5, 10, 15, 20, 30, 50, 60, 120, 240]))
    _maybe(draw, program, "max_concurrent_sessions", st.integers(1, 50))

    group_ids = draw(st.lists(_IDS, min_size=1, max_size=3, unique=True))
    group_types = []
    for group_id in group_ids:
        duration = draw(st.integers(1, closing - opening))
        low = draw(st.integers(1, 12))
        group: dict[str, object] = {
            "id": group_id,
            "duration_minutes": duration,
            "size": {"min": low, "max": draw(st.integers(low, 15))},
        }
        _maybe(draw, group, "name", _TEXT)
        _maybe(draw, group, "category", st.sampled_from(["psychoeducation", "process", "skills", "relapse_prevention", "specialty", "other"]))
        _maybe(draw, group, "population", st.sampled_from(["adult", "adolescent", "any"]))
        _maybe(draw, group, "start_times", st.lists(
            st.integers(opening, closing - duration).map(format_time), min_size=1, max_size=3, unique=True))
        _maybe(draw, group, "days", st.lists(st.sampled_from(DAYS), min_size=1, unique=True))
        _maybe(draw, group, "requires_qualifications", st.lists(st.sampled_from(_QUALIFICATIONS), unique=True, max_size=2))
        _maybe(draw, group, "requires_tags", st.lists(st.sampled_from(_TAGS), unique=True, max_size=2))
        _maybe(draw, group, "max_sessions_per_week", st.integers(0, 10))
        group_types.append(group)

    therapist_ids = draw(st.lists(_IDS, min_size=1, max_size=3, unique=True))
    therapists = []
    for therapist_id in therapist_ids:
        therapist: dict[str, object] = {"id": therapist_id}
        _maybe(draw, therapist, "name", _TEXT)
        _maybe(draw, therapist, "timezone", _ZONES)
        _maybe(draw, therapist, "licensed_states", st.lists(_STATES, unique=True, max_size=3))
        _maybe(draw, therapist, "qualifications", st.lists(st.sampled_from(_QUALIFICATIONS), unique=True, max_size=3))
        _maybe(draw, therapist, "availability", _AVAILABILITY)
        _maybe(draw, therapist, "max_hours_per_week", st.floats(0, 60, allow_nan=False))
        _maybe(draw, therapist, "max_sessions_per_day", st.integers(0, 8))
        _maybe(draw, therapist, "min_break_minutes", st.integers(0, 30))
        therapists.append(therapist)
    held = sorted({q for t in therapists for q in t.get("qualifications", [])})  # type: ignore[attr-defined]

    participant_ids = draw(st.lists(_IDS, min_size=1, max_size=4, unique=True))
    participants = []
    for participant_id in participant_ids:
        person: dict[str, object] = {
            "id": participant_id,
            "state": draw(_STATES),
            "population": draw(st.sampled_from(["adult", "adolescent"])),
        }
        _maybe(draw, person, "timezone", _ZONES)
        _maybe(draw, person, "tags", st.lists(st.sampled_from(_TAGS), unique=True, max_size=2))
        _maybe(draw, person, "availability", _AVAILABILITY)
        _maybe(draw, person, "needs", st.dictionaries(st.sampled_from(group_ids), st.integers(0, 3), max_size=3))
        minimum = draw(st.floats(0, 20, allow_nan=False))
        _maybe(draw, person, "hours_per_week", st.sampled_from([{"min": minimum}, {"min": minimum, "max": minimum + 5.5}]))
        low_days = draw(st.integers(0, 7))
        _maybe(draw, person, "days_per_week", st.sampled_from([{"min": low_days}, {"min": low_days, "max": 7}]))
        _maybe(draw, person, "max_sessions_per_day", st.integers(0, 4))
        appointments = []
        for _ in range(draw(st.integers(0, 2))):
            appointment: dict[str, object] = {
                "kind": draw(st.from_regex(r"[a-z][a-z0-9_\-]{0,9}", fullmatch=True).filter(lambda k: k != "group")),
                "duration_minutes": draw(st.integers(1, 180)),
            }
            by_qualification = draw(st.booleans())
            if held and by_qualification:
                appointment["qualification"] = draw(st.sampled_from(held))
            else:
                appointment["therapist"] = draw(st.sampled_from(therapist_ids))
            _maybe(draw, appointment, "count", st.integers(1, 3))
            _maybe(draw, appointment, "availability", _AVAILABILITY)
            appointments.append(appointment)
        if appointments:
            person["appointments"] = appointments
        others = [p for p in participant_ids if p != participant_id]
        if others:
            _maybe(draw, person, "avoid", st.lists(st.sampled_from(others), unique=True, max_size=2))
        named = {a.get("therapist") for a in appointments}
        free = [t for t in therapist_ids if t not in named]
        if free:
            _maybe(draw, person, "avoid_therapists", st.lists(st.sampled_from(free), unique=True, max_size=2))
        _maybe(draw, person, "preferred_therapists", st.lists(st.sampled_from(therapist_ids), unique=True, max_size=2))
        _maybe(draw, person, "max_group_size", st.integers(1, 12))
        _maybe(draw, person, "priority", st.integers(1, 3))
        participants.append(person)

    document: dict[str, object] = {
        "format": "iop-scenario/1",
        "program": program,
        "group_types": group_types,
        "therapists": therapists,
        "participants": participants,
    }
    _maybe(draw, document, "objective", st.fixed_dictionaries(
        {}, optional={"continuity": st.integers(0, 9), "sessions": st.integers(0, 9), "hours_shortfall": st.integers(0, 9)}))
    return document


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document=scenarios())
def test_generated_scenarios_round_trip_through_yaml_and_json(document: dict[str, object]) -> None:
    """Any valid scenario, written as YAML or JSON and read back, is the same scenario."""
    scenario = scenario_from_data(document).scenario
    assert isinstance(scenario, Scenario)
    expected = scenario.model_dump()
    for fmt in ("yaml", "json"):
        text = scenario_text(scenario, fmt)  # type: ignore[arg-type]
        again = scenario_from_data(parse_text(text, fmt)).scenario  # type: ignore[arg-type]
        assert again.model_dump() == expected, fmt
