"""JSON Schemas of the scenario and schedule documents (exported, and committed in schemas/)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from models.scenario import Scenario
from models.schedule import Schedule

DocumentKind = Literal["scenario", "schedule"]
SCHEMA_DIR = Path(__file__).parent / "schemas"


def json_schema(kind: DocumentKind) -> dict[str, object]:
    """The JSON Schema (draft 2020-12) of a scenario or schedule document."""
    model = Scenario if kind == "scenario" else Schedule
    schema = model.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"https://iop-roster.invalid/schemas/iop-{kind}-1.json"
    return schema


def json_schema_text(kind: DocumentKind) -> str:
    """The schema as stable, indented JSON text."""
    return json.dumps(json_schema(kind), indent=2, sort_keys=True) + "\n"


def committed_schema_path(kind: DocumentKind) -> Path:
    """Where the committed copy of a schema lives."""
    return SCHEMA_DIR / f"{kind}.schema.json"
