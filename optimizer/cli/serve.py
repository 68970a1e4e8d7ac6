"""``iop-roster serve``: the HTTP service on uvicorn."""

from __future__ import annotations

import logging
import sys

import click

from optimizer.cli.common import EXIT_INVALID


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="Port to listen on.")
@click.option("--db", default=None, metavar="URL",
              help="Job store: sqlite:///path, postgresql+psycopg://..., or a SQLite file path "
                   "[default: $IOP_ROSTER_DB or ./iop-roster-jobs.db].")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Solves at once (each gets its share of the cores) [default: one per two cores].")
@click.option("--insecure-no-auth", is_flag=True,
              help="Accept requests without an API key. Local development only.")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]), default="info",
              show_default=True)
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

        from optimizer.service.app import create_app
        from optimizer.service.auth import ConfigurationError
        from optimizer.service.settings import ServiceSettings
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
    settings = ServiceSettings(**overrides)  # type: ignore[arg-type]
    try:
        app = create_app(settings)
    except ConfigurationError as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(EXIT_INVALID)
    concurrent, per_solve = settings.solve_slots()
    click.echo(f"iop-roster service on http://{host}:{port} ({concurrent} solve(s) at once, "
               f"{per_solve} CP-SAT worker(s) each)", err=True)
    uvicorn.run(app, host=host, port=port, log_level=log_level, server_header=False)


commands = [serve]
