"""Reading and writing scenario and schedule files (YAML 1.2 or JSON), atomically.

YAML is read with ruamel.yaml's YAML 1.2 safe loader: an unquoted ``10:30`` stays the string
``"10:30"`` and ``no`` stays ``"no"`` (YAML 1.1 readers turn them into 630 and False).
A key written twice in one mapping is an error, in YAML and in JSON. Whatever a file holds,
reading it ends in data or in :class:`~models.errors.InvalidDocument`, whose messages give the
line and column but never the file's text (it may hold a name).

Output is written to a temporary file beside the target and then renamed over it, so a crash
never leaves half a file; every failure to write is an :class:`~models.errors.OutputError`.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import json
import os
import re
import secrets
import stat
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import ruamel.yaml.tokens
from ruamel.yaml import YAML
from ruamel.yaml.composer import Composer, MaxDepthExceededError
from ruamel.yaml.constructor import ConstructorError, SafeConstructor
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import Node, ScalarNode
from ruamel.yaml.reader import ReaderError
from ruamel.yaml.representer import SafeRepresenter

from models.clock import DAYS, WeekOutOfRange
from models.errors import InvalidDocument, Issue, OutputError
from models.scenario import Scenario, is_quotable, quote
from models.schedule import Schedule
from models.validation import _KNOWN_FIELDS, validate_scenario, validate_schedule

Format = Literal["yaml", "json"]

#: Deepest nesting of lists and mappings a document may have (a scenario needs 7). Deeper
#: documents are refused before anything recurses through them (the parsers, the validation).
MAX_DEPTH = 100

_QUOTE_RE = re.compile(r"^[\d:+\-.]|:|^(y|n|yes|no|on|off|true|false|null|~)$", re.IGNORECASE)


class _Composer(Composer):  # type: ignore[misc]
    """ruamel's composer without its warning on a reused anchor, which quotes the file.

    An anchor defined twice is allowed by YAML 1.2 (an alias means the latest one).
    """

    def __init__(self, loader: Any = None) -> None:
        super().__init__(loader)
        self.warn_double_anchors = False


class _Constructor(SafeConstructor):  # type: ignore[misc]
    """The safe constructor, with a value Python cannot build reported at its place.

    ``2026-02-30`` matches YAML's timestamp pattern but is no date, an integer of more than
    4,300 digits exceeds Python's conversion limit, ``!!bool maybe`` is no boolean: ruamel lets
    the ``ValueError`` (``KeyError``, ``IndexError``) escape without a position. Here each
    becomes a :class:`ConstructorError` at the value's line.
    """

    _PROBLEMS = {
        "timestamp": "not a real date or time",
        "int": "not an integer that can be read (at most 4300 digits)",
        "float": "not a number",
        "bool": "not true or false",
    }

    def construct_non_recursive_object(self, node: Node, tag: str | None = None) -> Any:
        kind = str(tag or node.tag).rsplit(":", 1)[-1]
        if kind in ("int", "float") and isinstance(node, ScalarNode) and node.style is None and "_" in str(node.value):
            return str(node.value)  # YAML 1.2's core schema has no 1_000 (YAML 1.1 had): a string
        try:
            return super().construct_non_recursive_object(node, tag)
        except YAMLError:
            raise
        except Exception:  # noqa: BLE001 - ValueError, KeyError, IndexError: ruamel raises all three
            if kind == "timestamp" and isinstance(node, ScalarNode) and tag is None:
                # 2026-02-30 looks like a date and is none: the field's own rule says so, by name.
                return str(node.value)
            problem = self._PROBLEMS.get(kind, "a value that cannot be read")
            raise ConstructorError(None, None, problem, node.start_mark) from None


def _yaml_loader() -> YAML:
    yaml = YAML(typ="safe", pure=True)
    yaml.allow_duplicate_keys = False
    yaml.Composer = _Composer
    yaml.Constructor = _Constructor
    # ruamel counts scalars as a level too: MAX_DEPTH levels of lists and mappings, then a value.
    yaml.max_depth = MAX_DEPTH + 1
    return yaml


def _represent_str(representer: SafeRepresenter, value: str) -> object:
    # Quote anything a YAML 1.1 reader could mistake for a number, time or boolean.
    style = "'" if _QUOTE_RE.search(value) else None
    return representer.represent_scalar("tag:yaml.org,2002:str", value, style=style)


def _yaml_dumper() -> YAML:
    # The C emitter (ruamel.yaml.clib, installed with ruamel.yaml) when there is one: a schedule
    # of 5,000 participants took 3.1 s to write with the pure one, 1.0 s with it. It wraps long
    # flow mappings a little differently (and leaves no space at the end of a line); either
    # reads back the same.
    yaml = YAML(typ="safe", pure=False)
    yaml.default_flow_style = None  # lists of scalars inline, mappings in block style
    yaml.sort_base_mapping_type_on_output = False  # type: ignore[assignment]
    yaml.width = 120
    yaml.representer.add_representer(str, _represent_str)
    return yaml


def format_of(path: str | Path) -> Format:
    """``json`` for a ``.json`` file, else ``yaml``."""
    return "json" if str(path).lower().endswith(".json") else "yaml"


#: What ruamel quotes in its messages that is YAML's own syntax, not the file's text:
#: token names (``'<block end>'``, ``','``, ``']'``).
_YAML_TOKEN_NAMES = frozenset(
    name
    for token in vars(ruamel.yaml.tokens).values()
    if isinstance(token, type) and isinstance(name := getattr(token, "id", None), str)
)
_QUOTED_RE = re.compile(r"'[^'\n]*'|\"[^\"\n]*\"")
_DUPLICATE_KEY_RE = re.compile(r'^found duplicate key "([a-z_]+)" with value')
_NESTED_TOO_DEEP = f"lists and mappings nested more than {MAX_DEPTH} levels deep"


def _is_syntax(quoted: str) -> bool:
    """Whether a quoted piece of a ruamel message is YAML syntax rather than the file's text."""
    inner = quoted[1:-1]
    return inner in _YAML_TOKEN_NAMES or (len(inner) <= 3 and inner.isascii() and inner.isprintable() and not any(c.isalnum() for c in inner))


def _without_file_text(message: str) -> str:
    """ruamel's message with every piece of the file's text it quotes left out.

    ruamel quotes aliases, tags, keys and characters of the file (``found undefined alias
    'Jordan_Smith'``); those may be personal data. Quoted YAML syntax stays (``expected ','
    or ']'``). Where the quoting is ambiguous (the quoted text held a quote), the message is
    cut there, so nothing of the file can slip out.
    """
    duplicate = _DUPLICATE_KEY_RE.match(message)
    if duplicate is not None:
        # A field name of the format is the format's text, not the file's: worth naming.
        key = duplicate.group(1)
        return f'found duplicate key "{key}"' if key in _KNOWN_FIELDS or key in DAYS else "found duplicate key"
    kept: list[str] = []
    rest = message
    while rest:
        match = _QUOTED_RE.search(rest)
        before = rest if match is None else rest[: match.start()]
        stray = re.search(r"['\"]", before)
        if stray is not None:  # a quote that closes nowhere: what follows cannot be trusted
            kept.append(before[: stray.start()])
            break
        kept.append(before)
        if match is None:
            break
        rest = rest[match.end() :]
        if _is_syntax(match.group()):
            kept.append(match.group())
        elif re.search(r"['\"]", rest):
            break  # the quoted text may have held a quote: stop at the first of the file's text
    return " ".join("".join(kept).split()).rstrip(" ,:")


def _place(text: str, offset: int | None) -> str:
    """``line L, column C`` (both from 1) of a character offset of ``text``; empty if unknown."""
    if offset is None:
        return ""
    line = text.count("\n", 0, offset) + 1
    column = offset - text.rfind("\n", 0, offset)
    return f"line {line}, column {column}"


def _not_valid(file: str | None, fmt: Format, problem: str, where: str = "") -> InvalidDocument:
    language = "JSON" if fmt == "json" else "YAML"
    return InvalidDocument(file, [Issue(where, f"not valid {language}: {problem}", "error", file)])


def _deeper_than(data: object, limit: int) -> bool:
    """Whether lists and mappings in ``data`` nest more than ``limit`` levels.

    Iterative, so it cannot overflow the stack; a YAML structure that contains itself (through
    an alias) is infinitely deep and so is caught too. Containers shared through aliases are
    walked again only when reached deeper than before, so an alias "bomb" costs no more than
    its distinct containers times their depth.
    """
    deepest: dict[int, int] = {}
    pending: list[tuple[object, int]] = [(data, 1)]
    while pending:
        node, depth = pending.pop()
        if isinstance(node, dict):
            children: Iterable[object] = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > limit:
            return True
        if deepest.get(id(node), 0) >= depth:
            continue
        deepest[id(node)] = depth
        pending.extend((child, depth + 1) for child in children)
    return False


# A JSON string (with a following ':' when it is a key), a bracket, or a run of digits.
_JSON_TOKEN_RE = re.compile(r'"(?:[^"\\]|\\.)*"(\s*:)?|[\[\]{}]|\d+')


def _json_offset(text: str, problem: Literal["depth", "duplicate key", "long number"]) -> int | None:
    """Offset of the first place in ``text`` where JSON ``problem`` occurs, if found.

    Only called after the decoder has refused ``text``, to say where: the decoder reports no
    position for these three. Strings are skipped whole, so a bracket or key inside one is not
    counted.
    """
    digits_limit = sys.get_int_max_str_digits() or sys.maxsize
    keys: list[set[str] | None] = []  # per open bracket: the keys of an object so far
    for token in _JSON_TOKEN_RE.finditer(text):
        first = token.group()[0]
        if first in "[{":
            keys.append(set() if first == "{" else None)
            if problem == "depth" and len(keys) > MAX_DEPTH:
                return token.start()
        elif first in "]}":
            if keys:
                keys.pop()
        elif first == '"':
            if problem == "duplicate key" and token.group(1) and keys and keys[-1] is not None:
                key = json.loads(token.group()[: len(token.group()) - len(token.group(1))])
                if key in keys[-1]:
                    return token.start()
                keys[-1].add(key)
        elif problem == "long number" and len(token.group()) > digits_limit:
            return token.start()
    return None


class _DuplicateKey(Exception):
    """A JSON object with a key written twice (raised inside the decoder, caught at once)."""

    def __init__(self, key: str) -> None:
        super().__init__()
        self.key = key

    @property
    def problem(self) -> str:
        """``the key 'mon' is written twice in one object`` (the key only if a message may show it)."""
        return f"the key {quote(self.key)} is written twice in one object" if is_quotable(self.key) else "a key is written twice in one object"


def _json_object(pairs: list[tuple[str, object]]) -> dict[str, object]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return result


def duplicate_json_key(text: str) -> str | None:
    """What a JSON ``text`` writing a key twice in one object is told, as a file is
    (``the key 'mon' is written twice in one object (line 3, column 5)``; the key only when a
    message may show it); None when it writes none, or is not JSON text (its own reader
    says what is wrong then)."""
    try:
        json.loads(text, object_pairs_hook=_json_object)
    except _DuplicateKey as duplicate:
        where = _place(text, _json_offset(text, "duplicate key"))
        return f"{duplicate.problem} ({where})" if where else duplicate.problem
    except Exception:  # noqa: BLE001 - not JSON text, too deep, too long a number
        return None
    return None


def _parse_json(text: str, file: str | None) -> object:
    try:
        return json.loads(text, object_pairs_hook=_json_object)
    except json.JSONDecodeError as error:
        # Its message names the JSON syntax expected, never the file's text.
        raise _not_valid(file, "json", error.msg, f"line {error.lineno}, column {error.colno}") from None
    except _DuplicateKey as duplicate:
        where = _place(text, _json_offset(text, "duplicate key"))
        raise _not_valid(file, "json", duplicate.problem, where) from None
    except RecursionError:
        raise _not_valid(file, "json", _NESTED_TOO_DEEP, _place(text, _json_offset(text, "depth"))) from None
    except ValueError:
        # The decoder's other ValueError: an integer longer than Python converts (4,300 digits).
        where = _place(text, _json_offset(text, "long number"))
        raise _not_valid(file, "json", "an integer with more than 4300 digits", where) from None


#: From this many characters a YAML document is first read with ruamel's C reader
#: (ruamel.yaml.clib): XL-1's 1.1 MB scenario in 1.5 s instead of 5.1 s, the same data.
_FAST_YAML_FROM = 200_000
_NO_RESULT = object()


def _fast_yaml(text: str) -> object:
    """A large document read by the C reader, or ``_NO_RESULT`` to read it the careful way.

    The C reader composes in C (no depth limit, its own messages), so it is only trusted
    with a document it reads without complaint and whose nesting is within ``MAX_DEPTH``;
    anything else, and a document with directives (``%YAML 1.1``), goes to the pure reader,
    whose errors are the ones described above. The same resolver (YAML 1.2) and constructor
    serve both.
    """
    if text.lstrip("\ufeff \t\r\n").startswith("%"):
        return _NO_RESULT
    try:
        yaml = YAML(typ="safe", pure=False)
        if yaml.Parser is None or yaml.Parser.__module__.startswith("ruamel.yaml.parser"):
            return _NO_RESULT  # no C reader installed
        yaml.allow_duplicate_keys = False
        yaml.Constructor = _Constructor
        data = yaml.load(text)
    except Exception:  # noqa: BLE001 - whatever it is, the pure reader says it properly
        return _NO_RESULT
    return _NO_RESULT if _deeper_than(data, MAX_DEPTH) else data


#: Tabs where YAML 1.2 allows them as separation and ruamel's scanner does not: at the end of
#: a line, after a key's colon or a list's dash, and before a comment (QA: "name:<tab>X" was
#: "found character that cannot start any token").
_TAB_AT_END = re.compile(r"[ \t]*\t[ \t]*$", re.MULTILINE)
_TAB_AFTER_INDICATOR = re.compile(r"^([ ]*(?:-[ ]+)*(?:[^\s'\"#:{}\[\],&*!|>%@`-][^'\"#\t\n]*?:|-))\t[ \t]*", re.MULTILINE)
_TAB_BEFORE_COMMENT = re.compile(r"^([^'\"#\n]*?\S)[ ]*\t[ \t]*#", re.MULTILINE)


def _without_separating_tabs(text: str) -> str:
    """``text`` with each tab YAML 1.2 reads as separation space replaced by a space (lines
    with quotes are left alone: a tab inside a quoted scalar is text)."""
    text = _TAB_AT_END.sub("", text)
    text = _TAB_AFTER_INDICATOR.sub(lambda match: match.group(1) + " ", text)
    return _TAB_BEFORE_COMMENT.sub(lambda match: match.group(1) + " #", text)


def _is_tab_error(error: MarkedYAMLError, text: str) -> bool:
    mark = error.problem_mark
    index = getattr(mark, "index", None)
    return isinstance(index, int) and 0 <= index < len(text) and text[index] == "\t"


def _parse_yaml(text: str, file: str | None) -> object:
    if len(text) >= _FAST_YAML_FROM:
        data = _fast_yaml(text)
        if data is not _NO_RESULT:
            return data
    try:
        try:
            return _yaml_loader().load(text)
        except MarkedYAMLError as error:
            if "\t" not in text or not _is_tab_error(error, text):
                raise
            retry = _without_separating_tabs(text)
            if retry == text:
                raise
            try:
                return _yaml_loader().load(retry)
            except Exception:  # noqa: BLE001 - the first error, at its place in the file as written
                raise error from None
    except ReaderError as error:
        # A character YAML does not allow (NUL, most control characters): its code point, not
        # the character, and where it is.
        offset = error.position if isinstance(error.position, int) else None
        code = f" (U+{error.character:04X})" if isinstance(error.character, int) else ""
        problem = f"a control character YAML does not allow{code}"
        raise _not_valid(file, "yaml", problem, _place(text, offset)) from None
    except MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        if isinstance(error, MaxDepthExceededError):
            problem = _NESTED_TOO_DEEP
        else:
            problem = _without_file_text(error.problem or error.context or "") or "syntax error"
        raise _not_valid(file, "yaml", problem, where) from None
    except YAMLError as error:
        raise _not_valid(file, "yaml", type(error).__name__) from None
    except RecursionError:
        # The depth limit stops the composer first; this is the last line of defence.
        raise _not_valid(file, "yaml", _NESTED_TOO_DEEP) from None
    except Exception:  # noqa: BLE001 - e.g. an AssertionError on "%YAML 1.3": the file's fault
        raise _not_valid(file, "yaml", "uses something the YAML reader does not support") from None


def parse_text(text: str, fmt: Format, file: str | None = None) -> object:
    """Parse YAML 1.2 or JSON text into plain data, or raise :class:`InvalidDocument`.

    Every way a text can fail to be a document (syntax, a key written twice, lists and
    mappings nested more than :data:`MAX_DEPTH` levels, a date that does not exist, a number
    too long to convert, a control character) is an :class:`InvalidDocument` that gives the
    line and column where known and quotes nothing of the text.
    """
    data = _parse_json(text, file) if fmt == "json" else _parse_yaml(text, file)
    if _deeper_than(data, MAX_DEPTH):
        # JSON that nests deep but not deep enough to exhaust the decoder's stack, or YAML
        # nesting through aliases (or an alias inside itself).
        where = _place(text, _json_offset(text, "depth")) if fmt == "json" else ""
        raise _not_valid(file, fmt, _NESTED_TOO_DEEP, where)
    return data


def _kind_of(mode: int) -> str:
    """What a file that is not a regular file is, in plain words."""
    kinds = (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a named pipe"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    )
    return next((name for test, name in kinds if test(mode)), "not a regular file")


class NotRegularFile(Exception):
    """A path that names something other than a regular file (its kind as the message)."""


def read_regular_file(path: str | Path) -> bytes:
    """The bytes of a regular file; :class:`NotRegularFile` for anything else (never blocks).

    A named pipe would block the read until a writer comes, and a device can be endless, so
    the file is looked at first (through symbolic links), and again once opened, without
    waiting, in case it was swapped in between.
    """
    mode = os.stat(path).st_mode
    if not stat.S_ISREG(mode):
        raise NotRegularFile(_kind_of(mode))
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    with os.fdopen(descriptor, "rb") as handle:
        mode = os.fstat(descriptor).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFile(_kind_of(mode))
        os.set_blocking(descriptor, True)
        return handle.read()


def read_document(path: str | Path) -> tuple[object, bytes]:
    """Parsed data and raw bytes of a YAML or JSON file.

    Only regular files are read (symbolic links followed): a directory, named pipe, device or
    socket is an :class:`InvalidDocument`, as is a file that is not UTF-8 or not a document.
    """
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if not isinstance(path, str | os.PathLike) or not isinstance(os.fspath(path), str):
        # (QA: an int was taken for a file descriptor: "5: cannot be read: Bad file descriptor",
        # or for stdin "open: path should be string, ..."; None failed inside os.stat)
        raise TypeError(f"a scenario or schedule file is named by a path (str or Path), not {type(path).__name__}")
    file = os.fspath(path)
    try:
        data = read_regular_file(path)
    except FileNotFoundError:
        raise InvalidDocument(file, [Issue("", "file not found", "error", file)]) from None
    except NotRegularFile as kind:
        message = "is a directory, not a file" if str(kind) == "a directory" else f"is not a regular file ({kind})"
        raise InvalidDocument(file, [Issue("", message, "error", file)]) from None
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise InvalidDocument(file, [Issue("", f"cannot be read: {reason}", "error", file)]) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidDocument(file, [Issue("", "is not UTF-8 text", "error", file)]) from None
    return parse_text(text, format_of(path), file), data


@dataclass(frozen=True)
class LoadedScenario:
    """A valid scenario with what was learned loading it."""

    scenario: Scenario
    sha256: str  # of the file's bytes (loaded from a file), else of the content
    warnings: list[Issue] = field(default_factory=list)
    file: str | None = None
    content_sha256: str = ""  # of the content (canonical JSON): the same for YAML, JSON and the service

    def digests(self) -> frozenset[str]:
        """The digests a schedule of this scenario may record as ``scenario.sha256``: the
        file's (CLI, batch, API) and the content's (the service, which receives JSON)."""
        return frozenset(d for d in (self.sha256, self.content_sha256) if d)


def scenario_from_data(raw: object, file: str | None = None, sha256: str | None = None) -> LoadedScenario:
    """Validate parsed data as a scenario, or raise :class:`InvalidDocument` with every error."""
    try:
        scenario, errors, warnings = validate_scenario(raw, file)
    except WeekOutOfRange as error:
        # A Monday so near year 1 or 9999 that the clock cannot convert its times (the message
        # names the dates allowed). The scenario model's own week_start rule should refuse such
        # a week first; should one get through, it is still the file's fault, not a crash.
        raise InvalidDocument(file, [Issue("program.week_start", str(error), "error", file)]) from None
    if scenario is None:
        raise InvalidDocument(file, errors)
    content = hashlib.sha256(canonical_json(raw).encode()).hexdigest()
    return LoadedScenario(scenario, sha256 or content, warnings, file, content)


def load_scenario(path: str | Path) -> LoadedScenario:
    """Read and validate a scenario file. ``sha256`` is that of the file's bytes."""
    raw, data = read_document(path)
    return scenario_from_data(raw, os.fsdecode(path), hashlib.sha256(data).hexdigest())


def load_schedule(path: str | Path) -> Schedule:
    """Read a schedule file and check its form, or raise :class:`InvalidDocument`."""
    raw, _ = read_document(path)
    schedule, errors = validate_schedule(raw, os.fsdecode(path))
    if schedule is None:
        raise InvalidDocument(os.fsdecode(path), errors)
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
    """Write ``text`` to ``path`` through a temporary file and a rename (never half a file).

    - A symbolic link is written through: its target is replaced and the link stays.
    - An existing file keeps its permission bits (and, where allowed, its owner); a new file
      gets those a plain ``open()`` would give (``0666`` less the umask).
    - Anything at ``path`` that is not a regular file (a directory, device, named pipe or
      socket) is refused and left as it is: ``-o /dev/full`` must not replace the device.
    - Missing parent folders are made.

    Raises
    ------
    OutputError
        For any failure (no permission, no space left, a parent that is a file, ...), naming
        ``path`` and the system's reason. The target is then untouched and no temporary file
        is left behind.
    """
    shown = str(path)
    payload = text.encode("utf-8") if isinstance(text, str) else text
    try:
        target = Path(os.path.realpath(path))
        _make_folder(target.parent, shown)
        try:
            existing: os.stat_result | None = os.stat(target)
        except FileNotFoundError:
            existing = None
        if existing is not None and not stat.S_ISREG(existing.st_mode):
            reason = f"it is {_kind_of(existing.st_mode)}, not a regular file, and is left as it is"
            raise OutputError(errno.EEXIST, reason, shown)
        _replace(target, payload, existing)
    except OutputError:
        raise
    except OSError as error:
        raise OutputError(error.errno, error.strerror or str(error) or type(error).__name__, shown) from None


def check_writable_file(path: str | Path) -> None:
    """Raise :class:`OutputError` unless :func:`write_atomic` could write ``path`` now.

    Asked before long work starts (a solve, a batch), so that a typo in a path does not cost
    it: an existing target must be a regular file (through a symbolic link, as written), and
    a file must be creatable in its folder, or in the nearest existing ancestor when folders
    are still to be made.
    """
    shown = str(path)
    resolved = Path(os.path.realpath(path))
    try:
        mode: int | None = resolved.stat().st_mode
    except FileNotFoundError:
        mode = None
    except OSError as error:
        raise OutputError(error.errno, error.strerror or type(error).__name__, shown) from None
    if mode is not None and stat.S_ISDIR(mode):
        raise OutputError(errno.EISDIR, os.strerror(errno.EISDIR), shown)
    if mode is not None and not stat.S_ISREG(mode):
        raise OutputError(errno.EEXIST, "not a regular file", shown)
    _probe_folder(resolved.parent, shown)


def check_writable_folder(path: str | Path) -> None:
    """Raise :class:`OutputError` unless ``path`` is, or can be made, a folder files can be written to."""
    _probe_folder(Path(path), str(path))


def _probe_folder(folder: Path, shown: str) -> None:
    """Create and remove a scratch file in ``folder`` or its nearest existing ancestor."""
    existing = folder
    while not os.path.lexists(existing) and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise OutputError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), shown)
    try:
        descriptor, scratch = _create_temporary(existing / ".iop-roster-probe")
    except OSError as error:
        raise OutputError(error.errno, error.strerror or type(error).__name__, shown) from None
    os.close(descriptor)
    with contextlib.suppress(OSError):
        scratch.unlink()


def _make_folder(folder: Path, shown: str) -> None:
    """Make ``folder`` and its parents; a parent that is a file is named in the error."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        blocker = next((p for p in (*reversed(folder.parents), folder) if p.exists() and not p.is_dir()), folder)
        raise OutputError(errno.ENOTDIR, f"{blocker} is a file, not a folder", shown) from None


def _replace(target: Path, payload: bytes, existing: os.stat_result | None) -> None:
    """Write ``payload`` to a new file beside ``target``, give it ``existing``'s mode, rename it."""
    descriptor, temporary = _create_temporary(target)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            if existing is not None:
                if (existing.st_uid, existing.st_gid) != (os.geteuid(), os.getegid()):
                    # Keep the owner where allowed (root); the mode below matters more.
                    with contextlib.suppress(PermissionError):
                        os.fchown(handle.fileno(), existing.st_uid, existing.st_gid)
                os.fchmod(handle.fileno(), stat.S_IMODE(existing.st_mode))
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    _sync_folder(target.parent)


def _create_temporary(target: Path) -> tuple[int, Path]:
    """A new, empty file beside ``target``, created as ``open()`` would (mode 0666 less umask).

    :func:`tempfile.mkstemp` would create it 0600, and the rename would pass that on.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
    while True:
        temporary = target.parent / f".{target.name[:200]}.{secrets.token_hex(4)}.tmp"
        try:
            return os.open(temporary, flags, 0o666), temporary
        except FileExistsError:
            continue


def _sync_folder(folder: Path) -> None:
    """Make the rename durable (best effort: some file systems cannot sync a folder)."""
    try:
        descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(descriptor)
    finally:
        os.close(descriptor)


def save_schedule(schedule: Schedule, path: str | Path, fmt: Format | None = None) -> None:
    """Write a schedule file atomically; the format follows the extension unless given."""
    write_atomic(path, schedule_text(schedule, fmt or format_of(path)))
