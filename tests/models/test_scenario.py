"""Field-level rules of the scenario models (``models/scenario.py``).

Each rule has a case that holds and one that breaks, the broken one with its message pinned.
The whole-document rules (unique ids, references, starts inside hours) are in
``test_validation.py``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import date, datetime

import pytest

from models.errors import InvalidDocument
from models.io import scenario_from_data
from models.scenario import (
    MAX_BREAK_MINUTES,
    MAX_COUNT,
    MAX_DURATION_MINUTES,
    MAX_WEEK_HOURS,
    MAX_WEIGHT,
    US_STATES,
    Appointment,
    ObjectiveWeights,
    Scenario,
    is_id,
    is_quotable,
    quote,
)

Path = tuple[str | int, ...]


def mutate(raw: dict[str, object], path: Path, value: object) -> dict[str, object]:
    """Set ``raw[path[0]][path[1]]...`` to ``value`` (``...`` deletes the key) and return ``raw``."""
    node: object = raw
    for key in path[:-1]:
        node = node[key]  # type: ignore[index]
    if value is ...:
        del node[path[-1]]  # type: ignore[attr-defined]
    else:
        node[path[-1]] = value  # type: ignore[index]
    return raw


P0 = ("participants", 0)
G0 = ("group_types", 0)
T0 = ("therapists", 0)

# (field path, a value that is accepted)
ACCEPTED: list[tuple[Path, object]] = [
    (("program", "week_start"), "2026-11-30"),
    (("program", "days"), ["sat"]),
    (("program", "hours"), "00:00-24:00"),
    (("program", "slot_minutes"), 15),
    (("program", "slot_minutes"), 240),
    (("program", "max_concurrent_sessions"), 1),
    (("program", "timezone"), "America/Phoenix"),
    ((*G0, "size"), {"min": 4, "max": 4}),
    ((*G0, "population"), "any"),
    ((*G0, "category"), "specialty"),
    ((*G0, "start_times"), ["08:00", "19:00"]),
    ((*G0, "days"), ["mon", "fri"]),
    ((*G0, "max_sessions_per_week"), 0),
    ((*P0, "id"), "adm-2026.11_a7"),
    ((*T0, "licensed_states"), sorted(US_STATES)),
    ((*T0, "availability"), {"sun": ["00:00-24:00"]}),
    ((*T0, "max_hours_per_week"), 12.5),
    ((*T0, "min_break_minutes"), 0),
    ((*T0, "timezone"), "Europe/London"),
    ((*P0, "state"), "DC"),
    ((*P0, "population"), "adolescent"),
    ((*P0, "hours_per_week"), {"min": 2.5}),
    ((*P0, "hours_per_week"), {"min": 9, "max": 9}),
    ((*P0, "days_per_week"), {"min": 7, "max": 7}),
    ((*P0, "priority"), 3),
    ((*P0, "max_group_size"), 1),
    ((*P0, "max_sessions_per_day"), 0),
    ((*P0, "availability"), {}),
    ((*P0, "appointments", 0, "count"), 4),
    ((*P0, "appointments", 0, "kind"), "family-therapy_2"),
    (("objective",), {"hours_shortfall": 0, "continuity": 10}),
    # The contract calls kind a free label and sets no form on tags.
    ((*P0, "appointments", 0, "kind"), "Individual"),
    ((*P0, "appointments", 0, "kind"), "med check"),
    ((*P0, "appointments", 0, "kind"), "k" * 40),
    ((*P0, "tags"), ["sud", "LGBTQ+", "sud abuse", "niñez"]),
    ((*G0, "requires_tags"), ["LGBTQ+"]),
    # Ids: letters of any alphabet.
    ((*P0, "id"), "P-Ü01"),
    ((*P0, "id"), "p" * 40),
    ((*T0, "qualifications"), ["group_facilitation", "sud", "facilitación"]),
    # JSON has one number type: whole numbers written 60.0 are whole numbers.
    ((*G0, "duration_minutes"), 120.0),
    ((*G0, "size"), {"min": 2.0, "max": 10.0}),
    ((*P0, "priority"), 2.0),
    ((*P0, "needs"), {"process": 2.0}),
    (("objective",), {"continuity": 5.0}),
    # The largest values allowed where the contract sets no limit.
    ((*G0, "size"), {"min": 2, "max": MAX_COUNT}),
    ((*G0, "duration_minutes"), MAX_DURATION_MINUTES),
    ((*T0, "min_break_minutes"), MAX_BREAK_MINUTES),
    ((*T0, "max_hours_per_week"), MAX_WEEK_HOURS),
    ((*P0, "hours_per_week"), {"min": 0, "max": MAX_WEEK_HOURS}),
    ((*P0, "needs"), {"process": MAX_COUNT}),
    ((*P0, "appointments", 0, "count"), MAX_COUNT),
    ((*P0, "max_group_size"), MAX_COUNT),
    (("objective",), dict.fromkeys(ObjectiveWeights.model_fields, MAX_WEIGHT)),
    (("program", "week_start"), date(2026, 11, 30)),  # a YAML date
    (("program", "week_start"), "9999-12-13"),
]

# (field path, a value that breaks a rule, the error line that must be printed, as a regex)
REJECTED: list[tuple[Path, object, str]] = [
    (("format",), "iop-scenario/2", r"format: Input should be 'iop-scenario/1'"),
    (("program", "week_start"), "2026-12-08", r"program\.week_start: week_start 2026-12-08 is a tue, not a Monday"),
    (("program", "week_start"), "next monday", r"program\.week_start: a text of 11 characters is not a date YYYY-MM-DD$"),
    (("program", "week_start"), 20261130, r"program\.week_start: 20261130 is not a date YYYY-MM-DD$"),
    (("program", "week_start"), datetime(2026, 11, 30), r"program\.week_start: 2026-11-30T00:00:00 is not a date YYYY-MM-DD$"),
    (("program", "week_start"), "2026-11-30T00:00:00", r"program\.week_start: a text of 19 characters is not a date YYYY-MM-DD$"),
    (("program", "week_start"), "2026-02-30", r"program\.week_start: '2026-02-30' is not a date YYYY-MM-DD \(no such day\)"),
    (("program", "week_start"), "9999-12-27", r"program\.week_start: week_start 9999-12-27 is outside the calendar .* from 0001-01-08 to 9999-12-13$"),
    (("program", "days"), [], r"program\.days: List should have at least 1 item"),
    (("program", "days"), ["mon", "mon"], r"program\.days: days lists 'mon' twice"),
    (("program", "days"), ["monday"], r"program\.days\[0\]: Input should be 'mon', 'tue'.* \(got 'monday'\)"),
    (("program", "hours"), "21:00-08:00", r"program\.hours: window '21:00-08:00' ends before or when it starts \(windows never cross midnight\)"),
    (("program", "hours"), "8:00-21:00", r"program\.hours: '8:00-21:00' is not a window of the form HH:MM-HH:MM"),
    (("program", "hours"), "08:00-24:30", r"program\.hours: '08:00-24:30' has a time past 24:00"),
    (("program", "hours"), "08:00-21:00\n", r"program\.hours: a text of 12 characters is not a window of the form HH:MM-HH:MM$"),
    (("program", "hours"), "٠٨:00-21:00", r"program\.hours: a text of 11 characters is not a window"),  # Arabic-Indic digits
    (("program", "slot_minutes"), 1441, r"program\.slot_minutes: slot_minutes 1441 is more than a day \(at most 1440"),
    (("program", "slot_minutes"), 0, r"program\.slot_minutes: Input should be greater than 0 \(got 0\)"),
    (("program", "slot_minutes"), "30", r"program\.slot_minutes: Input should be a valid integer \(got '30'\)"),
    (("program", "max_concurrent_sessions"), 0, r"program\.max_concurrent_sessions: Input should be greater than 0"),
    (("program", "timezone"), "Eastern", r"program\.timezone: 'Eastern' is not an IANA time zone \(e\.g\. America/New_York\)"),
    (("program", "timezone"), "../etc/passwd", r"program\.timezone: a text of 13 characters is not an IANA time zone \(e\.g\. America/New_York\)$"),
    (("program", "timezone"), "America/NewYork", r"program\.timezone: a text of 15 characters is not an IANA time zone \(did you mean America/New_York\?\)$"),
    (("program", "timezone"), "america/chicago", r"program\.timezone: a text of 15 characters is not an IANA time zone \(did you mean America/Chicago\?\)$"),
    (("program", "timezone"), "America/New_York\n", r"program\.timezone: a text of 17 characters is not an IANA time zone \(did you mean America/New_York\?\)$"),
    (("program", "name"), "", r"program\.name: String should have at least 1 character"),
    (("program", "name"), ..., r"program\.name: is required but missing"),
    (("program", "timezone"), ..., r"program\.timezone: is required but missing"),
    ((*G0, "size"), {"min": 8, "max": 4}, r"group_types\[0\] \(id process\)\.size: min 8 is greater than max 4"),
    ((*G0, "size"), {"min": 0, "max": 4}, r"group_types\[0\] \(id process\)\.size\.min: Input should be greater than 0"),
    ((*G0, "duration_minutes"), 0, r"group_types\[0\] \(id process\)\.duration_minutes: Input should be greater than 0 \(got 0\)"),
    ((*G0, "duration_minutes"), 90.5, r"group_types\[0\] \(id process\)\.duration_minutes: 90\.5 is not a whole number$"),
    ((*G0, "duration_minutes"), math.inf, r"duration_minutes: inf is not a finite number$"),
    ((*G0, "duration_minutes"), math.nan, r"duration_minutes: nan is not a finite number$"),
    ((*G0, "duration_minutes"), MAX_DURATION_MINUTES + 1, r"duration_minutes: Input should be less than or equal to 1440 \(got 1441\)$"),
    ((*G0, "size"), {"min": 2, "max": 2**70}, r"size\.max: Input should be less than or equal to 1000000 \(got a whole number of about 22 digits\)$"),
    ((*G0, "size"), "big", r"group_types\[0\] \(id process\)\.size: Input should be a mapping \(key: value entries\)$"),
    ((*G0, "max_sessions_per_week"), 10**6 + 1, r"max_sessions_per_week: Input should be less than or equal to 1000000"),
    ((*G0, "duration_minutes"), True, r"duration_minutes: Input should be a valid integer"),
    ((*G0, "population"), "adults", r"population: Input should be 'adult', 'adolescent' or 'any' \(got 'adults'\)"),
    ((*G0, "category"), "group", r"category: Input should be 'psychoeducation', 'process', 'skills'"),
    ((*G0, "start_times"), ["9:00"], r"start_times\[0\]: '9:00' is not a time of the form HH:MM \(00:00 to 23:59\)"),
    ((*G0, "start_times"), ["24:00"], r"start_times\[0\]: '24:00' is not a time of the form HH:MM"),
    ((*G0, "start_times"), ["10:00", "10:00"], r"start_times: the list lists '10:00' twice"),
    ((*G0, "start_times"), [], r"start_times: List should have at least 1 item"),
    ((*G0, "days"), ["mon", "mon"], r"group_types\[0\] \(id process\)\.days: the list lists 'mon' twice"),
    ((*G0, "max_sessions_per_week"), -1, r"max_sessions_per_week: Input should be greater than or equal to 0"),
    ((*P0, "id"), "Jordan Smith", r"participants\[0\]\.id: is not a valid id: letters, digits, '_', '\.', '-', at most 40 characters \(pseudonymous ids only, never names\)"),
    ((*P0, "id"), "P" * 41, r"participants\[0\]\.id: is not a valid id"),
    ((*P0, "id"), 1, r"participants\[0\]\.id: Input should be a valid string"),
    ((*P0, "id"), "P0001\n", r"participants\[0\]\.id: is not a valid id"),  # no "(id P0001\n)" label either
    ((*P0, "id"), "-P0001", r"participants\[0\]\.id: is not a valid id"),
    ((*P0, "id"), "n\u0303", r"participants\[0\]\.id: is not a valid id"),  # a combining mark is not a letter: write ids composed (NFC)
    ((*T0, "licensed_states"), ["NY", "ZZ"], r"therapists\[0\] \(id T01\)\.licensed_states\[1\]: 'ZZ' is not a two-letter US state code \(e\.g\. NY\)"),
    ((*T0, "availability"), {"mon": ["20:00-02:00"]}, r"therapists\[0\] \(id T01\)\.availability\.mon\[0\]: window '20:00-02:00' ends before or when it starts"),
    ((*T0, "availability"), {"mon": ["12:00-12:00"]}, r"availability\.mon\[0\]: window '12:00-12:00' ends before or when it starts"),
    ((*T0, "availability"), {"Monday": ["12:00-16:00"]}, r"availability\.Monday: 'Monday' is not allowed as a key here \(days are mon tue wed thu fri sat sun\)"),
    ((*T0, "availability"), {"mon": "12:00-16:00"}, r"availability\.mon: Input should be a valid list"),
    ((*T0, "max_hours_per_week"), -1, r"max_hours_per_week: Input should be greater than or equal to 0 \(got -1\)"),
    ((*T0, "max_hours_per_week"), math.inf, r"therapists\[0\] \(id T01\)\.max_hours_per_week: Input should be a finite number \(got inf\)$"),
    ((*T0, "max_hours_per_week"), math.nan, r"max_hours_per_week: Input should be a finite number \(got nan\)$"),
    ((*T0, "max_hours_per_week"), 168.5, r"max_hours_per_week: Input should be less than or equal to 168 \(got 168\.5\)$"),
    ((*T0, "max_hours_per_week"), "30", r"max_hours_per_week: Input should be a valid number \(got '30'\)$"),
    ((*T0, "max_hours_per_week"), True, r"max_hours_per_week: Input should be a valid number \(got true\)$"),
    ((*T0, "min_break_minutes"), 2**70, r"min_break_minutes: Input should be less than or equal to 10080"),
    ((*T0, "availability"), {"mon": ["08:00-20:00\n"]}, r"availability\.mon\[0\]: a text of 12 characters is not a window of the form HH:MM-HH:MM$"),
    ((*T0, "min_break_minutes"), -5, r"min_break_minutes: Input should be greater than or equal to 0"),
    ((*T0, "max_sessions_per_day"), "four", r"max_sessions_per_day: Input should be a valid integer \(got 'four'\)"),
    ((*T0, "timezone"), "EST5", r"therapists\[0\] \(id T01\)\.timezone: 'EST5' is not an IANA time zone"),
    ((*P0, "state"), "ny", r"participants\[0\] \(id P0001\)\.state: 'ny' is not a two-letter US state code \(did you mean NY\?\)$"),
    ((*P0, "state"), "New York", r"participants\[0\] \(id P0001\)\.state: a text of 8 characters is not a two-letter US state code \(e\.g\. NY\)$"),
    ((*P0, "state"), "NY\n", r"state: a text of 3 characters is not a two-letter US state code \(did you mean NY\?\)$"),
    ((*P0, "state"), ..., r"participants\[0\] \(id P0001\)\.state: is required but missing"),
    ((*P0, "population"), "any", r"participants\[0\] \(id P0001\)\.population: Input should be 'adult' or 'adolescent'"),
    ((*P0, "hours_per_week"), {"min": 19, "max": 9}, r"hours_per_week: min 19 is greater than max 9"),
    ((*P0, "hours_per_week"), {"min": -1}, r"hours_per_week\.min: Input should be greater than or equal to 0"),
    ((*P0, "hours_per_week"), {"min": math.inf}, r"hours_per_week\.min: Input should be a finite number \(got inf\)"),
    ((*P0, "hours_per_week"), {"max": 1e309}, r"hours_per_week\.max: Input should be a finite number \(got inf\)"),
    ((*P0, "days_per_week"), {"min": 5, "max": 3}, r"days_per_week: min 5 is greater than max 3"),
    ((*P0, "days_per_week"), {"max": 8}, r"days_per_week\.max: Input should be less than or equal to 7 \(got 8\)"),
    ((*P0, "priority"), 0, r"priority: Input should be greater than or equal to 1 \(got 0\)"),
    ((*P0, "priority"), 4, r"priority: Input should be less than or equal to 3 \(got 4\)"),
    ((*P0, "max_group_size"), 0, r"max_group_size: Input should be greater than 0"),
    ((*P0, "needs"), {"process": -1}, r"needs\.process: Input should be greater than or equal to 0"),
    ((*P0, "needs"), {"process": 2**63}, r"needs\.process: Input should be less than or equal to 1000000"),
    ((*P0, "needs"), {"process": 1.5}, r"needs\.process: 1\.5 is not a whole number$"),
    ((*P0, "tags"), ["sud\n"], r"participants\[0\] \(id P0001\)\.tags\[0\]: a text of 4 characters is not a valid label: printable characters only"),
    ((*P0, "tags"), [" sud"], r"tags\[0\]: a text of 4 characters is not a valid label: .*no space at either end$"),
    ((*P0, "tags"), [""], r"tags\[0\]: String should have at least 1 character$"),
    ((*P0, "tags"), ["t" * 41], r"tags\[0\]: String should have at most 40 characters$"),
    ((*P0, "appointments", 0, "kind"), "group", r"appointments\[0\]\.kind: kind 'group' is reserved for group sessions"),
    ((*P0, "appointments", 0, "kind"), "Group", r"appointments\[0\]\.kind: kind 'Group' is reserved for group sessions"),
    ((*P0, "appointments", 0, "kind"), "med\tcheck", r"appointments\[0\]\.kind: a text of 9 characters is not a valid label"),
    ((*P0, "appointments", 0, "count"), 10**6 + 1, r"appointments\[0\]\.count: Input should be less than or equal to 1000000"),
    ((*P0, "appointments", 0, "count"), 0, r"appointments\[0\]\.count: Input should be greater than 0"),
    ((*P0, "appointments", 0, "duration_minutes"), -50, r"appointments\[0\]\.duration_minutes: Input should be greater than 0"),
    ((*P0, "appointments", 0, "therapist"), ..., r"appointments\[0\]: give exactly one of 'therapist' \(a therapist id\) or 'qualification'"),
    ((*P0, "appointments", 0, "qualification"), "prescriber", r"appointments\[0\]: give exactly one of 'therapist'"),
    ((*P0, "appointments", 0, "availability"), {"thu": ["19:00-18:00"]}, r"appointments\[0\]\.availability\.thu\[0\]: window '19:00-18:00' ends before or when it starts"),
    ((*P0, "appointments", 0, "availability"), {"weekend": ["10:00-12:00"]}, r"appointments\[0\]\.availability\.weekend: 'weekend' is not allowed as a key here"),
    ((*P0, "days_per_week"), {"min": 8}, r"days_per_week\.min: Input should be less than or equal to 7 \(got 8\)"),
    ((*P0, "population"), ..., r"participants\[0\] \(id P0001\)\.population: is required but missing"),
    ((*G0, "name"), "n" * 201, r"group_types\[0\] \(id process\)\.name: String should have at most 200 characters"),
    ((*G0, "size"), ..., r"group_types\[0\] \(id process\)\.size: is required but missing"),
    (("program",), ..., r"program: is required but missing"),
    (("format",), ..., r"format: is required but missing"),
    (("participants",), {"P0001": {}}, r"participants: Input should be a valid list"),
    (("objective",), {"continuity": -1}, r"objective\.continuity: Input should be greater than or equal to 0"),
    (("objective",), {"continuity": 1.5}, r"objective\.continuity: 1\.5 is not a whole number$"),
    (("objective",), {"continuity": 2**70}, r"objective\.continuity: Input should be less than or equal to 1000000 \(got a whole number of about 22 digits\)$"),
    (("objective",), {"sessions": 1000001}, r"objective\.sessions: Input should be less than or equal to 1000000 \(got 1000001\)$"),
    (("objective",), {"continuity_weight": 1}, r"objective\.continuity_weight: unknown field 'continuity_weight' \(did you mean 'continuity'\?\)"),
    (("program", "slot_minute"), 30, r"program\.slot_minute: unknown field 'slot_minute' \(did you mean 'slot_minutes'\?\): typos are not ignored"),
    ((*P0, "avaliability"), {}, r"participants\[0\] \(id P0001\)\.avaliability: unknown field 'avaliability' \(did you mean 'availability'\?\)"),
    ((*G0, "kind"), "group", r"group_types\[0\] \(id process\)\.kind: unknown field 'kind' \(that field belongs to another kind of entry\)"),
    # The hint comes from the entry's own fields: participants have no ``name`` (it is not
    # suggested for ``nam``), therapists have ``licensed_states``, appointments ``therapist``.
    ((*P0, "nam"), "x", r"participants\[0\] \(id P0001\)\.nam: unknown field 'nam': typos are not ignored$"),
    ((*P0, "timezon"), "x", r"\.timezon: unknown field 'timezon' \(did you mean 'timezone'\?\)"),
    (("therapists", 0, "licenced_states"), ["NY"], r"therapists\[0\] \(id T01\)\.licenced_states: unknown field 'licenced_states' \(did you mean 'licensed_states'\?\)"),
]


@pytest.mark.parametrize(("path", "value"), ACCEPTED, ids=[".".join(map(str, p)) + f"={v!r}"[:40] for p, v in ACCEPTED])
def test_accepted_values(raw: dict[str, object], path: Path, value: object) -> None:
    loaded = scenario_from_data(mutate(raw, path, value))
    assert isinstance(loaded.scenario, Scenario)


@pytest.mark.parametrize(("path", "value", "message"), REJECTED, ids=[f"{'.'.join(map(str, p))}={v!r}"[:60] for p, v, _ in REJECTED])
def test_rejected_values(raw: dict[str, object], path: Path, value: object, message: str) -> None:
    with pytest.raises(InvalidDocument, match=message) as caught:
        scenario_from_data(mutate(raw, path, value))
    # One broken field, one error: nothing else in the file is blamed for it.
    assert len(caught.value.issues) == 1, [str(i) for i in caught.value.issues]
    assert caught.value.issues[0].severity == "error"


def test_defaults_of_the_contract(raw: dict[str, object]) -> None:
    """Defaults: group population any, count 1, priority 1, min_break 0, no caps."""
    group = {"id": "skills", "duration_minutes": 90, "size": {"min": 1, "max": 8}}
    raw["group_types"].append(group)  # type: ignore[attr-defined]
    scenario = scenario_from_data(raw).scenario
    skills = scenario.group_type("skills")
    assert skills.population == "any"
    assert skills.category == "other"
    assert skills.start_times is None and skills.days is None
    assert skills.requires_qualifications == [] and skills.requires_tags == []
    assert skills.max_sessions_per_week is None
    p2 = scenario.participant("P0002")
    assert p2.priority == 1
    assert p2.hours_per_week.min == 0 and p2.hours_per_week.max is None
    assert p2.days_per_week.min == 0 and p2.days_per_week.max is None
    assert p2.max_group_size is None and p2.max_sessions_per_day is None
    assert p2.appointments[0].count == 1
    t2 = scenario.therapist("T02")
    assert t2.min_break_minutes == 0
    assert t2.max_hours_per_week is None and t2.max_sessions_per_day is None
    assert scenario.program.max_concurrent_sessions is None
    assert scenario.objective == ObjectiveWeights()


def test_missing_program_slot_minutes_defaults_to_30(raw: dict[str, object]) -> None:
    scenario = scenario_from_data(mutate(raw, ("program", "slot_minutes"), ...)).scenario
    assert scenario.program.slot_minutes == 30


def test_lookup_helpers(raw: dict[str, object]) -> None:
    scenario = scenario_from_data(raw).scenario
    assert scenario.group_type("relapse_prevention").requires_tags == ["sud"]
    assert scenario.therapist("T02").timezone == "America/Chicago"
    assert scenario.participant("P0002").state == "IL"
    with pytest.raises(StopIteration):
        scenario.participant("P9999")


def test_models_are_immutable(raw: dict[str, object]) -> None:
    scenario = scenario_from_data(raw).scenario
    with pytest.raises(Exception, match="frozen"):
        scenario.program.name = "Other"  # type: ignore[misc]


def test_objective_weights_defaults() -> None:
    weights = ObjectiveWeights()
    assert weights.model_dump() == {
        "hours_shortfall": 1,
        "days_shortfall": 2,
        "continuity": 3,
        "preferred_therapist": 1,
        "load_balance": 1,
        "sessions": 1,
        "therapist_hours": 1,
    }


def test_appointment_model_directly() -> None:
    appointment = Appointment.model_validate({"kind": "family", "qualification": "family_therapy", "duration_minutes": 60})
    assert appointment.therapist is None and appointment.count == 1
    with pytest.raises(ValueError, match=re.escape("give exactly one of 'therapist'")):
        Appointment.model_validate({"kind": "family", "therapist": "T01", "qualification": "x", "duration_minutes": 60})


def test_us_states_are_two_capital_letters() -> None:
    assert len(US_STATES) == 56  # 50 states, DC and 5 inhabited territories
    assert all(len(code) == 2 and code.isupper() for code in US_STATES)


def test_every_error_of_a_file_at_once(raw: dict[str, object], problems: Callable[[object], list[str]]) -> None:
    """Breaking three unrelated fields gives three errors, each at its own path."""
    mutate(raw, ("program", "hours"), "21:00-08:00")
    mutate(raw, (*T0, "licensed_states"), ["XX"])
    mutate(raw, (*P0, "priority"), 9)
    found = problems(raw)
    assert len(found) == 3
    assert any(line.startswith("program.hours:") for line in found)
    assert any(line.startswith("therapists[0] (id T01).licensed_states[0]:") for line in found)
    assert any(line.startswith("participants[0] (id P0001).priority:") for line in found)


# --------------------------------------------------------------------------- what a message may quote


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("P0001", "'P0001'"),              # an id
        ("grupo_niñez", "'grupo_niñez'"),  # an id in any alphabet
        ("08:00-25:00", "'08:00-25:00'"),  # a window, a time, a number or a date written as text
        ("30", "'30'"),
        ("2026-02-30", "a text of 10 characters"),  # a date may be a birth date: described (QA 2026-11-28)
        ("078-05-1120", "a text of 11 characters"),  # a social security number's shape
        ("05/04/1990", "a text of 10 characters"),
        ("555-123-4567", "a text of 12 characters"),  # a phone number's
        ("5551234567", "a text of 10 characters"),  # nine digits and more: an SSN or a phone number
        ("12345678", "'12345678'"),
        (123456789, "a whole number of 9 digits"),
        (99999999, "99999999"),
        ("iop-scenario/2", "'iop-scenario/2'"),
        ("Jordan Smith", "a text of 12 characters"),  # may be a name: described, never repeated
        ("New York", "a text of 8 characters"),
        ("America/NewYork", "a text of 15 characters"),
        ("P0001\n", "a text of 6 characters"),
        ("x", "'x'"),
        ("", "an empty text"),
        ("p" * 41, "a text of 41 characters"),
        ("12:00-13:00-14:00", "a text of 17 characters"),  # a token, but longer than 16
        (60, "60"),
        (60.5, "60.5"),
        (math.inf, "inf"),
        (math.nan, "nan"),
        (2**70, "a whole number of about 22 digits"),
        (True, "true"),
        (None, "null"),
        (date(2026, 11, 30), "a date"),
        (datetime(2026, 11, 30, 9, 0), "a date and time"),
        (["Jordan", "Smith"], "a list of 2 items"),
        ({"name": "Jordan"}, "a mapping of 1 entry"),
    ],
)
def test_quote_shows_only_what_cannot_be_a_name(value: object, shown: str) -> None:
    assert quote(value) == shown
    assert is_quotable(value) == shown.startswith("'") or not isinstance(value, str)


def test_quote_bare_and_ids() -> None:
    assert quote("T01", bare=True) == "T01"
    assert quote("Dr Brown", bare=True) == "a text of 8 characters"
    assert is_id("P-Ü01") and is_id("a" * 40)
    assert not is_id("a" * 41) and not is_id("P1\n") and not is_id("_P1") and not is_id("P 1") and not is_id(7)
