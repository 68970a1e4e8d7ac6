"""``iop-roster explain``: why needs went unmet, what each rule cost, what would fix it."""

from __future__ import annotations

import json
import sys
from typing import Literal

import click

from models.io import load_scenario, load_schedule
from models.scenario import quote
from optimizer.cli.common import (
    EXIT_OK,
    SEED,
    SHOWN_ISSUES,
    WORKERS,
    Choice,
    Command,
    FloatRange,
    IntRange,
    echo_out,
    friendly_errors,
    print_issues,
    require_references,
)
from optimizer.explain import Explanation
from optimizer.explain import explain as run_explain
from optimizer.reasons import REASON_TITLES
from optimizer.result import SolveParams

_SHOWN_PER_GROUP = 12  # unmet needs printed under one reason before "... and N more"
_SHOWN_ITEMS = 6  # items printed under one soft family


def explanation_text(explanation: Explanation, *, top: int = 3, verbose: bool = False) -> str:
    """The plain-text report of an :class:`optimizer.explain.Explanation`."""
    lines: list[str] = []
    unmet = explanation.unmet
    weighted = sum(n.priority * n.missing for n in unmet)
    lines.append(f"Unmet needs: {len(unmet)} ({sum(n.missing for n in unmet)} session(s), priority-weighted {weighted})")
    for code, needs in explanation.by_reason().items():
        lines.append("")
        lines.append(f"  {REASON_TITLES[code]} [{code}]: {len(needs)}")
        shown = needs if verbose else needs[:_SHOWN_PER_GROUP]
        for need in shown:
            lines.append(f"    {need.participant} {quote(need.need, bare=True)} x{need.missing} (priority {need.priority})")
            for reason in need.reasons if verbose else need.reasons[:2]:
                lines.append(f"      - {reason.text}")
        if len(shown) < len(needs):
            lines.append(f"    ... and {len(needs) - len(shown)} more (--verbose lists all)")

    breakdown = explanation.breakdown
    lines.append("")
    lines.append("Score breakdown")
    lines.append(
        f"  level 1 coverage: {breakdown.coverage:g} of {breakdown.needed:g} priority-weighted sessions"
        f"   level 2 minimums: {breakdown.levels['minimums']:g}   level 3 quality: {breakdown.levels['quality']:g}"
        f"   level 4 cost: {breakdown.levels['cost']:g}"
    )
    if breakdown.hard_violations:
        lines.append(f"  note: the schedule breaks {breakdown.hard_violations} hard rule(s); run iop-roster check")
    for family in breakdown.families:
        lines.append(
            f"  [{family.level}] {family.name}: {family.quantity:g} {family.unit} x weight {family.weight} = {family.penalty:g}"
        )
        items = family.items if verbose else family.items[:_SHOWN_ITEMS]
        for item in items:
            lines.append(f"      {item}")
        if len(items) < len(family.items):
            lines.append(f"      ... and {len(family.items) - len(items)} more")

    report = explanation.suggestions
    if report is not None:
        lines.append("")
        params = report.params
        baseline = f"baseline objective {report.baseline_objective:g}"
        if report.start_objective is not None:
            baseline += f": the unchanged week re-solved the same way, from {report.start_objective:g}"
        lines.append(
            f"Suggestions (each measured by a re-solve: time limit {params.time_limit:g} s, seed {params.seed}, "
            f"{'deterministic' if params.deterministic else 'not deterministic'}, "
            f"{'from the baseline schedule' if report.warm_start else 'from scratch'}; {baseline})"
        )
        best = report.top(top)
        if not best:
            lines.append("  no single change tried gained a session")
        for rank, suggestion in enumerate(best, start=1):
            lines.append(
                f"  {rank}. +{suggestion.gain:g} priority-weighted ({suggestion.sessions_gained:+d} sessions): "
                f"{suggestion.change.description}"
            )
            if suggestion.served:
                served = ", ".join(suggestion.served[:8]) + (f" and {len(suggestion.served) - 8} more" if len(suggestion.served) > 8 else "")
                lines.append(f"     serves {served}")
        others = [s for s in report.tried if s not in best]
        if others:
            lines.append("  also tried: " + "; ".join(f"{s.change.description} ({s.gain:+g})" for s in others))
        for note in report.notes:
            lines.append(f"  note: {note}")
    return "\n".join(lines) + "\n"


@click.command(cls=Command)
@click.argument("scenario", type=click.Path(dir_okay=False, path_type=str))
@click.argument("schedule", type=click.Path(dir_okay=False, path_type=str))
@click.option("--suggest", "with_suggestions", is_flag=True, help="Measure what-if changes by re-solving (takes up to --time-limit).")
@click.option("--time-limit", type=FloatRange(min=1.0), default=120.0, show_default=True, help="Wall seconds for all suggestion solves, the baseline included.")
@click.option("--solve-time", type=FloatRange(min=0.5), default=5.0, show_default=True, help="Time limit of each re-solve (deterministic time).")
@click.option("--trials", type=IntRange(min=1), default=6, show_default=True, help="The most changes re-solved.")
@click.option("--top", type=IntRange(min=1), default=3, show_default=True, help="Suggestions shown.")
@click.option("--workers", type=WORKERS, default=None, help="CP-SAT workers of each re-solve [default: the machine's cores].")
@click.option("--seed", type=SEED, default=0, show_default=True, help="Random seed of every re-solve.")
@click.option("--format", "output_format", type=Choice(["text", "json"]), default="text", show_default=True, help="Plain text for people, JSON for software.")
@click.option("--verbose", is_flag=True, help="List every unmet need, reason and item.")
@click.option("--quiet", is_flag=True, help="No progress of the suggestion solves on stderr.")
@click.option("--warm", is_flag=True, help="Solve each changed week, and the unchanged one, from the baseline schedule (less noisy; one more solve).")
@friendly_errors
def explain(
    scenario: str,
    schedule: str,
    with_suggestions: bool,
    time_limit: float,
    solve_time: float,
    trials: int,
    top: int,
    workers: int | None,
    seed: int,
    output_format: Literal["text", "json"],
    verbose: bool,
    quiet: bool,
    warm: bool,
) -> None:
    """Explain SCHEDULE of SCENARIO: unmet needs by reason, the score breakdown, suggestions.

    Reasons and the breakdown are computed from the scenario and the sessions as written,
    so a hand-edited schedule is explained as well as a solved one. With --suggest, single
    changes to the scenario (one more start time, a longer therapist window, one more
    licensed state, a larger group) are each re-solved with the same deterministic
    parameters and ranked by the priority-weighted sessions they gain.
    Exit 0 explained, 2 invalid input.

    \b
    Examples:
      iop-roster explain scenarios/demo.yaml demo.schedule.yaml
      iop-roster explain scenarios/harbor-week.yaml week.yaml --suggest --time-limit 300 --workers 2
      iop-roster explain scenarios/demo.yaml demo.schedule.yaml --format json > why.json
    """
    loaded = load_scenario(scenario)
    print_issues(loaded.warnings, limit=SHOWN_ISSUES)
    plan = load_schedule(schedule)
    # The reasons and the breakdown look ids up in the scenario: an id it lacks would be
    # silently left out ("Unmet needs: 0"), so the pair is refused as export and diff refuse it.
    require_references(loaded.scenario, plan, schedule)
    params = SolveParams(time_limit=solve_time, workers=workers, seed=seed, deterministic=True) if with_suggestions else None
    def progress(line: str) -> None:
        if not quiet:
            click.echo(f"[explain] {line}", err=True)

    explanation = run_explain(
        loaded.scenario, plan, suggest_params=params, time_budget=time_limit, max_trials=trials, progress=progress,
        warm_start=warm,
    )
    if output_format == "json":
        echo_out(json.dumps(explanation.to_dict(top), indent=2, ensure_ascii=False))
    else:
        echo_out(explanation_text(explanation, top=top, verbose=verbose), nl=False)
    sys.exit(EXIT_OK)


commands = [explain]
