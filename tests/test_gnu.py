"""Differential tests: a line run by nlsh prints, into a pipe, exactly what bash
with GNU coreutils prints in the same folder (C locale). Where GNU's order is
the file system's (du, grep -r), lines are compared as sorted sets."""

from __future__ import annotations

import io
import os
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nlsh.session import Shell, run_script_lines

OLD = 1_600_000_000         # 2020: ls -l shows the year
C = {**os.environ, "LC_ALL": "C", "TZ": os.environ.get("TZ", "UTC")}


def make_tree(root, hard_link: bool = False) -> None:
    """Names with spaces and unicode, empty files, nested and empty folders,
    a symlink to a file and one to a folder, old and new times (and a hard
    link, where which of the two names GNU lists is not up to the file
    system's order)."""
    files = {"a.txt": "alpha\nbeta\nalpha\n", "b c.md": "hello world\n", "é.txt": "x\n", "empty": "",
             "docs/api/ref.md": "alpha ref\n" * 40, "docs/guide.md": "beta\n", "docs/.hidden": "h\n",
             "big.log": "line\n" * 5000}
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (root / "void").mkdir()
    os.symlink("a.txt", root / "to-a")
    os.symlink("docs", root / "to-docs")
    if hard_link:
        os.link(root / "a.txt", root / "hard")
    for i, rel in enumerate(["a.txt", "b c.md", "é.txt", "empty", "big.log", "docs/guide.md"]):
        os.utime(root / rel, (OLD + i * 86400, OLD + i * 86400))


def bash(line: str, cwd) -> tuple[str, int]:
    p = subprocess.run(["bash", "-c", line], capture_output=True, text=True, cwd=cwd, env=C, check=False)
    return p.stdout, p.returncode


def nlsh(line: str, cwd, monkeypatch) -> tuple[str, int]:
    monkeypatch.setenv("LC_ALL", "C")
    out = io.StringIO()
    shell = Shell(out=out, err=io.StringIO())
    shell.cwd = str(cwd)
    status = run_script_lines(shell, [line])
    shell.shutdown()
    return out.getvalue(), status


EXACT = ["ls", "ls -a", "ls -A", "ls -1", "ls -r", "ls -S", "ls -t", "ls -d docs void", "ls docs", "ls docs void",
         "ls a.txt docs", "ls -R", "ls -R docs", "ls -aR docs", "ls -l", "ls -la", "ls -lA docs", "ls -lh",
         "ls -lR", "ls -lS", "ls -ltr", "ls -l to-a to-docs", "ls -ld docs", "ls -l void", "ls -lh big.log",
         "wc -l a.txt big.log", "wc a.txt", "wc -c empty a.txt", "head -n 2 a.txt", "tail -n 1 a.txt",
         "sort a.txt | uniq -c", "cut -d' ' -f2 'b c.md'", "tr a-z A-Z < a.txt", "tr -d a a.txt", "sed 's/a/b/g' a.txt",
         "cat -n a.txt", "nl a.txt", "grep -c alpha a.txt", "grep -n beta a.txt docs/guide.md",
         "grep -r alpha docs/api", "du -s docs", "du -sh docs big.log", "du -s hard a.txt", "du -s a.txt hard",
         "du -s . a.txt", "ls -l hard", "stat -c %s a.txt",
         # a stand-in's headings are lines to the text tools after it
         "ls -l | head -2", "ls -R | grep :", "ls -l | sort -k5 -n", "ls -R | wc -l", "ls -la docs | tail -n 2",
         "ls -lR docs | cat -n", "ls docs void | sort", "du -sh docs big.log | sort -h",
         "wc -l big.log", "wc big.log a.txt 'b c.md'", "wc -w big.log", "wc -m é.txt", "wc void a.txt",
         "wc missing a.txt", "wc -c empty", "tail -n 3 big.log", "tail -n 2 a.txt 'b c.md'", "tail empty",
         "tail -n 1 docs/api/ref.md", "tail missing a.txt", "printf '1M\\n4.0K\\n2G\\n512\\n10K\\n' | sort -h",
         "printf '3.5K\\n900\\n1.0M\\n' | sort -rh"]
AS_SETS = ["du", "du -a", "du -ah", "du -d 1", "grep -rl alpha", "grep -rl alpha .", "grep -rc alpha docs",
           "grep -Rl alpha ."]


@pytest.mark.parametrize("line", EXACT)
def test_prints_what_gnu_prints(line, work, monkeypatch):
    make_tree(work, hard_link="hard" in line)
    assert nlsh(line, work, monkeypatch) == bash(line, work)


@pytest.mark.parametrize("line", AS_SETS)
def test_prints_what_gnu_prints_in_the_file_systems_order(line, work, monkeypatch):
    make_tree(work)
    (mine, status), (theirs, expected) = nlsh(line, work, monkeypatch), bash(line, work)
    assert (sorted(mine.splitlines()), status) == (sorted(theirs.splitlines()), expected)


NAMES = st.text(st.sampled_from("ab é-_.x "), min_size=1, max_size=6).filter(lambda n: n not in (".", ".."))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tree=st.dictionaries(st.lists(NAMES, min_size=1, max_size=3).map("/".join),
                            st.text(st.sampled_from("ab\n "), max_size=30), min_size=1, max_size=8),
       flags=st.sampled_from(["", "-a", "-l", "-la", "-R", "-lR", "-lh", "-S", "-r", "-1"]))
def test_ls_prints_what_gnu_prints_on_any_tree(tree, flags, tmp_path_factory, monkeypatch):
    root = tmp_path_factory.mktemp("tree")
    for rel, text in tree.items():
        path = root / rel
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        except (FileExistsError, NotADirectoryError, IsADirectoryError):
            continue            # a name that is both a file and a folder in the drawn tree
    line = f"ls {flags}".strip()
    assert nlsh(line, root, monkeypatch) == bash(line, root), line
    for line in ("du -a", "grep -rl a ."):          # in the file system's order: compared as sets
        (mine, status), (theirs, expected) = nlsh(line, root, monkeypatch), bash(line, root)
        assert (sorted(mine.splitlines()), status) == (sorted(theirs.splitlines()), expected), line


def test_record_commands_pass_over_the_headings(work, monkeypatch):
    """``ls``'s ``DIR:`` and ``total`` lines are text: where, get, count and
    sort by a field see only the records."""
    make_tree(work)
    assert nlsh("ls -lR docs | count", work, monkeypatch)[0] == "3\n"
    assert nlsh("ls -R docs | get name", work, monkeypatch)[0] == "docs/api\ndocs/guide.md\ndocs/api/ref.md\n"
    assert nlsh("ls -l docs | sort size -r | first 1 | get name", work, monkeypatch)[0] == "docs/api\n"


@pytest.mark.parametrize("locale", ["C", "C.UTF-8"])
def test_wc_counts_any_bytes_as_gnu_does(locale, work):
    """wc reads a file in large blocks while it is plain text, and counts
    words and characters carefully once it is not (UTF-8, NUL, invalid bytes)."""
    (work / "plain.txt").write_text("one two\n\tthree  \nfour" * 50_000)
    (work / "mixed.txt").write_bytes(b"caf\xc3\xa9 ok\n\x00 x\xff y\n" * 1000 + b"a" * 70_000 + b" end\n")
    for line in ("wc plain.txt", "wc mixed.txt", "wc -m mixed.txt", "wc -lc mixed.txt plain.txt"):
        env = {**os.environ, "LC_ALL": locale}
        want = subprocess.run(["bash", "-c", line], capture_output=True, text=True, cwd=work, env=env, check=False)
        got = subprocess.run([sys.executable, "-m", "nlsh", "-c", line], capture_output=True, text=True, cwd=work,
                             env=env, check=False)
        assert (got.stdout, got.returncode) == (want.stdout, want.returncode), line


@pytest.mark.parametrize("text", ["a\nb\nc", "a\nb\nc\n", "", "\n\n", "x" * 200_000 + "\nshort\n",
                                  "".join(f"line {i} {'y' * (i % 300)}\n" for i in range(5000)) + "end"])
def test_tail_reads_a_file_from_its_end_as_gnu_tail_prints_it(text, work, monkeypatch):
    (work / "f").write_text(text)
    for n in (0, 1, 2, 3, 100, 4999, 6000):
        line = f"tail -n {n} f"
        assert nlsh(line, work, monkeypatch) == bash(line, work), line


def test_json_output_leaves_the_headings_out(work):
    make_tree(work)
    p = subprocess.run([sys.executable, "-m", "nlsh", "--json", "-c", "ls -lR docs"], capture_output=True, text=True,
                       cwd=work, check=False)
    import json
    names = [json.loads(line)["name"] for line in p.stdout.splitlines()]
    assert (names, p.returncode) == (["docs/api", "docs/guide.md", "docs/api/ref.md"], 0)
