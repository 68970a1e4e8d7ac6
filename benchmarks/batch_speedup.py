"""Batch speed-up: the same generated scenarios solved sequentially and on two processes.

Run on purpose, not by the tests::

    .venv/bin/python benchmarks/batch_speedup.py            # 20 M scenarios, 20 s each (~10 min)
    .venv/bin/python benchmarks/batch_speedup.py --count 2 --size S --time-limit 2   # a smoke run

Both runs give every solve one CP-SAT worker, so the only difference is how many solves run
at once: one process (sequential) or two. The speed-up is the ratio of the two batches' wall
times; the table also shows that quality did not change (same time limit per solve). Results
go to ``benchmarks/results/batch-speedup.md``.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from models.io import scenario_text, write_atomic
from optimizer.batch import BatchReport, BatchRow, discover_inputs, run_batch
from optimizer.generate import generate_scenario
from optimizer.result import SolveParams, default_workers

RESULTS = Path(__file__).resolve().parent / "results" / "batch-speedup.md"


@dataclass(frozen=True)
class Run:
    """One batch of the benchmark."""

    label: str
    processes: int
    report: BatchReport
    wall_seconds: float
    load_before: float
    load_after: float
    peak_child_rss_mb: float


def _peak_child_rss_mb() -> float:
    # ru_maxrss of the largest child waited for so far (kilobytes on Linux).
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def run_once(
    label: str, inputs_dir: Path, out_dir: Path, processes: int, time_limit: float, seed: int
) -> Run:
    """Solve every scenario of ``inputs_dir`` on ``processes`` single-worker processes."""
    inputs = discover_inputs([inputs_dir])
    params = SolveParams(time_limit=time_limit, workers=1, seed=seed)
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    report = run_batch(inputs, out_dir, params, jobs=processes, retries=0)
    wall = time.perf_counter() - started
    return Run(
        label, processes, report, wall, load_before, os.getloadavg()[0], _peak_child_rss_mb()
    )


def _mean(values: list[float], scale: float = 1.0, suffix: str = "") -> str:
    return f"{scale * statistics.fmean(values):.1f}{suffix}" if values else "-"


def _cell(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _solved(rows: list[BatchRow]) -> list[BatchRow]:
    return [row for row in rows if row.outcome == "solved"]


def results_markdown(args: argparse.Namespace, runs: list[Run], generated_seconds: float) -> str:
    """The results file: settings, the two batches, the speed-up and every instance."""
    sequential, parallel = runs
    speedup = (
        sequential.wall_seconds / parallel.wall_seconds if parallel.wall_seconds else float("nan")
    )
    lines = [
        "# Batch speed-up: sequential vs two single-worker processes",
        "",
        f"Measured {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')} with `benchmarks/batch_speedup.py "
        f"--count {args.count} --size {args.size} --time-limit {args.time_limit:g} --seed {args.seed}`",
        f"on {platform.machine()} Linux, {default_workers()} cores available to the process, Python "
        f"{platform.python_version()}; {args.count} generated {args.size} scenarios (seeds "
        f"{args.seed}..{args.seed + args.count - 1}, generated in {generated_seconds:.1f} s), "
        f"{args.time_limit:g} s limit per solve, one CP-SAT worker per solve in both runs.",
        "",
        "**Caveat: the machine was shared.** Other agents work in the same checkout on the same "
        "cores and may have run builds or tests during the measurement; the 1-minute load "
        "average before and after each run is in the table (this benchmark alone accounts for "
        "about 1 in the sequential run and 2 in the parallel one). Load from others slows the "
        "parallel run more than the sequential one (it needs both cores), so under contention "
        "the speed-up below is a lower bound of what an idle machine gives.",
        "",
        "| run | processes x workers | solved | failed | batch wall s | mean solve s | mean gap | "
        "total weighted unmet | load before/after | peak child RSS MB |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        rows = run.report.rows
        solved = _solved(rows)
        gaps = [row.gap for row in solved if row.gap is not None]
        unmet = sum(row.weighted_unmet or 0 for row in solved)
        lines.append(
            f"| {run.label} | {run.processes} x 1 | {len(solved)} | "
            f"{run.report.count('failed') + run.report.count('invalid')} | {run.wall_seconds:.1f} | "
            f"{_mean([row.wall_seconds or 0 for row in solved])} | {_mean(gaps, 100, '%')} | {unmet:g} | "
            f"{run.load_before:.2f}/{run.load_after:.2f} | {run.peak_child_rss_mb:.0f} |"
        )
    lines += [
        "",
        f"**Speed-up: {speedup:.2f}x** (sequential {sequential.wall_seconds:.1f} s / two processes "
        f"{parallel.wall_seconds:.1f} s; the issue asks for about 2x).",
        "",
        "Solves that stop at the time limit take the same time in both runs, so the speed-up "
        "comes from running two at once; process start-up (spawn, OR-Tools import) is paid once "
        "per process and is inside the batch wall time.",
        "",
        "## Every instance",
        "",
        "| instance | sequential: status, objective, gap, s | two processes: status, objective, gap, s |",
        "|---|---|---|",
    ]
    parallel_rows = {row.scenario: row for row in parallel.report.rows}
    for row in sequential.report.rows:
        other = parallel_rows.get(row.scenario)

        def cells(r: BatchRow | None) -> str:
            if r is None:
                return "-"
            if r.outcome != "solved":
                return f"{r.outcome}: {r.reason}"
            gap = "-" if r.gap is None else f"{100 * r.gap:.1f}%"
            return f"{r.status}, {_cell(r.objective, 0)}, {gap}, {_cell(r.wall_seconds)}"

        lines.append(f"| {row.scenario} | {cells(row)} | {cells(other)} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    """Generate the scenarios, run both batches, write and print the results."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=20, help="scenarios (default 20)")
    parser.add_argument("--size", default="M", help="generator size (default M)")
    parser.add_argument(
        "--time-limit", type=float, default=20.0, help="seconds per solve (default 20)"
    )
    parser.add_argument("--seed", type=int, default=1, help="first generator seed (default 1)")
    parser.add_argument(
        "--out", type=Path, default=RESULTS, help=f"results file (default {RESULTS})"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="batch-speedup-") as work:
        inputs = Path(work) / "in"
        started = time.perf_counter()
        for seed in range(args.seed, args.seed + args.count):
            write_atomic(
                inputs / f"{args.size.lower()}-{seed:03d}.yaml",
                scenario_text(generate_scenario(args.size, seed)),
            )
        generated = time.perf_counter() - started
        runs = [
            run_once("sequential", inputs, Path(work) / "sequential", 1, args.time_limit, 0),
            run_once("two processes", inputs, Path(work) / "parallel", 2, args.time_limit, 0),
        ]
        for run in runs:
            print(
                f"{run.label}: {run.wall_seconds:.1f} s, {run.report.count('solved')} solved",
                flush=True,
            )
        text = results_markdown(args, runs, generated)
    write_atomic(args.out, text)
    print(text)


if __name__ == "__main__":
    main()
