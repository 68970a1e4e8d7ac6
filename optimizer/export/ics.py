"""iCalendar files: one per participant and one per therapist, each in its owner's clock.

Privacy (42 CFR Part 2, see ``DOMAIN.md``): a participant's calendar must not say who else
attends, who leads, or what kind of program it is. Its events are titled only "Group
session" or "Appointment"; they carry no group type, tag, therapist, other participant,
program name or location, and the calendar's product id and UIDs are neutral. A
therapist's calendar names the group type and lists the participant ids of each session.

Stable UIDs: a UID is a hash of what identifies a session within its week, independent of
its id or its position in the schedule (ids are renumbered by every solve):
``week_start | kind | group_type | therapist | day | start | owner``. Re-exporting an
unchanged session gives the same UID, so a calendar app updates the event rather than
adding a second copy. The owner (``participant:P0001``) is part of the key so that two
people's copies of one session, which differ in content, never share a UID.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import MAXYEAR, MINYEAR, UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, Timezone, TimezoneDaylight, TimezoneStandard

from models.io import write_atomic
from models.scenario import Scenario
from models.schedule import Schedule
from optimizer.export.timeline import (
    TimedSession,
    group_type_label,
    local_span,
    participant_timezone,
    session_label,
    therapist_timezone,
    timed_sessions,
)

#: Neutral product id: it appears in participants' files, so it must not name the program kind.
PRODID = "-//roster-export//calendar 1//EN"
#: Domain part of every UID (``.invalid`` is reserved: it never resolves).
UID_DOMAIN = "roster.invalid"
GROUP_TITLE = "Group session"
APPOINTMENT_TITLE = "Appointment"


def session_uid(scenario: Scenario, timed: TimedSession, owner: str) -> str:
    """The stable UID of one person's copy of a session.

    Parameters
    ----------
    scenario
        The scenario (for ``week_start``).
    timed
        The session.
    owner
        Whose calendar: ``"participant:P0001"`` or ``"therapist:T01"``.

    Returns
    -------
    str
        ``<32 hex digits>@roster.invalid``.
    """
    session = timed.session
    key = "|".join(
        [
            scenario.program.week_start.isoformat(),
            session.kind,
            session.group_type or "",
            session.therapist,
            session.day,
            session.start,
            owner,
        ]
    )
    return f"{hashlib.sha256(key.encode()).hexdigest()[:32]}@{UID_DOMAIN}"


def _new_calendar(name: str, timezone: str) -> Calendar:
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", name)
    calendar.add("x-wr-timezone", timezone)
    return calendar


def _event(
    scenario: Scenario, timed: TimedSession, timezone: str, owner: str, stamp: datetime
) -> Event:
    start, end = local_span(scenario, timed, timezone)
    event = Event()
    event.add("uid", session_uid(scenario, timed, owner))
    event.add("dtstamp", stamp)
    event.add("dtstart", start)
    event.add("dtend", end)
    event.add("sequence", 0)
    event.add("transp", "OPAQUE")
    event.add("class", "PRIVATE")
    return event


#: Step of the walk over a zone's offsets: no zone has two transitions within an hour.
_WALK_STEP = timedelta(hours=1)
#: The first and last instants whose local time is representable in every zone (UTC-12 to
#: UTC+14, and local mean time a few hours more): the tz range is clamped to them.
_EARLIEST_INSTANT = datetime(MINYEAR, 1, 2, tzinfo=UTC)
_LATEST_INSTANT = datetime(MAXYEAR, 12, 30, tzinfo=UTC)


@dataclass(frozen=True)
class _Observance:
    """What a zone's clock says from one instant on: offset, daylight flag and abbreviation."""

    offset: timedelta
    daylight: bool
    name: str


def _observance(zone: ZoneInfo, instant: datetime) -> _Observance:
    local = instant.astimezone(zone)
    offset, dst = local.utcoffset(), local.dst()
    assert offset is not None
    return _Observance(offset, bool(dst), local.tzname() or str(offset))


def _transitions(zone: ZoneInfo, first: datetime, last: datetime) -> tuple[_Observance, list[tuple[datetime, _Observance]]]:
    """The observance at ``first`` and every change of it up to ``last`` (UTC instants).

    Walks hour by hour and bisects each change to the second; returns the UTC instant of
    each change with the observance it starts.
    """
    initial = current = _observance(zone, first)
    changes: list[tuple[datetime, _Observance]] = []
    instant = first
    while instant < last:
        step_end = min(instant + _WALK_STEP, last)
        observance = _observance(zone, step_end)
        if observance != current:
            before, after = instant, step_end  # current at ``before``, another at ``after``
            while after - before > timedelta(seconds=1):
                middle = before + (after - before) // 2
                if _observance(zone, middle) == current:
                    before = middle
                else:
                    after = middle
            current = _observance(zone, after)
            changes.append((after, current))
            step_end = after
        instant = step_end
    return initial, changes


@lru_cache(maxsize=64)
def _vtimezone(timezone: str, year: int) -> Timezone:
    """The VTIMEZONE of ``timezone`` from the year before ``year`` to the year after.

    Built from the tz database's own transitions rather than by
    :meth:`icalendar.Timezone.from_tzinfo`, whose walk runs past the last transition to the
    end of the calendar and fails for a week in year 9999 (and whose range starts in year 0
    for a week in year 1). The range is clamped to what :mod:`datetime` represents
    (:data:`_EARLIEST_INSTANT` to :data:`_LATEST_INSTANT`), which still holds the first and
    last weeks a scenario allows (0001-01-08 and 9999-12-13) with a day's margin for offsets.
    Each observance follows RFC 5545: ``DTSTART`` and ``RDATE`` are the local time of the
    change on the clock of the offset in force before it (``TZOFFSETFROM``).
    """
    zone = ZoneInfo(timezone)
    first = max(datetime(year - 1, 1, 1, tzinfo=UTC) if year > MINYEAR else _EARLIEST_INSTANT, _EARLIEST_INSTANT)
    last = min(datetime(year + 2, 1, 1, tzinfo=UTC) if year + 2 <= MAXYEAR else _LATEST_INSTANT, _LATEST_INSTANT)
    initial, changes = _transitions(zone, first, last)
    # Observances with the same offsets, abbreviation and kind share one component: its first
    # onset is DTSTART, the others RDATEs (the shape calendar apps and icalendar expect).
    onsets: dict[tuple[timedelta, _Observance], list[datetime]] = {}
    onsets[(initial.offset, initial)] = [(first + initial.offset).replace(tzinfo=None)]
    previous = initial
    for instant, observance in changes:
        onsets.setdefault((previous.offset, observance), []).append((instant + previous.offset).replace(tzinfo=None))
        previous = observance
    component = Timezone()
    component.add("tzid", timezone)
    component.add("comment", f"Transitions from {first.date()} to {last.date()}.")
    for (offset_from, observance), starts in onsets.items():
        piece = TimezoneDaylight() if observance.daylight else TimezoneStandard()
        piece.add("tzname", observance.name)
        piece.add("tzoffsetfrom", offset_from)
        piece.add("tzoffsetto", observance.offset)
        piece.add("dtstart", starts[0])
        if starts[1:]:
            piece.add("rdate", starts[1:])
        component.add_component(piece)
    return component


def _finish(calendar: Calendar, scenario: Scenario, timezone: str) -> Calendar:
    # VTIMEZONE with the real transitions around the scheduled week (the year before to the
    # year after, clamped to the representable calendar): calendar apps that do not know the
    # TZID, or know an older rule, still place every event right. Every event of a calendar
    # is in its owner's zone.
    calendar.subcomponents.insert(0, _vtimezone(timezone, scenario.program.week_start.year))
    return calendar


def participant_calendar(
    scenario: Scenario,
    schedule: Schedule,
    participant_id: str,
    stamp: datetime | None = None,
    *,
    timed: Sequence[TimedSession] | None = None,
) -> Calendar:
    """The calendar of one participant, in their own time zone, with neutral titles.

    Parameters
    ----------
    scenario, schedule
        The week and its roster.
    participant_id
        Whose calendar.
    stamp
        ``DTSTAMP`` of every event (default: now, UTC).
    timed
        ``timed_sessions(scenario, schedule)``, or any part of it that holds this
        participant's sessions, if already at hand (default: computed here).

    Returns
    -------
    icalendar.Calendar
        Events titled "Group session" or "Appointment" only; no other person, no group type.
    """
    stamp = stamp or _now()
    timezone = participant_timezone(scenario, participant_id)
    calendar = _new_calendar("My sessions", timezone)
    owner = f"participant:{participant_id}"
    for item in timed if timed is not None else timed_sessions(scenario, schedule):
        if participant_id not in item.session.participants:
            continue
        event = _event(scenario, item, timezone, owner, stamp)
        event.add("summary", GROUP_TITLE if item.is_group else APPOINTMENT_TITLE)
        event.add("description", "Video session. Your care team sends the link.")
        calendar.add_component(event)
    return _finish(calendar, scenario, timezone)


def therapist_calendar(
    scenario: Scenario,
    schedule: Schedule,
    therapist_id: str,
    stamp: datetime | None = None,
    *,
    timed: Sequence[TimedSession] | None = None,
) -> Calendar:
    """The calendar of one therapist, in their own time zone, with rosters.

    Each event is titled by the group type's name and size (``Process group (6)``) or the
    appointment kind and participant (``Individual: P0001``); its description gives the
    session id, the group type id and every participant id. ``timed`` is as for
    :func:`participant_calendar`.
    """
    stamp = stamp or _now()
    timezone = therapist_timezone(scenario, therapist_id)
    calendar = _new_calendar(f"Sessions {therapist_id}", timezone)
    owner = f"therapist:{therapist_id}"
    for item in timed if timed is not None else timed_sessions(scenario, schedule):
        session = item.session
        if session.therapist != therapist_id:
            continue
        event = _event(scenario, item, timezone, owner, stamp)
        members = ", ".join(session.participants) or "none"
        if item.is_group:
            title = f"{session_label(scenario, session)} ({len(session.participants)})"
            kind_line = f"Group type: {session.group_type} ({group_type_label(scenario, session.group_type)})"
        else:
            title = f"{session_label(scenario, session)}: {members}"
            kind_line = f"Appointment: {session.kind}"
        program_time = f"{session.day} {session.start}-{session.end} {scenario.program.timezone}"
        event.add("summary", title)
        event.add(
            "description",
            f"Session {session.id}\n{kind_line}\nParticipants: {members}\nProgram time: {program_time}",
        )
        if session.group_type:
            event.add("categories", [session.group_type])
        calendar.add_component(event)
    return _finish(calendar, scenario, timezone)


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def write_calendars(
    scenario: Scenario, schedule: Schedule, out_dir: str | Path, stamp: datetime | None = None
) -> list[Path]:
    """Write ``participant-<id>.ics`` and ``therapist-<id>.ics`` for everyone in the scenario.

    People without a session this week get an empty calendar, so that a re-export clears
    what an earlier one put there.

    Returns
    -------
    list of Path
        The files written, participants first, in scenario order.
    """
    stamp = stamp or _now()
    folder = Path(out_dir)
    # The sessions are timed once and handed to each person's calendar with only their own:
    # timing every session again for every calendar took a minute at 2,000 participants.
    of_participant: dict[str, list[TimedSession]] = defaultdict(list)
    of_therapist: dict[str, list[TimedSession]] = defaultdict(list)
    for item in timed_sessions(scenario, schedule):
        for participant_id in dict.fromkeys(item.session.participants):
            of_participant[participant_id].append(item)
        of_therapist[item.session.therapist].append(item)
    written: list[Path] = []
    for participant in scenario.participants:
        path = folder / f"participant-{participant.id}.ics"
        calendar = participant_calendar(scenario, schedule, participant.id, stamp, timed=of_participant.get(participant.id, []))
        write_atomic(path, calendar.to_ical())
        written.append(path)
    for therapist in scenario.therapists:
        path = folder / f"therapist-{therapist.id}.ics"
        calendar = therapist_calendar(scenario, schedule, therapist.id, stamp, timed=of_therapist.get(therapist.id, []))
        write_atomic(path, calendar.to_ical())
        written.append(path)
    return written
