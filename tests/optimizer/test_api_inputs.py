"""The Python API at the door: what solve() and check() accept, and how they refuse the rest.

Other software calls them with whatever it holds; a wrong object must be refused by name
(TypeError, or InvalidDocument with the field, id and rule), never fail deep in the model
builder with a KeyError or AttributeError.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from models import InvalidDocument, load_scenario
from optimizer import SolveParams, check, solve

SAMPLE = Path(__file__).resolve().parents[2] / "scenarios" / "two-states.yaml"
QUICK = SolveParams(time_limit=5, workers=1, seed=0)


@pytest.fixture(scope="module")
def loaded():
    return load_scenario(SAMPLE)


def test_a_loaded_scenario_is_taken_as_it_is_and_its_sha256_recorded(loaded) -> None:
    result = solve(loaded, QUICK)
    assert result.schedule is not None
    assert result.schedule.scenario.sha256 == loaded.sha256
    # The same for check: the loaded scenario, and the schedule as a parsed document.
    report = check(loaded, result.schedule.model_dump(mode="json"))
    assert report.ok, report.violations
    assert not any("sha256" in warning for warning in report.warnings)


def test_a_parsed_document_is_validated_and_solved(loaded) -> None:
    raw = loaded.scenario.model_dump(mode="json")
    result = solve(raw, QUICK)
    assert result.schedule is not None
    assert check(loaded.scenario, result.schedule).ok


@pytest.mark.parametrize("value", ["scenarios/two-states.yaml", None, 42, ["P0001"]])
def test_anything_else_is_a_type_error_that_says_what_is_expected(value: object) -> None:
    with pytest.raises(TypeError, match=r"solve\(\) takes a scenario"):
        solve(value, QUICK)  # type: ignore[arg-type]


def test_a_scenario_changed_without_validation_is_refused_with_the_rule(loaded) -> None:
    # model_copy(update=...) skips pydantic's validation: the group type does not exist.
    first = loaded.scenario.participants[0].model_copy(update={"needs": {"nosuchgroup": 2}})
    broken = loaded.scenario.model_copy(update={"participants": [first, *loaded.scenario.participants[1:]]})
    with pytest.raises(InvalidDocument) as caught:
        solve(broken, QUICK)
    text = str(caught.value)
    assert first.id in text and "needs" in text and "nosuchgroup" in text


def test_a_duplicated_participant_is_refused_not_scheduled_twice(loaded) -> None:
    twice = loaded.scenario.model_copy(update={"participants": [*loaded.scenario.participants, loaded.scenario.participants[0]]})
    with pytest.raises(InvalidDocument, match="duplicate id"):
        solve(twice, QUICK)
    with pytest.raises(InvalidDocument, match="duplicate id"):
        check(twice, {"format": "iop-schedule/1"})


def test_check_refuses_a_missing_schedule_by_name(loaded) -> None:
    with pytest.raises(TypeError, match=r"check\(\) takes a schedule"):
        check(loaded, None)  # type: ignore[arg-type]
    with pytest.raises(InvalidDocument):
        check(loaded, {"format": "iop-schedule/1", "sessions": "not a list"})


def test_solve_refuses_parameters_that_are_not_solve_params(loaded) -> None:
    with pytest.raises(TypeError, match="SolveParams"):
        solve(loaded, {"time_limit": 5})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("fields", "error", "text"),
    [
        ({"time_limit": -1}, ValueError, "time_limit"),
        ({"time_limit": 0}, ValueError, "time_limit"),
        ({"time_limit": math.nan}, ValueError, "time_limit"),
        ({"time_limit": math.inf}, ValueError, "time_limit"),
        ({"time_limit": "2"}, TypeError, "time_limit"),
        ({"relative_gap": -0.1}, ValueError, "relative_gap"),
        ({"relative_gap": math.nan}, ValueError, "relative_gap"),
        ({"workers": 0}, ValueError, "workers"),
        ({"workers": -3}, ValueError, "workers"),
        ({"workers": 2**40}, ValueError, "workers"),
        ({"workers": True}, TypeError, "workers"),
        ({"seed": 2**31}, ValueError, "seed"),
        ({"seed": -1}, ValueError, "seed"),
        ({"seed": 1.5}, TypeError, "seed"),
        ({"deterministic": "yes"}, TypeError, "deterministic"),
    ],
)
def test_solve_params_refuse_values_the_solver_cannot_take(fields: dict[str, object], error: type[Exception], text: str) -> None:
    with pytest.raises(error, match=f"SolveParams.{text}"):
        SolveParams(**fields)  # type: ignore[arg-type]


def test_the_readme_states_the_limits_solve_params_enforce() -> None:
    # Found by QA: the README said "a seed beyond 32 bits", but 2**31 is refused already.
    from optimizer.result import MAX_SEED, MAX_WORKERS

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert MAX_SEED == 2**31 - 1 and MAX_WORKERS == 1024
    assert "a seed outside 0 to 2**31 - 1" in readme
    assert "more than 1,024" in readme
    assert "beyond 32 bits" not in readme


def test_solve_params_take_the_edges() -> None:
    params = SolveParams(time_limit=0.01, relative_gap=0, workers=1, seed=2**31 - 1)
    assert params.seed == 2**31 - 1 and params.resolved_workers() == 1
    assert SolveParams(workers=None).resolved_workers() >= 1


def test_a_scenario_copied_with_plain_values_is_solved_as_validated(loaded) -> None:
    # QA 2026-11-28: the validated copy was thrown away and the unvalidated original used:
    # week_start as text gave a TypeError inside solve and check.
    program = loaded.scenario.program.model_copy(update={"week_start": "2026-11-30"})
    copied = loaded.scenario.model_copy(update={"program": program})
    result = solve(copied, QUICK)
    assert result.schedule is not None
    assert check(copied, result.schedule).ok


def test_check_validates_a_schedule_model_too(loaded) -> None:
    # QA 2026-11-28: a Schedule changed with model_copy(update=...) went in unvalidated (a bare
    # AttributeError), and a therapist that is no id was echoed in a violation.
    schedule = solve(loaded, QUICK).schedule
    assert schedule is not None
    session = schedule.sessions[0].model_copy(update={"therapist": "Jane Doe"})
    broken = schedule.model_copy(update={"sessions": [session, *schedule.sessions[1:]]})
    with pytest.raises(InvalidDocument) as caught:
        check(loaded, broken)
    assert "Jane Doe" not in str(caught.value) and "therapist" in str(caught.value)
    with pytest.raises(InvalidDocument):
        check(loaded, schedule.model_copy(update={"sessions": "not a list"}))


def test_explain_and_export_take_what_solve_takes_and_refuse_another_weeks_schedule(loaded, tmp_path: Path) -> None:
    # QA 2026-11-28: a LoadedScenario or a dict was an AttributeError; another week's schedule
    # was exported as this one's (the CLI exits 2 on it).
    pytest.importorskip("icalendar")
    from models.io import read_document
    from optimizer.explain import score_breakdown, unmet_reasons
    from optimizer.export import export_all

    schedule = solve(loaded, QUICK).schedule
    assert schedule is not None
    as_dict = read_document(SAMPLE)[0]
    assert unmet_reasons(loaded, schedule) == unmet_reasons(as_dict, schedule.model_dump(mode="json"))
    assert score_breakdown(as_dict, schedule).levels == score_breakdown(loaded.scenario, schedule).levels
    assert export_all(loaded, schedule, tmp_path / "ok")
    demo = load_scenario(SAMPLE.parent / "demo.yaml")
    other = solve(demo, QUICK).schedule
    with pytest.raises(InvalidDocument, match="is not a"):
        export_all(loaded, other, tmp_path / "other")
    assert not (tmp_path / "other").exists()


@pytest.mark.parametrize(("keyword", "value", "text"), [("stop", True, "stop as a threading.Event"), ("stop", object(), "stop as"),
                                                        ("on_progress", 5, "on_progress as a function")])
def test_stop_and_on_progress_are_checked_at_the_door(loaded, keyword: str, value: object, text: str) -> None:
    # QA 2026-11-28: stop=True failed in a watcher thread; on_progress=5 deep inside the solve.
    with pytest.raises(TypeError, match=text):
        solve(loaded, QUICK, **{keyword: value})  # type: ignore[arg-type]
