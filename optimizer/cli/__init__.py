"""The ``iop-roster`` command line: thin commands that parse, call the library and format.

Each command lives in its own module of this package and exposes ``commands`` (a list of
click commands); :func:`main` registers the modules listed in ``_COMMAND_MODULES``.
"""

from __future__ import annotations

import importlib

import click

from optimizer import __version__

_COMMAND_MODULES = (
    "validate",
    "solve",
    "check",
    "generate",
    "explain",
    "export",
    "replan",
    "batch",
    "serve",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="iop-roster")
def main() -> None:
    """Weekly rosters for a virtual intensive outpatient program (virtual IOP).

    \b
    Typical use:
      iop-roster validate scenarios/demo.yaml
      iop-roster solve scenarios/demo.yaml -o demo.schedule.yaml
      iop-roster check scenarios/demo.yaml demo.schedule.yaml

    Exit codes: 0 success, 1 violations found (check), 2 invalid input,
    3 no schedule found, 70 internal error.
    """


for _name in _COMMAND_MODULES:
    try:
        _module = importlib.import_module(f"optimizer.cli.{_name}")
    except ModuleNotFoundError as _error:
        # A command whose module is absent, or whose optional extra is not installed,
        # is simply not offered; anything else is a real bug and propagates.
        if _error.name is None or not (_error.name.startswith("optimizer.cli.") or "." not in _error.name):
            raise
        continue
    for _command in getattr(_module, "commands", []):
        main.add_command(_command)
