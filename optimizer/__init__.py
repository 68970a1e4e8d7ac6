"""iop-roster's optimizer: scenario -> problem data -> CP-SAT model -> schedule -> checker."""

from __future__ import annotations

__version__ = "0.1.0"

# The public API. Importing it loads OR-Tools; models-only users import `models` alone.
from optimizer.check import CheckReport, check  # noqa: E402
from optimizer.result import Progress, Result, SolveParams, SolveStatus  # noqa: E402
from optimizer.solve import solve  # noqa: E402

__all__ = ["CheckReport", "Progress", "Result", "SolveParams", "SolveStatus", "__version__", "check", "solve"]
