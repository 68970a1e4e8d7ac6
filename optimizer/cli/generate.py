"""``iop-roster generate``: realistic seeded scenarios for tests, demos and benchmarks."""

from __future__ import annotations

import click

from models.io import check_writable_file, format_of, scenario_text, write_atomic
from optimizer.cli.common import (
    Choice,
    Command,
    IntRange,
    echo_out,
    friendly_errors,
    writing,
)
from optimizer.generate import SIZES, generate_scenario, scenario_figures


@click.command(cls=Command)
@click.option("--size", type=Choice(list(SIZES), case_sensitive=False), default="S", show_default=True,
              help="S about 40 participants, M 150, L 500, XL 2,000; harbor: 120 in NY, NJ and IL.")
@click.option("--seed", type=IntRange(min=0), default=1, show_default=True, help="Seed of the random draws.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True, path_type=str), default=None,
              help="Write here (YAML, or JSON for a .json name) instead of stdout.")
@friendly_errors
def generate(size: str, seed: int, output: str | None) -> None:
    """Generate a realistic scenario: the same SIZE and SEED always give the same file.

    Participants live in several states and time zones, on day, evening or after-school
    tracks, with substance-use, trauma and veteran tags, group needs and appointments of
    9-12 h a week (adults) or 6-9 h (adolescents), a primary therapist licensed in their
    state, a few avoid pairs and payer caps. Therapist hours are close to what the week
    needs, so the week is tight.

    \b
    Examples:
      iop-roster generate --size M --seed 3 -o scenarios/m-3.yaml
      iop-roster generate --size harbor --seed 1 > harbor.yaml
    """
    if output is not None:
        check_writable_file(output)  # before an XL week takes its seconds to draw
    scenario = generate_scenario(size, seed)
    if output is None:
        echo_out(scenario_text(scenario, "yaml"), nl=False)
        return
    with writing(output):
        write_atomic(output, scenario_text(scenario, format_of(output)))
    figures = scenario_figures(scenario)
    click.echo(
        f"{output}: {figures['participants']:g} participants ({figures['adolescents']:g} adolescents), "
        f"{figures['therapists']:g} therapists; needs {figures['needed_group_sessions']:g} group sessions "
        f"and {figures['needed_appointments']:g} appointments; therapist hours {figures['demand_hours']:g} "
        f"needed (groups at full size) vs {figures['supply_hours']:g} available",
        err=True,
    )


commands = [generate]
