"""The planner's pool of everyday examples: each one parses as nlsh, and run
in a copy of the pool's tree it prints what bash prints, with the same
status, and leaves the same files."""

from __future__ import annotations

import os
import subprocess

import pytest

from nlsh.lang import parse
from nlsh.planner.everyday import EVERYDAY, TREE
from nlsh.wiring import default_registry

REG = default_registry()
ENV = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "TZ": "UTC"}


ARCHIVES = (".gz", ".zip", ".tar")


def unordered(command: str) -> bool:
    """Whether GNU prints in the file system's order (a walk not sorted afterwards),
    which a comparison may not count on (issue: as GNU leaves it to the file system)."""
    return ("find " in command or "grep -r" in command) and "sort" not in command


def tree_state(root: str) -> dict[str, str | None]:
    """Every path under ``root``: a file's text (an archive's: its size class, as
    gzip and zip stamp times), None for a directory, '-> T' for a link."""
    state: dict[str, str | None] = {}
    for d, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(d, name)
            rel = os.path.relpath(path, root)
            if os.path.islink(path):
                state[rel] = "-> " + os.readlink(path)
            elif os.path.isdir(path):
                state[rel] = None
            elif name.endswith(ARCHIVES):
                state[rel] = "archive"
            else:
                with open(path, "rb") as f:
                    state[rel] = f.read().decode("latin-1")
    return state


def test_the_pool_has_no_repeats():
    utterances = [e.utterance for e in EVERYDAY]
    commands = [e.command for e in EVERYDAY]
    assert len(set(utterances)) == len(utterances)
    assert len(set(commands)) == len(commands)


@pytest.mark.parametrize("example", EVERYDAY, ids=[e.command[:40] for e in EVERYDAY])
def test_an_everyday_example_does_what_bash_does(example, tmp_path, nlsh):
    parse(example.command, REG)
    results = []
    for shell in ("bash", "nlsh"):
        root = tmp_path / shell / "project"
        root.mkdir(parents=True)
        for rel, text in TREE.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_text(text)
        argv = ["bash", "-c", example.command] if shell == "bash" else None
        if argv:
            p = subprocess.run(argv, cwd=root, capture_output=True, text=True, timeout=30, env=ENV,
                               check=False, stdin=subprocess.DEVNULL)
            status, out = p.returncode, p.stdout
        else:
            r = nlsh("--yes", "-c", example.command, cwd=str(root), input="")
            assert r.err == "" or r.status != 0, r.err
            status, out = r.status, r.out
        out = out.replace(str(root), "ROOT")
        if unordered(example.command):
            out = sorted(out.splitlines())
        results.append((status, out, tree_state(str(root))))
    assert results[1] == results[0]
