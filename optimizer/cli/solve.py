"""``iop-roster solve``: scenario in, schedule out, with live progress and a summary."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Literal

import click
from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from models.errors import OutputError
from models.io import (
    LoadedScenario,
    check_writable_file,
    check_writable_folder,
    load_scenario,
    load_schedule,
    save_schedule,
    schedule_text,
)
from models.schedule import Schedule
from optimizer.cli.common import (
    DETERMINISTIC_HELP,
    EXIT_NO_SCHEDULE,
    EXIT_OK,
    SEED,
    SHOWN_ISSUES,
    TIME_LIMIT_HELP,
    WORKERS,
    Choice,
    Command,
    FloatRange,
    SessionId,
    echo_out,
    friendly_errors,
    print_issues,
    refuse_overwriting_inputs,
    writing,
)
from optimizer.export import DEFAULT_NAMES
from optimizer.interrupt import first_ctrl_c_noted
from optimizer.replan import ReplanRequest
from optimizer.result import Progress, Result, SolveParams


class ProgressPrinter:
    """Progress on stderr: a live line on a terminal, a throttled plain line in a log file.

    In a log, a report within ``interval`` seconds of the last printed one is held back, not
    printed, so that a search improving many times a second does not flood the log; the
    latest held report is printed by the next report after the interval or by :meth:`close`,
    so the log's last progress line is the state the solve ended in. On a terminal, every
    report replaces the live line (a :class:`rich.live.Live`, which redraws a line wrapped on
    a narrow terminal in place); :meth:`close` leaves the last one on screen.
    """

    def __init__(self, console: Console, interval: float = 5.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.console = console
        self.live = console.is_terminal
        self.interval = interval
        self.clock = clock
        self.last: float | None = None
        self.held: Progress | None = None
        self.display: Live | None = None

    def __call__(self, progress: Progress) -> None:
        if self.live:
            if self.display is None:
                # stdout may carry the schedule: only stderr (this console) is redirected.
                self.display = Live(console=self.console, auto_refresh=False, redirect_stdout=False)
                self.display.start()
            self.display.update(Text(self.line(progress)), refresh=True)
            return
        now = self.clock()
        if self.last is not None and now - self.last < self.interval:
            self.held = progress
            return
        self.last, self.held = now, None
        self.console.print(self.line(progress), highlight=False)

    def close(self) -> None:
        """End the display before the summary: print a held-back report, end the live line."""
        if self.held is not None:
            self.console.print(self.line(self.held), highlight=False)
            self.held = None
        if self.display is not None:
            self.display.stop()
            self.display = None

    @staticmethod
    def line(progress: Progress) -> str:
        """One report as a line: elapsed time, stage, objective, bound, gap, sessions, coverage."""
        gap = f"{progress.gap:.2%}" if progress.gap is not None else "-"
        bound = f"{progress.best_bound:g}" if progress.best_bound is not None else "-"
        objective = f"{progress.objective:g}" if progress.objective is not None else "-"
        coverage = f"{progress.delivered}/{progress.needed}"
        return (
            f"[{progress.elapsed:6.1f}s] stage {progress.stage:<9} objective {objective:>7} bound {bound:>7} "
            f"gap {gap:>7}  sessions {progress.sessions:>4}  delivered {coverage}"
        )


def summary_tables(loaded: LoadedScenario, schedule: Schedule) -> list[Table]:
    """Coverage by need and therapist utilisation, as rich tables (figures from the export timeline)."""
    from optimizer.export.timeline import coverage, utilisation

    coverage_table = Table(title="Coverage by need")
    for column in ("need", "delivered", "needed", "coverage"):
        coverage_table.add_column(column, justify="right" if column != "need" else "left")
    for row in coverage(loaded.scenario, schedule):
        coverage_table.add_row(row.shown_key, str(row.delivered), str(row.needed), f"{row.share:.0%}")
    load = Table(title="Therapist utilisation")
    for column in ("therapist", "sessions", "hours", "available hours", "utilisation"):
        load.add_column(column, justify="right" if column != "therapist" else "left")
    for used in utilisation(loaded.scenario, schedule):
        load.add_row(used.therapist, str(used.sessions), f"{used.scheduled_hours:.1f}", f"{used.available_hours:g}", f"{used.share:.0%}")
    return [coverage_table, load]


def print_result(console: Console, loaded: LoadedScenario, result: Result) -> None:
    """The closing summary of a solve, on stderr."""
    schedule = result.schedule
    assert schedule is not None
    for table in summary_tables(loaded, schedule):
        console.print(table)
    summary = schedule.summary
    gap = f"{result.gap:.2%}" if result.gap is not None else "-"
    console.print(
        f"status {result.status.value}: objective {result.objective:g}, bound {result.best_bound:g}, gap {gap}; "
        f"{summary.get('sessions')} sessions, {len(schedule.unmet)} unmet need(s) "
        f"(weighted {summary.get('weighted_unmet')}); model built in {result.build_seconds:.2f}s, "
        f"solved in {result.wall_seconds:.1f}s with seed {result.seed}",
        highlight=False,
    )
    for message in result.messages:
        console.print(f"note: {message}", highlight=False)


@click.command(cls=Command)
@click.argument("scenario", type=click.Path(dir_okay=False, path_type=str))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Schedule file to write (default: stdout).")
@click.option("--time-limit", type=FloatRange(min=0.1), default=30.0, show_default=True, help=TIME_LIMIT_HELP)
@click.option("--gap", "relative_gap", type=FloatRange(min=0.0, max=1.0), default=0.0, show_default=True, help="Stop once within this relative gap of the bound.")
@click.option("--workers", type=WORKERS, default=None, help="CP-SAT workers [default: the machine's cores].")
@click.option("--seed", type=SEED, default=0, show_default=True, help="Random seed of the search.")
@click.option("--deterministic", is_flag=True, help=DETERMINISTIC_HELP)
@click.option("--format", "output_format", type=Choice(["yaml", "json"]), default=None, help="Output format [default: from -o's extension, else yaml].")
@click.option("--export", "export_dir", type=click.Path(file_okay=False, path_type=Path), default=None, help="Also write calendars, CSV, XLSX and HTML here.")
@click.option("--from", "current_path", type=click.Path(dir_okay=False, path_type=str), default=None,
              help="Re-plan from this schedule in force, moving as few people as possible.")
@click.option("--lock-through", type=Choice(["mon", "tue", "wed", "thu", "fri", "sat", "sun"]), default=None,
              help="With --from: hold sessions on this day and before exactly (they happened).")
@click.option("--lock", "locked", multiple=True, type=SessionId(), metavar="SESSION_ID", help="With --from: hold this session exactly (repeatable).")
@click.option("--quiet", is_flag=True, help="No progress or summary on stderr.")
@friendly_errors
def solve(
    scenario: str,
    output: Path | None,
    time_limit: float,
    relative_gap: float,
    workers: int | None,
    seed: int,
    deterministic: bool,
    output_format: Literal["yaml", "json"] | None,
    export_dir: Path | None,
    current_path: str | None,
    lock_through: str | None,
    locked: tuple[str, ...],
    quiet: bool,
) -> None:
    """Solve SCENARIO into the best weekly schedule the time allows.

    Progress goes to stderr (a live line on a terminal, a line every few seconds in a log),
    the schedule to -o or stdout. Exit 0 schedule written, 2 invalid input, 3 no schedule.
    Ctrl-C stops the search and writes the best schedule found so far (a second one aborts).

    \b
    Examples:
      iop-roster solve scenarios/demo.yaml -o demo.schedule.yaml
      iop-roster solve scenarios/harbor-week.yaml --time-limit 60 --workers 2 -o week.yaml
      iop-roster solve scenarios/demo.yaml --deterministic --seed 7 --format json > s.json
      iop-roster solve week.yaml --from current.schedule.yaml --lock-through tue -o new.yaml
    """
    if current_path is None and (lock_through or locked):
        raise click.UsageError("--lock-through and --lock need --from CURRENT_SCHEDULE")
    replan = None
    if current_path is not None:
        current = load_schedule(current_path)
        known = {session.id for session in current.sessions}
        unknown = sorted(set(locked) - known)
        if unknown:
            # Ids only: SessionId refused anything else while parsing.
            raise click.BadParameter(
                f"no session with id {', '.join(unknown)} in the --from schedule",
                click.get_current_context(),
                param_hint="'--lock'",
            )
        replan = ReplanRequest(current, lock_through, frozenset(locked), "replan")
    run(scenario, output, SolveParams(time_limit=time_limit, relative_gap=relative_gap, workers=workers, seed=seed, deterministic=deterministic),
        output_format, export_dir, quiet, replan, {"the --from schedule": current_path})


def check_outputs(output: Path | None, export_dir: Path | None, inputs: Mapping[str, str | None]) -> None:
    """Before solving: no output replaces an input, and every output can be written.

    Raises a usage error (exit 2) or :class:`models.errors.OutputError` (exit 2), so
    that a typo in a path does not cost the solve's time limit.
    """
    targets: list[tuple[str, Path]] = []
    if output is not None:
        targets.append(("-o", output))
    exported = [] if export_dir is None else [export_dir, *(export_dir / name for name in DEFAULT_NAMES.values())]
    targets += [("--export", path) for path in exported]
    refuse_overwriting_inputs(targets, inputs)
    if output is not None:
        refuse_overwriting_inputs([("--export", path) for path in exported], {"the -o schedule": output})
    if output is not None:
        check_writable_file(output)
    if export_dir is not None:
        check_writable_folder(export_dir)


def run(
    scenario: str,
    output: Path | None,
    params: SolveParams,
    output_format: Literal["yaml", "json"] | None,
    export_dir: Path | None,
    quiet: bool,
    replan: ReplanRequest | None = None,
    other_inputs: Mapping[str, str | None] | None = None,
) -> None:
    """Solve (or re-plan), write the schedule, print the summary; shared by solve and roll.

    ``other_inputs`` labels the files read besides the scenario (``--from``, ``--previous``):
    no output may replace one.
    """
    from optimizer.solve import solve as run_solve

    check_outputs(output, export_dir, {"the scenario": scenario, **(other_inputs or {})})

    console = Console(stderr=True, quiet=quiet, width=None if sys.stderr.isatty() else 120)
    loaded = load_scenario(scenario)
    print_issues(loaded.warnings, limit=SHOWN_ISSUES) if not quiet else None
    if replan is not None and replan.current.scenario.name != loaded.scenario.program.name and not quiet:
        # (Names are display text: neither is echoed.)
        label, path = next(iter((other_inputs or {"the schedule": None}).items()))
        console.print(f"warning: {label}{f' {path}' if path else ''} was written for a program of another name than "
                      f"{scenario}'s: is it the right file?", markup=False, highlight=False)
    printer = ProgressPrinter(console)
    try:
        # Ctrl-C stops the search; the best schedule found so far is written (a second one aborts).
        with first_ctrl_c_noted() as stop:
            result = run_solve(loaded.scenario, params, on_progress=printer, stop=stop, scenario_sha256=loaded.sha256,
                               replan=replan)
    finally:
        printer.close()
    if stop.is_set():
        # (On stderr even with --quiet: the schedule is not what the time limit would give.)
        click.echo("interrupted (Ctrl-C): the search was stopped; the best schedule found so far is written", err=True)
    if result.schedule is None:
        click.echo(f"no schedule: status {result.status.value}", err=True)
        for message in result.messages:
            click.echo(f"  {message}", err=True)
        sys.exit(EXIT_NO_SCHEDULE)
    fmt: Literal["yaml", "json"] = output_format or ("json" if output and output.suffix.lower() == ".json" else "yaml")
    if output is not None:
        with writing(output):
            save_schedule(result.schedule, output, fmt)
    else:
        echo_out(schedule_text(result.schedule, fmt), nl=False)
    print_result(console, loaded, result)
    changes = getattr(result.schedule, "changes", None)
    if isinstance(changes, dict):
        console.print(
            f"changes against the schedule in force: {changes.get('moved_person_sessions')} of "
            f"{changes.get('person_sessions_before')} person-sessions moved "
            f"({float(changes.get('moved_share', 0.0)):.1%}), {len(changes.get('moved_participants', []))} participant(s) moved; "
            f"sessions opened {changes.get('opened')}, closed {changes.get('closed')}, changed {changes.get('changed')}",
            highlight=False,
        )
    if export_dir is not None:
        from optimizer.export import export_all

        try:
            with writing(export_dir):
                written = export_all(loaded.scenario, result.schedule, export_dir)
        except OutputError:
            if output is not None:
                click.echo(f"the schedule was written to {output}; the export was not", err=True)
            raise
        console.print(f"exported {len(written)} file(s) to {export_dir}", highlight=False)
    if output is not None:
        console.print(f"schedule written to {output}", highlight=False)
    sys.exit(EXIT_OK)


commands = [solve]
