"""The schedule: pydantic v2 models of ``format: iop-schedule/1``.

A schedule may be written by the optimizer or edited by hand, so this module checks only
its form (times, days, ids). Whether it obeys the rules of its scenario is the checker's
business (:func:`optimizer.check`).
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
)
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


class SolverAdditions(BaseModel):
    """The keys the optimizer writes in ``solver`` beside the contract's, all optional.

    This model only documents them: :class:`SolverInfo` adds its fields to its JSON Schema
    (``iop-roster schema schedule``). When a schedule is read they stay extra keys of
    ``solver`` (``SolverInfo.model_extra``, where ``batch`` reads ``input_hash``) and their
    types are not checked, so a hand-edited file, or one an older version wrote, loads as it
    did, and a key a file does not have is not written back as ``null``.
    """

    build_seconds: Finite | None = Field(
        description="Seconds spent building the CP-SAT models (null in deterministic mode: wall times differ run to run)."
    )
    greedy_seconds: Finite | None = Field(
        description="Seconds spent on the greedy starting schedule (null in deterministic mode)."
    )
    time_limit: Finite = Field(description="The solve's time limit in seconds, always written as a decimal (`30.0`).")
    workers: Annotated[int, Field(ge=1)] = Field(description="CP-SAT workers the solve used.")
    deterministic: bool = Field(
        description="Whether the solve ran in deterministic mode: same scenario, seed and parameters, same schedule."
    )
    ortools_version: str = Field(description="Version of OR-Tools (CP-SAT) that found the schedule.")
    levels: dict[str, Finite] = Field(
        description=(
            "Each objective level's value at this schedule: `coverage` (level 1, in level-1 units, equal to "
            "`objective`), `minimums` (level 2), `quality` (level 3), `cost` (level 4), and, when re-planning "
            "(`solve --from`), `kept`: the seats, sessions and appointments of the schedule in force kept. Levels 2 "
            "to 4 are weighted penalties in minutes (a count is worth 60): lower is better."
        )
    )
    breakdown: dict[str, Finite] = Field(
        description=(
            "Each soft family's weighted penalty (weight x quantity, in minutes; a count is worth 60): "
            "`hours_shortfall`, `days_shortfall` (level 2), `continuity`, `preferred_therapist`, "
            "`load_balance` (level 3), `sessions`, `therapist_hours` (level 4), and `kept_seats_lost` (a count, "
            "when re-planning)."
        )
    )
    input_hash: str = Field(
        pattern=r"^[0-9a-f]{64}$",
        description=(
            "Written by `iop-roster batch`: a sha256 of the scenario file's bytes and the parameters that define "
            "the problem (time limit, relative gap, seed, deterministic mode). A rerun skips a scenario whose "
            "schedule carries the hash it would record."
        ),
    )


def _document_solver_schema(schema: JsonDict) -> None:
    properties = schema["properties"]
    assert isinstance(properties, dict)
    additions = SolverAdditions.model_json_schema()["properties"]
    assert isinstance(additions, dict)
    properties.update(additions)


class SolverInfo(BaseModel):
    """How the schedule was found and how good it provably is (level-1 units).

    ``objective`` and ``best_bound`` are priority-weighted delivered sessions; ``gap`` is
    ``(best_bound - objective) / best_bound``. Other keys are allowed and kept; those the
    optimizer writes (its parameters, the OR-Tools version, per-level values, per-family
    breakdown, batch's input hash) are optional properties of the JSON Schema.
    """

    model_config = ConfigDict(extra="allow", json_schema_extra=_document_solver_schema)

    status: SolverStatus = Field(
        description="`optimal` (level 1 proven), `feasible`, `infeasible`, `unknown` (no schedule in time) or `invalid`."
    )
    objective: Finite | None = Field(default=None, description="Priority-weighted delivered sessions (level 1).")
    best_bound: Finite | None = Field(default=None, description="Proven upper bound of `objective`.")
    gap: Finite | None = Field(default=None, description="`(best_bound - objective) / best_bound`.")
    wall_seconds: Finite | None = Field(
        default=None, description="Seconds the solve took (null in deterministic mode: wall times differ run to run)."
    )
    seed: int | None = Field(default=None, description="Random seed of the search.")


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

    @model_serializer(mode="wrap")
    def _groups_only(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # ``group_type`` is for group sessions only (the contract's example leaves it out of
        # appointments): an explicit null could trip a strict consumer of the file.
        data: dict[str, Any] = handler(self)
        if data.get("group_type") is None:
            data.pop("group_type", None)
        return data


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
