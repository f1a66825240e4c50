"""Pipes carry bytes exactly: random input (NUL, bytes that are not UTF-8,
lines up to 300 kB, no final newline) through nlsh's text built-ins gives the
same bytes as GNU's tools in the C locale."""

from __future__ import annotations

import os
import subprocess
import sys

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

COMMANDS = ["cat", "head -n 3", "tail -n 2", "wc", "wc -l", "wc -w", "wc -c", "sort", "sort -r", "uniq",
            "grep -c ''", "grep a", "cut -c1-3", "tr a b", "head -c 7", "tail -c 5"]
PIECES = [b"a", b"b", b"A", b" ", b"\t", b"\0", b"\xff", "é".encode(), b"\n", b"\n", b"1", b"2"]


@st.composite
def inputs(draw) -> bytes:
    parts = draw(st.lists(st.sampled_from(PIECES), max_size=60))
    if draw(st.integers(0, 4)) == 0:             # now and then a line longer than a read (64 KiB)
        parts.insert(draw(st.integers(0, len(parts))), b"a" * draw(st.integers(60_000, 300_000)))
    return b"".join(parts)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(inputs())
def test_text_builtins_pass_bytes_as_gnu_does(tmp_path_factory, blob):
    d = tmp_path_factory.mktemp("bytes")
    (d / "in").write_bytes(blob)
    script = "\n".join(f"{c} < in > out{i}" for i, c in enumerate(COMMANDS))
    env = {**os.environ, "LC_ALL": "C"}
    subprocess.run(["bash", "-c", script.replace("> out", "> gnu")], cwd=d, env=env, capture_output=True,
                   check=False)
    subprocess.run([sys.executable, "-m", "nlsh", "-c", script], cwd=d, env=env, capture_output=True,
                   timeout=120, check=False)
    for i, command in enumerate(COMMANDS):
        if command.startswith("grep") and b"\0" in blob:
            continue        # GNU grep's binary rule depends on its buffer size (a NUL past 96 KiB): not yet exact
        gnu, ours = (d / f"gnu{i}").read_bytes(), (d / f"out{i}").read_bytes()
        assert ours == gnu, (command, len(blob), blob[:40], gnu[:60], ours[:60])


def test_a_program_feeding_a_builtin_keeps_a_missing_last_newline(tmp_path):
    p = subprocess.run([sys.executable, "-m", "nlsh", "-c", "printf 'a\\nb' | cat | od -c | head -1"],
                       cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False)
    assert p.stdout.split()[1:] == ["a", "\\n", "b"]


def test_grep_says_a_binary_input_matches_as_gnu_grep_does(tmp_path):
    (tmp_path / "bin.dat").write_bytes(b"ab\x00\nab\n")
    for line, name in (("grep a bin.dat", "bin.dat"), ("cat bin.dat | grep a", "(standard input)")):
        p = subprocess.run([sys.executable, "-m", "nlsh", "-c", line], cwd=tmp_path, capture_output=True,
                           text=True, timeout=60, check=False)
        assert (p.returncode, p.stdout, p.stderr) == (0, "", f"grep: {name}: binary file matches\n")
    p = subprocess.run([sys.executable, "-m", "nlsh", "-c", "cut -b 2-3 bin.dat | od -c | head -1"], cwd=tmp_path,
                       capture_output=True, text=True, timeout=60, check=False)
    assert p.stdout.split()[1:] == ["b", "\\0", "\\n", "b", "\\n"]
