"""Batch runs: many scenario files solved at once, on one machine or a Dask cluster.

The pieces, in the order a batch uses them:

1. :func:`discover_inputs` turns files, folders and globs into named inputs;
2. :func:`plan_batch` reads each input's bytes, hashes them with the solve parameters
   (:func:`input_hash`) and skips those whose schedule already carries that hash;
3. :func:`execute` hands the rest to a :class:`BatchExecutor` (a process pool, or a Dask
   cluster through ``distributed.Client.get_executor()``: both are ``concurrent.futures``
   executors, driven by the same loop), retries crashed solves and writes each schedule
   atomically;
4. :func:`write_summaries` writes ``summary.csv`` and ``summary.md``.

:func:`run_batch` does all four. Workers never touch the file system: a task carries the
scenario's bytes and returns the schedule's text (:func:`solve_task`), so a remote cluster
needs iop-roster installed but not the input or output folders.

Isolation: an invalid file, an exception in the solver or a worker process that dies affects
only its own scenario. A process pool that breaks (a worker killed by a signal or the
out-of-memory killer) loses every solve it was running; those are resubmitted, and when more
than one was lost they run one at a time until the one that kills its worker is known, so a
crash is only ever charged to the scenario that caused it.
"""

from __future__ import annotations

import concurrent.futures as cf
import csv
import ctypes
import glob
import hashlib
import io
import json
import multiprocessing
import multiprocessing.process
import os
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures.process import BrokenProcessPool
from contextlib import ExitStack, contextmanager, nullcontext
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from models.errors import InvalidDocument, Issue
from models.io import (
    NotRegularFile,
    check_writable_folder,
    format_of,
    load_schedule,
    parse_text,
    read_regular_file,
    scenario_from_data,
    schedule_text,
    write_atomic,
)
from optimizer.interrupt import first_ctrl_c_noted
from optimizer.result import SolveParams, SolveStatus, default_workers

if TYPE_CHECKING:
    from distributed import Client, LocalCluster

SCENARIO_SUFFIXES = (".yaml", ".yml", ".json")
SCHEDULE_SUFFIX = ".schedule.yaml"
SUMMARY_CSV = "summary.csv"
SUMMARY_MD = "summary.md"
HASH_VERSION = b"iop-roster-batch/1"
MAX_REASON_ISSUES = 2

Outcome = Literal["solved", "skipped", "failed", "invalid", "not run"]
TaskFunction = Callable[["SolveTask"], "TaskOutcome"]


class BatchUsageError(ValueError):
    """The batch was asked for something impossible (no such input, conflicting options)."""


NO_INPUTS = "no inputs given: name scenario files, folders or glob patterns"


# --------------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BatchInput:
    """One scenario file of a batch.

    Attributes
    ----------
    name
        The file's stem, made unique within the batch (``demo``, then ``demo-2``): the
        schedule is written to ``<out>/<name>.schedule.yaml``.
    path
        The file, as found.
    """

    name: str
    path: Path


def _is_scenario_file(path: Path) -> bool:
    lower = path.name.lower()
    is_schedule = any(lower.endswith(f".schedule{suffix}") for suffix in SCENARIO_SUFFIXES)
    # Anything but a folder: a named pipe or a dangling link named *.yaml becomes an invalid
    # row of the summary instead of vanishing without a word (QA 2026-11-28).
    return not path.is_dir() and lower.endswith(SCENARIO_SUFFIXES) and not is_schedule


def _is_hidden(path: Path) -> bool:
    # Editor back-ups, macOS resource forks (._north.yaml), .git: never scenarios. A glob
    # leaves them out by itself; a folder listing must do it explicitly.
    return path.name.startswith(".")


def discover_inputs(patterns: str | Path | Iterable[str | Path]) -> list[BatchInput]:
    """The scenario files named by files, folders and globs, each once, with unique names.

    A file is taken as given, whatever its extension. A folder contributes its ``*.yaml``,
    ``*.yml`` and ``*.json`` files (not recursively), a glob the scenario files it matches;
    both leave out schedule files (``*.schedule.yaml``), so an output folder inside an input
    folder is harmless, and hidden files (names starting with ``.``, such as macOS's
    ``._north.yaml``). Files keep the order of the arguments, sorted within a folder or glob.

    Parameters
    ----------
    patterns
        Paths of files or folders, or glob patterns (``scenarios/**/*.yaml`` recurses); a
        single path or pattern may be given alone.

    Returns
    -------
    list[BatchInput]
        The inputs; names are file stems, suffixed ``-2``, ``-3`` ... where stems repeat.

    Raises
    ------
    BatchUsageError
        No patterns at all, a path that does not exist, or a glob or folder that matches no
        scenario file.
    TypeError
        Something other than paths or patterns (``str`` or ``Path``), such as bytes.
    """
    if isinstance(patterns, str | os.PathLike):
        patterns = [patterns]
    if patterns is not None and (isinstance(patterns, bytes | bytearray) or not isinstance(patterns, Iterable)):
        # (QA: bytes were read as a list of numbers, "47: no such file or folder"; an int
        # failed with "'int' object is not iterable")
        raise TypeError("discover_inputs() takes a path or glob pattern (str or Path), or a list "
                        f"of them, not {type(patterns).__name__}")
    patterns = list(patterns or [])
    if not patterns:
        raise BatchUsageError(NO_INPUTS)
    found: list[Path] = []
    for pattern in patterns:
        if not isinstance(pattern, str | os.PathLike):
            raise TypeError("discover_inputs() takes paths or glob patterns (str or Path), "
                            f"not {type(pattern).__name__}")
        text = os.fspath(pattern)
        if not isinstance(text, str):
            raise TypeError(f"discover_inputs() takes paths as text, not {type(text).__name__}")
        path = Path(text)
        if path.is_dir():
            matches = sorted(
                p for p in path.iterdir() if not _is_hidden(p) and _is_scenario_file(p)
            )
            where = f"folder {text}"
        elif path.exists():
            matches = [path]
            where = text
        elif glob.has_magic(text):
            matches = sorted(
                p for p in map(Path, glob.glob(text, recursive=True)) if _is_scenario_file(p)
            )
            where = f"pattern {text}"
        else:
            raise BatchUsageError(f"{text}: no such file or folder")
        if not matches:
            raise BatchUsageError(f"{where}: no scenario files (*.yaml, *.yml, *.json)")
        found.extend(matches)

    inputs: list[BatchInput] = []
    seen_files: set[Path] = set()
    used_names: set[str] = set()
    for path in found:
        resolved = path.resolve()
        if resolved in seen_files:
            continue
        seen_files.add(resolved)
        name = base = path.stem
        counter = 2
        while name in used_names:
            name = f"{base}-{counter}"
            counter += 1
        used_names.add(name)
        inputs.append(BatchInput(name, path))
    return inputs


def schedule_path(out_dir: str | Path, name: str) -> Path:
    """Where the schedule of the input called ``name`` is written."""
    return Path(out_dir) / f"{name}{SCHEDULE_SUFFIX}"


def input_hash(data: bytes, params: SolveParams) -> str:
    """The resumability key of a scenario: its file's bytes and the parameters that matter.

    ``workers`` and ``log`` are left out: they say how a solve uses the machine, not which
    problem it solves, so a batch interrupted on a laptop may continue on a cluster.

    Parameters
    ----------
    data
        The scenario file's bytes, exactly as read.
    params
        The solve parameters of the batch.

    Returns
    -------
    str
        A hex sha256, recorded in the schedule as ``solver.input_hash``.
    """
    relevant = {
        "time_limit": params.time_limit,
        "relative_gap": params.relative_gap,
        "seed": params.seed,
        "deterministic": params.deterministic,
    }
    digest = hashlib.sha256(HASH_VERSION + b"\0")
    digest.update(hashlib.sha256(data).digest())
    digest.update(json.dumps(relevant, sort_keys=True).encode())
    return digest.hexdigest()


# --------------------------------------------------------------------------------------------
# Rows of the summary
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BatchRow:
    """One line of the summary: what became of one scenario.

    Attributes
    ----------
    scenario
        The input's name (the schedule is ``<name>.schedule.yaml``).
    file
        The scenario file as given.
    outcome
        ``solved``, ``skipped`` (its schedule already exists for the same input and
        parameters), ``failed`` (no schedule: crashed ``attempts`` times, or none found in
        time), ``invalid`` (the file breaks the format) or ``not run`` (batch interrupted).
    status
        The solver status of the schedule (``optimal``, ``feasible``, ...), if a solve ended.
    reason
        Why it failed or is invalid, in words that name files, paths and ids only.
    attempts
        Solves started for this scenario in this run (0 when skipped).
    """

    scenario: str
    file: str
    outcome: Outcome
    status: str = ""
    delivered_group_sessions: int | None = None
    needed_group_sessions: int | None = None
    delivered_appointments: int | None = None
    needed_appointments: int | None = None
    weighted_unmet: float | None = None
    objective: float | None = None
    gap: float | None = None
    wall_seconds: float | None = None
    attempts: int = 0
    reason: str = ""

    @property
    def succeeded(self) -> bool:
        """Whether a schedule exists for this scenario after the run."""
        return self.outcome in ("solved", "skipped")


SUMMARY_FIELDS = (
    "scenario",
    "file",
    "outcome",
    "status",
    "delivered_group_sessions",
    "needed_group_sessions",
    "delivered_appointments",
    "needed_appointments",
    "weighted_unmet",
    "objective",
    "gap",
    "wall_seconds",
    "attempts",
    "reason",
)


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _count(value: object) -> int | None:
    number = _number(value)
    return int(number) if number is not None else None


def _figures(summary: dict[str, object]) -> dict[str, int | float | None]:
    """The summary figures a batch reports, from a schedule's ``summary`` block."""
    return {
        "delivered_group_sessions": _count(summary.get("delivered_group_sessions")),
        "needed_group_sessions": _count(summary.get("needed_group_sessions")),
        "delivered_appointments": _count(summary.get("delivered_appointments")),
        "needed_appointments": _count(summary.get("needed_appointments")),
        "weighted_unmet": _number(summary.get("weighted_unmet")),
    }


def issues_reason(issues: Sequence[Issue], limit: int = MAX_REASON_ISSUES) -> str:
    """A short reason naming the first errors of an invalid file by path and rule.

    The messages are those of :mod:`models.validation`, which quote a value only where it
    cannot be personal data (ids, times, zones, numbers).
    """
    errors = [issue for issue in issues if issue.severity == "error"] or list(issues)
    shown = "; ".join(
        f"{issue.path}: {issue.message}" if issue.path else issue.message
        for issue in errors[:limit]
    )
    more = f" (+{len(errors) - limit} more)" if len(errors) > limit else ""
    return f"{len(errors)} error(s): {shown}{more}"


# --------------------------------------------------------------------------------------------
# The task that runs in a worker
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SolveTask:
    """Everything a worker needs to solve one scenario (picklable, no file access).

    Attributes
    ----------
    name
        The input's name in the batch.
    file
        The file as given (labels error messages).
    data
        The file's bytes.
    params
        Solve parameters, ``workers`` resolved for the executor.
    input_hash
        :func:`input_hash` of ``data`` and the batch's parameters.
    """

    name: str
    file: str
    data: bytes
    params: SolveParams
    input_hash: str


@dataclass(frozen=True)
class TaskOutcome:
    """What a worker sends back.

    ``kind`` is ``schedule`` (``schedule_text`` holds the file to write), ``no_schedule``
    (the solver ended without one), ``invalid`` (the file breaks the format) or ``error``
    (an exception in the solver: counted as a crash, so retried).
    """

    name: str
    kind: Literal["schedule", "no_schedule", "invalid", "error"]
    status: str = ""
    schedule_text: str | None = None
    figures: dict[str, int | float | None] = field(default_factory=dict)
    objective: float | None = None
    gap: float | None = None
    wall_seconds: float | None = None
    reason: str = ""


def solve_task(task: SolveTask) -> TaskOutcome:
    """Load, validate and solve one scenario; return the schedule's text (runs in a worker).

    Every failure of this scenario becomes an outcome rather than an exception, so it cannot
    disturb the rest of the batch. An exception's message is not passed on (it may quote the
    scenario's content); its type is, and ``iop-roster solve`` reproduces it.

    Parameters
    ----------
    task
        The scenario's bytes, its name and the parameters.

    Returns
    -------
    TaskOutcome
        The schedule (``solver.input_hash`` set to ``task.input_hash``) or why there is none.
    """
    try:
        try:
            text = task.data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise InvalidDocument(
                task.file, [Issue("", "is not UTF-8 text", "error", task.file)]
            ) from None
        raw = parse_text(text, format_of(task.file), task.file)
        loaded = scenario_from_data(raw, task.file, hashlib.sha256(task.data).hexdigest())
    except InvalidDocument as error:
        return TaskOutcome(
            task.name,
            "invalid",
            status=SolveStatus.INVALID.value,
            reason=issues_reason(error.issues),
        )

    try:
        from optimizer.solve import solve  # heavy (OR-Tools): only where solves run

        result = solve(loaded.scenario, task.params, scenario_sha256=loaded.sha256)
    except Exception as error:  # noqa: BLE001 - isolation: one scenario's crash is its own
        return TaskOutcome(task.name, "error", reason=f"the solver raised {type(error).__name__}")

    status = result.status.value
    if result.status is SolveStatus.INVALID:
        return TaskOutcome(
            task.name,
            "invalid",
            status=status,
            reason="the solver rejected the scenario as invalid",
        )
    if result.schedule is None:
        return TaskOutcome(
            task.name,
            "no_schedule",
            status=status,
            wall_seconds=result.wall_seconds,
            reason=f"no schedule (status {status}) within {task.params.time_limit:g} s",
        )
    schedule = result.schedule
    solver = schedule.solver.model_dump(mode="json")
    solver["input_hash"] = task.input_hash
    schedule = schedule.model_copy(update={"solver": type(schedule.solver).model_validate(solver)})
    return TaskOutcome(
        task.name,
        "schedule",
        status=status,
        schedule_text=schedule_text(schedule),
        figures=_figures(dict(schedule.summary)),
        objective=result.objective,
        gap=result.gap,
        wall_seconds=result.wall_seconds,
    )


# --------------------------------------------------------------------------------------------
# Executors: one concurrent.futures interface for the process pool and for Dask
# --------------------------------------------------------------------------------------------


class BatchExecutor:
    """A ``concurrent.futures`` executor with what a batch needs to know about it.

    Attributes
    ----------
    label
        What it is, for messages (``4 local processes``, ``Dask at tcp://...``).
    capacity
        Solves that may run at once; the batch keeps no more than this many submitted, so
        "running" means running and a crash loses little.
    solver_workers
        CP-SAT workers per solve, chosen so ``capacity x solver_workers`` fits the cores.
    """

    label: str
    capacity: int
    solver_workers: int

    def submit(self, function: TaskFunction, task: SolveTask) -> cf.Future[TaskOutcome]:
        """Start ``function(task)``; may raise what :meth:`is_broken` recognises."""
        raise NotImplementedError

    def is_broken(self, error: BaseException) -> bool:
        """Whether ``error`` means the whole executor is lost (every running solve with it)."""
        return False

    def is_lost(self, error: BaseException) -> bool:
        """Whether ``error`` means the solve's worker died (so the solve may be retried)."""
        return self.is_broken(error)

    def restart(self) -> None:
        """Replace a broken executor by a fresh one."""

    def close(self, abort: bool = False) -> None:
        """Release the workers, cancelling solves not started; ``abort`` stops running ones."""

    def __enter__(self) -> BatchExecutor:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc_info: object) -> None:
        # Leaving on an exception (Ctrl-C above all) must not wait for running solves.
        self.close(abort=exc_type is not None)


def pool_shape(jobs: int | None, tasks: int, cores: int | None = None) -> tuple[int, int]:
    """Processes and CP-SAT workers per solve for a local batch.

    Parameters
    ----------
    jobs
        Solves at once (``--jobs``); None means one per core.
    tasks
        Scenarios to solve: no more processes than that are started.
    cores
        Cores this process may use; default :func:`optimizer.result.default_workers`.

    Returns
    -------
    tuple[int, int]
        ``(processes, workers)`` with ``processes x workers <= cores`` whenever
        ``processes <= cores``: ``workers = max(1, cores // processes)``.
    """
    cores = cores or default_workers()
    processes = max(1, min(jobs or cores, max(tasks, 1)))
    return processes, max(1, cores // processes)


def _watch_parent(parent_pid: int) -> None:
    while os.getppid() == parent_pid:
        time.sleep(0.5)
    os._exit(0)


def end_with_parent(parent_pid: int) -> None:
    """Make this (pool worker) process end as soon as the batch process ``parent_pid`` does.

    A batch killed with SIGKILL cannot shut its pool down; without this its workers would
    live on, reparented to init, blocked on a pipe nobody writes or solving for nobody. On
    Linux the kernel kills the worker when its parent dies (``PR_SET_PDEATHSIG``), whatever
    the worker is doing; elsewhere a thread polls the parent's pid twice a second.

    Parameters
    ----------
    parent_pid
        The batch process's pid, as it saw it when starting the pool.
    """
    watched_by_kernel = False
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1: PR_SET_PDEATHSIG
            watched_by_kernel = True
        except (OSError, AttributeError):  # pragma: no cover - every Linux libc has prctl
            pass
    if os.getppid() != parent_pid:  # the batch ended before the request took effect
        os._exit(0)
    if not watched_by_kernel:  # pragma: no cover - not Linux
        threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True).start()


class LocalPoolExecutor(BatchExecutor):
    """A :class:`concurrent.futures.ProcessPoolExecutor` of spawned processes.

    Spawned (not forked) processes start clean: no OR-Tools or thread state copied from the
    parent. Each worker ends with the batch process, even one killed with SIGKILL
    (:func:`end_with_parent`). A broken pool is rebuilt by :meth:`restart`.
    """

    def __init__(self, processes: int, solver_workers: int) -> None:
        self.capacity = processes
        self.solver_workers = solver_workers
        self.label = f"{processes} local process(es) x {solver_workers} CP-SAT worker(s)"
        self._context = multiprocessing.get_context("spawn")
        self._pool = self._new_pool()

    def _new_pool(self) -> cf.ProcessPoolExecutor:
        # The pool starts its processes from the thread that submits (this batch's), which
        # lives as long as the pool: PR_SET_PDEATHSIG fires when that thread ends.
        return cf.ProcessPoolExecutor(
            max_workers=self.capacity,
            mp_context=self._context,
            initializer=end_with_parent,
            initargs=(os.getpid(),),
        )

    def submit(self, function: TaskFunction, task: SolveTask) -> cf.Future[TaskOutcome]:
        return self._pool.submit(function, task)

    def is_broken(self, error: BaseException) -> bool:
        return isinstance(error, BrokenProcessPool)

    def restart(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._pool = self._new_pool()

    def close(self, abort: bool = False) -> None:
        if abort:
            # No public way to stop running tasks before Python 3.14's terminate_workers().
            processes = getattr(self._pool, "_processes", None) or {}
            for process in list(processes.values()):
                process.terminate()
        self._pool.shutdown(wait=not abort, cancel_futures=True)


def _dask_lost_errors() -> tuple[type[BaseException], ...]:
    from distributed import KilledWorker
    from distributed.comm.core import CommClosedError

    return (KilledWorker, CommClosedError, cf.CancelledError, OSError, TimeoutError)


def _dask_solver_workers(client: Client) -> tuple[int, int]:
    """Total Dask threads, and CP-SAT workers per solve so threads x workers fits each host."""
    info = client.scheduler_info()
    workers = info.get("workers", {})
    threads_per_host: dict[str, int] = {}
    for address, worker in workers.items():
        host = str(worker.get("host", address))
        threads_per_host[host] = threads_per_host.get(host, 0) + int(worker.get("nthreads", 1))
    capacity = max(1, sum(threads_per_host.values()))
    try:
        cores = client.run(os.cpu_count)  # one answer per worker: {address: cores}
        per_host = {
            str(workers[a].get("host", a)): int(c or 1) for a, c in cores.items() if a in workers
        }
        shares = [per_host[h] // threads_per_host[h] for h in threads_per_host if h in per_host]
        solver_workers = max(1, min(shares)) if shares else 1
    except Exception:  # noqa: BLE001 - a cluster that refuses client.run still solves
        solver_workers = 1
    return capacity, solver_workers


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _address_problem(address: str) -> str | None:
    """What is wrong with a scheduler address on its face (no connection tried), if anything."""
    from distributed.comm.addressing import get_address_host_port, parse_address
    from distributed.comm.registry import get_backend

    try:
        scheme, _ = parse_address(address)
        get_backend(scheme)  # an unknown scheme
        if scheme in ("tcp", "tls", "ws", "wss"):
            get_address_host_port(address)  # no port, a broken host
    except (ValueError, TypeError) as error:
        return _first_line(error)
    return None


def _connect(client_class: type[Client], address: str, timeout: float | None) -> Client:
    """A client of the scheduler at ``address``, or a usage error saying why there is none."""
    # Checked before a client starts its event loop and its connection attempts.
    problem = _address_problem(address)
    if problem is not None:
        raise BatchUsageError(
            f"cannot use scheduler {address}: {problem} (an address looks like tcp://host:8786)"
        )
    try:
        # Default timeout: Dask's distributed.comm.timeouts.connect (30 s).
        if timeout is None:
            return client_class(address)
        return client_class(address, timeout=timeout)
    except (OSError, TimeoutError) as error:
        reason = f"cannot connect: {_first_line(error)}"
    except (ValueError, TypeError) as error:
        # distributed's words for an address it cannot parse or a protocol it cannot use
        # (no port, an unknown scheme, tls:// without a TLS configuration).
        reason = f"{_first_line(error)} (an address looks like tcp://host:8786)"
    except Exception as error:  # noqa: BLE001 - Dask's own trouble (its event loop did not start)
        reason = f"the Dask client could not start ({type(error).__name__})"
    raise BatchUsageError(f"cannot use scheduler {address}: {reason}")


def _require_dask() -> None:
    """Refuse the Dask options when the 'dask' extra is not installed (a usage error)."""
    try:
        import distributed  # noqa: F401
    except ModuleNotFoundError as error:
        raise BatchUsageError(
            f"--scheduler and --local-cluster need the 'dask' extra ({error.name} is not installed): "
            "pip install 'iop-roster[dask]'"
        ) from None


class DaskExecutor(BatchExecutor):
    """A Dask distributed cluster through ``Client.get_executor()``.

    Either connects to a running scheduler (``address``) or starts a
    ``distributed.LocalCluster`` of ``local_workers`` single-thread processes on the
    loopback interface. Dask reschedules a task whose worker died by itself; a task it gives
    up on (``KilledWorker``) or loses (cancelled, connection closed) is retried by the batch.
    ``solver_workers`` overrides the CP-SAT workers per solve it derives from the cluster.
    """

    def __init__(
        self,
        address: str | None = None,
        local_workers: int | None = None,
        connect_timeout: float | None = None,
        solver_workers: int | None = None,
    ) -> None:
        _require_dask()
        from distributed import Client, LocalCluster

        self._cluster: LocalCluster | None = None
        if address is None:
            if not local_workers or local_workers < 1:
                raise BatchUsageError(
                    "a Dask executor needs a scheduler address or a local cluster size"
                )
            # Ctrl-C is held back while the cluster starts (a second or two; a second Ctrl-C
            # raises at once): a half-built cluster left to distributed's exit hook printed an
            # ``AssertionError: Status.init`` traceback (QA). It is closed here, then interrupted.
            with first_ctrl_c_noted() as interrupted:
                try:
                    self._cluster = LocalCluster(
                        n_workers=local_workers,
                        threads_per_worker=1,
                        processes=True,
                        host="127.0.0.1",
                        dashboard_address=None,
                        silence_logs=40,  # logging.ERROR: worker chatter would drown the progress lines
                    )
                    try:
                        self._client = Client(self._cluster)
                    except BaseException:
                        self._cluster.close()
                        raise
                except Exception:
                    # A terminal's Ctrl-C reaches the worker processes too, and one that dies
                    # while it starts fails the cluster's start: that is the interrupt (exit
                    # 130), not an internal error (exit 70).
                    if interrupted.is_set():
                        raise KeyboardInterrupt from None
                    raise
            if interrupted.is_set():
                self._client.close()
                self._cluster.close()
                raise KeyboardInterrupt
            where = f"local Dask cluster of {local_workers} worker(s)"
        else:
            self._client = _connect(Client, address, connect_timeout)
            where = f"Dask at {address}"
        self._executor = self._client.get_executor(pure=False)  # pure=False: a retry is a new task
        self.capacity, self.solver_workers = _dask_solver_workers(self._client)
        self.solver_workers = solver_workers or self.solver_workers
        self.label = f"{where}: {self.capacity} thread(s) x {self.solver_workers} CP-SAT worker(s)"

    @property
    def client(self) -> Client:
        """The Dask client (tests use it to find worker processes)."""
        return self._client

    def submit(self, function: TaskFunction, task: SolveTask) -> cf.Future[TaskOutcome]:
        return self._executor.submit(function, task)

    def is_lost(self, error: BaseException) -> bool:
        return isinstance(error, _dask_lost_errors())

    def close(self, abort: bool = False) -> None:
        try:
            self._executor.shutdown(wait=False)  # cancels what has not finished
            self._client.close()
        finally:
            if self._cluster is not None:
                self._cluster.close()


def check_executor_options(
    jobs: int | None = None,
    scheduler: str | None = None,
    local_cluster: int | None = None,
    solver_workers: int | None = None,
) -> None:
    """Refuse executor options that cannot work together, as ``iop-roster batch`` does.

    Raises
    ------
    BatchUsageError
        A count below 1, an empty scheduler address, both Dask options, or ``jobs`` with
        one of them.
    """
    for option, value in (
        ("jobs", jobs),
        ("local_cluster", local_cluster),
        ("solver_workers", solver_workers),
    ):
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < 1
        ):
            raise BatchUsageError(f"{option} must be a whole number of at least 1")
    if scheduler is not None and not scheduler.strip():
        raise BatchUsageError("--scheduler needs an address, e.g. tcp://host:8786")
    if scheduler is not None and local_cluster is not None:
        raise BatchUsageError("--scheduler and --local-cluster exclude each other")
    if jobs is not None and (scheduler is not None or local_cluster is not None):
        raise BatchUsageError("--jobs sizes the local pool; a Dask cluster has its own workers")


@contextmanager
def open_executor(
    tasks: int,
    jobs: int | None = None,
    scheduler: str | None = None,
    local_cluster: int | None = None,
    solver_workers: int | None = None,
) -> Iterator[BatchExecutor]:
    """The executor a batch's options ask for, closed on exit.

    Parameters
    ----------
    tasks
        Scenarios to solve (a local pool starts no more processes than that).
    jobs
        Local pool size (``--jobs``); default one process per core.
    scheduler
        Address of a running Dask scheduler (``--scheduler tcp://host:8786``).
    local_cluster
        Start a local Dask cluster of this many workers (``--local-cluster N``).
    solver_workers
        CP-SAT workers per solve (``--solver-workers``); default: the executor's share of
        the cores.

    Raises
    ------
    BatchUsageError
        Conflicting or out-of-range options, or a scheduler that cannot be used.
    """
    check_executor_options(jobs, scheduler, local_cluster, solver_workers)
    executor: BatchExecutor
    if scheduler is not None or local_cluster is not None:
        executor = DaskExecutor(scheduler, local_cluster, solver_workers=solver_workers)
    else:
        processes, workers = pool_shape(jobs, tasks)
        executor = LocalPoolExecutor(processes, solver_workers or workers)
    with executor:
        yield executor


# --------------------------------------------------------------------------------------------
# Planning, executing, reporting
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BatchProgress:
    """Counts at one moment of a batch, sent with every event."""

    total: int
    finished: int  # solved, skipped, failed or invalid
    failed: int  # failed or invalid
    running: int
    solved_this_run: int
    elapsed: float

    @property
    def rate(self) -> float:
        """Scenarios finished per minute by this run (skipped ones not counted)."""
        return 60.0 * self.solved_this_run / self.elapsed if self.elapsed > 0 else 0.0


@dataclass(frozen=True)
class BatchEvent:
    """A report from a batch: ``finished`` (with its row), ``retry`` or ``tick``."""

    kind: Literal["finished", "retry", "tick"]
    progress: BatchProgress
    name: str = ""
    row: BatchRow | None = None
    message: str = ""


EventHandler = Callable[[BatchEvent], None]


@dataclass
class BatchPlan:
    """A batch before it runs: rows already known (skipped, unreadable) and solves to do."""

    inputs: list[BatchInput]
    out_dir: Path
    params: SolveParams
    rows: dict[str, BatchRow]
    tasks: list[SolveTask]


def _existing_row(item: BatchInput, path: Path, wanted_hash: str) -> BatchRow | None:
    """The row of a schedule already written for the same input and parameters, if any."""
    if not path.is_file():
        return None
    try:
        schedule = load_schedule(path)
    except InvalidDocument:
        return None  # damaged or hand-broken: solve again and replace it
    extra = schedule.solver.model_extra or {}
    if extra.get("input_hash") != wanted_hash:
        return None
    solver = schedule.solver
    return BatchRow(
        item.name,
        str(item.path),
        "skipped",
        status=solver.status,
        objective=solver.objective,
        gap=solver.gap,
        wall_seconds=solver.wall_seconds,
        reason="schedule exists for the same input and parameters",
        **_figures(dict(schedule.summary)),  # type: ignore[arg-type]
    )


def plan_batch(inputs: Sequence[BatchInput], out_dir: str | Path, params: SolveParams) -> BatchPlan:
    """Read every input, skip those already solved with the same hash, and list the solves.

    Parameters
    ----------
    inputs
        From :func:`discover_inputs`.
    out_dir
        The output folder (created).
    params
        Solve parameters; ``workers`` is set per executor later unless given here.

    Returns
    -------
    BatchPlan
        ``rows`` holds skipped and unreadable inputs, ``tasks`` the solves still to do.
    """
    out = Path(out_dir)
    check_writable_folder(out)  # (OutputError, exit 2 in the CLI: a folder under a file, read-only)
    out.mkdir(parents=True, exist_ok=True)
    rows: dict[str, BatchRow] = {}
    tasks: list[SolveTask] = []
    for item in inputs:
        try:
            # Regular files only, never blocking: a named pipe given by name hung the batch,
            # and /dev/zero read until memory ran out (QA 2026-11-28).
            data = read_regular_file(item.path)
        except NotRegularFile as kind:
            rows[item.name] = BatchRow(item.name, str(item.path), "invalid", status="invalid",
                                       reason=f"is {kind}, not a file")
            continue
        except OSError as error:
            rows[item.name] = BatchRow(
                item.name,
                str(item.path),
                "invalid",
                status="invalid",
                reason=f"cannot be read: {error.strerror}",
            )
            continue
        wanted = input_hash(data, params)
        existing = _existing_row(item, schedule_path(out, item.name), wanted)
        if existing is not None:
            rows[item.name] = existing
        else:
            tasks.append(SolveTask(item.name, str(item.path), data, params, wanted))
    return BatchPlan(list(inputs), out, params, rows, tasks)


class _Run:
    """The bookkeeping of one execution: counts, attempts and events."""

    def __init__(self, plan: BatchPlan, on_event: EventHandler | None) -> None:
        self.plan = plan
        self.on_event = on_event
        self.started = time.monotonic()
        self.attempts: dict[str, int] = {}
        self.crashes: dict[str, int] = {}
        self.running = 0
        self.solved_this_run = 0

    def progress(self) -> BatchProgress:
        rows = self.plan.rows.values()
        return BatchProgress(
            total=len(self.plan.inputs),
            finished=len(rows),
            failed=sum(1 for row in rows if row.outcome in ("failed", "invalid")),
            running=self.running,
            solved_this_run=self.solved_this_run,
            elapsed=time.monotonic() - self.started,
        )

    def emit(
        self,
        kind: Literal["finished", "retry", "tick"],
        name: str = "",
        row: BatchRow | None = None,
        message: str = "",
    ) -> None:
        if self.on_event is not None:
            self.on_event(BatchEvent(kind, self.progress(), name, row, message))

    def finish(self, row: BatchRow, solved: bool = True) -> None:
        self.plan.rows[row.scenario] = row
        if solved:
            self.solved_this_run += 1
        self.emit("finished", row.scenario, row)


def _outcome_row(task: SolveTask, outcome: TaskOutcome, attempts: int) -> BatchRow:
    if outcome.kind == "schedule":
        row_outcome: Outcome = "solved"
    elif outcome.kind == "invalid":
        row_outcome = "invalid"
    else:
        row_outcome = "failed"
    return BatchRow(
        task.name,
        task.file,
        row_outcome,
        status=outcome.status,
        objective=outcome.objective,
        gap=outcome.gap,
        wall_seconds=outcome.wall_seconds,
        attempts=attempts,
        reason=outcome.reason,
        **outcome.figures,  # type: ignore[arg-type]
    )


def execute(
    plan: BatchPlan,
    executor: BatchExecutor,
    retries: int = 1,
    on_event: EventHandler | None = None,
    task_function: TaskFunction = solve_task,
    tick_seconds: float = 1.0,
) -> dict[str, BatchRow]:
    """Run a plan's solves on an executor, writing each schedule as it arrives.

    At most ``executor.capacity`` solves are submitted at a time, largest files first. A
    solve whose worker dies, or whose solver raises, is resubmitted up to ``retries`` times,
    then reported failed.
    When a process pool breaks with several solves running, nobody can tell which one killed
    it: all are resubmitted without being charged and then run one at a time, so the next
    crash names its scenario. The loop always ends: every crash charged alone uses up one of
    a scenario's finite attempts, and every shared crash turns running solves into suspects,
    which never share a pool again.

    Parameters
    ----------
    plan
        From :func:`plan_batch`; its ``rows`` receive one row per task.
    executor
        Where solves run.
    retries
        Extra attempts for a scenario whose solve crashed.
    on_event
        Called with every finished scenario, retry, and about every ``tick_seconds``.
    task_function
        The function run per scenario: :func:`solve_task` (tests wrap it to crash on cue).
    tick_seconds
        How often a ``tick`` event refreshes progress while nothing finishes.

    Returns
    -------
    dict[str, BatchRow]
        ``plan.rows``, complete.
    """
    run = _Run(plan, on_event)
    # Largest files first: big scenarios tend to run longest, and starting them early keeps
    # the last minutes of a batch from waiting on one long solve (longest-processing-time).
    pending: deque[SolveTask] = deque(
        replace(
            task,
            params=replace(task.params, workers=task.params.workers or executor.solver_workers),
        )
        for task in sorted(plan.tasks, key=lambda task: -len(task.data))
    )
    suspects: deque[SolveTask] = deque()
    in_flight: dict[cf.Future[TaskOutcome], SolveTask] = {}

    def crashed(task: SolveTask, reason: str) -> None:
        run.crashes[task.name] = run.crashes.get(task.name, 0) + 1
        if run.crashes[task.name] <= retries:
            run.emit(
                "retry", task.name, message=f"{reason}; retry {run.crashes[task.name]} of {retries}"
            )
            pending.appendleft(task)
        else:
            attempts = run.attempts.get(task.name, 0)
            run.finish(
                BatchRow(
                    task.name,
                    task.file,
                    "failed",
                    attempts=attempts,
                    reason=f"{reason} ({attempts} attempt(s))",
                )
            )

    def submit(task: SolveTask, queue: deque[SolveTask]) -> bool:
        try:
            future = executor.submit(task_function, task)
        except Exception as error:
            if not executor.is_broken(error):
                raise
            executor.restart()
            queue.appendleft(task)
            return False
        run.attempts[task.name] = run.attempts.get(task.name, 0) + 1
        in_flight[future] = task
        return True

    def completed(task: SolveTask, future: cf.Future[TaskOutcome]) -> None:
        outcome = future.result()
        if outcome.kind == "error":
            crashed(task, outcome.reason)
            return
        if outcome.schedule_text is not None:
            try:
                write_atomic(schedule_path(plan.out_dir, task.name), outcome.schedule_text)
            except OSError as error:
                row = _outcome_row(task, outcome, run.attempts.get(task.name, 0))
                reason = f"the schedule could not be written: {error.strerror}"
                run.finish(replace(row, outcome="failed", reason=reason))
                return
        run.finish(_outcome_row(task, outcome, run.attempts.get(task.name, 0)))

    while pending or suspects or in_flight:
        if suspects:
            # Suspects of a shared crash run alone, so a second crash is theirs.
            if not in_flight:
                submit(suspects.popleft(), suspects)
        else:
            while pending and len(in_flight) < executor.capacity:
                if not submit(pending.popleft(), pending):
                    break
        run.running = len(in_flight)
        if not in_flight:
            continue
        # cf.wait() never returns a future cancelled without notification: take those first.
        done = {future for future in in_flight if future.cancelled()}
        if not done:
            done, _ = cf.wait(in_flight, timeout=tick_seconds, return_when=cf.FIRST_COMPLETED)
        if not done:
            run.emit("tick")
            continue
        lost: list[SolveTask] = []
        broken = False
        for future in done:
            task = in_flight.pop(future)
            run.running = len(in_flight)
            if future.cancelled():  # Dask lost it (scheduler restarted, client reconnected)
                crashed(task, "worker lost (cancelled)")
                continue
            error = future.exception()
            if error is None:
                completed(task, future)
            elif executor.is_broken(error):
                broken = True
                lost.append(task)
            elif executor.is_lost(error):
                crashed(task, f"worker lost ({type(error).__name__})")
            else:
                crashed(task, f"the task raised {type(error).__name__}")
        if broken:
            # A broken pool fails every solve it held; keep any that finished just before.
            for future, task in list(in_flight.items()):
                if future.done() and not future.cancelled() and future.exception() is None:
                    completed(task, future)
                else:
                    lost.append(task)
            in_flight.clear()
            executor.restart()
            if len(lost) == 1:
                crashed(lost[0], "worker process died")
            else:
                for task in lost:
                    run.emit(
                        "retry",
                        task.name,
                        message="worker process died while several solves ran; rerunning alone",
                    )
                suspects.extend(lost)
        run.running = len(in_flight)
    run.running = 0
    run.emit("tick")  # the final counts, nothing running
    return plan.rows


def _format_number(value: float | None, digits: int = 2) -> str:
    if value is None:
        return ""
    return f"{value:.{digits}f}".rstrip("0").rstrip(".") if digits else str(round(value))


def ordered_rows(plan: BatchPlan) -> list[BatchRow]:
    """The plan's rows in input order; inputs without a row yet are ``not run``."""
    return [
        plan.rows.get(item.name) or BatchRow(item.name, str(item.path), "not run")
        for item in plan.inputs
    ]


def _csv_value(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, float):
        return round(value, 4)
    return value


def summary_csv(rows: Sequence[BatchRow]) -> str:
    """``summary.csv``: one row per scenario, the columns of :data:`SUMMARY_FIELDS`."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=SUMMARY_FIELDS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        values = asdict(row)
        writer.writerow({key: _csv_value(values[key]) for key in SUMMARY_FIELDS})
    return buffer.getvalue()


def _ratio(delivered: int | None, needed: int | None) -> str:
    return "" if delivered is None or needed is None else f"{delivered}/{needed}"


def summary_markdown(
    rows: Sequence[BatchRow], title: str = "Batch summary", params: SolveParams | None = None
) -> str:
    """``summary.md``: totals, then a table of every scenario with its failure reason."""
    counts = {
        outcome: sum(1 for row in rows if row.outcome == outcome)
        for outcome in ("solved", "skipped", "failed", "invalid", "not run")
    }
    lines = [f"# {title}", ""]
    lines.append(
        ", ".join(f"{count} {outcome}" for outcome, count in counts.items() if count)
        or "no scenarios"
    )
    if params is not None:
        lines.append(f"\nTime limit {params.time_limit:g} s per scenario, seed {params.seed}.")
    lines += [
        "",
        "| scenario | outcome | status | groups delivered/needed | appointments delivered/needed | weighted unmet | gap | wall s | reason |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        gap = "" if row.gap is None else f"{100 * row.gap:.1f}%"
        cells = [
            row.scenario,
            row.outcome,
            row.status,
            _ratio(row.delivered_group_sessions, row.needed_group_sessions),
            _ratio(row.delivered_appointments, row.needed_appointments),
            _format_number(row.weighted_unmet),
            gap,
            "" if row.wall_seconds is None else f"{row.wall_seconds:.1f}",
            row.reason if row.outcome in ("failed", "invalid") else "",
        ]
        lines.append(
            "| " + " | ".join(cell.replace("|", "\\|").replace("\n", " ") for cell in cells) + " |"
        )
    return "\n".join(lines) + "\n"


def write_summaries(plan: BatchPlan) -> list[BatchRow]:
    """Write ``summary.csv`` and ``summary.md`` into the plan's output folder, atomically."""
    rows = ordered_rows(plan)
    write_atomic(plan.out_dir / SUMMARY_CSV, summary_csv(rows))
    write_atomic(plan.out_dir / SUMMARY_MD, summary_markdown(rows, params=plan.params))
    return rows


@dataclass(frozen=True)
class BatchReport:
    """The end of a batch: a row per scenario, in input order, and where the executor was."""

    rows: list[BatchRow]
    executor: str

    @property
    def ok(self) -> bool:
        """Whether every scenario has a schedule (solved now or skipped)."""
        return all(row.succeeded for row in self.rows)

    def count(self, outcome: Outcome) -> int:
        """How many scenarios ended with ``outcome``."""
        return sum(1 for row in self.rows if row.outcome == outcome)


def _refuse_worker_bootstrap() -> None:
    """Stop a spawned worker that is re-running the main script's unguarded batch.

    A spawned process imports the parent's main script before it can serve as a worker;
    a script that calls :func:`run_batch` at module level, without
    ``if __name__ == "__main__":``, would start a batch of its own in every worker (and
    overwrite the summaries). multiprocessing marks that phase with ``_inheriting``.
    """
    if getattr(multiprocessing.process.current_process(), "_inheriting", False):
        raise SystemExit(
            "iop-roster: run_batch() was called while a worker process was starting: the "
            "script that calls it must do so under 'if __name__ == \"__main__\":' (worker "
            "processes import the script; see docs/batch.md, From Python)"
        )


def run_batch(
    inputs: Sequence[BatchInput],
    out_dir: str | Path,
    params: SolveParams | None = None,
    *,
    jobs: int | None = None,
    scheduler: str | None = None,
    local_cluster: int | None = None,
    retries: int = 1,
    on_event: EventHandler | None = None,
    on_executor: Callable[[BatchExecutor], None] | None = None,
    task_function: TaskFunction = solve_task,
) -> BatchReport:
    """Plan, execute and summarise a batch (the whole of ``iop-roster batch``).

    Parameters
    ----------
    inputs
        From :func:`discover_inputs`.
    out_dir
        Where schedules and summaries go.
    params
        Solve parameters; ``workers`` None lets the executor choose (see :func:`pool_shape`).
    jobs, scheduler, local_cluster
        Which executor (see :func:`open_executor`). A scheduler is connected to first,
        before the output folder is made or read, so one that cannot be used raises with
        nothing written (even when every scenario would be skipped); a local pool or
        cluster is started only when something is left to solve.
    retries
        Extra attempts for a crashed solve.
    on_event
        Progress callback (see :class:`BatchEvent`).
    on_executor
        Called once the executor is up (the CLI prints its label; tests find its processes).
    task_function
        Per-scenario function run in the workers (default :func:`solve_task`).

    Returns
    -------
    BatchReport
        One row per input. Summaries are written even when the batch is interrupted
        (unfinished scenarios are ``not run``).

    Raises
    ------
    BatchUsageError
        No inputs, ``retries`` below 0, or executor options that cannot work (see
        :func:`open_executor`), before anything is written.
    TypeError
        ``inputs`` that are not :func:`discover_inputs`'s (paths given directly), or
        ``params`` that is not a :class:`SolveParams`, before anything is written.
    SystemExit
        Called while a spawned worker process imports the main script (a script without
        ``if __name__ == "__main__":``): the worker stops with a message saying so.
    """
    _refuse_worker_bootstrap()
    params = SolveParams() if params is None else params
    if not isinstance(params, SolveParams):
        raise TypeError(f"params must be a SolveParams, not {type(params).__name__}")
    if isinstance(inputs, str | os.PathLike) or not all(isinstance(item, BatchInput) for item in inputs):
        # (QA: paths given directly failed inside plan_batch with an AttributeError, after the
        # output folder had been made)
        raise TypeError("run_batch() takes the inputs that discover_inputs() returns "
                        "(run_batch(discover_inputs(paths), ...)), not paths")
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise BatchUsageError("retries must be a whole number of at least 0")
    if not inputs:
        raise BatchUsageError(NO_INPUTS)
    check_executor_options(jobs, scheduler, local_cluster, params.workers)
    with ExitStack() as stack:
        # Usage errors before the output folder is touched: a scheduler that cannot be used
        # (no port, no answer) must not leave a summary of 'not run' rows, nor pass unseen
        # because every scenario is skipped. Connecting costs little; a local pool or
        # cluster waits for the plan (its size, or nothing to solve).
        connected: BatchExecutor | None = None
        if scheduler is not None:
            connected = stack.enter_context(
                open_executor(0, scheduler=scheduler, solver_workers=params.workers)
            )
        elif local_cluster is not None:
            _require_dask()
        plan = plan_batch(inputs, out_dir, params)
        label = "nothing to solve"
        try:
            known = list(plan.rows.values())  # skipped and unreadable inputs are reported first
            plan.rows.clear()
            reporter = _Run(plan, on_event)
            for row in known:
                reporter.finish(row, solved=False)
            if plan.tasks:
                with (
                    nullcontext(connected)
                    if connected is not None
                    else open_executor(len(plan.tasks), jobs, None, local_cluster, plan.params.workers)
                ) as executor:
                    label = executor.label
                    if on_executor is not None:
                        on_executor(executor)
                    execute(plan, executor, retries, on_event, task_function)
        finally:
            rows = write_summaries(plan)
    return BatchReport(rows, label)
