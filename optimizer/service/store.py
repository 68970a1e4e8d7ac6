"""The job store: SQLAlchemy Core tables of jobs and of the audit log.

SQLite (WAL mode, ``synchronous=FULL``: a job acknowledged with 202 survives a crash) is the
default; PostgreSQL works through its URL. The server process and each solver process open
their own :class:`JobStore` on the same database.

The database holds every submitted scenario: a SQLite file the store creates is created
readable by its owner only (mode 0600; SQLite gives its ``-wal`` and ``-shm`` files the
same mode), and :func:`prepare_database` warns about an existing one other users can read.

A job moves ``queued -> solving -> solved | stopped | failed``, or is ``invalid`` from the
start. Each start of a solve gets a fresh *run token*; a solver process writes progress and
its result only while the job still carries its token, so a solve orphaned by a restart can
never overwrite the job's later life.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import sqlite3
import stat
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import JsonValue
from sqlalchemy import (
    Boolean,
    Column,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    func,
    insert,
    make_url,
    select,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

QUEUED = "queued"
SOLVING = "solving"
SOLVED = "solved"
STOPPED = "stopped"
FAILED = "failed"
INVALID = "invalid"
FINISHED = frozenset({SOLVED, STOPPED, FAILED, INVALID})

metadata = MetaData()

jobs = Table(
    "jobs",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("owner", String(64), nullable=False, index=True),
    Column("status", String(16), nullable=False, index=True),
    Column("created_at", Float, nullable=False),
    Column("started_at", Float),
    Column("finished_at", Float),
    Column("attempts", Integer, nullable=False, default=0),
    Column("run_token", String(64)),
    Column("stop_requested", Boolean, nullable=False, default=False),
    Column("scenario", Text, nullable=False),
    Column("scenario_sha256", String(64)),
    Column("options", Text, nullable=False),
    Column("progress", Text),
    Column("schedule", Text),
    Column("errors", Text),
)

audit = Table(
    "audit",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("at", Float, nullable=False),
    Column("key_id", String(64), nullable=False),
    Column("action", String(32), nullable=False),
    Column("job_id", String(64)),
)


def new_job_id() -> str:
    """A random job id (no personal data, unguessable)."""
    return secrets.token_urlsafe(16)


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _dumps(value: object) -> str | None:
    return None if value is None else json.dumps(value, separators=(",", ":"))


@dataclass(frozen=True)
class Job:
    """One job as stored."""

    id: str
    owner: str
    status: str
    created_at: float
    started_at: float | None
    finished_at: float | None
    attempts: int
    run_token: str | None
    stop_requested: bool
    options: dict[str, JsonValue]
    progress: dict[str, JsonValue] | None
    schedule: dict[str, JsonValue] | None
    errors: list[dict[str, str]] | None


def _job(row: Any) -> Job:
    return Job(
        id=row.id,
        owner=row.owner,
        status=row.status,
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        attempts=row.attempts,
        run_token=row.run_token,
        stop_requested=bool(row.stop_requested),
        options=_loads(row.options) or {},
        progress=_loads(row.progress),
        schedule=_loads(row.schedule) if "schedule" in row._fields else None,
        errors=_loads(row.errors),
    )


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets WAL mode, full sync and a generous busy timeout."""
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True)
    engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _pragmas(connection: Any, _record: Any) -> None:
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    return engine


_SUMMARY_COLUMNS = [c for c in jobs.c if c.name not in {"scenario", "schedule"}]

PRIVATE_MODE = 0o600


class StoreUnavailable(Exception):
    """The job database cannot be opened or set up; the message names it (without a password) and why."""


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL; None for other databases, in-memory SQLite and unparsable URLs."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return None
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def describe_database(url: str) -> str:
    """The database for messages: a SQLite file's path, or the URL with its password hidden."""
    path = sqlite_file(url)
    if path is not None:
        return str(path)
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "the --db URL"  # unparsable: it might hold a password anywhere


def _create_private(path: Path) -> None:
    """Create an empty SQLite file readable by its owner only, unless it exists."""
    # An existing file is the operator's (or another server's): its mode is theirs.
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_MODE))


def _database_problem(error: BaseException) -> str:
    """Why a database could not be opened, in words that carry no data from it."""
    if isinstance(error, ModuleNotFoundError):
        return f"its database driver is not installed (no module named {error.name})"
    if isinstance(error, NoSuchModuleError):
        return "this kind of database is not supported (use sqlite:///path or postgresql+psycopg://...)"
    if isinstance(error, ArgumentError):
        return "not a database URL (use a file path, sqlite:///path or postgresql+psycopg://...)"
    if isinstance(error, SQLAlchemyError):
        original = getattr(error, "orig", None)
        if isinstance(original, sqlite3.Error):
            return str(original)  # SQLite's fixed words: 'file is not a database', ...
        if original is not None:
            text = str(original).strip()
            return (text.splitlines()[0] if text else type(original).__name__)[:200]
        return type(error).__name__
    if isinstance(error, OSError):
        return error.strerror or type(error).__name__
    return type(error).__name__


def prepare_database(url: str) -> list[str]:
    """Open the job database as a server will, before it starts: a clear error instead of a crash.

    A missing SQLite file is created with mode 0600 and every missing table is created.

    Parameters
    ----------
    url
        SQLAlchemy URL of the database.

    Returns
    -------
    list[str]
        Warnings: an existing SQLite file that other users may read (it holds every
        submitted scenario).

    Raises
    ------
    StoreUnavailable
        The database cannot be opened, created or set up.
    """
    where = describe_database(url)
    path = sqlite_file(url)
    warnings: list[str] = []
    if path is not None:
        if path.is_dir():
            raise StoreUnavailable(f"cannot use the job database {where}: it is a folder, not a file")
        if not path.parent.is_dir():
            raise StoreUnavailable(f"cannot use the job database {where}: its folder {path.parent} does not exist")
        if path.exists():
            mode = stat.S_IMODE(path.stat().st_mode)
            if mode & 0o077:
                warnings.append(
                    f"the job database {where} is open to other users (mode {mode:04o}) and holds every "
                    f"submitted scenario: chmod 600 it"
                )
    try:
        store = JobStore(url)
    except (SQLAlchemyError, ImportError, OSError) as error:
        raise StoreUnavailable(f"cannot use the job database {where}: {_database_problem(error)}") from None
    store.close()
    return warnings


class JobStore:
    """Jobs and audit records in one database.

    Parameters
    ----------
    url
        SQLAlchemy URL of the database.
    create
        Create missing tables, and a missing SQLite file with mode 0600 (the server does;
        solver processes do not).
    """

    def __init__(self, url: str, *, create: bool = True) -> None:
        self.url = url
        path = sqlite_file(url)
        if create and path is not None:
            _create_private(path)
        self.engine = make_engine(url)
        # Counting a key's queued jobs and inserting one more is a single step per server.
        self._submit_lock = threading.Lock()
        if create:
            metadata.create_all(self.engine)

    def close(self) -> None:
        """Release the connections."""
        self.engine.dispose()

    # ------------------------------------------------------------------ server side

    def submit(
        self,
        owner: str,
        scenario: dict[str, JsonValue],
        options: dict[str, JsonValue],
        *,
        scenario_sha256: str | None,
        errors: list[dict[str, str]] | None,
        max_queued: int,
    ) -> Job | None:
        """Store a new job, queued (or ``invalid`` when ``errors`` is given).

        Returns None, storing nothing, when ``owner`` already has ``max_queued`` queued jobs.
        """
        status = INVALID if errors else QUEUED
        now = time.time()
        values = {
            "id": new_job_id(),
            "owner": owner,
            "status": status,
            "created_at": now,
            "finished_at": now if status == INVALID else None,
            "attempts": 0,
            "stop_requested": False,
            "scenario": json.dumps(scenario, separators=(",", ":")),
            "scenario_sha256": scenario_sha256,
            "options": _dumps(options),
            "errors": _dumps(errors),
        }
        with self._submit_lock, self.engine.begin() as connection:
            if status == QUEUED:
                waiting = connection.execute(
                    select(func.count()).select_from(jobs).where(jobs.c.owner == owner, jobs.c.status == QUEUED)
                ).scalar_one()
                if waiting >= max_queued:
                    return None
            connection.execute(insert(jobs).values(**values))
        return self.get(str(values["id"]), owner)

    def get(self, job_id: str, owner: str | None = None) -> Job | None:
        """A job, or None when there is none with this id (owned by ``owner``, if given)."""
        query = select(*[c for c in jobs.c if c.name != "scenario"]).where(jobs.c.id == job_id)
        if owner is not None:
            query = query.where(jobs.c.owner == owner)
        with self.engine.connect() as connection:
            row = connection.execute(query).first()
        return None if row is None else _job(row)

    def list_jobs(self, owner: str, *, status: str | None = None, limit: int = 100, offset: int = 0) -> list[Job]:
        """An owner's jobs, newest first, without schedules."""
        query = select(*_SUMMARY_COLUMNS).where(jobs.c.owner == owner)
        if status is not None:
            query = query.where(jobs.c.status == status)
        query = query.order_by(jobs.c.created_at.desc(), jobs.c.id).limit(limit).offset(offset)
        with self.engine.connect() as connection:
            return [_job(row) for row in connection.execute(query)]

    def request_stop(self, job_id: str, owner: str) -> Job | None:
        """Ask a job to stop: a queued job stops at once, a solving one is flagged.

        Returns the job after the change, or None when the owner has no such job.
        """
        now = time.time()
        with self.engine.begin() as connection:
            connection.execute(
                update(jobs)
                .where(jobs.c.id == job_id, jobs.c.owner == owner, jobs.c.status == QUEUED)
                .values(status=STOPPED, stop_requested=True, finished_at=now)
            )
            connection.execute(
                update(jobs)
                .where(jobs.c.id == job_id, jobs.c.owner == owner, jobs.c.status == SOLVING)
                .values(stop_requested=True)
            )
        return self.get(job_id, owner)

    def claim_next(self) -> Job | None:
        """Take the oldest queued job: it becomes ``solving`` with a fresh run token."""
        while True:
            with self.engine.connect() as connection:
                row = connection.execute(
                    select(jobs.c.id).where(jobs.c.status == QUEUED).order_by(jobs.c.created_at, jobs.c.id).limit(1)
                ).first()
            if row is None:
                return None
            token = secrets.token_hex(8)
            with self.engine.begin() as connection:
                claimed = connection.execute(
                    update(jobs)
                    .where(jobs.c.id == row.id, jobs.c.status == QUEUED)
                    .values(status=SOLVING, run_token=token, started_at=time.time(), progress=None,
                            attempts=jobs.c.attempts + 1)
                ).rowcount
            if claimed:
                return self.get(row.id)

    def stop_requested(self, job_ids: Sequence[str]) -> set[str]:
        """Those of ``job_ids`` whose owner asked them to stop."""
        if not job_ids:
            return set()
        with self.engine.connect() as connection:
            rows = connection.execute(select(jobs.c.id).where(jobs.c.id.in_(list(job_ids)), jobs.c.stop_requested))
            return {row.id for row in rows}

    def recover_interrupted(self, max_attempts: int) -> tuple[list[str], list[str]]:
        """After a restart: re-queue jobs left ``solving``, or fail those started too often.

        Jobs whose owner asked them to stop become ``stopped`` (without a schedule).

        Returns
        -------
        requeued, failed
            The job ids of each kind.
        """
        with self.engine.begin() as connection:
            rows = connection.execute(
                select(jobs.c.id, jobs.c.attempts, jobs.c.stop_requested).where(jobs.c.status == SOLVING)
            ).all()
            # A job its owner had asked to stop is not started again: it ends stopped (its
            # interrupted solve's best schedule was never written).
            stopped = [row.id for row in rows if row.stop_requested]
            requeued = [row.id for row in rows if row.attempts < max_attempts and not row.stop_requested]
            failed = [row.id for row in rows if row.attempts >= max_attempts and not row.stop_requested]
            if stopped:
                connection.execute(
                    update(jobs).where(jobs.c.id.in_(stopped), jobs.c.status == SOLVING)
                    .values(status=STOPPED, run_token=None, finished_at=time.time())
                )
            if requeued:
                connection.execute(
                    update(jobs).where(jobs.c.id.in_(requeued), jobs.c.status == SOLVING)
                    .values(status=QUEUED, run_token=None, progress=None)
                )
            if failed:
                reason = _dumps([{
                    "path": "",
                    "message": f"the server restarted during this solve {max_attempts} time(s); it is not tried again",
                }])
                connection.execute(
                    update(jobs).where(jobs.c.id.in_(failed), jobs.c.status == SOLVING)
                    .values(status=FAILED, run_token=None, finished_at=time.time(), errors=reason)
                )
        return requeued, failed

    # ------------------------------------------------------------------ solver side

    def load_for_run(self, job_id: str, token: str) -> tuple[dict[str, JsonValue], dict[str, JsonValue]] | None:
        """Scenario and options of a job still running under ``token``, else None."""
        with self.engine.connect() as connection:
            row = connection.execute(
                select(jobs.c.scenario, jobs.c.options).where(
                    jobs.c.id == job_id, jobs.c.run_token == token, jobs.c.status == SOLVING
                )
            ).first()
        return None if row is None else (json.loads(row.scenario), _loads(row.options) or {})

    def write_progress(self, job_id: str, token: str, progress: dict[str, JsonValue]) -> bool:
        """Record progress of the run holding ``token``; False if the job has moved on."""
        with self.engine.begin() as connection:
            return bool(connection.execute(
                update(jobs).where(jobs.c.id == job_id, jobs.c.run_token == token, jobs.c.status == SOLVING)
                .values(progress=_dumps(progress))
            ).rowcount)

    def finish(
        self,
        job_id: str,
        token: str,
        status: str,
        *,
        schedule: dict[str, JsonValue] | None = None,
        errors: list[dict[str, str]] | None = None,
        progress: dict[str, JsonValue] | None = None,
    ) -> bool:
        """End the run holding ``token``; False (nothing written) if the job has moved on."""
        values: dict[str, object] = {
            "status": status,
            "finished_at": time.time(),
            "schedule": _dumps(schedule),
            "errors": _dumps(errors),
        }
        if progress is not None:
            values["progress"] = _dumps(progress)
        with self.engine.begin() as connection:
            return bool(connection.execute(
                update(jobs).where(jobs.c.id == job_id, jobs.c.run_token == token, jobs.c.status == SOLVING)
                .values(**values)
            ).rowcount)

    # ------------------------------------------------------------------ audit

    def audit(self, key_id: str, action: str, job_id: str | None = None) -> None:
        """Append one record to the audit log (there is no update or delete of it)."""
        with self.engine.begin() as connection:
            connection.execute(insert(audit).values(at=time.time(), key_id=key_id, action=action, job_id=job_id))

    def audit_records(self, limit: int = 1000) -> list[tuple[float, str, str, str | None]]:
        """The latest audit records, oldest first: (time, key id, action, job id)."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(audit.c.at, audit.c.key_id, audit.c.action, audit.c.job_id).order_by(audit.c.seq.desc()).limit(limit)
            ).all()
        return [(row.at, row.key_id, row.action, row.job_id) for row in reversed(rows)]
