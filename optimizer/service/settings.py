"""Settings of the HTTP service, read from ``IOP_ROSTER_*`` environment variables.

Nothing here is read at import time: :func:`optimizer.service.app.create_app` takes a
:class:`ServiceSettings` built by its caller (``iop-roster serve`` or a test).
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, SecretStr, model_validator
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, SettingsConfigDict

from optimizer.result import MAX_WORKERS


def available_cores() -> int:
    """The cores this process may run on (CPU affinity, not the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def database_url(db: str) -> str:
    """A SQLAlchemy URL for ``db``: a URL is kept, a plain path becomes a SQLite URL."""
    if "://" in db:
        return db
    return f"sqlite:///{Path(db).expanduser().resolve()}"


class ServiceSettings(BaseSettings):
    """Everything the service can be told, each field also an ``IOP_ROSTER_<NAME>`` variable.

    Attributes
    ----------
    db
        Job store: a SQLAlchemy URL (``sqlite:///path``, ``postgresql+psycopg://...``) or a
        path to a SQLite file (WAL mode).
    api_keys
        Comma-separated API keys (``IOP_ROSTER_API_KEYS``).
    api_keys_file
        A file with one API key per line (``#`` comments; ``sha256:<hex>`` for a key given by
        its hash), ``IOP_ROSTER_API_KEYS_FILE``.
    insecure_no_auth
        Accept requests without a key (local development only; logged loudly).
    workers
        Solves that run at once; None: one per two cores, at least one.
    cores
        Cores shared by all solves; None: this process's CPU affinity.
    max_body_bytes
        Largest request body accepted (413 beyond it).
    max_queued_per_key
        Queued jobs one key may have waiting (429 beyond it).
    default_time_limit, max_time_limit
        Solve time limit when a request gives none, and the most a request may ask for; the
        default may not exceed the maximum (every request without a limit would be refused).
    max_attempts
        Times a job is started at most: a job interrupted by a restart is re-queued until
        it has been started this many times, then marked failed.
    stop_wait_seconds
        How long ``DELETE`` waits for a stopped solve to write its schedule before answering.
    progress_interval
        Least seconds between two progress writes of a solve.
    poll_interval
        Seconds between two looks of the dispatcher at the queue (submissions wake it at once).
    run_solver
        Start the dispatcher; off, jobs stay queued (API tests without solving).
    """

    model_config = SettingsConfigDict(env_prefix="IOP_ROSTER_", extra="ignore")

    db: str = "iop-roster-jobs.db"
    api_keys: SecretStr | None = None
    api_keys_file: Path | None = None
    insecure_no_auth: bool = False
    # Beyond CP-SAT's own worker cap, solves at once is a typo, not a machine (each is a process).
    workers: int | None = Field(default=None, ge=1, le=MAX_WORKERS)
    cores: int | None = Field(default=None, ge=1)
    max_body_bytes: int = Field(default=8_000_000, ge=1024)
    max_queued_per_key: int = Field(default=100, ge=1)
    default_time_limit: float = Field(default=30.0, gt=0, allow_inf_nan=False)
    max_time_limit: float = Field(default=600.0, gt=0, allow_inf_nan=False)
    max_attempts: int = Field(default=2, ge=1)
    stop_wait_seconds: float = Field(default=5.0, ge=0, allow_inf_nan=False)
    progress_interval: float = Field(default=0.5, ge=0, allow_inf_nan=False)
    poll_interval: float = Field(default=0.5, gt=0, allow_inf_nan=False)
    run_solver: bool = True

    @model_validator(mode="after")
    def _default_time_limit_within_maximum(self) -> ServiceSettings:
        # Otherwise the server starts and refuses every submission without a time_limit with
        # a 422 on a field the client never sent.
        if self.default_time_limit > self.max_time_limit:
            raise PydanticCustomError(
                "time_limits",
                f"IOP_ROSTER_DEFAULT_TIME_LIMIT ({self.default_time_limit:g} s) is above IOP_ROSTER_MAX_TIME_LIMIT "
                f"({self.max_time_limit:g} s): every request without a time_limit would be refused; lower the "
                "default or raise the maximum",
            )
        return self

    def database_url(self) -> str:
        """The job store's SQLAlchemy URL."""
        return database_url(self.db)

    def solve_slots(self) -> tuple[int, int]:
        """Solves at once and CP-SAT workers of each, so that their product fits the cores."""
        cores = self.cores or available_cores()
        concurrent = self.workers or max(1, cores // 2)
        return concurrent, max(1, cores // concurrent)
