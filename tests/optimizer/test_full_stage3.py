"""Stage 3 over every schedule of equal coverage and minimums (``build_full_model``).

The assignment stage holds who attends what; on small weeks a full stage then lets
attendance, appointments and seats move, with levels 1 and 2 held, so quality and cost are
optimal over all schedules of the same coverage and minimums. Each case is hand-derived;
defaults are those of :mod:`builders` (program mon-fri 08:00-20:00 New York, group ``g`` 60
minutes, size 2-3, Monday 10:00).
"""

from __future__ import annotations

import importlib

import pytest
from builders import (
    appointments,
    every_day,
    group_type,
    groups,
    make_scenario,
    participant,
    people,
    solve_checked,
    therapist,
)

from models.io import load_scenario
from optimizer.result import SolveParams
from optimizer.solve import solve

solve_module = importlib.import_module("optimizer.solve")
DEMO = "scenarios/demo.yaml"


def test_one_full_group_instead_of_two_half_full_ones() -> None:
    # P1, P2 may come at 10:00 or 14:00, P3, P4 at 14:00 only; size 2-6, one therapist.
    # Coverage 4 either way: {P1,P2}@10 + {P3,P4}@14 (2 sessions, 2 h) or all four @14
    # (1 session, 1 h). Quality is equal (one therapist, busiest 60 vs 120 minutes: the one
    # session is better in quality too). Optimum: one session at 14:00 with all four.
    both = {"mon": ["10:00-11:00", "14:00-15:00"]}
    late = {"mon": ["14:00-15:00"]}
    result, schedule, _ = solve_checked(make_scenario(
        group_types=[group_type(size=(2, 6), starts=("10:00", "14:00"))],
        therapists=[therapist()],
        participants=[*people("P", 2, {"g": 1}, availability=both), participant("P3", {"g": 1}, availability=late),
                      participant("P4", {"g": 1}, availability=late)],
    ), time_limit=5.0)
    assert result.objective == 4
    assert [(s.start, sorted(s.participants)) for s in groups(schedule)] == [("14:00", ["P1", "P2", "P3", "P4"])]
    assert result.levels["cost"] == 60 + 60  # one session (60) and one therapist hour (60)


def test_continuity_chooses_the_days_one_therapist_works() -> None:
    # g on mon, tue and wed 10:00; T1 works mon and wed, T2 tue only. P1-P3 need 2 g.
    # Coverage 6 on any two of the three days. Mon + wed keeps each with T1 (continuity 0);
    # any plan with tue gives each participant a second therapist (3 x 3 x 60 = 540).
    # Balance: mon + wed puts 120 minutes on T1; mon + tue would put 60 on each, but
    # continuity (540) outweighs balance (60). Optimum: mon and wed with T1.
    result, schedule, report = solve_checked(make_scenario(
        group_types=[group_type(days=("mon", "tue", "wed"))],
        therapists=[therapist("T1", availability=every_day(days=("mon", "wed"))),
                    therapist("T2", availability=every_day(days=("tue",)))],
        participants=people("P", 3, {"g": 2}),
    ), time_limit=5.0)
    assert result.objective == 6
    assert sorted((s.day, s.therapist) for s in groups(schedule)) == [("mon", "T1"), ("wed", "T1")]
    assert report.levels["continuity_extra_therapists"] == 0


def test_appointments_by_qualification_go_to_the_preferred_therapist() -> None:
    # T1 and T2 both hold ``ind``; P1, P2 prefer T2, P3, P4 prefer T1; one 60-minute
    # individual each, by qualification, Monday only. Coverage 4 in any plan; every
    # appointment can be with the preferred therapist (two each, no overlap needed):
    # non-preferred 0, busiest 120 minutes.
    appointment = [{"kind": "individual", "qualification": "ind", "duration_minutes": 60}]
    monday = every_day(days=("mon",))
    result, schedule, report = solve_checked(make_scenario(
        therapists=[therapist("T1", qualifications=["ind"], availability=monday),
                    therapist("T2", qualifications=["ind"], availability=monday)],
        participants=[*people("P", 2, {}, appointments=appointment, preferred_therapists=["T2"], availability=monday),
                      *people("Q", 2, {}, appointments=appointment, preferred_therapists=["T1"], availability=monday)],
    ), time_limit=5.0)
    assert result.objective == 4
    assert sorted((s.participants[0], s.therapist) for s in appointments(schedule)) == [
        ("P1", "T2"), ("P2", "T2"), ("Q1", "T1"), ("Q2", "T1")]
    assert report.levels["non_preferred_sessions"] == 0
    assert result.levels["quality"] == 120  # balance alone: the busiest leads 120 minutes


def test_full_stage_never_trades_coverage_or_minimums() -> None:
    # The demo week at a short limit, with and without the full stage: level 1 and 2 are
    # what stages 1 and 2 found in both, and the full stage's quality and cost are no worse.
    scenario = load_scenario(DEMO).scenario
    params = SolveParams(time_limit=6.0, workers=1, seed=0, deterministic=True)
    with_full = solve(scenario, params)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(solve_module, "_FULL_STAGE3_MAX_SEATS", -1)
        without = solve(scenario, params)
    assert with_full.levels["coverage"] == without.levels["coverage"]
    assert with_full.levels["minimums"] <= without.levels["minimums"]
    assert (with_full.levels["quality"], with_full.levels["cost"]) <= (without.levels["quality"], without.levels["cost"])


def test_a_gap_limit_is_not_a_proof() -> None:
    # With --gap 0.5 CP-SAT stops as soon as it is within 50% and calls that OPTIMAL; the
    # demo's optimum is 144, so a schedule stopped short must be "feasible" with a bound at
    # or above its objective, never "optimal" with a bound below it.
    scenario = load_scenario(DEMO).scenario
    result = solve(scenario, SolveParams(time_limit=10.0, workers=1, seed=0, relative_gap=0.5, deterministic=True))
    assert result.objective is not None and result.best_bound is not None
    assert result.best_bound >= result.objective
    assert result.levels["coverage"] == result.objective
    if result.status.value == "optimal":
        assert result.objective == result.best_bound == 144
    else:
        assert result.status.value == "feasible" and result.gap is not None and result.gap > 0


def test_progress_of_the_full_stage_counts_its_own_sessions() -> None:
    # The case above: the assignment stage holds {P1,P2}@10 + {P3,P4}@14 or all four at
    # 14:00; the full stage ends with one session of four. Its progress reports count the
    # sessions and seats of each of its own solutions, not of the schedule it started from
    # (the CLI printed "sessions 43" and then a summary of 40 sessions on demo.yaml).
    both = {"mon": ["10:00-11:00", "14:00-15:00"]}
    late = {"mon": ["14:00-15:00"]}
    scenario = make_scenario(
        group_types=[group_type(size=(2, 6), starts=("10:00", "14:00"))],
        therapists=[therapist()],
        participants=[*people("P", 2, {"g": 1}, availability=both), participant("P3", {"g": 1}, availability=late),
                      participant("P4", {"g": 1}, availability=late)],
    )
    reports = []
    outcome = solve(scenario, SolveParams(time_limit=5.0, workers=1), on_progress=reports.append)
    assert outcome.schedule is not None
    quality = [r for r in reports if r.stage == "quality"]
    assert quality, "the full stage reports its solutions"
    assert (quality[-1].sessions, quality[-1].delivered) == (len(outcome.schedule.sessions), 4) == (1, 4)


def test_the_full_model_stops_building_at_its_deadline() -> None:
    # The full stage gets at most half of the time left for its build; a deadline already
    # passed stops the build (the solve then keeps the schedule so far).
    from optimizer.data import build_problem_data
    from optimizer.model import BuildOutOfTime, Deadline, build_full_model

    data = build_problem_data(load_scenario(DEMO).scenario)
    with pytest.raises(BuildOutOfTime):
        build_full_model(data, 0, 10**9, Deadline(0.0))
    assert build_full_model(data, 0, 10**9).seats  # (no deadline: built)
