"""Large YAML documents go through ruamel's C reader first; what it gives must be what the
pure reader gives, and anything it would treat differently must go to the pure reader."""

from __future__ import annotations

import pytest

from models import io as model_io
from models.errors import InvalidDocument
from optimizer.generate import generate_scenario

pytestmark = pytest.mark.skipif(
    model_io._fast_yaml("a: 1") is model_io._NO_RESULT, reason="ruamel.yaml.clib is not installed"
)


@pytest.fixture(scope="module")
def large_text() -> str:
    text = model_io.scenario_text(generate_scenario("M", 3))
    while len(text) < model_io._FAST_YAML_FROM:  # pad with comments: the data stays the same
        text += "# " + "x" * 200 + "\n"
    return text


def test_a_large_document_reads_the_same_by_both_readers(large_text: str) -> None:
    fast = model_io._fast_yaml(large_text)
    assert fast is not model_io._NO_RESULT
    assert fast == model_io._yaml_loader().load(large_text)
    assert model_io.parse_text(large_text, "yaml", "big.yaml") == fast


@pytest.mark.parametrize(
    ("tail", "problem"),
    [
        ("program: {name: again}\n", "duplicate key"),
        ("extra: " + "[" * 150 + "]" * 150 + "\n", "nested more than"),
        ("extra: [unclosed\n", "not valid YAML"),
    ],
)
def test_what_the_c_reader_may_treat_differently_gets_the_pure_readers_error(large_text: str, tail: str, problem: str) -> None:
    text = large_text + tail
    assert model_io._fast_yaml(text) is model_io._NO_RESULT
    with pytest.raises(InvalidDocument) as caught:
        model_io.parse_text(text, "yaml", "big.yaml")
    assert problem in str(caught.value)


def test_yaml_1_2_values_stay_strings_on_the_fast_path(large_text: str) -> None:
    text = large_text + "x-plain:\n  - 10:30\n  - no\n  - on\n  - 1:20:30\n"
    fast = model_io._fast_yaml(text)
    assert fast is not model_io._NO_RESULT and isinstance(fast, dict)
    assert fast["x-plain"] == ["10:30", "no", "on", "1:20:30"]
    # In a flow list the C reader (YAML 1.1 syntax) refuses 10:30; the pure reader takes it.
    flow = large_text + "x-flow: [10:30, no]\n"
    assert model_io._fast_yaml(flow) is model_io._NO_RESULT
    parsed = model_io.parse_text(flow, "yaml", "big.yaml")
    assert isinstance(parsed, dict) and parsed["x-flow"] == ["10:30", "no"]


def test_a_document_with_a_directive_is_read_by_the_pure_reader(large_text: str) -> None:
    assert model_io._fast_yaml("%YAML 1.2\n---\n" + large_text) is model_io._NO_RESULT
    assert model_io.parse_text("%YAML 1.2\n---\n" + large_text, "yaml", "big.yaml") == model_io._yaml_loader().load(large_text)
