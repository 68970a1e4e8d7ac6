"""The time model: every weekly window, in any time zone, on the program's minute grid.

This is the one module that touches time zones. Everything downstream works in
*program minutes of the week*: ``day_index * 1440 + minute_of_day`` on the wall clock of
the program's time zone, ``day_index`` 0 for Monday of ``week_start``. A session written
in the schedule as ``day: tue, start: "18:00"`` is program minute ``1 * 1440 + 1080``.

Weekly windows recur every week in their owner's clock. A window is converted with real
calendar dates, so a week in which daylight saving time starts or ends, or a person in a zone
without it (America/Phoenix), lands right; and it is converted in the week before, the
scheduled week and the week after, then clipped to the program week, so a Monday window that a
zone shift moves to the program's Sunday (Pacific/Guam against America/New_York) is kept.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import numpy as np

DayName = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
#: Weekly windows by day, e.g. ``{"mon": ["17:00-21:00"]}`` (keys typed as days or as plain strings).
WeeklyWindows = Mapping[DayName, Sequence[str]] | Mapping[str, Sequence[str]]

DAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_INDEX: dict[str, int] = {day: index for index, day in enumerate(DAYS)}
MINUTES_PER_DAY = 1440
MINUTES_PER_WEEK = 7 * MINUTES_PER_DAY

_TIME_RE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_WINDOW_RE = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")

Interval = tuple[int, int]


def parse_time(text: str) -> int:
    """Minutes after midnight of an ``"HH:MM"`` string (24 h).

    Raises
    ------
    ValueError
        If ``text`` is not a valid ``HH:MM`` time.
    """
    match = _TIME_RE.match(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"{text!r} is not a time of the form HH:MM (00:00 to 23:59)")
    return int(match.group(1)) * 60 + int(match.group(2))


def parse_window(text: str) -> Interval:
    """``(start, end)`` minutes of an ``"HH:MM-HH:MM"`` window, end exclusive.

    ``24:00`` is accepted as an end (midnight at the close of the day). The end must be
    after the start on the same day: windows never cross midnight.
    """
    match = _WINDOW_RE.match(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"{text!r} is not a window of the form HH:MM-HH:MM")
    start = int(match.group(1)) * 60 + int(match.group(2))
    end = int(match.group(3)) * 60 + int(match.group(4))
    if start >= MINUTES_PER_DAY or end > MINUTES_PER_DAY:
        raise ValueError(f"{text!r} has a time past 24:00")
    if end <= start:
        raise ValueError(f"window {text!r} ends before or when it starts (windows never cross midnight)")
    return start, end


def format_time(minute_of_day: int) -> str:
    """``"HH:MM"`` of a minute of the day (``1440`` gives ``"24:00"``)."""
    return f"{minute_of_day // 60:02d}:{minute_of_day % 60:02d}"


#: Files of the tz database that are not IANA zone names: ``localtime`` is whatever zone the
#: machine is set to, ``posixrules`` a default for POSIX strings, ``Factory`` no zone at all.
#: (``right/...`` and ``posix/...`` copies are not in ``available_timezones()``: ``right/``
#: counts leap seconds, and put New York an hour off in a QA pass, both solver and checker.)
_NOT_ZONES = frozenset({"localtime", "posixrules", "Factory"})


@lru_cache(maxsize=1)
def iana_timezones() -> frozenset[str]:
    """Every name :func:`is_valid_timezone` may accept: the tz database's zones, not its other files."""
    return frozenset(available_timezones()) - _NOT_ZONES


def is_valid_timezone(name: str) -> bool:
    """Whether ``name`` is an IANA time zone name (``zoneinfo.available_timezones()``, less
    ``localtime``, ``posixrules`` and ``Factory``) that this machine's tz database can load."""
    if not isinstance(name, str) or name not in iana_timezones():
        return False
    try:
        _zone(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError, OSError):
        # (OSError: "US" or "America" is a folder of the tz database, IsADirectoryError; a
        # name of 300 characters is too long for a file name. QA: both were exit 70, and a 500.)
        return False
    return True


@lru_cache(maxsize=512)
def _zone(name: str) -> ZoneInfo:
    if not isinstance(name, str) or not name or name.startswith("/") or ".." in name:
        raise ValueError(name)
    return ZoneInfo(name)


def merge_intervals(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted union of half-open intervals; touching intervals join."""
    merged: list[list[int]] = []
    for start, end in sorted(intervals):
        if end <= start:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(start, end) for start, end in merged]


def intersect_intervals(first: Sequence[Interval], second: Sequence[Interval]) -> list[Interval]:
    """Intersection of two sets of half-open intervals (each merged or not)."""
    a, b = merge_intervals(first), merge_intervals(second)
    out: list[Interval] = []
    i = j = 0
    while i < len(a) and j < len(b):
        start, end = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if start < end:
            out.append((start, end))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


def covers(intervals: Sequence[Interval], start: int, end: int) -> bool:
    """Whether the union of ``intervals`` covers all of ``[start, end)``."""
    return any(s <= start and end <= e for s, e in merge_intervals(intervals))


#: Days either side of the program week whose windows are converted: two zones' offsets differ
#: by at most 26 hours (UTC-12 to UTC+14; a few hours more in local mean time before 1900), so
#: a window dated more than two days outside the week never reaches it.
_NEIGHBOUR_DAYS = 2
_MINUTE = timedelta(minutes=1)

#: The first and last Mondays whose week can be converted between time zones: a week, plus the
#: two days either side whose windows are read (:data:`_NEIGHBOUR_DAYS`) and a margin for zone
#: offsets, must fall inside the calendar :mod:`datetime` can represent (years 1 to 9999).
EARLIEST_WEEK_START = date(1, 1, 8)
LATEST_WEEK_START = date(9999, 12, 13)


class WeekOutOfRange(ValueError):
    """A ``week_start`` so close to year 1 or year 9999 that its dates cannot be converted."""


def check_week_start(week_start: date) -> None:
    """Raise :class:`WeekOutOfRange` unless the week of ``week_start`` can be converted.

    The message names ``week_start`` and the dates allowed (no other text of a file), so a
    validator can report it as it is.
    """
    if not EARLIEST_WEEK_START <= week_start <= LATEST_WEEK_START:
        raise WeekOutOfRange(
            f"week_start {week_start.isoformat()} is outside the calendar that times can be "
            f"converted in: it must be from {EARLIEST_WEEK_START.isoformat()} to "
            f"{LATEST_WEEK_START.isoformat()}"
        )


@dataclass(frozen=True)
class WeekClock:
    """The program's week: its time zone and the date of its Monday.

    Parameters
    ----------
    timezone
        IANA name of the program's time zone: the clock the schedule is written in.
    week_start
        The Monday of the scheduled week.

    Raises
    ------
    WeekOutOfRange
        If ``week_start`` is too close to the ends of the calendar (see
        :func:`check_week_start`): converting its times would overflow :mod:`datetime`.
    """

    timezone: str
    week_start: date

    def __post_init__(self) -> None:
        check_week_start(self.week_start)

    def date_of(self, day: int | str) -> date:
        """Calendar date of a day of the week (index or ``"mon"`` ...)."""
        index = DAY_INDEX[day] if isinstance(day, str) else day
        return self.week_start + timedelta(days=index)

    def to_program_minute(self, day: int | str, minute_of_day: int, timezone: str | None) -> int:
        """Program minute of the week of a wall-clock moment in ``timezone``.

        ``timezone`` None means the program's own. The result may fall outside
        ``[0, MINUTES_PER_WEEK)`` when a zone shift pushes it into the week before or after.
        A wall time that does not exist (inside a spring-forward gap) is read with the
        offset in force before the gap, as :mod:`zoneinfo` does (fold 0).
        """
        index = DAY_INDEX[day] if isinstance(day, str) else day
        if timezone is None or timezone == self.timezone:
            return index * MINUTES_PER_DAY + minute_of_day
        return self._program_minute(self._instant(index, minute_of_day, timezone))

    def to_local(self, program_minute: int, timezone: str | None = None) -> datetime:
        """Aware datetime of a program minute of the week, in ``timezone`` (default program)."""
        day, minute = divmod(program_minute, MINUTES_PER_DAY)
        moment = datetime.combine(self.date_of(day), time(0), tzinfo=_zone(self.timezone))
        moment = moment + timedelta(minutes=minute)
        # Round trip through UTC so that the wall clock is normalised across DST.
        moment = moment.astimezone(ZoneInfo("UTC")).astimezone(_zone(self.timezone))
        if timezone is not None and timezone != self.timezone:
            moment = moment.astimezone(_zone(timezone))
        return moment

    def clock_changes(self) -> tuple[Interval, ...]:
        """Program minutes of the week whose wall time the program's clock skips or repeats.

        On the day daylight saving time starts, the wall times of the skipped hour never happen
        (New York, Sun 2026-03-08 02:00-03:00); on the day it ends, those of the repeated hour
        happen twice (Sun 2026-11-01 01:00-02:00). No session may touch them: its written times
        would name no real moment, or two, and it would not last its duration (a 120-minute
        group from 00:30 would last 60 or 180 real minutes). Empty in most weeks.
        """
        return _clock_changes(self.timezone, self.week_start)

    def elapsed_minutes(self, intervals: Iterable[Interval]) -> int:
        """Real minutes that program-minute ``intervals`` last, from start to end instant.

        Program minutes are wall time, so on the day the program's clock changes they are not
        all a minute long: Sun 2026-03-08 00:00-06:00 in New York lasts 5 hours (02:00-03:00
        never happens) and Sun 2026-11-01 00:00-24:00 lasts 25. Intervals are read as given
        (overlapping ones count twice).
        """
        total = timedelta(0)
        for start, end in intervals:
            # In UTC: two datetimes of one zone subtract as wall times, DST ignored.
            total += self.to_local(end).astimezone(UTC) - self.to_local(start).astimezone(UTC)
        return total // _MINUTE

    def windows_to_program(
        self,
        availability: WeeklyWindows | None,
        timezone: str | None,
    ) -> list[Interval]:
        """Weekly windows (``{"mon": ["17:00-21:00"], ...}`` in ``timezone``) in program minutes.

        The windows recur every week in ``timezone``: each is converted on its real dates in
        the week before, the scheduled week and the week after (only the dates that can reach
        the program week), and what lands in the program week is kept. So a Pacific/Guam
        Monday 08:00 window is the program's (America/New_York) Sunday 18:00, from the Monday
        of the week after.

        A window's start is the program wall time of its first instant, and its end is the
        program wall time of its last minute plus one minute. Where the program's clock falls
        back, the end instant itself may read earlier than the start (Chicago Sun 00:00-01:00
        CDT is New York 01:00 EDT to 01:00 EST); its last minute reads 01:59, so the window is
        01:00-02:00 program time. Where the program's clock springs forward, a window across
        the gap keeps the skipped wall times, and one that ends at the gap ends at it (02:00,
        not 03:00, which is the same instant).

        Returns merged, sorted half-open intervals clipped to the week. Windows that touch join.
        ``timezone`` None (or the program's own) reads the windows as program wall time.
        """
        if not availability:
            return []
        zone = None if timezone == self.timezone else timezone
        intervals: list[Interval] = []
        for day, windows in availability.items():
            parsed = [parse_window(window) for window in windows]
            index = DAY_INDEX[day]
            if zone is None:  # program wall time: no conversion, no week either side
                intervals.extend((index * MINUTES_PER_DAY + start, index * MINUTES_PER_DAY + end) for start, end in parsed)
                continue
            for date_index in (index - 7, index, index + 7):
                if not -_NEIGHBOUR_DAYS <= date_index < 7 + _NEIGHBOUR_DAYS:
                    continue
                for start, end in parsed:
                    first = self._instant(date_index, start, zone)
                    # 24:00 is wall-clock midnight at the close of the day: adding 1440 minutes
                    # to the day's midnight is exactly that, DST or not.
                    last = self._instant(date_index, end, zone) - _MINUTE
                    for program_start, program_end in self._wall_span(first, last):
                        program_start, program_end = max(program_start, 0), min(program_end, MINUTES_PER_WEEK)
                        if program_start < program_end:
                            intervals.append((program_start, program_end))
        return merge_intervals(intervals)

    def _wall_span(self, first: datetime, last: datetime) -> list[Interval]:
        """Program minutes that the real minutes ``first`` to ``last`` (both included) pass
        through: from the wall time of ``first`` to the wall time of ``last`` plus one minute.

        Where the program's clock springs forward in between, this is one span across the
        skipped wall times. Where it falls back in between, the wall times up to the change
        and those from it are two spans (they overlap, and merge into one).
        """
        start, end = self._program_minute(first), self._program_minute(last) + 1
        before, after = self._program_offset(first), self._program_offset(last)
        if after >= before:  # no change, or a spring forward: the wall clock only moves on
            return [(start, end)]
        # The clock goes back in between: find its first minute on the new offset (bisection:
        # the offset is `before` at `low` and not at `high`; a window is at most a day long).
        low, high = 0, (last - first) // _MINUTE
        while high - low > 1:
            middle = (low + high) // 2
            if self._program_offset(first + middle * _MINUTE) == before:
                low = middle
            else:
                high = middle
        change = first + high * _MINUTE
        return [(start, self._program_minute(change - _MINUTE) + 1), (self._program_minute(change), end)]

    def _program_offset(self, instant: datetime) -> timedelta:
        """The program zone's UTC offset at ``instant``."""
        return instant.astimezone(_zone(self.timezone)).utcoffset() or timedelta(0)

    def _instant(self, date_index: int, minute_of_day: int, timezone: str) -> datetime:
        """The UTC instant of a wall-clock minute in ``timezone`` on day ``date_index`` of the
        week (negative or past 6 for the weeks either side); fold 0 inside a gap or overlap."""
        local = datetime.combine(self.week_start + timedelta(days=date_index), time(0), tzinfo=_zone(timezone))
        local = local + timedelta(minutes=minute_of_day)  # wall-clock arithmetic
        return local.astimezone(UTC)

    def _program_minute(self, instant: datetime) -> int:
        """Program minute of the week of an aware instant: its wall time in the program's zone."""
        program = instant.astimezone(_zone(self.timezone))
        days = (program.date() - self.week_start).days
        return days * MINUTES_PER_DAY + program.hour * 60 + program.minute


@lru_cache(maxsize=256)
def _clock_changes(timezone: str, week_start: date) -> tuple[Interval, ...]:
    """See :meth:`WeekClock.clock_changes`: a wall minute is skipped or repeated exactly when
    :mod:`zoneinfo` gives it two offsets (``fold`` 0 and 1). Only days whose offset changes
    between their midnights are read minute by minute."""
    zone = _zone(timezone)

    def offsets(moment: datetime) -> set[timedelta | None]:
        return {moment.replace(fold=0).utcoffset(), moment.replace(fold=1).utcoffset()}

    changes: list[Interval] = []
    for day in range(7):
        midnight = datetime.combine(week_start + timedelta(days=day), time(0), tzinfo=zone)
        next_midnight = datetime.combine(week_start + timedelta(days=day + 1), time(0), tzinfo=zone)
        if len(offsets(midnight) | offsets(next_midnight)) == 1:
            continue
        run_start: int | None = None
        for minute in range(MINUTES_PER_DAY + 1):
            moment = midnight + timedelta(minutes=minute)  # wall-clock arithmetic
            unsteady = minute < MINUTES_PER_DAY and len(offsets(moment)) > 1
            if unsteady and run_start is None:
                run_start = minute
            elif not unsteady and run_start is not None:
                changes.append((day * MINUTES_PER_DAY + run_start, day * MINUTES_PER_DAY + minute))
                run_start = None
    return tuple(merge_intervals(changes))


def intervals_to_mask(intervals: Iterable[Interval], horizon: int = MINUTES_PER_WEEK) -> np.ndarray:
    """Boolean minute mask of length ``horizon`` that is True inside the intervals."""
    mask = np.zeros(horizon, dtype=bool)
    for start, end in intervals:
        mask[max(start, 0) : min(end, horizon)] = True
    return mask


def mask_prefix(mask: np.ndarray) -> np.ndarray:
    """Prefix sums of a boolean mask, so ``covered(start, end)`` is O(1)."""
    prefix = np.zeros(mask.shape[-1] + 1, dtype=np.int32)
    np.cumsum(mask, out=prefix[1:], axis=-1)
    return prefix


def mask_covers(prefix: np.ndarray, start: int, end: int) -> bool:
    """Whether the mask behind ``prefix`` is True on every minute of ``[start, end)``."""
    if start < 0 or end > prefix.shape[-1] - 1 or end <= start:
        return False
    return bool(prefix[end] - prefix[start] == end - start)
