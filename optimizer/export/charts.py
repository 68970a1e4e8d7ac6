"""Charts of the week as SVG text: coverage per group type and therapist utilisation.

Drawn with matplotlib's object-oriented :class:`~matplotlib.figure.Figure` (never pyplot),
so no GUI backend is loaded and the global state of a host program is left alone; output
is SVG with text kept as text and a fixed hash salt and no date, so the same schedule
always gives the same bytes.
"""

from __future__ import annotations

import contextlib
import io
import warnings

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
    with warnings.catch_warnings():
        # "Glyph 23478 (CJK ...) missing from font": it quotes a scenario's free text on stderr
        # (the page shows the text as written, in the browser's fonts: svg.fonttype none).
        warnings.filterwarnings("ignore", message="Glyph .* missing from", category=UserWarning)
        figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    return buffer.getvalue()


def _bars(
    title: str,
    xlabel: str,
    labels: list[str],
    whole: tuple[str, list[float]],
    part: tuple[str, list[float], list[str]],
    notes: list[str],
) -> str:
    """Horizontal bars, first row on top: a wide grey ``whole`` behind a narrow coloured ``part``.

    ``whole`` and ``part`` are ``(legend label, values[, colours])``; ``notes`` are written
    after the longer of the two bars of each row.
    """
    whole_label, whole_values = whole
    part_label, part_values, part_colours = part
    with _style():
        figure = Figure(figsize=(6.4, 1.2 + 0.45 * max(len(labels), 1)))
        axes = figure.add_subplot()
        positions = list(range(len(labels)))[::-1]
        axes.barh(positions, whole_values, color=_NEEDED_COLOUR, label=whole_label, height=0.7)
        axes.barh(positions, part_values, color=part_colours, label=part_label, height=0.4)
        for position, a, b, note in zip(positions, whole_values, part_values, notes, strict=True):
            axes.text(max(a, b), position, f"  {note}", va="center", fontsize=9)
        axes.set_yticks(positions, labels)
        axes.set_xlabel(xlabel)
        axes.set_title(title)
        axes.margins(x=0.2)
        axes.spines[["top", "right"]].set_visible(False)
        axes.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False, fontsize=8)
        return _svg(figure)


def coverage_svg(scenario: Scenario, schedule: Schedule) -> str:
    """Participant sessions delivered (coloured by group type) over needed (grey), per category.

    Returns
    -------
    str
        An SVG document.
    """
    rows = coverage(scenario, schedule)
    palette = colours(scenario, schedule)
    return _bars(
        "Coverage by group type and appointment kind",
        "participant sessions (delivered / needed)",
        [row.key for row in rows],
        ("needed", [row.needed for row in rows]),
        ("delivered", [row.delivered for row in rows], [palette.get(row.key, APPOINTMENT_COLOUR) for row in rows]),
        [f"{row.delivered}/{row.needed}" for row in rows],
    )


def utilisation_svg(scenario: Scenario, schedule: Schedule) -> str:
    """Each therapist's scheduled hours (blue) over their available hours (grey).

    Returns
    -------
    str
        An SVG document.
    """
    rows = utilisation(scenario, schedule)
    return _bars(
        "Therapist utilisation",
        "hours this week (scheduled / available)",
        [row.therapist for row in rows],
        ("available", [row.available_hours for row in rows]),
        ("scheduled", [row.scheduled_hours for row in rows], ["#0072B2"] * len(rows)),
        [f"{row.scheduled_hours:g} h ({row.share:.0%})" for row in rows],
    )
