"""The exported JSON Schemas (``models/schema.py``) and their committed copies."""

from __future__ import annotations

import json
from typing import cast

import pytest

from models.schema import DocumentKind, committed_schema_path, json_schema, json_schema_text

KINDS: list[DocumentKind] = ["scenario", "schedule"]


@pytest.mark.parametrize("kind", KINDS)
def test_committed_schema_is_current(kind: DocumentKind) -> None:
    path = committed_schema_path(kind)
    assert path.is_file(), f"{path} is missing: run `iop-roster schema {kind} > models/schemas/{kind}.schema.json`"
    assert path.read_text(encoding="utf-8") == json_schema_text(kind), (
        f"{path} is stale: the {kind} models changed. Regenerate it with "
        f"`iop-roster schema {kind} > models/schemas/{kind}.schema.json` and commit it."
    )


@pytest.mark.parametrize("kind", KINDS)
def test_schema_header(kind: DocumentKind) -> None:
    schema = json_schema(kind)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == f"https://iop-roster.invalid/schemas/iop-{kind}-1.json"
    assert schema["type"] == "object"
    # The text form is stable: parsing it gives the same schema back.
    assert json.loads(json_schema_text(kind)) == schema


def _definitions(kind: DocumentKind) -> dict[str, dict[str, object]]:
    return cast("dict[str, dict[str, object]]", json_schema(kind)["$defs"])


def test_scenario_schema_is_strict_and_has_the_contract_fields() -> None:
    schema = json_schema("scenario")
    assert schema["additionalProperties"] is False  # unknown fields are errors
    assert schema["required"] == ["format", "program"]
    properties = cast("dict[str, dict[str, object]]", schema["properties"])
    assert set(properties) == {"format", "program", "group_types", "therapists", "participants", "objective"}
    assert properties["format"]["const"] == "iop-scenario/1"
    definitions = _definitions("scenario")
    for name in ("Program", "GroupType", "Therapist", "Participant", "Appointment", "SizeRange", "ObjectiveWeights"):
        assert definitions[name]["additionalProperties"] is False, name
    participant = cast("dict[str, object]", definitions["Participant"]["properties"])
    assert {"needs", "hours_per_week", "days_per_week", "avoid", "avoid_therapists", "max_group_size",
            "preferred_therapists", "priority", "appointments"} <= set(participant)
    priority = cast("dict[str, object]", participant["priority"])
    assert (priority["minimum"], priority["maximum"], priority["default"]) == (1, 3, 1)


def test_project_addition_objective_block_is_documented() -> None:
    weights = _definitions("scenario")["ObjectiveWeights"]
    properties = cast("dict[str, dict[str, object]]", weights["properties"])
    assert {name: p["default"] for name, p in properties.items()} == {
        "hours_shortfall": 1,
        "days_shortfall": 2,
        "continuity": 3,
        "preferred_therapist": 1,
        "load_balance": 1,
        "sessions": 1,
        "therapist_hours": 1,
    }
    assert "order of the levels is fixed" in cast(str, weights["description"])


def test_schedule_schema_shape() -> None:
    schema = json_schema("schedule")
    assert schema["required"] == ["format", "scenario", "solver"]
    status = cast("dict[str, object]", _definitions("schedule")["SolverInfo"]["properties"])["status"]
    assert cast("dict[str, object]", status)["enum"] == ["optimal", "feasible", "infeasible", "unknown", "invalid"]
    session = _definitions("schedule")["ScheduledSession"]
    assert session["additionalProperties"] is False


def test_solver_block_documents_the_optimizers_additions() -> None:
    solver = _definitions("schedule")["SolverInfo"]
    assert solver["additionalProperties"] is True  # other keys are still kept
    assert solver["required"] == ["status"]  # every addition is optional
    properties = cast("dict[str, dict[str, object]]", solver["properties"])
    types = {name: properties[name].get("type") for name in properties}
    assert types == {
        "status": "string",
        "objective": None, "best_bound": None, "gap": None, "wall_seconds": None, "seed": None,  # nullable
        "build_seconds": None, "greedy_seconds": None,  # null in deterministic mode
        "time_limit": "number",
        "workers": "integer",
        "deterministic": "boolean",
        "ortools_version": "string",
        "levels": "object",
        "breakdown": "object",
        "input_hash": "string",
    }
    for name, entry in properties.items():
        assert entry["description"], name
    assert properties["levels"]["additionalProperties"] == {"type": "number"}
    assert properties["input_hash"]["pattern"] == "^[0-9a-f]{64}$"
