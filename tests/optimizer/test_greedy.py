"""The greedy heuristic: every schedule it builds obeys every rule; the solver never does worse."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

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

import optimizer.greedy as greedy_module
from models.io import load_scenario, scenario_from_data
from models.scenario import Scenario
from optimizer.data import ProblemData, build_problem_data
from optimizer.greedy import (
    Solution,
    best_greedy_solution,
    greedy_schedule,
    greedy_solution,
    greedy_within,
    weighted_delivered,
)
from optimizer.schedule import build_schedule

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


# ------------------------------------------------------------------ deadline


def _sessions(solution: Solution) -> tuple[object, object]:
    return solution.groups, solution.appointments


def _checked_solution(scenario: Scenario, data: ProblemData, solution: Solution) -> None:
    schedule = build_schedule(data, solution, status="feasible")
    report = checked(scenario, schedule)
    assert report.levels["coverage"] == weighted_delivered(data, solution)


class _TickingClock:
    """Stands in for ``time`` in the greedy: each reading is one tick later, so a deadline of
    ``n`` cuts the greedy at its ``n``-th time check, the same place on every run."""

    def __init__(self) -> None:
        self.now = 0.0

    def perf_counter(self) -> float:
        self.now += 1.0
        return self.now


@pytest.fixture
def harbor_week() -> tuple[Scenario, ProblemData]:
    scenario = load_scenario(SCENARIOS / "harbor-week.yaml").scenario
    return scenario, build_problem_data(scenario)


def test_greedy_without_a_deadline_is_unchanged(harbor_week: tuple[Scenario, ProblemData]) -> None:
    # Pinned from the greedy before it took a deadline (harbor-week: 120 participants, so both
    # variants run): 73 group sessions, 93 appointments, 889 weighted.
    _, data = harbor_week
    solution, cut_short = greedy_within(data)
    assert not cut_short
    assert (weighted_delivered(data, solution), len(solution.groups), len(solution.appointments)) == (889, 73, 93)
    assert _sessions(best_greedy_solution(data)) == _sessions(solution)
    assert _sessions(best_greedy_solution(data, deadline=None)) == _sessions(solution)


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_a_far_deadline_changes_nothing(path: Path) -> None:
    data = build_problem_data(load_scenario(path).scenario)
    solution, cut_short = greedy_within(data, deadline=time.perf_counter() + 3600.0)
    assert not cut_short
    assert _sessions(solution) == _sessions(best_greedy_solution(data))


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_a_passed_deadline_books_nothing_and_says_so(path: Path) -> None:
    scenario = load_scenario(path).scenario
    data = build_problem_data(scenario)
    solution, cut_short = greedy_within(data, deadline=time.perf_counter() - 1.0)
    assert cut_short
    # The first time check comes before the first session is looked for.
    assert _sessions(solution) == ([], [])
    _checked_solution(scenario, data, solution)
    assert _sessions(best_greedy_solution(data, deadline=time.perf_counter() - 1.0)) == ([], [])


def test_a_greedy_cut_anywhere_passes_the_checker(harbor_week: tuple[Scenario, ProblemData], monkeypatch: pytest.MonkeyPatch) -> None:
    # Cut at every 7th time check, through the seed, both variants' group, top-up and
    # appointment phases: each partial schedule obeys every rule, and a later cut never
    # delivers less.
    scenario, data = harbor_week
    seed = greedy_solution(data)  # a schedule in force, kept whole unless cut
    clock = _TickingClock()
    monkeypatch.setattr(greedy_module, "time", clock)
    greedy_within(data, seed=seed, deadline=float("inf"))
    checks = int(clock.now)
    previous = -1
    for n in [*range(0, checks, 7), checks - 1]:
        clock.now = 0.0
        solution, cut_short = greedy_within(data, seed=seed, deadline=float(n))
        assert cut_short
        _checked_solution(scenario, data, solution)
        value = weighted_delivered(data, solution)
        assert value >= previous
        previous = value
    clock.now = 0.0
    solution, cut_short = greedy_within(data, seed=seed, deadline=float(checks + 1))
    assert not cut_short
    monkeypatch.undo()
    assert _sessions(solution) == _sessions(best_greedy_solution(data, seed=seed))


def test_a_first_variant_cut_short_is_returned_and_the_second_never_starts(
    harbor_week: tuple[Scenario, ProblemData], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The 50th time check falls in the groups-first variant's group phase.
    _, data = harbor_week
    first = greedy_solution(data)
    monkeypatch.setattr(greedy_module, "time", _TickingClock())
    variant = greedy_module._greedy_variant
    started: list[bool] = []

    def recorded(data: ProblemData, **kwargs: Any) -> Solution:
        started.append(kwargs["appointments_first"])
        return variant(data, **kwargs)

    monkeypatch.setattr(greedy_module, "_greedy_variant", recorded)
    solution, cut_short = greedy_within(data, deadline=50.0)
    assert cut_short
    assert started == [False]
    assert 0 < weighted_delivered(data, solution) < weighted_delivered(data, first)


def test_a_second_variant_cut_short_is_compared_as_usual(
    harbor_week: tuple[Scenario, ProblemData], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The groups-first variant finishes within the deadline; the appointments-first one is cut
    # after one appointment, so the first (worth more) is kept, exactly as it is.
    _, data = harbor_week
    first = greedy_solution(data)
    clock = _TickingClock()
    monkeypatch.setattr(greedy_module, "time", clock)
    greedy_module._greedy_variant(data, appointments_first=False, fixed=None, seed=None, clock=greedy_module._Deadline(float("inf")))
    first_checks = int(clock.now)
    clock.now = 0.0
    solution, cut_short = greedy_within(data, deadline=float(first_checks + 2))
    assert cut_short
    assert _sessions(solution) == _sessions(first)


@pytest.mark.parametrize("sample", ["demo.yaml", "harbor-week.yaml", "two-states.yaml"])
def test_the_vectorized_checks_agree_with_the_one_at_a_time_ones(sample: str) -> None:
    # The greedy checks many therapists of a candidate, and every option of an appointment,
    # at once (XL: 6.1 s -> 2.4 s, the same schedule); halfway through a greedy week each
    # answer equals the one-at-a-time check's.
    import numpy as np

    data = build_problem_data(load_scenario(Path(__file__).parents[2] / "scenarios" / sample).scenario)
    solution = greedy_module.best_greedy_solution(data)
    state = greedy_module._State(data)
    for k_index, i, members in solution.groups[: len(solution.groups) // 2]:
        k = data.candidates[k_index]
        state.book_therapist(int(k.therapists[i]), k.day, k.start, k.end)
        for p in members:
            state.book_participant(p, k.day, k.start, k.end)
    for s, option in solution.appointments[: len(solution.appointments) // 2]:
        state.book_participant(data.appointments[s].participant, option.day, option.start, option.end)
        state.book_therapist(option.therapist, option.day, option.start, option.end)
    for k in data.candidates:
        expected = [state.therapist_free(int(t), k.day, k.start, k.end) for t in k.therapists]
        assert state.therapists_free(k.therapists, k.day, k.start, k.end).tolist() == expected
    for spec in data.appointments:
        days, starts, ends = state.option_arrays(spec)
        expected = [state.participant_free(spec.participant, o.day, o.start, o.end) for o in spec.options]
        assert np.asarray(state.participant_free_at(spec.participant, days, starts, ends)).tolist() == expected


def test_greedy_hands_a_group_over_so_an_individual_session_fits() -> None:
    # Everyone (and T1) is free only mon 10:00-11:00 and 13:00-14:00; T2 only 13:00-14:00.
    # g at 10:00 wants A, B, C; h at 13:00 wants B, C; A needs one individual session with
    # T1, which can only go at 13:00 (A is in g at 10:00). The groups-first greedy opens g
    # and h with T1 (the first free therapist), so T1 is busy at 13:00: 3 + 2 = 5, no
    # individual session. Handing h over to T2 frees T1 at 13:00: 3 + 2 + 1 = 6, every need met.
    window = {"mon": ["10:00-11:00", "13:00-14:00"]}
    scenario = make_scenario(
        group_types=[
            group_type("g", size=(2, 3), starts=["10:00"]),
            group_type("h", size=(2, 3), starts=["13:00"]),
        ],
        therapists=[therapist("T1", availability=window), therapist("T2", availability={"mon": ["13:00-14:00"]})],
        participants=[
            participant("A", {"g": 1}, availability=window,
                        appointments=[{"kind": "individual", "therapist": "T1", "duration_minutes": 60, "count": 1}]),
            participant("B", {"g": 1, "h": 1}, availability=window),
            participant("C", {"g": 1, "h": 1}, availability=window),
        ],
    )
    data = build_problem_data(scenario)
    original = greedy_module._hand_over_groups
    try:
        greedy_module._hand_over_groups = lambda *args: None  # type: ignore[assignment]
        without = greedy_solution(data)
    finally:
        greedy_module._hand_over_groups = original
    assert weighted_delivered(data, without) == 5
    assert not without.appointments
    solution = greedy_solution(data)
    assert weighted_delivered(data, solution) == 6
    schedule = build_schedule(data, solution, status="feasible")
    checked(scenario, schedule)
    leaders = {(s.group_type, s.start): s.therapist for s in groups(schedule)}
    assert leaders == {("g", "10:00"): "T1", ("h", "13:00"): "T2"}
    (individual,) = [s for s in schedule.sessions if s.kind == "individual"]
    assert (individual.therapist, individual.day, individual.start) == ("T1", "mon", "13:00")
