"""What the HTTP routes do, without HTTP: submit, look up, list, stop, check, validate.

Route handlers in :mod:`optimizer.service.app` only parse the request, call one method of
:class:`RosterService` and format its answer; failures are :class:`ServiceError` subclasses
that the app turns into status codes. Every call names the caller's key id, which owns jobs
(another key's job is "not found") and goes into the audit log.
"""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime

from models.errors import Issue
from models.io import canonical_json
from models.validation import validate_scenario, validate_schedule
from optimizer import __version__
from optimizer.service.runner import Runner
from optimizer.service.schemas import (
    CheckRequest,
    CheckResult,
    ErrorItem,
    Health,
    JobCreated,
    JobList,
    JobProgress,
    JobSummary,
    JobView,
    SubmitRequest,
    ValidateRequest,
    ValidateResult,
)
from optimizer.service.settings import ServiceSettings
from optimizer.service.store import SOLVING, Job, JobStore

_REQUEST = "<request>"


class ServiceError(Exception):
    """A request the service cannot serve; ``errors`` say where and why."""

    def __init__(self, detail: str, errors: list[ErrorItem] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []


class NotFound(ServiceError):
    """No job with this id belongs to the caller."""


class QueueFull(ServiceError):
    """The caller has as many queued jobs as allowed."""


class Unprocessable(ServiceError):
    """The documents sent cannot be used (an invalid scenario for check, a bad schedule)."""


def _iso(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _items(issues: list[Issue], prefix: str = "") -> list[ErrorItem]:
    def where(path: str) -> str:
        if not prefix:
            return path
        return f"{prefix}.{path}" if path and not path.startswith("[") else f"{prefix}{path}"

    return [ErrorItem(path=where(issue.path), message=issue.message) for issue in issues]


def _summary(job: Job) -> JobSummary:
    return JobSummary(
        id=job.id, status=job.status,  # type: ignore[arg-type]
        created_at=_iso(job.created_at) or "", started_at=_iso(job.started_at),
        finished_at=_iso(job.finished_at), attempts=job.attempts,
    )


def _view(job: Job) -> JobView:
    return JobView(
        **_summary(job).model_dump(),
        options=job.options,
        stop_requested=job.stop_requested,
        progress=JobProgress.model_validate(job.progress) if job.progress else None,
        schedule=job.schedule,
        errors=[ErrorItem.model_validate(e) for e in job.errors] if job.errors else None,
    )


class RosterService:
    """The service's operations on one store, with the solver dispatcher if there is one.

    Parameters
    ----------
    store
        The job store.
    runner
        The dispatcher of solves, or None (jobs then stay queued).
    settings
        Limits: time limits, queue cap, stop wait.
    """

    def __init__(self, store: JobStore, runner: Runner | None, settings: ServiceSettings) -> None:
        self.store = store
        self.runner = runner
        self.settings = settings

    def submit(self, key_id: str, request: SubmitRequest) -> JobCreated:
        """Store a job: queued when the scenario is valid, else ``invalid`` with its errors.

        Raises
        ------
        Unprocessable
            The options ask for more time than the server allows.
        QueueFull
            The key already has ``max_queued_per_key`` queued jobs.
        """
        options = request.options
        time_limit = options.time_limit or self.settings.default_time_limit
        if time_limit > self.settings.max_time_limit:
            raise Unprocessable("the options exceed this server's limits", [ErrorItem(
                path="body.options.time_limit",
                message=f"must be at most {self.settings.max_time_limit:g} seconds on this server",
            )])
        stored_options = options.model_dump() | {"time_limit": time_limit}
        _scenario, errors, _warnings = validate_scenario(request.scenario, _REQUEST)
        job = self.store.submit(
            key_id,
            request.scenario,
            stored_options,
            scenario_sha256=None if errors else _sha256(request.scenario),
            errors=[item.model_dump() for item in _items(errors)] or None,
            max_queued=self.settings.max_queued_per_key,
        )
        if job is None:
            self.store.audit(key_id, "submit_refused")
            raise QueueFull(f"this key already has {self.settings.max_queued_per_key} queued jobs; wait for some to start")
        self.store.audit(key_id, "submit", job.id)
        if self.runner is not None and not errors:
            self.runner.wake()
        return JobCreated(id=job.id, status=job.status, errors=_items(errors) or None)  # type: ignore[arg-type]

    def get(self, key_id: str, job_id: str) -> JobView:
        """A job of the caller's.

        Raises
        ------
        NotFound
            No such job, or another key's.
        """
        return _view(self._audited(key_id, "view", job_id, self.store.get(job_id, key_id)))

    def _audited(self, key_id: str, action: str, job_id: str, job: Job | None) -> Job:
        """Record ``action`` (``<action>_missing`` without a job) and return the job, or raise."""
        self.store.audit(key_id, action if job else f"{action}_missing", job_id if job else None)
        if job is None:
            raise NotFound("no job with this id")
        return job

    def list(self, key_id: str, status: str | None, limit: int, offset: int) -> JobList:
        """The caller's jobs, newest first."""
        self.store.audit(key_id, "list")
        return JobList(jobs=[_summary(job) for job in self.store.list_jobs(key_id, status=status, limit=limit, offset=offset)])

    def stop(self, key_id: str, job_id: str) -> JobView:
        """Stop a job: a queued one at once, a solving one keeps its best schedule.

        Waits up to ``stop_wait_seconds`` for a solving job to write its schedule; a job that
        has already ended is returned unchanged.

        Raises
        ------
        NotFound
            No such job, or another key's.
        """
        job = self._audited(key_id, "stop", job_id, self.store.request_stop(job_id, key_id))
        if job.status == SOLVING and self.runner is not None:
            self.runner.request_stop(job_id)
            deadline = time.monotonic() + self.settings.stop_wait_seconds
            while job.status == SOLVING and time.monotonic() < deadline:
                time.sleep(0.1)
                job = self.store.get(job_id, key_id) or job  # jobs are never deleted
        return _view(job)

    def check(self, key_id: str, request: CheckRequest) -> CheckResult:
        """Check a schedule against its scenario with the independent checker.

        Raises
        ------
        Unprocessable
            The scenario is invalid or the schedule is malformed (every error, with paths
            starting ``scenario`` or ``schedule``).
        """
        from optimizer.check import check

        self.store.audit(key_id, "check")
        scenario, scenario_errors, _ = validate_scenario(request.scenario, _REQUEST)
        schedule, schedule_errors = validate_schedule(request.schedule, _REQUEST)
        errors = _items(scenario_errors, "scenario") + _items(schedule_errors, "schedule")
        if errors or scenario is None or schedule is None:
            raise Unprocessable("the scenario or the schedule is invalid", errors)
        report = check(scenario, schedule, scenario_sha256=_sha256(request.scenario))
        return CheckResult.model_validate(report.to_dict())

    def validate(self, key_id: str, request: ValidateRequest) -> ValidateResult:
        """Validate a scenario: every error at once, warnings when valid."""
        self.store.audit(key_id, "validate")
        _scenario, errors, warnings = validate_scenario(request.scenario, _REQUEST)
        return ValidateResult(valid=not errors, errors=_items(errors), warnings=_items(warnings))

    def health(self) -> Health:
        """Liveness and load."""
        concurrent, workers = self.settings.solve_slots()
        return Health(
            status="ok", version=__version__, solving=self.runner.running() if self.runner else 0,
            concurrent_solves=concurrent, workers_per_solve=workers,
        )


def _sha256(document: object) -> str:
    return hashlib.sha256(canonical_json(document).encode()).hexdigest()
