"""The planner's grammar follows the registry."""

from __future__ import annotations

from nlsh.planner.grammar import grammar
from nlsh.wiring import default_registry

REG = default_registry()


def test_stand_ins_take_their_programs_flags_and_nothing_else_does():
    rules = {line.split(" ::= ")[0]: line for line in grammar(REG).splitlines()}
    assert "progflag" in rules["cmd-sed-arg"] and "progflag" in rules["cmd-ls-arg"]
    assert "progflag" not in rules["cmd-rm-arg"] and "progflag" not in rules["cmd-find-arg"]


def test_loops_substitutions_and_arithmetic_can_be_written():
    rules = {line.split(" ::= ")[0]: line.split(" ::= ")[1] for line in grammar(REG).splitlines()}
    assert "loop" in rules["stmt"] and '"for "' in rules["loop"] and "cmd-for" not in rules["call"]
    assert {"subst", "arith"} <= set(rules["word"].split(" | "))
    assert "subst" in rules["dquoted"] and "dvar" in rules["dquoted"]
