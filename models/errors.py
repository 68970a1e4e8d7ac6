"""Problems found in an input file, each naming the file, the path, the id and the rule."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Issue:
    """One problem of a document.

    Attributes
    ----------
    path
        Where it is, with ids: ``participants[3] (id P0004).availability.mon[0]``
        (empty for the document as a whole).
    message
        The rule broken, in plain words; it quotes the offending value only where the value
        cannot be personal data (times, zones, states, numbers, ids).
    severity
        ``error`` (the file is invalid) or ``warning`` (valid, but cannot be fully served).
    file
        The file's name as the user gave it, or a label such as ``<request>``.
    """

    path: str
    message: str
    severity: Severity = "error"
    file: str | None = None

    def __str__(self) -> str:
        where = ": ".join(part for part in (self.file, self.path) if part)
        return f"{where}: {self.message}" if where else self.message

    def as_dict(self) -> dict[str, str]:
        """JSON-ready form (for ``--format json`` and the HTTP service)."""
        return {
            "file": self.file or "",
            "path": self.path,
            "message": self.message,
            "severity": self.severity,
        }


class InvalidDocument(Exception):
    """A scenario or schedule file that breaks the format's rules; carries every issue."""

    def __init__(self, file: str | None, issues: list[Issue]) -> None:
        self.file = file
        self.issues = issues
        lines = "\n".join(f"  {issue}" for issue in issues)
        super().__init__(f"{file or 'document'} is invalid ({len(issues)} problem(s)):\n{lines}")


class OutputError(OSError):
    """An output file that cannot be written: ``str()`` names the path and the system's reason.

    Raised by :func:`models.io.write_atomic` for every failure (no permission, no space left, a
    parent that is a file, a target that is a device or a pipe), with the target untouched and
    no temporary file left behind. It is an :class:`OSError`, so ``errno``, ``strerror`` and
    ``filename`` (the path as given) are there for callers that handle those.
    """

    def __str__(self) -> str:
        return f"{self.filename}: cannot be written: {self.strerror}"
