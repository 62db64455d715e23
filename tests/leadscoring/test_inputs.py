"""The checks every way in applies: the fast paths agree with a plain walk of the value."""

import json

from hypothesis import given
from hypothesis import strategies as st

from leadscoring.inputs import MAX_DEPTH, json_problem, nesting_depth_exceeds, text_problem

# Text with the characters that matter here: brackets and quotes (which the depth scan must see
# through inside strings), backslashes, NUL and lone surrogates.
TEXT = st.text(alphabet=st.sampled_from('ab[]{}"\\\x00\ud800\udfffé'), max_size=6)
VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=40,
)


def _depth(value: object) -> int:
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    return 0


def _has_bad_text(value: object) -> bool:
    if isinstance(value, str):
        return text_problem(value) is not None
    if isinstance(value, dict):
        return any(_has_bad_text(k) or _has_bad_text(v) for k, v in value.items())
    if isinstance(value, list):
        return any(map(_has_bad_text, value))
    return False


@given(VALUES, st.integers(min_value=1, max_value=6))
def test_the_depth_scan_of_the_json_text_is_the_depth_of_the_value(value, limit):
    text = json.dumps(value, ensure_ascii=False)
    assert nesting_depth_exceeds(text, limit) == (_depth(value) > limit)


@given(VALUES, st.integers(min_value=1, max_value=6))
def test_a_value_is_refused_exactly_when_it_holds_bad_text_or_nests_too_deep(value, limit):
    problem = json_problem(value, path="properties", max_depth=limit)
    assert (problem is not None) == (_has_bad_text(value) or _depth(value) > limit)
    if problem is not None:
        assert problem.startswith("properties")


def test_a_document_nested_100000_deep_is_found_without_parsing_it():
    assert nesting_depth_exceeds("[" * 100_000 + "]" * 100_000)
    assert not nesting_depth_exceeds(json.dumps({"url": "[" * 1000}))  # brackets inside a string


def test_the_default_bound_is_the_values_bound():
    assert json_problem(json.loads("[" * MAX_DEPTH + "]" * MAX_DEPTH)) is None
    assert json_problem(json.loads("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1))) is not None
