"""What every export shares: sessions on real dates, people's clocks, and the week's figures.

The schedule is written in program time (``day`` + ``"HH:MM"`` on the program's clock). The
exports need real dates and, for calendars, each person's own clock; this module turns a
:class:`~models.schedule.ScheduledSession` into a :class:`TimedSession` once, through
:class:`models.clock.WeekClock`, so the daylight-saving rules live in one place.

It also computes the figures shown by the workbook, the report and its charts: coverage
(seats delivered against seats needed, per group type and appointment kind) and therapist
utilisation (scheduled hours against available hours).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime

from models.clock import (
    DAY_INDEX,
    MINUTES_PER_DAY,
    WeekClock,
    intersect_intervals,
    parse_time,
    parse_window,
)
from models.scenario import Scenario, quote
from models.schedule import Schedule, ScheduledSession


def end_minute(text: str) -> int:
    """Minutes after midnight of a session end (``"24:00"`` allowed, unlike a start)."""
    if text == "24:00":
        return MINUTES_PER_DAY
    return parse_time(text)


@dataclass(frozen=True)
class TimedSession:
    """A scheduled session with its program minutes and its real date.

    Attributes
    ----------
    session
        The session as written in the schedule.
    start_minute, end_minute
        Program minutes of the week (``day_index * 1440 + minute_of_day``).
    date
        Calendar date of the session's program day.
    """

    session: ScheduledSession
    start_minute: int
    end_minute: int
    date: date

    @property
    def duration_minutes(self) -> int:
        """Length of the session in minutes."""
        return self.end_minute - self.start_minute

    @property
    def is_group(self) -> bool:
        """Whether this is a group session (as opposed to an appointment)."""
        return self.session.kind == "group"


def week_clock(scenario: Scenario) -> WeekClock:
    """The program's week clock."""
    return WeekClock(scenario.program.timezone, scenario.program.week_start)


def timed_sessions(scenario: Scenario, schedule: Schedule) -> list[TimedSession]:
    """The schedule's sessions on real dates, in time order (then therapist, then id)."""
    clock = week_clock(scenario)
    out: list[TimedSession] = []
    for session in schedule.sessions:
        day = DAY_INDEX[session.day]
        out.append(
            TimedSession(
                session=session,
                start_minute=day * MINUTES_PER_DAY + parse_time(session.start),
                end_minute=day * MINUTES_PER_DAY + end_minute(session.end),
                date=clock.date_of(day),
            )
        )
    out.sort(key=lambda t: (t.start_minute, t.session.therapist, t.session.id))
    return out


def local_span(scenario: Scenario, timed: TimedSession, timezone: str | None) -> tuple[datetime, datetime]:
    """Aware start and end of a session on the wall clock of ``timezone`` (None: program)."""
    clock = week_clock(scenario)
    return clock.to_local(timed.start_minute, timezone), clock.to_local(timed.end_minute, timezone)


def participant_timezone(scenario: Scenario, participant_id: str) -> str:
    """A participant's own time zone, else the program's."""
    return scenario.participant(participant_id).timezone or scenario.program.timezone


def therapist_timezone(scenario: Scenario, therapist_id: str) -> str:
    """A therapist's own time zone, else the program's."""
    return scenario.therapist(therapist_id).timezone or scenario.program.timezone


def group_type_label(scenario: Scenario, group_type_id: str | None) -> str:
    """Display name of a group type (its ``name``, else its id); ``""`` for None."""
    if group_type_id is None:
        return ""
    for group_type in scenario.group_types:
        if group_type.id == group_type_id:
            return group_type.name or group_type.id
    return group_type_id


def session_label(scenario: Scenario, session: ScheduledSession) -> str:
    """Staff-facing title: the group type's name, or the appointment's kind."""
    if session.kind == "group":
        return group_type_label(scenario, session.group_type)
    return session.kind.replace("_", " ").capitalize()


def session_category(session: ScheduledSession) -> str:
    """The key colours and coverage are grouped by: the group type id, or the appointment kind."""
    if session.kind == "group":
        return session.group_type or session.kind
    return session.kind


def check_references(scenario: Scenario, schedule: Schedule) -> list[tuple[str, str]]:
    """Ids the schedule uses that the scenario does not define: ``(path, message)`` pairs.

    Messages quote ids only.
    """
    therapists = {t.id for t in scenario.therapists}
    participants = {p.id for p in scenario.participants}
    group_types = {g.id for g in scenario.group_types}
    problems: list[tuple[str, str]] = []
    for index, session in enumerate(schedule.sessions):
        where = f"sessions[{index}] (id {session.id})"
        if session.therapist not in therapists:
            problems.append((f"{where}.therapist", f"{session.therapist} is not a therapist of the scenario"))
        for participant in session.participants:
            if participant not in participants:
                problems.append((f"{where}.participants", f"{participant} is not a participant of the scenario"))
        if session.kind == "group" and session.group_type not in group_types:
            problems.append((f"{where}.group_type", f"{session.group_type} is not a group type of the scenario"))
    for index, unmet in enumerate(schedule.unmet):
        if unmet.participant not in participants:
            problems.append((f"unmet[{index}].participant", f"{unmet.participant} is not a participant of the scenario"))
    return problems


def require_references(scenario: Scenario, schedule: Schedule, where: str) -> None:
    """Raise :class:`models.errors.InvalidDocument` (``where`` names the schedule) when the
    schedule uses ids the scenario lacks: every reader of a schedule beside its scenario (the
    exports, diff, explain; the CLI and the library alike) refuses such a pair this way."""
    from models.errors import InvalidDocument, Issue

    problems = check_references(scenario, schedule)
    if problems:
        raise InvalidDocument(where, [Issue(path, message, "error", where) for path, message in problems])


def require_positive_lengths(schedule: Schedule, where: str) -> None:
    """Raise :class:`models.errors.InvalidDocument` when a session does not end after it starts.

    A hand-edited schedule may say ``start: "03:00"``, ``end: "02:00"``: the checker reports
    it (rule 0), and an export must not turn it into a calendar event that ends before it
    begins (RFC 5545 refuses one; calendar apps drop or garble it) or a block of negative
    height. Messages quote times and ids only.
    """
    from models.errors import InvalidDocument, Issue

    issues = [
        Issue(
            f"sessions[{index}] (id {session.id}).end",
            f"{session.end} is not after the start {session.start}: a session ends after it starts",
            "error",
            where,
        )
        for index, session in enumerate(schedule.sessions)
        if end_minute(session.end) <= parse_time(session.start)
    ]
    if issues:
        raise InvalidDocument(where, issues)


@dataclass(frozen=True)
class CoverageRow:
    """Seats delivered against seats needed for one group type or appointment kind.

    A seat is one participant in one session; ``needed`` sums the participants' ``needs``
    (group types) or appointment ``count`` (kinds).
    """

    key: str
    label: str
    is_group: bool
    needed: int
    delivered: int

    @property
    def shown_key(self) -> str:
        """``key`` as a log line may show it (an appointment kind is a free label: the CLI's
        summary table describes one that could carry a name, see :func:`models.scenario.quote`)."""
        return quote(self.key, bare=True)

    @property
    def share(self) -> float:
        """``delivered / needed`` (1.0 when nothing was needed)."""
        return self.delivered / self.needed if self.needed else 1.0


def coverage(scenario: Scenario, schedule: Schedule) -> list[CoverageRow]:
    """Coverage per group type (scenario order) then per appointment kind (by name)."""
    needed: dict[str, int] = defaultdict(int)
    delivered: dict[str, int] = defaultdict(int)
    kinds: set[str] = set()
    for participant in scenario.participants:
        for group_type_id, count in participant.needs.items():
            needed[group_type_id] += count
        for appointment in participant.appointments:
            needed[appointment.kind] += appointment.count
            kinds.add(appointment.kind)
    for session in schedule.sessions:
        key = session_category(session)
        if session.kind != "group":
            kinds.add(key)
        delivered[key] += len(session.participants)
    rows = [
        CoverageRow(g.id, g.name or g.id, True, needed[g.id], delivered[g.id])
        for g in scenario.group_types
        if needed[g.id] or delivered[g.id]
    ]
    rows += [
        CoverageRow(kind, kind.replace("_", " ").capitalize(), False, needed[kind], delivered[kind])
        for kind in sorted(kinds)
    ]
    return rows


@dataclass(frozen=True)
class UtilisationRow:
    """A therapist's scheduled hours against the hours they could work this week.

    ``available_hours`` is their availability inside the program's days and hours, capped by
    ``max_hours_per_week`` when they have one.
    """

    therapist: str
    sessions: int
    scheduled_hours: float
    available_hours: float
    max_hours: float | None

    @property
    def share(self) -> float:
        """``scheduled / available`` (0.0 when nothing is available)."""
        return self.scheduled_hours / self.available_hours if self.available_hours else 0.0


def program_windows(scenario: Scenario) -> list[tuple[int, int]]:
    """Program minutes of the week inside ``program.days`` x ``program.hours``."""
    start, end = parse_window(scenario.program.hours)
    return [(DAY_INDEX[d] * MINUTES_PER_DAY + start, DAY_INDEX[d] * MINUTES_PER_DAY + end) for d in scenario.program.days]


def utilisation(scenario: Scenario, schedule: Schedule) -> list[UtilisationRow]:
    """Utilisation of every therapist of the scenario, in scenario order."""
    clock = week_clock(scenario)
    program = program_windows(scenario)
    minutes: dict[str, int] = defaultdict(int)
    counts: dict[str, int] = defaultdict(int)
    for timed in timed_sessions(scenario, schedule):
        minutes[timed.session.therapist] += timed.duration_minutes
        counts[timed.session.therapist] += 1
    rows = []
    for therapist in scenario.therapists:
        windows = clock.windows_to_program(therapist.availability, therapist.timezone)
        # Real time: on the day clocks change, a wall-clock window is an hour shorter or longer.
        available = clock.elapsed_minutes(intersect_intervals(windows, program)) / 60
        if therapist.max_hours_per_week is not None:
            available = min(available, therapist.max_hours_per_week)
        rows.append(
            UtilisationRow(
                therapist=therapist.id,
                sessions=counts[therapist.id],
                scheduled_hours=minutes[therapist.id] / 60,
                available_hours=available,
                max_hours=therapist.max_hours_per_week,
            )
        )
    return rows


#: Colour-blind-safe palette (Okabe-Ito, then Tol's muted) for group types and kinds.
PALETTE: tuple[str, ...] = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#CC79A7",
    "#56B4E9",
    "#D55E00",
    "#F0E442",
    "#332288",
    "#44AA99",
    "#882255",
    "#999933",
    "#AA4499",
)
APPOINTMENT_COLOUR = "#7F7F7F"
#: Greys for appointment kinds (by name), so that groups stand out and kinds still differ.
APPOINTMENT_GREYS: tuple[str, ...] = ("#7F7F7F", "#A6A6A6", "#595959", "#C4C4C4")


def colours(scenario: Scenario, schedule: Schedule) -> dict[str, str]:
    """Colour of every category (group type id in scenario order, then appointment kinds)."""
    out: dict[str, str] = {}
    for index, group_type in enumerate(scenario.group_types):
        out[group_type.id] = PALETTE[index % len(PALETTE)]
    kinds = {session_category(s) for s in schedule.sessions} | {
        a.kind for p in scenario.participants for a in p.appointments
    }
    for index, kind in enumerate(sorted(kinds - set(out))):
        out[kind] = APPOINTMENT_GREYS[index % len(APPOINTMENT_GREYS)]
    return out


def text_colour(background: str) -> str:
    """Black or white, whichever reads better on ``background`` (``#RRGGBB``)."""
    red, green, blue = (int(background[i : i + 2], 16) for i in (1, 3, 5))
    return "#000000" if 0.299 * red + 0.587 * green + 0.114 * blue > 150 else "#FFFFFF"
