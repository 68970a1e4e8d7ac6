"""The benchmark harness: generated instances, CP-SAT at several time limits, the greedy baseline.

For every size and seed the harness generates a scenario (:mod:`optimizer.generate`), runs
the greedy baseline (:func:`optimizer.greedy.greedy_schedule`) once and :func:`optimizer.solve`
once per time limit, each in a fresh child process so that its peak memory (max RSS, which
includes OR-Tools' C++ memory that ``tracemalloc`` never sees) is its own. Every schedule then
goes through the independent checker (:func:`optimizer.check.check`) in this process, and the
row says whether it passed; delivered sessions and weighted unmet needs come from the checker's
recomputed figures, not from the solver's own report.

The table is printed (rich) and written as markdown and CSV, atomically, with a header naming
the machine, Python and OR-Tools versions and the date.

Usage::

    python -m benchmarks.run --sizes S,M --seeds 1,2,3 --time-limits 10,60 --workers 2 \\
        --out benchmarks/results/2026-11-27-s-m.md
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import multiprocessing
import os
import platform
import resource
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path

from rich.console import Console
from rich.table import Table

from models.io import scenario_text, write_atomic
from models.scenario import Scenario
from models.schedule import Schedule
from optimizer.generate import SIZES, generate_scenario, scenario_figures

#: Columns of the table: (field of :class:`Row`, heading).
COLUMNS: tuple[tuple[str, str], ...] = (
    ("instance", "instance"),
    ("size", "size"),
    ("participants", "participants"),
    ("method", "method"),
    ("time_limit", "limit s"),
    ("status", "status"),
    ("delivered", "delivered"),
    ("needed", "needed"),
    ("vs_greedy", "vs greedy"),
    ("weighted_unmet", "weighted unmet"),
    ("objective", "objective"),
    ("best_bound", "best bound"),
    ("gap", "gap"),
    ("first_solution_seconds", "first s"),
    ("wall_seconds", "wall s"),
    ("build_seconds", "build s"),
    ("peak_memory_mb", "peak MB"),
    ("check", "check"),
)


@dataclass
class Row:
    """One run: a method (``cp-sat`` or ``greedy``) on one instance at one time limit.

    ``delivered``, ``needed`` and ``weighted_unmet`` are the checker's recomputed figures
    (sessions, and priority-weighted sessions missing); ``objective``, ``best_bound`` and
    ``gap`` are the solver's, in level-1 units; ``vs_greedy`` is delivered sessions minus the
    greedy baseline's on the same instance. ``check`` is ``pass``, ``FAIL (n)`` with the
    number of violated rules, or ``-`` when there was no schedule.
    """

    instance: str
    size: str
    seed: int
    participants: int
    method: str
    time_limit: float | None
    status: str
    delivered: int | None = None
    needed: int | None = None
    vs_greedy: int | None = None
    weighted_unmet: float | None = None
    objective: float | None = None
    best_bound: float | None = None
    gap: float | None = None
    first_solution_seconds: float | None = None
    wall_seconds: float | None = None
    build_seconds: float | None = None
    peak_memory_mb: float | None = None
    check: str = "-"
    violations: int = 0
    message: str = ""

    @property
    def passed(self) -> bool:
        """Whether a schedule came out and the checker found no violation."""
        return self.check == "pass"


@dataclass(frozen=True)
class Machine:
    """Where the benchmark ran."""

    cores: int
    usable_cores: int
    memory_gb: float
    cpu_model: str
    python: str
    ortools: str
    platform: str
    date: str


# --------------------------------------------------------------------------- the child process


class _PeakMemory:
    """The most this process and its children (the LP worker, ``optimizer/lp_worker.py``) held
    at once, sampled every 0.1 s with psutil, and never less than this process's own peak.

    A child's own ``ru_maxrss`` cannot be used: Linux carries the parent's high-water mark
    into a child across ``exec``, so the worker, started when the solve held 1.1 GB at XL,
    reported 1.1 GB where it never held more than 0.66 GB by itself. Without psutil the
    figure is the two peaks added (an upper bound).
    """

    def __init__(self) -> None:
        self._peak = 0
        self._done = threading.Event()
        self._thread: threading.Thread | None = None
        try:
            import psutil
        except ImportError:
            return
        self._process = psutil.Process()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        import psutil

        while not self._done.wait(0.1):
            try:
                total = self._process.memory_info().rss
                for child in self._process.children(recursive=True):
                    with contextlib.suppress(psutil.Error):  # it may end between the two calls
                        total += child.memory_info().rss
            except psutil.Error:  # pragma: no cover - this process is alive
                continue
            self._peak = max(self._peak, total)

    def megabytes(self) -> float:
        """Stop sampling; the peak in MB."""
        # ru_maxrss is in kilobytes on Linux, bytes on macOS.
        scale = 1 if sys.platform == "darwin" else 1024
        own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale
        if self._thread is None:
            return (own + resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * scale) / 1024**2
        self._done.set()
        self._thread.join()
        return max(own, self._peak) / 1024**2


def _child(connection: Connection, scenario_json: str, method: str, time_limit: float, workers: int, seed: int) -> None:
    """Run one method on one scenario and send back plain data (runs in a spawned process)."""
    memory = _PeakMemory()
    try:
        scenario = Scenario.model_validate_json(scenario_json)
        out: dict[str, object] = {"method": method}
        if method == "greedy":
            from optimizer.greedy import greedy_schedule

            started = time.perf_counter()
            schedule = greedy_schedule(scenario)
            seconds = time.perf_counter() - started
            out.update(status="greedy", wall_seconds=seconds, first_solution_seconds=seconds)
        else:
            from optimizer.result import SolveParams
            from optimizer.solve import solve

            result = solve(scenario, SolveParams(time_limit=time_limit, workers=workers, seed=seed))
            schedule = result.schedule  # type: ignore[assignment]
            out.update(
                status=result.status.value,
                objective=result.objective,
                best_bound=result.best_bound,
                gap=result.gap,
                wall_seconds=result.wall_seconds,
                build_seconds=result.build_seconds,
                first_solution_seconds=result.first_solution_seconds,
                message="; ".join(result.messages),
            )
        out["schedule"] = schedule.model_dump_json() if schedule is not None else None
        out["peak_memory_mb"] = memory.megabytes()
        connection.send(out)
    except BaseException as error:  # noqa: BLE001 - reported as the row's status
        connection.send({"method": method, "status": "error", "message": f"{type(error).__name__}: {error}"})
    finally:
        connection.close()


def run_in_child(
    scenario: Scenario, method: str, time_limit: float, workers: int, seed: int = 0, grace: float = 60.0
) -> dict[str, object]:
    """Run ``method`` (``cp-sat`` or ``greedy``) in a fresh spawned process and return its report.

    The child is killed if it outlives ``time_limit`` by ``2 * time_limit + grace`` seconds;
    the report's status is then ``timeout``.
    """
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(
        target=_child,
        args=(sender, scenario.model_dump_json(), method, time_limit, workers, seed),
        daemon=True,
    )
    process.start()
    sender.close()
    deadline = 3 * time_limit + grace
    report: dict[str, object]
    try:
        if receiver.poll(deadline):
            report = receiver.recv()
        else:
            report = {"method": method, "status": "timeout", "message": f"no answer within {deadline:g} s"}
    except EOFError:
        report = {"method": method, "status": "error", "message": "the child process died without a report"}
    finally:
        receiver.close()
        process.join(timeout=10)
        if process.is_alive():
            process.kill()
            process.join()
    if process.exitcode not in (0, None) and report.get("status") not in ("error", "timeout"):
        report["message"] = f"child exit code {process.exitcode}"
    return report


# --------------------------------------------------------------------------- one instance


def _float(value: object) -> float | None:
    return float(value) if isinstance(value, (int, float)) else None


def _row_from_report(
    scenario: Scenario, instance: str, size: str, seed: int, time_limit: float | None, report: dict[str, object]
) -> Row:
    from optimizer.check import check

    row = Row(
        instance=instance,
        size=size,
        seed=seed,
        participants=len(scenario.participants),
        method=str(report.get("method")),
        time_limit=time_limit,
        status=str(report.get("status")),
        objective=_float(report.get("objective")),
        best_bound=_float(report.get("best_bound")),
        gap=_float(report.get("gap")),
        first_solution_seconds=_float(report.get("first_solution_seconds")),
        wall_seconds=_float(report.get("wall_seconds")),
        build_seconds=_float(report.get("build_seconds")),
        peak_memory_mb=_float(report.get("peak_memory_mb")),
        message=str(report.get("message") or ""),
    )
    schedule_json = report.get("schedule")
    if not isinstance(schedule_json, str):
        return row
    schedule = Schedule.model_validate_json(schedule_json)
    checked = check(scenario, schedule)
    summary = checked.summary
    row.violations = len(checked.violations)
    row.check = "pass" if checked.ok else f"FAIL ({row.violations})"
    row.delivered = int(summary.get("delivered_group_sessions", 0)) + int(summary.get("delivered_appointments", 0))
    row.needed = int(summary.get("needed_group_sessions", 0)) + int(summary.get("needed_appointments", 0))
    coverage, needed = checked.levels.get("coverage"), checked.levels.get("needed")
    if coverage is not None and needed is not None:
        row.weighted_unmet = needed - coverage
        if row.method == "greedy":
            row.objective = coverage
    return row


@dataclass(frozen=True)
class Instance:
    """A scenario to benchmark: generated (``size``, ``seed``) or read from a file (size ``file``)."""

    name: str
    size: str
    seed: int
    scenario: Scenario


def generated_instance(size: str, seed: int) -> Instance:
    """The generated instance ``SIZE-SEED`` (``iop-roster generate --size SIZE --seed SEED``)."""
    return Instance(f"{size}-{seed}", size, seed, generate_scenario(size, seed))


def file_instance(path: str | Path) -> Instance:
    """A scenario file as an instance named by its file name."""
    from models.io import load_scenario

    return Instance(Path(path).stem, "file", 0, load_scenario(path).scenario)


def benchmark_instance(
    instance: Instance, time_limits: Sequence[float], workers: int, console: Console | None = None
) -> list[Row]:
    """The greedy row and one CP-SAT row per time limit for one instance."""
    scenario, name = instance.scenario, instance.name
    say = console.print if console is not None else (lambda *_args, **_kwargs: None)
    say(f"[bold]{name}[/]: {len(scenario.participants)} participants; greedy ...", highlight=False)

    def row_of(limit: float | None, report: dict[str, object]) -> Row:
        return _row_from_report(scenario, name, instance.size, instance.seed, limit, report)

    greedy = row_of(None, run_in_child(scenario, "greedy", 60.0, 1))
    rows = [greedy]
    for limit in time_limits:
        say(f"[bold]{name}[/]: CP-SAT, {limit:g} s, {workers} worker(s) ...", highlight=False)
        row = row_of(limit, run_in_child(scenario, "cp-sat", limit, workers))
        if row.delivered is not None and greedy.delivered is not None:
            row.vs_greedy = row.delivered - greedy.delivered
        rows.append(row)
    return rows


# --------------------------------------------------------------------------- machine and output


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gb() -> float:
    try:
        import psutil

        return round(psutil.virtual_memory().total / 1024**3, 1)
    except ImportError:
        pages, page_size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
        return round(pages * page_size / 1024**3, 1)


def machine_info() -> Machine:
    """Cores, memory, CPU model, Python and OR-Tools versions, and the date (UTC)."""
    from importlib.metadata import version

    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        usable = os.cpu_count() or 1
    return Machine(
        cores=os.cpu_count() or 1,
        usable_cores=usable,
        memory_gb=_memory_gb(),
        cpu_model=_cpu_model(),
        python=platform.python_version(),
        ortools=version("ortools"),
        platform=platform.platform(),
        date=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )


def _cell(name: str, value: object) -> str:
    if value is None:
        return "-"
    if name == "gap" and isinstance(value, float):
        return f"{value:.2%}"
    if name == "vs_greedy" and isinstance(value, int):
        return f"{value:+d}"
    if name in ("time_limit", "objective", "best_bound", "weighted_unmet") and isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, float):
        return f"{value:.1f}" if name == "peak_memory_mb" else f"{value:.2f}"
    return str(value)


def instance_lines(instances: Sequence[Instance]) -> list[str]:
    """One line per instance: participants, therapists, needed sessions, demand and supply hours."""
    lines = []
    for instance in instances:
        figures = scenario_figures(instance.scenario)
        lines.append(
            f"| {instance.name} | {figures['participants']:g} | {figures['adolescents']:g} | {figures['therapists']:g} "
            f"| {figures['needed_group_sessions']:g} | {figures['needed_appointments']:g} "
            f"| {figures['demand_hours']:g} | {figures['supply_hours']:g} |"
        )
    return lines


def markdown(rows: Sequence[Row], machine: Machine, command: str, workers: int, instances: Sequence[str] = ()) -> str:
    """The results file: header (machine, versions, date, command) and the table."""
    out = io.StringIO()
    out.write("# iop-roster benchmark\n\n")
    out.write(f"- date: {machine.date}\n")
    out.write(f"- command: `{command}`\n")
    out.write(
        f"- machine: {machine.cpu_model}, {machine.cores} cores ({machine.usable_cores} usable), "
        f"{machine.memory_gb:g} GB memory; {machine.platform}\n"
    )
    out.write(f"- Python {machine.python}, OR-Tools {machine.ortools}; CP-SAT workers: {workers}\n")
    out.write(
        "- delivered / needed: sessions (groups and appointments) as recomputed by the independent "
        "checker; weighted unmet and objective / best bound in level-1 units (priority-weighted "
        "sessions); gap = (bound - objective) / bound; peak MB: max RSS of the child process that "
        "ran the method (OR-Tools' memory included); check: the checker's verdict on the schedule\n\n"
    )
    if instances:
        out.write("## Instances\n\n")
        out.write("| instance | participants | adolescents | therapists | group sessions needed "
                  "| appointments needed | therapist hours needed | therapist hours available |\n")
        out.write("|---|---|---|---|---|---|---|---|\n")
        out.write("\n".join(instances) + "\n\n")
    out.write("## Results\n\n")
    out.write("| " + " | ".join(heading for _, heading in COLUMNS) + " |\n")
    out.write("|" + "---|" * len(COLUMNS) + "\n")
    for row in rows:
        out.write("| " + " | ".join(_cell(name, getattr(row, name)) for name, _ in COLUMNS) + " |\n")
    notes = [row for row in rows if row.message]
    if notes:
        out.write("\n## Messages\n\n")
        for row in notes:
            limit = f", {row.time_limit:g} s" if row.time_limit is not None else ""
            out.write(f"- {row.instance} {row.method}{limit}: {row.message}\n")
    return out.getvalue()


def csv_text(rows: Sequence[Row]) -> str:
    """Every field of every row, one line each."""
    out = io.StringIO()
    names = [f.name for f in fields(Row)]
    writer = csv.DictWriter(out, fieldnames=[*names, "passed"], lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({**asdict(row), "passed": row.passed})
    return out.getvalue()


def rich_table(rows: Sequence[Row]) -> Table:
    """The table for the terminal."""
    table = Table(title="iop-roster benchmark", show_lines=False)
    for name, heading in COLUMNS:
        table.add_column(heading, justify="left" if name in ("instance", "size", "method", "status", "check") else "right")
    for row in rows:
        style = "red" if row.check.startswith("FAIL") or row.status in ("error", "timeout") else None
        table.add_row(*(_cell(name, getattr(row, name)) for name, _ in COLUMNS), style=style)
    return table


# --------------------------------------------------------------------------- entry point


def _list(text: str, kind: type[int] | type[float]) -> list[int] | list[float]:
    return [kind(item) for item in text.split(",") if item.strip()]  # type: ignore[return-value]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run",
        description="Solve generated instances at several time limits beside the greedy baseline; "
        "print the table and write it as markdown and CSV.",
    )
    parser.add_argument("--sizes", default="S,M", help="comma-separated sizes: " + ", ".join(SIZES) + " (default S,M)")
    parser.add_argument("--seeds", default="1,2,3", help="comma-separated generator seeds (default 1,2,3)")
    parser.add_argument("--time-limits", default="10,60", help="comma-separated CP-SAT time limits in seconds (default 10,60)")
    parser.add_argument("--workers", type=int, default=2, help="CP-SAT workers (default 2)")
    parser.add_argument("--out", default=None, help="markdown file to write; the CSV goes beside it "
                        "(default benchmarks/results/<date>-<sizes>.md)")
    parser.add_argument("--files", nargs="*", default=[], metavar="FILE",
                        help="also benchmark these scenario files (give --sizes '' for files only)")
    parser.add_argument("--save-scenarios", default=None, metavar="DIR",
                        help="also write each generated scenario to DIR (YAML)")
    return parser


def run(
    instances: Sequence[Instance],
    time_limits: Sequence[float],
    workers: int,
    out: str | Path,
    console: Console | None = None,
    command: str = "",
    save_scenarios: str | Path | None = None,
) -> list[Row]:
    """Run the whole benchmark, write ``out`` (markdown) and its ``.csv`` sibling, return the rows."""
    console = console or Console(stderr=True)
    machine = machine_info()
    rows: list[Row] = []
    for instance in instances:
        if save_scenarios is not None:
            write_atomic(Path(save_scenarios) / f"{instance.name}.yaml", scenario_text(instance.scenario))
        rows.extend(benchmark_instance(instance, time_limits, workers, console))
    target = Path(out)
    write_atomic(target, markdown(rows, machine, command, workers, instance_lines(instances)))
    write_atomic(target.with_suffix(".csv"), csv_text(rows))
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m benchmarks.run``: exit 0 when every schedule passed the checker, else 1."""
    args = _parser().parse_args(argv)
    canonical = {key.lower(): key for key in SIZES}
    sizes: list[str] = []
    for item in args.sizes.split(",") if args.sizes else []:
        if item.strip().lower() not in canonical:
            _parser().error(f"unknown size {item!r}: choose from {', '.join(SIZES)}")
        sizes.append(canonical[item.strip().lower()])
    seeds = [int(s) for s in _list(args.seeds, int)]
    limits = [float(t) for t in _list(args.time_limits, float)]
    instances = [generated_instance(size, seed) for size in sizes for seed in seeds]
    instances += [file_instance(path) for path in args.files]
    labels = [s.lower() for s in sizes] + (["files"] if args.files else [])
    out = args.out or f"benchmarks/results/{datetime.now(UTC):%Y-%m-%d}-{'-'.join(labels)}.md"
    command = "python -m benchmarks.run " + " ".join(argv if argv is not None else sys.argv[1:])
    console = Console(stderr=True)
    rows = run(instances, limits, args.workers, out, console, command.strip(), args.save_scenarios)
    # Off a terminal (a log, a pipe) rich would squeeze 18 columns into 80 characters.
    Console(width=None if sys.stdout.isatty() else 220).print(rich_table(rows))
    console.print(f"written: {out} and {Path(out).with_suffix('.csv')}", highlight=False)
    failed = [row for row in rows if not row.passed]
    if failed:
        console.print(f"[red]{len(failed)} run(s) without a schedule that passed the checker[/]")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
