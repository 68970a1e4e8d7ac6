"""Whole-document rules, error reporting and warnings (``models/validation.py``)."""

from __future__ import annotations

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


def test_appointment_qualification_must_be_held_by_someone(raw: Raw, problems: Problems) -> None:
    appointments = [{"kind": "medication", "qualification": "psychiatry", "duration_minutes": 30}]
    participant(raw, 1)["appointments"] = appointments
    with pytest.raises(InvalidDocument, match=re.escape(
        "participants[1] (id P0002).appointments[0].qualification: no therapist of this file holds qualification 'psychiatry'"
    )):
        scenario_from_data(raw)
    therapist(raw, 0)["qualifications"] = ["group_facilitation", "sud", "psychiatry"]
    assert problems(raw) == []


def test_appointment_therapist_on_avoid_list(raw: Raw) -> None:
    participant(raw, 0)["avoid_therapists"] = ["T01"]
    with pytest.raises(InvalidDocument, match=re.escape(
        "participants[0] (id P0001).appointments[0].therapist: therapist T01 is on this participant's avoid_therapists"
    )):
        scenario_from_data(raw)


# --------------------------------------------------------------------------- starts inside program hours


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
    group = group_type(raw, 0)
    group["start_times"] = [start]
    group["duration_minutes"] = duration
    found = problems(raw)
    if fits:
        assert found == []
    else:
        assert found == [
            f"group_types[0] (id process).start_times[0]: a {duration}-minute session starting at {start} "
            "does not fit inside program.hours 08:00-21:00"
        ]


def test_groups_without_start_times_are_not_checked_against_hours(raw: Raw, problems: Problems) -> None:
    # Longer than the 13-hour program day: no grid start fits, but that is for the optimizer to report.
    group_type(raw, 1)["duration_minutes"] = 900
    assert problems(raw) == []


def test_start_check_skipped_when_hours_are_broken(raw: Raw, problems: Problems) -> None:
    raw["program"]["hours"] = "nine to five"  # type: ignore[index]
    group_type(raw, 0)["start_times"] = ["23:00"]
    assert problems(raw) == ["program.hours: 'nine to five' is not a window of the form HH:MM-HH:MM"]


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
    assert "therapists[0]: Input should be a valid dictionary or instance of Therapist" in found
    assert "participants[0] (id P0001).needs: Input should be a valid dictionary" in found
    assert "participants[0] (id P0001).appointments: Input should be a valid list" in found


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
        (lambda s: s["sessions"][0].update(end="24:30"), "sessions[0] (id S001).end: String should match pattern"),
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


def test_schedule_that_is_not_a_mapping() -> None:
    schedule, errors = validate_schedule(["S001"])
    assert schedule is None
    assert [e.message for e in errors] == ["the document must be a mapping with format: iop-schedule/1 at the top"]
