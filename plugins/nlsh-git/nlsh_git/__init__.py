"""nlsh-git: git status, log and branches as records."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from collections.abc import Iterator

from nlsh.hookspecs import hookimpl
from nlsh.kernel.context import CommandError
from nlsh.lang.signature import Param
from nlsh.records import Record
from nlsh.registry import Example, command

_STATES = {"M": "modified", "A": "added", "D": "deleted", "R": "renamed", "C": "copied", "U": "conflict",
           "T": "type changed", "?": "untracked", "!": "ignored"}


def _git(ctx, *args: str) -> str:
    git = shutil.which("git", path=ctx.env.get("PATH"))
    if git is None:
        raise CommandError("git is not installed", status=127)
    p = subprocess.run([git, *args], cwd=ctx.cwd, env=ctx.env, capture_output=True, text=True, check=False)
    if p.returncode != 0:
        raise CommandError(p.stderr.strip().splitlines()[-1] if p.stderr.strip() else f"git {args[0]} failed",
                           status=p.returncode)
    return p.stdout


@command("git-status", "What changed in this git repository: path, state, staged.",
         output="records", category="git",
         examples=[Example("what changed in this git repo", "git-status"),
                   Example("which files did I modify but not commit", "git-status | where state == modified")])
def git_status(ctx, a) -> Iterator[Record]:
    for line in _git(ctx, "status", "--porcelain=v1").splitlines():
        x, y, path = line[0], line[1], line[3:]
        code = x if x not in (" ", "?") else y
        if x == "?":
            code = "?"
        yield Record(path=path.split(" -> ")[-1], state=_STATES.get(code, code), staged=x not in (" ", "?", "!"),
                     primary="path")


@command("git-log", "Recent commits: commit, author, date, subject.",
         params=[Param("n", "int", ("-n", "--max-count"), "how many (default 10)", metavar="N", default=10)],
         output="records", category="git", number_flag="n",
         examples=[Example("show the last 5 commits", "git-log -n 5"),
                   Example("who made the latest commit", "git-log -n 1 | get author")])
def git_log(ctx, a) -> Iterator[Record]:
    out = _git(ctx, "log", f"-n{a.n}", "--format=%h%x1f%an%x1f%at%x1f%s")
    for line in out.splitlines():
        commit, author, ts, subject = line.split("\x1f", 3)
        yield Record(commit=commit, author=author, date=dt.datetime.fromtimestamp(int(ts)), subject=subject)


@command("git-branches", "Branches: name, whether current, last commit and its subject.",
         output="records", category="git",
         examples=[Example("list the git branches", "git-branches"),
                   Example("which branch am I on", "git-branches | where current == true | get name")])
def git_branches(ctx, a) -> Iterator[Record]:
    out = _git(ctx, "branch", "--format=%(HEAD)%1f%(refname:short)%1f%(objectname:short)%1f%(subject)")
    for line in out.splitlines():
        head, name, commit, subject = line.split("\x1f", 3)
        yield Record(name=name, current=head == "*", commit=commit, subject=subject, primary="name")


@hookimpl
def register_commands(register) -> None:
    for cmd in (git_status, git_log, git_branches):
        register(cmd)
