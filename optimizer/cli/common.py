"""What every command shares: exit codes, error printing without tracebacks, option types, output files.

Messages quote what a user typed only where it cannot be personal data: numbers, ids
(letters, digits, ``_ . -``, at most 40 characters) and file paths. The option types below
keep click's errors to that rule; commands call :func:`models.io.check_writable_file` and
:func:`models.io.check_writable_folder` before a long solve starts, and :func:`writing` turns a failed
write into exit 2 naming the path and the system's reason, never the file's contents.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import ParamSpec, TypeVar

import click

from models.errors import InvalidDocument, Issue, OutputError
from models.scenario import Scenario, is_id
from models.schedule import Schedule

EXIT_OK = 0
EXIT_VIOLATIONS = 1
EXIT_INVALID = 2
EXIT_NO_SCHEDULE = 3
EXIT_INTERNAL = 70

#: CP-SAT's ``random_seed`` is an int32; a negative seed is refused as a likely typo.
SEED_MAX = 2**31 - 1
#: CP-SAT starts one thread per worker, each with its own copy of the model: beyond this a
#: count is a typo, not a machine.
WORKERS_MAX = 1024

P = ParamSpec("P")
R = TypeVar("R")

# A command that refuses its input shows this many issues, then a count of the rest (a
# schedule of another week given beside a scenario gave 900 lines); `validate` shows all.
SHOWN_ISSUES = 50


def print_issues(issues: Sequence[Issue], err: bool = True, limit: int | None = None) -> None:
    """One line per issue: ``file: path: message``, errors in red, warnings in yellow.

    With ``limit``, the first ``limit`` issues and then one line saying how many more there are.
    """
    shown = issues if limit is None else issues[:limit]
    lines = []
    for issue in shown:
        colour = "red" if issue.severity == "error" else "yellow"
        lines.append(f"{click.style(issue.severity, fg=colour, bold=True)}: {issue}")
    if len(shown) < len(issues):
        lines.append(f"... and {len(issues) - len(shown)} more issue(s) not shown")
    for line in lines:
        if err:
            click.echo(line, err=True)
        else:
            echo_out(line)


def echo_out(message: str = "", nl: bool = True) -> None:
    """:func:`click.echo` to stdout; a stdout that cannot take it (a full disk, a closed pipe)
    is :class:`models.errors.OutputError` (exit 2), not a crash."""
    try:
        click.echo(message, nl=nl)
    except OSError as error:
        # Point stdout at the null device, so that Python's own flush at exit does not fail again.
        with contextlib.suppress(OSError, ValueError):
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, sys.stdout.fileno())
            os.close(null)
        raise OutputError(error.errno, _reason(error), "stdout") from None


def internal_error_text(error: BaseException) -> str:
    """The line shown for a bug: the exception's type only (its text may quote a file)."""
    return (
        f"internal error: {type(error).__name__}. This is a bug in iop-roster; "
        "rerun with IOP_ROSTER_DEBUG=1 for details (the details may contain ids)."
    )


def debugging() -> bool:
    """``IOP_ROSTER_DEBUG=1``: let tracebacks through."""
    return os.environ.get("IOP_ROSTER_DEBUG") == "1"


def friendly_errors(function: Callable[P, R]) -> Callable[P, R]:
    """Turn :class:`InvalidDocument` into its issues and exit 2, an output that cannot be
    written (:class:`models.errors.OutputError`) into exit 2 as ``cannot write PATH: reason``, any other
    crash into exit 70.

    No traceback reaches a user unless ``IOP_ROSTER_DEBUG=1`` is set.
    """

    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return function(*args, **kwargs)
        except InvalidDocument as error:
            print_issues(error.issues, limit=SHOWN_ISSUES)
            click.echo(f"{error.file or 'input'}: invalid ({len(error.issues)} error(s))", err=True)
            sys.exit(EXIT_INVALID)
        except OutputError as error:
            click.echo(f"{click.style('error', fg='red', bold=True)}: cannot write {error.filename}: {_reason(error)}", err=True)
            sys.exit(EXIT_INVALID)
        except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit, KeyboardInterrupt):
            raise
        except Exception as error:  # noqa: BLE001 - the last line of defence for users
            if debugging():
                raise
            click.echo(internal_error_text(error), err=True)
            sys.exit(EXIT_INTERNAL)

    return wrapper


def require_references(scenario: Scenario, schedule: Schedule, file: str) -> None:
    """Raise :class:`InvalidDocument` (exit 2) when ``schedule`` uses ids ``scenario`` lacks.

    Every command that reads a schedule beside its scenario (export, diff, explain) refuses
    such a pair the same way, as the library's exports do
    (:func:`optimizer.export.timeline.require_references`): ``sessions[3] (id S0004).therapist:
    T99 is not a therapist of the scenario``. Messages quote ids only.
    """
    from optimizer.export.timeline import require_references as refuse_unknown_ids

    refuse_unknown_ids(scenario, schedule, file)


# -- shared help texts -----------------------------------------------------------------------

TIME_LIMIT_HELP = ("Seconds of wall time for the whole solve (starting, reading the file and writing the "
                   "schedule come on top: about 2 s for a 120-participant week); with --deterministic, CP-SAT deterministic "
                   "time instead (not seconds: the solve can take several times longer, more on a loaded machine).")
DETERMINISTIC_HELP = ("Byte-identical schedule for the same scenario, seed and parameters: the search is "
                      "interleaved and --time-limit counts CP-SAT deterministic time, not wall seconds.")


# -- option types -------------------------------------------------------------------------


class Command(click.Command):
    """A click command whose usage errors never quote stray arguments (a name typed unquoted)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as error:
            if error.message.startswith("Got unexpected extra argument"):
                raise click.UsageError(
                    "got unexpected extra argument(s); quote a value that contains spaces", ctx
                ) from None
            raise


class IntRange(click.IntRange):
    """:class:`click.IntRange` whose message never quotes text that is not a whole number."""

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> int:
        number = value
        if isinstance(value, str):
            try:
                number = int(value)
            except ValueError:
                self.fail(f"not a whole number ({self._describe_range()}).", param, ctx)
        if not isinstance(number, int):
            self.fail(f"not a whole number ({self._describe_range()}).", param, ctx)
        result: int = super().convert(number, param, ctx)
        return result


class FloatRange(click.FloatRange):
    """:class:`click.FloatRange` that refuses NaN and infinity (which pass any range check),
    and whose message never quotes text that is not a number."""

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> float:
        try:
            number = float(value)  # type: ignore[arg-type]  # whatever the parser hands over
        except (TypeError, ValueError):
            self.fail(f"not a number ({self._describe_range()}).", param, ctx)
        if not math.isfinite(number):
            self.fail(f"{number} is not a finite number ({self._describe_range()}).", param, ctx)
        result: float = super().convert(number, param, ctx)
        return result


class Choice(click.Choice):
    """:class:`click.Choice` whose message quotes the value given only when it is id-shaped."""

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> str:
        try:
            result: str = super().convert(value, param, ctx)
        except click.BadParameter:
            if is_id(value):
                raise
            self.fail(f"not one of {', '.join(map(repr, self.choices))}.", param, ctx)
        return result


class SessionId(click.ParamType):
    """A session id (``--lock``): refused, unquoted, unless id-shaped."""

    name = "session_id"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> str:
        if not is_id(value):
            self.fail("not a session id (letters, digits, '_', '.', '-', at most 40 characters, no spaces)", param, ctx)
        assert isinstance(value, str)
        return value


#: The seed of a CP-SAT search.
SEED = IntRange(0, SEED_MAX)
#: CP-SAT's worker count.
WORKERS = IntRange(1, WORKERS_MAX)


# -- output files -------------------------------------------------------------------------


def refuse_overwriting_inputs(
    targets: Sequence[tuple[str, Path]], inputs: Mapping[str, str | os.PathLike[str] | None]
) -> None:
    """Raise a usage error (exit 2) when an output would replace an input file.

    ``targets`` pairs an option (``-o``) with a path it writes; ``inputs`` maps a label
    (``the scenario``) to a file read, or None. Paths are compared resolved, and with
    :func:`os.path.samefile` where both exist (hard links, bind mounts).
    """
    for option, target in targets:
        for label, source in inputs.items():
            if source is not None and _same_file(target, Path(source)):
                raise click.UsageError(
                    f"{option} {target} is {label}: writing there would replace it; choose another path",
                    click.get_current_context(silent=True),
                )


def _same_file(first: Path, second: Path) -> bool:
    try:
        if first.exists() and second.exists():
            return os.path.samefile(first, second)
        return first.resolve() == second.resolve()
    except (OSError, RuntimeError):  # a symlink loop, an unreadable directory: not the same file we can tell
        return False


def _reason(error: OSError) -> str:
    return error.strerror or type(error).__name__


@contextlib.contextmanager
def writing(path: str | os.PathLike[str]) -> Iterator[None]:
    """Turn an :class:`OSError` raised while writing ``path`` (a file, or a folder of files)
    into :class:`models.errors.OutputError` naming ``path``."""
    try:
        yield
    except OSError as error:
        raise OutputError(error.errno, _reason(error), str(path)) from None
