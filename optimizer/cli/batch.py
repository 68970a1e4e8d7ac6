"""``iop-roster batch``: many scenarios at once, on this machine or a Dask cluster."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from optimizer.batch import (
    BatchEvent,
    BatchExecutor,
    BatchRow,
    BatchUsageError,
    check_executor_options,
    discover_inputs,
    run_batch,
)
from optimizer.cli.common import (
    EXIT_OK,
    EXIT_VIOLATIONS,
    SEED,
    WORKERS,
    WORKERS_MAX,
    Command,
    FloatRange,
    IntRange,
    friendly_errors,
)
from optimizer.result import SolveParams

PLAIN_HEARTBEAT_SECONDS = 30.0


def describe_row(row: BatchRow) -> str:
    """One line about a finished scenario (files, ids and figures only)."""
    if row.outcome in ("failed", "invalid"):
        return f"{row.scenario}: {row.outcome.upper()}: {row.reason}"
    parts = [f"{row.scenario}: {row.outcome} ({row.status})"]
    if row.delivered_group_sessions is not None and row.needed_group_sessions is not None:
        parts.append(f"groups {row.delivered_group_sessions}/{row.needed_group_sessions}")
    if row.delivered_appointments is not None and row.needed_appointments is not None:
        parts.append(f"appointments {row.delivered_appointments}/{row.needed_appointments}")
    if row.gap is not None:
        parts.append(f"gap {100 * row.gap:.1f}%")
    if row.wall_seconds is not None and row.outcome == "solved":
        parts.append(f"{row.wall_seconds:.1f} s")
    return ", ".join(parts)


class PlainReporter:
    """Progress as plain lines on stderr (not a terminal, or CI): one per event."""

    def __init__(self) -> None:
        self._last_line = time.monotonic()

    def __call__(self, event: BatchEvent) -> None:
        progress = event.progress
        width = len(str(progress.total))
        if event.kind == "finished" and event.row is not None:
            line = f"[{progress.finished:>{width}}/{progress.total}] {describe_row(event.row)}"
        elif event.kind == "retry":
            line = f"{event.name}: {event.message}"
        elif time.monotonic() - self._last_line >= PLAIN_HEARTBEAT_SECONDS:
            line = f"... {progress.finished}/{progress.total} done, {progress.failed} failed, {progress.running} running"
        else:
            return
        self._last_line = time.monotonic()
        click.echo(line, err=True)


class BarReporter:
    """A rich progress bar on a terminal: done, failed, running and rate, plus failure lines."""

    def __init__(self, console: Console) -> None:
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("[bold]batch"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("[red]{task.fields[failed]} failed"),
            TextColumn("{task.fields[running]} running"),
            TextColumn("{task.fields[rate]:.1f}/min"),
            TimeElapsedColumn(),
            console=console,
        )
        self._task: TaskID | None = None

    def __enter__(self) -> BarReporter:
        self.progress.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.progress.stop()

    def __call__(self, event: BatchEvent) -> None:
        progress = event.progress
        if self._task is None:
            self._task = self.progress.add_task(
                "batch", total=progress.total, failed=0, running=0, rate=0.0
            )
        self.progress.update(
            self._task,
            completed=progress.finished,
            failed=progress.failed,
            running=progress.running,
            rate=progress.rate,
        )
        if event.kind == "finished" and event.row is not None and not event.row.succeeded:
            self.progress.console.print(
                f"[red]{describe_row(event.row)}", markup=True, highlight=False
            )
        elif event.kind == "retry":
            self.progress.console.print(f"[yellow]{event.name}: {event.message}", highlight=False)


def _use_bar(console: Console) -> bool:
    return console.is_terminal and not os.environ.get("CI")


@click.command(cls=Command)
@click.argument("inputs", nargs=-1, required=True, metavar="INPUT...")
@click.option(
    "--out",
    "-o",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=str),
    help="Folder for <name>.schedule.yaml, summary.csv and summary.md (created).",
)
@click.option(
    "--time-limit",
    type=FloatRange(min=0, min_open=True),
    default=60.0,
    show_default=True,
    help="Seconds per scenario.",
)
@click.option(
    "--jobs",
    "-j",
    type=IntRange(1, WORKERS_MAX),
    default=None,
    help="Scenarios solved at once on this machine [default: one per core].",
)
@click.option(
    "--solver-workers",
    type=WORKERS,
    default=None,
    help="CP-SAT workers per solve [default: cores / jobs, at least 1].",
)
@click.option(
    "--scheduler",
    metavar="ADDRESS",
    default=None,
    help="Run on an existing Dask cluster, e.g. tcp://host:8786.",
)
@click.option(
    "--local-cluster",
    type=IntRange(1, WORKERS_MAX),
    default=None,
    metavar="N",
    help="Start a local Dask cluster of N single-thread worker processes.",
)
@click.option(
    "--retries",
    type=IntRange(min=0),
    default=1,
    show_default=True,
    help="Extra attempts for a scenario whose solve crashed.",
)
@click.option("--seed", type=SEED, default=0, show_default=True, help="Random seed of every solve.")
@friendly_errors
def batch(
    inputs: tuple[str, ...],
    out_dir: str,
    time_limit: float,
    jobs: int | None,
    solver_workers: int | None,
    scheduler: str | None,
    local_cluster: int | None,
    retries: int,
    seed: int,
) -> None:
    """Solve every scenario of INPUT... (files, folders, globs) into --out.

    Each schedule is written to OUT/<name>.schedule.yaml, with OUT/summary.csv and
    OUT/summary.md. A rerun skips every scenario whose schedule exists for the same file
    content and parameters, so an interrupted batch continues where it stopped.

    An invalid file or a crashed solve affects only its scenario (crashes are retried
    --retries times). Exit 0 when every scenario has a schedule, 1 when any failed or
    was invalid, 2 for bad usage (no such input, conflicting options, a scheduler that
    cannot be used). Hidden files (names starting with '.') in a folder are skipped.

    \b
    Examples:
      iop-roster batch scenarios/ --out runs/today --time-limit 60
      iop-roster batch 'plans/**/*.yaml' --out runs/what-if --jobs 2
      iop-roster batch plans/ --out runs/big --scheduler tcp://10.0.0.5:8786
      iop-roster batch plans/ --out runs/big --local-cluster 8
    """
    try:
        # The option types above already refuse what SolveParams would; this keeps a value
        # they let through a usage error too, found before any output folder is made.
        params = SolveParams(time_limit=time_limit, seed=seed, workers=solver_workers)
    except (TypeError, ValueError) as error:
        raise click.UsageError(str(error)) from None
    try:
        check_executor_options(jobs, scheduler, local_cluster, solver_workers)
        found = discover_inputs(inputs)
    except BatchUsageError as error:
        raise click.UsageError(str(error)) from None

    console = Console(stderr=True)

    def announce(executor: BatchExecutor) -> None:
        console.print(f"solving on {executor.label}", highlight=False, soft_wrap=True)

    try:
        if _use_bar(console):
            with BarReporter(console) as reporter:
                report = run_batch(
                    found,
                    out_dir,
                    params,
                    jobs=jobs,
                    scheduler=scheduler,
                    local_cluster=local_cluster,
                    retries=retries,
                    on_event=reporter,
                    on_executor=announce,
                )
        else:
            report = run_batch(
                found,
                out_dir,
                params,
                jobs=jobs,
                scheduler=scheduler,
                local_cluster=local_cluster,
                retries=retries,
                on_event=PlainReporter(),
                on_executor=announce,
            )
    except BatchUsageError as error:
        raise click.UsageError(str(error)) from None
    except KeyboardInterrupt:
        # (click would print only "Aborted!": say where the work is and how to go on.)
        if (Path(out_dir) / "summary.md").is_file():
            click.echo(f"interrupted; unfinished scenarios are 'not run' in {out_dir}/summary.md: "
                       "rerun the same command to continue")
        else:  # (QA: a Ctrl-C while the batch starts up, before its plan, pointed at no file)
            click.echo(f"interrupted before any summary was written in {out_dir}: "
                       "rerun the same command to start")
        sys.exit(130)

    counts = ", ".join(
        f"{report.count(outcome)} {outcome}"
        for outcome in ("solved", "skipped", "failed", "invalid", "not run")
        if report.count(outcome)
    )
    click.echo(f"{counts}; schedules and summary.md in {out_dir}")
    sys.exit(EXIT_OK if report.ok else EXIT_VIOLATIONS)


commands = [batch]
