"""docs/guarantees.md names the test of each guarantee: every test it names exists."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "guarantees.md"


def _named_tests(text: str) -> list[str]:
    """Every `tests/....py::name` the text names (a `::name` after one reads the same file);
    raises when one does not exist."""
    named = []
    for cell in re.findall(r"`(tests/[\w/]+\.py)((?:::\w+)?)`((?:, `::\w+`)*)", text):
        path, first, more = cell
        source = (ROOT / path).read_text()
        for name in [first, *re.findall(r"::\w+", more)]:
            if name:
                assert f"def {name[2:]}(" in source, f"{path}{name} is not a test"
                named.append(f"{path}{name}")
    return named


def test_every_test_the_guarantees_name_exists():
    assert len(_named_tests(DOC.read_text())) >= 10


def test_no_role_gets_around_the_rules_names_its_tests():
    doc = DOC.read_text()
    section = doc.split("## No role gets around the rules", 1)[1].split("\n## ", 1)[0]
    named = _named_tests(section)
    matrix = "tests/leadscoring/test_permission_matrix.py::"
    assert f"{matrix}test_each_role_gets_exactly_what_the_allow_list_says" in named
    assert f"{matrix}test_every_url_method_and_admin_model_is_classified" in named
    assert len(named) >= 8
