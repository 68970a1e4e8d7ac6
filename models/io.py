"""Reading and writing scenario and schedule files (YAML 1.2 or JSON), atomically.

YAML is read with ruamel.yaml's YAML 1.2 safe loader: an unquoted ``10:30`` stays the string
``"10:30"`` and ``no`` stays ``"no"`` (YAML 1.1 readers turn them into 630 and False).
Duplicate keys are errors. Output is written to a temporary file beside the target and then
renamed over it, so a crash never leaves half a file.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.representer import SafeRepresenter

from models.errors import InvalidDocument, Issue
from models.scenario import Scenario
from models.schedule import Schedule
from models.validation import validate_scenario, validate_schedule

Format = Literal["yaml", "json"]

_QUOTE_RE = re.compile(r"^[\d:+\-.]|:|^(y|n|yes|no|on|off|true|false|null|~)$", re.IGNORECASE)


def _yaml_loader() -> YAML:
    yaml = YAML(typ="safe", pure=True)
    yaml.allow_duplicate_keys = False
    return yaml


def _represent_str(representer: SafeRepresenter, value: str) -> object:
    # Quote anything a YAML 1.1 reader could mistake for a number, time or boolean.
    style = "'" if _QUOTE_RE.search(value) else None
    return representer.represent_scalar("tag:yaml.org,2002:str", value, style=style)


def _yaml_dumper() -> YAML:
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = None  # lists of scalars inline, mappings in block style
    yaml.sort_base_mapping_type_on_output = False  # type: ignore[assignment]
    yaml.width = 120
    yaml.representer.add_representer(str, _represent_str)
    return yaml


def format_of(path: str | Path) -> Format:
    """``json`` for a ``.json`` file, else ``yaml``."""
    return "json" if str(path).lower().endswith(".json") else "yaml"


def parse_text(text: str, fmt: Format, file: str | None = None) -> object:
    """Parse YAML 1.2 or JSON text into plain data, or raise :class:`InvalidDocument`."""
    try:
        if fmt == "json":
            return json.loads(text)
        return _yaml_loader().load(text)
    except json.JSONDecodeError as error:
        raise InvalidDocument(file, [Issue(f"line {error.lineno}, column {error.colno}", f"not valid JSON: {error.msg}", "error", file)]) from None
    except MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = error.problem or error.context or "syntax error"
        # ruamel quotes both values of a duplicate key: they may be personal data (a name).
        problem = re.sub(r" with value .*", "", problem, flags=re.DOTALL)
        raise InvalidDocument(file, [Issue(where, f"not valid YAML: {problem}", "error", file)]) from None
    except YAMLError as error:
        raise InvalidDocument(file, [Issue("", f"not valid YAML: {type(error).__name__}", "error", file)]) from None


def read_document(path: str | Path) -> tuple[object, bytes]:
    """Parsed data and raw bytes of a YAML or JSON file."""
    file = str(path)
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise InvalidDocument(file, [Issue("", "file not found", "error", file)]) from None
    except IsADirectoryError:
        raise InvalidDocument(file, [Issue("", "is a directory, not a file", "error", file)]) from None
    except OSError as error:
        raise InvalidDocument(file, [Issue("", f"cannot be read: {error.strerror}", "error", file)]) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidDocument(file, [Issue("", "is not UTF-8 text", "error", file)]) from None
    return parse_text(text, format_of(path), file), data


@dataclass(frozen=True)
class LoadedScenario:
    """A valid scenario with what was learned loading it."""

    scenario: Scenario
    sha256: str
    warnings: list[Issue] = field(default_factory=list)
    file: str | None = None


def scenario_from_data(raw: object, file: str | None = None, sha256: str | None = None) -> LoadedScenario:
    """Validate parsed data as a scenario, or raise :class:`InvalidDocument` with every error."""
    scenario, errors, warnings = validate_scenario(raw, file)
    if scenario is None:
        raise InvalidDocument(file, errors)
    if sha256 is None:
        sha256 = hashlib.sha256(canonical_json(raw).encode()).hexdigest()
    return LoadedScenario(scenario, sha256, warnings, file)


def load_scenario(path: str | Path) -> LoadedScenario:
    """Read and validate a scenario file. ``sha256`` is that of the file's bytes."""
    raw, data = read_document(path)
    return scenario_from_data(raw, str(path), hashlib.sha256(data).hexdigest())


def load_schedule(path: str | Path) -> Schedule:
    """Read a schedule file and check its form, or raise :class:`InvalidDocument`."""
    raw, _ = read_document(path)
    schedule, errors = validate_schedule(raw, str(path))
    if schedule is None:
        raise InvalidDocument(str(path), errors)
    return schedule


def canonical_json(data: object) -> str:
    """Stable JSON text of plain data (sorted keys), for hashing documents sent as JSON."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)


def dump_text(data: object, fmt: Format) -> str:
    """YAML or JSON text of plain data (dicts, lists, scalars)."""
    if fmt == "json":
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    buffer = io.StringIO()
    _yaml_dumper().dump(data, buffer)
    return buffer.getvalue()


def schedule_text(schedule: Schedule, fmt: Format = "yaml") -> str:
    """The schedule file's text."""
    return dump_text(schedule.model_dump(mode="json"), fmt)


def scenario_text(scenario: Scenario, fmt: Format = "yaml") -> str:
    """A scenario file's text (defaults left out, so hand-written files stay short)."""
    return dump_text(scenario.model_dump(mode="json", exclude_defaults=True), fmt)


def write_atomic(path: str | Path, text: str | bytes) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename (never half a file)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    payload = text.encode("utf-8") if isinstance(text, str) else text
    descriptor, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def save_schedule(schedule: Schedule, path: str | Path, fmt: Format | None = None) -> None:
    """Write a schedule file atomically; the format follows the extension unless given."""
    write_atomic(path, schedule_text(schedule, fmt or format_of(path)))
