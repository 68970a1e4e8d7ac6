"""The independent checker: does a schedule obey every hard rule of its scenario?

This module re-derives hard rules 1-7 of ``shared/scenario-format.md`` from the scenario and
the schedule alone. It shares no code with the CP-SAT model (``optimizer.model*``,
``optimizer.data``, ``optimizer.solve``): it is how we know that model is right, so a bug
there must not be able to hide behind the same bug here. It uses only :mod:`models` and the
time module :mod:`models.clock`.

The checker reads the schedule as written, in the program's wall clock: ``day``, ``start``
and ``end`` of a session are program time, and every person's availability (weekly windows,
recurring every week) is converted into that clock on the real dates of the scheduled week
and the weeks beside it (:meth:`models.clock.WeekClock.windows_to_program`).
It never raises on a well-formed :class:`~models.schedule.Schedule`: unknown ids, impossible
times and the like are reported as rule-0 (schedule form) violations, and the checks that
cannot be made about such a session are skipped.

Besides violations it recomputes what the optimizer claims: coverage (the level-1 objective),
the lower objective levels, the schedule's summary figures and the list of unmet needs,
and warns where the schedule's own figures disagree.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field

from models.clock import (
    DAY_INDEX,
    DAYS,
    MINUTES_PER_DAY,
    Interval,
    WeekClock,
    covers,
    format_time,
    parse_time,
    parse_window,
)
from models.io import LoadedScenario
from models.scenario import Appointment, Availability, GroupType, Participant, Scenario, Therapist
from models.scenario import quote as _quote
from models.schedule import Schedule, ScheduledSession
from optimizer.inputs import as_scenario, as_schedule

__all__ = ["RULE_TITLES", "CheckReport", "Violation", "check"]

#: One line per rule number, for reports (0 is the schedule's own form).
RULE_TITLES: dict[int, str] = {
    0: "schedule form (ids, times, durations)",
    1: "group size and eligibility",
    2: "therapist qualifications, licensure and availability",
    3: "no double booking; therapist breaks",
    4: "participant availability, caps, avoid lists and group-size caps",
    5: "therapist weekly hours and sessions per day",
    6: "program days and hours, start times, concurrent sessions, sessions per type",
    7: "no more sessions than needed",
}

# Figures compared with the schedule's own summary: a float key tolerates the rounding of a
# figure written with one or two decimals.
_SUMMARY_TOLERANCE = 0.06



def _q(value: str) -> str:
    """A label from the files (a kind, a tag, a need) as a message may show it: itself when
    it cannot carry a name (id-shaped), else described ("a text of 12 characters")."""
    return _quote(value, bare=True)


@dataclass(frozen=True)
class Violation:
    """One broken hard rule.

    Attributes
    ----------
    rule
        The numbered hard rule of ``scenario-format.md`` that is broken, 1 to 7; 0 means the
        schedule's own form (an unknown id, ``end`` not ``start`` plus the duration, a
        duplicate session id, an appointment without exactly one participant, ...).
    code
        A short stable slug naming the check, e.g. ``group_size`` or ``licensure``.
    message
        Plain words naming the session, the ids involved, the day and the times. Only ids:
        never a name or other personal data.
    session, participant, therapist
        The ids the violation is about, where there is one.
    """

    rule: int
    code: str
    message: str
    session: str | None = None
    participant: str | None = None
    therapist: str | None = None


@dataclass
class CheckReport:
    """What :func:`check` found.

    Attributes
    ----------
    violations
        Every broken hard rule, ordered by rule number, then by the order found.
    warnings
        Disagreements that are not rule violations: the schedule's ``unmet`` list, solver
        objective or summary differ from the recomputed figures, or the scenario's sha256
        differs from the one the schedule names.
    levels
        Recomputed objective levels and figures: ``coverage`` (the sum over participants of
        ``priority`` x delivered sessions, groups and appointments; level 1), ``needed``
        (the same with every need met), ``hours_shortfall_minutes`` and ``days_shortfall``
        (level 2), ``continuity_extra_therapists``, ``non_preferred_sessions`` and
        ``load_balance_hours`` (level 3), ``sessions`` and ``therapist_minutes`` (level 4).
    summary
        The schedule summary's figures, recomputed (same keys as the optimizer writes).
    unmet
        ``(participant, need, missing)`` for every need not delivered; ``need`` is a group
        type id or an appointment kind.
    """

    violations: list[Violation] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    levels: dict[str, float] = field(default_factory=dict)
    summary: dict[str, float | int] = field(default_factory=dict)
    unmet: list[tuple[str, str, int]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether the schedule breaks no hard rule."""
        return not self.violations

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form (``iop-roster check --format json``, the service)."""
        return {
            "ok": self.ok,
            "violations": [asdict(violation) for violation in self.violations],
            "warnings": list(self.warnings),
            "levels": dict(self.levels),
            "summary": dict(self.summary),
            "unmet": [
                {"participant": participant, "need": need, "missing": missing}
                for participant, need, missing in self.unmet
            ],
        }


@dataclass(frozen=True)
class _Timed:
    """A session whose times parse: minutes of the week in the program clock."""

    session: ScheduledSession
    order: int  # position in the schedule, for stable reports
    day: int
    start: int  # program minute of the week
    end: int

    @property
    def minutes(self) -> int:
        return self.end - self.start


def _clock_minute(text: str, *, is_end: bool) -> int | None:
    """Minute of the day of ``HH:MM``; an end may be ``24:00``. None if it does not parse."""
    if is_end and text == "24:00":
        return MINUTES_PER_DAY
    try:
        return parse_time(text)
    except (ValueError, TypeError):
        return None


def _where(session: ScheduledSession) -> str:
    return f"session {session.id} ({session.day} {session.start}-{session.end})"


def _fmt_hours(minutes: float) -> str:
    return f"{minutes / 60:g} h"


class _Checker:
    """One check of one schedule: lookups built once, then one method per rule family."""

    def __init__(self, scenario: Scenario, schedule: Schedule) -> None:
        self.scenario = scenario
        self.schedule = schedule
        self.program = scenario.program
        self.clock = WeekClock(scenario.program.timezone, scenario.program.week_start)
        self.group_types: dict[str, GroupType] = {g.id: g for g in scenario.group_types}
        self.therapists: dict[str, Therapist] = {t.id: t for t in scenario.therapists}
        self.participants: dict[str, Participant] = {p.id: p for p in scenario.participants}
        self.participant_windows: dict[str, list[Interval]] = {
            p.id: self.windows(p.availability, p.timezone) for p in scenario.participants
        }
        self.therapist_windows: dict[str, list[Interval]] = {
            t.id: self.windows(t.availability, t.timezone) for t in scenario.therapists
        }
        self.violations: list[Violation] = []
        self.warnings: list[str] = []
        # Filled by _check_form: sessions whose times parse, and the role of each session.
        self.timed: dict[int, _Timed] = {}
        self.group_sessions: list[tuple[int, ScheduledSession, GroupType]] = []  # (order, ...)
        self.appointment_sessions: list[tuple[int, ScheduledSession]] = []
        # (participant, appointment kind) -> sessions matched to one of its specs.
        self.appointments_delivered: dict[tuple[str, str], int] = defaultdict(int)

    # ------------------------------------------------------------------ helpers

    def windows(self, availability: Availability, timezone: str | None) -> list[Interval]:
        """Weekly windows read in ``timezone`` (None: the program's), in program minutes."""
        # Copied into a plain str-keyed dict: the scenario's keys are typed as day literals.
        by_day: dict[str, list[str]] = {str(day): list(windows) for day, windows in availability.items()}
        return self.clock.windows_to_program(by_day, timezone)

    def add(
        self,
        rule: int,
        code: str,
        message: str,
        session: ScheduledSession | None = None,
        participant: str | None = None,
        therapist: str | None = None,
    ) -> None:
        self.violations.append(
            Violation(rule, code, message, session.id if session is not None else None, participant, therapist)
        )

    def known_members(self, session: ScheduledSession) -> list[Participant]:
        """The session's participants that the scenario defines, each once, in listed order."""
        seen: set[str] = set()
        members: list[Participant] = []
        for ident in session.participants:
            if ident in self.participants and ident not in seen:
                seen.add(ident)
                members.append(self.participants[ident])
        return members

    def sessions_of_participants(self) -> dict[str, list[_Timed]]:
        by_participant: dict[str, list[_Timed]] = defaultdict(list)
        for timed in self.timed.values():
            for person in self.known_members(timed.session):
                by_participant[person.id].append(timed)
        return by_participant

    def sessions_of_therapists(self) -> dict[str, list[_Timed]]:
        by_therapist: dict[str, list[_Timed]] = defaultdict(list)
        for timed in self.timed.values():
            if timed.session.therapist in self.therapists:
                by_therapist[timed.session.therapist].append(timed)
        return by_therapist

    # ------------------------------------------------------------------ rule 0: form

    def check_form(self) -> None:
        """Ids known, times sane, durations right, kinds consistent (rule 0)."""
        seen_ids: set[str] = set()
        for order, session in enumerate(self.schedule.sessions):
            where = _where(session)
            if session.id in seen_ids:
                self.add(0, "duplicate_session", f"{where}: session id {session.id} is used by another session too", session)
            seen_ids.add(session.id)

            if session.therapist not in self.therapists:
                self.add(0, "unknown_therapist", f"{where}: therapist {session.therapist} is not in the scenario", session, therapist=session.therapist)
            listed: set[str] = set()
            for ident in session.participants:
                if ident in listed:
                    self.add(0, "duplicate_participant", f"{where}: participant {ident} is listed twice", session, participant=ident)
                listed.add(ident)
                if ident not in self.participants:
                    self.add(0, "unknown_participant", f"{where}: participant {ident} is not in the scenario", session, participant=ident)

            day = DAY_INDEX.get(session.day)
            start = _clock_minute(session.start, is_end=False)
            end = _clock_minute(session.end, is_end=True)
            if day is None or start is None or end is None:
                self.add(0, "times", f"{where}: day or times do not parse", session)
            elif end <= start:
                self.add(0, "times", f"{where}: ends before or when it starts", session)
            else:
                offset = day * MINUTES_PER_DAY
                self.timed[order] = _Timed(session, order, day, offset + start, offset + end)

            if session.kind == "group":
                if session.group_type is None:
                    self.add(0, "missing_group_type", f"{where}: a group session without a group_type", session)
                elif session.group_type not in self.group_types:
                    self.add(0, "unknown_group_type", f"{where}: group type {session.group_type} is not in the scenario", session)
                else:
                    group = self.group_types[session.group_type]
                    self.group_sessions.append((order, session, group))
                    timed = self.timed.get(order)
                    if timed is not None and timed.minutes != group.duration_minutes:
                        self.add(
                            0, "duration",
                            f"{where}: lasts {timed.minutes} minutes, but a {group.id} session lasts {group.duration_minutes}",
                            session,
                        )
            else:
                if session.group_type is not None:
                    self.add(0, "unexpected_group_type", f"{where}: a {_q(session.kind)} appointment names group type {session.group_type}", session)
                if len(session.participants) != 1:
                    self.add(
                        0, "appointment_participants",
                        f"{where}: a {_q(session.kind)} appointment lists {len(session.participants)} participants "
                        f"({', '.join(session.participants) or 'none'}) instead of exactly one",
                        session,
                    )
                self.appointment_sessions.append((order, session))

    # ------------------------------------------------------------------ rule 1: groups

    def check_group_eligibility(self) -> None:
        """Size within ``size``; population; ``requires_tags`` (rule 1)."""
        for _order, session, group in self.group_sessions:
            where = _where(session)
            size = len(set(session.participants))
            if not group.size.min <= size <= group.size.max:
                self.add(
                    1, "group_size",
                    f"{where}: {size} participants in a {group.id} session, which takes {group.size.min} to {group.size.max}",
                    session,
                )
            members = self.known_members(session)
            populations = {person.population for person in members}
            if group.population != "any":
                for person in members:
                    if person.population != group.population:
                        self.add(
                            1, "population",
                            f"{where}: {person.id} is {person.population}, and {group.id} is for {group.population} participants",
                            session, participant=person.id,
                        )
            elif len(populations) > 1:
                adolescents = [p.id for p in members if p.population == "adolescent"]
                self.add(
                    1, "population_mixed",
                    f"{where}: adolescents ({', '.join(adolescents)}) and adults in one session",
                    session, participant=adolescents[0],
                )
            for person in members:
                missing = [tag for tag in group.requires_tags if tag not in person.tags]
                if missing:
                    self.add(
                        1, "requires_tags",
                        f"{where}: {person.id} lacks tag(s) {', '.join(_q(tag) for tag in missing)} that {group.id} requires",
                        session, participant=person.id,
                    )

    # ------------------------------------------------------------------ rule 2: therapists

    def check_therapist_fit(self) -> None:
        """Qualifications, licensure in every member's state, availability (rule 2)."""
        for _order, session, group in self.group_sessions:
            therapist = self.therapists.get(session.therapist)
            if therapist is None:
                continue
            missing = [q for q in group.requires_qualifications if q not in therapist.qualifications]
            if missing:
                self.add(
                    2, "qualification",
                    f"{_where(session)}: {therapist.id} lacks qualification(s) {', '.join(missing)} that {group.id} requires",
                    session, therapist=therapist.id,
                )
        for order, session in enumerate(self.schedule.sessions):
            therapist = self.therapists.get(session.therapist)
            if therapist is None:
                continue
            for person in self.known_members(session):
                if person.state not in therapist.licensed_states:
                    self.add(
                        2, "licensure",
                        f"{_where(session)}: {therapist.id} is not licensed in {person.state}, where {person.id} is",
                        session, participant=person.id, therapist=therapist.id,
                    )
            timed = self.timed.get(order)
            if timed is not None and not covers(self.therapist_windows[therapist.id], timed.start, timed.end):
                zone = therapist.timezone or self.program.timezone
                self.add(
                    2, "therapist_unavailable",
                    f"{_where(session)}: {therapist.id} is not available for the whole session "
                    f"(program time; their availability is read in {zone})",
                    session, therapist=therapist.id,
                )

    # ------------------------------------------------------------------ rule 3: overlaps

    def check_overlaps(self) -> None:
        """Nobody in two sessions at once; therapists keep ``min_break_minutes`` (rule 3)."""
        for ident, sessions in self.sessions_of_participants().items():
            ordered = sorted(sessions, key=lambda t: (t.start, t.order))
            for i, first in enumerate(ordered):
                for second in ordered[i + 1 :]:
                    if second.start >= first.end:
                        break
                    self.add(
                        3, "participant_overlap",
                        f"{_where(second.session)}: {ident} is also in {_where(first.session)} at the same time",
                        second.session, participant=ident,
                    )
        for ident, sessions in self.sessions_of_therapists().items():
            therapist = self.therapists[ident]
            ordered = sorted(sessions, key=lambda t: (t.start, t.order))
            for i, first in enumerate(ordered):
                for second in ordered[i + 1 :]:
                    gap = second.start - first.end
                    if gap >= therapist.min_break_minutes:
                        # Later sessions start later still: no more clashes with `first`.
                        break
                    if gap < 0:
                        self.add(
                            3, "therapist_overlap",
                            f"{_where(second.session)}: {ident} also leads {_where(first.session)} at the same time",
                            second.session, therapist=ident,
                        )
                    else:
                        self.add(
                            3, "therapist_break",
                            f"{_where(second.session)}: only {gap} minutes after {_where(first.session)}; "
                            f"{ident} needs {therapist.min_break_minutes} minutes between sessions",
                            second.session, therapist=ident,
                        )

    # ------------------------------------------------------------------ rule 4: participants

    def check_participants(self) -> None:
        """Availability, daily/weekly caps, avoid lists, group-size caps (rule 4)."""
        for timed in sorted(self.timed.values(), key=lambda t: t.order):
            session = timed.session
            for person in self.known_members(session):
                if not covers(self.participant_windows[person.id], timed.start, timed.end):
                    zone = person.timezone or self.program.timezone
                    self.add(
                        4, "participant_unavailable",
                        f"{_where(session)}: {person.id} is not available for the whole session "
                        f"(program time; their availability is read in {zone})",
                        session, participant=person.id,
                    )
        for session in self.schedule.sessions:
            members = self.known_members(session)
            member_ids = {person.id for person in members}
            for person in members:
                if session.therapist in person.avoid_therapists:
                    self.add(
                        4, "avoid_therapist",
                        f"{_where(session)}: {person.id} may not see {session.therapist} (avoid_therapists)",
                        session, participant=person.id, therapist=session.therapist,
                    )
            # A pair is reported once, whichever of the two lists the other.
            reported: set[frozenset[str]] = set()
            for person in members:
                for other in person.avoid:
                    pair = frozenset((person.id, other))
                    if other in member_ids and pair not in reported:
                        reported.add(pair)
                        self.add(
                            4, "avoid",
                            f"{_where(session)}: {person.id} and {other} may not share a session (avoid)",
                            session, participant=person.id,
                        )
        for _order, session, _group in self.group_sessions:
            size = len(set(session.participants))
            for person in self.known_members(session):
                if person.max_group_size is not None and size > person.max_group_size:
                    self.add(
                        4, "max_group_size",
                        f"{_where(session)}: {size} participants, above the cap of {person.max_group_size} of {person.id}",
                        session, participant=person.id,
                    )
        for ident, sessions in self.sessions_of_participants().items():
            person = self.participants[ident]
            ordered = sorted(sessions, key=lambda t: (t.start, t.order))
            by_day: dict[int, list[_Timed]] = defaultdict(list)
            for timed in ordered:
                by_day[timed.day].append(timed)
            if person.max_sessions_per_day is not None:
                for day_sessions in by_day.values():
                    if len(day_sessions) > person.max_sessions_per_day:
                        extra = day_sessions[person.max_sessions_per_day]
                        self.add(
                            4, "participant_sessions_per_day",
                            f"{_where(extra.session)}: {ident} has {len(day_sessions)} sessions on {extra.session.day}, "
                            f"above their maximum of {person.max_sessions_per_day}",
                            extra.session, participant=ident,
                        )
            days_max = person.days_per_week.max
            if days_max is not None and len(by_day) > days_max:
                extra = by_day[sorted(by_day)[days_max]][0]
                self.add(
                    4, "participant_days",
                    f"{_where(extra.session)}: {ident} attends on {len(by_day)} days, above their maximum of {days_max}",
                    extra.session, participant=ident,
                )
            hours_max = person.hours_per_week.max
            total = sum(t.minutes for t in ordered)
            if hours_max is not None and total > hours_max * 60 + 1e-9:
                # Name the session that takes the running total over the cap.
                running = 0
                extra = ordered[-1]
                for timed in ordered:
                    running += timed.minutes
                    if running > hours_max * 60 + 1e-9:
                        extra = timed
                        break
                self.add(
                    4, "participant_hours",
                    f"{_where(extra.session)}: {ident} has {_fmt_hours(total)} of sessions this week, "
                    f"above their maximum of {hours_max:g} h",
                    extra.session, participant=ident,
                )

    # ------------------------------------------------------------------ rule 5: therapist caps

    def check_therapist_caps(self) -> None:
        """``max_hours_per_week`` and ``max_sessions_per_day`` (rule 5)."""
        for ident, sessions in self.sessions_of_therapists().items():
            therapist = self.therapists[ident]
            ordered = sorted(sessions, key=lambda t: (t.start, t.order))
            if therapist.max_sessions_per_day is not None:
                by_day: dict[int, list[_Timed]] = defaultdict(list)
                for timed in ordered:
                    by_day[timed.day].append(timed)
                for day_sessions in by_day.values():
                    if len(day_sessions) > therapist.max_sessions_per_day:
                        extra = day_sessions[therapist.max_sessions_per_day]
                        self.add(
                            5, "therapist_sessions_per_day",
                            f"{_where(extra.session)}: {ident} leads {len(day_sessions)} sessions on {extra.session.day}, "
                            f"above their maximum of {therapist.max_sessions_per_day}",
                            extra.session, therapist=ident,
                        )
            total = sum(t.minutes for t in ordered)
            cap = therapist.max_hours_per_week
            if cap is not None and total > cap * 60 + 1e-9:
                running = 0
                extra = ordered[-1]
                for timed in ordered:
                    running += timed.minutes
                    if running > cap * 60 + 1e-9:
                        extra = timed
                        break
                self.add(
                    5, "therapist_hours",
                    f"{_where(extra.session)}: {ident} has {_fmt_hours(total)} of sessions this week, above their maximum of {cap:g} h",
                    extra.session, therapist=ident,
                )

    # ------------------------------------------------------------------ rule 6: program

    def check_program(self) -> None:
        """Program days and hours, start grid and days of groups, concurrency, type caps (rule 6)."""
        hours_start, hours_end = parse_window(self.program.hours)
        slot = self.program.slot_minutes
        for timed in sorted(self.timed.values(), key=lambda t: t.order):
            session = timed.session
            where = _where(session)
            if session.day not in self.program.days:
                self.add(6, "program_day", f"{where}: {session.day} is not a program day", session)
            day_offset = timed.day * MINUTES_PER_DAY
            start, end = timed.start - day_offset, timed.end - day_offset
            if start < hours_start or end > hours_end:
                self.add(6, "program_hours", f"{where}: outside program hours {self.program.hours}", session)
            for change_start, change_end in self.clock.clock_changes():
                if timed.start < change_end and change_start < timed.end:
                    day_name = DAYS[change_start // MINUTES_PER_DAY]
                    span = f"{format_time(change_start % MINUTES_PER_DAY)}-{format_time(change_end % MINUTES_PER_DAY) if change_end % MINUTES_PER_DAY else '24:00'}"
                    self.add(
                        6, "clock_change",
                        f"{where}: overlaps {day_name} {span}, the wall times the program's clock skips or repeats "
                        "(daylight saving time): its times name no real moment, or two",
                        session,
                    )
            group = self.group_types.get(session.group_type or "") if session.kind == "group" else None
            if group is not None and group.start_times is not None:
                if start not in {parse_time(t) for t in group.start_times}:
                    self.add(
                        6, "start_time",
                        f"{where}: {group.id} may start only at {', '.join(group.start_times)}",
                        session,
                    )
            elif (start - hours_start) % slot:
                self.add(
                    6, "slot_grid",
                    f"{where}: starts off the {slot}-minute grid counted from {self.program.hours[:5]}",
                    session,
                )
            if group is not None and group.days is not None and session.day not in group.days:
                self.add(6, "group_day", f"{where}: {group.id} runs only on {', '.join(group.days)}", session)

        per_type: dict[str, list[ScheduledSession]] = defaultdict(list)
        for _order, session, group in self.group_sessions:
            per_type[group.id].append(session)
        for group_id, sessions in per_type.items():
            cap = self.group_types[group_id].max_sessions_per_week
            if cap is not None and len(sessions) > cap:
                extra = sessions[cap]
                self.add(
                    6, "type_sessions_per_week",
                    f"{_where(extra)}: {len(sessions)} {group_id} sessions this week, above its maximum of {cap}",
                    extra,
                )

        limit = self.program.max_concurrent_sessions
        for moment, running in self.overloads(limit):
            day, minute = divmod(moment, MINUTES_PER_DAY)
            names = ", ".join(t.session.id for t in running)
            starter = max(running, key=lambda t: (t.start, t.order))
            self.add(
                6, "concurrency",
                f"{_where(starter.session)}: {len(running)} sessions run at once from "
                f"{list(DAY_INDEX)[day]} {minute // 60:02d}:{minute % 60:02d} ({names}), "
                f"above max_concurrent_sessions {limit}",
                starter.session,
            )

    def running_sets(self) -> Iterable[tuple[int, list[_Timed]]]:
        """Each moment a session starts, with the sessions running just after it."""
        events = sorted(
            [(t.start, 1, t.order) for t in self.timed.values()] + [(t.end, 0, t.order) for t in self.timed.values()]
        )
        running: dict[int, _Timed] = {}
        index = 0
        while index < len(events):
            moment = events[index][0]
            started = False
            # Half-open sessions: everything ending at `moment` leaves before anything starting then.
            while index < len(events) and events[index][0] == moment:
                _, kind, order = events[index]
                if kind == 0:
                    running.pop(order, None)
                else:
                    running[order] = self.timed[order]
                    started = True
                index += 1
            if started:
                yield moment, sorted(running.values(), key=lambda t: t.order)

    def overloads(self, limit: int | None) -> list[tuple[int, list[_Timed]]]:
        """Moments at which running sessions first exceed ``limit`` (one per overload episode)."""
        if limit is None:
            return []
        found: list[tuple[int, list[_Timed]]] = []
        previous: set[int] = set()
        for moment, running in self.running_sets():
            orders = {t.order for t in running}
            # A new episode, or a larger set than the one already reported.
            if len(running) > limit and not orders <= previous:
                found.append((moment, running))
            previous = orders if len(running) > limit else set()
        return found

    def peak_concurrent(self) -> int:
        return max((len(running) for _, running in self.running_sets()), default=0)

    # ------------------------------------------------------------------ rule 7: needs

    def check_group_needs(self) -> None:
        """No participant in more sessions of a type than ``needs`` asks (rule 7)."""
        for (ident, group_id), sessions in self.group_attendance().items():
            need = self.participants[ident].needs.get(group_id, 0)
            for session in sessions[need:]:
                self.add(
                    7, "needs_exceeded",
                    f"{_where(session)}: {ident} is in {len(sessions)} {group_id} sessions, but needs {need}",
                    session, participant=ident,
                )

    def group_attendance(self) -> dict[tuple[str, str], list[ScheduledSession]]:
        """``(participant, group type)`` -> their sessions of it, in time order."""
        def when(order: int) -> tuple[int, int]:
            timed = self.timed.get(order)
            # Sessions whose times do not parse (rule 0) count last.
            return (timed.start if timed is not None else 10**9, order)

        orders: dict[tuple[str, str], list[int]] = defaultdict(list)
        for order, session, group in self.group_sessions:
            for person in self.known_members(session):
                orders[(person.id, group.id)].append(order)
        return {
            key: [self.schedule.sessions[order] for order in sorted(found, key=when)]
            for key, found in orders.items()
        }

    # ------------------------------------------------------------------ appointments

    def check_appointments(self) -> None:
        """Match each appointment session to one of its participant's specs (rules 0, 2, 4, 7).

        A participant may have several specs of one kind (a named therapist, or any holder of
        a qualification; each with its duration, count and availability), so which session
        fills which spec is a bipartite b-matching. It is solved exactly by augmenting paths,
        first over the pairs that satisfy everything (therapist, duration, the spec's own
        availability): the appointments are valid iff that matching covers every session.
        Sessions left over are then matched over the pairs that break only availability,
        so that a session only its spec's own availability rules out is reported as such.
        """
        by_need: dict[tuple[str, str], list[_Timed]] = defaultdict(list)
        for order, session in self.appointment_sessions:
            timed = self.timed.get(order)
            if (
                timed is None
                or len(session.participants) != 1
                or session.participants[0] not in self.participants
                or session.therapist not in self.therapists
            ):
                continue  # already a rule-0 violation; it delivers nothing
            by_need[(session.participants[0], session.kind)].append(timed)

        for (ident, kind), sessions in by_need.items():
            person = self.participants[ident]
            therapist_of = {t.order: self.therapists[t.session.therapist] for t in sessions}
            specs = [a for a in person.appointments if a.kind == kind]
            spec_windows = [
                None if a.availability is None else self.windows(a.availability, person.timezone)
                for a in specs
            ]

            def leads(therapist: Therapist, spec: Appointment) -> bool:
                return spec.therapist == therapist.id or (
                    spec.qualification is not None and spec.qualification in therapist.qualifications
                )

            loose: dict[int, list[int]] = {}
            strict: dict[int, list[int]] = {}
            for timed in sessions:
                therapist = therapist_of[timed.order]
                loose[timed.order] = [
                    k for k, spec in enumerate(specs)
                    if leads(therapist, spec) and spec.duration_minutes == timed.minutes
                ]
                strict[timed.order] = [
                    k for k in loose[timed.order]
                    if (windows := spec_windows[k]) is None or covers(windows, timed.start, timed.end)
                ]
            capacity = [spec.count for spec in specs]
            assigned: dict[int, int] = {}
            load = [0] * len(specs)
            for edges in (strict, loose):
                for timed in sorted(sessions, key=lambda t: (t.start, t.order)):
                    if timed.order not in assigned:
                        _augment(timed.order, edges, assigned, load, capacity, set())
            self.appointments_delivered[(ident, kind)] = len(assigned)

            for timed in sorted(sessions, key=lambda t: (t.start, t.order)):
                session, therapist = timed.session, therapist_of[timed.order]
                where = _where(session)
                spec_index = assigned.get(timed.order)
                if spec_index is not None:
                    generally_available = covers(self.participant_windows[ident], timed.start, timed.end)
                    if spec_index not in strict[timed.order] and generally_available:
                        self.add(
                            4, "participant_unavailable",
                            f"{where}: outside the availability of {ident}'s {_q(kind)} appointment "
                            f"(read in {person.timezone or self.program.timezone})",
                            session, participant=ident,
                        )
                elif not specs:
                    self.add(
                        7, "appointment_not_needed",
                        f"{where}: {ident} has no appointment of kind {_q(kind)} in the scenario",
                        session, participant=ident,
                    )
                elif not any(leads(therapist, spec) for spec in specs):
                    self.add(
                        2, "appointment_therapist",
                        f"{where}: {therapist.id} is neither named by nor qualified for any {_q(kind)} appointment of {ident}",
                        session, participant=ident, therapist=therapist.id,
                    )
                elif not loose[timed.order]:
                    durations = sorted({spec.duration_minutes for spec in specs if leads(therapist, spec)})
                    self.add(
                        0, "duration",
                        f"{where}: lasts {timed.minutes} minutes, but {ident}'s {_q(kind)} appointment with "
                        f"{therapist.id} lasts {' or '.join(str(d) for d in durations)}",
                        session, participant=ident, therapist=therapist.id,
                    )
                else:
                    asked = sum(capacity)
                    self.add(
                        7, "appointments_exceeded",
                        f"{where}: {ident} has {len(sessions)} {_q(kind)} appointments, but needs {asked}",
                        session, participant=ident,
                    )

    # ------------------------------------------------------------------ figures

    def figures(self) -> tuple[dict[str, float], dict[str, float | int], list[tuple[str, str, int]]]:
        """Objective levels, summary and unmet needs of the schedule as written.

        Delivered sessions count as written, whatever rule they may break, capped by what
        each participant needs: a session beyond a need delivers nothing (and is a rule-7
        violation). An appointment counts when it is matched to one of its specs.
        """
        attendance = self.group_attendance()
        coverage = needed = 0.0
        delivered_groups = needed_groups = delivered_appointments = needed_appointments = 0
        unmet: list[tuple[str, str, int]] = []
        for person in self.scenario.participants:
            for group_id, need in person.needs.items():
                got = min(len(attendance.get((person.id, group_id), [])), need)
                delivered_groups += got
                needed_groups += need
                coverage += person.priority * got
                needed += person.priority * need
                if got < need:
                    unmet.append((person.id, group_id, need - got))
            asked: dict[str, int] = defaultdict(int)
            for spec in person.appointments:
                asked[spec.kind] += spec.count
            for kind, need in asked.items():
                got = min(self.appointments_delivered.get((person.id, kind), 0), need)
                delivered_appointments += got
                needed_appointments += need
                coverage += person.priority * got
                needed += person.priority * need
                if got < need:
                    unmet.append((person.id, kind, need - got))

        by_participant = self.sessions_of_participants()
        hours_shortfall = days_shortfall = 0.0
        non_preferred = 0
        for person in self.scenario.participants:
            sessions = by_participant.get(person.id, [])
            minutes = sum(t.minutes for t in sessions)
            hours_shortfall += max(0.0, person.hours_per_week.min * 60 - minutes)
            days_shortfall += max(0, person.days_per_week.min - len({t.day for t in sessions}))
            if person.preferred_therapists:
                non_preferred += sum(1 for t in sessions if t.session.therapist not in person.preferred_therapists)
        therapists_seen: dict[tuple[str, str], set[str]] = defaultdict(set)
        for _order, session, group in self.group_sessions:
            for person in self.known_members(session):
                therapists_seen[(person.id, group.id)].add(session.therapist)
        continuity_extra = sum(len(seen) - 1 for seen in therapists_seen.values())

        therapist_minutes = sum(t.minutes for t in self.timed.values())
        loads = defaultdict(int, {ident: sum(t.minutes for t in s) for ident, s in self.sessions_of_therapists().items()})
        all_loads = [loads[t.id] for t in self.scenario.therapists]
        # Level 3's balance: the busiest therapist's hours (a measure above the average would
        # reward more therapist hours, splitting groups for nothing, against level 4).
        load_balance = max(all_loads) / 60 if all_loads else 0.0

        levels: dict[str, float] = {
            "coverage": coverage,
            "needed": needed,
            "hours_shortfall_minutes": hours_shortfall,
            "days_shortfall": days_shortfall,
            "continuity_extra_therapists": float(continuity_extra),
            "non_preferred_sessions": float(non_preferred),
            "load_balance_hours": round(load_balance, 4),
            "sessions": float(len(self.schedule.sessions)),
            "therapist_minutes": float(therapist_minutes),
        }
        summary: dict[str, float | int] = {
            "delivered_group_sessions": delivered_groups,
            "needed_group_sessions": needed_groups,
            "delivered_appointments": delivered_appointments,
            "needed_appointments": needed_appointments,
            "weighted_unmet": int(round(needed - coverage)),
            "sessions": len(self.schedule.sessions),
            "group_sessions_run": sum(1 for s in self.schedule.sessions if s.kind == "group"),
            "therapist_hours": round(therapist_minutes / 60, 2),
            "peak_concurrent_sessions": self.peak_concurrent(),
        }
        return levels, summary, unmet

    def compare(self, levels: dict[str, float], summary: dict[str, float | int], unmet: list[tuple[str, str, int]]) -> None:
        """Warn where the schedule's own unmet list, objective or summary disagree."""
        claimed: dict[tuple[str, str], int] = defaultdict(int)
        for entry in self.schedule.unmet:
            claimed[(entry.participant, entry.need)] += entry.missing
        real: dict[tuple[str, str], int] = defaultdict(int)
        for ident, need, missing in unmet:
            real[(ident, need)] += missing
        for key in sorted(set(claimed) | set(real)):
            ident, need = key
            if claimed.get(key, 0) != real.get(key, 0):
                self.warnings.append(
                    f"unmet: the schedule lists {claimed.get(key, 0)} missing of {_q(need)} for {_q(ident)}; "
                    f"recomputed from the sessions: {real.get(key, 0)}"
                )
        objective = self.schedule.solver.objective
        if objective is not None and abs(objective - levels["coverage"]) > 1e-6:
            self.warnings.append(
                f"solver.objective is {objective:g}; recomputed from the sessions, the priority-weighted "
                f"coverage is {levels['coverage']:g}"
            )
        # Level 2 as the solver wrote it (a schedule said "minimums: 0" over 2,850 minutes of
        # shortfall). The solver counts a fractional minimum in whole minutes, rounded up:
        # up to a minute per participant may differ.
        written_levels = getattr(self.schedule.solver, "levels", None)
        minimums = written_levels.get("minimums") if isinstance(written_levels, dict) else None
        if isinstance(minimums, int | float) and not isinstance(minimums, bool):
            weights = self.scenario.objective
            expected = (weights.hours_shortfall * levels["hours_shortfall_minutes"]
                        + weights.days_shortfall * 60 * levels["days_shortfall"])
            if abs(float(minimums) - expected) > weights.hours_shortfall * len(self.scenario.participants) + 1e-6:
                self.warnings.append(
                    f"solver.levels.minimums is {float(minimums):g}; recomputed from the sessions, the weighted "
                    f"shortfall below the program minimums is {expected:g}"
                )
        for figure, value in summary.items():
            written = self.schedule.summary.get(figure)
            if isinstance(written, bool) or not isinstance(written, int | float):
                continue
            if abs(float(written) - float(value)) > _SUMMARY_TOLERANCE:
                self.warnings.append(f"summary.{figure} is {written:g}; recomputed from the sessions: {value:g}")

    def run(self) -> None:
        # check_form first: every other family works from the sessions it classified and timed.
        self.check_form()
        self.check_group_eligibility()
        self.check_therapist_fit()
        self.check_overlaps()
        self.check_participants()
        self.check_therapist_caps()
        self.check_program()
        self.check_group_needs()
        self.check_appointments()


def _augment(
    session: int,
    edges: dict[int, list[int]],
    assigned: dict[int, int],
    load: list[int],
    capacity: list[int],
    visited: set[int],
) -> bool:
    """Find an augmenting path for ``session`` in a b-matching of sessions to specs.

    The recursion moves already assigned sessions to other specs, each spec visited at most
    once, so its depth is bounded by the number of specs of one kind (a handful).
    """
    for spec in edges[session]:
        if spec in visited:
            continue
        visited.add(spec)
        if load[spec] < capacity[spec]:
            assigned[session] = spec
            load[spec] += 1
            return True
        for other in [s for s, k in assigned.items() if k == spec]:
            if other in edges and _augment(other, edges, assigned, load, capacity, visited):
                # `other` moved to another spec (whose load it raised); `session` takes its place.
                load[spec] -= 1
                assigned[session] = spec
                load[spec] += 1
                return True
    return False


def check(scenario: Scenario | LoadedScenario | Mapping[str, object], schedule: Schedule | Mapping[str, object], *, scenario_sha256: str | None = None) -> CheckReport:
    """Check a schedule against every hard rule of its scenario and recompute its figures.

    Parameters
    ----------
    scenario
        The scenario the schedule claims to serve: ``models.load_scenario(path)`` or its
        ``.scenario``, or a parsed document (validated first, :mod:`optimizer.inputs`).
    schedule
        A schedule of well-formed sessions (from the optimizer, or edited by hand), or a
        parsed schedule document.
    scenario_sha256
        The sha256 of the scenario file as loaded; a warning is given when the schedule
        names a different one. Given a ``LoadedScenario``, both its file's and its content's
        digest (``LoadedScenario.digests``: the service records the content's) match.

    Returns
    -------
    CheckReport
        Every violation (``report.ok`` when none), warnings, the recomputed objective levels,
        summary and unmet needs.
    """
    digests = frozenset([scenario_sha256]) if scenario_sha256 is not None else frozenset()
    if isinstance(scenario, LoadedScenario) and scenario_sha256 is None:
        scenario_sha256, digests = scenario.sha256, scenario.digests()
    scenario = as_scenario(scenario, "check")
    schedule = as_schedule(schedule, "check")
    checker = _Checker(scenario, schedule)
    checker.run()
    levels, summary, unmet = checker.figures()
    checker.compare(levels, summary, unmet)
    if scenario_sha256 is not None and schedule.scenario.sha256 is not None and schedule.scenario.sha256 not in digests:
        checker.warnings.append(
            f"the schedule was made for a scenario with sha256 {schedule.scenario.sha256[:12]}..., "
            f"not this one ({scenario_sha256[:12]}...): the scenario may have changed since"
        )
    if schedule.scenario.name != scenario.program.name:
        checker.warnings.append("the schedule names a different program than the scenario")
    violations = sorted(checker.violations, key=lambda v: v.rule)
    return CheckReport(violations, checker.warnings, levels, summary, unmet)
