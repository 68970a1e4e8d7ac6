"""Fixtures of the export tests: the two-states example and hand-made schedules."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from models.io import load_scenario, load_schedule
from models.scenario import Scenario
from models.schedule import Schedule

#: Copies of ``shared/examples/two-states*.yaml`` (the contract's whole example), byte for byte.
DATA = Path(__file__).resolve().parent / "data"
TWO_STATES = DATA / "two-states.yaml"
TWO_STATES_SCHEDULE = DATA / "two-states.schedule.yaml"


@pytest.fixture
def scenario() -> Scenario:
    """The two-states scenario: 7 adults in IL and NY, 2 therapists, week of 2026-11-30."""
    return load_scenario(TWO_STATES).scenario


@pytest.fixture
def schedule() -> Schedule:
    """Its schedule: S0001 mon process, S0002 tue relapse_prevention, S0003 tue individual
    (P0001), S0004 wed process, all with T01; P0002 unmet."""
    return load_schedule(TWO_STATES_SCHEDULE)


SessionDict = dict[str, object]


@pytest.fixture
def make_schedule() -> Callable[..., Schedule]:
    """Build a schedule from session dicts (``id``, ``kind`` and ``participants`` defaulted)."""

    def build(sessions: list[SessionDict], unmet: list[dict[str, object]] | None = None) -> Schedule:
        filled = []
        for index, session in enumerate(sessions, start=1):
            filled.append({"id": f"S{index:04d}", "kind": "group", "participants": [], **session})
        return Schedule.model_validate(
            {
                "format": "iop-schedule/1",
                "scenario": {"name": "Harbor Virtual IOP"},
                "solver": {"status": "feasible"},
                "sessions": filled,
                "unmet": unmet or [],
            }
        )

    return build
