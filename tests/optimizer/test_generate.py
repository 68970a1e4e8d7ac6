"""The scenario generator: valid, deterministic and realistic at every size."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models.clock import parse_window
from models.io import load_scenario, scenario_text
from models.scenario import Scenario
from models.validation import validate_scenario
from optimizer.check import check
from optimizer.cli import main
from optimizer.generate import STATE_TIMEZONES, GeneratorConfig, generate_scenario, scenario_figures
from optimizer.greedy import greedy_schedule

ROOT = Path(__file__).resolve().parents[2]

#: The expected people of each preset size: (participants, therapists).
EXPECTED = {"S": (40, 5), "M": (150, 14), "L": (500, 40), "harbor": (120, 12)}


@cache
def generated(size: str, seed: int = 1) -> Scenario:
    return generate_scenario(size, seed)


def assert_valid(scenario: Scenario) -> None:
    raw = scenario.model_dump(mode="json", exclude_defaults=True)
    parsed, errors, warnings = validate_scenario(raw)
    assert parsed is not None, [str(e) for e in errors]
    assert errors == []
    # Few warnings: the generator never asks for what cannot be given.
    assert len(warnings) <= max(1, len(scenario.participants) // 50), [str(w) for w in warnings]


def hours_of(scenario: Scenario) -> dict[str, float]:
    durations = {g.id: g.duration_minutes for g in scenario.group_types}
    return {
        p.id: (
            sum(durations[g] * n for g, n in p.needs.items())
            + sum(a.duration_minutes * a.count for a in p.appointments)
        ) / 60
        for p in scenario.participants
    }


@pytest.mark.parametrize("size", sorted(EXPECTED))
def test_every_size_validates_with_its_people(size: str) -> None:
    scenario = generated(size)
    assert_valid(scenario)
    participants, therapists = EXPECTED[size]
    assert len(scenario.participants) == participants
    assert len(scenario.therapists) == therapists


@pytest.mark.slow
def test_xl_validates() -> None:
    scenario = generate_scenario("XL", 1)
    assert_valid(scenario)
    assert len(scenario.participants) == 2000
    assert len(scenario.therapists) == 140
    assert len({p.timezone for p in scenario.participants}) >= 4
    figures = scenario_figures(scenario)
    assert figures["supply_hours"] >= 0.95 * figures["demand_hours"]


def test_same_seed_same_text_and_different_seeds_differ() -> None:
    first = scenario_text(generate_scenario("S", 7))
    assert scenario_text(generate_scenario("s", 7)) == first
    assert scenario_text(generate_scenario("S", 8)) != first


def test_text_does_not_depend_on_hash_randomisation() -> None:
    code = "from models.io import scenario_text; from optimizer.generate import generate_scenario; print(scenario_text(generate_scenario('S', 3)), end='')"
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True, cwd=ROOT)
    assert out.stdout == scenario_text(generate_scenario("S", 3))


def test_unknown_size_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown size 'XXL'"):
        generate_scenario("XXL", 1)


@pytest.mark.parametrize("size", ["S", "M", "harbor"])
def test_hours_of_needs_follow_the_level_of_care(size: str) -> None:
    scenario = generated(size)
    hours = hours_of(scenario)
    for person in scenario.participants:
        low, high = (9, 12) if person.population == "adult" else (6, 9)
        assert low <= hours[person.id] <= high, person.id
        assert person.hours_per_week.min == low
        assert person.hours_per_week.max == 19
        assert hours[person.id] >= person.hours_per_week.min


@pytest.mark.parametrize("size", ["S", "M", "L", "harbor"])
def test_primary_therapists_are_licensed_qualified_and_free(size: str) -> None:
    scenario = generated(size)
    for person in scenario.participants:
        named = [a for a in person.appointments if a.therapist is not None]
        assert [a.kind for a in named][:1] == ["individual"]
        if person.population == "adolescent":
            assert [a.kind for a in named] == ["individual", "family"]
            assert named[1].availability, "family sessions narrow the participant's windows"
        for appointment in named:
            therapist = scenario.therapist(appointment.therapist or "")
            assert person.state in therapist.licensed_states
            assert therapist.id not in person.avoid_therapists
            if person.population == "adolescent":
                assert "adolescent" in therapist.qualifications
        for appointment in person.appointments:
            if appointment.qualification is not None:
                assert appointment.kind == "medication"
                assert appointment.qualification == "prescriber"
                assert any(
                    "prescriber" in t.qualifications and person.state in t.licensed_states
                    for t in scenario.therapists
                )


@pytest.mark.parametrize("size", ["S", "M", "L", "harbor"])
def test_tracks_populations_and_tags(size: str) -> None:
    scenario = generated(size)
    tracks: set[str] = set()
    for person in scenario.participants:
        assert person.timezone == STATE_TIMEZONES[person.state]
        assert 3 <= len(person.availability) <= 5
        # One track window every day, and on a few days maybe one extra (lunch, early afternoon).
        every_day = set.intersection(*(set(windows) for windows in person.availability.values()))
        assert len(every_day) == 1
        assert all(len(windows) <= 2 for windows in person.availability.values())
        start, end = parse_window(every_day.pop())
        if person.population == "adolescent":
            assert start in (15 * 60, 15 * 60 + 30) and end in (19 * 60, 19 * 60 + 30), "after school"
            tracks.add("afterschool")
        elif end <= 13 * 60 + 30 and person.population == "adult":
            assert start in (8 * 60 + 30, 9 * 60)
            tracks.add("day")
        else:
            assert start in (16 * 60 + 30, 17 * 60) and end in (21 * 60, 21 * 60 + 30)
            tracks.add("evening")
        for group_id in person.needs:
            group = scenario.group_type(group_id)
            assert group.population == person.population
            assert set(group.requires_tags) <= set(person.tags)
    assert tracks == {"day", "evening", "afterschool"}
    populations = {p.population for p in scenario.participants}
    assert populations == {"adult", "adolescent"}
    tags = {tag for p in scenario.participants for tag in p.tags}
    assert {"sud", "trauma"} <= tags
    assert {p.priority for p in scenario.participants} >= {1, 2}
    assert sum(p.priority == 1 for p in scenario.participants) > len(scenario.participants) / 2


@pytest.mark.parametrize("size", ["S", "M", "L", "harbor"])
def test_therapists_groups_and_program(size: str) -> None:
    scenario = generated(size)
    for therapist in scenario.therapists:
        assert therapist.max_hours_per_week is not None and 25 <= therapist.max_hours_per_week <= 32
        assert 10 <= therapist.min_break_minutes <= 15
        assert therapist.max_sessions_per_day is not None
        assert therapist.timezone in STATE_TIMEZONES.values()
        assert therapist.availability
        assert therapist.name is None
    assert any(len(t.licensed_states) > 1 for t in scenario.therapists), "some hold compact licences"
    assert any("prescriber" in t.qualifications for t in scenario.therapists)
    for group in scenario.group_types:
        assert 60 <= group.duration_minutes <= 120
        assert 4 <= group.size.min <= 6 and 8 <= group.size.max <= 12
        assert group.start_times
    categories = {g.category for g in scenario.group_types}
    assert {"process", "psychoeducation", "skills"} <= categories
    assert scenario.program.max_concurrent_sessions is not None
    figures = scenario_figures(scenario)
    # Tight: therapist hours are within a small factor of what the week needs.
    assert figures["demand_hours"] <= figures["supply_hours"] <= 1.6 * figures["demand_hours"]


def test_larger_sizes_have_specialty_groups_caps_and_avoid_pairs() -> None:
    scenario = generated("M")
    ids = {g.id for g in scenario.group_types}
    assert {"relapse_prevention", "trauma_informed"} <= ids
    relapse = scenario.group_type("relapse_prevention")
    assert relapse.requires_tags == ["sud"] and relapse.requires_qualifications == ["sud"]
    assert any(p.max_group_size == 10 and "sud" in p.tags for p in scenario.participants)
    large = generated("L")
    assert any(p.avoid for p in large.participants)
    assert "veterans" in {g.id for g in large.group_types}
    assert len({p.timezone for p in large.participants}) >= 4


def test_harbor_preset_and_sample_file() -> None:
    scenario = generated("harbor")
    assert len({p.state for p in scenario.participants}) == 3
    assert 2 <= len({p.timezone for p in scenario.participants}) <= 3
    loaded = load_scenario(ROOT / "scenarios" / "harbor-week.yaml")
    assert loaded.scenario == scenario, "scenarios/harbor-week.yaml is the harbor preset, seed 1"


def test_custom_config() -> None:
    config = GeneratorConfig(name="Desert IOP", participants=30, therapists=4, states=(("AZ", 1.0),),
                             program_timezone="America/Phoenix")
    scenario = generate_scenario(config, 5)
    assert_valid(scenario)
    assert {p.state for p in scenario.participants} == {"AZ"}


def test_cli_writes_yaml_to_stdout_and_json_to_a_file(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["generate", "--size", "S", "--seed", "4"])
    assert result.exit_code == 0, result.output
    assert result.stdout == scenario_text(generate_scenario("S", 4))
    target = tmp_path / "s.json"
    result = runner.invoke(main, ["generate", "--size", "s", "--seed", "4", "-o", str(target)])
    assert result.exit_code == 0, result.output
    assert json.loads(target.read_text())["format"] == "iop-scenario/1"
    assert load_scenario(target).scenario == generate_scenario("S", 4)
    assert "40 participants" in result.stderr


_STATES = sorted(STATE_TIMEZONES)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**31 - 1),
    participants=st.integers(1, 80),
    therapists=st.integers(2, 8),
    states=st.lists(st.sampled_from(_STATES), min_size=1, max_size=4, unique=True),
    program_timezone=st.sampled_from(["America/New_York", "America/Chicago"]),
)
def test_any_generated_scenario_is_valid_and_its_greedy_schedule_passes_the_checker(
    seed: int, participants: int, therapists: int, states: list[str], program_timezone: str
) -> None:
    config = GeneratorConfig(
        name="Property IOP",
        participants=participants,
        therapists=therapists,
        states=tuple((state, 1.0 + index) for index, state in enumerate(states)),
        program_timezone=program_timezone,
    )
    scenario = generate_scenario(config, seed)
    raw = scenario.model_dump(mode="json", exclude_defaults=True)
    parsed, errors, warnings = validate_scenario(raw)
    assert parsed is not None and errors == []
    # Only a program given too few therapists may be warned about (demand over supply).
    assert [w for w in warnings if w.path] == [], [str(w) for w in warnings]
    report = check(scenario, greedy_schedule(scenario))
    assert report.ok, [v.message for v in report.violations]
