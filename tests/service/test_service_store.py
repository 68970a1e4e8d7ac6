"""The job store: durable jobs, run tokens, recovery after a restart, the audit log."""

from __future__ import annotations

import dataclasses
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from models.schedule import ScenarioRef, Schedule, SolverInfo
from optimizer.result import Progress, Result, SolveStatus
from optimizer.service.runner import outcome, solve_params
from optimizer.service.settings import ServiceSettings, database_url
from optimizer.service.store import FAILED, QUEUED, SOLVED, SOLVING, JobStore, make_engine, metadata

# Set to a PostgreSQL URL (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/postgres, with a
# driver installed) to run the store tests against PostgreSQL too; its tables are dropped first.
POSTGRES_URL = os.environ.get("IOP_ROSTER_TEST_POSTGRES_URL")


@pytest.fixture(params=["sqlite", *(["postgresql"] if POSTGRES_URL else [])])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[JobStore]:
    if request.param == "sqlite":
        url = database_url(str(tmp_path / "jobs.db"))
    else:
        assert POSTGRES_URL is not None
        url = POSTGRES_URL
        engine = make_engine(url)
        metadata.drop_all(engine)
        engine.dispose()
    job_store = JobStore(url)
    yield job_store
    job_store.close()


def queue(store: JobStore, owner: str = "k1") -> str:
    job = store.submit(owner, {"format": "iop-scenario/1"}, {"time_limit": 1.0}, scenario_sha256="0" * 64,
                       errors=None, max_queued=10)
    assert job is not None
    return job.id


def test_sqlite_store_is_in_wal_mode(tmp_path: Path) -> None:
    queue(JobStore(database_url(str(tmp_path / "jobs.db"))))
    with sqlite3.connect(tmp_path / "jobs.db") as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_plain_paths_become_sqlite_urls_and_urls_are_kept(tmp_path: Path) -> None:
    assert database_url(str(tmp_path / "a.db")) == f"sqlite:///{tmp_path / 'a.db'}"
    assert database_url("postgresql+psycopg://db/iop") == "postgresql+psycopg://db/iop"
    assert ServiceSettings(db="x.db").database_url().endswith("/x.db")


def test_jobs_are_claimed_oldest_first_with_a_fresh_token(store: JobStore) -> None:
    first, second = queue(store), queue(store)
    claimed = store.claim_next()
    assert claimed is not None and claimed.id == first
    assert claimed.status == SOLVING and claimed.attempts == 1 and claimed.run_token
    again = store.claim_next()
    assert again is not None and again.id == second and again.run_token != claimed.run_token
    assert store.claim_next() is None


def test_a_stale_run_token_writes_nothing(store: JobStore) -> None:
    job_id = queue(store)
    claimed = store.claim_next()
    assert claimed is not None and claimed.run_token is not None
    assert store.load_for_run(job_id, "stale") is None
    assert not store.write_progress(job_id, "stale", {"elapsed": 1.0})
    assert not store.finish(job_id, "stale", SOLVED, schedule={"sessions": []})
    assert store.write_progress(job_id, claimed.run_token, {"elapsed": 1.0})
    assert store.finish(job_id, claimed.run_token, SOLVED, schedule={"sessions": []})
    assert not store.finish(job_id, claimed.run_token, FAILED)  # a finished job stays finished
    job = store.get(job_id)
    assert job is not None and job.status == SOLVED and job.schedule == {"sessions": []}


def test_restart_requeues_an_interrupted_job_once_then_fails_it(store: JobStore) -> None:
    job_id = queue(store)
    waiting = queue(store)
    store.claim_next()
    assert store.recover_interrupted(max_attempts=2) == ([job_id], [])
    job = store.get(job_id)
    assert job is not None and job.status == QUEUED and job.attempts == 1 and job.run_token is None
    assert store.claim_next() is not None and store.get(job_id).status == SOLVING  # type: ignore[union-attr]
    assert store.recover_interrupted(max_attempts=2) == ([], [job_id])
    failed = store.get(job_id)
    assert failed is not None and failed.status == FAILED and failed.errors is not None
    assert "restarted during this solve 2 time(s)" in failed.errors[0]["message"]
    assert store.get(waiting).status == QUEUED  # type: ignore[union-attr]


def test_jobs_survive_reopening_the_database(tmp_path: Path) -> None:
    url = database_url(str(tmp_path / "jobs.db"))
    first = JobStore(url)
    job_id = queue(first)
    first.close()
    second = JobStore(url)
    job = second.get(job_id, "k1")
    assert job is not None and job.status == QUEUED
    assert second.get(job_id, "k2") is None


def test_queued_cap_counts_only_the_owners_queued_jobs(store: JobStore) -> None:
    for _ in range(2):
        assert store.submit("k1", {}, {}, scenario_sha256=None, errors=None, max_queued=2) is not None
    assert store.submit("k1", {}, {}, scenario_sha256=None, errors=None, max_queued=2) is None
    assert store.submit("k2", {}, {}, scenario_sha256=None, errors=None, max_queued=2) is not None
    invalid = store.submit("k1", {}, {}, scenario_sha256=None, errors=[{"path": "", "message": "x"}], max_queued=2)
    assert invalid is not None and invalid.status == "invalid"


def test_audit_log_is_append_only_in_order(store: JobStore) -> None:
    store.audit("k1", "submit", "j1")
    store.audit("k2", "list")
    assert [record[1:] for record in store.audit_records()] == [("k1", "submit", "j1"), ("k2", "list", None)]
    assert not hasattr(store, "delete_audit")


def schedule() -> Schedule:
    return Schedule(format="iop-schedule/1", scenario=ScenarioRef(name="x"), solver=SolverInfo(status="feasible"))


@pytest.mark.parametrize(
    ("status", "has_schedule", "stopped", "expected"),
    [
        (SolveStatus.OPTIMAL, True, False, "solved"),
        (SolveStatus.FEASIBLE, True, True, "stopped"),
        (SolveStatus.UNKNOWN, False, True, "stopped"),
        (SolveStatus.UNKNOWN, False, False, "failed"),
        (SolveStatus.INFEASIBLE, False, False, "failed"),
        (SolveStatus.INVALID, False, False, "invalid"),
    ],
)
def test_outcome_of_a_result(status: SolveStatus, has_schedule: bool, stopped: bool, expected: str) -> None:
    result = Result(status=status, schedule=schedule() if has_schedule else None, wall_seconds=1.0)
    job_status, document, errors, final = outcome(result, stopped)
    assert job_status == expected
    assert (document is not None) == has_schedule
    assert (errors is not None) == (expected in {"failed", "invalid"})
    assert final["solver_status"] == status.value


def test_the_final_progress_carries_the_live_figures_from_the_schedule() -> None:
    # Found by QA: the final progress had no sessions, delivered or needed.
    solved = schedule().model_copy(update={"summary": {
        "sessions": 4, "delivered_group_sessions": 18, "delivered_appointments": 1,
        "needed_group_sessions": 21, "needed_appointments": 1,
    }})
    result = Result(status=SolveStatus.FEASIBLE, schedule=solved, objective=19.0, best_bound=22.0, gap=0.1364,
                    wall_seconds=1.25)
    final = outcome(result, stop_asked=True)[3]
    assert final == {"stage": "done", "elapsed": 1.25, "objective": 19.0, "best_bound": 22.0, "gap": 0.1364,
                     "sessions": 4, "delivered": 19, "needed": 22, "solver_status": "feasible"}
    assert set(final) == {f.name for f in dataclasses.fields(Progress)} | {"solver_status"}
    # No schedule, no counts.
    stopped = outcome(Result(status=SolveStatus.UNKNOWN, schedule=None, wall_seconds=1.0), stop_asked=True)[3]
    assert (stopped["sessions"], stopped["delivered"], stopped["needed"]) == (None, None, None)


def test_solve_params_cap_workers_at_the_share_of_the_cores() -> None:
    params = solve_params({"time_limit": 3.0, "seed": 7, "workers": 8, "relative_gap": 0.1, "deterministic": True}, 2)
    assert (params.time_limit, params.seed, params.workers, params.relative_gap, params.deterministic) == (3.0, 7, 2, 0.1, True)
    assert solve_params({"time_limit": 3.0}, 2).workers == 2
    assert solve_params({"time_limit": 3.0, "workers": 1}, 2).workers == 1


def test_solve_slots_fit_the_cores() -> None:
    assert ServiceSettings(cores=2).solve_slots() == (1, 2)
    assert ServiceSettings(cores=2, workers=2).solve_slots() == (2, 1)
    assert ServiceSettings(cores=8, workers=3).solve_slots() == (3, 2)


def test_restart_does_not_resume_a_job_asked_to_stop(store: JobStore) -> None:
    job_id = queue(store)
    store.claim_next()
    store.request_stop(job_id, "k1")
    assert store.recover_interrupted(max_attempts=2) == ([], [])
    job = store.get(job_id)
    assert job is not None and job.status == "stopped" and job.finished_at is not None
    assert store.claim_next() is None
