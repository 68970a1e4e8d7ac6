"""Fixtures shared by the tests of ``models/``: a small valid scenario as plain data."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path

import pytest

from models.errors import InvalidDocument
from models.io import scenario_from_data

#: The repository root (``tests/models/conftest.py`` -> ``.``).
REPO = Path(__file__).resolve().parents[2]
#: ``shared/examples`` beside the repository (the contract's whole example files).
SHARED_EXAMPLES = REPO / ".." / "shared" / "examples"

_VALID: dict[str, object] = {
    "format": "iop-scenario/1",
    "program": {
        "name": "Test IOP",
        "timezone": "America/New_York",
        "week_start": "2026-12-07",
        "days": ["mon", "tue", "wed", "thu", "fri"],
        "hours": "08:00-21:00",
        "slot_minutes": 30,
    },
    "group_types": [
        {
            "id": "process",
            "category": "process",
            "duration_minutes": 120,
            "size": {"min": 2, "max": 10},
            "population": "adult",
            "start_times": ["10:00", "18:00"],
            "requires_qualifications": ["group_facilitation"],
        },
        {
            "id": "relapse_prevention",
            "category": "relapse_prevention",
            "duration_minutes": 60,
            "size": {"min": 2, "max": 10},
            "population": "adult",
            "requires_qualifications": ["sud"],
            "requires_tags": ["sud"],
        },
    ],
    "therapists": [
        {
            "id": "T01",
            "licensed_states": ["NY", "IL"],
            "qualifications": ["group_facilitation", "sud"],
            "availability": {"mon": ["12:00-21:00"], "wed": ["12:00-21:00"]},
            "max_hours_per_week": 30,
        },
        {
            "id": "T02",
            "timezone": "America/Chicago",
            "licensed_states": ["IL"],
            "qualifications": ["group_facilitation", "prescriber"],
            "availability": {"tue": ["16:00-20:00"]},
        },
    ],
    "participants": [
        {
            "id": "P0001",
            "state": "NY",
            "population": "adult",
            "tags": ["sud"],
            "availability": {"mon": ["17:00-21:00"], "wed": ["17:00-21:00"]},
            "needs": {"process": 2, "relapse_prevention": 1},
            "hours_per_week": {"min": 5, "max": 19},
            "days_per_week": {"min": 2, "max": 4},
            "appointments": [{"kind": "individual", "therapist": "T01", "duration_minutes": 50}],
            "avoid": ["P0002"],
            "avoid_therapists": ["T02"],
        },
        {
            "id": "P0002",
            "state": "IL",
            "timezone": "America/Chicago",
            "population": "adult",
            "availability": {"mon": ["16:00-20:00"], "wed": ["16:00-20:00"]},
            "needs": {"process": 2},
            "appointments": [
                {"kind": "medication", "qualification": "prescriber", "duration_minutes": 30}
            ],
            "preferred_therapists": ["T01"],
        },
    ],
}


@pytest.fixture
def raw() -> dict[str, object]:
    """A fresh deep copy of a small valid scenario, as parsed data, to break in a test."""
    return copy.deepcopy(_VALID)


def problems_of(data: object) -> list[str]:
    """Every error of ``data`` as ``path: message`` lines (empty when it is valid)."""
    try:
        scenario_from_data(data)
    except InvalidDocument as error:
        return [str(issue) for issue in error.issues]
    return []


@pytest.fixture
def problems() -> Callable[[object], list[str]]:
    """:func:`problems_of`, as a fixture."""
    return problems_of
