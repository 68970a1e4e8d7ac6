"""iop-roster's optimizer: scenario -> problem data -> CP-SAT model -> schedule -> checker."""

from __future__ import annotations

__version__ = "0.1.0"

# The public API (solve, check) is imported lazily so that `import optimizer` stays light
# and models-only users never load OR-Tools.
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from optimizer.check import CheckReport, check
    from optimizer.result import Progress, Result, SolveParams, SolveStatus
    from optimizer.solve import solve

_LAZY = {
    "solve": "optimizer.solve",
    "check": "optimizer.check",
    "CheckReport": "optimizer.check",
    "Result": "optimizer.result",
    "SolveParams": "optimizer.result",
    "SolveStatus": "optimizer.result",
    "Progress": "optimizer.result",
}

__all__ = ["CheckReport", "Progress", "Result", "SolveParams", "SolveStatus", "check", "solve", "__version__"]


def __getattr__(name: str) -> Any:
    import importlib

    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'optimizer' has no attribute {name!r}")
