"""``iop-roster serve``: the HTTP service on uvicorn."""

from __future__ import annotations

import logging
import socket
import sys

import click

from optimizer.cli.common import (
    EXIT_INVALID,
    WORKERS_MAX,
    Choice,
    Command,
    IntRange,
    friendly_errors,
)


@click.command(cls=Command)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=IntRange(0, 65535), help="Port to listen on.")
@click.option("--db", default=None, metavar="URL",
              help="Job store: sqlite:///path, postgresql+psycopg://..., or a SQLite file path "
                   "[default: $IOP_ROSTER_DB or ./iop-roster-jobs.db].")
@click.option("--workers", type=IntRange(1, WORKERS_MAX), default=None,
              help="Solves at once (each gets its share of the cores) [default: one per two cores].")
@click.option("--insecure-no-auth", is_flag=True,
              help="Accept requests without an API key. Local development only.")
@click.option("--log-level", type=Choice(["debug", "info", "warning", "error"]), default="info",
              show_default=True)
@friendly_errors
def serve(host: str, port: int, db: str | None, workers: int | None, insecure_no_auth: bool, log_level: str) -> None:
    """Run the HTTP API (jobs, check, validate) on uvicorn.

    API keys come from IOP_ROSTER_API_KEYS (comma-separated) or a file named by
    IOP_ROSTER_API_KEYS_FILE (one per line); without a key the server refuses to start
    unless --insecure-no-auth is given. Other settings are IOP_ROSTER_* variables
    (see docs/service.md).

    \b
    Examples:
      IOP_ROSTER_API_KEYS=$(python -c 'import secrets; print(secrets.token_urlsafe(32))') \\
        iop-roster serve --db /var/lib/iop-roster/jobs.db
      iop-roster serve --insecure-no-auth --port 8080
    """
    try:
        import uvicorn
        from pydantic import ValidationError

        from optimizer.service.app import create_app
        from optimizer.service.auth import ConfigurationError
        from optimizer.service.settings import ServiceSettings
        from optimizer.service.store import StoreUnavailable, prepare_database
    except ModuleNotFoundError as error:
        click.echo(f"error: serve needs the 'service' extra ({error.name} is not installed): pip install 'iop-roster[service]'", err=True)
        sys.exit(EXIT_INVALID)

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    overrides: dict[str, object] = {}
    if db is not None:
        overrides["db"] = db
    if workers is not None:
        overrides["workers"] = workers
    if insecure_no_auth:
        overrides["insecure_no_auth"] = True
    try:
        settings = ServiceSettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        # Name the setting and the rule; never the value (it may be a key or a password).
        for item in error.errors(include_url=False, include_input=False, include_context=False):
            if not item["loc"]:  # a rule between settings: its message names them
                click.echo(f"error: {item['msg']}", err=True)
                continue
            field = str(item["loc"][0])
            source = f"--{field}" if field in overrides else f"IOP_ROSTER_{field.upper()}"
            click.echo(f"error: {source}: {item['msg']}", err=True)
        sys.exit(EXIT_INVALID)
    try:
        app = create_app(settings)
        # Open (or create) the database and its tables now, so that a wrong --db is one
        # line and exit 2 rather than a failed application start-up inside uvicorn.
        for warning in prepare_database(settings.database_url()):
            logging.getLogger("iop_roster.service").warning("%s", warning)
    except (ConfigurationError, StoreUnavailable) as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(EXIT_INVALID)
    try:
        listener = _listen(host, port)
    except OSError as error:
        click.echo(f"error: cannot listen on {host}:{port}: {error.strerror or error}", err=True)
        sys.exit(EXIT_INVALID)
    concurrent, per_solve = settings.solve_slots()
    bound_port = listener.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"iop-roster service on http://{shown}:{bound_port} ({concurrent} solve(s) at once, "
               f"{per_solve} CP-SAT worker(s) each)", err=True)
    # access_log=False: uvicorn's access log prints the raw request line (query strings,
    # unknown paths: client text); the app logs requests by route instead (docs/service.md).
    config = uvicorn.Config(app, host=host, port=bound_port, log_level=log_level, server_header=False,
                            access_log=False)
    uvicorn.Server(config).run(sockets=[listener])


def _listen(host: str, port: int) -> socket.socket:
    """The listening socket, bound here so that a port in use or an address that is not this
    machine's is one line and exit 2, not uvicorn's start-up failure (exit 3).

    The same binding as uvicorn's own (``Config.bind_socket``): IPv6 when the host has a colon,
    ``SO_REUSEADDR``, inheritable for its workers. Port 0 takes a free port, which the banner shows.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family=family)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, port))
    except OSError:
        listener.close()
        raise
    listener.set_inheritable(True)
    return listener


commands = [serve]
