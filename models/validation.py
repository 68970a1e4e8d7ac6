"""Validation of whole documents: every problem at once, each with its path, id and rule.

Two passes run on every scenario, and both always run, so a file with a typo in one place
and a dangling reference in another gets both reported:

1. the pydantic models (formats, ranges, min <= max, unknown fields);
2. whole-document rules on the raw data (unique ids, references that resolve, group
   starts inside program hours), written to tolerate a document that failed pass 1.

Warnings (valid, but cannot be fully served) are computed only for a valid scenario.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from typing import cast

from pydantic import BaseModel, ValidationError

from models.clock import DAYS, WeekClock, parse_time, parse_window
from models.errors import Issue
from models.scenario import _ID_PATTERN as ID_PATTERN
from models.scenario import (
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
)
from models.schedule import ScenarioRef, Schedule, ScheduledSession, SolverInfo, UnmetNeed

_ALL_MODELS: tuple[type[BaseModel], ...] = (
    Scenario, Program, GroupType, SizeRange, Therapist, Participant, HoursRange, DaysRange,
    Appointment, ObjectiveWeights, Schedule, ScenarioRef, SolverInfo, ScheduledSession, UnmetNeed,
)
_KNOWN_FIELDS: frozenset[str] = frozenset(name for model in _ALL_MODELS for name in model.model_fields)

# Leaf fields whose values can never be personal data, so a message may quote them.
_QUOTABLE = frozenset(
    {
        "format", "timezone", "week_start", "days", "hours", "slot_minutes", "start_times",
        "max_concurrent_sessions", "duration_minutes", "min", "max", "population", "category",
        "state", "licensed_states", "max_hours_per_week", "max_sessions_per_day",
        "min_break_minutes", "count", "priority", "max_group_size", "max_sessions_per_week",
        "status", "day", "start", "end", "missing", "seed",
    }
    | set(DAYS)
)

Raw = Mapping[str, object]

_ID_RE = re.compile(ID_PATTERN)


def _is_id(value: object) -> bool:
    """Whether ``value`` is a well-formed id, so a message may quote it.

    Anything else (a name typed where an id belongs) is never echoed: it may be personal data.
    """
    return isinstance(value, str) and _ID_RE.match(value) is not None


# --------------------------------------------------------------------------- paths


def _label(raw: object, loc: Sequence[int | str]) -> str:
    """``participants[3] (id P0004).availability.mon[0]`` for a location in ``raw``."""
    parts: list[str] = []
    node: object = raw
    for key in loc:
        if isinstance(key, int):
            part = f"[{key}]"
            node = node[key] if isinstance(node, list) and 0 <= key < len(node) else None
            if isinstance(node, Mapping) and _is_id(node.get("id")):
                part += f" (id {node['id']})"
            parts.append(part)
        else:
            # A key of the document (a needs entry, a day) is shown only if it could be an id.
            shown = str(key) if _is_id(key) else "<key that is not a valid id>"
            parts.append(("." if parts else "") + shown)
            node = node.get(key) if isinstance(node, Mapping) else None
    return "".join(parts)


def _leaf_name(loc: Sequence[int | str]) -> str:
    for key in reversed(loc):
        if isinstance(key, str):
            return key
    return ""


def _pydantic_issues(error: ValidationError, raw: object, file: str | None) -> list[Issue]:
    issues: list[Issue] = []
    for item in error.errors(include_url=False):
        loc = [key for key in item["loc"] if not (isinstance(key, str) and key.startswith("function-"))]
        kind = item["type"]
        value = item.get("input")
        leaf = _leaf_name(loc)
        if loc and loc[-1] == "[key]":
            loc = loc[:-1]
            message = f"{value!r} is not allowed as a key here" if _is_id(value) else "a key that is not a valid id is not allowed here"
            if isinstance(value, str) and value.lower()[:3] in DAYS:
                message += " (days are mon tue wed thu fri sat sun)"
        elif kind == "missing":
            message = "is required but missing"
        elif kind == "extra_forbidden":
            name = str(loc[-1]) if loc else ""
            if name in _KNOWN_FIELDS:
                # A real field in the wrong entry: suggesting its own name would be no help.
                hint = " (that field belongs to another kind of entry)"
            else:
                close = difflib.get_close_matches(name, _KNOWN_FIELDS, n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
            message = f"unknown field '{name}'{hint}: typos are not ignored"
        elif kind == "value_error":
            message = str(item["msg"]).removeprefix("Value error, ")
        elif kind == "string_pattern_mismatch" and leaf == "kind":
            message = (
                "is not a valid kind: a lowercase letter, then lowercase letters, digits, '_' or '-', "
                "at most 40 characters (e.g. individual, family, medication)"
            )
        elif kind == "string_pattern_mismatch" and leaf not in _QUOTABLE:
            message = (
                "is not a valid id: letters, digits, '_', '.', '-', at most 40 characters "
                "(pseudonymous ids only, never names)"
            )
        else:
            message = str(item["msg"])
            quotable = isinstance(value, (int, float, bool)) or (leaf in _QUOTABLE and isinstance(value, str) and len(value) <= 40)
            if quotable and kind not in {"model_type", "dict_type", "list_type"}:
                message += f" (got {value!r})"
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
            if not isinstance(ident, str) or not _is_id(ident):
                continue  # pass 1 reports a malformed id, without echoing it
            if ident in first_seen:
                add([collection, index, "id"], f"duplicate id {ident}: {collection}[{first_seen[ident]}] has it too; ids must be unique")
            else:
                first_seen[ident] = index

    group_type_ids = _ids(raw, "group_types")
    therapist_ids = _ids(raw, "therapists")
    participant_ids = _ids(raw, "participants")
    qualifications = {q for _, t in _items(raw, "therapists") for q in _str_list(t.get("qualifications"))}

    program = raw.get("program") if isinstance(raw.get("program"), Mapping) else {}
    assert isinstance(program, Mapping)
    hours: tuple[int, int] | None = None
    try:
        hours = parse_window(cast(str, program.get("hours")))
    except (ValueError, TypeError):
        hours = None

    for index, group in _items(raw, "group_types"):
        duration = group.get("duration_minutes")
        starts = group.get("start_times")
        if hours is None or not isinstance(duration, int) or isinstance(duration, bool) or not isinstance(starts, list):
            continue
        for position, start_text in enumerate(starts):
            try:
                start = parse_time(cast(str, start_text))
            except (ValueError, TypeError):
                continue
            if start < hours[0] or start + duration > hours[1]:
                add(
                    ["group_types", index, "start_times", position],
                    f"a {duration}-minute session starting at {start_text} does not fit inside "
                    f"program.hours {program.get('hours')}",
                )

    for index, person in _items(raw, "participants"):
        own_id = person.get("id")
        needs = person.get("needs")
        if isinstance(needs, Mapping):
            for need in needs:
                if _is_id(need) and need not in group_type_ids:
                    add(["participants", index, "needs", str(need)], f"needs group type {need!r}, which no group_types entry defines")
        for position, ident in enumerate(_str_list(person.get("avoid"))):
            if not _is_id(ident):
                continue  # pass 1 reports a malformed id, without echoing it
            if ident == own_id:
                add(["participants", index, "avoid", position], "a participant cannot avoid themself")
            elif ident not in participant_ids:
                add(["participants", index, "avoid", position], f"avoid names {ident}, which is not a participant id of this file")
        for field in ("avoid_therapists", "preferred_therapists"):
            for position, ident in enumerate(_str_list(person.get(field))):
                if _is_id(ident) and ident not in therapist_ids:
                    add(["participants", index, field, position], f"{field} names {ident}, which is not a therapist id of this file")
        for position, appointment in _items(person, "appointments"):
            therapist = appointment.get("therapist")
            qualification = appointment.get("qualification")
            if _is_id(therapist) and therapist not in therapist_ids:
                add(["participants", index, "appointments", position, "therapist"], f"therapist {therapist} is not a therapist id of this file")
            if _is_id(qualification) and qualification not in qualifications:
                add(
                    ["participants", index, "appointments", position, "qualification"],
                    f"no therapist of this file holds qualification {qualification!r}",
                )
            if isinstance(therapist, str) and therapist in _str_list(person.get("avoid_therapists")):
                add(["participants", index, "appointments", position, "therapist"], f"therapist {therapist} is on this participant's avoid_therapists")
    return issues


# --------------------------------------------------------------------------- warnings


def scenario_warnings(scenario: Scenario, file: str | None = None) -> list[Issue]:
    """Problems of a valid scenario that will leave needs unmet whatever the optimizer does."""
    warnings: list[Issue] = []
    clock = WeekClock(scenario.program.timezone, scenario.program.week_start)
    licensed = {state for t in scenario.therapists for state in t.licensed_states}
    group_types = {g.id: g for g in scenario.group_types}

    def warn(index: int, ident: str, field: str, message: str) -> None:
        path = f"participants[{index}] (id {ident})" + (f".{field}" if field else "")
        warnings.append(Issue(path, message, "warning", file))

    for index, person in enumerate(scenario.participants):
        if person.state not in licensed:
            warn(index, person.id, "state", f"no therapist is licensed in {person.state}: nothing can be scheduled for this participant")
        need_minutes = 0
        for group_id, count in person.needs.items():
            group = group_types[group_id]
            need_minutes += count * group.duration_minutes
            if count == 0:
                continue
            if group.population != "any" and group.population != person.population:
                warn(index, person.id, f"needs.{group_id}", f"{group_id} is for {group.population} participants and this participant is {person.population}")
            missing_tags = [tag for tag in group.requires_tags if tag not in person.tags]
            if missing_tags:
                warn(index, person.id, f"needs.{group_id}", f"{group_id} requires tag(s) {', '.join(missing_tags)} that this participant does not carry")
        need_minutes += sum(a.count * a.duration_minutes for a in person.appointments)
        if need_minutes < person.hours_per_week.min * 60:
            warn(
                index, person.id, "hours_per_week.min",
                f"needs and appointments add up to {need_minutes / 60:g} h, below the minimum of {person.hours_per_week.min:g} h",
            )
        if not clock.windows_to_program(person.availability, person.timezone) and (person.needs or person.appointments):
            warn(index, person.id, "availability", "no availability: nothing can be scheduled")

    for index, group in enumerate(scenario.group_types):
        if not any(set(group.requires_qualifications) <= set(t.qualifications) for t in scenario.therapists):
            warnings.append(Issue(
                f"group_types[{index}] (id {group.id}).requires_qualifications",
                "no therapist holds all of these qualifications: this group type cannot run",
                "warning", file,
            ))
        if group.days and not set(group.days) <= set(scenario.program.days):
            extra = sorted(set(group.days) - set(scenario.program.days), key=DAYS.index)
            warnings.append(Issue(
                f"group_types[{index}] (id {group.id}).days",
                f"{', '.join(extra)} is not a program day: no session runs then",
                "warning", file,
            ))

    demand = demand_hours(scenario)
    supply = therapist_hours(scenario)
    if demand > supply:
        warnings.append(Issue(
            "", f"demand of {demand:g} participant-hours of one-to-one time plus group-leading hours "
            f"exceeds the {supply:g} therapist hours available", "warning", file,
        ))
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
        minutes = sum(end - start for start, end in clock.windows_to_program(therapist.availability, therapist.timezone))
        hours = minutes / 60
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
        errors.extend(_pydantic_issues(error, raw, file))
    errors.extend(_document_issues(raw, file))
    if errors:
        return None, errors, []
    assert scenario is not None
    return scenario, [], scenario_warnings(scenario, file)


def validate_schedule(raw: object, file: str | None = None) -> tuple[Schedule | None, list[Issue]]:
    """Validate a parsed schedule document's form (not its rules: that is the checker's)."""
    if not isinstance(raw, Mapping):
        return None, [Issue("", "the document must be a mapping with format: iop-schedule/1 at the top", "error", file)]
    try:
        return Schedule.model_validate(raw), []
    except ValidationError as error:
        return None, _pydantic_issues(error, raw, file)
