"""Whatever a file holds, reading it ends in data or in an InvalidDocument (``models/io.py``).

Each case here once ended in a Python exception (exit 70, "internal error") or echoed the file's
text in a message (QA pass, /tmp/qa-invalid). An error must give the line and column where the
reader knows them, and nothing of the text: a name may be anywhere in a hand-written file.
"""

from __future__ import annotations

import json
import warnings

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.errors import InvalidDocument
from models.io import MAX_DEPTH, parse_text, scenario_from_data

#: A name typed where it does not belong: no message may contain it.
SECRET = "Jordan_Smith_SECRET-PHI-123"


def _error(text: str, fmt: str, file: str = "f") -> str:
    """The one issue of an invalid ``text``, as ``file: where: message``."""
    with pytest.raises(InvalidDocument) as caught:
        parse_text(text, fmt, file)  # type: ignore[arg-type]
    assert caught.value.file == file
    assert len(caught.value.issues) == 1
    return str(caught.value.issues[0])


def _nested(depth: int, fmt: str) -> str:
    """A document of ``depth`` lists and mappings, one inside the next (the root counts)."""
    inner = "[" * (depth - 1) + "1" + "]" * (depth - 1)
    return f'{{"a": {inner}}}' if fmt == "json" else f"a: {inner}\n"


# --------------------------------------------------------------------------- nesting


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_twenty_thousand_brackets_are_a_nesting_error_at_their_place(fmt: str) -> None:
    """QA cases 08 and 111: RecursionError in ruamel's composer and in the JSON decoder.

    The root mapping is level 1, so the 101st level is bracket 100: at column 7 + 99 = 106 in
    ``{"a": [[[...``. ruamel counts a value as a level too and stops at the first thing inside
    the 101st level: bracket 101, at column 4 + 100 = 104 in ``a: [[[...``.
    """
    column = 106 if fmt == "json" else 104
    language = fmt.upper()
    assert _error(_nested(20_000, fmt), fmt) == (
        f"f: line 1, column {column}: not valid {language}: "
        f"lists and mappings nested more than {MAX_DEPTH} levels deep"
    )


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_the_depth_limit_is_exact(fmt: str) -> None:
    """100 levels read; 101 do not, also below the depth where Python's stack would overflow."""
    assert parse_text(_nested(MAX_DEPTH, fmt), fmt) is not None  # type: ignore[arg-type]
    assert "nested more than 100 levels deep" in _error(_nested(MAX_DEPTH + 1, fmt), fmt)
    assert "nested more than 100 levels deep" in _error(_nested(500, fmt), fmt)


def test_a_yaml_alias_inside_itself_is_infinitely_deep() -> None:
    """ruamel builds ``&x [*x]`` as a list that contains itself: validation would loop on it."""
    assert _error("a: &x [*x]\n", "yaml") == "f: not valid YAML: lists and mappings nested more than 100 levels deep"
    assert "nested more than" in _error("a: &x {b: [*x]}\n", "yaml")


def test_an_alias_bomb_is_read_once_per_shared_list() -> None:
    """Nine levels of nine aliases each would be 9**9 = 387 million lists if expanded; the
    depth check visits each of the ten distinct lists once (no timeout: this returns at once)."""
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{level}: &a{level} [{', '.join([f'*a{level - 1}'] * 9)}]" for level in range(1, 10)]
    data = parse_text("\n".join(lines) + "\n", "yaml")
    assert isinstance(data, dict) and len(data) == 10


# --------------------------------------------------------------------------- values Python cannot build


@pytest.mark.parametrize(
    ("text", "message"),
    [
        # 5,000 digits: over Python's int conversion limit of 4,300.
        ("count: " + "7" * 5000 + "\n", "line 1, column 8: not valid YAML: not an integer that can be read (at most 4300 digits)"),
        ("ok: !!bool maybe\n", "line 1, column 5: not valid YAML: not true or false"),  # KeyError in ruamel
        ("n: !!int ''\n", "line 1, column 4: not valid YAML: not an integer that can be read (at most 4300 digits)"),  # IndexError
        ("%YAML 1.3\n---\na: 1\n", "not valid YAML: uses something the YAML reader does not support"),  # AssertionError
    ],
)
def test_yaml_values_python_cannot_build_are_errors_at_their_place(text: str, message: str) -> None:
    assert _error(text, "yaml") == f"f: {message}"


def test_a_date_that_does_not_exist_is_text_for_its_field_to_refuse_by_name() -> None:
    # QA case 52 (and schedule case c39): ruamel's timestamp pattern matches, datetime refuses.
    # It was "line 2, column 15: not valid YAML: not a real date or time", which named no field
    # (QA 2026-11-28); YAML 1.2's core schema has no dates at all, so it is plain text.
    assert parse_text("program:\n  week_start: 2026-02-30\n", "yaml") == {"program": {"week_start": "2026-02-30"}}
    assert parse_text("at: 2026-01-01T25:00:00\n", "yaml") == {"at": "2026-01-01T25:00:00"}
    with pytest.raises(InvalidDocument) as caught:
        scenario_from_data(parse_text(_SCENARIO_WEEK.format(week="2026-02-30"), "yaml"), "f")
    assert [issue.path for issue in caught.value.issues] == ["program.week_start"]
    assert "no such day" in caught.value.issues[0].message


@pytest.mark.parametrize(("text", "value"), [("1_000", "1_000"), ("1_0.5", "1_0.5"), ("1000", 1000), ("'1_000'", "1_000")])
def test_numbers_with_underscores_are_text_as_in_yaml_1_2(text: str, value: object) -> None:
    # YAML 1.1 read 1_000 as 1000 (QA: an id 1_000 was refused as "got 1000").
    assert parse_text(f"id: {text}\n", "yaml") == {"id": value}


_SCENARIO_WEEK = """format: iop-scenario/1
program: {{name: X, timezone: America/New_York, week_start: {week}, days: [mon], hours: "08:00-20:00"}}
participants: []
therapists: []
group_types: []
"""


def test_a_json_integer_of_5000_digits_is_an_error_at_its_place() -> None:
    """QA case 112: ValueError from Python's int conversion limit. ``{"a": 1, "count": `` is
    18 characters, so the number starts at column 19."""
    text = '{"a": 1, "count": ' + "7" * 5000 + "}"
    error = _error(text, "json")
    assert error == "f: line 1, column 19: not valid JSON: an integer with more than 4300 digits"


def test_a_week_the_clock_cannot_convert_is_an_error_on_week_start(raw: dict[str, object]) -> None:
    """QA case 56: 9999-12-27 is a Monday whose Sunday ends in year 10000 (OverflowError)."""
    raw["program"]["week_start"] = "9999-12-27"  # type: ignore[index]
    with pytest.raises(InvalidDocument) as caught:
        scenario_from_data(raw, "f.yaml")
    assert [issue.path for issue in caught.value.issues] == ["program.week_start"]
    assert "9999-12-27" in caught.value.issues[0].message


# --------------------------------------------------------------------------- keys written twice


def test_a_json_key_written_twice_is_an_error_at_the_second() -> None:
    """QA case 109: JSON kept the last value silently; the YAML reader refuses. The second
    ``"id"`` is on line 3 at column 3."""
    text = '{\n  "id": "P0001",\n  "id": "' + SECRET + '"\n}'
    error = _error(text, "json")
    assert error == "f: line 3, column 3: not valid JSON: the key 'id' is written twice in one object"


def test_a_json_key_written_twice_is_found_deep_inside_and_through_escapes() -> None:
    """``"\\u0061"`` is the key ``"a"``; the same key in two different objects is fine, and a
    key-like text inside a string is not a key. The duplicate is at line 2, column 30."""
    assert parse_text('[{"a": 1}, {"a": 2, "b": "\\"a\\": 1"}]', "json") == [{"a": 1}, {"a": 2, "b": '"a": 1'}]
    text = '{"participants": [{"a": 1},\n  {"a": {"x": "{\\"a\\": 2}"}, "\\u0061": 3}]}'
    assert _error(text, "json") == "f: line 2, column 30: not valid JSON: the key 'a' is written twice in one object"
    # A key that may be a name is not repeated.
    assert _error('{"Jordan Smith": 1, "Jordan Smith": 2}', "json") == "f: line 1, column 21: not valid JSON: a key is written twice in one object"


# --------------------------------------------------------------------------- messages without the file's text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        # QA cases 99 to 101: ruamel quoted the alias, the tag and the key.
        (f"a: 1\nb: *{SECRET}\n", "line 2, column 4: not valid YAML: found undefined alias"),
        (f"a: 1\nb: !{SECRET} x\n", "line 2, column 4: not valid YAML: could not determine a constructor for the tag"),
        (f'a: 1\n"{SECRET} Jordan Smith": 1\n"{SECRET} Jordan Smith": 2\n', "line 3, column 1: not valid YAML: found duplicate key"),
        # A quote inside the quoted text must not let the rest of it through.
        (f"a: !{SECRET}'s x\n", "line 1, column 4: not valid YAML: could not determine a constructor for the tag"),
        (f'? "{SECRET}\'s \\"x\\""\n: 1\n? "{SECRET}\'s \\"x\\""\n: 2\n', "line 3, column 3: not valid YAML: found duplicate key"),
        (f'a: "\\q{SECRET}"\n', "line 1, column 6: not valid YAML: found unknown escape character"),
        (f"a:\n\t{SECRET}\n", "line 2, column 1: not valid YAML: found character that cannot start any token"),
        # A key that is a field of the format is the format's text: it is named.
        ("program:\n  slot_minutes: 30\n  slot_minutes: 15\n", 'line 3, column 3: not valid YAML: found duplicate key "slot_minutes"'),
        # YAML's own syntax, quoted, stays.
        (f"days: [mon, {SECRET}\n", "line 2, column 1: not valid YAML: expected ',' or ']', but got '<stream end>'"),
        (f"a: @{SECRET}\n", "line 1, column 4: not valid YAML: found character '@' that cannot start any token"),
    ],
)
def test_yaml_errors_keep_the_place_and_leave_out_the_files_text(text: str, message: str) -> None:
    error = _error(text, "yaml")
    assert error == f"f: {message}"
    assert "Jordan" not in error and "SECRET" not in error


def test_a_nul_byte_is_an_error_at_its_place_without_the_character() -> None:
    """QA case 113 said only ``not valid YAML: ReaderError``. The NUL is the 8th character of
    line 2."""
    error = _error(f"a: 1\nb: {SECRET[:3]}\x00{SECRET[3:]}\n", "yaml")
    assert error == "f: line 2, column 7: not valid YAML: a control character YAML does not allow (U+0000)"
    assert "\x00" not in error


def test_a_reused_anchor_is_allowed_without_a_warning_that_quotes_it() -> None:
    """YAML 1.2 allows an anchor twice (an alias means the latest); ruamel's warning quoted the
    anchor and its lines on stderr."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = parse_text(f"a: &{SECRET} [1]\nb: &{SECRET} [2]\nc: *{SECRET}\n", "yaml")
    assert data == {"a": [1], "b": [2], "c": [2]}
    assert [str(warning.message) for warning in caught] == []


# --------------------------------------------------------------------------- any text at all

_YAML_PIECES = [
    "a: ", "b:", "- ", "\n", "  ", "[", "]", "{", "}", ",", ":", "'", '"', "\\", "\t", "\x00", "#",
    "&", "*", "!", "!!int ", "!!timestamp ", "!!bool ", "? ", "---\n", "%YAML 1.3\n", "<<: ",
    "2026-02-30", "7" * 4400, SECRET, f"*{SECRET}", f"!{SECRET}", f"&{SECRET} ", f'"{SECRET}"',
]
_JSON_PIECES = ["{", "}", "[", "]", ",", ":", '"a"', '"\\u0061"', "1", "7" * 4400, "NaN", '"', "\\", SECRET, f'"{SECRET}"']


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(_YAML_PIECES), max_size=30))
def test_any_yaml_text_is_data_or_an_invalid_document_that_does_not_quote_it(pieces: list[str]) -> None:
    try:
        parse_text("".join(pieces), "yaml", "f")
    except InvalidDocument as error:
        assert "Jordan" not in str(error)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(_JSON_PIECES), max_size=30))
def test_any_json_text_is_data_or_an_invalid_document_that_does_not_quote_it(pieces: list[str]) -> None:
    text = "".join(pieces)
    try:
        data = parse_text(text, "json", "f")
    except InvalidDocument as error:
        assert "Jordan" not in str(error)
    else:
        # What parses is read as the standard library reads it (compared as text: NaN != NaN).
        assert json.dumps(data) == json.dumps(json.loads(text))


@pytest.mark.parametrize(
    ("text", "data"),
    [
        ("name:\tHarbor IOP\n", {"name": "Harbor IOP"}),  # a tab after a key's colon
        ("days: [mon]\t# comment\n", {"days": ["mon"]}),  # before a comment
        ("hours: 08:00-20:00\t\n", {"hours": "08:00-20:00"}),  # at the end of a line
        ("-\tP1\n- P2 \t\n", ["P1", "P2"]),  # after a list's dash
        ("k:\t\"a\tb\"\n", {"k": "a\tb"}),  # a tab inside quotes is text
    ],
)
def test_tabs_yaml_1_2_reads_as_separation_are_read(text: str, data: object) -> None:
    # QA 2026-11-28: ruamel's scanner refused them ("found character that cannot start any token").
    assert parse_text(text, "yaml") == data


def test_a_tab_that_indents_is_still_an_error_at_its_place() -> None:
    assert _error("a:\n\t- x\n", "yaml") == "f: line 2, column 1: not valid YAML: found character that cannot start any token"
