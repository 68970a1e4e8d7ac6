"""The HTML report: self-contained, escaped, complete, and rendered by a real browser."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from models.scenario import Scenario
from models.schedule import Schedule, UnmetNeed
from optimizer.export.html import html_text, report_context, write_html

# Anything that would make the page fetch something: remote or protocol-relative URLs in
# attributes or CSS, CSS imports, scripts, frames, web fonts.
_NETWORK = re.compile(
    r"""(?:src|href|action|poster|srcset)\s*=\s*["']?\s*(?:https?:|//|ftp:)|url\(\s*["']?\s*(?:https?:|//)|@import|<script|<iframe|<link|@font-face""",
    re.IGNORECASE,
)


def test_page_is_self_contained(scenario: Scenario, schedule: Schedule) -> None:
    page = html_text(scenario, schedule)
    assert page.startswith("<!DOCTYPE html>")
    assert not _NETWORK.search(page), _NETWORK.search(page)
    images = re.findall(r'<img src="([^"]+)"', page)
    assert len(images) == 2 and all(src.startswith("data:image/svg+xml;base64,") for src in images)
    assert "@media print" in page


def test_page_shows_every_session_roster_and_unmet_need(scenario: Scenario, schedule: Schedule) -> None:
    page = html_text(scenario, schedule)
    for session in schedule.sessions:
        assert f'id="session-{session.id}"' in page
        assert ", ".join(session.participants) in page
    assert "P0002" in page and "no second cohort can form" in page
    # Colour by group type: the process blocks share the legend's colour.
    context = report_context(scenario, schedule)
    legend = {item["key"]: item["colour"] for item in context["legend"]}  # type: ignore[attr-defined]
    assert page.count(f"background: {legend['process']}") >= 3  # legend + S0001 + S0004


def test_text_is_escaped(scenario: Scenario, schedule: Schedule) -> None:
    hostile = schedule.model_copy(
        update={"unmet": [UnmetNeed(participant="P0002", need="process", missing=1, reasons=["<script>alert(1)</script>"])]}
    )
    page = html_text(scenario, hostile)
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_week_layout_places_blocks_by_time_and_lanes(scenario: Scenario, schedule: Schedule) -> None:
    context = report_context(scenario, schedule)
    assert context["hours"][0] == "08:00" and context["hours"][-1] == "20:00"  # type: ignore[index]
    blocks = {b.id: b for day in context["blocks_by_day"].values() for b in day}  # type: ignore[attr-defined]
    # 08:00 is the top; S0001 starts at 18:00, 600 minutes later, and lasts 120.
    assert (blocks["S0001"].top, blocks["S0001"].height) == (600.0, 120.0)
    # Tuesday: S0002 (18:00-19:00) and S0003 (19:30-20:30) do not overlap: one lane.
    assert (blocks["S0002"].lanes, blocks["S0003"].lane) == (1, 0)


def test_overlapping_sessions_get_side_by_side_lanes(scenario: Scenario, make_schedule) -> None:  # type: ignore[no-untyped-def]
    overlapping = make_schedule(
        [
            {"group_type": "process", "therapist": "T01", "day": "mon", "start": "09:00", "end": "11:00",
             "participants": ["P0003", "P0004"]},
            {"group_type": "process", "therapist": "T02", "day": "mon", "start": "10:00", "end": "12:00",
             "participants": ["P0005", "P0007"]},
        ]
    )
    blocks = report_context(scenario, overlapping)["blocks_by_day"]["mon"]  # type: ignore[index]
    assert [(b.lane, b.lanes) for b in blocks] == [(0, 2), (1, 2)]


def _chromium() -> str | None:
    return shutil.which("chromium") or (str(Path("/usr/bin/chromium")) if Path("/usr/bin/chromium").exists() else None)


def _run_chromium(binary: str, profile: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            binary,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--host-resolver-rules=MAP * ~NOTFOUND",  # no request could leave the machine anyway
            f"--user-data-dir={profile}",
            "--enable-logging=stderr",
            "--v=0",
            *arguments,
        ],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


@pytest.mark.slow
def test_report_renders_in_headless_chromium(tmp_path: Path, scenario: Scenario, schedule: Schedule) -> None:
    binary = _chromium()
    if binary is None:
        pytest.skip("chromium is not installed (apt-get install chromium; .ci/run installs it)")
    page = write_html(scenario, schedule, tmp_path / "report.html")
    url = page.resolve().as_uri()

    dump = _run_chromium(binary, tmp_path / "profile", "--dump-dom", url)
    assert dump.returncode == 0, dump.stderr[-2000:]
    dom = dump.stdout
    assert "<h1>Harbor Virtual IOP</h1>" in dom
    for session in schedule.sessions:
        assert f'data-session="{session.id}"' in dom, f"{session.id} is not on the rendered page"
        assert ", ".join(session.participants) in dom
    # Chromium logs every console message (errors, uncaught exceptions) as ":CONSOLE".
    console = [line for line in dump.stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line]
    assert console == [], console

    screenshot = tmp_path / "report.png"
    shot = _run_chromium(binary, tmp_path / "profile", f"--screenshot={screenshot}", "--window-size=1400,2000", url)
    assert shot.returncode == 0, shot.stderr[-2000:]
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert screenshot.stat().st_size > 20_000  # a blank page is a few kB
    assert [line for line in shot.stderr.splitlines() if ":CONSOLE" in line] == []
