"""Charts of the week as SVG text: coverage per group type and therapist utilisation.

Drawn with matplotlib's object-oriented :class:`~matplotlib.figure.Figure` (never pyplot),
so no GUI backend is loaded and the global state of a host program is left alone; output
is SVG with text kept as text and a fixed hash salt and no date, so the same schedule
always gives the same bytes.
"""

from __future__ import annotations

import contextlib
import io

import matplotlib
from matplotlib.figure import Figure

from models.scenario import Scenario
from models.schedule import Schedule
from optimizer.export.timeline import APPOINTMENT_COLOUR, colours, coverage, utilisation

_NEEDED_COLOUR = "#D9DEE4"


def _style() -> contextlib.AbstractContextManager[None]:
    # Text stays text (smaller, searchable); a fixed salt makes element ids reproducible.
    return matplotlib.rc_context(
        {"svg.fonttype": "none", "svg.hashsalt": "roster-export", "font.size": 10, "font.family": "sans-serif"}
    )


def _svg(figure: Figure) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    return buffer.getvalue()


def _height(rows: int) -> float:
    return 1.2 + 0.45 * max(rows, 1)


def coverage_svg(scenario: Scenario, schedule: Schedule) -> str:
    """Horizontal bars: seats delivered (coloured) over seats needed (grey), per category.

    Returns
    -------
    str
        An SVG document.
    """
    rows = coverage(scenario, schedule)
    palette = colours(scenario, schedule)
    with _style():
        figure = Figure(figsize=(6.4, _height(len(rows))))
        axes = figure.add_subplot()
        labels = [row.key for row in rows]
        positions = list(range(len(rows)))[::-1]
        axes.barh(positions, [row.needed for row in rows], color=_NEEDED_COLOUR, label="needed", height=0.7)
        axes.barh(
            positions,
            [row.delivered for row in rows],
            color=[palette.get(row.key, APPOINTMENT_COLOUR) for row in rows],
            label="delivered",
            height=0.4,
        )
        for position, row in zip(positions, rows, strict=True):
            axes.text(
                max(row.needed, row.delivered), position, f"  {row.delivered}/{row.needed}", va="center", fontsize=9
            )
        axes.set_yticks(positions, labels)
        axes.set_xlabel("participant sessions (delivered / needed)")
        axes.set_title("Coverage by group type and appointment kind")
        axes.margins(x=0.15)
        axes.spines[["top", "right"]].set_visible(False)
        axes.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False, fontsize=8)
        return _svg(figure)


def utilisation_svg(scenario: Scenario, schedule: Schedule) -> str:
    """Horizontal bars: each therapist's scheduled hours over their available hours.

    Returns
    -------
    str
        An SVG document.
    """
    rows = utilisation(scenario, schedule)
    with _style():
        figure = Figure(figsize=(6.4, _height(len(rows))))
        axes = figure.add_subplot()
        positions = list(range(len(rows)))[::-1]
        axes.barh(positions, [row.available_hours for row in rows], color=_NEEDED_COLOUR, label="available", height=0.7)
        axes.barh(positions, [row.scheduled_hours for row in rows], color="#0072B2", label="scheduled", height=0.4)
        for position, row in zip(positions, rows, strict=True):
            axes.text(
                max(row.available_hours, row.scheduled_hours),
                position,
                f"  {row.scheduled_hours:g} h ({row.share:.0%})",
                va="center",
                fontsize=9,
            )
        axes.set_yticks(positions, [row.therapist for row in rows])
        axes.set_xlabel("hours this week (scheduled / available)")
        axes.set_title("Therapist utilisation")
        axes.margins(x=0.2)
        axes.spines[["top", "right"]].set_visible(False)
        axes.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False, fontsize=8)
        return _svg(figure)
