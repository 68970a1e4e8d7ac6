"""The greedy heuristic: every schedule it builds obeys every rule; the solver never does worse."""

from __future__ import annotations

from pathlib import Path

import pytest
from builders import (
    SCENARIOS,
    checked,
    group_type,
    groups,
    make_scenario,
    participant,
    people,
    random_scenario_data,
    solve_checked,
    therapist,
)
from hypothesis import HealthCheck, given, settings

from models.io import load_scenario, scenario_from_data
from optimizer.greedy import greedy_schedule

Raw = dict[str, object]
FILES = sorted(SCENARIOS.glob("*.yaml"))  # two-states.yaml, the contract example, among them


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_greedy_passes_the_checker_on_the_samples(path: Path) -> None:
    scenario = load_scenario(path).scenario
    schedule = greedy_schedule(scenario)
    report = checked(scenario, schedule)
    assert schedule.solver.status == "feasible"
    assert schedule.solver.objective == report.levels["coverage"]
    assert schedule.sessions


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(random_scenario_data())
def test_greedy_passes_the_checker_on_random_scenarios(raw: Raw) -> None:
    scenario = scenario_from_data(raw).scenario
    schedule = greedy_schedule(scenario)
    report = checked(scenario, schedule)
    assert schedule.solver.objective == report.levels["coverage"]


def test_greedy_is_a_floor_the_solver_beats() -> None:
    # Size 2-2, one therapist, g at mon 10:00 and 14:00. A and B (priority 3) are free at
    # both; C (priority 2) only at 10:00, D (priority 2) only at 14:00. Greedy opens the
    # most valuable session first, 10:00 with A and B (3 + 3 = 6), after which D alone
    # cannot fill 14:00: 6. The optimum pairs C with one of A and B, D with the other: 5 + 5 = 10.
    scenario = make_scenario(
        group_types=[group_type(size=(2, 2), starts=["10:00", "14:00"])],
        therapists=[therapist()],
        participants=[
            participant("A", {"g": 1}, priority=3),
            participant("B", {"g": 1}, priority=3),
            participant("C", {"g": 1}, priority=2, availability={"mon": ["10:00-11:00"]}),
            participant("D", {"g": 1}, priority=2, availability={"mon": ["14:00-15:00"]}),
        ],
    )
    greedy = greedy_schedule(scenario)
    checked(scenario, greedy)
    assert greedy.solver.objective == 6
    result, schedule, _ = solve_checked(scenario)
    assert result.status.value == "optimal"
    assert result.objective == 10
    sessions = {s.start: set(s.participants) for s in groups(schedule)}
    assert "C" in sessions["10:00"] and "D" in sessions["14:00"]
    assert all(len(members & {"A", "B"}) == 1 for members in sessions.values())


def test_greedy_never_pads_a_group() -> None:
    # Size 3-3: P1 and P2 need g, P3 does not. Greedy must not seat P3 to reach three.
    scenario = make_scenario(
        group_types=[group_type(size=(3, 3))],
        therapists=[therapist()],
        participants=[*people("P", 2, {"g": 1}), participant("P3", {"g": 0})],
    )
    schedule = greedy_schedule(scenario)
    checked(scenario, schedule)
    assert groups(schedule) == []


def test_greedy_splits_and_respects_licensure() -> None:
    # N1, N2 in NY and J1, J2 in NJ need g (size 2-4); T1 sees NY only, T2 NJ only.
    scenario = make_scenario(
        group_types=[group_type(size=(2, 4))],
        therapists=[therapist("T1", states=["NY"]), therapist("T2", states=["NJ"])],
        participants=[*people("N", 2, {"g": 1}), *people("J", 2, {"g": 1}, state="NJ")],
    )
    schedule = greedy_schedule(scenario)
    checked(scenario, schedule)
    assert sorted((s.therapist, tuple(s.participants)) for s in groups(schedule)) == [("T1", ("N1", "N2")), ("T2", ("J1", "J2"))]
