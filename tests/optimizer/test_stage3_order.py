"""Stage 3 one level at a time, where the weighted sum of quality and cost would be too large
for CP-SAT (weights up to 1,000,000 are allowed; harbor-week was MODEL_INVALID at 40,000)."""

from __future__ import annotations

from pathlib import Path

import pytest

from models import load_scenario
from models.io import scenario_from_data
from optimizer import SolveParams, check, solve
from optimizer import model as model_module

SAMPLE = Path(__file__).resolve().parents[2] / "scenarios" / "demo.yaml"
PARAMS = SolveParams(time_limit=20, workers=2, seed=0, deterministic=True)


def test_levels_in_order_reach_what_the_weighted_sum_reaches(monkeypatch: pytest.MonkeyPatch) -> None:
    # demo.yaml's stage 3 is solved to optimality either way: quality first, then cost with
    # quality held, gives the same two values as one sum in which quality outweighs all cost.
    scenario = load_scenario(SAMPLE).scenario
    summed = solve(scenario, PARAMS)
    monkeypatch.setattr(model_module, "MAX_WEIGHTED_OBJECTIVE", 0)
    ordered = solve(scenario, PARAMS)
    assert ordered.schedule is not None and check(scenario, ordered.schedule).ok
    assert ordered.levels["coverage"] == summed.levels["coverage"]
    assert ordered.levels["quality"] == summed.levels["quality"]
    assert ordered.levels["cost"] == summed.levels["cost"]
    assert not any("stage 3 ended" in message for message in ordered.messages)


def test_the_largest_weights_allowed_still_get_a_stage_3() -> None:
    raw = load_scenario(SAMPLE).scenario.model_dump(mode="json")
    raw["objective"] = dict.fromkeys(raw["objective"], 1_000_000)
    scenario = scenario_from_data(raw).scenario
    result = solve(scenario, PARAMS)
    assert result.schedule is not None and check(scenario, result.schedule).ok
    assert not any("stage 3 ended" in message for message in result.messages), result.messages
    assert result.levels["quality"] > 0 and result.levels["cost"] > 0
