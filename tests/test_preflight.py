"""The planner's second look: what in a plan would fail at once, seen without running it."""

from __future__ import annotations

import io

import pytest

from nlsh.lang import parse
from nlsh.session import Shell

SLASH = "find -{0} compares only the last part of a path, so {1} (with a /) matches nothing: use -{2} '*/{3}'"
WHOLE = "find -{0} {1} matches nothing here, it takes the whole name (there is {2})"
PLUS = ("{0} without -E reads + ? and | as plain characters, so {1} matches them literally: for one or more, "
        "or either of two, use {0} -E")
LOST = "{0} reads no input: what is piped into it is lost (give it as arguments, e.g. {0} $(…))"


@pytest.mark.parametrize("line,problems", [
    ("rm folder1/text2 folder1/text3", ["folder1/text2: no such file or directory (there is folder1/text2.txt)",
                                        "folder1/text3: no such file or directory (there is folder1/text3.txt)"]),
    ("cat notes.md", ["notes.md: no such file or directory (there is notes-2024.md)"]),
    ("cat nothing-like-it", ["nothing-like-it: no such file or directory"]),
    ("cp folder1/*.csv out", ["no matches for wildcard 'folder1/*.csv'"]),
    ("find folder2 -name x", ["folder2: no such file or directory (there is folder1)"]),
    ("cd nowhere && cat also-missing", ["nowhere: no such file or directory"]),     # nothing after a cd
    ("ls ~/no-such-dir", ["~/no-such-dir: no such file or directory"]),
    ("cat folder1/text2.txt notes-2024.md | wc -l", []),
    ("mkdir -p out && cp notes-2024.md out/n.md && cat out/n.md", []),              # made by an earlier step
    ("sort notes-2024.md > sorted && cat sorted", []),
    ("touch new.txt && head new.txt", []),
    ("cat missing || echo none", []),                # the line means to handle its absence
    ("rm -f missing", []),
    ("git status; cat missing", []),                 # a program may make anything
    ("echo $(cat missing)", []),                     # what $(…) does is known only when it runs
    ("cat notes-2024.md | mkdir -p -m 755", [LOST.format("mkdir")]),   # mkdir's program: the built-in has no -m
    ("echo $(ls | touch x)", [LOST.format("touch")]),
    ("ls | xargs touch", []),                        # a program: what it reads is its own business
    ("ls | env LC_ALL=C sort", []),                  # env runs a program that reads it
    ("cat notes-2024.md | sort | uniq -c", []),
    ("find . -type f -name 'folder1/*' | wc -l",     # -name sees no /: GNU find warns, finds nothing
     [SLASH.format("name", "folder1/*", "path", "folder1/*")]),
    ("find . -iname 'Folder1/text2*'", [SLASH.format("iname", "Folder1/text2*", "ipath", "Folder1/text2*")]),
    ("find folder1/ -name 'text2*'", []),
    ("find . -name text2 -o -name text3 -delete",     # names as people say them, without the extension
     [WHOLE.format("name", "text2", "folder1/text2.txt"), WHOLE.format("name", "text3", "folder1/text3.txt")]),
    ("find folder1 -iname TEXT2 -type f", [WHOLE.format("iname", "TEXT2", "folder1/text2.txt")]),
    ("find . -name folder1", []),
    ("grep -o '[0-9]+' notes-2024.md", [PLUS.format("grep", "[0-9]+")]),       # GNU's basic regex: a plain +
    ("grep 'WARN|ERROR' notes-2024.md | wc -l", [PLUS.format("grep", "WARN|ERROR")]),
    ("find . -exec grep -c '(ab)?' {} +", [PLUS.format("grep", "(ab)?")]),
    ("sed 's/[a-z]+/X/' notes-2024.md", [PLUS.format("sed", "s/[a-z]+/X/")]),
    ("grep -E '[0-9]+|x' notes-2024.md; sed -r 's/[a-z]+/X/' notes-2024.md", []),
    ("grep -F 'a|b' notes-2024.md; grep 'a\\|b' notes-2024.md; grep 'c++' notes-2024.md", []),
    ("find . -name nothing-like-it", []),
])
def test_what_would_fail_at_once(work, line, problems):
    (work / "folder1").mkdir()
    for name in ("folder1/text2.txt", "folder1/text3.txt", "notes-2024.md"):
        (work / name).write_text("x\n")
    shell = Shell(out=io.StringIO(), err=io.StringIO())
    shell.cwd = str(work)
    assert shell.problems(parse(line, shell.registry)) == problems
    shell.shutdown()


class StubPlanner:
    """Stands in for the planner (tested with the model in test_planner.py) to
    test the shell around it: it answers ``plan_text`` with ``problems``."""

    def __init__(self, plan_text: str, problems: list[str]) -> None:
        self.plan_text, self.problems, self.remembered = plan_text, problems, []

    def plan(self, utterance, cwd, **kw):
        from nlsh.planner.planner import PlanResult
        plan = parse(self.plan_text, Shell(out=io.StringIO(), err=io.StringIO()).registry)
        return PlanResult(utterance, plan, self.plan_text, self.plan_text, "stub", problems=self.problems)

    def remember(self, utterance: str, plan_text: str) -> None:
        self.remembered.append((utterance, plan_text))


def planned(work, plan_text: str, problems: list[str] = ()) -> tuple[Shell, StubPlanner, int]:
    shell = Shell(out=io.StringIO(), err=io.StringIO())
    shell.cwd = str(work)
    shell.planner = StubPlanner(plan_text, list(problems))
    status = shell.run_utterance("show the file notes.md", "show the file notes.md")
    shell.shutdown()
    return shell, shell.planner, status


def test_the_shell_says_when_the_second_look_found_nothing_better(work):
    shell, _, status = planned(work, "cat notes.md", ["notes.md: no such file or directory"])
    assert status == 1
    assert "first try: notes.md: no such file or directory; no better plan came" in shell.err.getvalue()


def test_a_plan_that_ran_well_is_remembered_and_a_failed_one_is_not(work):
    (work / "notes-2024.md").write_text("x\n")
    _, planner, status = planned(work, "cat notes.md")
    assert (status, planner.remembered) == (1, [])
    _, planner, status = planned(work, "cat notes-2024.md")
    assert (status, planner.remembered) == (0, [("show the file notes.md", "cat notes-2024.md")])
    store = Shell(out=io.StringIO(), err=io.StringIO()).store          # for the next session's planner
    assert [tuple(r) for r in store.query("SELECT utterance, plan FROM accepted")] == [
        ("show the file notes.md", "cat notes-2024.md")]
