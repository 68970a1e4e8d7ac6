"""The schedule models (``models/schedule.py``): the solver block's documented additions."""

from __future__ import annotations

from typing import cast

from models.io import schedule_text
from models.schedule import Schedule, SolverAdditions, SolverInfo
from models.validation import validate_schedule


def _schedule(solver: dict[str, object]) -> dict[str, object]:
    return {"format": "iop-schedule/1", "scenario": {"name": "Test IOP"}, "solver": solver}


def test_additions_stay_extra_keys_and_absent_ones_are_not_written() -> None:
    # A hand-edited block: one addition, one key nobody documents.
    schedule, errors = validate_schedule(_schedule({"status": "feasible", "input_hash": "ab" * 32, "note": "by hand"}))
    assert errors == [] and schedule is not None
    assert schedule.solver.model_extra == {"input_hash": "ab" * 32, "note": "by hand"}  # batch reads it here
    # Written back as read: no ``null`` for the additions the file does not have.
    assert schedule.model_dump(mode="json")["solver"] == {
        "status": "feasible", "objective": None, "best_bound": None, "gap": None, "wall_seconds": None, "seed": None,
        "input_hash": "ab" * 32, "note": "by hand",
    }
    assert "time_limit" not in schedule_text(schedule)


def test_a_hand_edited_addition_of_another_type_still_loads() -> None:
    # The JSON Schema documents the optimizer's types; reading a file does not enforce them.
    edited = {"status": "feasible", "time_limit": "30 s", "workers": None, "levels": [1, 2]}
    schedule, errors = validate_schedule(_schedule(edited))
    assert errors == [] and schedule is not None
    assert cast("dict[str, object]", schedule.solver.model_extra)["time_limit"] == "30 s"


def test_additions_are_not_fields_of_the_solver_block() -> None:
    assert not set(SolverAdditions.model_fields) & set(SolverInfo.model_fields)
    assert set(Schedule.model_json_schema()["$defs"]["SolverInfo"]["properties"]) == (
        set(SolverInfo.model_fields) | set(SolverAdditions.model_fields)
    )


def test_an_appointment_is_written_without_a_group_type() -> None:
    # ``group_type`` is for group sessions only; the contract's example leaves it out of
    # appointments, and an explicit null could trip a strict consumer. It still reads back.
    from models.schedule import ScheduledSession

    appointment = ScheduledSession(id="S1", kind="individual", therapist="T1", day="mon", start="09:00", end="10:00", participants=["P1"])
    group = ScheduledSession(id="S2", kind="group", group_type="g", therapist="T1", day="mon", start="09:00", end="10:00")
    assert "group_type" not in appointment.model_dump(mode="json")
    assert group.model_dump(mode="json")["group_type"] == "g"
    assert ScheduledSession.model_validate(appointment.model_dump(mode="json")) == appointment
