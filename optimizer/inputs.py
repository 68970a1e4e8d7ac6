"""What the Python API accepts as a scenario, a schedule and parameters, checked at the door.

``solve`` and ``check`` are called by other software with whatever it has at hand: a
:class:`~models.scenario.Scenario`, the :class:`~models.io.LoadedScenario` that
``load_scenario`` returns, or a parsed document (a dict). Each is turned into a validated
model here, or refused with :class:`~models.errors.InvalidDocument` (a rule of the format,
with every issue: field, id and rule) or a ``TypeError`` that says what was expected.
Nothing gets as far as the model builder to fail there with a ``KeyError``.

A ``Scenario`` object is validated again: pydantic's ``model_copy(update=...)`` and
``model_construct`` skip validation, so an object can break rules its type cannot see
(an unknown group type in ``needs``, a duplicate id). At 2,000 participants this costs
about 0.2 s.
"""

from __future__ import annotations

from collections.abc import Mapping

from models.errors import InvalidDocument
from models.io import LoadedScenario
from models.scenario import Scenario
from models.schedule import Schedule
from models.validation import validate_scenario, validate_schedule

_WHERE = "scenario given to {}"


def as_scenario(value: object, caller: str) -> Scenario:
    """A validated scenario from a Scenario, a LoadedScenario or a parsed document."""
    if isinstance(value, LoadedScenario):
        value = value.scenario
    if isinstance(value, Scenario):
        try:
            raw: object = value.model_dump(mode="json", warnings=False)
        except Exception as error:  # (a constructed model can hold anything)
            raise TypeError(f"{caller}() got a Scenario that cannot be read back ({type(error).__name__}); "
                            "build it with models.load_scenario or Scenario.model_validate") from None
        checked, errors, _ = validate_scenario(raw, _WHERE.format(caller))
        if checked is None:
            raise InvalidDocument(_WHERE.format(caller), errors)
        # The validated copy, not ``value``: a model changed with model_copy(update=...) holds
        # what it was given ("2026-12-07" as text, 90.0 for minutes), and only the copy is typed.
        return checked
    if isinstance(value, Mapping):
        checked, errors, _ = validate_scenario(value, _WHERE.format(caller))
        if checked is None:
            raise InvalidDocument(_WHERE.format(caller), errors)
        return checked
    raise TypeError(f"{caller}() takes a scenario (models.load_scenario(path).scenario, or a parsed scenario document), "
                    f"not {type(value).__name__}")


def as_schedule(value: object, caller: str) -> Schedule:
    """A schedule model from a Schedule or a parsed schedule document."""
    if isinstance(value, Schedule):
        # Checked again like a document: a Schedule built with model_construct or changed with
        # model_copy(update=...) is not validated (QA: a bare AttributeError in check()).
        try:
            value = value.model_dump(mode="json", warnings=False)
        except Exception as error:  # (a constructed model can hold anything)
            raise TypeError(f"{caller}() got a Schedule that cannot be read back ({type(error).__name__}); "
                            "build it with models.load_schedule or Schedule.model_validate") from None
    if isinstance(value, Mapping):
        where = f"schedule given to {caller}"
        schedule, errors = validate_schedule(value, where)
        if schedule is None:
            raise InvalidDocument(where, errors)
        return schedule
    raise TypeError(f"{caller}() takes a schedule (models.load_schedule(path), or a parsed schedule document), "
                    f"not {type(value).__name__}")


def as_pair(scenario: object, schedule: object, caller: str) -> tuple[Scenario, Schedule]:
    """:func:`as_scenario` and :func:`as_schedule`, refusing a schedule with ids the scenario
    lacks (:class:`~models.errors.InvalidDocument`, as the CLI does): the library's exports and
    explanations read a schedule beside its scenario (QA: another week's schedule was exported
    as this one's, and explained as if every need were unmet)."""
    from optimizer.export.timeline import require_references

    checked, roster = as_scenario(scenario, caller), as_schedule(schedule, caller)
    require_references(checked, roster, f"schedule given to {caller}")
    return checked, roster
