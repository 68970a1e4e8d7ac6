"""A self-contained HTML report of the week, for operations staff.

One file, no network: the stylesheet is inline, the charts are SVG embedded as ``data:``
URIs, and there are no scripts, fonts or links to anything outside the page. It shows

- the week at a glance: program days across, program hours down, every session a block
  coloured by group type; hovering shows the roster, clicking opens it;
- the timetable by therapist (therapists down, days across) with the participant ids of
  every session;
- unmet needs with their reasons;
- coverage (delivered against needed per group type and appointment kind) and therapist
  utilisation, as charts and as tables;

and it prints readably (``@media print``: no navigation, no page break inside a table row).
The template (``optimizer/templates/report.html.j2``) is rendered by Jinja2 with
autoescaping on, so ids and reasons can never inject markup.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path

import jinja2

from models.clock import DAY_INDEX, MINUTES_PER_DAY, format_time, parse_window
from models.io import write_atomic
from models.scenario import Scenario
from models.schedule import Schedule
from optimizer import __version__
from optimizer.export.charts import coverage_svg, utilisation_svg
from optimizer.export.timeline import (
    APPOINTMENT_COLOUR,
    TimedSession,
    colours,
    coverage,
    session_category,
    session_label,
    text_colour,
    timed_sessions,
    utilisation,
    week_clock,
)

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates"
TEMPLATE_NAME = "report.html.j2"
#: Height of one minute in the week-at-a-glance view, in CSS pixels.
PIXELS_PER_MINUTE = 1.0
#: Narrowest lane of the week view on screen (wide enough for a session id), in CSS pixels.
LANE_MIN_WIDTH = 68


@dataclass(frozen=True)
class SessionBlock:
    """What the template needs to draw one session."""

    id: str
    day: str
    start: str
    end: str
    label: str
    category: str
    therapist: str
    participants: list[str]
    background: str
    foreground: str
    top: float
    height: float
    lane: int
    lanes: int

    @property
    def tooltip(self) -> str:
        """Hover text: id, time, type, therapist and roster."""
        roster = ", ".join(self.participants) or "no participants"
        return f"{self.id} {self.day} {self.start}-{self.end} {self.label}, {self.therapist}: {roster}"


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _data_uri(svg: str) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


def _lanes(items: list[TimedSession]) -> dict[str, tuple[int, int]]:
    """Side-by-side lanes for one day's sessions: ``id -> (lane, lanes of the day)``.

    Greedy interval partitioning: sessions by start, each into the first lane free by then;
    this uses as many lanes as the most sessions running at once.
    """
    lane_ends: list[int] = []
    lane_of: dict[str, int] = {}
    for item in sorted(items, key=lambda t: (t.start_minute, t.session.therapist, t.session.id)):
        for lane, end in enumerate(lane_ends):
            if end <= item.start_minute:
                lane_ends[lane] = item.end_minute
                lane_of[item.session.id] = lane
                break
        else:
            lane_of[item.session.id] = len(lane_ends)
            lane_ends.append(item.end_minute)
    return {session_id: (lane, max(len(lane_ends), 1)) for session_id, lane in lane_of.items()}


def report_context(scenario: Scenario, schedule: Schedule) -> dict[str, object]:
    """Everything the template shows, as plain values (also handy for tests).

    Returns
    -------
    dict
        Keys: ``program``, ``week_start``, ``solver``, ``figures``, ``days``, ``hours``,
        ``blocks_by_day``, ``therapists``, ``legend``, ``unmet``, ``coverage``,
        ``utilisation``, ``coverage_chart``, ``utilisation_chart``, ``day_height``, ``version``.
    """
    program = scenario.program
    clock = week_clock(scenario)
    timed = timed_sessions(scenario, schedule)
    palette = colours(scenario, schedule)

    open_minute, close_minute = parse_window(program.hours)
    for item in timed:  # a hand-edited session outside program hours still shows
        day_start = (item.start_minute // MINUTES_PER_DAY) * MINUTES_PER_DAY
        open_minute = min(open_minute, item.start_minute - day_start)
        close_minute = max(close_minute, item.end_minute - day_start)
    open_minute -= open_minute % 60
    close_minute += -close_minute % 60
    days = sorted(set(program.days) | {t.session.day for t in timed}, key=DAY_INDEX.__getitem__)

    by_day: dict[str, list[TimedSession]] = {day: [] for day in days}
    for item in timed:
        by_day[item.session.day].append(item)

    blocks: dict[str, SessionBlock] = {}
    blocks_by_day: dict[str, list[SessionBlock]] = {}
    for day, items in by_day.items():
        lanes = _lanes(items)
        blocks_by_day[day] = []
        for item in items:
            session = item.session
            category = session_category(session)
            background = palette.get(category, APPOINTMENT_COLOUR)
            lane, lane_count = lanes[session.id]
            block = SessionBlock(
                id=session.id,
                day=day,
                start=session.start,
                end=session.end,
                label=session_label(scenario, session),
                category=category,
                therapist=session.therapist,
                participants=list(session.participants),
                background=background,
                foreground=text_colour(background),
                top=(item.start_minute % MINUTES_PER_DAY - open_minute) * PIXELS_PER_MINUTE,
                height=max(item.duration_minutes * PIXELS_PER_MINUTE, 18.0),
                lane=lane,
                lanes=lane_count,
            )
            blocks[session.id] = block
            blocks_by_day[day].append(block)

    use = {row.therapist: row for row in utilisation(scenario, schedule)}
    therapist_ids = [t.id for t in scenario.therapists]
    therapist_ids += sorted({t.session.therapist for t in timed} - set(therapist_ids))
    therapists = []
    for therapist_id in therapist_ids:
        cells = {day: [blocks[i.session.id] for i in by_day[day] if i.session.therapist == therapist_id] for day in days}
        name = next((t.name for t in scenario.therapists if t.id == therapist_id), None)
        therapists.append({"id": therapist_id, "name": name or "", "cells": cells, "utilisation": use.get(therapist_id)})

    labels = {row.key: row.label for row in coverage(scenario, schedule)}
    labels.update({g.id: g.name or g.id for g in scenario.group_types})
    legend = [
        {"key": key, "label": labels.get(key, key), "colour": colour, "foreground": text_colour(colour)}
        for key, colour in palette.items()
    ]
    participants_scheduled = {p for s in schedule.sessions for p in s.participants}
    figures = [
        ("Sessions", len(schedule.sessions)),
        ("Group sessions", sum(1 for s in schedule.sessions if s.kind == "group")),
        ("Appointments", sum(1 for s in schedule.sessions if s.kind != "group")),
        ("Participants scheduled", f"{len(participants_scheduled)} of {len(scenario.participants)}"),
        ("Sessions missing (unmet)", sum(u.missing for u in schedule.unmet)),
        ("Therapist hours", f"{sum(t.duration_minutes for t in timed) / 60:g}"),
    ]
    return {
        "program": program,
        "week_start": program.week_start.isoformat(),
        "week_end": clock.date_of(6).isoformat(),
        "solver": schedule.solver,
        "figures": figures,
        "days": [
            {
                "id": day,
                "date": clock.date_of(day).isoformat(),
                "lanes": max((block.lanes for block in blocks_by_day[day]), default=1),
            }
            for day in days
        ],
        "hours": [format_time(minute) for minute in range(open_minute, close_minute, 60)],
        "hour_height": 60 * PIXELS_PER_MINUTE,
        "day_height": (close_minute - open_minute) * PIXELS_PER_MINUTE,
        "blocks_by_day": blocks_by_day,
        "therapists": therapists,
        "legend": legend,
        "unmet": schedule.unmet,
        "coverage": coverage(scenario, schedule),
        "utilisation": list(use.values()),
        "coverage_chart": _data_uri(coverage_svg(scenario, schedule)),
        "utilisation_chart": _data_uri(utilisation_svg(scenario, schedule)),
        "lane_min_width": LANE_MIN_WIDTH,
        "version": __version__,
    }


def html_text(scenario: Scenario, schedule: Schedule) -> str:
    """The report page's HTML."""
    return _environment().get_template(TEMPLATE_NAME).render(report_context(scenario, schedule))


def write_html(scenario: Scenario, schedule: Schedule, path: str | Path) -> Path:
    """Write the report atomically and return its path."""
    write_atomic(path, html_text(scenario, schedule))
    return Path(path)
