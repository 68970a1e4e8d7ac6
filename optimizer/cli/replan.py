"""``iop-roster roll``: next week's roster from last week's, keeping cohorts and therapists."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import click

from models.io import load_schedule
from optimizer.cli.common import (
    DETERMINISTIC_HELP,
    SEED,
    TIME_LIMIT_HELP,
    WORKERS,
    Choice,
    Command,
    FloatRange,
    friendly_errors,
)
from optimizer.cli.solve import run
from optimizer.replan import ReplanRequest
from optimizer.result import SolveParams


@click.command(cls=Command)
@click.argument("scenario", type=click.Path(dir_okay=False, path_type=str))
@click.option("--previous", "previous_path", required=True, type=click.Path(dir_okay=False, path_type=str), help="Last week's schedule.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Schedule file to write (default: stdout).")
@click.option("--time-limit", type=FloatRange(min=0.1), default=30.0, show_default=True, help=TIME_LIMIT_HELP)
@click.option("--workers", type=WORKERS, default=None, help="CP-SAT workers [default: the machine's cores].")
@click.option("--seed", type=SEED, default=0, show_default=True, help="Random seed of the search.")
@click.option("--deterministic", is_flag=True, help=DETERMINISTIC_HELP)
@click.option("--format", "output_format", type=Choice(["yaml", "json"]), default=None, help="Output format.")
@click.option("--quiet", is_flag=True, help="No progress or summary on stderr.")
@friendly_errors
def roll(
    scenario: str,
    previous_path: str,
    output: Path | None,
    time_limit: float,
    workers: int | None,
    seed: int,
    deterministic: bool,
    output_format: Literal["yaml", "json"] | None,
    quiet: bool,
) -> None:
    """Solve next week's SCENARIO keeping last week's group cohorts and therapists.

    Keeping is a quality-level preference: it never costs clinical coverage or program
    minimums. Exit codes as for solve.

    \b
    Example:
      iop-roster roll next-week.yaml --previous this-week.schedule.yaml -o next.schedule.yaml
    """
    request = ReplanRequest(load_schedule(previous_path), None, frozenset(), "roll")
    params = SolveParams(time_limit=time_limit, workers=workers, seed=seed, deterministic=deterministic)
    run(scenario, output, params, output_format, None, quiet, request, {"the --previous schedule": previous_path})


commands = [roll]
