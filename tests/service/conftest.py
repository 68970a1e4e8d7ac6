"""Fixtures of the service tests: an ASGI client on a temporary database, a real server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from servicekit import Server, api_settings

from optimizer.service.app import create_app


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    """An ASGI client of an app whose jobs stay queued (no solver processes)."""
    with TestClient(create_app(api_settings(tmp_path))) as test_client:
        yield test_client


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    """A real server on a free loopback port with a temporary SQLite file, stopped after the test."""
    instance = Server(db=tmp_path / "jobs.db")
    instance.start()
    try:
        yield instance
    finally:
        instance.stop()


