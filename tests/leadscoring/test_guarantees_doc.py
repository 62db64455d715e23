"""docs/guarantees.md names the test of each guarantee: every test it names exists."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_test_the_guarantees_name_exists():
    doc = (ROOT / "docs" / "guarantees.md").read_text()
    named = 0
    for cell in re.findall(r"`(tests/[\w/]+\.py)((?:::\w+)?)`((?:, `::\w+`)*)", doc):
        path, first, more = cell
        source = (ROOT / path).read_text()
        for name in [first, *re.findall(r"::\w+", more)]:
            if name:
                assert f"def {name[2:]}(" in source, f"{path}{name} is not a test"
                named += 1
    assert named >= 10
