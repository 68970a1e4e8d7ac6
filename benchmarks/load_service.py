"""Load test of the HTTP service: concurrent clients submit jobs to one real server.

The script starts ``iop-roster serve`` on a free loopback port with a temporary SQLite file
and a fresh API key, then ``--clients`` threads submit ``--jobs`` scenarios between them (the
repository's ``scenarios/demo.yaml`` and the small example of the OpenAPI document, with
varying seeds) at a short time limit, and each polls its jobs until they end. Afterwards every
job is read back: it must be ``solved``, its schedule must pass the independent checker, and
the server's list must hold exactly the jobs submitted (none lost). Time in queue
(``started_at - created_at``), solve time and total time (``finished_at - created_at``) come
from the server's own timestamps; their p50 and p95 are printed and written, as markdown, to
``--out``.

Usage::

    python -m benchmarks.load_service --jobs 50 --clients 10 --time-limit 1 \\
        --out benchmarks/results/service-load.md
    python -m benchmarks.load_service --workers 2 --append   # a second configuration, same file

Exit code 0 when every job ended solved with a schedule that passed the checker, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx

from models.io import read_document, scenario_from_data, write_atomic
from models.validation import validate_schedule
from optimizer.check import check
from optimizer.service.schemas import EXAMPLE_SCENARIO

ROOT = Path(__file__).resolve().parents[1]
FINISHED = {"solved", "stopped", "failed", "invalid"}


@dataclass
class Submission:
    """One job as a client saw it."""

    job_id: str
    scenario_index: int
    submit_seconds: float
    status: str = "queued"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _parse_time(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (p50: fraction 0.5)."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def scenarios() -> list[dict[str, object]]:
    """The documents submitted, in turn: the demo scenario and the OpenAPI example."""
    documents: list[dict[str, object]] = []
    demo = ROOT / "scenarios" / "demo.yaml"
    if demo.exists():
        raw, _ = read_document(demo)
        documents.append(json.loads(json.dumps(raw, default=str)))
    documents.append(dict(EXAMPLE_SCENARIO))
    return documents


class ServerProcess:
    """``iop-roster serve`` in a child process, stopped with SIGTERM."""

    def __init__(self, db: Path, key: str, workers: int | None, log: Path) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = [sys.executable, "-c", "from optimizer.cli import main; main()", "serve",
                   "--port", str(self.port), "--db", str(db), "--log-level", "warning"]
        if workers is not None:
            command += ["--workers", str(workers)]
        env = os.environ | {"IOP_ROSTER_API_KEYS": key, "IOP_ROSTER_MAX_QUEUED_PER_KEY": "1000",
                            "IOP_ROSTER_POLL_INTERVAL": "0.2"}
        self.log = log.open("wb")
        self.process = subprocess.Popen(command, env=env, stdout=self.log, stderr=subprocess.STDOUT, cwd=ROOT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited: see {log}")
            try:
                self.health = httpx.get(f"{self.url}/healthz", timeout=1).json()
                return
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError("the server did not start within 60 s")

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it lingers."""
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
        self.log.close()


def run_client(url: str, key: str, jobs: list[int], documents: list[dict[str, object]], time_limit: float,
               results: list[Submission], lock: threading.Lock) -> None:
    """Submit this client's jobs one after another, then poll them all until they end."""
    mine: list[Submission] = []
    with httpx.Client(base_url=url, headers={"X-API-Key": key}, timeout=60) as client:
        for number in jobs:
            index = number % len(documents)
            started = time.perf_counter()
            answer = client.post("/v1/rosters", json={
                "scenario": documents[index], "options": {"time_limit": time_limit, "seed": number},
            })
            answer.raise_for_status()
            mine.append(Submission(answer.json()["id"], index, time.perf_counter() - started))
        while any(s.status not in FINISHED for s in mine):
            for submission in mine:
                if submission.status not in FINISHED:
                    submission.status = client.get(f"/v1/rosters/{submission.job_id}").json()["status"]
            time.sleep(0.25)
    with lock:
        results.extend(mine)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the load test; exit code 0 when every job ended solved and checked."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--jobs", type=int, default=50)
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--time-limit", type=float, default=1.0)
    parser.add_argument("--workers", type=int, default=None, help="solves at once (default: the server's)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "service-load.md")
    parser.add_argument("--append", action="store_true", help="add this run to --out instead of replacing it")
    args = parser.parse_args(argv)

    documents = scenarios()
    parsed = [scenario_from_data(document).scenario for document in documents]
    key = secrets.token_urlsafe(32)
    directory = Path(tempfile.mkdtemp(prefix="iop-roster-load-"))
    server = ServerProcess(directory / "jobs.db", key, args.workers, directory / "server.log")
    results: list[Submission] = []
    lock = threading.Lock()
    began = time.perf_counter()
    try:
        shares = [list(range(client, args.jobs, args.clients)) for client in range(args.clients)]
        with ThreadPoolExecutor(args.clients) as pool:
            futures = [pool.submit(run_client, server.url, key, share, documents, args.time_limit, results, lock)
                       for share in shares if share]
            for future in futures:
                future.result()
        wall = time.perf_counter() - began
        with httpx.Client(base_url=server.url, headers={"X-API-Key": key}, timeout=60) as client:
            views = [client.get(f"/v1/rosters/{s.job_id}").json() for s in results]
            listed = {job["id"] for job in client.get("/v1/rosters", params={"limit": 1000}).json()["jobs"]}
    finally:
        server.stop()

    statuses: dict[str, int] = {}
    queue_times: list[float] = []
    solve_times: list[float] = []
    total_times: list[float] = []
    checked_ok = 0
    for submission, view in zip(results, views, strict=True):
        statuses[view["status"]] = statuses.get(view["status"], 0) + 1
        created, started, finished = (_parse_time(view[k]) if view.get(k) else math.nan
                                      for k in ("created_at", "started_at", "finished_at"))
        queue_times.append(started - created)
        solve_times.append(finished - started)
        total_times.append(finished - created)
        schedule, _ = validate_schedule(view.get("schedule"))
        if schedule is not None and check(parsed[submission.scenario_index], schedule).ok:
            checked_ok += 1
    submitted = {s.job_id for s in results}
    lost = len(submitted - listed) + (args.jobs - len(results))
    solved = statuses.get("solved", 0)
    ok = solved == args.jobs and checked_ok == args.jobs and lost == 0

    def row(name: str, values: list[float]) -> str:
        return f"| {name} | {percentile(values, 0.5):.2f} | {percentile(values, 0.95):.2f} | {max(values):.2f} |"

    health = server.health
    lines = [
        "# Service load test",
        "",
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, `python -m benchmarks.load_service --jobs {args.jobs} "
        f"--clients {args.clients} --time-limit {args.time_limit:g}"
        + (f" --workers {args.workers}" if args.workers else "") + "`",
        "",
        f"One `iop-roster serve` on loopback (SQLite, WAL) on {os.cpu_count()} cores "
        f"({platform.python_implementation()} {platform.python_version()}, {platform.machine()}), shared with other "
        f"work; {health['concurrent_solves']} solve(s) at once, {health['workers_per_solve']} CP-SAT worker(s) each, "
        f"a fresh spawned process per solve. {args.clients} concurrent clients submitted {args.jobs} jobs "
        f"(scenarios/demo.yaml and the OpenAPI example in turn, seeds 0-{args.jobs - 1}), time limit "
        f"{args.time_limit:g} s each, and polled every 0.25 s.",
        "",
        "| outcome | count |",
        "|---|---|",
        *[f"| {status} | {count} |" for status, count in sorted(statuses.items())],
        f"| schedules passing the checker | {checked_ok} |",
        f"| lost (submitted but not listed, or never answered) | {lost} |",
        "",
        "| seconds | p50 | p95 | max |",
        "|---|---|---|---|",
        row("time in queue (started - created)", queue_times),
        row("solve, incl. process start (finished - started)", solve_times),
        row("total (finished - created)", total_times),
        row("POST /v1/rosters answer (client side)", [s.submit_seconds for s in results]),
        "",
        f"Wall clock for all {args.jobs} jobs: {wall:.1f} s. Result: {'PASS' if ok else 'FAIL'}.",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if args.append and args.out.exists():
        text = args.out.read_text(encoding="utf-8") + "\n" + text.replace("# Service load test", "## Another run", 1)
    write_atomic(args.out, text)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
