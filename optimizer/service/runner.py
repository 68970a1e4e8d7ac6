"""Solves in separate processes: a dispatcher thread, a fresh spawned process per solve.

The dispatcher (a thread of the server process, never the event loop) takes queued jobs
oldest first while fewer than ``concurrent`` solves run, and starts each in a new process of
the ``spawn`` context, so a solve shares no state with the server or with another solve and a
crash in OR-Tools cannot take the server down. Every solve gets ``workers_per_solve`` CP-SAT
workers, chosen so that ``concurrent x workers_per_solve`` fits the cores.

One process is always started ahead, with Python and OR-Tools loaded but no job yet, so that a
job reaching the front of the queue starts solving at once; each process serves one job.

The solver process writes its progress and its result to the store itself (guarded by the
job's run token), so a result is durable the moment it exists. It watches its parent and
exits if the server dies, so no orphan keeps a core busy. A stop is a multiprocessing Event
the solve polls; CP-SAT then stops its search and the best schedule found is kept.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import threading
import time
from dataclasses import asdict, dataclass
from multiprocessing.connection import Connection, wait
from typing import TYPE_CHECKING, Protocol

from pydantic import JsonValue

from models.errors import InvalidDocument
from models.io import scenario_from_data
from optimizer.service.schemas import SolveOptions
from optimizer.service.store import FAILED, INVALID, SOLVED, STOPPED, JobStore

if TYPE_CHECKING:
    from multiprocessing.context import SpawnProcess

    from models.schedule import Schedule
    from optimizer.result import Progress, Result, SolveParams

logger = logging.getLogger("iop_roster.service")


class _Event(Protocol):
    def is_set(self) -> bool: ...

    def set(self) -> None: ...


def _error(message: str, path: str = "") -> dict[str, str]:
    return {"path": path, "message": message}


def progress_document(progress: Progress) -> dict[str, JsonValue]:
    """JSON form of a progress report."""
    return {key: value for key, value in asdict(progress).items()}


def _schedule_counts(schedule: Schedule | None) -> dict[str, JsonValue]:
    """``sessions``, ``delivered`` and ``needed`` of a schedule, as a progress report counts them.

    Read from the schedule's summary (sessions, seats delivered and needed, groups and
    appointments together); a figure the summary lacks, or a missing schedule, is None.
    """
    summary = schedule.summary if schedule is not None else {}

    def total(*keys: str) -> JsonValue:
        values = [summary.get(key) for key in keys]
        if all(isinstance(value, int) and not isinstance(value, bool) for value in values):
            return sum(value for value in values if isinstance(value, int))
        return None

    return {
        "sessions": total("sessions"),
        "delivered": total("delivered_group_sessions", "delivered_appointments"),
        "needed": total("needed_group_sessions", "needed_appointments"),
    }


def outcome(
    result: Result, stop_asked: bool
) -> tuple[str, dict[str, JsonValue] | None, list[dict[str, str]] | None, dict[str, JsonValue]]:
    """The job's status, schedule, errors and last progress for a solve's result.

    A schedule makes the job ``solved`` (or ``stopped`` if its owner stopped it). Without
    one, a stopped job is ``stopped``, an invalid scenario ``invalid``, anything else
    ``failed`` with the solver's messages as errors.
    """
    from optimizer.result import SolveStatus

    # The live reports' figures, then how the solve ended: the counts are the schedule's own
    # (its summary), None when there is no schedule.
    final: dict[str, JsonValue] = {
        "stage": "done",
        "elapsed": round(result.wall_seconds, 3),
        "objective": result.objective,
        "best_bound": result.best_bound,
        "gap": result.gap,
        **_schedule_counts(result.schedule),
        "solver_status": result.status.value,
    }
    if result.schedule is not None:
        schedule = result.schedule.model_dump(mode="json")
        return (STOPPED if stop_asked else SOLVED), schedule, None, final
    if stop_asked:
        return STOPPED, None, None, final
    if result.status is SolveStatus.INVALID:
        return INVALID, None, [_error(m) for m in result.messages] or [_error("the scenario is invalid")], final
    reasons = {
        SolveStatus.UNKNOWN: "no schedule was found within the time limit",
        SolveStatus.INFEASIBLE: "the rules of the scenario cannot all hold at once",
    }
    errors = [_error(reasons.get(result.status, f"the solve ended with status {result.status.value}"))]
    errors += [_error(m) for m in result.messages]
    return FAILED, None, errors, final


def solve_params(options: dict[str, JsonValue], workers: int) -> SolveParams:
    """Solve parameters from a job's stored options; ``workers`` caps the CP-SAT workers."""
    from optimizer.result import SolveParams

    parsed = SolveOptions.model_validate(options)
    return SolveParams(
        time_limit=float(parsed.time_limit or 30.0),
        relative_gap=parsed.relative_gap,
        workers=min(parsed.workers or workers, workers),
        seed=parsed.seed,
        deterministic=parsed.deterministic,
    )


def _watch_parent(parent_pid: int) -> None:
    # Without its server nobody can read the result, and a restarted server re-queues the
    # job under a new token: leave at once rather than hold a core.
    while True:
        if os.getppid() != parent_pid:
            os._exit(0)
        time.sleep(0.5)


def solver_process(
    url: str, jobs: Connection, workers: int, stop: _Event, progress_interval: float, parent_pid: int
) -> None:
    """Body of a solver process: get a job, solve it, write the outcome, exit.

    The process is started before its job is known, so that starting Python and importing
    OR-Tools overlaps the solve before it; it then serves exactly one job.

    Parameters
    ----------
    url
        The job store's URL.
    jobs
        Receives ``(job_id, run_token)`` once; closed without a job when the server stops.
    workers
        CP-SAT workers this solve may use (a request may ask for fewer).
    stop
        Set by the server when the job's owner stops it.
    progress_interval
        Least seconds between two progress writes.
    parent_pid
        The server's pid; the process exits when its parent changes.
    """
    threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True).start()
    # Imported here: the server process never loads OR-Tools.
    from optimizer.solve import solve

    try:
        job_id, token = jobs.recv()
    except (EOFError, OSError):
        return
    store = JobStore(url, create=False)
    try:
        loaded_job = store.load_for_run(job_id, token)
        if loaded_job is None:
            return
        raw, options = loaded_job
        try:
            loaded = scenario_from_data(raw, "<request>")
        except InvalidDocument as error:
            store.finish(job_id, token, INVALID, errors=[_error(i.message, i.path) for i in error.issues])
            return
        params = solve_params(options, workers)
        last_write = 0.0

        def on_progress(progress: Progress) -> None:
            nonlocal last_write
            now = time.monotonic()
            if now - last_write >= progress_interval:
                last_write = now
                store.write_progress(job_id, token, progress_document(progress))

        try:
            result = solve(loaded.scenario, params, on_progress=on_progress, stop=stop, scenario_sha256=loaded.sha256)
        except Exception as error:  # noqa: BLE001 - a solver bug fails the job, not the server
            logger.error("job %s: the solver raised %s", job_id, type(error).__name__)
            if os.environ.get("IOP_ROSTER_DEBUG") == "1":
                raise
            store.finish(job_id, token, FAILED, errors=[_error(f"internal error in the solver ({type(error).__name__})")])
            return
        status, schedule, errors, final = outcome(result, stop.is_set())
        store.finish(job_id, token, status, schedule=schedule, errors=errors, progress=final)
    finally:
        store.close()


@dataclass
class _Process:
    """A solver process, its stop event and the pipe that hands it its job."""

    process: SpawnProcess
    stop: _Event
    jobs: Connection
    token: str = ""


class Runner:
    """Starts queued jobs in solver processes, watches them, forwards stops.

    One solver process is kept started ahead (its imports done, no job yet), so a job that
    reaches the front of the queue starts solving without waiting for Python and OR-Tools to
    load; every process still serves exactly one job.

    Parameters
    ----------
    store
        The server's job store.
    concurrent
        Solves at once.
    workers_per_solve
        CP-SAT workers of each solve.
    max_attempts
        Starts of a job at most (a restart re-queues interrupted jobs until then).
    progress_interval, poll_interval
        Least seconds between progress writes; seconds between looks at the queue.
    """

    def __init__(
        self,
        store: JobStore,
        *,
        concurrent: int,
        workers_per_solve: int,
        max_attempts: int = 2,
        progress_interval: float = 0.5,
        poll_interval: float = 0.5,
    ) -> None:
        self.store = store
        self.concurrent = concurrent
        self.workers_per_solve = workers_per_solve
        self.max_attempts = max_attempts
        self.progress_interval = progress_interval
        self.poll_interval = poll_interval
        self._context = multiprocessing.get_context("spawn")
        self._running: dict[str, _Process] = {}
        self._standby: _Process | None = None
        self._lock = threading.Lock()
        self._halt = threading.Event()
        # A self-pipe: wake() writes a byte, so the loop can wait on it and on the
        # sentinels of the solver processes at once.
        self._wake_read, self._wake_write = os.pipe()
        os.set_blocking(self._wake_read, False)
        self._pipe_lock = threading.Lock()
        self._pipe_open = True
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Recover jobs a previous server left behind, then start dispatching."""
        requeued, failed = self.store.recover_interrupted(self.max_attempts)
        for job_id in requeued:
            logger.warning("job %s was interrupted by a restart: queued again", job_id)
        for job_id in failed:
            logger.warning("job %s was interrupted by restarts %d times: failed", job_id, self.max_attempts)
        self._thread = threading.Thread(target=self._loop, name="iop-roster-dispatcher", daemon=True)
        self._thread.start()
        logger.info("dispatcher started: %d solve(s) at once, %d CP-SAT worker(s) each",
                    self.concurrent, self.workers_per_solve)

    def shutdown(self, timeout: float = 5.0) -> None:
        """Stop dispatching and end the solver processes; their jobs resume after a restart."""
        self._halt.set()
        self.wake()
        if self._thread is not None:
            self._thread.join(timeout)
        with self._lock:
            running = list(self._running.items())
            self._running.clear()
            standby, self._standby = self._standby, None
        if standby is not None:
            running.append(("", standby))
        for job_id, entry in running:
            entry.jobs.close()
            if entry.process.is_alive():
                entry.process.terminate()
                if job_id:
                    logger.info("job %s: solve interrupted by shutdown, resumes after restart", job_id)
            entry.process.join(timeout)
            if entry.process.is_alive():
                entry.process.kill()
                entry.process.join(timeout)
        with self._pipe_lock:
            self._pipe_open = False
            os.close(self._wake_read)
            os.close(self._wake_write)

    def wake(self) -> None:
        """Look at the queue now (a job was submitted)."""
        with self._pipe_lock, contextlib.suppress(OSError):
            if self._pipe_open:  # a closed descriptor's number may belong to another file by now
                os.write(self._wake_write, b"\0")

    def request_stop(self, job_id: str) -> None:
        """Tell a running solve to stop and keep its best schedule."""
        with self._lock:
            entry = self._running.get(job_id)
        if entry is not None:
            entry.stop.set()
        self.wake()

    def running(self) -> int:
        """Solves running now."""
        with self._lock:
            return len(self._running)

    # ------------------------------------------------------------------ the loop

    def _loop(self) -> None:
        while not self._halt.is_set():
            try:
                self._reap()
                self._forward_stops()
                self._launch()
                self._keep_standby()
            except Exception as error:  # noqa: BLE001 - keep dispatching after a database hiccup
                logger.error("dispatcher: %s; retrying", type(error).__name__)
            with self._lock:
                sentinels = [entry.process.sentinel for entry in self._running.values()]
            wait([self._wake_read, *sentinels], self.poll_interval)
            with contextlib.suppress(OSError):
                while os.read(self._wake_read, 4096):
                    pass

    def _spawn(self) -> _Process:
        receiver, sender = self._context.Pipe(duplex=False)
        stop = self._context.Event()
        process = self._context.Process(
            target=solver_process,
            args=(self.store.url, receiver, self.workers_per_solve, stop, self.progress_interval, os.getpid()),
            name="iop-roster-solve",
            daemon=True,
        )
        process.start()
        receiver.close()
        return _Process(process, stop, sender)

    def _keep_standby(self) -> None:
        if self._halt.is_set():
            return
        standby = self._standby
        if standby is not None and not standby.process.is_alive():
            standby.process.join()
            standby.jobs.close()
            self._standby = standby = None
        if standby is None:
            self._standby = self._spawn()

    def _launch(self) -> None:
        while not self._halt.is_set() and self.running() < self.concurrent:
            job = self.store.claim_next()
            if job is None or job.run_token is None:
                return
            try:
                entry = self._standby if self._standby is not None and self._standby.process.is_alive() else None
                self._standby = None
                if entry is None:
                    entry = self._spawn()
                entry.token = job.run_token
                if job.stop_requested:
                    entry.stop.set()
                entry.jobs.send((job.id, job.run_token))
            except Exception as error:  # noqa: BLE001 - fail this job, keep serving the others
                logger.error("job %s: cannot start a solver process (%s)", job.id, type(error).__name__)
                self.store.finish(job.id, job.run_token, FAILED,
                                  errors=[_error("the server could not start a solver process")])
                continue
            with self._lock:
                self._running[job.id] = entry
            logger.info("job %s: solving (attempt %d, pid %s)", job.id, job.attempts, entry.process.pid)

    def _reap(self) -> None:
        with self._lock:
            ended = [(job_id, entry) for job_id, entry in self._running.items() if not entry.process.is_alive()]
            for job_id, _ in ended:
                del self._running[job_id]
        for job_id, entry in ended:
            entry.process.join()
            entry.jobs.close()
            code = entry.process.exitcode
            # A solver process that wrote its result has moved the job on and this is a no-op.
            if self.store.finish(job_id, entry.token, FAILED, errors=[_error(
                f"the solver process ended without a result (exit code {code})"
            )]):
                logger.error("job %s: solver process ended without a result (exit code %s)", job_id, code)
            else:
                job = self.store.get(job_id)
                logger.info("job %s: %s", job_id, job.status if job else "gone")

    def _forward_stops(self) -> None:
        with self._lock:
            running = dict(self._running)
        for job_id in self.store.stop_requested(list(running)):
            running[job_id].stop.set()
