"""The planner mends a model's ``find … -o … ACTION`` whose alternatives are not
grouped (GNU find would act on the last alternative's matches only)."""

from __future__ import annotations

import pytest

from nlsh.lang import parse, text
from nlsh.planner.mend import mended
from nlsh.wiring import default_registry

REG = default_registry()


def mend(line: str) -> str:
    return text(mended(parse(line, REG), REG), REG.signature)


@pytest.mark.parametrize("line,want", [
    ("find src -name '*.py' -o -name '*.js' -exec wc -l {} +",
     "find src '(' -name '*.py' -o -name '*.js' ')' -exec wc -l {} +"),
    ("find . -type f -name '*.tmp' -o -iname '*.bak' -delete",
     "find . -type f '(' -name '*.tmp' -o -iname '*.bak' ')' -delete"),
    ("find . -maxdepth 1 -name a -o ! -name b -o -name c -type f -print0 | wc -c",
     "find . -maxdepth 1 '(' -name a -o ! -name b -o -name c ')' -type f -print0 | wc -c"),
    ("ls; find x -type f -o -type l -exec cat {} + && echo ok",
     "ls; find x '(' -type f -o -type l ')' -exec cat {} + && echo ok"),
])
def test_ungrouped_alternatives_before_an_action_are_grouped(line, want):
    assert mend(line) == want
    assert parse(want, REG) == mended(parse(line, REG), REG)


@pytest.mark.parametrize("line", [
    "find . -name a -o -name b",                              # no action: GNU prints what either matches
    "find . '(' -name a -o -name b ')' -delete",              # grouped already
    "find . -name a -print -o -name b -print",                # an action in each alternative
    "find . -name a -type f -o -name b -delete",              # which tests go together is not clear
    "find . -name a -o -type d -delete",                      # alternatives of different kinds
    "grep -o x file",
])
def test_what_is_not_that_mistake_is_left_as_written(line):
    assert mended(parse(line, REG), REG) == parse(line, REG)


def test_the_planner_mends_what_the_model_wrote(planner_without_model):
    plan, error = planner_without_model._validate("find logs -name '*.gz' -o -name '*.old' -delete", "stop")
    assert error == "" and text(plan, REG.signature) == "find logs '(' -name '*.gz' -o -name '*.old' ')' -delete"


@pytest.fixture
def planner_without_model():
    from nlsh.planner.models import ModelSpec
    from nlsh.planner.planner import Planner
    return Planner(REG, backend=None, spec=ModelSpec("none", {}))
