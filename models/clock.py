"""The time model: every weekly window, in any time zone, on the program's minute grid.

This is the one module that touches time zones. Everything downstream works in
*program minutes of the week*: ``day_index * 1440 + minute_of_day`` on the wall clock of
the program's time zone, ``day_index`` 0 for Monday of ``week_start``. A session written
in the schedule as ``day: tue, start: "18:00"`` is program minute ``1 * 1440 + 1080``.

Conversion uses the real calendar dates of the scheduled week, so a week in which daylight
saving time starts or ends, or a person in a zone without it (America/Phoenix), lands right.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

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


def is_valid_timezone(name: str) -> bool:
    """Whether ``name`` is an IANA time zone known to this machine's tz database."""
    try:
        _zone(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
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


#: The first and last Mondays whose week can be converted between time zones: a week, plus a
#: margin for zone offsets (at most 26 hours) and for minutes just outside the week, must fall
#: inside the calendar :mod:`datetime` can represent (years 1 to 9999).
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
        local = datetime.combine(self.date_of(index), time(0), tzinfo=_zone(timezone))
        local = local + timedelta(minutes=minute_of_day)  # wall-clock arithmetic
        program = local.astimezone(_zone(self.timezone))
        days = (program.date() - self.week_start).days
        return days * MINUTES_PER_DAY + program.hour * 60 + program.minute

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

    def windows_to_program(
        self,
        availability: WeeklyWindows | None,
        timezone: str | None,
    ) -> list[Interval]:
        """Weekly windows (``{"mon": ["17:00-21:00"], ...}`` in ``timezone``) in program minutes.

        Returns merged, sorted half-open intervals clipped to the week. Windows that touch join.
        """
        if not availability:
            return []
        intervals: list[Interval] = []
        for day, windows in availability.items():
            for window in windows:
                start, end = parse_window(window)
                program_start = self.to_program_minute(day, start, timezone)
                # 24:00 is wall-clock midnight at the close of the day: adding 1440 minutes
                # to the day's midnight is exactly that, DST or not.
                program_end = self.to_program_minute(day, end, timezone)
                program_start = max(program_start, 0)
                program_end = min(program_end, MINUTES_PER_WEEK)
                if program_start < program_end:
                    intervals.append((program_start, program_end))
        return merge_intervals(intervals)


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
