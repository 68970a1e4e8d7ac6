"""The time model (``models/clock.py``), with every answer derived by hand in a comment.

Program minutes of the week are ``day_index * 1440 + minute_of_day`` on the wall clock of the
program's time zone, Monday of ``week_start`` being day 0. Useful offsets (UTC):
New York EST -5 / EDT -4, Chicago CST -6 / CDT -5, Phoenix MST -7 all year,
Los Angeles PST -8, London GMT +0 / BST +1.
2026 changes: US DST starts Sun 2026-03-08 and ends Sun 2026-11-01 (02:00 local);
UK summer time ends Sun 2026-10-25 (02:00 BST -> 01:00 GMT).
"""

from __future__ import annotations

from datetime import date, datetime

import numpy as np
import pytest

from models.clock import (
    DAYS,
    EARLIEST_WEEK_START,
    LATEST_WEEK_START,
    MINUTES_PER_WEEK,
    WeekClock,
    WeekOutOfRange,
    check_week_start,
    covers,
    format_time,
    intersect_intervals,
    intervals_to_mask,
    is_valid_timezone,
    mask_covers,
    mask_prefix,
    merge_intervals,
    parse_time,
    parse_window,
)

NEW_YORK = "America/New_York"
DAY = 1440

# --------------------------------------------------------------------------- text forms


@pytest.mark.parametrize(("text", "minutes"), [("00:00", 0), ("08:30", 510), ("23:59", 1439), ("12:05", 725)])
def test_parse_time(text: str, minutes: int) -> None:
    assert parse_time(text) == minutes


@pytest.mark.parametrize("text", ["9:00", "24:00", "12:60", "12.30", "1230", " 12:30", "", "noon"])
def test_parse_time_rejects(text: str) -> None:
    with pytest.raises(ValueError, match=r"is not a time of the form HH:MM \(00:00 to 23:59\)"):
        parse_time(text)


def test_parse_time_rejects_non_strings() -> None:
    # YAML 1.1 would have turned 10:30 into 630: an integer is never a time.
    with pytest.raises(ValueError, match="630 is not a time"):
        parse_time(630)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "interval"),
    [
        ("08:00-12:00", (480, 720)),
        ("20:00-24:00", (1200, 1440)),  # 24:00 closes the day
        ("00:00-24:00", (0, 1440)),
        ("23:59-24:00", (1439, 1440)),
    ],
)
def test_parse_window(text: str, interval: tuple[int, int]) -> None:
    assert parse_window(text) == interval


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("22:00-02:00", r"window '22:00-02:00' ends before or when it starts \(windows never cross midnight\)"),
        ("12:00-12:00", r"window '12:00-12:00' ends before or when it starts"),
        ("24:00-24:00", r"'24:00-24:00' has a time past 24:00"),
        ("20:00-24:30", r"'20:00-24:30' has a time past 24:00"),
        ("20:00-25:00", r"'20:00-25:00' is not a window of the form HH:MM-HH:MM"),
        ("8:00-12:00", r"is not a window of the form HH:MM-HH:MM"),
        ("08:00 - 12:00", r"is not a window of the form"),
        ("08:00", r"is not a window of the form"),
    ],
)
def test_parse_window_rejects(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_window(text)


@pytest.mark.parametrize(("minutes", "text"), [(0, "00:00"), (605, "10:05"), (1439, "23:59"), (1440, "24:00")])
def test_format_time(minutes: int, text: str) -> None:
    assert format_time(minutes) == text


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("America/Phoenix", True),
        ("Europe/London", True),
        ("UTC", True),
        ("America/NewYork", False),
        ("Mars/Olympus_Mons", False),
        ("", False),
        ("../zoneinfo/UTC", False),
        ("/usr/share/zoneinfo/UTC", False),
    ],
)
def test_is_valid_timezone(name: str, valid: bool) -> None:
    assert is_valid_timezone(name) is valid


# --------------------------------------------------------------------------- interval arithmetic


def test_touching_intervals_join() -> None:
    # 08:00-12:00 and 12:00-17:00 are one window 08:00-17:00.
    assert merge_intervals([(720, 1020), (480, 720)]) == [(480, 1020)]


def test_merge_keeps_gaps_and_drops_empty_intervals() -> None:
    assert merge_intervals([(600, 700), (100, 200), (150, 250), (300, 300), (400, 350)]) == [(100, 250), (600, 700)]


def test_intersect_intervals() -> None:
    therapist = [(480, 720), (780, 1020)]  # 08:00-12:00, 13:00-17:00
    participant = [(660, 840)]  # 11:00-14:00
    assert intersect_intervals(therapist, participant) == [(660, 720), (780, 840)]
    assert intersect_intervals(therapist, [(720, 780)]) == []  # touching is not overlapping


def test_windows_that_touch_cover_a_session_across_the_seam() -> None:
    # The contract's example: 08:00-12:00 and 12:00-17:00 cover an 11:00-13:00 session.
    assert covers([(480, 720), (720, 1020)], 660, 780)
    # With a half-hour gap they do not.
    assert not covers([(480, 720), (750, 1020)], 660, 780)
    assert covers([(480, 720)], 480, 720)  # end exclusive: exactly the window
    assert not covers([(480, 720)], 480, 721)


def test_minute_masks() -> None:
    mask = intervals_to_mask([(2, 5), (8, 12)], horizon=10)  # (8, 12) is clipped to the horizon
    assert mask.tolist() == [False, False, True, True, True, False, False, False, True, True]
    prefix = mask_prefix(mask)
    assert prefix.dtype == np.int32 and prefix.tolist()[-1] == 5
    assert mask_covers(prefix, 2, 5)
    assert not mask_covers(prefix, 1, 5)
    assert not mask_covers(prefix, 3, 3)  # an empty span is never "covered"
    assert not mask_covers(prefix, -1, 2)
    assert mask_covers(prefix, 8, 10)
    assert not mask_covers(prefix, 8, 11)  # past the horizon


# --------------------------------------------------------------------------- the week clock


def test_dates_of_the_week() -> None:
    clock = WeekClock(NEW_YORK, date(2026, 10, 26))
    assert clock.date_of("mon") == date(2026, 10, 26)
    assert clock.date_of(6) == date(2026, 11, 1)
    assert clock.date_of("sun") == date(2026, 11, 1)


def test_program_clock_is_the_identity() -> None:
    clock = WeekClock(NEW_YORK, date(2026, 12, 7))
    # tue 18:00 program time = 1 * 1440 + 1080.
    assert clock.to_program_minute("tue", 1080, None) == 2520
    assert clock.to_program_minute("tue", 1080, NEW_YORK) == 2520


def test_london_person_in_the_week_between_the_uk_and_us_changes() -> None:
    """Week of Mon 2026-10-26: London is already on GMT, New York still on EDT until Sunday."""
    clock = WeekClock(NEW_YORK, date(2026, 10, 26))
    # Mon 18:00 GMT = 18:00 UTC = 14:00 EDT (UTC-4): 0 * 1440 + 840.
    assert clock.to_program_minute("mon", 18 * 60, "Europe/London") == 840
    # Sun 2026-11-01 18:00 GMT = 18:00 UTC = 13:00 EST (UTC-5, after the US change): 6 * 1440 + 780.
    assert clock.to_program_minute("sun", 18 * 60, "Europe/London") == 6 * DAY + 780
    # The same wall time converts differently across the week.
    assert clock.windows_to_program({"mon": ["18:00-19:00"], "sun": ["18:00-19:00"]}, "Europe/London") == [
        (840, 900),
        (6 * DAY + 780, 6 * DAY + 840),
    ]


def test_london_person_the_week_before() -> None:
    # Mon 2026-10-19 18:00 BST (UTC+1) = 17:00 UTC = 13:00 EDT: 780, an hour earlier than a week later.
    clock = WeekClock(NEW_YORK, date(2026, 10, 19))
    assert clock.to_program_minute("mon", 18 * 60, "Europe/London") == 780


def test_the_25_hour_london_sunday() -> None:
    """Sun 2026-10-25 in London has 25 hours: 00:00-24:00 there is 1500 program minutes."""
    clock = WeekClock(NEW_YORK, date(2026, 10, 19))
    # Start: Sun 00:00 BST = Sat 2026-10-24 23:00 UTC = Sat 19:00 EDT: 5 * 1440 + 1140 = 8340.
    # End: Mon 2026-10-26 00:00 GMT = 00:00 UTC = Sun 20:00 EDT: 6 * 1440 + 1200 = 9840.
    assert clock.windows_to_program({"sun": ["00:00-24:00"]}, "Europe/London") == [(8340, 9840)]
    assert 9840 - 8340 == 25 * 60


def test_phoenix_in_the_us_spring_forward_week() -> None:
    """Week of Mon 2026-03-02: New York springs forward on Sunday 03-08, Phoenix never does."""
    clock = WeekClock(NEW_YORK, date(2026, 3, 2))
    # Mon 17:00 MST (UTC-7) = Tue 00:00 UTC = Mon 19:00 EST (UTC-5): 1140.
    assert clock.to_program_minute("mon", 17 * 60, "America/Phoenix") == 1140
    # Sun 03-08 17:00 MST = Mon 00:00 UTC = Sun 20:00 EDT (UTC-4): 6 * 1440 + 1200 = 9840.
    assert clock.to_program_minute("sun", 17 * 60, "America/Phoenix") == 9840


@pytest.mark.parametrize(
    ("week_start", "expected"),
    [
        # Summer: Wed 09:00-17:00 MST = 16:00-24:00 UTC = 12:00-20:00 EDT (3 hours ahead).
        (date(2026, 7, 6), [(2 * DAY + 720, 2 * DAY + 1200)]),
        # Winter: Wed 09:00-17:00 MST = 16:00-24:00 UTC = 11:00-19:00 EST (2 hours ahead).
        (date(2026, 12, 7), [(2 * DAY + 660, 2 * DAY + 1140)]),
    ],
)
def test_phoenix_against_new_york_summer_and_winter(week_start: date, expected: list[tuple[int, int]]) -> None:
    clock = WeekClock(NEW_YORK, week_start)
    assert clock.windows_to_program({"wed": ["09:00-17:00"]}, "America/Phoenix") == expected


def test_window_pushed_past_midnight_into_the_next_day() -> None:
    # Mon 20:00-23:00 PST (UTC-8) = Tue 04:00-07:00 UTC = Mon 23:00 - Tue 02:00 EST:
    # 1380 to 1440 + 120 = 1560. The window stays one piece across midnight.
    clock = WeekClock(NEW_YORK, date(2026, 12, 7))
    assert clock.windows_to_program({"mon": ["20:00-23:00"]}, "America/Los_Angeles") == [(1380, 1560)]


def test_windows_pushed_out_of_the_week_are_clipped() -> None:
    clock = WeekClock(NEW_YORK, date(2026, 12, 7))
    # Sun 20:00-23:00 PST = Sun 23:00 - Mon 02:00 EST of the next week: clipped at 7 * 1440 = 10080.
    # The window recurs: the Sunday of the week before lands on this week's Mon 00:00-02:00.
    assert clock.windows_to_program({"sun": ["20:00-23:00"]}, "America/Los_Angeles") == [
        (0, 120),
        (6 * DAY + 1380, MINUTES_PER_WEEK),
    ]
    # Mon 02:00-06:00 GMT = Sun 21:00 (the week before) - Mon 01:00 EST: -180 to 60, clipped to 0-60;
    # next Monday's is this Sun 21:00-24:00 EST (6 * 1440 + 1260 to the end of the week).
    assert clock.windows_to_program({"mon": ["02:00-06:00"]}, "Europe/London") == [
        (0, 60),
        (6 * DAY + 1260, MINUTES_PER_WEEK),
    ]


def test_a_window_of_the_week_after_lands_on_the_program_sunday() -> None:
    """QA c10: weekly windows recur, so the next Monday's window counts when it lands on Sunday."""
    clock = WeekClock(NEW_YORK, date(2026, 6, 1))
    # Guam is UTC+10, New York EDT UTC-4: 14 hours behind.
    # Tue 2026-06-02 08:00-10:00 ChST = Mon 06-01 22:00-24:00 UTC = Mon 18:00-20:00 EDT: 1080-1200.
    # Mon 2026-06-01 08:00 ChST is Sun 05-31 18:00 EDT, the week before: out. But Mon 06-08
    # 08:00-10:00 ChST = Sun 06-07 18:00-20:00 EDT, this week's Sunday: 6 * 1440 + 1080 = 9720 to 9840.
    windows = clock.windows_to_program({"mon": ["08:00-10:00"], "tue": ["08:00-10:00"]}, "Pacific/Guam")
    assert windows == [(1080, 1200), (6 * DAY + 1080, 6 * DAY + 1200)]
    # Mon 00:00-04:00 GMT = Sun 19:00-23:00 EST: last week's is out, next week's is this Sunday's.
    assert WeekClock(NEW_YORK, date(2026, 12, 7)).windows_to_program({"mon": ["00:00-04:00"]}, "Europe/London") == [
        (6 * DAY + 1140, 6 * DAY + 1380)
    ]


def test_a_window_of_the_week_before_lands_on_the_program_monday() -> None:
    """QA c06: program Pacific/Honolulu (HST, UTC-10, no DST), therapist in New York (EDT, UTC-4)."""
    clock = WeekClock("Pacific/Honolulu", date(2026, 6, 1))
    # Tue 06-02 01:00-03:00 EDT = 05:00-07:00 UTC = Mon 06-01 19:00-21:00 HST: 1140-1260.
    assert clock.windows_to_program({"tue": ["01:00-03:00"]}, NEW_YORK) == [(1140, 1260)]
    # Mon 06-01 01:00 EDT is Sun 05-31 19:00 HST, the week before; Mon 06-08 01:00-03:00 EDT
    # = Sun 06-07 19:00-21:00 HST, this week's Sunday: 6 * 1440 + 1140 to 6 * 1440 + 1260.
    assert clock.windows_to_program({"mon": ["01:00-03:00"]}, NEW_YORK) == [(6 * DAY + 1140, 6 * DAY + 1260)]
    # The other way round, program New York and a person in Honolulu: Sun 20:00-22:00 HST is
    # Mon 02:00-04:00 EDT of the week after; the Sunday of the week before (05-31) is this
    # Monday 06-01 02:00-04:00 EDT: 120-240.
    assert WeekClock(NEW_YORK, date(2026, 6, 1)).windows_to_program({"sun": ["20:00-22:00"]}, "Pacific/Honolulu") == [(120, 240)]


def test_weeks_either_side_use_their_own_dates() -> None:
    """The week after a DST change is converted with that week's offsets, not this week's."""
    # Program New York, week of Mon 2026-10-26 (EDT until Sun 11-01 02:00); a person in London
    # (GMT, UTC+0, since 10-25). Mon 11-02 03:00-07:00 GMT = 03:00-07:00 UTC = Sun 11-01
    # 22:00 EST (UTC-5, the week after's offset) to Mon 02:00: this Sunday 22:00-24:00,
    # 6 * 1440 + 1320 to the end of the week. (With EDT it would have been 23:00.)
    # This week's Mon 10-26 03:00-07:00 GMT = Sun 23:00 EDT (UTC-4) to Mon 03:00 EDT: 0-180.
    clock = WeekClock(NEW_YORK, date(2026, 10, 26))
    assert clock.windows_to_program({"mon": ["03:00-07:00"]}, "Europe/London") == [(0, 180), (6 * DAY + 1320, MINUTES_PER_WEEK)]


def test_the_program_clock_is_not_read_in_the_weeks_either_side() -> None:
    # In the program's own clock a Monday window is Monday only (no week before or after).
    clock = WeekClock(NEW_YORK, date(2026, 12, 7))
    assert clock.windows_to_program({"mon": ["00:00-24:00"], "sun": ["22:00-24:00"]}, NEW_YORK) == [
        (0, DAY),
        (6 * DAY + 1320, MINUTES_PER_WEEK),
    ]


def test_24_00_ends_and_joins_the_next_morning() -> None:
    clock = WeekClock(NEW_YORK, date(2026, 12, 7))
    assert clock.windows_to_program({"mon": ["20:00-24:00"]}, None) == [(1200, 1440)]
    # Mon 20:00-24:00 and Tue 00:00-02:00 touch at midnight: one window 1200-1560.
    assert clock.windows_to_program({"mon": ["20:00-24:00"], "tue": ["00:00-02:00"]}, None) == [(1200, 1560)]
    # In Chicago (CST, UTC-6): Mon 20:00-24:00 = Mon 21:00 - Tue 01:00 EST = 1260-1500.
    assert clock.windows_to_program({"mon": ["20:00-24:00"]}, "America/Chicago") == [(1260, 1500)]


def test_touching_windows_join_in_the_program_clock() -> None:
    clock = WeekClock(NEW_YORK, date(2026, 12, 7))
    # Chicago 07:00-11:00 and 11:00-16:00 = 08:00-17:00 EST on Thursday (day 3).
    windows = clock.windows_to_program({"thu": ["11:00-16:00", "07:00-11:00"]}, "America/Chicago")
    assert windows == [(3 * DAY + 480, 3 * DAY + 1020)]
    # ... and cover a Thursday 11:00-13:00 session in program time.
    assert covers(windows, 3 * DAY + 660, 3 * DAY + 780)


def test_no_availability_is_empty() -> None:
    clock = WeekClock(NEW_YORK, date(2026, 12, 7))
    assert clock.windows_to_program(None, None) == []
    assert clock.windows_to_program({}, "Europe/London") == []
    assert clock.windows_to_program({"mon": []}, None) == []


def test_to_local_converts_program_minutes_back() -> None:
    clock = WeekClock(NEW_YORK, date(2026, 3, 2))
    # Program minute 1140 = Mon 2026-03-02 19:00 EST = 17:00 MST in Phoenix.
    assert clock.to_local(1140).replace(tzinfo=None) == datetime(2026, 3, 2, 19, 0)
    assert clock.to_local(1140, "America/Phoenix").replace(tzinfo=None) == datetime(2026, 3, 2, 17, 0)
    later = WeekClock(NEW_YORK, date(2026, 10, 26))
    # Program minute 6 * 1440 + 780 = Sun 2026-11-01 13:00 EST = 18:00 GMT in London.
    assert later.to_local(6 * DAY + 780, "Europe/London").replace(tzinfo=None) == datetime(2026, 11, 1, 18, 0)
    assert later.to_local(6 * DAY + 780).utcoffset() is not None


# --------------------------------------------------------------------------- the ends of the calendar

# The offsets farthest apart, fixed in every year (POSIX signs: Etc/GMT-14 is UTC+14). Real
# zones read local mean time before their first rule (Kiritimati in year 1: UTC-10:29).
FAR_EAST, FAR_WEST = "Etc/GMT-14", "Etc/GMT+12"


@pytest.mark.parametrize("week_start", [date(1, 1, 1), date(9999, 12, 20), date(9999, 12, 27)])
def test_a_week_at_the_ends_of_the_calendar_is_refused(week_start: date) -> None:
    """9999-12-27 is a Monday; its Sunday 24:00 is 10000-01-01, which datetime cannot hold
    (QA: OverflowError at validation). 0001-01-01 is a Monday too; its Monday 00:00 at UTC+14
    is 0000-12-31 in UTC."""
    with pytest.raises(WeekOutOfRange, match=rf"week_start {week_start.isoformat()} is outside .* from 0001-01-08 to 9999-12-13"):
        WeekClock(NEW_YORK, week_start)
    assert issubclass(WeekOutOfRange, ValueError)  # a validator reports it as a value error


@pytest.mark.parametrize("week_start", [EARLIEST_WEEK_START, LATEST_WEEK_START])
def test_the_first_and_last_weeks_allowed_convert_every_moment(week_start: date) -> None:
    """Both are Mondays, and every window in either extreme zone, read in the other, converts
    without overflow, as does every program minute one day either side of the week."""
    assert week_start.weekday() == 0
    check_week_start(week_start)
    whole_week = {day: ["00:00-24:00"] for day in DAYS}
    for program_zone, person_zone in ((FAR_WEST, FAR_EAST), (FAR_EAST, FAR_WEST)):
        clock = WeekClock(program_zone, week_start)
        # 26 hours apart, but every week is the same: the whole program week is covered.
        intervals = clock.windows_to_program(whole_week, person_zone)
        assert intervals == [(0, MINUTES_PER_WEEK)]
        for minute in (-DAY, 0, MINUTES_PER_WEEK, MINUTES_PER_WEEK + DAY):
            clock.to_local(minute, person_zone)



@pytest.mark.parametrize("week_start", [EARLIEST_WEEK_START, LATEST_WEEK_START])
def test_the_farthest_days_either_side_reach_the_week(week_start: date) -> None:
    """The two days either side of the week are read, even at the ends of the calendar.

    FAR_EAST (UTC+14) is 26 hours ahead of FAR_WEST (UTC-12).
    """
    west = WeekClock(FAR_WEST, week_start)
    # Tue 00:00-02:00 UTC+14 of the week after (day 8) = Sun 22:00-24:00 UTC-12 of this week.
    assert west.windows_to_program({"tue": ["00:00-02:00"]}, FAR_EAST) == [(6 * DAY + 1320, MINUTES_PER_WEEK)]
    # Mon 00:00-02:00 UTC+14 of the week after = Sat 22:00-24:00 UTC-12 (this week's Mon: the week before).
    assert west.windows_to_program({"mon": ["00:00-02:00"]}, FAR_EAST) == [(5 * DAY + 1320, 6 * DAY)]
    east = WeekClock(FAR_EAST, week_start)
    # Sat 22:00-24:00 UTC-12 of the week before (day -2) = Mon 00:00-02:00 UTC+14 of this week.
    assert east.windows_to_program({"sat": ["22:00-24:00"]}, FAR_WEST) == [(0, 120)]
    # Sun 22:00-24:00 UTC-12 of the week before = Tue 00:00-02:00 UTC+14.
    assert east.windows_to_program({"sun": ["22:00-24:00"]}, FAR_WEST) == [(DAY, DAY + 120)]


# --------------------------------------------------------------------------- the program's DST changes
#
# New York falls back on Sun 2026-11-01 at 06:00 UTC (02:00 EDT -> 01:00 EST): its wall clock
# reads 01:00-02:00 twice. It springs forward on Sun 2026-03-08 at 07:00 UTC (02:00 EST ->
# 03:00 EDT): 02:00-03:00 never shows. Chicago changes an hour later in UTC (its own 02:00).
# A window's end is the wall time of its last minute plus one: the end instant itself may read
# earlier than the start where the clock falls back.

FALL_SUNDAY = 6 * DAY  # week of Mon 2026-10-26: Sun 2026-11-01 00:00 program time
SPRING_SUNDAY = 6 * DAY  # week of Mon 2026-03-02: Sun 2026-03-08 00:00 program time


def test_a_window_ending_in_the_repeated_hour_keeps_its_length() -> None:
    """QA c43: Chicago Sun 00:00-01:00 CDT = 05:00-06:00 UTC = New York 01:00 EDT to 01:00 EST.

    The end instant reads 01:00, like the start; the last minute, 05:59 UTC, reads 01:59 EDT,
    so the window is 01:00-02:00 program time (it vanished before)."""
    clock = WeekClock(NEW_YORK, date(2026, 10, 26))
    assert clock.windows_to_program({"sun": ["00:00-01:00"]}, "America/Chicago") == [(FALL_SUNDAY + 60, FALL_SUNDAY + 120)]


def test_windows_in_and_across_the_repeated_hour() -> None:
    clock = WeekClock(NEW_YORK, date(2026, 10, 26))
    # 06:00-07:00 UTC is the second 01:00-02:00 (EST): 01:00 to 01:59 + 1 = 02:00.
    assert clock.windows_to_program({"sun": ["06:00-07:00"]}, "UTC") == [(FALL_SUNDAY + 60, FALL_SUNDAY + 120)]
    # 05:30-06:30 UTC = 01:30 EDT to 01:30 EST: the wall clock runs 01:30-02:00, then 01:00-01:30;
    # together 01:00-02:00 (the end instant alone would have given 01:30-01:30, nothing).
    assert clock.windows_to_program({"sun": ["05:30-06:30"]}, "UTC") == [(FALL_SUNDAY + 60, FALL_SUNDAY + 120)]
    # 04:00-08:00 UTC = 00:00 EDT to 03:00 EST: 00:00-02:00, then 01:00-03:00: 00:00-03:00.
    assert clock.windows_to_program({"sun": ["04:00-08:00"]}, "UTC") == [(FALL_SUNDAY, FALL_SUNDAY + 180)]
    # The 25-hour Sunday read whole in Chicago: Sun 00:00 CDT = 01:00 EDT; Mon 00:00 CST =
    # Mon 01:00 EST: 01:00 Sunday to 01:00 Monday, clipped at the end of the week. The Sunday
    # before (10-25, CDT against EDT) ends at this Monday 01:00: 0-60.
    assert clock.windows_to_program({"sun": ["00:00-24:00"]}, "America/Chicago") == [(0, 60), (FALL_SUNDAY + 60, MINUTES_PER_WEEK)]


def test_a_window_ending_when_the_clock_springs_forward() -> None:
    """Chicago Sun 2026-03-08 00:00-01:00 CST = 06:00-07:00 UTC = 01:00 EST to 03:00 EDT.

    The last minute, 06:59 UTC, reads 01:59 EST: the window is 01:00-02:00, not 01:00-03:00
    (02:00-03:00 program time never happens; read at fold 0 it is 03:00-04:00 EDT, when
    this person is not available)."""
    clock = WeekClock(NEW_YORK, date(2026, 3, 2))
    assert clock.windows_to_program({"sun": ["00:00-01:00"]}, "America/Chicago") == [(SPRING_SUNDAY + 60, SPRING_SUNDAY + 120)]


def test_a_window_across_the_skipped_hour_stays_one_piece() -> None:
    clock = WeekClock(NEW_YORK, date(2026, 3, 2))
    # Chicago Sun 00:00-04:00 = 06:00 UTC (00:00 CST) to 09:00 UTC (04:00 CDT, Chicago's own
    # 02:00-03:00 skipped) = 01:00 EST to 05:00 EDT: 01:00-05:00, skipped 02:00-03:00 included.
    assert clock.windows_to_program({"sun": ["00:00-04:00"]}, "America/Chicago") == [(SPRING_SUNDAY + 60, SPRING_SUNDAY + 300)]
    # 07:00-08:00 UTC starts at the change: 03:00-04:00 EDT.
    assert clock.windows_to_program({"sun": ["07:00-08:00"]}, "UTC") == [(SPRING_SUNDAY + 180, SPRING_SUNDAY + 240)]


# --------------------------------------------------------------------------- real time of program minutes


def test_elapsed_minutes_on_the_days_clocks_change() -> None:
    spring = WeekClock(NEW_YORK, date(2026, 3, 2))
    # QA c09: Sun 03-08 00:00-06:00 EST/EDT = 05:00-10:00 UTC: 5 hours, not 6.
    assert spring.elapsed_minutes([(SPRING_SUNDAY, SPRING_SUNDAY + 360)]) == 300
    # 02:00-03:00 never happens (both ends read 07:00 UTC).
    assert spring.elapsed_minutes([(SPRING_SUNDAY + 120, SPRING_SUNDAY + 180)]) == 0
    fall = WeekClock(NEW_YORK, date(2026, 10, 26))
    # QA c43: Sun 11-01 00:00-24:00 = 04:00 UTC Sun to 05:00 UTC Mon: 25 hours.
    assert fall.elapsed_minutes([(FALL_SUNDAY, MINUTES_PER_WEEK)]) == 25 * 60
    # Monday to Saturday are ordinary, and intervals add up: 2 h + 3 h.
    assert fall.elapsed_minutes([(480, 600), (DAY + 480, DAY + 660)]) == 300
    # A week without a change is 10080 minutes long.
    assert WeekClock(NEW_YORK, date(2026, 12, 7)).elapsed_minutes([(0, MINUTES_PER_WEEK)]) == MINUTES_PER_WEEK


@pytest.mark.parametrize(
    ("zone", "week_start", "changes"),
    [
        # New York springs forward on Sun 2026-03-08 at 02:00 (02:00-03:00 never happens) and
        # falls back on Sun 2026-11-01 at 02:00 (01:00-02:00 happens twice).
        ("America/New_York", "2026-03-02", [(6 * 1440 + 120, 6 * 1440 + 180)]),
        ("America/New_York", "2026-10-26", [(6 * 1440 + 60, 6 * 1440 + 120)]),
        ("America/New_York", "2026-11-30", []),
        # Paris falls back on Sun 2026-10-25 at 03:00 (02:00-03:00 twice).
        ("Europe/Paris", "2026-10-19", [(6 * 1440 + 120, 6 * 1440 + 180)]),
        # Lord Howe Island moves by 30 minutes (Sun 2026-04-05, 01:30-02:00 twice).
        ("Australia/Lord_Howe", "2026-03-30", [(6 * 1440 + 90, 6 * 1440 + 120)]),
        # Santiago falls back at midnight into Saturday: Sat 2026-04-04 23:00-24:00 twice.
        ("America/Santiago", "2026-03-30", [(5 * 1440 + 1380, 6 * 1440)]),
        # Havana springs forward at midnight: Sun 2026-03-08 00:00-01:00 never happens.
        ("America/Havana", "2026-03-02", [(6 * 1440, 6 * 1440 + 60)]),
        ("Asia/Kolkata", "2026-03-02", []),
        ("America/Phoenix", "2026-03-02", []),
    ],
)
def test_clock_changes_are_the_skipped_or_repeated_wall_times(zone: str, week_start: str, changes: list[tuple[int, int]]) -> None:
    assert list(WeekClock(zone, date.fromisoformat(week_start)).clock_changes()) == changes
