"""What every command shares: exit codes, error printing without tracebacks, output files."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Sequence
from typing import ParamSpec, TypeVar

import click

from models.errors import InvalidDocument, Issue

EXIT_OK = 0
EXIT_VIOLATIONS = 1
EXIT_INVALID = 2
EXIT_NO_SCHEDULE = 3
EXIT_INTERNAL = 70

P = ParamSpec("P")
R = TypeVar("R")


def print_issues(issues: Sequence[Issue], err: bool = True) -> None:
    """One line per issue: ``file: path: message``, errors in red, warnings in yellow."""
    for issue in issues:
        colour = "red" if issue.severity == "error" else "yellow"
        label = click.style(issue.severity, fg=colour, bold=True)
        click.echo(f"{label}: {issue}", err=err)


def friendly_errors(function: Callable[P, R]) -> Callable[P, R]:
    """Turn :class:`InvalidDocument` into its issues and exit 2, any other crash into exit 70.

    No traceback reaches a user unless ``IOP_ROSTER_DEBUG=1`` is set.
    """

    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return function(*args, **kwargs)
        except InvalidDocument as error:
            print_issues(error.issues)
            click.echo(f"{error.file or 'input'}: invalid ({len(error.issues)} error(s))", err=True)
            sys.exit(EXIT_INVALID)
        except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit, KeyboardInterrupt):
            raise
        except Exception as error:  # noqa: BLE001 - the last line of defence for users
            if os.environ.get("IOP_ROSTER_DEBUG") == "1":
                raise
            click.echo(
                f"internal error: {type(error).__name__}. This is a bug in iop-roster; "
                "rerun with IOP_ROSTER_DEBUG=1 for details (the details may contain ids).",
                err=True,
            )
            sys.exit(EXIT_INTERNAL)

    return wrapper
