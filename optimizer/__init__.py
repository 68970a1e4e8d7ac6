"""iop-roster's optimizer: scenario -> problem data -> CP-SAT model -> schedule -> checker."""

from __future__ import annotations

__version__ = "0.1.0"
