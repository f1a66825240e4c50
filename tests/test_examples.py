"""Every built-in's declared examples, and the planner's idioms: each
parses, and those with an expected output produce exactly that output in a
fresh directory."""

from __future__ import annotations

import pytest

from nlsh.lang import parse
from nlsh.planner.idioms import IDIOMS
from nlsh.wiring import default_registry

REG = default_registry()
EXAMPLES = [(c.name, i, ex) for c in REG for i, ex in enumerate(c.examples)]


def test_every_builtin_has_examples():
    missing = [c.name for c in REG if not c.examples and c.name not in ("true", "false")]
    assert missing == []


@pytest.mark.parametrize("name,i,example", EXAMPLES, ids=[f"{n}-{i}" for n, i, _ in EXAMPLES])
def test_example(name, i, example, sh):
    plan = parse(example.command, REG)
    used = [c.name for c in plan.calls] + [m.name for ch in plan.chains for m in ch.modifiers]
    assert name in used, f"example of {name} does not use {name}"
    check_output(example, sh)


@pytest.mark.parametrize("idiom", IDIOMS, ids=[f"{ex.command.split()[0]}-{i}" for i, ex in enumerate(IDIOMS)])
def test_idiom(idiom, sh):
    parse(idiom.command, REG)
    check_output(idiom, sh)


def check_output(example, sh):
    if example.output is None:
        return
    line = example.command + (f"; {example.check}" if example.check else "")
    r = sh(line, example.files)
    assert r.err == ""
    assert r.status == 0
    assert r.out.rstrip("\n") == example.output
