"""The planner's grammar follows the registry."""

from __future__ import annotations

from nlsh.planner.grammar import grammar
from nlsh.registry import default_registry

REG = default_registry()


def test_stand_ins_take_their_programs_flags_and_nothing_else_does():
    rules = {line.split(" ::= ")[0]: line for line in grammar(REG).splitlines()}
    assert "progflag" in rules["cmd-sed-arg"] and "progflag" in rules["cmd-ls-arg"]
    assert "progflag" not in rules["cmd-rm-arg"] and "progflag" not in rules["cmd-find-arg"]
