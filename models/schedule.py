"""The schedule: pydantic v2 models of ``format: iop-schedule/1``.

A schedule may be written by the optimizer or edited by hand, so this module checks only
its form (times, days, ids). Whether it obeys the rules of its scenario is the checker's
business (:func:`optimizer.check`).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from models.scenario import Day, Id, TimeOfDay

SolverStatus = Literal["optimal", "feasible", "infeasible", "unknown", "invalid"]


class ScenarioRef(BaseModel):
    """Which scenario a schedule belongs to: its program name and the sha256 of its bytes."""

    model_config = ConfigDict(extra="forbid")

    name: str
    sha256: str | None = None


class SolverInfo(BaseModel):
    """How the schedule was found and how good it provably is (level-1 units).

    ``objective`` and ``best_bound`` are priority-weighted delivered sessions; ``gap`` is
    ``(best_bound - objective) / best_bound``. Extra keys (ortools version, per-level values,
    per-family breakdown, parameters) are allowed and kept.
    """

    model_config = ConfigDict(extra="allow")

    status: SolverStatus
    objective: float | None = None
    best_bound: float | None = None
    gap: float | None = None
    wall_seconds: float | None = None
    seed: int | None = None


class ScheduledSession(BaseModel):
    """One session of the week: a group session or an appointment, in program time."""

    model_config = ConfigDict(extra="forbid")

    id: Id
    kind: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_\-]{0,39}$")]
    group_type: Id | None = None
    therapist: Id
    day: Day
    start: TimeOfDay
    end: Annotated[str, Field(pattern=r"^(([01]\d|2[0-3]):[0-5]\d|24:00)$")]
    participants: list[Id] = Field(default_factory=list)


class UnmetNeed(BaseModel):
    """A need not delivered this week, and why, in words operations staff can act on."""

    model_config = ConfigDict(extra="forbid")

    participant: Id
    need: str
    missing: Annotated[int, Field(ge=1)]
    reasons: list[str] = Field(default_factory=list)


class Schedule(BaseModel):
    """A whole schedule file (``format: iop-schedule/1``)."""

    model_config = ConfigDict(extra="allow")

    format: Literal["iop-schedule/1"]
    scenario: ScenarioRef
    solver: SolverInfo
    sessions: list[ScheduledSession] = Field(default_factory=list)
    unmet: list[UnmetNeed] = Field(default_factory=list)
    summary: dict[str, JsonValue] = Field(default_factory=dict)
