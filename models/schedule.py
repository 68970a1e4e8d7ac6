"""The schedule: pydantic v2 models of ``format: iop-schedule/1``.

A schedule may be written by the optimizer or edited by hand, so this module checks only
its form (times, days, ids). Whether it obeys the rules of its scenario is the checker's
business (:func:`optimizer.check`).
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, JsonValue, field_validator
from pydantic.config import JsonDict

from models.scenario import Day, Id, Label, TimeOfDay, quote

SolverStatus = Literal["optimal", "feasible", "infeasible", "unknown", "invalid"]

_END_PATTERN = r"^(([01]\d|2[0-3]):[0-5]\d|24:00)$"


def _check_end(value: str) -> str:
    if re.fullmatch(_END_PATTERN[1:-1], value) is None:
        raise ValueError(f"{quote(value)} is not a time of the form HH:MM (00:00 to 24:00)")
    return value


def _check_sha256(value: str | None) -> str | None:
    if value is not None and re.fullmatch(r"[0-9a-fA-F]{64}", value) is None:
        raise ValueError("is not a sha256: 64 hexadecimal digits")
    return value


#: The end of a session: a time, or ``24:00`` (midnight at the close of the day).
EndTime = Annotated[str, AfterValidator(_check_end), Field(json_schema_extra={"pattern": _END_PATTERN})]
#: A number that is neither infinite nor NaN.
Finite = Annotated[float, Field(allow_inf_nan=False)]


class ScenarioRef(BaseModel):
    """Which scenario a schedule belongs to: its program name and the sha256 of its bytes."""

    model_config = ConfigDict(extra="forbid")

    name: str
    sha256: Annotated[str | None, AfterValidator(_check_sha256)] = None


class SolverInfo(BaseModel):
    """How the schedule was found and how good it provably is (level-1 units).

    ``objective`` and ``best_bound`` are priority-weighted delivered sessions; ``gap`` is
    ``(best_bound - objective) / best_bound``. Extra keys (ortools version, per-level values,
    per-family breakdown, parameters) are allowed and kept.
    """

    model_config = ConfigDict(extra="allow")

    status: SolverStatus
    objective: Finite | None = None
    best_bound: Finite | None = None
    gap: Finite | None = None
    wall_seconds: Finite | None = None
    seed: int | None = None


class ScheduledSession(BaseModel):
    """One session of the week: a group session or an appointment, in program time."""

    model_config = ConfigDict(extra="forbid")

    id: Id
    kind: Label
    group_type: Id | None = None
    therapist: Id
    day: Day
    start: TimeOfDay
    end: EndTime
    participants: list[Id] = Field(default_factory=list)


class UnmetNeed(BaseModel):
    """A need not delivered this week, and why, in words operations staff can act on."""

    model_config = ConfigDict(extra="forbid")

    participant: Id
    need: Label
    missing: Annotated[int, Field(ge=1)]
    reasons: list[str] = Field(default_factory=list)


def _non_finite(value: object) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, dict):
        return any(_non_finite(item) for item in value.values())
    if isinstance(value, list):
        return any(_non_finite(item) for item in value)
    return False


#: Top-level keys a schedule file may carry besides the fields of :class:`Schedule`:
#: ``changes``, written by a re-plan (``solve --from``): what moved against the schedule in force.
EXTRA_KEYS: frozenset[str] = frozenset({"changes"})


def _document_schema(schema: JsonDict) -> None:
    properties = schema["properties"]
    assert isinstance(properties, dict)
    properties["changes"] = {
        "type": "object",
        "description": "Written by a re-plan (solve --from): what moved against the schedule in force.",
    }
    schema["additionalProperties"] = False


class Schedule(BaseModel):
    """A whole schedule file (``format: iop-schedule/1``); unknown top-level keys are errors."""

    # A file's unknown keys are refused by models.validation.validate_schedule; the model
    # itself keeps extra keys, as the optimizer sets ``changes`` (EXTRA_KEYS) on it.
    model_config = ConfigDict(extra="allow", json_schema_extra=_document_schema)

    format: Literal["iop-schedule/1"]
    scenario: ScenarioRef
    solver: SolverInfo
    sessions: list[ScheduledSession] = Field(default_factory=list)
    unmet: list[UnmetNeed] = Field(default_factory=list)
    summary: dict[str, JsonValue] = Field(default_factory=dict)

    @field_validator("summary")
    @classmethod
    def _finite_summary(cls, value: dict[str, JsonValue]) -> dict[str, JsonValue]:
        for key, item in value.items():
            if _non_finite(item):
                raise ValueError(f"summary entry {quote(key)} holds a number that is infinite or NaN")
        return value
