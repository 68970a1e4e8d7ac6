"""Whole-document rules, error reporting and warnings (``models/validation.py``)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import pytest

from models.errors import InvalidDocument, Issue
from models.io import scenario_from_data
from models.validation import (
    demand_hours,
    scenario_warnings,
    therapist_hours,
    validate_scenario,
    validate_schedule,
)

Raw = dict[str, object]
Problems = Callable[[object], list[str]]


def participant(raw: Raw, index: int) -> dict[str, object]:
    """The ``index``-th participant entry of ``raw``, to edit in place."""
    return raw["participants"][index]  # type: ignore[index, no-any-return]


def therapist(raw: Raw, index: int) -> dict[str, object]:
    """The ``index``-th therapist entry of ``raw``, to edit in place."""
    return raw["therapists"][index]  # type: ignore[index, no-any-return]


def group_type(raw: Raw, index: int) -> dict[str, object]:
    """The ``index``-th group type entry of ``raw``, to edit in place."""
    return raw["group_types"][index]  # type: ignore[index, no-any-return]


def warnings_of(raw: Raw) -> list[str]:
    """The warnings of a valid scenario, as ``path: message`` lines."""
    return [str(w) for w in scenario_from_data(raw).warnings]


# --------------------------------------------------------------------------- unique ids


def test_the_base_scenario_is_valid_without_warnings(raw: Raw, problems: Problems) -> None:
    assert problems(raw) == []
    assert warnings_of(raw) == []


@pytest.mark.parametrize("collection", ["group_types", "therapists", "participants"])
def test_duplicate_ids(raw: Raw, collection: str) -> None:
    entries = raw[collection]
    assert isinstance(entries, list)
    entries.append(dict(entries[0]))
    ident = entries[0]["id"]
    last = len(entries) - 1
    expected = f"{collection}[{last}] (id {ident}).id: duplicate id {ident}: {collection}[0] has it too; ids must be unique"
    with pytest.raises(InvalidDocument, match=re.escape(expected)):
        scenario_from_data(raw)


def test_the_same_id_in_different_lists_is_fine(raw: Raw, problems: Problems) -> None:
    # A group type may share its id with a qualification, a tag or an appointment kind.
    group_type(raw, 1)["id"] = "sud"
    participant(raw, 0)["needs"] = {"process": 2, "sud": 1}
    assert problems(raw) == []


# --------------------------------------------------------------------------- references


def test_needs_must_name_a_group_type(raw: Raw) -> None:
    participant(raw, 1)["needs"] = {"process": 1, "grief": 1}
    with pytest.raises(InvalidDocument, match=re.escape(
        "participants[1] (id P0002).needs.grief: needs group type 'grief', which no group_types entry defines"
    )):
        scenario_from_data(raw)


def test_avoid_must_name_a_participant(raw: Raw) -> None:
    participant(raw, 0)["avoid"] = ["P0002", "P0404"]
    with pytest.raises(InvalidDocument, match=re.escape(
        "participants[0] (id P0001).avoid[1]: avoid names P0404, which is not a participant id of this file"
    )):
        scenario_from_data(raw)


def test_avoid_cannot_name_oneself(raw: Raw) -> None:
    participant(raw, 0)["avoid"] = ["P0001"]
    with pytest.raises(InvalidDocument, match=re.escape(
        "participants[0] (id P0001).avoid[0]: a participant cannot avoid themself"
    )):
        scenario_from_data(raw)


@pytest.mark.parametrize("field", ["avoid_therapists", "preferred_therapists"])
def test_therapist_lists_must_name_therapists(raw: Raw, field: str) -> None:
    participant(raw, 1)[field] = ["T09"]
    with pytest.raises(InvalidDocument, match=re.escape(
        f"participants[1] (id P0002).{field}[0]: {field} names T09, which is not a therapist id of this file"
    )):
        scenario_from_data(raw)


def test_appointment_therapist_must_exist(raw: Raw) -> None:
    participant(raw, 0)["appointments"] = [{"kind": "individual", "therapist": "T09", "duration_minutes": 50}]
    with pytest.raises(InvalidDocument, match=re.escape(
        "participants[0] (id P0001).appointments[0].therapist: therapist T09 is not a therapist id of this file"
    )):
        scenario_from_data(raw)


def test_appointment_qualification_nobody_holds_is_a_warning(raw: Raw, problems: Problems) -> None:
    # The contract allows it (the prescriber is away this week): the appointment goes unmet.
    appointments = [{"kind": "medication", "qualification": "psychiatry", "duration_minutes": 30}]
    participant(raw, 1)["appointments"] = appointments
    assert problems(raw) == []
    assert warnings_of(raw) == [
        "participants[1] (id P0002).appointments[0].qualification: no therapist of this file holds qualification "
        "psychiatry: this appointment cannot be scheduled"
    ]
    therapist(raw, 0)["qualifications"] = ["group_facilitation", "sud", "psychiatry"]
    assert warnings_of(raw) == []


def test_appointment_therapist_on_avoid_list_is_a_warning(raw: Raw, problems: Problems) -> None:
    # Rule 4 forbids the session, not the file: the appointment goes unmet.
    participant(raw, 0)["avoid_therapists"] = ["T01"]
    assert problems(raw) == []
    assert warnings_of(raw) == [
        "participants[0] (id P0001).appointments[0].therapist: therapist T01 is on this participant's "
        "avoid_therapists: this appointment cannot be scheduled"
    ]


# --------------------------------------------------------------------------- starts inside program hours (warnings)


@pytest.mark.parametrize(
    ("start", "duration", "fits"),
    [
        ("08:00", 120, True),   # starts exactly at the opening
        ("19:00", 120, True),   # 19:00 + 2 h = 21:00: ends exactly at the close (end exclusive)
        ("19:30", 120, False),  # ends 21:30
        ("07:30", 60, False),   # starts before 08:00
        ("20:59", 1, True),
        ("20:59", 2, False),
    ],
)
def test_group_starts_fit_inside_program_hours(raw: Raw, problems: Problems, start: str, duration: int, fits: bool) -> None:
    # A start outside the hours is never used (rule 6), but the file is valid: one start list
    # may serve several programs. It is a warning, like a group day outside program.days.
    group = group_type(raw, 0)
    group["start_times"] = [start]
    group["duration_minutes"] = duration
    assert problems(raw) == []
    found = [w for w in warnings_of(raw) if ".start_times" in w]
    if fits:
        assert found == []
    else:
        assert found == [
            f"group_types[0] (id process).start_times[0]: a {duration}-minute session starting at {start} "
            "does not fit inside program.hours 08:00-21:00: no session starts then"
        ]


def test_groups_without_start_times_are_not_checked_against_hours(raw: Raw, problems: Problems) -> None:
    # Longer than the 13-hour program day: no grid start fits, but that is for the optimizer to report.
    group_type(raw, 1)["duration_minutes"] = 900
    assert problems(raw) == []


def test_broken_hours_are_one_error(raw: Raw, problems: Problems) -> None:
    raw["program"]["hours"] = "nine to five"  # type: ignore[index]
    group_type(raw, 0)["start_times"] = ["23:00"]
    assert problems(raw) == ["program.hours: a text of 12 characters is not a window of the form HH:MM-HH:MM"]


# --------------------------------------------------------------------------- robustness and reporting


@pytest.mark.parametrize("document", [None, [], "format: iop-scenario/1", 42])
def test_a_document_that_is_not_a_mapping(document: object) -> None:
    scenario, errors, warnings = validate_scenario(document, "x.yaml")
    assert scenario is None and warnings == []
    assert [str(e) for e in errors] == ["x.yaml: the document must be a mapping with format: iop-scenario/1 at the top"]


def test_wrong_shapes_do_not_crash_the_document_pass(raw: Raw, problems: Problems) -> None:
    raw["group_types"] = {"process": {}}
    raw["therapists"] = ["T01"]
    participant(raw, 0)["needs"] = ["process"]
    participant(raw, 0)["appointments"] = "weekly"
    found = problems(raw)
    assert "group_types: Input should be a valid list" in found
    # No internal class names (Therapist, SizeRange): the file's words.
    assert "therapists[0]: Input should be a mapping (key: value entries)" in found
    assert "participants[0] (id P0001).needs: Input should be a mapping (key: value entries)" in found
    assert "participants[0] (id P0001).appointments: Input should be a valid list (got 'weekly')" in found


def test_both_passes_report_together(raw: Raw, problems: Problems) -> None:
    """A model error and a dangling reference in one file: both come out."""
    participant(raw, 0)["state"] = "XX"
    participant(raw, 1)["avoid"] = ["P0777"]
    assert problems(raw) == [
        "participants[0] (id P0001).state: 'XX' is not a two-letter US state code (e.g. NY)",
        "participants[1] (id P0002).avoid[0]: avoid names P0777, which is not a participant id of this file",
    ]


def test_issues_name_the_file() -> None:
    issue = Issue("participants[3] (id P0004).availability.mon[0]", "bad window", "error", "week.yaml")
    assert str(issue) == "week.yaml: participants[3] (id P0004).availability.mon[0]: bad window"
    assert str(Issue("", "whole document", "error", None)) == "whole document"
    assert issue.as_dict() == {
        "file": "week.yaml",
        "path": "participants[3] (id P0004).availability.mon[0]",
        "message": "bad window",
        "severity": "error",
    }
    error = InvalidDocument("week.yaml", [issue])
    assert str(error).startswith("week.yaml is invalid (1 problem(s)):")


NAMES = ("Jordan", "Smith", "Casey", "Brown", "Morgan", "Riley")


def test_a_name_typed_where_an_id_belongs_is_never_echoed(raw: Raw, problems: Problems) -> None:
    """Ids are pseudonymous; a name in an id field is pointed at by position, never repeated."""
    participant(raw, 0)["id"] = "Jordan Smith"
    participant(raw, 0)["avoid"] = ["Casey Brown"]
    participant(raw, 0)["needs"] = {"process": 2, "Morgan Riley": 1}
    participant(raw, 1)["avoid_therapists"] = ["Dr Morgan"]
    participant(raw, 1)["preferred_therapists"] = ["Dr Riley"]
    participant(raw, 1)["appointments"] = [{"kind": "individual", "therapist": "Dr Brown", "duration_minutes": 50}]
    raw["participants"].append(dict(participant(raw, 0)))  # type: ignore[attr-defined]  # a duplicate name
    found = problems(raw)
    text = "\n".join(found)
    assert "participants[0].id: is not a valid id" in text
    assert "participants[0].avoid[0]: is not a valid id" in text
    assert "participants[0].needs.<key that is not a valid id>: a key that is not a valid id is not allowed here" in text
    assert "participants[1] (id P0002).avoid_therapists[0]: is not a valid id" in text
    assert "participants[1] (id P0002).appointments[0].therapist: is not a valid id" in text
    assert "participants[2].id: is not a valid id" in text
    for name in NAMES:
        assert name not in text


def test_free_text_fields_are_not_quoted(raw: Raw, problems: Problems) -> None:
    raw["program"]["name"] = "x" * 201  # type: ignore[index]
    therapist(raw, 0)["name"] = ["Dana", "M."]
    found = problems(raw)
    assert found == [
        "program.name: String should have at most 200 characters",
        "therapists[0] (id T01).name: Input should be a valid string",
    ]


# --------------------------------------------------------------------------- warnings


def test_warning_state_without_licensed_therapist(raw: Raw) -> None:
    participant(raw, 1)["state"] = "TX"
    assert warnings_of(raw) == [
        "participants[1] (id P0002).state: no therapist is licensed in TX: nothing can be scheduled for this participant"
    ]


def test_warning_needs_below_hours_minimum(raw: Raw) -> None:
    # P0001: process 2 x 120 + relapse prevention 60 + individual 50 = 350 min = 5.83333 h.
    participant(raw, 0)["hours_per_week"] = {"min": 9, "max": 19}
    assert warnings_of(raw) == [
        "participants[0] (id P0001).hours_per_week.min: needs and appointments add up to 5.83333 h, below the minimum of 9 h"
    ]
    participant(raw, 0)["hours_per_week"] = {"min": 5.8}  # 348 min <= 350 min: no warning
    assert warnings_of(raw) == []


def test_warning_wrong_population(raw: Raw) -> None:
    participant(raw, 1)["population"] = "adolescent"
    assert warnings_of(raw) == [
        "participants[1] (id P0002).needs.process: process is for adult participants and this participant is adolescent"
    ]


def test_any_population_serves_both(raw: Raw) -> None:
    group_type(raw, 0)["population"] = "any"
    participant(raw, 1)["population"] = "adolescent"
    assert warnings_of(raw) == []


def test_warning_missing_tags(raw: Raw) -> None:
    participant(raw, 1)["needs"] = {"process": 2, "relapse_prevention": 1}
    assert warnings_of(raw) == [
        "participants[1] (id P0002).needs.relapse_prevention: relapse_prevention requires tag(s) sud that this participant does not carry"
    ]
    participant(raw, 1)["needs"] = {"process": 2, "relapse_prevention": 0}  # a zero need asks nothing
    assert warnings_of(raw) == []


def test_warning_no_availability(raw: Raw) -> None:
    participant(raw, 1)["availability"] = {}
    assert warnings_of(raw) == ["participants[1] (id P0002).availability: no availability: nothing can be scheduled"]


def test_warning_group_type_nobody_can_lead(raw: Raw) -> None:
    group_type(raw, 1)["requires_qualifications"] = ["sud", "trauma"]
    assert warnings_of(raw) == [
        "group_types[1] (id relapse_prevention).requires_qualifications: no therapist holds all of these "
        "qualifications: this group type cannot run"
    ]


def test_warning_group_day_outside_program_days(raw: Raw) -> None:
    group_type(raw, 0)["days"] = ["mon", "sat", "sun"]
    assert warnings_of(raw) == ["group_types[0] (id process).days: sat, sun is not a program day: no session runs then"]


def test_warning_demand_above_supply(raw: Raw) -> None:
    # Supply: T01 only mon 12:00-13:00 = 1 h; T02 nothing.
    # Demand: appointments 50 + 30 = 80 min; groups at full size: P0001 process 2 x 120 / 10
    # + relapse prevention 60 / 10 + P0002 process 2 x 120 / 10 = 24 + 6 + 24 = 54 min.
    # (80 + 54) / 60 = 2.2333 h, rounded to 2.2.
    therapist(raw, 0)["availability"] = {"mon": ["12:00-13:00"]}
    therapist(raw, 1)["availability"] = {}
    assert warnings_of(raw) == [
        "demand of 2.2 participant-hours of one-to-one time plus group-leading hours exceeds the 1 therapist hours available"
    ]


def test_demand_and_supply_hours_by_hand(raw: Raw) -> None:
    scenario = scenario_from_data(raw).scenario
    # Demand as above: 134 min = 2.2 h.
    assert demand_hours(scenario) == 2.2
    # T01: mon and wed 12:00-21:00 = 18 h (cap 30); T02: tue 16:00-20:00 Chicago = 4 h.
    assert therapist_hours(scenario) == 22.0


def test_a_window_in_the_repeated_hour_is_availability(raw: Raw) -> None:
    # QA c43: Chicago Sun 2026-11-01 00:00-01:00 CDT is New York 01:00 EDT to 01:00 EST. Its
    # end instant reads 01:00 like its start, but it is an hour (program time 01:00-02:00), not
    # "no availability".
    raw["program"]["week_start"] = "2026-10-26"  # type: ignore[index]
    participant(raw, 1)["availability"] = {"sun": ["00:00-01:00"]}
    assert [w for w in warnings_of(raw) if ".availability" in w] == []


def test_a_window_of_the_week_after_is_availability(raw: Raw) -> None:
    # QA c10: Pacific/Guam Mon 08:00-10:00 is New York Sun 18:00-20:00 of the week before
    # (EST, 15 hours behind in December), and the next Monday's is this Sunday's: windows recur.
    participant(raw, 1)["timezone"] = "Pacific/Guam"
    participant(raw, 1)["availability"] = {"mon": ["08:00-10:00"]}
    assert [w for w in warnings_of(raw) if ".availability" in w] == []
    # (Read only on this week's dates, it was lost, and the warning below was given.) With no
    # windows at all the warning stays.
    participant(raw, 1)["availability"] = {}
    assert [w for w in warnings_of(raw) if ".availability" in w] == [
        "participants[1] (id P0002).availability: no availability: nothing can be scheduled"
    ]


def test_supply_is_counted_in_real_hours_on_the_day_clocks_go_back(raw: Raw) -> None:
    # QA c43: New York falls back on Sun 2026-11-01, so 00:00-24:00 that day lasts 25 hours
    # (04:00 UTC to 05:00 UTC the next day); T02 (Chicago) has nothing.
    raw["program"]["week_start"] = "2026-10-26"  # type: ignore[index]
    therapist(raw, 0)["availability"] = {"sun": ["00:00-24:00"]}
    therapist(raw, 1)["availability"] = {}
    assert therapist_hours(scenario_from_data(raw).scenario) == 25.0


def test_supply_is_capped_by_max_hours(raw: Raw) -> None:
    therapist(raw, 0)["max_hours_per_week"] = 5
    assert therapist_hours(scenario_from_data(raw).scenario) == 9.0


def test_scenario_warnings_carry_the_file(raw: Raw) -> None:
    participant(raw, 1)["state"] = "TX"
    scenario = scenario_from_data(raw).scenario
    (warning,) = scenario_warnings(scenario, "week.yaml")
    assert warning.severity == "warning" and warning.file == "week.yaml"


def test_warnings_only_for_valid_documents(raw: Raw) -> None:
    participant(raw, 1)["state"] = "TX"
    participant(raw, 0)["priority"] = 7
    scenario, errors, warnings = validate_scenario(raw)
    assert scenario is None and len(errors) == 1 and warnings == []


# --------------------------------------------------------------------------- schedules


def _schedule() -> dict[str, object]:
    return {
        "format": "iop-schedule/1",
        "scenario": {"name": "Test IOP", "sha256": "ab" * 32},
        "solver": {"status": "optimal", "objective": 5, "best_bound": 5, "gap": 0.0, "wall_seconds": 0.1, "seed": 0,
                   "ortools": "9.12"},
        "sessions": [
            {"id": "S001", "kind": "group", "group_type": "process", "therapist": "T01", "day": "mon",
             "start": "18:00", "end": "20:00", "participants": ["P0001", "P0002"]},
            {"id": "S002", "kind": "individual", "therapist": "T01", "day": "wed", "start": "22:00",
             "end": "24:00", "participants": ["P0001"]},
        ],
        "unmet": [{"participant": "P0002", "need": "process", "missing": 1, "reasons": ["no evening therapist"]}],
        "summary": {"coverage": 0.8},
    }


def test_valid_schedule_form() -> None:
    schedule, errors = validate_schedule(_schedule())
    assert errors == [] and schedule is not None
    assert schedule.sessions[1].end == "24:00"
    assert schedule.solver.model_extra == {"ortools": "9.12"}  # extra solver keys are kept


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda s: s["sessions"][0].update(day="monday"), "sessions[0] (id S001).day: Input should be 'mon'"),
        (lambda s: s["sessions"][0].update(end="24:30"), "sessions[0] (id S001).end: '24:30' is not a time of the form HH:MM (00:00 to 24:00)"),
        (lambda s: s["sessions"][0].update(start="18:00\n"), "sessions[0] (id S001).start: a text of 6 characters is not a time of the form HH:MM"),
        (lambda s: s["sessions"][0].update(kind="a\nb"), "sessions[0] (id S001).kind: a text of 3 characters is not a valid label"),
        (lambda s: s.update(sessionz=[]), "sessionz: unknown field 'sessionz' (did you mean 'sessions'?): typos are not ignored"),
        (lambda s: s["solver"].update(objective=float("nan")), "solver.objective: Input should be a finite number (got nan)"),
        (lambda s: s["solver"].update(wall_seconds=float("inf")), "solver.wall_seconds: Input should be a finite number (got inf)"),
        (lambda s: s["summary"].update(coverage=float("inf")), "summary: summary entry 'coverage' holds a number that is infinite or NaN"),
        (lambda s: s["scenario"].update(sha256="Jordan Smith"), "scenario.sha256: is not a sha256: 64 hexadecimal digits"),
        (lambda s: s["sessions"][0].update(room="A"), "sessions[0] (id S001).room: unknown field 'room'"),
        (lambda s: s["solver"].update(status="done"), "solver.status: Input should be 'optimal', 'feasible', 'infeasible', 'unknown' or 'invalid'"),
        (lambda s: s["unmet"][0].update(missing=0), "unmet[0].missing: Input should be greater than or equal to 1 (got 0)"),
        (lambda s: s.pop("scenario"), "scenario: is required but missing"),
    ],
)
def test_invalid_schedule_form(edit: Callable[[dict[str, object]], object], message: str) -> None:
    data = _schedule()
    edit(data)  # type: ignore[arg-type]
    schedule, errors = validate_schedule(data, "s.yaml")
    assert schedule is None
    assert any(message in str(e) for e in errors), [str(e) for e in errors]


def test_a_replan_may_record_its_changes() -> None:
    data = _schedule()
    data["changes"] = {"moved_person_sessions": 2, "moved_participants": ["P0001"]}
    schedule, errors = validate_schedule(data)
    assert errors == [] and schedule is not None
    assert schedule.model_dump(mode="json")["changes"] == data["changes"]
    data["changes"] = "two moved"
    schedule, errors = validate_schedule(data, "s.yaml")
    assert schedule is None
    assert [str(e) for e in errors] == ["s.yaml: changes: Input should be a mapping (key: value entries)"]


def test_every_unknown_top_level_key_of_a_schedule_is_reported() -> None:
    data = _schedule()
    data["sessionz"] = []
    data["solver"] = {"status": "done"}
    schedule, errors = validate_schedule(data, "s.yaml")
    assert schedule is None
    assert [str(e) for e in errors] == [
        "s.yaml: solver.status: Input should be 'optimal', 'feasible', 'infeasible', 'unknown' or 'invalid' (got 'done')",
        "s.yaml: sessionz: unknown field 'sessionz' (did you mean 'sessions'?): typos are not ignored",
    ]


def test_schedule_that_is_not_a_mapping() -> None:
    schedule, errors = validate_schedule(["S001"])
    assert schedule is None
    assert [e.message for e in errors] == ["the document must be a mapping with format: iop-schedule/1 at the top"]


# --------------------------------------------------------------------------- values that may be names are never echoed

#: What a careless user might type into any field: a name, and a marker to search for.
NAME = "Jordan Smith SECRET-PHI-123"


def _only_error(raw: Raw) -> str:
    with pytest.raises(InvalidDocument) as caught:
        scenario_from_data(raw, "week.yaml")
    lines = [str(issue) for issue in caught.value.issues]
    assert len(lines) == 1, lines
    return lines[0]


def _set(raw: Raw, path: tuple[str | int, ...], value: object) -> None:
    node: object = raw
    for key in path[:-1]:
        node = node[key]  # type: ignore[index]
    node[path[-1]] = value  # type: ignore[index]


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (("format",), NAME, "week.yaml: format: Input should be 'iop-scenario/1' (got a text of 27 characters)"),
        (("program", "timezone"), NAME, "week.yaml: program.timezone: a text of 27 characters is not an IANA time zone (e.g. America/New_York)"),
        (("program", "week_start"), NAME, "week.yaml: program.week_start: a text of 27 characters is not a date YYYY-MM-DD"),
        (("program", "hours"), NAME, "week.yaml: program.hours: a text of 27 characters is not a window of the form HH:MM-HH:MM"),
        (("program", "days"), ["mon", NAME], "week.yaml: program.days[1]: Input should be 'mon', 'tue', 'wed', 'thu', 'fri', 'sat' or 'sun' (got a text of 27 characters)"),
        (("program", "slot_minutes"), NAME, "week.yaml: program.slot_minutes: Input should be a valid integer (got a text of 27 characters)"),
        (("group_types", 0, "population"), NAME, "week.yaml: group_types[0] (id process).population: Input should be 'adult', 'adolescent' or 'any' (got a text of 27 characters)"),
        (("group_types", 0, "category"), NAME, "week.yaml: group_types[0] (id process).category: Input should be 'psychoeducation', 'process', 'skills', 'relapse_prevention', 'specialty' or 'other' (got a text of 27 characters)"),
        (("group_types", 0, "start_times"), [NAME], "week.yaml: group_types[0] (id process).start_times[0]: a text of 27 characters is not a time of the form HH:MM (00:00 to 23:59)"),
        (("therapists", 0, "licensed_states"), [NAME], "week.yaml: therapists[0] (id T01).licensed_states[0]: a text of 27 characters is not a two-letter US state code (e.g. NY)"),
        (("therapists", 0, "availability"), {"mon": [NAME]}, "week.yaml: therapists[0] (id T01).availability.mon[0]: a text of 27 characters is not a window of the form HH:MM-HH:MM"),
        (("therapists", 0, "availability"), {NAME: ["08:00-12:00"]}, "week.yaml: therapists[0] (id T01).availability.<key that is not a valid id>: a key that is not a valid id is not allowed here"),
        (("therapists", 0, "max_hours_per_week"), NAME, "week.yaml: therapists[0] (id T01).max_hours_per_week: Input should be a valid number (got a text of 27 characters)"),
        (("participants", 1, "state"), NAME, "week.yaml: participants[1] (id P0002).state: a text of 27 characters is not a two-letter US state code (e.g. NY)"),
        (("participants", 1, "timezone"), NAME, "week.yaml: participants[1] (id P0002).timezone: a text of 27 characters is not an IANA time zone (e.g. America/New_York)"),
        (("participants", 1, "population"), NAME, "week.yaml: participants[1] (id P0002).population: Input should be 'adult' or 'adolescent' (got a text of 27 characters)"),
        (("participants", 1, "priority"), NAME, "week.yaml: participants[1] (id P0002).priority: Input should be a valid integer (got a text of 27 characters)"),
        (("participants", 1, "needs"), {"process": NAME}, "week.yaml: participants[1] (id P0002).needs.process: Input should be a valid integer (got a text of 27 characters)"),
        (("participants", 1, "needs"), {"process": 1, NAME: 1}, "week.yaml: participants[1] (id P0002).needs.<key that is not a valid id>: a key that is not a valid id is not allowed here"),
        (("participants", 1, "hours_per_week"), {"max": NAME}, "week.yaml: participants[1] (id P0002).hours_per_week.max: Input should be a valid number (got a text of 27 characters)"),
        (("participants", 1, "tags"), [NAME + "\n"], "week.yaml: participants[1] (id P0002).tags[0]: a text of 28 characters is not a valid label: printable characters only (no tabs, newlines or other control characters), no space at either end"),
        (("participants", 1, NAME), 1, "week.yaml: participants[1] (id P0002).<key that is not a valid id>: unknown field: typos are not ignored"),
        (("objective",), {NAME: 1}, "week.yaml: objective.<key that is not a valid id>: unknown field: typos are not ignored"),
    ],
)
def test_a_name_in_any_field_is_described_not_echoed(raw: Raw, path: tuple[str | int, ...], value: object, expected: str) -> None:
    """Every message names the file, the path with the entry's id and the rule, and no name."""
    _set(raw, path, value)
    line = _only_error(raw)
    assert line == expected
    for word in ("Jordan", "Smith", "SECRET"):
        assert word not in line


def test_an_id_shaped_value_is_quoted(raw: Raw, problems: Problems) -> None:
    """Ids, times, numbers given as text: quoting them helps and cannot leak a name."""
    participant(raw, 1)["state"] = "Texas"
    participant(raw, 1)["priority"] = "2"
    raw["program"]["hours"] = "08:00-25:00"  # type: ignore[index]
    assert problems(raw) == [
        "program.hours: '08:00-25:00' is not a window of the form HH:MM-HH:MM",
        "participants[1] (id P0002).state: 'Texas' is not a two-letter US state code (e.g. NY)",
        "participants[1] (id P0002).priority: Input should be a valid integer (got '2')",
    ]


def test_entries_are_labelled_only_by_valid_ids(raw: Raw, problems: Problems) -> None:
    participant(raw, 0)["avoid"] = []
    participant(raw, 1)["id"] = "P0002\n"  # not an id: the entry is named by its position only
    participant(raw, 1)["state"] = "ZZ"
    found = problems(raw)
    assert found == [
        "participants[1].id: is not a valid id: letters, digits, '_', '.', '-', at most 40 characters (pseudonymous ids only, never names)",
        "participants[1].state: 'ZZ' is not a two-letter US state code (e.g. NY)",
    ]


def test_unknown_field_names_are_quoted_when_id_shaped(raw: Raw, problems: Problems) -> None:
    participant(raw, 0)["note"] = NAME  # the value of an unknown field is never read
    assert problems(raw) == ["participants[0] (id P0001).note: unknown field 'note': typos are not ignored"]


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda s: s["sessions"][0].update(day=NAME), "s.yaml: sessions[0] (id S001).day: Input should be 'mon', 'tue', 'wed', 'thu', 'fri', 'sat' or 'sun' (got a text of 27 characters)"),
        (lambda s: s["sessions"][0].update(start=NAME), "s.yaml: sessions[0] (id S001).start: a text of 27 characters is not a time of the form HH:MM (00:00 to 23:59)"),
        (lambda s: s["sessions"][0].update(end=NAME), "s.yaml: sessions[0] (id S001).end: a text of 27 characters is not a time of the form HH:MM (00:00 to 24:00)"),
        (lambda s: s["solver"].update(status=NAME), "s.yaml: solver.status: Input should be 'optimal', 'feasible', 'infeasible', 'unknown' or 'invalid' (got a text of 27 characters)"),
        (lambda s: s["unmet"][0].update(need=NAME + "\n"), "s.yaml: unmet[0].need: a text of 28 characters is not a valid label: printable characters only (no tabs, newlines or other control characters), no space at either end"),
        (lambda s: s.update({NAME: 1}), "s.yaml: <key that is not a valid id>: unknown field: typos are not ignored"),
    ],
)
def test_schedule_messages_do_not_echo_names(edit: Callable[[dict[str, object]], object], expected: str) -> None:
    data = _schedule()
    edit(data)  # type: ignore[arg-type]
    schedule, errors = validate_schedule(data, "s.yaml")
    assert schedule is None
    assert [str(e) for e in errors] == [expected]


# --------------------------------------------------------------------------- a need word shared by a group type and a kind


def test_warning_group_type_id_equal_to_an_appointment_kind(raw: Raw, problems: Problems) -> None:
    # The schedule's unmet list says "need: medication" for either: the file is valid, but say so.
    raw["group_types"].append({"id": "medication", "duration_minutes": 60, "size": {"min": 1, "max": 4}})  # type: ignore[attr-defined]
    assert problems(raw) == []
    assert warnings_of(raw) == [
        "group_types[2] (id medication).id: medication is both this group type's id and an appointment kind "
        "(participants[1] (id P0002).appointments[0].kind): an unmet need medication in the schedule could be "
        "either; rename one of them"
    ]


def test_warning_missing_tags_describes_a_tag_that_is_not_id_shaped(raw: Raw) -> None:
    group_type(raw, 1)["requires_tags"] = ["sud", "LGBTQ+"]
    assert warnings_of(raw) == [
        "participants[0] (id P0001).needs.relapse_prevention: relapse_prevention requires tag(s) a text of 6 characters "
        "that this participant does not carry"
    ]


# --------------------------------------------------------------------------- files the contract allows load, solve and check


def _allowed_week() -> dict[str, object]:
    """One file with everything the contract allows that validate used to refuse."""
    return json.loads("""{
      "format": "iop-scenario/1",
      "program": {"name": "Allowed", "timezone": "America/New_York", "week_start": "2026-12-07",
                  "days": ["mon", "tue"], "hours": "09:00-17:00", "slot_minutes": 30.0},
      "group_types": [
        {"id": "grupo_niñez", "duration_minutes": 60.0, "size": {"min": 2.0, "max": 6.0},
         "start_times": ["07:00", "10:00", "15:00"], "requires_tags": ["LGBTQ+"]}
      ],
      "therapists": [
        {"id": "T-Ñ01", "licensed_states": ["NY"], "qualifications": ["group_facilitation"],
         "availability": {"mon": ["09:00-17:00"], "tue": ["09:00-17:00"]}, "max_hours_per_week": 30.0},
        {"id": "T02", "licensed_states": ["NY"], "availability": {"mon": ["09:00-17:00"]}}
      ],
      "participants": [
        {"id": "P-Ü01", "state": "NY", "population": "adult", "tags": ["LGBTQ+"], "priority": 2.0,
         "availability": {"mon": ["09:00-17:00"], "tue": ["09:00-17:00"]}, "needs": {"grupo_niñez": 1.0},
         "avoid_therapists": ["T02"],
         "appointments": [
           {"kind": "Individual", "therapist": "T-Ñ01", "duration_minutes": 50.0},
           {"kind": "med check", "qualification": "prescriber", "duration_minutes": 20},
           {"kind": "family", "therapist": "T02", "duration_minutes": 60}
         ]},
        {"id": "P-Ü02", "state": "NY", "population": "adult", "tags": ["LGBTQ+"],
         "availability": {"mon": ["09:00-17:00"]}, "needs": {"grupo_niñez": 1}}
      ]
    }""")


def test_what_the_contract_allows_loads_solves_and_checks() -> None:
    from optimizer.check import check  # the solver is not part of models/, but the files must solve
    from optimizer.result import SolveParams
    from optimizer.solve import solve

    loaded = scenario_from_data(_allowed_week(), "allowed.json")
    assert [str(w) for w in loaded.warnings] == [
        "allowed.json: participants[0] (id P-Ü01).appointments[1].qualification: no therapist of this file holds "
        "qualification prescriber: this appointment cannot be scheduled",
        "allowed.json: participants[0] (id P-Ü01).appointments[2].therapist: therapist T02 is on this participant's "
        "avoid_therapists: this appointment cannot be scheduled",
        "allowed.json: group_types[0] (id grupo_niñez).start_times[0]: a 60-minute session starting at 07:00 does not "
        "fit inside program.hours 09:00-17:00: no session starts then",
    ]
    scenario = loaded.scenario
    assert scenario.group_types[0].duration_minutes == 60 and isinstance(scenario.group_types[0].duration_minutes, int)
    result = solve(loaded, SolveParams(time_limit=3, workers=1, lp_bound=False))
    assert result.schedule is not None
    schedule = result.schedule
    starts = {s.start for s in schedule.sessions if s.kind == "group"}
    assert starts and starts <= {"10:00", "15:00"}  # never the 07:00 start outside the hours
    assert {s.kind for s in schedule.sessions} == {"group", "Individual"}
    assert {(u.participant, u.need, u.missing) for u in schedule.unmet} == {("P-Ü01", "med check", 1), ("P-Ü01", "family", 1)}
    # The schedule, labels and all, reads back and passes the independent checker.
    reread, errors = validate_schedule(schedule.model_dump(mode="json"))
    assert errors == [] and reread is not None
    report = check(loaded, reread)
    assert report.ok, report.violations


@pytest.mark.parametrize("zone", ["US", "America", "Etc", "America/Indiana", "x" * 300])
def test_a_tz_database_folder_or_an_overlong_name_is_not_a_time_zone(zone: str) -> None:
    # QA 2026-11-28: "US" is a folder of the tz database (IsADirectoryError), 300 characters
    # are too long for a file name (OSError): exit 70 in the CLI and a 500 in the service.
    from models.clock import is_valid_timezone

    assert not is_valid_timezone(zone)


# --------------------------------------------------------------------------- contract review, 2026-11-28


@pytest.mark.parametrize(
    ("zone", "hint"),
    [
        ("right/America/New_York", "did you mean America/New_York?"),  # leap seconds: an hour off, solver and checker alike
        ("posix/America/New_York", "did you mean America/New_York?"),
        ("localtime", "e.g. America/New_York"),  # the machine's own zone
        ("posixrules", "e.g. America/New_York"),
        ("Factory", "e.g. America/New_York"),
    ],
)
def test_only_iana_zone_names_are_time_zones(raw: Raw, zone: str, hint: str) -> None:
    raw["program"]["timezone"] = zone  # type: ignore[index]
    with pytest.raises(InvalidDocument) as refused:
        scenario_from_data(raw)
    (issue,) = refused.value.issues
    assert issue.path == "program.timezone"
    assert issue.message.endswith(f"is not an IANA time zone ({hint})")


def test_a_fixed_offset_us_zone_is_accepted_with_a_warning(raw: Raw) -> None:
    therapist(raw, 0)["timezone"] = "EST"
    assert [w for w in warnings_of(raw) if "timezone" in w] == [
        "therapists[0] (id T01).timezone: EST is UTC-5 all year, without daylight saving time: "
        "America/New_York follows the clocks there",
    ]


@pytest.mark.parametrize("ident", ["1990-05-04", "05/04/1990", "4.5.1990", "078-05-1120", "555-123-4567", "5551234567"])
def test_an_id_shaped_like_a_birth_date_or_an_ssn_is_refused_and_never_echoed(raw: Raw, ident: str) -> None:
    participant(raw, 1)["id"] = ident
    participant(raw, 0)["avoid"] = [ident]
    participant(raw, 0)["state"] = ident
    with pytest.raises(InvalidDocument) as refused:
        scenario_from_data(raw)
    text = str(refused.value)
    assert ident not in text
    assert "participants[1].id: is shaped like a date, a social security number or a phone number: ids must be pseudonymous (e.g. P0042)" in text
    assert "participants[0] (id P0001).state: a text of" in text


def test_an_optional_field_written_empty_is_as_if_omitted(raw: Raw) -> None:
    # YAML's `tags:` with nothing after it is null: read as the field's default, as
    # `max_concurrent_sessions:` always was. A day written empty (`tue:`) has no windows.
    participant(raw, 0).update({"tags": None, "avoid": None, "appointments": None, "avoid_therapists": None})
    therapist(raw, 0)["availability"] = {**therapist(raw, 0)["availability"], "sat": None}  # type: ignore[dict-item]
    group_type(raw, 0)["requires_tags"] = None
    scenario = scenario_from_data(raw).scenario
    first = scenario.participants[0]
    assert (first.tags, first.avoid, first.appointments, first.avoid_therapists) == ([], [], [], [])
    assert scenario.therapists[0].availability["sat"] == []
    assert scenario.group_types[0].requires_tags == []
    participant(raw, 1)["availability"] = None
    assert "participants[1] (id P0002).availability: no availability: nothing can be scheduled" in warnings_of(raw)


def test_a_number_where_text_belongs_says_ids_only_for_ids(raw: Raw, problems: Problems) -> None:
    # QA 2026-11-28: `hours: 8` (unquoted) was told "write ids in quotes": hours are no id.
    program = raw["program"]
    assert isinstance(program, dict)
    program["hours"] = 8
    participant(raw, 0)["avoid"] = [2]
    found = problems(raw)
    hint = "an unquoted 010 or 0x1F is read as a number: write"
    assert any(line.startswith("program.hours:") and f"(got 8); {hint} the value in quotes" in line for line in found), found
    assert any(".avoid[0]:" in line and f"(got 2); {hint} ids in quotes" in line for line in found), found
