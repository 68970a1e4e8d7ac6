"""Property: any small valid scenario solves into a schedule the independent checker accepts.

Scenarios come from :func:`builders.random_scenario_data` (2-8 participants, 1-3
therapists, 1-3 group types, random windows in several time zones and DST weeks, states,
caps, avoid lists, appointments). For each, the checker must find no violation, and the
schedule's own figures (summary, unmet list, objective) must agree with the checker's
recomputation: ``report.warnings`` is empty. The solver also never does worse than the
greedy heuristic it starts from.
"""

from __future__ import annotations

from builders import random_scenario_data
from hypothesis import HealthCheck, given, settings

from models.io import dump_text, scenario_from_data
from optimizer.check import check
from optimizer.greedy import greedy_schedule
from optimizer.result import SolveParams
from optimizer.solve import solve

Raw = dict[str, object]


def _describe(raw: Raw) -> str:
    """The scenario as YAML, to reproduce a failure by hand."""
    return dump_text(raw, "yaml")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(random_scenario_data())
def test_any_scenario_solves_into_a_checked_schedule(raw: Raw) -> None:
    scenario = scenario_from_data(raw).scenario
    try:
        result = solve(scenario, SolveParams(time_limit=2.0, workers=1))
    except Exception as error:  # a crash is a finding too: show the scenario that causes it
        raise AssertionError(f"solve raised {error!r}\n--- scenario:\n{_describe(raw)}") from error
    assert result.schedule is not None, result.messages
    assert result.status.value in ("optimal", "feasible")
    report = check(scenario, result.schedule)
    problems = [f"rule {v.rule} {v.code}: {v.message}" for v in report.violations] + report.warnings
    assert not problems, f"{problems}\n--- scenario:\n{_describe(raw)}"
    assert result.objective == report.levels["coverage"]
    assert result.best_bound is not None and result.objective is not None
    assert result.objective <= result.best_bound <= report.levels["needed"]
    greedy = greedy_schedule(scenario)
    assert greedy.solver.objective is not None
    assert result.objective >= greedy.solver.objective, _describe(raw)
