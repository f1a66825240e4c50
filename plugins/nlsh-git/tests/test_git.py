"""nlsh-git, installed with pip into a fresh venv, used through nlsh -c."""

from __future__ import annotations

import subprocess


def git(cwd, *args):
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                   env={"GIT_AUTHOR_NAME": "Ann", "GIT_AUTHOR_EMAIL": "ann@example.invalid",
                        "GIT_COMMITTER_NAME": "Ann", "GIT_COMMITTER_EMAIL": "ann@example.invalid",
                        "PATH": "/usr/bin:/bin", "HOME": str(cwd)})


def repo(work):
    git(work, "init", "-q", "-b", "main")
    (work / "a.txt").write_text("one\n")
    git(work, "add", "a.txt")
    git(work, "commit", "-q", "-m", "first commit")
    (work / "a.txt").write_text("two\n")
    (work / "new.txt").write_text("x\n")


def test_git_status_records(nlsh_in_venv):
    repo(nlsh_in_venv.work)
    r = nlsh_in_venv("-c", "git-status | select path state")
    assert r.status == 0, r.err
    assert sorted(r.out.splitlines()) == ["a.txt\tmodified", "new.txt\tuntracked"]


def test_git_log_and_branches(nlsh_in_venv):
    repo(nlsh_in_venv.work)
    r = nlsh_in_venv("-c", "git-log -n 1 | get subject; git-branches | where current == true | get name")
    assert r.out.splitlines() == ["first commit", "main"]


def test_not_a_repository_is_a_clear_error(nlsh_in_venv):
    r = nlsh_in_venv("-c", "git-status")
    assert r.status != 0 and r.err.startswith("nlsh: git-status: fatal: not a git repository")
    assert "Traceback" not in r.err


def test_plugin_listed(nlsh_in_venv):
    r = nlsh_in_venv("plugins", "list")
    assert "git\t0.1.0\tok\tgit-status, git-log, git-branches" in r.out
