"""The language of the domain: scenario and schedule models, validation, the time model.

No solver code lives here. See ``shared/scenario-format.md`` for the contract these
models implement.
"""

from __future__ import annotations

from models.errors import InvalidDocument, Issue
from models.io import (
    LoadedScenario,
    load_scenario,
    load_schedule,
    save_schedule,
    scenario_from_data,
)
from models.scenario import Appointment, GroupType, Participant, Program, Scenario, Therapist
from models.schedule import Schedule, ScheduledSession, SolverInfo, UnmetNeed

__all__ = [
    "Appointment",
    "GroupType",
    "InvalidDocument",
    "Issue",
    "LoadedScenario",
    "Participant",
    "Program",
    "Scenario",
    "Schedule",
    "ScheduledSession",
    "SolverInfo",
    "Therapist",
    "UnmetNeed",
    "load_scenario",
    "load_schedule",
    "save_schedule",
    "scenario_from_data",
]
