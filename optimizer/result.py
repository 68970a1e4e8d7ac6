"""What a solve takes and gives: parameters, progress reports, the result."""

from __future__ import annotations

import enum
import math
import os
from dataclasses import dataclass, field
from typing import Protocol

from models.schedule import Schedule


class SolveStatus(enum.StrEnum):
    """How a solve ended (the schedule file's ``solver.status``)."""

    OPTIMAL = "optimal"  # level 1 proven optimal (lower levels are not claimed optimal: see Result.messages)
    FEASIBLE = "feasible"  # a schedule, not proven optimal; gap says how far it may be
    INFEASIBLE = "infeasible"  # pinned sessions contradict the rules (re-planning)
    UNKNOWN = "unknown"  # no schedule found in time
    INVALID = "invalid"  # the scenario broke a rule of the format


def default_workers() -> int:
    """CP-SAT workers when none are asked for: the cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


MAX_SEED = 2**31 - 1  # CP-SAT's random_seed is an int32
MAX_WORKERS = 1024


def _number(name: str, value: object, low: float, low_open: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"SolveParams.{name} must be a number, not {type(value).__name__}")
    if not math.isfinite(value) or value < low or (low_open and value == low):
        raise ValueError(f"SolveParams.{name} must be a finite number {'>' if low_open else '>='} {low:g}, not {value!r}")


def _integer(name: str, value: object, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"SolveParams.{name} must be an integer, not {type(value).__name__}")
    if not low <= value <= high:
        raise ValueError(f"SolveParams.{name} must be between {low} and {high}, not {value}")


@dataclass(frozen=True)
class SolveParams:
    """Parameters of a solve.

    Attributes
    ----------
    time_limit
        Seconds for the whole solve (all stages), wall clock; in deterministic mode the
        limit is CP-SAT's deterministic time instead, so results do not depend on load.
        An integer is stored as a float (so is ``relative_gap``'s).
    relative_gap
        Stop once level 1 is proven within this relative gap of its bound.
    workers
        CP-SAT search workers; None means the machine's cores.
    seed
        Random seed of the search.
    deterministic
        Same scenario, seed and parameters give a byte-identical schedule: interleaved
        search, fixed seed, deterministic time limit.
    log
        Print CP-SAT's own search log to stdout (for developers).
    lp_bound
        Also prove a bound from the LP relaxation, on a thread beside the search
        (``optimizer/bound.py``). Off where only the schedule matters (what-if re-solves).
    """

    time_limit: float = 30.0
    relative_gap: float = 0.0
    workers: int | None = None
    seed: int = 0
    deterministic: bool = False
    log: bool = False
    lp_bound: bool = True

    def __post_init__(self) -> None:
        # Other software builds these by hand: a wrong value is refused here, by name, not
        # found later as a TypeError deep in the solver (CP-SAT's seed is a 32-bit integer).
        _number("time_limit", self.time_limit, low=0.0, low_open=True)
        _number("relative_gap", self.relative_gap, low=0.0)
        if self.workers is not None:
            _integer("workers", self.workers, 1, MAX_WORKERS)
        _integer("seed", self.seed, 0, MAX_SEED)
        for name in ("deterministic", "log", "lp_bound"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"SolveParams.{name} must be True or False, not {type(getattr(self, name)).__name__}")
        # Kept as floats, whichever number was given: the schedule's solver block and batch's
        # input hash write them, and ``time_limit=5`` must write the same bytes as the CLI's
        # ``--time-limit 5`` (``5.0``).
        object.__setattr__(self, "time_limit", float(self.time_limit))
        object.__setattr__(self, "relative_gap", float(self.relative_gap))

    def resolved_workers(self) -> int:
        """The number of workers actually used."""
        return self.workers if self.workers else default_workers()


@dataclass(frozen=True)
class Progress:
    """A report while solving, sent to ``on_progress`` at each improved schedule and stage."""

    stage: str
    elapsed: float
    objective: float | None
    best_bound: float | None
    gap: float | None
    sessions: int
    delivered: int
    needed: int


class StopFlag(Protocol):
    """Anything with ``is_set()``: a threading or multiprocessing Event."""

    def is_set(self) -> bool:  # pragma: no cover - protocol
        ...


@dataclass
class Result:
    """The outcome of :func:`optimizer.solve`.

    ``objective`` and ``best_bound`` are in level-1 units (priority-weighted delivered
    sessions); ``gap = (best_bound - objective) / best_bound``. ``levels`` holds the value of
    each objective level, ``breakdown`` the cost of each soft family, so a schedule can say
    what each rule cost. ``schedule`` is always present for statuses optimal and feasible.
    """

    status: SolveStatus
    schedule: Schedule | None
    objective: float | None = None
    best_bound: float | None = None
    gap: float | None = None
    levels: dict[str, float] = field(default_factory=dict)
    breakdown: dict[str, float] = field(default_factory=dict)
    wall_seconds: float = 0.0
    build_seconds: float = 0.0
    first_solution_seconds: float | None = None
    seed: int = 0
    ortools_version: str = ""
    messages: list[str] = field(default_factory=list)

    @property
    def has_schedule(self) -> bool:
        """Whether a schedule came out."""
        return self.schedule is not None
