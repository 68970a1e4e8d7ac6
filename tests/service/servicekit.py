"""Helpers of the service tests: keys, sample scenario, settings, a real server process, polling."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil
from fastapi.testclient import TestClient

from models.io import read_document
from optimizer.service.settings import ServiceSettings

KEY_A = "key-a-0123456789abcdef0123456789"
KEY_B = "key-b-0123456789abcdef0123456789"
ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "scenarios" / "demo.yaml"


def sample_scenario() -> dict[str, object]:
    """The repository's demo scenario as the JSON the API takes."""
    raw, _ = read_document(DEMO)
    assert isinstance(raw, dict)
    return json.loads(json.dumps(raw, default=str))


def api_settings(tmp_path: Path, **overrides: object) -> ServiceSettings:
    """Settings for an ASGI test: two keys, a temporary SQLite file, no solver unless asked."""
    values: dict[str, object] = {
        "db": str(tmp_path / "jobs.db"),
        "api_keys": f"{KEY_A},{KEY_B}",
        "run_solver": False,
        "max_queued_per_key": 3,
        "max_body_bytes": 200_000,
        "max_time_limit": 60.0,
        "poll_interval": 0.1,
    }
    values.update(overrides)
    return ServiceSettings(**values)  # type: ignore[arg-type]


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """A real ``iop-roster serve`` process on loopback."""

    db: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    log: Path | None = None
    solver_pids: set[int] = field(default_factory=set)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, workers: int = 1) -> None:
        """Start the server and wait until it answers /healthz."""
        env = os.environ | {"IOP_ROSTER_API_KEYS": f"{KEY_A},{KEY_B}", "IOP_ROSTER_POLL_INTERVAL": "0.2",
                            "IOP_ROSTER_CORES": "2", "IOP_ROSTER_PROGRESS_INTERVAL": "0.2"}
        self.log = self.db.with_suffix(f".{self.port}.log")
        command = [sys.executable, "-c", "from optimizer.cli import main; main()", "serve",
                   "--port", str(self.port), "--db", str(self.db), "--workers", str(workers)]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"server did not start: {self.log.read_text()}")

    def descendants(self) -> list[psutil.Process]:
        """The server's solver processes (and any other children)."""
        if self.process is None:
            return []
        try:
            children = psutil.Process(self.process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []
        self.solver_pids.update(child.pid for child in children)
        return children

    def kill(self) -> None:
        """SIGKILL the server (a crash): its solver processes must notice and exit."""
        assert self.process is not None
        self.descendants()
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)
        self.process = None

    def stop(self) -> None:
        """Stop the server gracefully (SIGTERM), then make sure nothing it started lives on."""
        if self.process is not None:
            self.descendants()
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
            self.process = None
        wait_gone(self.solver_pids)


def wait_gone(pids: set[int], timeout: float = 10.0) -> None:
    """Wait for processes to exit; kill (and fail on) any that outlive the timeout."""
    deadline = time.monotonic() + timeout
    alive: list[psutil.Process] = []
    while time.monotonic() < deadline:
        alive = []
        for pid in pids:
            try:
                process = psutil.Process(pid)
                if process.status() != psutil.STATUS_ZOMBIE:
                    alive.append(process)
            except psutil.NoSuchProcess:
                pass
        if not alive:
            return
        time.sleep(0.1)
    for process in alive:
        process.kill()
    raise AssertionError(f"processes left running: {[p.pid for p in alive]}")


def poll(client: httpx.Client | TestClient, job_id: str, until: set[str], timeout: float = 60.0,
         key: str = KEY_A) -> dict[str, object]:
    """GET a job until its status is one of ``until``."""
    deadline = time.monotonic() + timeout
    while True:
        view = client.get(f"/v1/rosters/{job_id}", headers={"X-API-Key": key}).json()
        if view["status"] in until or time.monotonic() > deadline:
            return view  # type: ignore[no-any-return]
        time.sleep(0.2)
