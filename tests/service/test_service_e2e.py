"""End to end against a real ``iop-roster serve`` process on loopback, with real solves.

Each test starts the server on a free port with a temporary SQLite file, and checks at the
end that no solver process outlives it.
"""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from servicekit import KEY_A, KEY_B, Server, poll, sample_scenario

from models.io import scenario_from_data
from models.validation import validate_schedule
from optimizer.check import check
from optimizer.generate import generate_scenario

pytestmark = pytest.mark.slow

A = {"X-API-Key": KEY_A}


def big_scenario() -> dict[str, object]:
    """A generated 40-participant week: it takes a solve the whole of a few seconds."""
    return generate_scenario("S", seed=1).model_dump(mode="json", exclude_defaults=True)


def test_real_server_solves_a_sample_and_the_checker_agrees(server: Server) -> None:
    scenario = sample_scenario()
    with httpx.Client(base_url=server.url, timeout=30) as client:
        answer = client.post("/v1/rosters", json={"scenario": scenario, "options": {"time_limit": 3, "seed": 1}},
                             headers=A)
        assert answer.status_code == 202
        assert answer.json()["status"] == "queued"
        view = poll(client, answer.json()["id"], {"solved", "failed", "invalid", "stopped"})
        assert view["status"] == "solved", view
        assert client.get(answer.headers["location"], headers={"X-API-Key": KEY_B}).status_code == 404
        listed = client.get("/v1/rosters", headers=A).json()["jobs"]
        assert [job["status"] for job in listed] == ["solved"]
    schedule, errors = validate_schedule(view["schedule"])
    assert schedule is not None, errors
    report = check(scenario_from_data(scenario).scenario, schedule)
    assert report.ok, [violation.message for violation in report.violations]
    assert view["progress"]["solver_status"] in {"optimal", "feasible"}  # type: ignore[index]
    # The final figures are the live ones, counted from the schedule returned.
    summary = schedule.summary
    assert view["progress"]["stage"] == "done"  # type: ignore[index]
    assert view["progress"]["sessions"] == len(schedule.sessions) == summary["sessions"]  # type: ignore[index]
    assert view["progress"]["delivered"] == sum(len(s.participants) for s in schedule.sessions)  # type: ignore[index]
    assert view["progress"]["needed"] == view["progress"]["delivered"] + sum(u.missing for u in schedule.unmet)  # type: ignore[index]


def test_delete_stops_a_running_solve_and_keeps_its_best_schedule(server: Server) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        job_id = client.post("/v1/rosters", json={"scenario": big_scenario(), "options": {"time_limit": 60}},
                             headers=A).json()["id"]
        deadline = time.monotonic() + 40
        view = poll(client, job_id, {"solving"})
        while view["status"] == "solving" and not (view.get("progress") or {}).get("objective"):  # type: ignore[union-attr]
            assert time.monotonic() < deadline, view
            time.sleep(0.2)
            view = client.get(f"/v1/rosters/{job_id}", headers=A).json()
        asked = time.monotonic()
        with ThreadPoolExecutor(1) as pool:
            stopping = pool.submit(client.delete, f"/v1/rosters/{job_id}", headers=A)
            # While DELETE waits for the solve's schedule, the server keeps answering.
            started = time.monotonic()
            assert client.get("/healthz").status_code == 200
            assert time.monotonic() - started < 2
            answer = stopping.result()
        assert answer.status_code in {200, 202}
        view = poll(client, job_id, {"stopped", "solved", "failed"}, timeout=20)
        assert view["status"] == "stopped", view
        assert time.monotonic() - asked < 15
        assert view["schedule"]["sessions"]  # type: ignore[index]
        assert view["stop_requested"] is True


def test_a_restart_mid_solve_requeues_the_job_and_it_completes(tmp_path: Path) -> None:
    server = Server(db=tmp_path / "jobs.db")
    server.start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            solving = client.post("/v1/rosters", json={"scenario": big_scenario(), "options": {"time_limit": 5}},
                                  headers=A).json()["id"]
            waiting = client.post("/v1/rosters", json={"scenario": sample_scenario(), "options": {"time_limit": 2}},
                                  headers=A).json()["id"]
            assert poll(client, solving, {"solving"})["status"] == "solving"
            time.sleep(0.5)
            assert server.descendants(), "a solver process runs"
        server.kill()
        server.stop()  # the orphaned solver process notices and exits
        server.start()
        with httpx.Client(base_url=server.url, timeout=30) as client:
            assert client.get(f"/v1/rosters/{waiting}", headers=A).json()["status"] == "queued"
            view = poll(client, solving, {"solved", "stopped", "failed"}, timeout=60)
            assert view["status"] == "solved", view
            assert view["attempts"] == 2
            assert view["schedule"]["sessions"]  # type: ignore[index]
            assert poll(client, waiting, {"solved", "failed"})["status"] == "solved"
    finally:
        server.stop()


def test_a_solver_process_that_dies_fails_its_job_and_the_server_carries_on(server: Server) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        doomed = client.post("/v1/rosters", json={"scenario": big_scenario(), "options": {"time_limit": 30}},
                             headers=A).json()["id"]
        assert poll(client, doomed, {"solving"})["status"] == "solving"
        time.sleep(0.5)
        # As the kernel's OOM killer would: every solver process (the one started ahead too).
        for process in server.descendants():
            if "spawn_main" in " ".join(process.cmdline()):
                process.kill()
        view = poll(client, doomed, {"failed", "solved", "stopped"}, timeout=20)
        assert view["status"] == "failed", view
        assert view["errors"][0]["message"].startswith("the solver process ended without a result")  # type: ignore[index]
        after = client.post("/v1/rosters", json={"scenario": sample_scenario(), "options": {"time_limit": 2}},
                            headers=A).json()["id"]
        assert poll(client, after, {"solved", "failed"})["status"] == "solved"


def test_a_real_server_logs_routes_not_client_text_and_keeps_its_database_private(server: Server) -> None:
    marker = "JaneDoe"
    with httpx.Client(base_url=server.url, timeout=30) as client:
        assert client.get("/v1/rosters", params={"status": f"{marker} x", "limit": -1}, headers=A).status_code == 422
        assert client.get(f"/v1/rosters/{marker}%27%20OR%201%3D1--", headers=A).status_code == 404
        assert client.get("/v1/" + marker + "a" * 5000, headers=A).status_code == 404
        assert client.get("/v1/rosters", headers=A).status_code == 200
    assert server.log is not None
    expected = [f"iop_roster.access: {line} " for line in (
        "GET /v1/rosters 422", "GET /v1/rosters/{job_id} 404", "GET unmatched path 404", "GET /v1/rosters 200")]
    deadline = time.monotonic() + 10  # a request is logged once its answer has gone out
    while not all(line in server.log.read_text() for line in expected) and time.monotonic() < deadline:
        time.sleep(0.1)
    log = server.log.read_text()
    assert all(line in log for line in expected), log[-2000:]
    assert marker not in log
    assert 'HTTP/1.1"' not in log  # uvicorn's own access log (the raw request line) is off
    modes = {path.name: stat.S_IMODE(path.stat().st_mode) for path in server.db.parent.glob("jobs.db*")}
    assert modes == {"jobs.db": 0o600, "jobs.db-wal": 0o600, "jobs.db-shm": 0o600}


def test_serve_with_a_file_that_is_not_a_database_exits_2_before_uvicorn_starts(tmp_path: Path) -> None:
    not_sqlite = tmp_path / "jobs.db"
    not_sqlite.write_text("not a database\n" * 100)
    finished = subprocess.run(
        [sys.executable, "-c", "from optimizer.cli import main; main()", "serve", "--port", "0", "--db", str(not_sqlite)],
        env=os.environ | {"IOP_ROSTER_API_KEYS": KEY_A}, capture_output=True, text=True, timeout=60,
    )
    assert finished.returncode == 2
    assert finished.stderr.splitlines() == [f"error: cannot use the job database {not_sqlite}: file is not a database"]
    assert finished.stdout == ""


def test_serve_on_a_port_in_use_exits_2_with_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        finished = subprocess.run(
            [sys.executable, "-c", "from optimizer.cli import main; main()", "serve", "--port", str(port),
             "--db", str(tmp_path / "jobs.db")],
            env=os.environ | {"IOP_ROSTER_API_KEYS": KEY_A}, capture_output=True, text=True, timeout=60,
        )
    assert finished.returncode == 2
    assert finished.stderr.splitlines() == [f"error: cannot listen on 127.0.0.1:{port}: Address already in use"]
    assert finished.stdout == ""
