"""The FastAPI application: routes that parse, call :class:`RosterService`, and format.

Create it with :func:`create_app`; nothing is built at import time. Route handlers are plain
``def`` functions, so FastAPI runs them (and their quick database calls) in its thread pool
and the event loop never waits on the database; solves run in their own processes
(:mod:`optimizer.service.runner`).
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping, Sequence
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute, Match

from models.io import duplicate_json_key
from optimizer import __version__
from optimizer.service.auth import KeyRing
from optimizer.service.operations import (
    NotFound,
    QueueFull,
    RosterService,
    ServiceError,
    Unprocessable,
)
from optimizer.service.runner import Runner
from optimizer.service.schemas import (
    CheckRequest,
    CheckResult,
    ErrorBody,
    ErrorItem,
    Health,
    JobCreated,
    JobList,
    JobStatus,
    JobView,
    SolveOptions,
    SubmitRequest,
    ValidateRequest,
    ValidateResult,
)
from optimizer.service.settings import ServiceSettings
from optimizer.service.store import JobStore

logger = logging.getLogger("iop_roster.service")
access_logger = logging.getLogger("iop_roster.access")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_STATUS_OF: dict[type[ServiceError], int] = {NotFound: 404, QueueFull: 429, Unprocessable: 422}

# Names a 422 path may show; any other key in a location came from the client and is masked.
_SAFE_LOCATION = frozenset(
    {"body", "query", "path", "header", "scenario", "schedule", "options"}
    | set(SubmitRequest.model_fields) | set(CheckRequest.model_fields)
    | set(ValidateRequest.model_fields) | set(SolveOptions.model_fields)
    | {"status", "limit", "offset", "job_id", "X-API-Key", "x-api-key"}
)


def _error(status: int, detail: str, errors: list[ErrorItem] | None = None,
           headers: dict[str, str] | None = None) -> JSONResponse:
    body = ErrorBody(detail=detail, errors=errors or [])
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)


def _location(loc: tuple[int | str, ...] | list[int | str]) -> str:
    path = ""
    for key in loc:
        if isinstance(key, int):
            path += f"[{key}]"
        else:
            name = key if key in _SAFE_LOCATION else "*"
            path += f".{name}" if path else name
    return path


def _is_json(content_type: str) -> bool:
    """Whether a Content-Type is JSON as FastAPI reads it (application/json, application/*+json)."""
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or (media_type.startswith("application/") and media_type.endswith("+json"))


def _validation_items(error: RequestValidationError) -> list[ErrorItem]:
    items: list[ErrorItem] = []
    for item in error.errors():
        kind = item.get("type", "")
        message = "is not a field of this request (unknown fields are not ignored)" if kind == "extra_forbidden" else str(item.get("msg", "invalid"))
        # pydantic does not quote inputs in its messages, but be sure: drop anything quoted.
        message = re.sub(r"'[^']{41,}'", "'...'", message)
        items.append(ErrorItem(path=_location(item.get("loc", ())), message=message))
    return items


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT"})
# A job id as the service makes them (secrets.token_urlsafe(16)): the only path text logged.
_JOB_ID = re.compile(r"[A-Za-z0-9_-]{22}")


def _logged_route(routes: Sequence[BaseRoute], scope: Scope) -> str:
    """What the access log may say about a request's path.

    The path itself when it is a route of the API whose parameters all look like job ids,
    else the route's template (``/v1/rosters/{job_id}``), else ``unmatched path``: a path
    or a query string is client text, and could be anything.
    """
    for route in routes:
        match, child = route.matches(scope)
        if match is Match.NONE:
            continue
        parameters = child.get("path_params", {}).values()
        if all(isinstance(value, str) and _JOB_ID.fullmatch(value) for value in parameters):
            return str(scope["path"])
        return str(getattr(route, "path", "unmatched path"))
    return "unmatched path"


class AccessLog:
    """ASGI middleware: one log line per request, instead of uvicorn's access log.

    ``GET /v1/rosters/{job_id} 404 2 ms``: the method, the path only as far as
    :func:`_logged_route` allows, the status and the duration. Never the query string,
    never an unknown path, never the client's address.
    """

    def __init__(self, app: ASGIApp, routes: Sequence[BaseRoute]) -> None:
        self.app = app
        self.routes = routes  # the application's list: routes added later are seen

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # unless a response starts: an exception escaped the application

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            method = str(scope.get("method", ""))
            access_logger.info(
                "%s %s %d %.0f ms",
                method if method in _METHODS else "other-method",
                _logged_route(self.routes, scope),
                status,
                1000 * (time.perf_counter() - started),
            )


def _duplicate_key(scope: Scope, body: bytes) -> str | None:
    """What a JSON request body writing a key twice in one object is told (the key, where), if it does."""
    if scope.get("method") not in ("POST", "PUT", "PATCH") or not body:
        return None
    content_type = next((value.decode("latin-1") for name, value in scope.get("headers", []) if name == b"content-type"), "")
    if not _is_json(content_type):
        return None
    try:
        return duplicate_json_key(body.decode("utf-8"))
    except UnicodeDecodeError:  # not JSON text: FastAPI answers that as before
        return None


class BodyLimit:
    """ASGI middleware: answer 413 to a request body larger than ``max_bytes``.

    The declared Content-Length is checked first; a chunked body is counted as it arrives.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > self.max_bytes:
                    await self._refuse(scope, receive, send)
                    return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        duplicate = _duplicate_key(scope, body)
        if duplicate is not None:
            # The CLI, the format docs and validate refuse a key written twice; FastAPI's JSON
            # reader keeps the last value (QA: /v1/validate said valid and the job solved).
            response = _error(422, "the request does not match the API",
                              [ErrorItem(path="body", message=duplicate)])
            await response(scope, receive, send)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = _error(413, f"the request body is larger than {self.max_bytes} bytes")
        await response(scope, receive, send)


_api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="Your API key.")


def _service(request: Request) -> RosterService:
    return request.app.state.service  # type: ignore[no-any-return]


def _caller(request: Request, key: Annotated[str | None, Depends(_api_key_header)]) -> str:
    keyring: KeyRing = request.app.state.keyring
    key_id = keyring.identify(key)
    if key_id is None:
        _service(request).store.audit("unknown", "unauthorized")
        raise StarletteHTTPException(401, "a valid API key is required in the X-API-Key header",
                                     headers={"WWW-Authenticate": "X-API-Key"})
    return key_id


# Module level, not inside create_app: FastAPI resolves these (string) annotations in the
# module's namespace.
Service = Annotated[RosterService, Depends(_service)]
Caller = Annotated[str, Depends(_caller)]


def create_app(settings: ServiceSettings) -> FastAPI:
    """The service's FastAPI application.

    The job store is opened and the dispatcher started when the application starts
    (its lifespan), and stopped when it shuts down.

    Parameters
    ----------
    settings
        The service's settings.

    Raises
    ------
    optimizer.service.auth.ConfigurationError
        No API key configured and not ``insecure_no_auth``.
    """
    keyring = KeyRing.from_settings(settings)
    if keyring.insecure:
        logger.warning("!!! AUTHENTICATION IS OFF (--insecure-no-auth): every request is accepted. "
                       "Local development only: never expose this server !!!")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = JobStore(settings.database_url())
        runner: Runner | None = None
        if settings.run_solver:
            concurrent, workers = settings.solve_slots()
            runner = Runner(
                store, concurrent=concurrent, workers_per_solve=workers, max_attempts=settings.max_attempts,
                progress_interval=settings.progress_interval, poll_interval=settings.poll_interval,
            )
            runner.start()
        app.state.service = RosterService(store, runner, settings)
        try:
            yield
        finally:
            if runner is not None:
                runner.shutdown()
            store.close()

    app = FastAPI(
        # No 307 from /v1/rosters/ to /v1/rosters: the redirect was built from the Host header
        # as http:// behind the TLS proxy the docs recommend, so a client that follows it sent
        # its key and scenario in clear text (QA); a path with a trailing slash is unknown (404).
        redirect_slashes=False,
        title="iop-roster",
        version=__version__,
        summary="Weekly rosters of a virtual intensive outpatient program, optimized with CP-SAT.",
        description=(
            "Submit a scenario (`format: iop-scenario/1`, as JSON) and poll the job until it is "
            "`solved`; the schedule is the contract's `iop-schedule/1` document. Every `/v1` "
            "request carries an API key in `X-API-Key`; a key sees only its own jobs. Errors are "
            "`{detail, errors: [{path, message}]}` and never echo submitted values."
        ),
        lifespan=lifespan,
    )
    app.state.keyring = keyring
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(AccessLog, routes=app.router.routes)  # outermost: it sees 413s too

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
        content_type = request.headers.get("content-type")
        body_refused = any(tuple(item.get("loc", ()))[:1] == ("body",) for item in error.errors())
        if body_refused and not _is_json(content_type or ""):
            # FastAPI reads a body without a JSON Content-Type as bytes, and its complaint would
            # be "Input should be a valid dictionary": say what is actually wrong.
            return _error(415, "the request body must be JSON, sent with Content-Type: application/json",
                          [ErrorItem(path="header.Content-Type", message="must be application/json")])
        return _error(422, "the request does not match the API", _validation_items(error))

    @app.exception_handler(ServiceError)
    async def _service_error(_request: Request, error: ServiceError) -> JSONResponse:
        return _error(_STATUS_OF.get(type(error), 400), error.detail, error.errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, error: StarletteHTTPException) -> JSONResponse:
        if error.status_code == 400:  # FastAPI's "error parsing the body": bytes that are not JSON text
            return _error(422, "the request does not match the API",
                          [ErrorItem(path="body", message="is not valid JSON text (UTF-8)")])
        return _error(error.status_code, str(error.detail), headers=getattr(error, "headers", None))

    @app.exception_handler(Exception)
    async def _crash(_request: Request, error: Exception) -> JSONResponse:
        logger.error("internal error: %s", type(error).__name__)
        return _error(500, "internal error")

    errors: dict[int | str, dict[str, Any]] = {
        401: {"model": ErrorBody, "description": "Missing or unknown API key."},
        413: {"model": ErrorBody, "description": "Request body too large."},
        422: {"model": ErrorBody, "description": "The request does not match the API (no value is echoed)."},
    }
    not_found: dict[int | str, dict[str, Any]] = {404: {"model": ErrorBody, "description": "No such job for this key."}}
    body_errors: dict[int | str, dict[str, Any]] = {
        **errors, 415: {"model": ErrorBody, "description": "The body is not sent as JSON (Content-Type: application/json)."},
    }

    created: dict[int | str, dict[str, Any]] = {202: {
        "description": "The job is stored: `queued`, or `invalid` with the scenario's errors.",
        "headers": {"Location": {"description": "The job's URL to poll: `/v1/rosters/{id}`.",
                                 "schema": {"type": "string"}}},
    }}

    @app.post("/v1/rosters", status_code=202, response_model=JobCreated, response_model_exclude_none=True,
              tags=["rosters"],
              responses={**created, **body_errors,
                         429: {"model": ErrorBody, "description": "Too many queued jobs for this key."}})
    def submit_roster(body: SubmitRequest, response: Response, svc: Service, key_id: Caller) -> JobCreated:
        """Submit a scenario to solve.

        Answers 202 with the job's id and a `Location` header to poll. A scenario that breaks
        the format still becomes a job, with status `invalid` and its `errors` (each a path and
        a rule), so every submission has an id.
        """
        created = svc.submit(key_id, body)
        response.headers["Location"] = f"/v1/rosters/{created.id}"
        return created

    @app.get("/v1/rosters", response_model=JobList, response_model_exclude_none=True, tags=["rosters"],
             responses=errors)
    def list_rosters(
        svc: Service, key_id: Caller,
        status: Annotated[JobStatus | None, Query(description="Only jobs with this status.")] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
    ) -> JobList:
        """The caller's jobs, newest first (without schedules)."""
        return svc.list(key_id, status, limit, offset)

    @app.get("/v1/rosters/{job_id}", response_model=JobView, response_model_exclude_none=True,
             tags=["rosters"], responses={**errors, **not_found})
    def get_roster(job_id: str, svc: Service, key_id: Caller) -> JobView:
        """A job: status; progress while solving; the schedule once there is one; errors if invalid or failed."""
        return svc.get(key_id, job_id)

    @app.delete("/v1/rosters/{job_id}", response_model=JobView, response_model_exclude_none=True,
                tags=["rosters"], responses={**errors, **not_found,
                                             202: {"model": JobView, "description": "Stop asked; the solve has not ended yet."}})
    def stop_roster(job_id: str, response: Response, svc: Service, key_id: Caller) -> JobView:
        """Stop a job and keep its best schedule.

        A queued job becomes `stopped` at once. A solving one stops its search and becomes
        `stopped` with the best schedule found (200); if that takes longer than the server
        waits, the answer is 202 and the job is `stopped` shortly after. A job that has
        already ended is returned unchanged.
        """
        view = svc.stop(key_id, job_id)
        if view.status == "solving":
            response.status_code = 202
        return view

    @app.post("/v1/check", response_model=CheckResult, tags=["documents"], responses=body_errors)
    def check_schedule(body: CheckRequest, svc: Service, key_id: Caller) -> CheckResult:
        """Check a schedule against its scenario with the independent checker (synchronous).

        An invalid scenario or a malformed schedule is a 422 listing every error.
        """
        return svc.check(key_id, body)

    @app.post("/v1/validate", response_model=ValidateResult, tags=["documents"], responses=body_errors)
    def validate_scenario(body: ValidateRequest, svc: Service, key_id: Caller) -> ValidateResult:
        """Validate a scenario (synchronous): every error at once, each a path and a rule."""
        return svc.validate(key_id, body)

    @app.get("/healthz", response_model=Health, tags=["health"])
    def healthz(svc: Service) -> Health:
        """The server is up (no key needed)."""
        return svc.health()

    @app.head("/healthz", include_in_schema=False)
    def healthz_head() -> Response:
        """A load balancer's HEAD probe (QA: it was 405)."""
        return Response(status_code=200)

    return app


def openapi_document(settings: ServiceSettings | None = None) -> str:
    """The OpenAPI document as JSON text (for docs and clients)."""
    # A throwaway key: building the document must not need (or log about) real keys.
    app = create_app(settings or ServiceSettings(api_keys=secrets.token_urlsafe(32)))  # type: ignore[arg-type]
    return json.dumps(app.openapi(), indent=2, sort_keys=True) + "\n"
