"""The gate is the one door: every way a line comes to run is judged by
``nlsh.gate.review``. Each case below runs a line that would create a file
through one door, with a gate that refuses that door's origin (and lets every
other through), and checks that the gate saw the origin and nothing ran."""

from __future__ import annotations

import io
import os

import pytest

import nlsh.gate
from nlsh.lang import parse
from nlsh.planner.planner import PlanResult
from nlsh.policy import Decision, Risk
from nlsh.session import Shell, run_script_lines
from nlsh.wiring import default_registry

# (what it is, lines typed, origin the gate must refuse, script file written first)
DOORS = [
    ("a typed line", ["touch made"], "typed", None),
    ("a background job", ["touch made &", "wait"], "typed", None),
    ("a function's body", ["f() { touch made; }", "f"], "typed", None),
    ("the ! escape", ["!touch made"], "verbatim", None),
    ("a planned line", ["? make a file"], "planned", None),
    ("eval", ["eval 'touch made'"], "eval", None),
    ("exec", ["exec touch made"], "eval", None),
    ("an EXIT trap", ["trap 'touch made' EXIT"], "trap", None),
    ("an NL script's step", ["source job.nls"], "script", ("job.nls", "touch made\n")),
    ("a shell's -c line", ["sh -c 'touch made'"], "program", None),
    ("a program by path", ["/usr/bin/touch made"], "program", None),
    ("xargs", ["echo made | xargs touch"], "program", None),
    ("find -exec", ["find . -maxdepth 0 -exec touch made ';'"], "program", None),
    ("a built-in in a loop", ["for f in made; do touch $f; done"], "program", None),
]


def _refusing(origin: str, seen: list[str]):
    def judge(plan, shell, where, planned):
        seen.append(where.name)
        if where.name == origin:
            return Decision("deny", "the test's gate refuses this door", "test", Risk([]))
        return Decision("allow", "", "test", Risk([]))
    return judge


class _Planner:
    """Stands in for the planner (this test is of the gate, not of planning)."""

    def plan(self, utterance, cwd, **_):
        return PlanResult(utterance, parse("touch made", default_registry()), "touch made", "touch made", "stub")

    def remember(self, *_):
        pass


@pytest.mark.parametrize(("door", "lines", "origin", "script"), DOORS, ids=[d[0] for d in DOORS])
def test_every_door_goes_through_the_gate(door, lines, origin, script, work, monkeypatch):
    seen: list[str] = []
    monkeypatch.setattr(nlsh.gate, "judge", _refusing(origin, seen))
    if script:
        (work / script[0]).write_text(script[1])
    err = io.StringIO()
    shell = Shell(out=io.StringIO(), err=err, assume_yes=True)
    shell.cwd = str(work)
    shell.get_planner = _Planner
    status = run_script_lines(shell, lines, stop_on_exit=False)
    status = shell.finish(status)
    assert origin in seen, f"{door}: the gate never saw {origin!r} (it saw {seen})"
    assert not os.path.exists(work / "made"), f"{door}: ran though the gate refused it"
    assert "refuses this door" in err.getvalue()


def test_the_gate_lets_the_same_lines_through(work):
    """The check above is not vacuous: with the real policy and --yes, each door runs its line."""
    for door, lines, _origin, script in DOORS:
        if door == "a planned line":
            continue
        if script:
            (work / script[0]).write_text(script[1])
        shell = Shell(out=io.StringIO(), err=io.StringIO(), assume_yes=True)
        shell.cwd = str(work)
        shell.finish(run_script_lines(shell, lines, stop_on_exit=False))
        assert os.path.exists(work / "made"), door
        os.remove(work / "made")


def test_a_refusal_at_any_door_is_in_the_audit_log(work):
    import sqlite3
    shell = Shell(out=io.StringIO(), err=io.StringIO())
    shell.cwd = str(work)
    run_script_lines(shell, ["eval 'rm -rf ~'", "/bin/rm -rf ~", "eval 'echo hi'"])
    shell.shutdown()
    rows = sqlite3.connect(shell.store.path).execute("SELECT typed, decision, status FROM audit").fetchall()
    assert rows == [("rm -rf ~", "denied", None), ("eval 'rm -rf ~'", "allowed", 126),
                    ("/bin/rm -rf ~", "denied", None), ("eval 'echo hi'", "allowed", 0)]


def test_eval_asks_as_a_typed_line_does_and_yes_answers_it(work, monkeypatch):
    """eval cannot ask a person (it runs inside a job); --yes answers an ordinary
    ask for it as for a typed line, and a rule's ask without --yes refuses it."""
    from nlsh.policy import Rules
    for yes, made in ((True, True), (False, False)):
        err = io.StringIO()
        shell = Shell(out=io.StringIO(), err=err, assume_yes=yes)
        shell.cwd = str(work)
        shell.rules = Rules(ask=["touch *"])
        status = run_script_lines(shell, ["eval 'touch made'"])
        shell.shutdown()
        assert os.path.exists(work / "made") == made
        if made:
            os.remove(work / "made")
        else:
            assert status == 126
            assert err.getvalue() == ("nlsh: eval: touch made: not run: needs confirmation, which eval and exec "
                                      "cannot ask (use --yes or a policy rule): touch made (rule 'touch *')\n")
