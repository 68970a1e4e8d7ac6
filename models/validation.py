"""Validation of whole documents: every problem at once, each with its path, id and rule.

Two passes run on every scenario, and both always run, so a file with a typo in one place
and a dangling reference in another gets both reported:

1. the pydantic models (formats, ranges, min <= max, unknown fields);
2. whole-document rules on the raw data (unique ids, references that resolve), written to
   tolerate a document that failed pass 1.

Warnings (valid, but cannot be fully served) are computed only for a valid scenario.

No message repeats a value of the file that may be personal data: every value shown goes
through :func:`models.scenario.quote`, and an entry is labelled ``(id X)`` only when ``X``
is a well-formed id.
"""

from __future__ import annotations

import difflib
import re
import typing
from collections.abc import Mapping, Sequence
from typing import cast

from pydantic import BaseModel, ValidationError

from models.clock import DAYS, WeekClock, format_time, parse_time, parse_window
from models.errors import Issue
from models.scenario import (
    ID_PATTERN,
    Appointment,
    DaysRange,
    GroupType,
    HoursRange,
    ObjectiveWeights,
    Participant,
    Program,
    Scenario,
    SizeRange,
    Therapist,
    is_id,
    is_quotable,
    quote,
)
from models.schedule import (
    EXTRA_KEYS,
    ScenarioRef,
    Schedule,
    ScheduledSession,
    SolverInfo,
    UnmetNeed,
)

_ALL_MODELS: tuple[type[BaseModel], ...] = (
    Scenario, Program, GroupType, SizeRange, Therapist, Participant, HoursRange, DaysRange,
    Appointment, ObjectiveWeights, Schedule, ScenarioRef, SolverInfo, ScheduledSession, UnmetNeed,
)
_KNOWN_FIELDS: frozenset[str] = frozenset(name for model in _ALL_MODELS for name in model.model_fields)

__all__ = [
    "ID_PATTERN",
    "demand_hours",
    "is_id",
    "is_quotable",
    "quote",
    "scenario_warnings",
    "therapist_hours",
    "validate_scenario",
    "validate_schedule",
]

Raw = Mapping[str, object]

#: pydantic's words for "a mapping was expected" name internal classes (``SizeRange``).
_MAPPING_EXPECTED = frozenset({"model_type", "model_attributes_type", "dict_type"})
#: Errors whose message already says all a "(got ...)" could add (a length).
_SAYS_ENOUGH = frozenset({"string_too_short", "string_too_long", "too_short", "too_long"})


# --------------------------------------------------------------------------- paths


def _label(raw: object, loc: Sequence[int | str]) -> str:
    """``participants[3] (id P0004).availability.mon[0]`` for a location in ``raw``."""
    parts: list[str] = []
    node: object = raw
    for key in loc:
        if isinstance(key, int):
            part = f"[{key}]"
            node = node[key] if isinstance(node, list) and 0 <= key < len(node) else None
            if isinstance(node, Mapping) and is_id(node.get("id")):
                part += f" (id {node['id']})"
            parts.append(part)
        else:
            # A key of the document (a needs entry, a day) is shown only if it could be an id.
            shown = str(key) if is_id(key) else "<key that is not a valid id>"
            parts.append(("." if parts else "") + shown)
            node = node.get(key) if isinstance(node, Mapping) else None
    return "".join(parts)


def _model_of(annotation: object) -> type[BaseModel] | None:
    """The model an annotation holds (``list[Participant]``, ``SizeRange | None``, ...), if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in typing.get_args(annotation):
        found = _model_of(argument)
        if found is not None:
            return found
    return None


def _entry_model(root: type[BaseModel] | None, path: Sequence[int | str]) -> type[BaseModel] | None:
    """The model of the entry at ``path`` below ``root`` (list positions skipped), if known."""
    model = root
    for key in path:
        if model is None:
            return None
        if isinstance(key, int):
            continue
        field = model.model_fields.get(key)
        model = _model_of(field.annotation) if field is not None else None
    return model


#: Fields whose strings are ids, or lists of ids.
_ID_FIELDS = frozenset({
    "id", "therapist", "qualification", "avoid", "avoid_therapists", "preferred_therapists",
    "qualifications", "requires_qualifications", "licensed_states", "state",
})


def _message(item: Mapping[str, object], loc: Sequence[int | str], root: type[BaseModel] | None = None) -> str:
    """The rule an error item of pydantic broke, in plain words, quoting only what may be quoted.

    ``root``: the document's model, so a typo is matched against the fields of its own entry
    (a participant's ``nam`` suggested ``name``, a therapist's field).
    """
    kind = item["type"]
    value = item.get("input")
    if kind == "missing":
        return "is required but missing"
    if kind == "extra_forbidden":
        name = loc[-1] if loc else ""
        entry = _entry_model(root, loc[:-1])
        candidates = list(entry.model_fields) if entry is not None else sorted(_KNOWN_FIELDS)
        close = difflib.get_close_matches(str(name), candidates, n=1)
        if name in _KNOWN_FIELDS:
            # A real field in the wrong entry: suggesting its own name would be no help.
            hint = " (that field belongs to another kind of entry)"
        else:
            hint = f" (did you mean '{close[0]}'?)" if close else ""
        shown = f" {quote(name)}" if isinstance(name, str) and is_quotable(name) else ""
        return f"unknown field{shown}{hint}: typos are not ignored"
    if kind == "value_error":
        return str(item["msg"]).removeprefix("Value error, ")
    if kind in _MAPPING_EXPECTED:
        return "Input should be a mapping (key: value entries)"
    if kind == "string_pattern_mismatch":
        return "does not have the form this field takes"  # never the regular expression
    # "List should have at least 1 item after validation, not 0": the tail is pydantic's jargon.
    message = re.sub(r" after validation, not \d+$", "", str(item["msg"]))
    if isinstance(value, str | int | float) and kind not in _SAYS_ENOUGH:
        message += f" (got {quote(value)})"
    if kind == "string_type" and isinstance(value, int | float) and not isinstance(value, bool):
        # An unquoted 010, 0x1F or 1e3 is a number in YAML: 10, 31, 1000.0, not what was typed.
        # Ids are where that happens; elsewhere (hours: 8, name: 2026) "ids" would puzzle.
        field_name = next((key for key in reversed(loc) if isinstance(key, str)), "")
        shown = "ids" if field_name in _ID_FIELDS else "the value"
        message += f"; an unquoted 010 or 0x1F is read as a number: write {shown} in quotes"
    return message


def _pydantic_issues(error: ValidationError, raw: object, file: str | None, root: type[BaseModel] | None = None) -> list[Issue]:
    issues: list[Issue] = []
    for item in error.errors(include_url=False):
        loc = [key for key in item["loc"] if not (isinstance(key, str) and key.startswith("function-"))]
        if loc and loc[-1] == "[key]":
            loc = loc[:-1]
            value = item.get("input")
            if is_quotable(value):
                message = f"{quote(value)} is not allowed as a key here"
            else:
                message = "a key that is not a valid id is not allowed here"
            if isinstance(value, str) and value.strip().lower()[:3] in DAYS:
                message += " (days are mon tue wed thu fri sat sun)"
        else:
            message = _message(cast("Mapping[str, object]", item), loc, root)
        issues.append(Issue(_label(raw, loc), message, "error", file))
    return issues


# --------------------------------------------------------------------------- tolerant access


def _items(raw: object, key: str) -> list[tuple[int, Mapping[str, object]]]:
    if not isinstance(raw, Mapping):
        return []
    value = raw.get(key)
    if not isinstance(value, list):
        return []
    return [(index, item) for index, item in enumerate(value) if isinstance(item, Mapping)]


def _str_list(value: object) -> list[str]:
    return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []


def _ids(raw: object, key: str) -> set[str]:
    return {str(item["id"]) for _, item in _items(raw, key) if isinstance(item.get("id"), str)}


# --------------------------------------------------------------------------- whole-document rules


def _document_issues(raw: Raw, file: str | None) -> list[Issue]:
    issues: list[Issue] = []

    def add(loc: Sequence[int | str], message: str) -> None:
        issues.append(Issue(_label(raw, loc), message, "error", file))

    for collection in ("group_types", "therapists", "participants"):
        first_seen: dict[str, int] = {}
        for index, item in _items(raw, collection):
            ident = item.get("id")
            if not isinstance(ident, str) or not is_id(ident):
                continue  # pass 1 reports a malformed id, without echoing it
            if ident in first_seen:
                add([collection, index, "id"], f"duplicate id {ident}: {collection}[{first_seen[ident]}] has it too; ids must be unique")
            else:
                first_seen[ident] = index

    group_type_ids = _ids(raw, "group_types")
    therapist_ids = _ids(raw, "therapists")
    participant_ids = _ids(raw, "participants")

    for index, person in _items(raw, "participants"):
        own_id = person.get("id")
        needs = person.get("needs")
        if isinstance(needs, Mapping):
            for need in needs:
                if is_id(need) and need not in group_type_ids:
                    add(["participants", index, "needs", str(need)], f"needs group type {need!r}, which no group_types entry defines")
        for position, ident in enumerate(_str_list(person.get("avoid"))):
            if not is_id(ident):
                continue  # pass 1 reports a malformed id, without echoing it
            if ident == own_id:
                add(["participants", index, "avoid", position], "a participant cannot avoid themself")
            elif ident not in participant_ids:
                add(["participants", index, "avoid", position], f"avoid names {ident}, which is not a participant id of this file")
        for field in ("avoid_therapists", "preferred_therapists"):
            for position, ident in enumerate(_str_list(person.get(field))):
                if is_id(ident) and ident not in therapist_ids:
                    add(["participants", index, field, position], f"{field} names {ident}, which is not a therapist id of this file")
        for position, appointment in _items(person, "appointments"):
            therapist = appointment.get("therapist")
            if is_id(therapist) and therapist not in therapist_ids:
                add(["participants", index, "appointments", position, "therapist"], f"therapist {therapist} is not a therapist id of this file")
    return issues


# --------------------------------------------------------------------------- warnings


#: IANA names that are fixed offsets, not the places people mean by them (EST in July is an
#: hour off New York), with the zone that follows those clocks. (America/Phoenix, not MST,
#: is Arizona; HST and Pacific/Honolulu agree, but the name says what is meant.)
_FIXED_US_ZONES = {"EST": ("-5", "America/New_York"), "MST": ("-7", "America/Denver (America/Phoenix for Arizona)"),
                   "HST": ("-10", "Pacific/Honolulu")}


def scenario_warnings(scenario: Scenario, file: str | None = None) -> list[Issue]:
    """Problems of a valid scenario that will leave needs unmet whatever the optimizer does.

    The contract allows each of them (a week is often short of something); the schedule
    then lists the need as unmet, with its reason.
    """
    warnings: list[Issue] = []
    clock = WeekClock(scenario.program.timezone, scenario.program.week_start)
    licensed = {state for t in scenario.therapists for state in t.licensed_states}
    qualifications = {q for t in scenario.therapists for q in t.qualifications}
    group_types = {g.id: g for g in scenario.group_types}

    def warn(path: str, message: str) -> None:
        warnings.append(Issue(path, message, "warning", file))

    zones: list[tuple[str, str | None]] = [("program.timezone", scenario.program.timezone)]
    zones += [(f"therapists[{i}] (id {t.id}).timezone", t.timezone) for i, t in enumerate(scenario.therapists)]
    zones += [(f"participants[{i}] (id {p.id}).timezone", p.timezone) for i, p in enumerate(scenario.participants)]
    for path, zone in zones:
        if zone in _FIXED_US_ZONES:
            warn(path, f"{zone} is UTC{_FIXED_US_ZONES[zone][0]} all year, without daylight saving time: "
                       f"{_FIXED_US_ZONES[zone][1]} follows the clocks there")

    for index, person in enumerate(scenario.participants):
        where = f"participants[{index}] (id {person.id})"
        if person.state not in licensed:
            warn(f"{where}.state", f"no therapist is licensed in {person.state}: nothing can be scheduled for this participant")
        need_minutes = 0
        for group_id, count in person.needs.items():
            group = group_types[group_id]
            need_minutes += count * group.duration_minutes
            if count == 0:
                continue
            if group.population != "any" and group.population != person.population:
                warn(f"{where}.needs.{group_id}", f"{group_id} is for {group.population} participants and this participant is {person.population}")
            missing_tags = [tag for tag in group.requires_tags if tag not in person.tags]
            if missing_tags:
                shown = ", ".join(quote(tag, bare=True) for tag in missing_tags)
                warn(f"{where}.needs.{group_id}", f"{group_id} requires tag(s) {shown} that this participant does not carry")
        need_minutes += sum(a.count * a.duration_minutes for a in person.appointments)
        if need_minutes < person.hours_per_week.min * 60:
            warn(
                f"{where}.hours_per_week.min",
                f"needs and appointments add up to {need_minutes / 60:g} h, below the minimum of {person.hours_per_week.min:g} h",
            )
        if not clock.windows_to_program(person.availability, person.timezone) and (person.needs or person.appointments):
            warn(f"{where}.availability", "no availability: nothing can be scheduled")
        for position, appointment in enumerate(person.appointments):
            if appointment.qualification is not None and appointment.qualification not in qualifications:
                warn(
                    f"{where}.appointments[{position}].qualification",
                    f"no therapist of this file holds qualification {appointment.qualification}: this appointment cannot be scheduled",
                )
            if appointment.therapist is not None and appointment.therapist in person.avoid_therapists:
                warn(
                    f"{where}.appointments[{position}].therapist",
                    f"therapist {appointment.therapist} is on this participant's avoid_therapists: this appointment cannot be scheduled",
                )

    hours = parse_window(scenario.program.hours)
    shown_hours = f"{format_time(hours[0])}-{format_time(hours[1])}"
    kinds: dict[str, str] = {}  # appointment kind -> where it is first used
    for index, person in enumerate(scenario.participants):
        for position, appointment in enumerate(person.appointments):
            kinds.setdefault(appointment.kind, f"participants[{index}] (id {person.id}).appointments[{position}].kind")
    for index, group in enumerate(scenario.group_types):
        where = f"group_types[{index}] (id {group.id})"
        if not any(set(group.requires_qualifications) <= set(t.qualifications) for t in scenario.therapists):
            warn(f"{where}.requires_qualifications", "no therapist holds all of these qualifications: this group type cannot run")
        if group.days and not set(group.days) <= set(scenario.program.days):
            extra = sorted(set(group.days) - set(scenario.program.days), key=DAYS.index)
            warn(f"{where}.days", f"{', '.join(extra)} is not a program day: no session runs then")
        for position, start_text in enumerate(group.start_times or []):
            start = parse_time(start_text)
            if start < hours[0] or start + group.duration_minutes > hours[1]:
                warn(
                    f"{where}.start_times[{position}]",
                    f"a {group.duration_minutes}-minute session starting at {start_text} does not fit inside "
                    f"program.hours {shown_hours}: no session starts then",
                )
        if group.id in kinds:
            warn(
                f"{where}.id",
                f"{group.id} is both this group type's id and an appointment kind ({kinds[group.id]}): "
                f"an unmet need {group.id} in the schedule could be either; rename one of them",
            )

    demand = demand_hours(scenario)
    supply = therapist_hours(scenario)
    if demand > supply:
        warn("", f"demand of {demand:g} participant-hours of one-to-one time plus group-leading hours "
                 f"exceeds the {supply:g} therapist hours available")
    return warnings


def demand_hours(scenario: Scenario) -> float:
    """Therapist hours the week needs: appointment hours plus group hours at full groups."""
    group_types = {g.id: g for g in scenario.group_types}
    appointment_minutes = sum(a.count * a.duration_minutes for p in scenario.participants for a in p.appointments)
    group_minutes = sum(
        count * group_types[g].duration_minutes / group_types[g].size.max
        for p in scenario.participants
        for g, count in p.needs.items()
    )
    return round((appointment_minutes + group_minutes) / 60, 1)


def therapist_hours(scenario: Scenario) -> float:
    """Therapist hours on offer: each therapist's availability, capped by max_hours_per_week."""
    clock = WeekClock(scenario.program.timezone, scenario.program.week_start)
    total = 0.0
    for therapist in scenario.therapists:
        # Real time: a 00:00-24:00 window on the day clocks go back is 25 hours.
        hours = clock.elapsed_minutes(clock.windows_to_program(therapist.availability, therapist.timezone)) / 60
        if therapist.max_hours_per_week is not None:
            hours = min(hours, therapist.max_hours_per_week)
        total += hours
    return round(total, 1)


# --------------------------------------------------------------------------- entry points


def validate_scenario(raw: object, file: str | None = None) -> tuple[Scenario | None, list[Issue], list[Issue]]:
    """Validate a parsed scenario document.

    Returns
    -------
    scenario, errors, warnings
        ``scenario`` is None when there is any error; every error of both passes is listed.
    """
    if not isinstance(raw, Mapping):
        return None, [Issue("", "the document must be a mapping with format: iop-scenario/1 at the top", "error", file)], []
    errors: list[Issue] = []
    scenario: Scenario | None = None
    try:
        scenario = Scenario.model_validate(raw)
    except ValidationError as error:
        errors.extend(_pydantic_issues(error, raw, file, Scenario))
    errors.extend(_document_issues(raw, file))
    if errors:
        return None, errors, []
    assert scenario is not None
    return scenario, [], scenario_warnings(scenario, file)


def validate_schedule(raw: object, file: str | None = None) -> tuple[Schedule | None, list[Issue]]:
    """Validate a parsed schedule document's form (not its rules: that is the checker's)."""
    if not isinstance(raw, Mapping):
        return None, [Issue("", "the document must be a mapping with format: iop-schedule/1 at the top", "error", file)]
    errors: list[Issue] = []
    schedule: Schedule | None = None
    try:
        schedule = Schedule.model_validate(raw)
    except ValidationError as error:
        errors.extend(_pydantic_issues(error, raw, file, Schedule))
    # The model keeps extra top-level keys (the optimizer sets ``changes``); a file may not.
    for key, value in raw.items():
        if key in EXTRA_KEYS:
            if not isinstance(value, Mapping):
                errors.append(Issue(_label(raw, [key]), _message({"type": "dict_type", "input": value}, [key]), "error", file))
        elif key not in Schedule.model_fields:
            errors.append(Issue(_label(raw, [key]), _message({"type": "extra_forbidden", "input": value}, [key], Schedule), "error", file))
    return (None, errors) if errors else (schedule, [])
