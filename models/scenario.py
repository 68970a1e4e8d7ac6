"""The scenario: pydantic v2 models of ``format: iop-scenario/1``.

Field names follow ``shared/scenario-format.md``, which is a contract. Field-level rules
(formats, ranges, min <= max) live on the models; rules that need the whole document
(unique ids, references, starts inside program hours) live in :mod:`models.validation`,
which runs them all and reports every problem at once.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from models.clock import DAYS, is_valid_timezone, parse_time, parse_window

Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
Population = Literal["adult", "adolescent"]
GroupPopulation = Literal["adult", "adolescent", "any"]
Category = Literal["psychoeducation", "process", "skills", "relapse_prevention", "specialty", "other"]

#: Two-letter codes of US states, DC and the inhabited territories (telehealth licensure).
US_STATES: frozenset[str] = frozenset(
    "AL AK AZ AR CA CO CT DE FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ "  # noqa: SIM905
    "NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY DC PR VI GU AS MP".split()
)

_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,39}$"


def _check_time(value: str) -> str:
    parse_time(value)
    return value


def _check_window(value: str) -> str:
    parse_window(value)
    return value


def _check_timezone(value: str) -> str:
    if not is_valid_timezone(value):
        raise ValueError(f"{value!r} is not an IANA time zone (e.g. America/New_York)")
    return value


def _check_state(value: str) -> str:
    if value not in US_STATES:
        raise ValueError(f"{value!r} is not a two-letter US state code (e.g. NY)")
    return value


Id = Annotated[str, Field(pattern=_ID_PATTERN)]
TimeOfDay = Annotated[str, AfterValidator(_check_time)]
Window = Annotated[str, AfterValidator(_check_window)]
TimeZone = Annotated[str, AfterValidator(_check_timezone)]
State = Annotated[str, AfterValidator(_check_state)]
Availability = dict[Day, list[Window]]
PositiveInt = Annotated[int, Field(strict=True, gt=0)]
NonNegativeInt = Annotated[int, Field(strict=True, ge=0)]
Hours = Annotated[float, Field(ge=0)]


class StrictModel(BaseModel):
    """Base of every scenario model: unknown fields are errors, instances are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _unique(values: list[str], what: str) -> list[str]:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise ValueError(f"{what} lists {value!r} twice")
        seen.add(value)
    return values


class Program(StrictModel):
    """The program's week: clock, days, hours, grid and video-room licences."""

    name: str = Field(min_length=1, max_length=200)
    timezone: TimeZone
    week_start: date
    days: list[Day] = Field(min_length=1)
    hours: Window
    slot_minutes: PositiveInt = 30
    max_concurrent_sessions: PositiveInt | None = None

    @field_validator("week_start")
    @classmethod
    def _monday(cls, value: date) -> date:
        if value.weekday() != 0:
            raise ValueError(f"week_start {value.isoformat()} is a {DAYS[value.weekday()]}, not a Monday")
        return value

    @field_validator("days")
    @classmethod
    def _unique_days(cls, value: list[str]) -> list[str]:
        return _unique(value, "days")

    @field_validator("slot_minutes")
    @classmethod
    def _slot_divides_day(cls, value: int) -> int:
        if value > 240 or 1440 % value:
            raise ValueError(f"slot_minutes {value} must divide a day and be at most 240 (e.g. 15, 30, 60)")
        return value


class SizeRange(StrictModel):
    """Participants per group session: ``min`` <= size <= ``max``."""

    min: PositiveInt
    max: PositiveInt

    @model_validator(mode="after")
    def _ordered(self) -> SizeRange:
        if self.min > self.max:
            raise ValueError(f"min {self.min} is greater than max {self.max}")
        return self


class GroupType(StrictModel):
    """A kind of group session: duration, size, population, starts and days."""

    id: Id
    name: str | None = Field(default=None, max_length=200)
    category: Category = "other"
    duration_minutes: PositiveInt
    size: SizeRange
    population: GroupPopulation = "any"
    start_times: list[TimeOfDay] | None = Field(default=None, min_length=1)
    days: list[Day] | None = Field(default=None, min_length=1)
    requires_qualifications: list[Id] = Field(default_factory=list)
    requires_tags: list[Id] = Field(default_factory=list)
    max_sessions_per_week: NonNegativeInt | None = None

    @field_validator("start_times", "days")
    @classmethod
    def _no_repeats(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _unique(value, "the list")


class Therapist(StrictModel):
    """A clinician who leads groups and sees participants one to one."""

    id: Id
    name: str | None = Field(default=None, max_length=200)
    timezone: TimeZone | None = None
    licensed_states: list[State] = Field(default_factory=list)
    qualifications: list[Id] = Field(default_factory=list)
    availability: Availability = Field(default_factory=dict)
    max_hours_per_week: Hours | None = None
    max_sessions_per_day: NonNegativeInt | None = None
    min_break_minutes: NonNegativeInt = 0


class HoursRange(StrictModel):
    """Total hours of all a participant's sessions in the week."""

    min: Hours = 0
    max: Hours | None = None

    @model_validator(mode="after")
    def _ordered(self) -> HoursRange:
        if self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min:g} is greater than max {self.max:g}")
        return self


class DaysRange(StrictModel):
    """Program days a participant attends in the week."""

    min: Annotated[int, Field(strict=True, ge=0, le=7)] = 0
    max: Annotated[int, Field(strict=True, ge=0, le=7)] | None = None

    @model_validator(mode="after")
    def _ordered(self) -> DaysRange:
        if self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is greater than max {self.max}")
        return self


class Appointment(StrictModel):
    """One-to-one (or family) sessions: a named therapist or any holder of a qualification."""

    kind: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_\-]{0,39}$")]
    therapist: Id | None = None
    qualification: Id | None = None
    duration_minutes: PositiveInt
    count: PositiveInt = 1
    availability: Availability | None = None

    @field_validator("kind")
    @classmethod
    def _not_group(cls, value: str) -> str:
        if value == "group":
            raise ValueError("kind 'group' is reserved for group sessions")
        return value

    @model_validator(mode="after")
    def _who(self) -> Appointment:
        if (self.therapist is None) == (self.qualification is None):
            raise ValueError("give exactly one of 'therapist' (a therapist id) or 'qualification'")
        return self


class Participant(StrictModel):
    """A person in the program, known only by a pseudonymous id."""

    id: Id
    state: State
    timezone: TimeZone | None = None
    population: Population
    tags: list[Id] = Field(default_factory=list)
    availability: Availability = Field(default_factory=dict)
    needs: dict[Id, NonNegativeInt] = Field(default_factory=dict)
    hours_per_week: HoursRange = Field(default_factory=HoursRange)
    days_per_week: DaysRange = Field(default_factory=DaysRange)
    max_sessions_per_day: NonNegativeInt | None = None
    appointments: list[Appointment] = Field(default_factory=list)
    avoid: list[Id] = Field(default_factory=list)
    avoid_therapists: list[Id] = Field(default_factory=list)
    max_group_size: PositiveInt | None = None
    preferred_therapists: list[Id] = Field(default_factory=list)
    priority: Annotated[int, Field(strict=True, ge=1, le=3)] = 1


class ObjectiveWeights(StrictModel):
    """Weights *inside* a level of the objective; the order of the levels is fixed.

    Level 2 (program minimums): ``hours_shortfall`` per hour below ``hours_per_week.min``,
    ``days_shortfall`` per day below ``days_per_week.min``. Level 3 (quality):
    ``continuity`` per extra therapist a participant sees for one group type,
    ``preferred_therapist`` per session with a therapist not on a non-empty
    ``preferred_therapists`` list, ``load_balance`` per hour of the busiest therapist's
    load above the average. Level 4 (cost): ``sessions`` per session run and
    ``therapist_hours`` per therapist hour.
    """

    hours_shortfall: NonNegativeInt = 1
    days_shortfall: NonNegativeInt = 2
    continuity: NonNegativeInt = 3
    preferred_therapist: NonNegativeInt = 1
    load_balance: NonNegativeInt = 1
    sessions: NonNegativeInt = 1
    therapist_hours: NonNegativeInt = 1


class Scenario(StrictModel):
    """A whole scenario file (``format: iop-scenario/1``)."""

    format: Literal["iop-scenario/1"]
    program: Program
    group_types: list[GroupType] = Field(default_factory=list)
    therapists: list[Therapist] = Field(default_factory=list)
    participants: list[Participant] = Field(default_factory=list)
    objective: ObjectiveWeights = Field(default_factory=ObjectiveWeights)

    def group_type(self, group_type_id: str) -> GroupType:
        """The group type with this id."""
        return next(g for g in self.group_types if g.id == group_type_id)

    def therapist(self, therapist_id: str) -> Therapist:
        """The therapist with this id."""
        return next(t for t in self.therapists if t.id == therapist_id)

    def participant(self, participant_id: str) -> Participant:
        """The participant with this id."""
        return next(p for p in self.participants if p.id == participant_id)
