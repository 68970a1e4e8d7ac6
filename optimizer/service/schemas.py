"""Request and response bodies of the HTTP API (pydantic models, documented in OpenAPI).

Scenario and schedule documents travel as plain JSON objects here: their form is the
contract of ``scenario-format.md`` (``iop-roster schema scenario`` prints its JSON Schema),
and they are validated by :mod:`models.validation`, whose messages name the path and the rule
without echoing personal data.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue
from pydantic.json_schema import SkipJsonSchema

from models.schedule import SolverStatus
from optimizer.check import Violation

JobStatus = Literal["queued", "solving", "solved", "stopped", "failed", "invalid"]
Document = dict[str, JsonValue]

#: A complete, valid scenario, small enough to read: one evening process group, one therapist.
EXAMPLE_SCENARIO: Document = {
    "format": "iop-scenario/1",
    "program": {
        "name": "Example IOP",
        "timezone": "America/New_York",
        "week_start": "2026-11-30",
        "days": ["mon", "wed"],
        "hours": "08:00-21:00",
        "slot_minutes": 30,
    },
    "group_types": [
        {
            "id": "process",
            "name": "Process group",
            "category": "process",
            "duration_minutes": 90,
            "size": {"min": 2, "max": 8},
            "population": "adult",
            "start_times": ["18:00"],
        }
    ],
    "therapists": [
        {
            "id": "T01",
            "licensed_states": ["NY"],
            "availability": {"mon": ["17:00-21:00"], "wed": ["17:00-21:00"]},
        }
    ],
    "participants": [
        {
            "id": f"P000{n}",
            "state": "NY",
            "population": "adult",
            "availability": {"mon": ["17:00-21:00"], "wed": ["17:00-21:00"]},
            "needs": {"process": 2},
        }
        for n in (1, 2, 3)
    ],
}


class ErrorItem(BaseModel):
    """One problem: where (a path into the submitted document) and which rule, never the value."""

    path: str = Field(description="Location, e.g. `participants[2] (id P0003).availability.mon[0]`; empty for the whole document.")
    message: str = Field(description="The rule broken, in plain words.")


class ErrorBody(BaseModel):
    """Body of every error answer (401, 404, 405, 413, 415, 422, 429, 500)."""

    detail: str
    errors: list[ErrorItem] = Field(default_factory=list)

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "detail": "the request does not match the API",
        "errors": [{"path": "body.options.time_limit", "message": "Input should be greater than 0"}],
    }]})


class SolveOptions(BaseModel):
    """How to solve. Every field is optional."""

    # Strict: "time_limit": true, "2" or "deterministic": "yes" are refused (QA: they ran as 1 s,
    # 2 s and true); a whole number is still a number of seconds.
    model_config = ConfigDict(extra="forbid", strict=True)

    time_limit: float | None = Field(default=None, gt=0, description="Seconds of wall clock for the whole solve (default: the server's, at most its maximum).")
    seed: int = Field(default=0, ge=0, le=2**31 - 1, description="Random seed of the search.")
    workers: int | None = Field(default=None, ge=1, le=256, description="CP-SAT workers; the server caps it at its share of the cores.")
    relative_gap: float = Field(default=0.0, ge=0, le=1, description="Stop once coverage is proven within this relative gap.")
    deterministic: bool = Field(default=False, description="Same scenario, seed and options give the same schedule.")


class SubmitRequest(BaseModel):
    """A roster to solve."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "scenario": EXAMPLE_SCENARIO, "options": {"time_limit": 10, "seed": 0},
    }]})

    scenario: Document = Field(description="The scenario document (`format: iop-scenario/1`) as JSON.")
    options: SolveOptions = Field(default_factory=SolveOptions)


class JobCreated(BaseModel):
    """A job was stored. ``status`` is ``queued``, or ``invalid`` when the scenario breaks the format."""

    id: str
    status: JobStatus
    errors: list[ErrorItem] | SkipJsonSchema[None] = Field(default=None, description="With status `invalid`: every error of the scenario.")

    model_config = ConfigDict(json_schema_extra={"examples": [{"id": "q3Yt0u6n8dV1cX9rLk2WbA", "status": "queued"}]})


class JobProgress(BaseModel):
    """The best so far while solving, and the final figures after (objective and bound in level-1 units).

    Every field is optional: a report while solving carries ``stage`` to ``needed``; the final
    one (``stage`` ``done``) carries the same figures of the schedule returned (the counts
    absent when there is none) and ``solver_status``.
    """

    model_config = ConfigDict(extra="allow")

    stage: str | SkipJsonSchema[None] = Field(
        default=None,
        description="The solve's stage: `coverage`, `minimums`, `continuity`, `changes` (re-planning), `quality`; `done` at the end.",
    )
    elapsed: float | SkipJsonSchema[None] = Field(default=None, description="Seconds since the solve started.")
    objective: float | SkipJsonSchema[None] = Field(default=None, description="Priority-weighted delivered sessions of the best schedule so far.")
    best_bound: float | SkipJsonSchema[None] = Field(default=None, description="Proven upper bound of the objective.")
    gap: float | SkipJsonSchema[None] = Field(default=None, description="`(best_bound - objective) / best_bound`.")
    sessions: int | SkipJsonSchema[None] = Field(default=None, description="Sessions (groups and appointments) of the best schedule so far.")
    delivered: int | SkipJsonSchema[None] = Field(default=None, description="Needed sessions it delivers (a participant's seat in a group counts one).")
    needed: int | SkipJsonSchema[None] = Field(default=None, description="Sessions needed by all participants.")
    solver_status: SolverStatus | SkipJsonSchema[None] = Field(
        default=None, description="In the final figures: how the solve ended (`optimal`, `feasible`, `infeasible`, `unknown`, `invalid`)."
    )


class JobSummary(BaseModel):
    """One job in a list."""

    id: str
    status: JobStatus
    created_at: str = Field(description="UTC, ISO 8601.")
    started_at: str | SkipJsonSchema[None] = Field(default=None, description="When its last solve started (UTC, ISO 8601); absent if none has.")
    finished_at: str | SkipJsonSchema[None] = Field(default=None, description="When the job ended (UTC, ISO 8601); absent until then.")
    attempts: int = Field(description="Times a solve of this job was started.")


class JobView(JobSummary):
    """A job: its status, progress while solving, the schedule once there is one, errors."""

    options: dict[str, JsonValue]
    stop_requested: bool = False
    progress: JobProgress | SkipJsonSchema[None] = Field(default=None, description="While solving (and the final figures after).")
    schedule: Document | SkipJsonSchema[None] = Field(default=None, description="The schedule document (`format: iop-schedule/1`).")
    errors: list[ErrorItem] | SkipJsonSchema[None] = Field(default=None, description="Why the job is `invalid` or `failed`.")

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "id": "q3Yt0u6n8dV1cX9rLk2WbA", "status": "solving", "created_at": "2026-11-27T08:00:00.000Z",
        "started_at": "2026-11-27T08:00:00.200Z", "attempts": 1,
        "options": {"time_limit": 10, "seed": 0}, "stop_requested": False,
        "progress": {"stage": "coverage", "elapsed": 1.4, "objective": 6.0, "best_bound": 6.0, "gap": 0.0,
                     "sessions": 2, "delivered": 6, "needed": 6},
    }]})


class JobList(BaseModel):
    """The caller's jobs, newest first."""

    jobs: list[JobSummary]


class CheckRequest(BaseModel):
    """A scenario and a schedule to check against it."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "scenario": EXAMPLE_SCENARIO,
        "schedule": {
            "format": "iop-schedule/1",
            "scenario": {"name": "Example IOP"},
            "solver": {"status": "feasible"},
            "sessions": [{
                "id": "S001", "kind": "group", "group_type": "process", "therapist": "T01",
                "day": "mon", "start": "18:00", "end": "19:30", "participants": ["P0001", "P0002", "P0003"],
            }],
        },
    }]})

    scenario: Document
    schedule: Document


class UnmetItem(BaseModel):
    """A need the schedule does not deliver."""

    participant: str
    need: str
    missing: int


class CheckResult(BaseModel):
    """The checker's report: ``ok`` when no hard rule is broken."""

    ok: bool
    violations: list[Violation] = Field(description="Each broken hard rule: its number in `scenario-format.md` (0: the schedule's form), a code, a message and the ids involved.")
    warnings: list[str]
    levels: dict[str, float]
    summary: dict[str, int | float] = Field(description="The schedule's summary figures, recomputed: counts are integers, `therapist_hours` a number.")
    unmet: list[UnmetItem]


class ValidateRequest(BaseModel):
    """A scenario to validate."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"scenario": EXAMPLE_SCENARIO}]})

    scenario: Document


class ValidateResult(BaseModel):
    """Whether a scenario is valid: every error at once, and warnings for a valid one."""

    valid: bool
    errors: list[ErrorItem]
    warnings: list[ErrorItem]


class Health(BaseModel):
    """The server is up; how busy it is."""

    status: Literal["ok"]
    version: str
    solving: int
    concurrent_solves: int
    workers_per_solve: int
