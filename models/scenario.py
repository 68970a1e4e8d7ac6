"""The scenario: pydantic v2 models of ``format: iop-scenario/1``.

Field names follow ``shared/scenario-format.md``, which is a contract. Field-level rules
(formats, ranges, min <= max) live on the models; rules that need the whole document
(unique ids, references) live in :mod:`models.validation`, which runs them all and reports
every problem at once.

Messages never repeat a value of the file that may be personal data: :func:`quote` decides,
for every message of :mod:`models`, what is shown and what is only described.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Mapping
from datetime import date, datetime
from functools import lru_cache
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from models.clock import (
    DAYS,
    check_week_start,
    iana_timezones,
    is_valid_timezone,
    parse_time,
    parse_window,
)

Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
Population = Literal["adult", "adolescent"]
GroupPopulation = Literal["adult", "adolescent", "any"]
Category = Literal["psychoeducation", "process", "skills", "relapse_prevention", "specialty", "other"]

#: Two-letter codes of US states, DC and the inhabited territories (telehealth licensure).
US_STATES: frozenset[str] = frozenset(
    "AL AK AZ AR CA CO CT DE FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ "  # noqa: SIM905
    "NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY DC PR VI GU AS MP".split()
)

#: An id: a letter or digit of any alphabet, then letters, digits, ``_``, ``.`` or ``-``, at most
#: 40 characters. Python's ``\w`` is exactly ``str.isalnum()`` plus ``_``, so ``grupo_niñez``
#: and ``P-Ü01`` are ids and ``Jordan Smith`` (a space) is not. Match it with ``fullmatch``: a
#: ``$`` alone would let a trailing newline through.
ID_PATTERN = r"^[^\W_][\w.\-]{0,39}$"
_ID_RE = re.compile(ID_PATTERN)

#: Upper bounds where the contract sets none (documented in ``docs/scenario-format.md``). Larger
#: values are typos, and the solver's 64-bit arithmetic overflows on some of them.
MAX_COUNT = 1_000_000
#: A session lies inside ``program.hours``, so inside one day.
MAX_DURATION_MINUTES = 1440
#: A therapist's break between sessions: at most a week.
MAX_BREAK_MINUTES = 10080
#: Hours in a week.
MAX_WEEK_HOURS = 168
#: Objective weights. Stage 3 multiplies the quality weights by the largest cost a schedule can
#: have, itself a weight times the week's minutes: at 40,000 harbor-week's objective overflows
#: CP-SAT's 64-bit range (MODEL_INVALID), and a week 15 times larger reaches it near 2,000.
MAX_WEIGHT = 1_000_000


# --------------------------------------------------------------------------- quoting values


#: A text of only digits and ``: . + -`` (a time, a window, a number, a date) cannot carry a name.
#: (Any such text once; a QA pass found SSN-, birth-date- and phone-shaped texts quoted, so
#: :data:`_PERSONAL_RE` is checked first.)
_TOKEN_RE = re.compile(r"[0-9:.+\-]{1,16}")
_FORMAT_RE = re.compile(r"iop-(?:scenario|schedule)/[0-9]{1,4}")


#: Texts shaped like a date (``1990-05-04``, ``05/04/1990``, ``4.5.1990``), a US social
#: security number (``078-05-1120``) or a phone number (``555-123-4567``, or nine digits and
#: more): a birth date, an SSN or a phone number typed where an id belongs. Such a
#: text is never an id and a message never repeats it (a QA pass: an id ``1990-05-04`` was
#: accepted and echoed, a state ``078-05-1120`` was quoted in its error).
_PERSONAL_RE = re.compile(
    r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}"  # 1990-05-04
    r"|[0-9]{1,2}[/.\-][0-9]{1,2}[/.\-][0-9]{2,4}"  # 05/04/1990, 4.5.1990
    r"|[0-9]{3}-[0-9]{2}-[0-9]{4}"  # 078-05-1120
    r"|\+?[0-9]{0,3}[ .\-]?\(?[0-9]{3}\)?[ .\-][0-9]{3}[ .\-][0-9]{4}"  # 555-123-4567, (555) 123-4567, +1 555.123.4567
    r"|\+?[0-9]{9,}"  # 078051120, 5551234567: an SSN or a phone number without separators
)


def looks_personal(value: str) -> bool:
    """Whether ``value`` is shaped like a date, a US social security number or a phone number (:data:`_PERSONAL_RE`)."""
    return _PERSONAL_RE.fullmatch(value) is not None


def is_id(value: object) -> bool:
    """Whether ``value`` is a well-formed id (see :data:`ID_PATTERN`) not shaped like personal data (:func:`looks_personal`)."""
    return isinstance(value, str) and _ID_RE.fullmatch(value) is not None and not looks_personal(value)


def is_quotable(value: object) -> bool:
    """Whether a message may repeat ``value``, a value read from a file.

    Numbers, ids and texts made only of digits and ``: . + -`` (times, windows, numbers
    written as text) cannot carry a name, so they may be repeated; dates and texts shaped
    like a date or a social security number may be a birth date or an SSN and are not. Any other text may
    be personal data (a name typed where an id belongs) and is described, never repeated.
    """
    if isinstance(value, bool | int | float):
        return True
    if isinstance(value, date) or (isinstance(value, str) and looks_personal(value)):
        return False  # (a birth date, an SSN: only the program's week_start repeats its date)
    if isinstance(value, str):
        return bool(is_id(value) or _TOKEN_RE.fullmatch(value) or _FORMAT_RE.fullmatch(value))
    return False


def quote(value: object, *, bare: bool = False) -> str:
    """``value`` as a message may show it: itself if :func:`is_quotable`, else a description.

    This is the one place that decides what of a file's content reaches an error message or
    a log. A text that may be personal data comes out as ``a text of 27 characters``.

    Parameters
    ----------
    value
        A value read from a file.
    bare
        Show a quotable text without quotes (``T01`` rather than ``'T01'``).
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        # A number of nine digits and more may be an SSN or a phone number written unquoted;
        # str() of a huge int is slow, and refused beyond 4300 digits.
        if abs(value) < 10**8:
            return str(value)
        digits = str(len(str(abs(value)))) if abs(value) < 10**18 else f"about {int(value.bit_length() * 0.30103) + 1}"
        return f"a whole number of {digits} digits"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, datetime):
        return "a date and time"
    if isinstance(value, date):
        return "a date"
    if isinstance(value, str):
        if is_quotable(value):
            return value if bare else repr(value)
        if not value:
            return "an empty text"
        return f"a text of {len(value)} character{'s' if len(value) != 1 else ''}"
    if isinstance(value, list):
        return f"a list of {len(value)} item{'s' if len(value) != 1 else ''}"
    if isinstance(value, Mapping):
        return f"a mapping of {len(value)} entr{'ies' if len(value) != 1 else 'y'}"
    if value is None:
        return "null"
    return "a value of another type"


# --------------------------------------------------------------------------- field types


NOT_AN_ID = "is not a valid id: letters, digits, '_', '.', '-', at most 40 characters (pseudonymous ids only, never names)"


NOT_PSEUDONYMOUS = "is shaped like a date, a social security number or a phone number: ids must be pseudonymous (e.g. P0042)"


def _check_id(value: str) -> str:
    if not is_id(value):
        raise ValueError(NOT_PSEUDONYMOUS if isinstance(value, str) and looks_personal(value) else NOT_AN_ID)
    return value


LABEL_MAX = 40
#: The JSON Schema form of a label (Python checks ``str.isprintable`` as well).
LABEL_PATTERN = r"^[^\s\x00-\x1f\x7f-\x9f](?:[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f])?$"


def _check_label(value: str) -> str:
    if not value.isprintable() or value != value.strip():
        raise ValueError(
            f"{quote(value)} is not a valid label: printable characters only (no tabs, newlines or "
            "other control characters), no space at either end"
        )
    return value


_TIME_SHAPE = re.compile(r"[0-9]{2}:[0-9]{2}")
_WINDOW_SHAPE = re.compile(r"[0-9]{2}:[0-9]{2}-[0-9]{2}:[0-9]{2}")


def _check_time(value: str) -> str:
    if _TIME_SHAPE.fullmatch(value) is None:
        raise ValueError(f"{quote(value)} is not a time of the form HH:MM (00:00 to 23:59)")
    parse_time(value)  # its message quotes the value: safe, the value is digits and a colon
    return value


def _check_window(value: str) -> str:
    if _WINDOW_SHAPE.fullmatch(value) is None:
        raise ValueError(f"{quote(value)} is not a window of the form HH:MM-HH:MM")
    parse_window(value)  # its messages quote the value: safe, the value is digits, ':' and '-'
    return value


@lru_cache(maxsize=1)
def _zone_names() -> dict[str, str]:
    return {name.lower(): name for name in iana_timezones()}


def _check_timezone(value: str) -> str:
    if not is_valid_timezone(value):
        names = _zone_names()
        key = value.strip().lower()
        for prefix in ("right/", "posix/"):  # the tz database's copies of each zone
            key = key.removeprefix(prefix)
        close = [names[key]] if key in names else [names[n] for n in difflib.get_close_matches(key, names, n=1, cutoff=0.85)]
        hint = f"did you mean {close[0]}?" if close else "e.g. America/New_York"
        raise ValueError(f"{quote(value)} is not an IANA time zone ({hint})")
    return value


def _check_state(value: str) -> str:
    if value not in US_STATES:
        guess = value.strip().upper()
        hint = f"did you mean {guess}?" if guess in US_STATES else "e.g. NY"
        raise ValueError(f"{quote(value)} is not a two-letter US state code ({hint})")
    return value


def _whole_number(value: object) -> object:
    """JSON has one number type: ``60.0`` is the whole number 60; ``60.5``, ``inf``, ``nan`` are not."""
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{quote(value)} is not a finite number")
        if not value.is_integer():
            raise ValueError(f"{quote(value)} is not a whole number")
        return int(value)
    return value


def _date_only(value: object) -> object:
    """A date written ``YYYY-MM-DD``: not a date and time, not a number."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            # (Quoted as it is: the program's week, YYYY-MM-DD digits only, is nobody's data.)
            raise ValueError(f"{value!r} is not a date YYYY-MM-DD (no such day)") from None
    shown = value.isoformat() if isinstance(value, date) else quote(value)  # (the program's week: nobody's data)
    raise ValueError(f"{shown} is not a date YYYY-MM-DD")


_WHOLE = BeforeValidator(_whole_number)

Id = Annotated[str, AfterValidator(_check_id), Field(json_schema_extra={"pattern": ID_PATTERN})]
#: A free label (an appointment kind, a tag): 1 to 40 printable characters.
Label = Annotated[
    str, Field(min_length=1, max_length=LABEL_MAX, json_schema_extra={"pattern": LABEL_PATTERN}), AfterValidator(_check_label)
]
TimeOfDay = Annotated[str, AfterValidator(_check_time), Field(json_schema_extra={"pattern": r"^([01]\d|2[0-3]):[0-5]\d$"})]
Window = Annotated[str, AfterValidator(_check_window)]
TimeZone = Annotated[str, AfterValidator(_check_timezone)]
State = Annotated[str, AfterValidator(_check_state)]


def _null_days(value: object) -> object:
    """A day written with nothing after it (``tue:``, YAML's null) has no windows, as ``tue: []``."""
    if isinstance(value, dict):
        return {day: [] if windows is None else windows for day, windows in value.items()}
    return value


Availability = Annotated[dict[Day, list[Window]], BeforeValidator(_null_days)]
PositiveInt = Annotated[int, Field(strict=True, gt=0, le=MAX_COUNT), _WHOLE]
NonNegativeInt = Annotated[int, Field(strict=True, ge=0, le=MAX_COUNT), _WHOLE]
DurationMinutes = Annotated[int, Field(strict=True, gt=0, le=MAX_DURATION_MINUTES), _WHOLE]
BreakMinutes = Annotated[int, Field(strict=True, ge=0, le=MAX_BREAK_MINUTES), _WHOLE]
DaysInWeek = Annotated[int, Field(strict=True, ge=0, le=7), _WHOLE]
Weight = Annotated[int, Field(strict=True, ge=0, le=MAX_WEIGHT), _WHOLE]
Hours = Annotated[float, Field(strict=True, ge=0, le=MAX_WEEK_HOURS, allow_inf_nan=False)]
WeekStart = Annotated[date, BeforeValidator(_date_only)]


class StrictModel(BaseModel):
    """Base of every scenario model: unknown fields are errors, instances are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _null_is_omitted(cls, data: object) -> object:
        """An optional field written with nothing after it (``tags:``, YAML's null) is as if
        omitted: its default (``[]``, ``{}``, no limit). A QA pass found ``availability:``,
        ``tags:`` and ``avoid:`` refused where ``max_concurrent_sessions:`` was accepted."""
        if isinstance(data, dict):
            fields = cls.model_fields
            nulls = [key for key, value in data.items() if value is None and key in fields and not fields[key].is_required()]
            if nulls:
                return {key: value for key, value in data.items() if key not in nulls}
        return data


def _unique(values: list[str], what: str) -> list[str]:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise ValueError(f"{what} lists {quote(value)} twice")
        seen.add(value)
    return values


class Program(StrictModel):
    """The program's week: clock, days, hours, grid and video-room licences."""

    name: str = Field(min_length=1, max_length=200)
    timezone: TimeZone
    week_start: WeekStart
    days: list[Day] = Field(min_length=1)
    hours: Window
    slot_minutes: PositiveInt = 30
    max_concurrent_sessions: PositiveInt | None = None

    @field_validator("week_start")
    @classmethod
    def _monday(cls, value: date) -> date:
        if value.weekday() != 0:
            raise ValueError(f"week_start {value.isoformat()} is a {DAYS[value.weekday()]}, not a Monday")
        check_week_start(value)  # a week so near year 1 or 9999 that its dates cannot be converted
        return value

    @field_validator("days")
    @classmethod
    def _unique_days(cls, value: list[str]) -> list[str]:
        return _unique(value, "days")

    @field_validator("slot_minutes")
    @classmethod
    def _slot_within_a_day(cls, value: int) -> int:
        # Any length: the grid is counted from the start of program.hours each day, so 50
        # gives 08:00, 08:50, 09:40 ... (the contract's rule; 50 was refused before, as not
        # dividing 1440, though nothing relies on that).
        if value > 1440:
            raise ValueError(f"slot_minutes {value} is more than a day (at most 1440, e.g. 15, 30, 50, 60)")
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
    duration_minutes: DurationMinutes
    size: SizeRange
    population: GroupPopulation = "any"
    start_times: list[TimeOfDay] | None = Field(default=None, min_length=1)
    days: list[Day] | None = Field(default=None, min_length=1)
    requires_qualifications: list[Id] = Field(default_factory=list)
    requires_tags: list[Label] = Field(default_factory=list)
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
    min_break_minutes: BreakMinutes = 0


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

    min: DaysInWeek = 0
    max: DaysInWeek | None = None

    @model_validator(mode="after")
    def _ordered(self) -> DaysRange:
        if self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is greater than max {self.max}")
        return self


class Appointment(StrictModel):
    """One-to-one (or family) sessions: a named therapist or any holder of a qualification."""

    kind: Label
    therapist: Id | None = None
    qualification: Id | None = None
    duration_minutes: DurationMinutes
    count: PositiveInt = 1
    availability: Availability | None = None

    @field_validator("kind")
    @classmethod
    def _not_group(cls, value: str) -> str:
        if value.casefold() == "group":
            raise ValueError(f"kind {quote(value)} is reserved for group sessions")
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
    tags: list[Label] = Field(default_factory=list)
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
    priority: Annotated[int, Field(strict=True, ge=1, le=3), _WHOLE] = 1


class ObjectiveWeights(StrictModel):
    """Weights *inside* a level of the objective; the order of the levels is fixed.

    Level 2 (program minimums): ``hours_shortfall`` per hour below ``hours_per_week.min``,
    ``days_shortfall`` per day below ``days_per_week.min``. Level 3 (quality):
    ``continuity`` per extra therapist a participant sees for one group type,
    ``preferred_therapist`` per session with a therapist not on a non-empty
    ``preferred_therapists`` list, ``load_balance`` per hour of the busiest therapist's
    load. Level 4 (cost): ``sessions`` per session run and
    ``therapist_hours`` per therapist hour.
    """

    hours_shortfall: Weight = 1
    days_shortfall: Weight = 2
    continuity: Weight = 3
    preferred_therapist: Weight = 1
    load_balance: Weight = 1
    sessions: Weight = 1
    therapist_hours: Weight = 1


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
