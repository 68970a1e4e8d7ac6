"""Realistic, seeded scenarios of a virtual IOP week, from 40 to 2,000 participants.

The generator draws a program the way ``shared/DOMAIN.md`` describes one: participants in
several states and time zones on a day track (mornings), an adult evening track
(17:00-21:00 local) or an adolescent after-school track (15:30-19:00 local); substance-use,
trauma and veteran tags; group needs that with the appointments add up to 9-12 hours a week
for adults and 6-9 for adolescents; a weekly individual session with a primary therapist
licensed in the participant's state and holding the right qualifications; a weekly family
session for adolescents; medication visits with any prescriber; a few avoid pairs and payer
group-size caps. Therapists work day or evening shifts in their own zone, hold licences in
their home state and, for some (interstate compacts), in others, and are sized so that
therapist hours are close to the hours the week needs: the week is tight but feasible for most
needs.

Everything is drawn from one :class:`numpy.random.Generator` seeded with ``seed``, and every
collection is iterated in a fixed order, so a size and a seed always give the same scenario
(and the same file text).

Example
-------
>>> scenario = generate_scenario("S", seed=1)
>>> len(scenario.participants)
40
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date

import numpy as np

from models.clock import DAYS, WeekClock, format_time
from models.scenario import Scenario

__all__ = [
    "SIZES",
    "STATE_TIMEZONES",
    "GeneratorConfig",
    "generate_scenario",
    "scenario_figures",
]

#: The time zone of each state the generator uses (winter clocks; AZ keeps no DST).
STATE_TIMEZONES: dict[str, str] = {
    "NY": "America/New_York",
    "NJ": "America/New_York",
    "PA": "America/New_York",
    "OH": "America/New_York",
    "IL": "America/Chicago",
    "WI": "America/Chicago",
    "TX": "America/Chicago",
    "CO": "America/Denver",
    "AZ": "America/Phoenix",
    "CA": "America/Los_Angeles",
    "WA": "America/Los_Angeles",
}

_PROGRAM_DAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri")


@dataclass(frozen=True)
class GeneratorConfig:
    """What to generate: size, geography and the mix of the population.

    Attributes
    ----------
    name
        The program's name.
    participants, therapists
        How many of each (prescribers included in ``therapists``).
    states
        ``(state, weight)`` pairs: where participants live, by share. Every state must be a
        key of :data:`STATE_TIMEZONES`.
    program_timezone
        The program's clock; pick one in the middle of the states' zones so that the day
        track of the easternmost and the evening track of the westernmost fit in one day.
    week_start
        The Monday of the week.
    adolescent_share
        Share of participants who are adolescents (after-school track).
    day_track_share
        Share of adults on the day (morning) track; the rest are on the evening track.
    sud_share, trauma_share, veteran_share
        Shares of adults carrying each tag (adolescents: half the ``sud`` and ``trauma``
        shares, never ``veteran``).
    medication_share
        Share of participants with a medication visit this week (any prescriber).
    compact_share
        Share of therapists licensed through an interstate compact in one to three more
        states of the program.
    capacity_ratio
        Therapist hours on offer over the hours the week needs with groups at full size;
        each therapist's ``max_hours_per_week`` is chosen in 25-32 to come close to it.
    concurrency_share
        ``program.max_concurrent_sessions`` as a share of the number of therapists.
    """

    name: str
    participants: int
    therapists: int
    states: tuple[tuple[str, float], ...]
    program_timezone: str = "America/New_York"
    week_start: date = date(2026, 11, 30)
    adolescent_share: float = 0.2
    day_track_share: float = 0.35
    sud_share: float = 0.4
    trauma_share: float = 0.3
    veteran_share: float = 0.08
    medication_share: float = 0.2
    compact_share: float = 0.3
    capacity_ratio: float = 1.25
    concurrency_share: float = 0.75


#: The preset sizes of ``iop-roster generate --size``.
SIZES: dict[str, GeneratorConfig] = {
    "S": GeneratorConfig(
        name="Generated IOP S",
        participants=40,
        therapists=5,
        states=(("NY", 0.6), ("NJ", 0.2), ("IL", 0.2)),
        compact_share=0.5,
    ),
    "M": GeneratorConfig(
        name="Generated IOP M",
        participants=150,
        therapists=14,
        states=(("NY", 0.35), ("NJ", 0.2), ("PA", 0.15), ("IL", 0.2), ("WI", 0.1)),
        compact_share=0.4,
    ),
    "L": GeneratorConfig(
        name="Generated IOP L",
        participants=500,
        therapists=40,
        states=(("NY", 0.25), ("NJ", 0.12), ("PA", 0.13), ("IL", 0.18), ("WI", 0.07), ("AZ", 0.1), ("CA", 0.15)),
        program_timezone="America/Chicago",
    ),
    "XL": GeneratorConfig(
        name="Generated IOP XL",
        participants=2000,
        therapists=140,
        states=(
            ("NY", 0.16), ("NJ", 0.08), ("PA", 0.1), ("OH", 0.08), ("IL", 0.12), ("WI", 0.05),
            ("TX", 0.12), ("CO", 0.05), ("AZ", 0.07), ("CA", 0.12), ("WA", 0.05),
        ),
        program_timezone="America/Chicago",
    ),
    "harbor": GeneratorConfig(
        name="Harbor Virtual IOP",
        participants=120,
        therapists=12,
        states=(("NY", 0.55), ("NJ", 0.25), ("IL", 0.2)),
        adolescent_share=0.25,
        compact_share=0.4,
    ),
}


# --------------------------------------------------------------------------- catalogue


@dataclass(frozen=True)
class _Track:
    """A track: the local window its participants keep free, and who is on it."""

    name: str
    start: int  # minutes after local midnight
    end: int
    population: str
    shift: str  # the therapist shift that covers it


_TRACKS: dict[str, _Track] = {
    "day": _Track("day", 9 * 60, 13 * 60, "adult", "day"),
    "evening": _Track("evening", 17 * 60, 21 * 60, "adult", "evening"),
    "afterschool": _Track("afterschool", 15 * 60 + 30, 19 * 60, "adolescent", "evening"),
}

#: Therapist shifts, local time.
_SHIFTS: dict[str, tuple[int, int]] = {"day": (8 * 60, 16 * 60 + 30), "evening": (12 * 60, 21 * 60)}

#: Extra time some adults keep free on a few days for an individual session, local time:
#: the lunch break of evening-track (working) adults, the early afternoon of day-track adults.
_EXTRA_WINDOWS: dict[str, tuple[int, int]] = {"evening": (12 * 60, 13 * 60), "day": (13 * 60 + 30, 15 * 60)}


@dataclass(frozen=True)
class _GroupSpec:
    id: str
    name: str
    category: str
    duration: int
    size: tuple[int, int]
    population: str
    qualifications: tuple[str, ...]
    tags: tuple[str, ...] = ()
    days: tuple[str, ...] | None = None


_GROUPS: tuple[_GroupSpec, ...] = (
    _GroupSpec("process", "Process group", "process", 120, (5, 10), "adult", ("group_facilitation",)),
    _GroupSpec("psychoeducation", "Psychoeducation", "psychoeducation", 60, (6, 12), "adult", ("group_facilitation",)),
    _GroupSpec("skills", "Skills building (DBT, mindfulness)", "skills", 90, (5, 10), "adult", ("group_facilitation",)),
    _GroupSpec("relapse_prevention", "Relapse prevention", "relapse_prevention", 90, (5, 10), "adult", ("sud",), ("sud",)),
    _GroupSpec("trauma_informed", "Trauma-informed specialty group", "specialty", 90, (4, 8), "adult", ("trauma",), ("trauma",)),
    _GroupSpec("veterans", "Veterans group", "specialty", 90, (4, 8), "adult", ("veterans",), ("veteran",), ("tue", "thu")),
    _GroupSpec("teen_process", "Adolescent process group", "process", 90, (4, 8), "adolescent", ("adolescent",)),
    _GroupSpec("teen_skills", "Adolescent skills group", "skills", 60, (4, 8), "adolescent", ("adolescent",)),
    _GroupSpec(
        "teen_substance_use", "Adolescent substance-use group", "relapse_prevention", 60, (4, 8), "adolescent",
        ("adolescent", "sud"), ("sud",),
    ),
)
_GROUP_BY_ID: dict[str, _GroupSpec] = {spec.id: spec for spec in _GROUPS}

#: Qualification a group type or primary therapist needs for a tag or population.
_TAG_QUALIFICATION = {"sud": "sud", "trauma": "trauma", "veteran": "veterans"}


@dataclass
class _Person:
    """A participant while being drawn."""

    id: str
    state: str
    timezone: str
    population: str
    track: str
    days: list[str]
    window: tuple[int, int]
    tags: list[str]
    target_hours: float
    medication: bool
    priority: int
    needs: dict[str, int] = field(default_factory=dict)
    family_days: list[str] = field(default_factory=list)
    extra_days: list[str] = field(default_factory=list)
    primary: str | None = None
    avoid: list[str] = field(default_factory=list)
    avoid_therapists: list[str] = field(default_factory=list)
    max_group_size: int | None = None
    preferred: bool = False

    def availability(self) -> dict[str, list[str]]:
        window = f"{format_time(self.window[0])}-{format_time(self.window[1])}"
        if not self.extra_days:
            return {day: [window] for day in self.days}
        extra_start, extra_end = _EXTRA_WINDOWS[self.track]
        extra = f"{format_time(extra_start)}-{format_time(extra_end)}"
        both = sorted([window, extra])
        return {day: (both if day in self.extra_days else [window]) for day in self.days}

    def family_window(self) -> tuple[int, int]:
        """Family sessions happen once parents are home: 16:30 local at the earliest."""
        return max(self.window[0], 16 * 60 + 30), self.window[1]

    def appointment_hours(self) -> float:
        hours = 1.0  # individual
        if self.population == "adolescent":
            hours += 1.0  # family
        if self.medication:
            hours += 0.5
        return hours

    def group_hours(self) -> float:
        return sum(_GROUP_BY_ID[g].duration * n for g, n in self.needs.items()) / 60


@dataclass
class _Clinician:
    """A therapist while being drawn."""

    id: str
    state: str
    timezone: str
    shift: str
    days: list[str]
    licensed: list[str]
    qualifications: list[str]
    max_hours: int = 28
    max_sessions_per_day: int = 5
    min_break: int = 10
    load: float = 0.0  # appointment hours assigned so far

    def availability(self) -> dict[str, list[str]]:
        start, end = _SHIFTS[self.shift]
        window = f"{format_time(start)}-{format_time(end)}"
        return {day: [window] for day in self.days}

    def add_licence(self, state: str) -> None:
        if state not in self.licensed:
            self.licensed.append(state)
            self.licensed.sort()

    def add_qualification(self, qualification: str) -> None:
        if qualification not in self.qualifications:
            self.qualifications.append(qualification)
            self.qualifications.sort()


# --------------------------------------------------------------------------- the generator


def _config_of(size: str | GeneratorConfig) -> GeneratorConfig:
    if isinstance(size, GeneratorConfig):
        return size
    for key, config in SIZES.items():
        if key.lower() == size.lower():
            return config
    raise ValueError(f"unknown size {size!r}: choose one of {', '.join(SIZES)}")


def _largest_remainder(weights: list[float], total: int) -> list[int]:
    """Integer shares of ``total`` proportional to ``weights`` (Hamilton's method)."""
    weight_sum = sum(weights)
    if total <= 0 or weight_sum <= 0:
        return [0] * len(weights)
    exact = [w / weight_sum * total for w in weights]
    counts = [math.floor(x) for x in exact]
    order = sorted(range(len(weights)), key=lambda i: (-(exact[i] - counts[i]), i))
    for i in order[: total - sum(counts)]:
        counts[i] += 1
    return counts


class _Generator:
    def __init__(self, config: GeneratorConfig, seed: int) -> None:
        self.config = config
        self.rng = np.random.default_rng(seed)
        self.clock = WeekClock(config.program_timezone, config.week_start)
        self.states = [state for state, _ in config.states]
        unknown = [s for s in self.states if s not in STATE_TIMEZONES]
        if unknown:
            raise ValueError(f"no time zone known for state(s) {', '.join(unknown)}")
        if config.participants < 1 or config.therapists < 2:
            raise ValueError("a scenario needs at least 1 participant and 2 therapists")
        self.people: list[_Person] = []
        self.clinicians: list[_Clinician] = []
        self.group_ids: list[str] = []
        self._windows: dict[tuple[str, int, int, str], tuple[int, int]] = {}
        # Shifts and windows never change once drawn, so overlaps are computed once per kind.
        self._overlaps: dict[tuple[str, str, int, int, tuple[str, ...]], int] = {}

    # ---------------------------------------------------------------- small draws

    def _chance(self, p: float) -> bool:
        return bool(self.rng.random() < p)

    def _pick(self, options: list[str]) -> str:
        return options[int(self.rng.integers(len(options)))]

    def _program_window(self, day: str, start: int, end: int, timezone: str) -> tuple[int, int]:
        key = (day, start, end, timezone)
        window = self._windows.get(key)
        if window is None:
            window = (
                self.clock.to_program_minute(day, start, timezone),
                self.clock.to_program_minute(day, end, timezone),
            )
            self._windows[key] = window
        return window

    # ---------------------------------------------------------------- participants

    def draw_people(self) -> None:
        config = self.config
        weights = np.array([w for _, w in config.states], dtype=float)
        weights /= weights.sum()
        width = max(4, len(str(config.participants)))
        for index in range(config.participants):
            state = self.states[int(self.rng.choice(len(self.states), p=weights))]
            adolescent = self._chance(config.adolescent_share)
            population = "adolescent" if adolescent else "adult"
            if adolescent:
                track = "afterschool"
            else:
                track = "day" if self._chance(config.day_track_share) else "evening"
            spec = _TRACKS[track]
            start, end = spec.start, spec.end
            # Some keep a little more time free than the track's core hours.
            if self._chance(0.2):
                start -= 30
            if self._chance(0.15) and end + 30 <= 21 * 60 + 30:
                end += 30
            n_days = 5 if self._chance(0.6) else 4
            days = sorted(
                (str(d) for d in self.rng.choice(_PROGRAM_DAYS, size=n_days, replace=False)),
                key=DAYS.index,
            )
            tags: list[str] = []
            scale = 0.5 if adolescent else 1.0
            if self._chance(config.sud_share * scale):
                tags.append("sud")
            if self._chance(config.trauma_share * scale):
                tags.append("trauma")
            if not adolescent and self._chance(config.veteran_share):
                tags.append("veteran")
            if adolescent:
                target = float(self.rng.choice([6.0, 6.5, 7.0, 7.5, 8.0, 8.5, 9.0]))
            else:
                target = float(self.rng.choice([9.0, 9.5, 10.0, 10.5, 11.0, 11.5, 12.0]))
            priority = int(self.rng.choice([1, 2, 3], p=[0.8, 0.15, 0.05]))
            person = _Person(
                id=f"P{index + 1:0{width}d}",
                state=state,
                timezone=STATE_TIMEZONES[state],
                population=population,
                track=track,
                days=days,
                window=(start, end),
                tags=tags,
                target_hours=target,
                medication=self._chance(config.medication_share),
                priority=priority,
            )
            if adolescent:
                person.family_days = sorted(
                    (str(d) for d in self.rng.choice(days, size=3, replace=False)), key=DAYS.index
                )
            elif self._chance(0.4):
                # Some keep extra time on two days for an individual session.
                person.extra_days = sorted(
                    (str(d) for d in self.rng.choice(days, size=2, replace=False)), key=DAYS.index
                )
            self.people.append(person)

    def choose_group_types(self) -> None:
        """The group types of the week: the core ones of each population present, and the
        specialty ones (tag-restricted) where enough people could ever fill a session."""
        chosen: list[str] = []
        for spec in _GROUPS:
            eligible = [
                p for p in self.people
                if p.population == spec.population and all(tag in p.tags for tag in spec.tags)
            ]
            # Groups form within a zone and a track (licensure and clocks); the largest such
            # cohort must fill a session comfortably.
            cohorts: dict[tuple[str, str], int] = {}
            for person in eligible:
                key = (person.timezone, person.track)
                cohorts[key] = cohorts.get(key, 0) + 1
            # The core groups of a population always run; a specialty group only where a
            # cohort could fill it.
            if cohorts and (not spec.tags or max(cohorts.values()) >= spec.size[0] + 2):
                chosen.append(spec.id)
        self.group_ids = chosen

    def draw_needs(self) -> None:
        available = set(self.group_ids)
        for person in self.people:
            day_hours = (person.window[1] - person.window[0]) / 60
            # Leave room in the person's week: needs never fill more than 65% of their windows.
            cap = min(19.0, 0.65 * day_hours * len(person.days), 12.0 if person.population == "adult" else 9.0)
            target = min(person.target_hours, cap)
            mandatory: list[str]
            fillers: list[str]
            if person.population == "adult":
                mandatory = ["process", "psychoeducation"]
                if self._chance(0.7):
                    mandatory.append("process")
                if "sud" in person.tags:
                    mandatory.append("relapse_prevention")
                    if self._chance(0.3):
                        mandatory.append("relapse_prevention")
                if "trauma" in person.tags:
                    mandatory.append("trauma_informed")
                if "veteran" in person.tags:
                    mandatory.append("veterans")
                fillers = ["skills", "skills", "psychoeducation", "process"]
                limits = {"process": 3, "psychoeducation": 3, "skills": 3}
            else:
                mandatory = ["teen_process", "teen_skills"]
                if "sud" in person.tags:
                    mandatory.append("teen_substance_use")
                fillers = ["teen_process", "teen_skills"]
                limits = {"teen_process": 3, "teen_skills": 3}
            hours = person.appointment_hours()
            sessions_cap = (3 if person.population == "adult" else 2) * len(person.days) - 1
            sessions = 1 + (person.population == "adolescent") + person.medication
            for group_id in mandatory:
                if group_id not in available:
                    continue
                extra = _GROUP_BY_ID[group_id].duration / 60
                if hours + extra <= cap and sessions < sessions_cap:
                    person.needs[group_id] = person.needs.get(group_id, 0) + 1
                    hours += extra
                    sessions += 1
            fillers = [g for g in fillers if g in available]
            for _ in range(20):
                if hours >= target:
                    break
                options = [
                    g for g in fillers
                    if person.needs.get(g, 0) < limits[g] and hours + _GROUP_BY_ID[g].duration / 60 <= cap
                ]
                if not options or sessions >= sessions_cap:
                    break
                group_id = self._pick(options)
                person.needs[group_id] = person.needs.get(group_id, 0) + 1
                hours += _GROUP_BY_ID[group_id].duration / 60
                sessions += 1
            person.needs = {g: person.needs[g] for g in self.group_ids if person.needs.get(g)}

    # ---------------------------------------------------------------- therapists

    def _person_demand(self, person: _Person) -> float:
        """Therapist hours a person needs: appointments plus groups at a realistic size of 8."""
        return person.appointment_hours() + person.group_hours() / 8

    def draw_clinicians(self) -> None:
        config = self.config
        n_prescribers = max(1, round(config.therapists * 0.08))
        n_clinicians = config.therapists - n_prescribers
        # Demand by (home state, shift), so that staff sit where and when the work is.
        cells = [(state, shift) for state in self.states for shift in ("day", "evening")]
        demand = {cell: 0.0 for cell in cells}
        for person in self.people:
            demand[(person.state, _TRACKS[person.track].shift)] += self._person_demand(person)
        counts = _largest_remainder([demand[c] for c in cells], n_clinicians)
        width = max(2, len(str(config.therapists)))
        number = 0

        def new(state: str, shift: str, qualifications: list[str]) -> _Clinician:
            nonlocal number
            number += 1
            days = list(_PROGRAM_DAYS)
            if self._chance(0.3):
                days.remove(self._pick(days))
            return _Clinician(
                id=f"T{number:0{width}d}",
                state=state,
                timezone=STATE_TIMEZONES[state],
                shift=shift,
                days=days,
                licensed=[state],
                qualifications=sorted(qualifications),
                max_sessions_per_day=int(self.rng.choice([5, 6])),
                min_break=int(self.rng.choice([10, 15])),
            )

        adolescent_share = sum(p.population == "adolescent" for p in self.people) / max(1, len(self.people))
        for (state, shift), count in zip(cells, counts, strict=True):
            for _ in range(count):
                qualifications = ["group_facilitation"]
                if self._chance(0.45):
                    qualifications.append("sud")
                if self._chance(0.35):
                    qualifications.append("trauma")
                if shift == "evening" and self._chance(min(0.9, 2.0 * adolescent_share)):
                    qualifications.append("adolescent")
                if "veterans" in self.group_ids and self._chance(0.12):
                    qualifications.append("veterans")
                self.clinicians.append(new(state, shift, qualifications))
        # Prescribers (psychiatrists, psychiatric NPs) sit where the medication visits are and
        # hold licences in every state of the program (telepsychiatry groups license widely).
        med_cells = [(state, shift) for state, shift in cells if demand[(state, shift)] > 0]
        med_weights = [sum(1 for p in self.people if p.medication and (p.state, _TRACKS[p.track].shift) == c) for c in med_cells]
        order = sorted(range(len(med_cells)), key=lambda i: (-med_weights[i], i))
        for i in range(n_prescribers):
            state, shift = med_cells[order[i % len(order)]]
            clinician = new(state, shift, ["prescriber"] + (["group_facilitation"] if self._chance(0.5) else []))
            for other in self.states:
                clinician.add_licence(other)
            self.clinicians.append(clinician)
        self.clinicians.sort(key=lambda c: int(c.id[1:]))
        # Interstate compacts: a share of clinicians also hold licences in other states.
        for clinician in self.clinicians:
            if "prescriber" in clinician.qualifications or not self._chance(config.compact_share):
                continue
            others = [s for s in self.states if s not in clinician.licensed]
            if not others:
                continue
            k = min(len(others), int(self.rng.integers(1, 4)))
            same_zone = [s for s in others if STATE_TIMEZONES[s] == clinician.timezone]
            pool = same_zone + [s for s in others if s not in same_zone]
            # Prefer states of the same zone: their clocks line up for groups.
            weights = np.array([3.0 if s in same_zone else 1.0 for s in pool])
            for state in self.rng.choice(pool, size=k, replace=False, p=weights / weights.sum()):
                clinician.add_licence(str(state))
        self._cover_states_and_qualifications()

    def _cover_states_and_qualifications(self) -> None:
        """Make sure every (state, shift) and (state, qualification) that is needed is staffed."""
        staff = [c for c in self.clinicians if "prescriber" not in c.qualifications]
        needs: set[tuple[str, str, str]] = set()  # (state, shift, qualification or "")
        for person in self.people:
            shift = _TRACKS[person.track].shift
            needs.add((person.state, shift, ""))
            if person.population == "adolescent":
                needs.add((person.state, shift, "adolescent"))
            for group_id in person.needs:
                for qualification in _GROUP_BY_ID[group_id].qualifications:
                    needs.add((person.state, shift, qualification))
        for state, shift, qualification in sorted(needs):
            if any(
                state in c.licensed and c.shift == shift and (not qualification or qualification in c.qualifications)
                for c in staff
            ):
                continue
            licensed = [c for c in staff if c.shift == shift and state in c.licensed]
            if qualification and licensed:
                # Train a licensed colleague (the fewest qualifications first).
                min(licensed, key=lambda c: (len(c.qualifications), int(c.id[1:]))).add_qualification(qualification)
                continue
            # License a colleague of that shift through a compact, preferring the same zone.
            pool = [c for c in staff if c.shift == shift] or staff
            chosen = min(
                pool,
                key=lambda c: (
                    STATE_TIMEZONES[state] != c.timezone,
                    bool(qualification) and qualification not in c.qualifications,
                    len(c.licensed),
                    int(c.id[1:]),
                ),
            )
            chosen.add_licence(state)
            if qualification:
                chosen.add_qualification(qualification)

    def _overlap_minutes(self, clinician: _Clinician, person: _Person, family: bool = False) -> int:
        """Longest stretch on one day in which both are free (for the family session: the
        family's evenings), in minutes."""
        days = person.family_days if family else person.days
        start, end = person.family_window() if family else person.window
        key = (clinician.id, person.timezone, start, end, tuple(days))
        cached = self._overlaps.get(key)
        if cached is not None:
            return cached
        best = 0
        shift_start, shift_end = _SHIFTS[clinician.shift]
        for day in days:
            if day not in clinician.days:
                continue
            mine = self._program_window(day, shift_start, shift_end, clinician.timezone)
            theirs = self._program_window(day, start, end, person.timezone)
            best = max(best, min(mine[1], theirs[1]) - max(mine[0], theirs[0]))
        self._overlaps[key] = best
        return best

    def _free_together(self, clinician: _Clinician, person: _Person) -> bool:
        """Whether the clinician can see the person (and their family) one to one."""
        return self._overlap_minutes(clinician, person) >= 60 and (
            person.population == "adult" or self._overlap_minutes(clinician, person, family=True) >= 60
        )

    def assign_primaries(self) -> None:
        """Each participant's primary therapist: licensed, qualified, free when they are.

        Load is balanced: nobody gets more than a quarter above the average one-to-one load
        while a suitable colleague has room. When every suitable clinician is full, a
        colleague of the same zone who is free at the right time is licensed (a compact
        licence) or trained (a qualification), as programs do when they grow.
        """
        staff = [c for c in self.clinicians if "prescriber" not in c.qualifications]
        total = sum(2.0 if p.population == "adolescent" else 1.0 for p in self.people)
        cap = 1.25 * total / len(staff) + 2.0
        for person in self.people:
            required = ["adolescent"] if person.population == "adolescent" else []
            hours = 2.0 if person.population == "adolescent" else 1.0
            free = [c for c in staff if self._free_together(c, person)]
            suitable = [c for c in free if person.state in c.licensed and all(q in c.qualifications for q in required)]
            candidates = [c for c in suitable if c.load + hours <= cap]
            if not candidates:
                roomy = [c for c in free if c.load + hours <= cap]
                if roomy:
                    chosen = min(
                        roomy,
                        key=lambda c: (
                            person.state not in c.licensed,
                            c.timezone != person.timezone,
                            len(c.licensed),
                            c.load,
                            int(c.id[1:]),
                        ),
                    )
                else:
                    chosen = min(suitable or free or staff, key=lambda c: (c.load, int(c.id[1:])))
                chosen.add_licence(person.state)
                for qualification in required:
                    chosen.add_qualification(qualification)
                candidates = [chosen]
            noise = self.rng.random(len(candidates)) * 0.5
            best = min(range(len(candidates)), key=lambda i: (candidates[i].load + noise[i], i))
            clinician = candidates[best]
            clinician.load += hours
            person.primary = clinician.id

    # ---------------------------------------------------------------- finishing touches

    def draw_constraints(self) -> None:
        """Avoid pairs, dual relationships, payer caps and preferences."""
        by_cohort: dict[tuple[str, str], list[_Person]] = {}
        for person in self.people:
            by_cohort.setdefault((person.state, person.track), []).append(person)
        for person in self.people:
            if self._chance(0.015):
                cohort = [p for p in by_cohort[(person.state, person.track)] if p.id != person.id and p.id not in person.avoid]
                if cohort:
                    person.avoid.append(cohort[int(self.rng.integers(len(cohort)))].id)
            if self._chance(0.01):
                licensed = [
                    c for c in self.clinicians
                    if person.state in c.licensed and c.id != person.primary and "prescriber" not in c.qualifications
                ]
                if len(licensed) >= 3:
                    person.avoid_therapists.append(licensed[int(self.rng.integers(len(licensed)))].id)
            # One payer caps drug and alcohol groups at 10; a few programs cap at 9.
            if "sud" in person.tags and self._chance(0.35):
                person.max_group_size = 10
            elif self._chance(0.03):
                person.max_group_size = 9
            person.preferred = self._chance(0.15)

    def size_hours(self) -> None:
        """Choose ``max_hours_per_week`` in 25-32 so that supply is close to demand."""
        demand = 0.0
        for person in self.people:
            demand += person.appointment_hours()
            demand += sum(
                _GROUP_BY_ID[g].duration * n / 60 / _GROUP_BY_ID[g].size[1] for g, n in person.needs.items()
            )
        target = self.config.capacity_ratio * demand / len(self.clinicians)
        for clinician in self.clinicians:
            jitter = int(self.rng.integers(-2, 3))
            clinician.max_hours = int(min(32, max(25, round(target) + jitter)))

    def group_start_times(self, spec: _GroupSpec, hours: tuple[int, int]) -> list[str]:
        """Typical start blocks of each track, in every zone whose people take the group."""
        zones = sorted({p.timezone for p in self.people if p.population == spec.population})
        starts: set[int] = set()
        for track in _TRACKS.values():
            if track.population != spec.population:
                continue
            local = list(range(track.start, track.end - spec.duration + 1, 60))
            if (track.end - spec.duration) % 30 == 0 and track.end - spec.duration >= track.start:
                local.append(track.end - spec.duration)
            for zone in zones:
                for minute in local:
                    program = self.clock.to_program_minute("mon", minute, zone)
                    if hours[0] <= program and program + spec.duration <= hours[1] and program % 30 == 0:
                        starts.add(program)
        return [format_time(m) for m in sorted(starts)]

    # ---------------------------------------------------------------- output

    def program_hours(self) -> tuple[int, int]:
        first, last = 24 * 60, 0
        for person in self.people:
            start, end = self._program_window("mon", person.window[0], person.window[1], person.timezone)
            first, last = min(first, start), max(last, end)
        first = max(0, first // 30 * 30)
        last = min(24 * 60, -(-last // 30) * 30)
        return first, last

    def document(self) -> dict[str, object]:
        config = self.config
        hours = self.program_hours()
        group_types: list[dict[str, object]] = []
        for group_id in self.group_ids:
            spec = _GROUP_BY_ID[group_id]
            entry: dict[str, object] = {
                "id": spec.id,
                "name": spec.name,
                "category": spec.category,
                "duration_minutes": spec.duration,
                "size": {"min": spec.size[0], "max": spec.size[1]},
                "population": spec.population,
                "start_times": self.group_start_times(spec, hours),
            }
            if spec.days:
                entry["days"] = list(spec.days)
            entry["requires_qualifications"] = list(spec.qualifications)
            if spec.tags:
                entry["requires_tags"] = list(spec.tags)
            group_types.append(entry)
        therapists = [
            {
                "id": c.id,
                "timezone": c.timezone,
                "licensed_states": c.licensed,
                "qualifications": c.qualifications,
                "availability": c.availability(),
                "max_hours_per_week": c.max_hours,
                "max_sessions_per_day": c.max_sessions_per_day,
                "min_break_minutes": c.min_break,
            }
            for c in self.clinicians
        ]
        participants: list[dict[str, object]] = []
        for p in self.people:
            assert p.primary is not None
            appointments: list[dict[str, object]] = [
                {"kind": "individual", "therapist": p.primary, "duration_minutes": 60}
            ]
            if p.population == "adolescent":
                family_start, family_end = p.family_window()
                family_window = f"{format_time(family_start)}-{format_time(family_end)}"
                appointments.append({
                    "kind": "family",
                    "therapist": p.primary,
                    "duration_minutes": 60,
                    "availability": {day: [family_window] for day in p.family_days},
                })
            if p.medication:
                appointments.append({"kind": "medication", "qualification": "prescriber", "duration_minutes": 30})
            entry = {
                "id": p.id,
                "state": p.state,
                "timezone": p.timezone,
                "population": p.population,
                "tags": p.tags,
                "availability": p.availability(),
                "needs": p.needs,
                "hours_per_week": {"min": 9 if p.population == "adult" else 6, "max": 19},
                "days_per_week": {"min": 3, "max": 5},
                "max_sessions_per_day": 3 if p.population == "adult" else 2,
                "appointments": appointments,
            }
            if p.avoid:
                entry["avoid"] = p.avoid
            if p.avoid_therapists:
                entry["avoid_therapists"] = p.avoid_therapists
            if p.max_group_size is not None:
                entry["max_group_size"] = p.max_group_size
            if p.preferred:
                entry["preferred_therapists"] = [p.primary]
            if p.priority != 1:
                entry["priority"] = p.priority
            participants.append(entry)
        return {
            "format": "iop-scenario/1",
            "program": {
                "name": config.name,
                "timezone": config.program_timezone,
                "week_start": config.week_start.isoformat(),
                "days": list(_PROGRAM_DAYS),
                "hours": f"{format_time(hours[0])}-{format_time(hours[1])}",
                "slot_minutes": 30,
                "max_concurrent_sessions": max(3, math.ceil(config.concurrency_share * len(self.clinicians))),
            },
            "group_types": group_types,
            "therapists": therapists,
            "participants": participants,
        }

    def build(self) -> Scenario:
        self.draw_people()
        self.choose_group_types()
        self.draw_needs()
        self.draw_clinicians()
        self.assign_primaries()
        self.draw_constraints()
        self.size_hours()
        return Scenario.model_validate(self.document())


def generate_scenario(size: str | GeneratorConfig, seed: int) -> Scenario:
    """A realistic scenario of one program week, the same for the same size and seed.

    Parameters
    ----------
    size
        ``"S"`` (about 40 participants, 5 therapists), ``"M"`` (150/14), ``"L"`` (500/40),
        ``"XL"`` (2,000/140), ``"harbor"`` (120/12: three states, two time zones, adults and
        adolescents), case-insensitive, or a :class:`GeneratorConfig` of one's own.
    seed
        Seed of the random draws.

    Returns
    -------
    Scenario
        A valid scenario (``models.validation.validate_scenario`` finds no error in it).

    Raises
    ------
    ValueError
        For an unknown size or a config naming a state without a known time zone.
    """
    return _Generator(_config_of(size), seed).build()


def scenario_figures(scenario: Scenario) -> dict[str, float]:
    """Headline figures of a scenario: people, needed sessions, demand and supply hours.

    ``demand_hours`` is appointments plus groups at full size (as ``iop-roster validate``
    reports it); ``supply_hours`` the therapists' available hours capped by their weekly
    maximum.
    """
    from models.validation import demand_hours, therapist_hours

    return {
        "participants": len(scenario.participants),
        "therapists": len(scenario.therapists),
        "adolescents": sum(p.population == "adolescent" for p in scenario.participants),
        "needed_group_sessions": sum(sum(p.needs.values()) for p in scenario.participants),
        "needed_appointments": sum(a.count for p in scenario.participants for a in p.appointments),
        "demand_hours": demand_hours(scenario),
        "supply_hours": therapist_hours(scenario),
    }
