"""An Excel workbook of the week, for operations staff.

Sheets, each with a frozen header row and columns sized to their contents:

``Summary``
    The program, the week, how the schedule was found, the schedule's summary figures,
    coverage per group type and appointment kind, and therapist utilisation.
``By therapist``
    One row per session, by therapist then time, with the participant ids.
``By participant``
    One row per participant and session, in program time and in the participant's own clock.
``Grid``
    Program days across, the ``slot_minutes`` grid of ``program.hours`` down; each cell lists
    the sessions running then (``S0001 process T01 (6)``), coloured by group type.
``Unmet``
    Every need not delivered, with the reasons.

Every text cell is written as a string (``write_string``), so a value such as ``=1+2``
is shown, never evaluated.
"""

from __future__ import annotations

import io
from collections import defaultdict
from pathlib import Path

import xlsxwriter
from xlsxwriter.format import Format
from xlsxwriter.worksheet import Worksheet

from models.clock import DAY_INDEX, MINUTES_PER_DAY, format_time, parse_window
from models.io import write_atomic
from models.scenario import Scenario
from models.schedule import Schedule
from optimizer.export.timeline import (
    APPOINTMENT_COLOUR,
    TimedSession,
    colours,
    coverage,
    local_span,
    participant_timezone,
    session_category,
    text_colour,
    timed_sessions,
    utilisation,
    week_clock,
)

Cell = str | int | float | None

SHEETS: tuple[str, ...] = ("Summary", "By therapist", "By participant", "Grid", "Unmet")
MAX_WIDTH = 70


class _Sheet:
    """A worksheet written row by row that remembers the widest value of each column."""

    def __init__(self, workbook: xlsxwriter.Workbook, name: str, bold: Format) -> None:
        self.sheet: Worksheet = workbook.add_worksheet(name)
        self.bold = bold
        self.row = 0
        self.widths: dict[int, int] = defaultdict(lambda: 6)

    def write_row(self, values: list[Cell], cell_format: Format | None = None) -> None:
        for column, value in enumerate(values):
            self.write(self.row, column, value, cell_format)
        self.row += 1

    def write(self, row: int, column: int, value: Cell, cell_format: Format | None = None) -> None:
        if value is None or value == "":
            self.sheet.write_blank(row, column, None, cell_format)
            return
        if isinstance(value, int | float) and not isinstance(value, bool):
            self.sheet.write_number(row, column, value, cell_format)
            text = f"{value:g}"
        else:
            self.sheet.write_string(row, column, str(value), cell_format)
            text = max(str(value).split("\n"), key=len)
        self.widths[column] = max(self.widths[column], min(len(text) + 2, MAX_WIDTH))

    def header(self, values: list[str]) -> None:
        """The header row, frozen, with an autofilter when it is the sheet's first row."""
        first = self.row
        self.write_row(list(values), self.bold)
        if first == 0:
            self.sheet.freeze_panes(1, 0)
            self.sheet.autofilter(0, 0, 0, len(values) - 1)

    def finish(self) -> None:
        for column, width in self.widths.items():
            self.sheet.set_column(column, column, width)


def _summary_sheet(workbook: xlsxwriter.Workbook, bold: Format, scenario: Scenario, schedule: Schedule) -> None:
    sheet = _Sheet(workbook, "Summary", bold)
    sheet.header(["Figure", "Value"])
    program = scenario.program
    solver = schedule.solver
    rows: list[list[Cell]] = [
        ["Program", program.name],
        ["Week of", program.week_start.isoformat()],
        ["Program time zone", program.timezone],
        ["Solver status", solver.status],
        ["Objective", solver.objective],
        ["Best bound", solver.best_bound],
        ["Gap", solver.gap],
        ["Sessions", len(schedule.sessions)],
        ["Group sessions", sum(1 for s in schedule.sessions if s.kind == "group")],
        ["Appointments", sum(1 for s in schedule.sessions if s.kind != "group")],
        ["Unmet needs (sessions missing)", sum(u.missing for u in schedule.unmet)],
    ]
    for key, value in schedule.summary.items():
        rows.append([key, value if isinstance(value, int | float | str) or value is None else str(value)])
    for row in rows:
        sheet.write_row(row)
    sheet.row += 1
    sheet.write_row(["Coverage", "Needed", "Delivered", "Share"], bold)
    for cov in coverage(scenario, schedule):
        sheet.write_row([f"{cov.label} ({cov.key})", cov.needed, cov.delivered, round(cov.share, 3)])
    sheet.row += 1
    sheet.write_row(["Therapist", "Sessions", "Scheduled hours", "Available hours", "Max hours", "Utilisation"], bold)
    for use in utilisation(scenario, schedule):
        sheet.write_row(
            [use.therapist, use.sessions, use.scheduled_hours, use.available_hours, use.max_hours, round(use.share, 3)]
        )
    sheet.finish()


def _therapist_sheet(workbook: xlsxwriter.Workbook, bold: Format, scenario: Scenario, timed: list[TimedSession]) -> None:
    sheet = _Sheet(workbook, "By therapist", bold)
    sheet.header(
        ["Therapist", "Day", "Date", "Start", "End", "Session", "Kind", "Group type", "Size", "Participants"]
    )
    order = {t.id: index for index, t in enumerate(scenario.therapists)}
    for item in sorted(timed, key=lambda t: (order.get(t.session.therapist, len(order)), t.start_minute)):
        session = item.session
        sheet.write_row(
            [
                session.therapist,
                session.day,
                item.date.isoformat(),
                session.start,
                session.end,
                session.id,
                session.kind,
                session.group_type or "",
                len(session.participants),
                ", ".join(session.participants),
            ]
        )
    sheet.finish()


def _participant_sheet(
    workbook: xlsxwriter.Workbook, bold: Format, scenario: Scenario, timed: list[TimedSession]
) -> None:
    sheet = _Sheet(workbook, "By participant", bold)
    sheet.header(
        [
            "Participant",
            "Day",
            "Date",
            "Start",
            "End",
            "Local start",
            "Local end",
            "Local time zone",
            "Session",
            "Kind",
            "Group type",
            "Therapist",
        ]
    )
    by_participant: dict[str, list[TimedSession]] = defaultdict(list)
    for item in timed:
        for participant in item.session.participants:
            by_participant[participant].append(item)
    known = [p.id for p in scenario.participants]
    for participant in known + sorted(set(by_participant) - set(known)):
        timezone = participant_timezone(scenario, participant) if participant in known else scenario.program.timezone
        for item in by_participant.get(participant, []):
            start, end = local_span(scenario, item, timezone)
            session = item.session
            sheet.write_row(
                [
                    participant,
                    session.day,
                    item.date.isoformat(),
                    session.start,
                    session.end,
                    start.strftime("%a %Y-%m-%d %H:%M"),
                    end.strftime("%H:%M"),
                    timezone,
                    session.id,
                    session.kind,
                    session.group_type or "",
                    session.therapist,
                ]
            )
    sheet.finish()


def _grid_sheet(
    workbook: xlsxwriter.Workbook, bold: Format, scenario: Scenario, schedule: Schedule, timed: list[TimedSession]
) -> None:
    sheet = _Sheet(workbook, "Grid", bold)
    program = scenario.program
    days = sorted(set(program.days) | {s.day for s in schedule.sessions}, key=DAY_INDEX.__getitem__)
    clock = week_clock(scenario)
    sheet.header(["Time"] + [f"{day} {clock.date_of(day).isoformat()}" for day in days])
    open_minute, close_minute = parse_window(program.hours)
    for item in timed:  # a hand-edited session outside program hours still shows
        open_minute = min(open_minute, item.start_minute % MINUTES_PER_DAY)
        close_minute = max(close_minute, item.end_minute - (item.start_minute // MINUTES_PER_DAY) * MINUTES_PER_DAY)
    step = program.slot_minutes
    open_minute -= open_minute % step
    palette = colours(scenario, schedule)
    cell_formats: dict[str, Format] = {}
    wrap = workbook.add_format({"text_wrap": True, "valign": "top"})
    for row, minute in enumerate(range(open_minute, close_minute, step), start=1):
        sheet.write(row, 0, format_time(minute), bold)
        for column, day in enumerate(days, start=1):
            slot_start = DAY_INDEX[day] * MINUTES_PER_DAY + minute
            running = [t for t in timed if t.start_minute < slot_start + step and slot_start < t.end_minute]
            if not running:
                continue
            text = "\n".join(
                f"{t.session.id} {t.session.group_type or t.session.kind} {t.session.therapist} ({len(t.session.participants)})"
                for t in running
            )
            key = session_category(running[0].session)
            if key not in cell_formats:
                background = palette.get(key, APPOINTMENT_COLOUR)
                cell_formats[key] = workbook.add_format(
                    {"text_wrap": True, "valign": "top", "bg_color": background, "font_color": text_colour(background)}
                )
            sheet.write(row, column, text, cell_formats[key] if len(running) == 1 else wrap)
        sheet.row = row + 1
    sheet.sheet.freeze_panes(1, 1)
    sheet.finish()


def _unmet_sheet(workbook: xlsxwriter.Workbook, bold: Format, schedule: Schedule) -> None:
    sheet = _Sheet(workbook, "Unmet", bold)
    sheet.header(["Participant", "Need", "Missing", "Reasons"])
    for unmet in schedule.unmet:
        sheet.write_row([unmet.participant, unmet.need, unmet.missing, "; ".join(unmet.reasons)])
    sheet.finish()


def xlsx_bytes(scenario: Scenario, schedule: Schedule) -> bytes:
    """The workbook's bytes (built in memory)."""
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True})
    bold = workbook.add_format({"bold": True, "bg_color": "#E8EEF4", "bottom": 1})
    timed = timed_sessions(scenario, schedule)
    _summary_sheet(workbook, bold, scenario, schedule)
    _therapist_sheet(workbook, bold, scenario, timed)
    _participant_sheet(workbook, bold, scenario, timed)
    _grid_sheet(workbook, bold, scenario, schedule, timed)
    _unmet_sheet(workbook, bold, schedule)
    workbook.close()
    return buffer.getvalue()


def write_xlsx(scenario: Scenario, schedule: Schedule, path: str | Path) -> Path:
    """Write the workbook atomically and return its path."""
    write_atomic(path, xlsx_bytes(scenario, schedule))
    return Path(path)
