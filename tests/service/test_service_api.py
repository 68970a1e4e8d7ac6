"""The HTTP API through the ASGI test client: every endpoint and every error answer.

These tests run no solver (``run_solver=False``): jobs stay queued, which is what the API
layer needs to be tested; solving is tested against a real server in test_service_e2e.py.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import importlib.util
import json
import logging
import re
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from pydantic import ValidationError
from servicekit import KEY_A, KEY_B, api_settings

from optimizer.cli import main
from optimizer.result import Progress, Result, SolveStatus
from optimizer.service.app import create_app
from optimizer.service.auth import ConfigurationError, KeyRing
from optimizer.service.runner import outcome, progress_document
from optimizer.service.schemas import EXAMPLE_SCENARIO, JobProgress
from optimizer.service.settings import ServiceSettings, database_url
from optimizer.service.store import prepare_database

A = {"X-API-Key": KEY_A}
B = {"X-API-Key": KEY_B}
SECRET = "Jane Q. Patient"  # a value that must never come back in an answer or a log


def submit(client: TestClient, scenario: object = None, headers: dict[str, str] = A, **options: object) -> str:
    answer = client.post("/v1/rosters", json={"scenario": scenario or EXAMPLE_SCENARIO, "options": options},
                         headers=headers)
    assert answer.status_code == 202, answer.text
    return str(answer.json()["id"])


def test_healthz_needs_no_key(client: TestClient) -> None:
    answer = client.get("/healthz")
    assert answer.status_code == 200
    assert answer.json()["status"] == "ok"
    assert client.head("/healthz").status_code == 200  # a load balancer's probe (QA: 405)


def test_submit_answers_202_with_a_random_id_and_location(client: TestClient) -> None:
    answer = client.post("/v1/rosters", json={"scenario": EXAMPLE_SCENARIO, "options": {"time_limit": 5}}, headers=A)
    assert answer.status_code == 202
    body = answer.json()
    assert body == {"id": body["id"], "status": "queued"}
    assert len(body["id"]) >= 20
    assert answer.headers["location"] == f"/v1/rosters/{body['id']}"
    view = client.get(answer.headers["location"], headers=A).json()
    assert view["status"] == "queued"
    assert view["options"]["time_limit"] == 5
    assert "schedule" not in view and "errors" not in view


def test_default_time_limit_is_filled_in(client: TestClient) -> None:
    job_id = submit(client)
    assert client.get(f"/v1/rosters/{job_id}", headers=A).json()["options"]["time_limit"] == 30.0


@pytest.mark.parametrize(
    ("method", "path"),
    [("get", "/v1/rosters"), ("get", "/v1/rosters/x"), ("delete", "/v1/rosters/x"),
     ("post", "/v1/rosters"), ("post", "/v1/check"), ("post", "/v1/validate")],
)
@pytest.mark.parametrize("headers", [{}, {"X-API-Key": "not-a-key"}, {"X-API-Key": ""}])
def test_every_v1_endpoint_needs_a_valid_key(client: TestClient, method: str, path: str, headers: dict[str, str]) -> None:
    answer = client.request(method, path, headers=headers, json={"scenario": EXAMPLE_SCENARIO})
    assert answer.status_code == 401
    assert answer.json()["detail"].startswith("a valid API key")


def test_another_key_cannot_see_stop_or_list_a_job(client: TestClient) -> None:
    job_id = submit(client)
    assert client.get(f"/v1/rosters/{job_id}", headers=B).status_code == 404
    assert client.delete(f"/v1/rosters/{job_id}", headers=B).status_code == 404
    assert client.get("/v1/rosters", headers=B).json() == {"jobs": []}
    assert client.get(f"/v1/rosters/{job_id}", headers=A).json()["status"] == "queued"


def test_unknown_id_is_404(client: TestClient) -> None:
    for method in ("get", "delete"):
        answer = client.request(method, "/v1/rosters/no-such-job", headers=A)
        assert answer.status_code == 404
        assert answer.json() == {"detail": "no job with this id", "errors": []}


def test_list_shows_own_jobs_newest_first_and_filters(client: TestClient) -> None:
    first, second = submit(client), submit(client)
    client.delete(f"/v1/rosters/{first}", headers=A)
    jobs = client.get("/v1/rosters", headers=A).json()["jobs"]
    assert [job["id"] for job in jobs] == [second, first]
    assert "schedule" not in jobs[0]
    stopped = client.get("/v1/rosters", params={"status": "stopped"}, headers=A).json()["jobs"]
    assert [job["id"] for job in stopped] == [first]
    assert len(client.get("/v1/rosters", params={"limit": 1}, headers=A).json()["jobs"]) == 1


def test_list_items_leave_absent_fields_out_as_the_job_does(client: TestClient) -> None:
    queued, stopped = submit(client), submit(client)
    client.delete(f"/v1/rosters/{stopped}", headers=A)
    jobs = {job["id"]: job for job in client.get("/v1/rosters", headers=A).json()["jobs"]}
    assert set(jobs[queued]) == {"id", "status", "created_at", "attempts"}  # never started nor finished: no nulls
    assert set(jobs[stopped]) == {"id", "status", "created_at", "finished_at", "attempts"}
    for job_id, item in jobs.items():
        view = client.get(f"/v1/rosters/{job_id}", headers=A).json()
        assert item == {key: view[key] for key in item}
        assert set(view) - set(item) <= {"options", "stop_requested", "progress", "schedule", "errors"}


def test_delete_of_a_queued_job_stops_it_and_is_idempotent(client: TestClient) -> None:
    job_id = submit(client)
    answer = client.delete(f"/v1/rosters/{job_id}", headers=A)
    assert answer.status_code == 200
    assert answer.json()["status"] == "stopped"
    assert answer.json()["stop_requested"] is True
    assert client.delete(f"/v1/rosters/{job_id}", headers=A).json()["status"] == "stopped"


def test_invalid_scenario_becomes_an_invalid_job_with_paths_and_rules(client: TestClient) -> None:
    scenario = copy.deepcopy(EXAMPLE_SCENARIO)
    scenario["participants"][0]["id"] = SECRET  # type: ignore[index]
    scenario["participants"][1]["state"] = "ZZ"  # type: ignore[index]
    answer = client.post("/v1/rosters", json={"scenario": scenario}, headers=A)
    assert answer.status_code == 202
    body = answer.json()
    assert body["status"] == "invalid"
    assert SECRET not in answer.text
    view = client.get(f"/v1/rosters/{body['id']}", headers=A).json()
    assert view["status"] == "invalid"
    paths = [error["path"] for error in view["errors"]]
    assert any(path.startswith("participants[0]") for path in paths)
    assert any(path.startswith("participants[1]") and "state" in path for path in paths)
    assert all(set(error) == {"path", "message"} for error in view["errors"])
    assert SECRET not in str(view)


def test_a_document_that_is_not_a_scenario_is_invalid(client: TestClient) -> None:
    body = client.post("/v1/rosters", json={"scenario": {"format": "iop-scenario/1"}}, headers=A).json()
    assert body["status"] == "invalid"
    assert {"path": "program", "message": "is required but missing"} in body["errors"]


@pytest.mark.parametrize(
    "payload",
    [
        {"scenario": EXAMPLE_SCENARIO, "options": {"time_limit": SECRET}},
        {"scenario": EXAMPLE_SCENARIO, "options": {"seed": -1, SECRET: 1}},
        {"scenario": SECRET},
        {"scenario": EXAMPLE_SCENARIO, SECRET: SECRET},
        {"schedule": SECRET},
        [SECRET],
    ],
)
def test_422_names_path_and_rule_but_never_echoes_a_value(client: TestClient, payload: object) -> None:
    answer = client.post("/v1/rosters", json=payload, headers=A)
    assert answer.status_code == 422
    body = answer.json()
    assert body["detail"] == "the request does not match the API"
    assert body["errors"] and all(set(error) == {"path", "message"} for error in body["errors"])
    assert SECRET not in answer.text
    assert '"input"' not in answer.text


def test_422_for_broken_json_and_bad_query(client: TestClient) -> None:
    answer = client.post("/v1/rosters", content=b'{"scenario": ', headers=A | {"content-type": "application/json"})
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["message"] == "JSON decode error"
    answer = client.get("/v1/rosters", params={"status": SECRET, "limit": 0}, headers=A)
    assert answer.status_code == 422
    assert {error["path"] for error in answer.json()["errors"]} == {"query.status", "query.limit"}
    assert SECRET not in answer.text


def test_422_names_the_offending_option(client: TestClient) -> None:
    answer = client.post("/v1/rosters", json={"scenario": EXAMPLE_SCENARIO, "options": {"time_limit": 0}}, headers=A)
    assert answer.json()["errors"] == [{"path": "body.options.time_limit", "message": "Input should be greater than 0"}]


@pytest.mark.parametrize("options", [{"time_limit": True}, {"time_limit": "2"}, {"deterministic": "yes"}, {"seed": True}])
def test_options_of_the_wrong_type_are_422_not_converted(client: TestClient, options: dict[str, object]) -> None:
    # QA 2026-11-28: true ran a 1 s solve, "2" a 2 s one, "yes" became true.
    answer = client.post("/v1/rosters", json={"scenario": EXAMPLE_SCENARIO, "options": options}, headers=A)
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["path"] == f"body.options.{next(iter(options))}"
    assert client.post("/v1/rosters", json={"scenario": EXAMPLE_SCENARIO, "options": {"time_limit": 5}}, headers=A).status_code == 202


@pytest.mark.parametrize("path", ["/v1/rosters", "/v1/validate"])
def test_a_key_written_twice_is_422_as_in_a_file(client: TestClient, path: str) -> None:
    # QA 2026-11-28: the last value won, /v1/validate said valid and the job solved.
    text = json.dumps({"scenario": EXAMPLE_SCENARIO}).replace('"format": ', f'"format": "{SECRET}", "format": ', 1)
    assert text.count('"format"') == 2
    answer = client.post(path, content=text.encode(), headers=A | {"content-type": "application/json"})
    assert answer.status_code == 422
    (error,) = answer.json()["errors"]
    assert error["path"] == "body" and error["message"].startswith("the key 'format' is written twice in one object (line 1, column ")
    assert SECRET not in answer.text


def test_a_key_written_twice_is_not_named_when_it_is_personal(client: TestClient) -> None:
    # A key may be anything a user typed: one shaped like a date is described, never echoed.
    text = json.dumps({"scenario": EXAMPLE_SCENARIO}).replace('"format": ', '"1990-05-04": 1, "1990-05-04": 2, "format": ', 1)
    answer = client.post("/v1/validate", content=text.encode(), headers=A | {"content-type": "application/json"})
    assert answer.status_code == 422
    (error,) = answer.json()["errors"]
    assert error["message"].startswith("a key is written twice in one object (line 1, column ")
    assert "1990-05-04" not in answer.text


def test_time_limit_above_the_server_maximum_is_422(client: TestClient) -> None:
    answer = client.post("/v1/rosters", json={"scenario": EXAMPLE_SCENARIO, "options": {"time_limit": 61}}, headers=A)
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["path"] == "body.options.time_limit"


def test_body_over_the_limit_is_413(client: TestClient) -> None:
    big = {"scenario": EXAMPLE_SCENARIO | {"padding": "x" * 300_000}}
    answer = client.post("/v1/rosters", json=big, headers=A)
    assert answer.status_code == 413
    assert "larger than 200000 bytes" in answer.json()["detail"]


def test_chunked_body_over_the_limit_is_413(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"scenario": {"format": "'
        for _ in range(30):
            yield b"x" * 10_000
        yield b'"}}'

    answer = client.post("/v1/rosters", content=chunks(), headers=A | {"content-type": "application/json"})
    assert answer.status_code == 413


def test_queued_jobs_cap_per_key_is_429(client: TestClient) -> None:
    for _ in range(3):
        submit(client)
    answer = client.post("/v1/rosters", json={"scenario": EXAMPLE_SCENARIO}, headers=A)
    assert answer.status_code == 429
    assert "3 queued jobs" in answer.json()["detail"]
    assert client.post("/v1/rosters", json={"scenario": EXAMPLE_SCENARIO}, headers=B).status_code == 202
    # Invalid jobs are not queued and do not count; a stopped job frees its place.
    assert client.post("/v1/rosters", json={"scenario": {}}, headers=A).json()["status"] == "invalid"
    first = client.get("/v1/rosters", headers=A).json()["jobs"][-1]["id"]
    client.delete(f"/v1/rosters/{first}", headers=A)
    assert client.post("/v1/rosters", json={"scenario": EXAMPLE_SCENARIO}, headers=A).status_code == 202


def test_validate_answers_valid_with_warnings_or_every_error(client: TestClient) -> None:
    answer = client.post("/v1/validate", json={"scenario": EXAMPLE_SCENARIO}, headers=A)
    assert answer.status_code == 200
    assert answer.json()["valid"] is True
    assert answer.json()["errors"] == []
    broken = copy.deepcopy(EXAMPLE_SCENARIO)
    broken["program"]["hours"] = "21:00-08:00"  # type: ignore[index]
    broken["therapists"][0]["id"] = SECRET  # type: ignore[index]
    answer = client.post("/v1/validate", json={"scenario": broken}, headers=A)
    assert answer.status_code == 200
    body = answer.json()
    assert body["valid"] is False
    assert len(body["errors"]) >= 2
    assert any(error["path"] == "program.hours" for error in body["errors"])
    assert SECRET not in answer.text


SESSION = {"id": "S001", "kind": "group", "group_type": "process", "therapist": "T01",
           "day": "mon", "start": "18:00", "end": "19:30", "participants": ["P0001", "P0002", "P0003"]}


def schedule_of(*sessions: dict[str, object]) -> dict[str, object]:
    return {"format": "iop-schedule/1", "scenario": {"name": "Example IOP"}, "solver": {"status": "feasible"},
            "sessions": list(sessions)}


def test_check_a_good_and_a_bad_schedule(client: TestClient) -> None:
    wednesday = SESSION | {"id": "S002", "day": "wed"}
    answer = client.post("/v1/check", json={"scenario": EXAMPLE_SCENARIO, "schedule": schedule_of(SESSION, wednesday)},
                         headers=A)
    assert answer.status_code == 200
    assert answer.json()["ok"] is True
    assert answer.json()["levels"]["coverage"] == 6
    too_small = SESSION | {"participants": ["P0001"]}
    answer = client.post("/v1/check", json={"scenario": EXAMPLE_SCENARIO, "schedule": schedule_of(too_small)}, headers=A)
    assert answer.status_code == 200
    body = answer.json()
    assert body["ok"] is False
    assert {violation["rule"] for violation in body["violations"]} == {1}


def test_check_answers_what_the_cli_prints_integers_included(client: TestClient, tmp_path: Path) -> None:
    schedule = schedule_of(SESSION, SESSION | {"id": "S002", "day": "wed"})
    body = client.post("/v1/check", json={"scenario": EXAMPLE_SCENARIO, "schedule": schedule}, headers=A).json()
    assert body["summary"]["sessions"] == 2 and isinstance(body["summary"]["sessions"], int)
    (tmp_path / "scenario.json").write_text(json.dumps(EXAMPLE_SCENARIO))
    (tmp_path / "schedule.json").write_text(json.dumps(schedule))
    printed = CliRunner().invoke(main, ["check", str(tmp_path / "scenario.json"), str(tmp_path / "schedule.json"),
                                        "--format", "json"])
    assert printed.exit_code == 0, printed.output
    report = json.loads(printed.stdout)
    del report["scenario"], report["schedule"]  # the CLI names its files
    # The same text, so the same types: 2 is never 2.0.
    assert json.dumps(body, sort_keys=True) == json.dumps(report, sort_keys=True)


def test_check_with_an_invalid_scenario_or_schedule_is_422_with_paths(client: TestClient) -> None:
    broken = SESSION | {"day": "someday", "therapist": SECRET}
    answer = client.post("/v1/check", json={"scenario": {"format": "iop-scenario/1"}, "schedule": schedule_of(broken)},
                         headers=A)
    assert answer.status_code == 422
    paths = [error["path"] for error in answer.json()["errors"]]
    assert "scenario.program" in paths
    assert "schedule.sessions[0] (id S001).day" in paths
    assert SECRET not in answer.text


def test_unknown_route_and_method_use_the_error_body(client: TestClient) -> None:
    assert client.get("/v2/nothing", headers=A).json() == {"detail": "Not Found", "errors": []}
    assert client.put("/v1/rosters", headers=A).status_code == 405


def test_audit_log_records_key_id_action_job_and_time(client: TestClient) -> None:
    job_id = submit(client)
    client.get(f"/v1/rosters/{job_id}", headers=A)
    client.get(f"/v1/rosters/{job_id}", headers=B)
    client.delete(f"/v1/rosters/{job_id}", headers=A)
    client.get("/v1/rosters", headers={"X-API-Key": "wrong"})
    records = client.app.state.service.store.audit_records()  # type: ignore[attr-defined]
    key_a = hashlib.sha256(KEY_A.encode()).hexdigest()[:12]
    key_b = hashlib.sha256(KEY_B.encode()).hexdigest()[:12]
    assert [(key, action, job) for _, key, action, job in records] == [
        (key_a, "submit", job_id), (key_a, "view", job_id), (key_b, "view_missing", None),
        (key_a, "stop", job_id), ("unknown", "unauthorized", None),
    ]
    assert all(isinstance(at, float) for at, *_ in records)
    assert KEY_A not in str(records)


def test_logs_carry_ids_only(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    scenario = copy.deepcopy(EXAMPLE_SCENARIO)
    scenario["participants"][0]["id"] = SECRET  # type: ignore[index]
    with TestClient(create_app(api_settings(tmp_path))) as client:
        client.post("/v1/rosters", json={"scenario": scenario}, headers=A)
        client.post("/v1/rosters", json={"scenario": EXAMPLE_SCENARIO, "options": {SECRET: 1}}, headers=A)
        client.get("/v1/rosters", headers={"X-API-Key": KEY_A + "x"})
    assert SECRET not in caplog.text
    assert KEY_A not in caplog.text


def test_openapi_documents_every_endpoint_with_examples(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    assert set(document["paths"]) == {"/v1/rosters", "/v1/rosters/{job_id}", "/v1/check", "/v1/validate", "/healthz"}
    schemas = document["components"]["schemas"]
    for name in ("SubmitRequest", "JobCreated", "JobView", "CheckRequest", "ValidateRequest", "ErrorBody"):
        assert schemas[name]["examples"], name
    assert document["components"]["securitySchemes"]["APIKeyHeader"]["name"] == "X-API-Key"
    assert set(document["paths"]["/v1/rosters"]["post"]["responses"]) >= {"202", "401", "413", "422", "429"}


def test_openapi_declares_the_location_header_and_every_progress_figure(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    created = document["paths"]["/v1/rosters"]["post"]["responses"]["202"]
    assert created["headers"]["Location"]["schema"] == {"type": "string"}
    assert created["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/JobCreated"}
    schemas = document["components"]["schemas"]
    progress = schemas["JobProgress"]["properties"]
    final = outcome(Result(status=SolveStatus.UNKNOWN, schedule=None), stop_asked=False)[3]
    assert set(progress) == {f.name for f in dataclasses.fields(Progress)} | set(final)
    assert all(entry.get("description") for entry in progress.values())
    assert progress["sessions"]["type"] == progress["delivered"]["type"] == progress["needed"]["type"] == "integer"
    assert progress["solver_status"]["enum"] == [status.value for status in SolveStatus]
    # Left out when absent, so never null.
    for name in ("started_at", "finished_at"):
        assert schemas["JobSummary"]["properties"][name]["type"] == "string"  # no anyOf with null
    summary = schemas["CheckResult"]["properties"]["summary"]["additionalProperties"]
    assert summary == {"anyOf": [{"type": "integer"}, {"type": "number"}]}


def test_progress_figures_come_back_with_their_types() -> None:
    report = progress_document(Progress("coverage", 1.25, 20.0, 23.0, 0.13, 6, 20, 23))
    assert JobProgress.model_validate(report).model_dump(exclude_none=True) == report
    final = {"stage": "done", "elapsed": 2.0, "objective": 23.0, "best_bound": 23.0, "gap": 0.0, "solver_status": "optimal"}
    assert JobProgress.model_validate(final).model_dump(exclude_none=True) == final


# ---------------------------------------------------------------------------- keys


def test_no_key_configured_refuses_to_start(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="no API key configured"):
        create_app(api_settings(tmp_path, api_keys=None))


def test_insecure_mode_accepts_anyone_as_anonymous(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with TestClient(create_app(api_settings(tmp_path, api_keys=None, insecure_no_auth=True))) as client:
        job_id = submit(client, headers={})
        assert client.get(f"/v1/rosters/{job_id}").status_code == 200
    assert "AUTHENTICATION IS OFF" in caplog.text


def test_keys_file_with_comments_and_hashed_keys(tmp_path: Path) -> None:
    hashed = hashlib.sha256(KEY_B.encode()).hexdigest()
    keys_file = tmp_path / "keys"
    keys_file.write_text(f"# service keys\n{KEY_A}  # the EHR\n\nsha256:{hashed}\n")
    ring = KeyRing.from_settings(ServiceSettings(api_keys_file=keys_file))
    assert ring.identify(KEY_A) == hashlib.sha256(KEY_A.encode()).hexdigest()[:12]
    assert ring.identify(KEY_B) == hashed[:12]
    assert ring.identify("other") is None
    assert ring.identify(None) is None
    assert KEY_A.encode() not in b"".join(ring.digests)


def test_unreadable_keys_file_and_bad_hash_are_configuration_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot be read"):
        KeyRing.from_settings(ServiceSettings(api_keys_file=tmp_path / "missing"))
    with pytest.raises(ConfigurationError, match="64 hex digits"):
        KeyRing.from_settings(ServiceSettings(api_keys="sha256:abc"))


def test_keys_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IOP_ROSTER_API_KEYS", f" {KEY_A} ,{KEY_B},")
    monkeypatch.setenv("IOP_ROSTER_WORKERS", "2")
    monkeypatch.setenv("IOP_ROSTER_CORES", "4")
    settings = ServiceSettings()
    assert len(KeyRing.from_settings(settings).digests) == 2
    assert settings.solve_slots() == (2, 2)
    assert KEY_A not in repr(settings)


def test_a_body_that_is_not_utf8_json_is_422(client: TestClient) -> None:
    answer = client.post("/v1/validate", content=b"\xff\xfe{", headers=A | {"content-type": "application/json"})
    assert answer.status_code == 422
    assert answer.json()["errors"] == [{"path": "body", "message": "is not valid JSON text (UTF-8)"}]


def test_serve_refuses_to_start_without_a_key(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from optimizer.cli import main

    monkeypatch.delenv("IOP_ROSTER_API_KEYS", raising=False)
    monkeypatch.delenv("IOP_ROSTER_API_KEYS_FILE", raising=False)
    result = CliRunner().invoke(main, ["serve", "--db", str(tmp_path / "jobs.db"), "--port", "0"])
    assert result.exit_code == 2
    assert "no API key configured" in result.output
    assert "--insecure-no-auth" in result.output


# ---------------------------------------------------------------------------- content type


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_a_body_not_sent_as_json_is_415(client: TestClient, content_type: str | None) -> None:
    headers = A | ({"content-type": content_type} if content_type else {})
    body = json.dumps({"scenario": EXAMPLE_SCENARIO}).encode()
    for path in ("/v1/rosters", "/v1/validate"):
        answer = client.post(path, content=body, headers=headers)
        assert answer.status_code == 415, answer.text
        assert answer.json() == {
            "detail": "the request body must be JSON, sent with Content-Type: application/json",
            "errors": [{"path": "header.Content-Type", "message": "must be application/json"}],
        }


def test_json_media_types_are_accepted(client: TestClient) -> None:
    body = json.dumps({"scenario": EXAMPLE_SCENARIO}).encode()
    for content_type in ("application/json; charset=utf-8", "application/merge-patch+json"):
        answer = client.post("/v1/validate", content=body, headers=A | {"content-type": content_type})
        assert answer.status_code == 200, answer.text


# ---------------------------------------------------------------------------- check: every error


def test_check_answers_every_error_of_both_documents(client: TestClient) -> None:
    scenario = copy.deepcopy(EXAMPLE_SCENARIO)
    scenario["program"]["hours"] = "21:00-08:00"  # type: ignore[index]
    scenario["participants"][1]["state"] = "ZZ"  # type: ignore[index]
    schedule = schedule_of(SESSION | {"day": "someday"}, SESSION | {"id": "S002", "start": "late"})
    del schedule["format"]
    answer = client.post("/v1/check", json={"scenario": scenario, "schedule": schedule}, headers=A)
    assert answer.status_code == 422
    paths = {error["path"] for error in answer.json()["errors"]}
    assert {"scenario.program.hours", "schedule.format", "schedule.sessions[0] (id S001).day",
            "schedule.sessions[1] (id S002).start"} <= paths
    assert any(path.startswith("scenario.participants[1]") for path in paths)


# ---------------------------------------------------------------------------- access log


def test_the_access_log_names_routes_never_client_text(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="iop_roster.access")
    marker = "JaneDoe"
    with TestClient(create_app(api_settings(tmp_path))) as client:
        job_id = submit(client)
        client.get(f"/v1/rosters/{job_id}", headers=A)
        client.get("/v1/rosters", params={"status": f"{marker} x", "limit": -1}, headers=A)
        client.get(f"/v1/rosters/{marker}' OR 1=1--", headers=A)
        client.delete(f"/v1/rosters/{marker}", headers=A)
        client.get(f"/v1/{marker}" + "a" * 5000, headers=A)
        client.request(marker.upper(), "/v1/rosters", headers=A)
        client.post("/v1/rosters", json={"scenario": EXAMPLE_SCENARIO | {marker: "x" * 300_000}}, headers=A)
    lines = [record.getMessage() for record in caplog.records if record.name == "iop_roster.access"]
    assert marker not in "\n".join(lines)
    assert marker.upper() not in "\n".join(lines)
    shapes = [re.sub(r" \d+ ms$", "", line) for line in lines]
    assert shapes == [
        "POST /v1/rosters 202",
        f"GET /v1/rosters/{job_id} 200",  # a job id is the one path text logged
        "GET /v1/rosters 422",
        "GET /v1/rosters/{job_id} 404",
        "DELETE /v1/rosters/{job_id} 404",
        "GET unmatched path 404",
        "other-method /v1/rosters 405",
        "POST /v1/rosters 413",
    ]


# ---------------------------------------------------------------------------- the database file


def test_the_database_file_is_created_for_its_owner_only(tmp_path: Path) -> None:
    with TestClient(create_app(api_settings(tmp_path))) as client:
        submit(client)
        files = sorted(tmp_path.glob("jobs.db*"))
        assert [path.name for path in files] == ["jobs.db", "jobs.db-shm", "jobs.db-wal"]
        assert {path.name: stat.S_IMODE(path.stat().st_mode) for path in files} == dict.fromkeys(
            ["jobs.db", "jobs.db-shm", "jobs.db-wal"], 0o600)


def test_an_existing_database_keeps_its_mode_with_a_warning(tmp_path: Path) -> None:
    database = tmp_path / "jobs.db"
    assert prepare_database(database_url(str(database))) == []  # created: 0600, no warning
    assert stat.S_IMODE(database.stat().st_mode) == 0o600
    database.chmod(0o644)
    (warning,) = prepare_database(database_url(str(database)))
    assert f"the job database {database} is open to other users (mode 0644)" in warning
    assert stat.S_IMODE(database.stat().st_mode) == 0o644  # the operator's choice stays


# ---------------------------------------------------------------------------- serve: start-up errors


def _serve(tmp_path: Path, *args: str) -> tuple[int, str, BaseException | None]:
    from click.testing import CliRunner

    from optimizer.cli import main

    result = CliRunner().invoke(main, ["serve", "--port", "0", *args],
                                env={"IOP_ROSTER_API_KEYS": KEY_A, "IOP_ROSTER_DB": str(tmp_path / "env.db")})
    return result.exit_code, result.output, result.exception


def _bad_databases(tmp_path: Path) -> list[tuple[str, str]]:
    not_sqlite = tmp_path / "notes.db"
    not_sqlite.write_text("these are not the jobs you are looking for\n" * 20)
    cases = [
        (str(tmp_path / "missing" / "jobs.db"), f"its folder {tmp_path / 'missing'} does not exist"),
        (str(tmp_path), "it is a folder, not a file"),
        (str(not_sqlite), "file is not a database"),
        ("nosuchdb://host/db", "this kind of database is not supported"),
        ("postgresql+nosuchdriver://u:hunter2@host/db", "this kind of database is not supported"),
    ]
    if importlib.util.find_spec("MySQLdb") is None:
        cases.append(("mysql://user:hunter2@host/db", "its database driver is not installed (no module named MySQLdb)"))
    return cases


def test_serve_refuses_a_database_it_cannot_use_in_one_line(tmp_path: Path) -> None:
    for db, reason in _bad_databases(tmp_path):
        code, output, exception = _serve(tmp_path, "--db", db)
        assert code == 2, (db, output)
        assert isinstance(exception, SystemExit), (db, exception)
        (line,) = output.splitlines()
        assert line.startswith("error: cannot use the job database "), line
        assert reason in line, line
        assert "hunter2" not in line


def test_serve_turns_a_crash_at_start_up_into_exit_70_without_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Found by QA: serve was the one command without friendly_errors, so a bug at start-up
    # printed a traceback (and its message, which may quote a file) instead of exit 70.
    import optimizer.service.store

    def broken(url: str) -> list[str]:
        raise RuntimeError("Jordan Smith")

    monkeypatch.delenv("IOP_ROSTER_DEBUG", raising=False)
    monkeypatch.setattr(optimizer.service.store, "prepare_database", broken)
    code, output, exception = _serve(tmp_path, "--db", str(tmp_path / "jobs.db"))
    assert code == 70, output
    assert isinstance(exception, SystemExit)
    assert output.splitlines() == [
        "internal error: RuntimeError. This is a bug in iop-roster; "
        "rerun with IOP_ROSTER_DEBUG=1 for details (the details may contain ids)."
    ]


def test_serve_refuses_bad_settings_naming_the_variable_not_the_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IOP_ROSTER_WORKERS", SECRET)
    monkeypatch.setenv("IOP_ROSTER_MAX_BODY_BYTES", "-5")
    code, output, exception = _serve(tmp_path)
    assert code == 2
    assert isinstance(exception, SystemExit)
    assert output.splitlines() == [
        "error: IOP_ROSTER_WORKERS: Input should be a valid integer, unable to parse string as an integer",
        "error: IOP_ROSTER_MAX_BODY_BYTES: Input should be greater than or equal to 1024",
    ]
    assert not (tmp_path / "env.db").exists()  # refused before anything was opened


def test_serve_refuses_a_default_time_limit_above_the_maximum(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Found by QA: the server started, then gave every submission without a time_limit a 422
    # on a field the client never sent.
    _refuse_to_serve(monkeypatch)
    monkeypatch.setenv("IOP_ROSTER_MAX_TIME_LIMIT", "5")
    monkeypatch.setenv("IOP_ROSTER_DEFAULT_TIME_LIMIT", "30")
    code, output, exception = _serve(tmp_path)
    assert code == 2
    assert isinstance(exception, SystemExit)
    assert output.splitlines() == [
        "error: IOP_ROSTER_DEFAULT_TIME_LIMIT (30 s) is above IOP_ROSTER_MAX_TIME_LIMIT (5 s): every request "
        "without a time_limit would be refused; lower the default or raise the maximum",
    ]
    assert not (tmp_path / "env.db").exists()


@pytest.mark.parametrize(
    ("args", "shown"),
    [
        (("--workers", "5000"), "Invalid value for '--workers': 5000 is not in the range 1<=x<=1024"),
        (("--workers", SECRET), "Invalid value for '--workers': not a whole number"),
        (("--port", SECRET), "Invalid value for '--port': not a whole number"),
        (("--log-level", SECRET), "Invalid value for '--log-level': not one of"),
    ],
)
def test_serve_options_out_of_range_exit_2_without_echoing_the_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...], shown: str
) -> None:
    _refuse_to_serve(monkeypatch)
    code, output, _ = _serve(tmp_path, *args)
    assert code == 2
    assert shown in output
    assert SECRET not in output


def test_serve_refuses_more_solves_at_once_than_it_could_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _refuse_to_serve(monkeypatch)
    monkeypatch.setenv("IOP_ROSTER_WORKERS", "100000")
    code, output, _ = _serve(tmp_path)
    assert code == 2
    assert "error: IOP_ROSTER_WORKERS: Input should be less than or equal to 1024" in output.splitlines()


def _refuse_to_serve(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test, rather than hang in it, if the server starts."""
    import uvicorn

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the server started")

    monkeypatch.setattr(uvicorn.Server, "run", refuse)


def test_settings_refuse_a_default_time_limit_above_the_maximum() -> None:
    with pytest.raises(ValidationError, match=r"IOP_ROSTER_DEFAULT_TIME_LIMIT \(30 s\) is above IOP_ROSTER_MAX_TIME_LIMIT \(5 s\)"):
        ServiceSettings(default_time_limit=30, max_time_limit=5)
    assert ServiceSettings(default_time_limit=5, max_time_limit=5).default_time_limit == 5


@pytest.mark.parametrize("variable", ["IOP_ROSTER_MAX_TIME_LIMIT", "IOP_ROSTER_DEFAULT_TIME_LIMIT", "IOP_ROSTER_POLL_INTERVAL"])
@pytest.mark.parametrize("value", ["inf", "nan"])
def test_serve_refuses_a_time_setting_that_is_not_finite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    _refuse_to_serve(monkeypatch)
    monkeypatch.setenv(variable, value)
    code, output, _ = _serve(tmp_path)
    assert code == 2
    assert f"error: {variable}: Input should be a finite number" in output.splitlines()


@pytest.mark.parametrize(("method", "path"), [("post", "/v1/rosters/"), ("get", "/v1/rosters/"), ("get", "/healthz/"),
                                              ("post", "/v1/check/"), ("post", "/v1/validate/")])
def test_a_trailing_slash_is_an_unknown_path_never_a_redirect(client: TestClient, method: str, path: str) -> None:
    # QA: POST /v1/rosters/ answered 307 with Location http://<host>/v1/rosters, built from
    # the Host header: behind a TLS proxy a client following it sent key and scenario in clear.
    answer = client.request(method, path, headers={**A, "Content-Type": "application/json"},
                            content=b"{}", follow_redirects=False)
    assert answer.status_code == 404
    assert "location" not in answer.headers
    assert answer.json()["detail"] == "Not Found"


def test_a_method_the_path_lacks_is_405_with_the_error_body(client: TestClient) -> None:
    answer = client.put("/v1/rosters", headers={**A, "Content-Type": "application/json"}, content=b"{}")
    assert answer.status_code == 405
    assert set(answer.json()) == {"detail", "errors"}
