"""The explicit shell state: one copy for ( … ), $( … ), & and NAME=VALUE programs."""

from __future__ import annotations

import dataclasses
import io

from nlsh.kernel.state import State
from nlsh.kernel.variables import Variables
from nlsh.session import Shell, run_script_lines


def test_a_copy_of_the_state_shares_nothing_that_can_change():
    state = State("/w", Variables({"A": "1"}), {"ll": "ls -l"}, ["/d"], {}, ["p"], {"errexit"},
                  {"EXIT": "echo bye"}, 3, (2, 1))
    copy = state.copy()
    for f in dataclasses.fields(State):
        mine, theirs = getattr(state, f.name), getattr(copy, f.name)
        assert mine == theirs, f.name
        if isinstance(mine, (dict, list, set)):
            assert mine is not theirs, f"{f.name} is shared with the copy"
    copy.set_cwd("/elsewhere")
    copy.env["A"] = "2"
    assert (state.cwd, state.env["A"], copy.env["OLDPWD"]) == ("/w", "1", "/w")


def test_a_subshell_a_substitution_and_a_background_job_change_only_their_copy(work):
    shell = Shell(out=io.StringIO(), err=io.StringIO())
    shell.cwd = str(work)
    (work / "d").mkdir()
    lines = ["(cd d; X=1; alias q=ls; f() { :; }; set -u; shift; trap 'echo t' EXIT)",
             "Y=$(cd d; Z=2; echo ok)", "{ cd d; W=3; } &", "wait"]
    assert run_script_lines(shell, lines) == 0
    assert shell.cwd == str(work)
    assert shell.env.get("Y") == "ok" and not {"X", "Z", "W"} & set(shell.env)
    assert (shell.aliases, shell.functions, shell.options, shell.traps) == ({}, {}, {"failglob"}, {})   # failglob: on from the start
    shell.shutdown()


def test_a_copy_shares_the_sessions_services(work):
    shell = Shell(out=io.StringIO(), err=io.StringIO())
    copy = shell.copy().copy()
    assert copy.is_copy and not shell.is_copy
    assert (copy.registry, copy.jobs, copy.store, copy.trash, copy.face) == \
        (shell.registry, shell.jobs, shell.store, shell.trash, shell.face)
    assert copy.session is shell
    shell.shutdown()


def test_a_captured_plan_sees_all_of_its_job_without_a_proxy(work):
    """``$(…)`` and a block's body run in a Captured view of their job: what it
    does not keep for itself it reads from the job, by an explicit list that
    covers every public attribute of a Job."""
    from nlsh.kernel.capture import SHARED_WITH_JOB, Captured
    from nlsh.kernel.job import Job
    shell = Shell(out=io.StringIO(), err=io.StringIO())
    job = Job(shell, shell.parse("true").chains[0], "true", foreground=True)
    captured = Captured(job)
    assert "__getattr__" not in vars(Captured)
    public = {n for n in dir(job) if not n.startswith("_")}
    own = {n for n in vars(captured) if not n.startswith("_")} | {"exit_request", "loop_control", "spared", "put", "emit", "err"}
    assert public - own - set(SHARED_WITH_JOB) == set()
    assert captured.cancel is job.cancel and captured.shell is shell
    assert Captured(job, scope=True).shell.is_copy
    shell.shutdown()
