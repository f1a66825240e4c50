"""Every flag a stand-in declares, drawn in combinations by hypothesis on drawn
text (the text tools) or a tree (ls, du), prints what the GNU tool prints
(stdout and status, C locale; du's lines as a set, in the file system's order
in GNU).

The flags come from the commands' own signatures: a flag added to a stand-in
is drawn here at once, and a value parameter with no sample value below fails
the test until it gets one."""

from __future__ import annotations

import io

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_gnu import bash, make_tree, nlsh  # nlsh: the stand-in itself, output into a buffer

from nlsh.session import Shell, run_script_lines
from nlsh.wiring import default_registry

TEXT_TOOLS = ["cat", "head", "tail", "grep", "sort", "uniq", "wc", "cut", "tr", "sed"]
# A value for each parameter that takes one, as it is written after the flag (or alone).
VALUES = {("head", "n"): "-n 2", ("tail", "n"): "-n 2", ("grep", "pattern"): "'a'", ("sort", "key"): "-k 2",
          ("sort", "sep"): "-t ' '", ("cut", "delimiter"): "-d ' '", ("cut", "fields"): "-f 2",
          ("cut", "characters"): "-c 1-3", ("tr", "set1"): "'a-z'", ("tr", "set2"): "'A-Z'",
          ("sed", "script"): "'s/a/X/g'", ("du", "depth"): "-d 1"}
SKIP = {("tail", "follow"): "waits for more forever", ("sed", "in_place"): "edits the file (tests/test_builtins.py)"}
REQUIRED = {("grep", "pattern"), ("tr", "set1"), ("sed", "script")}
LINES = ["a b", "b a", "A b", "10 a", "9 b", "2K a", "1M b", "a\tb", "", " a", "aa", "b"]


def options(name: str) -> list[tuple[str, str]]:
    """(param, how it is written) for each parameter of ``name`` but the files."""
    out = []
    for p in default_registry().signature(name).params:
        if p.name == "paths" or (name, p.name) == ("sort", "fields"):
            continue
        if (name, p.name) in SKIP:
            continue
        if p.type == "flag":
            out.append((p.name, p.flags[0]))
        else:
            out.append((p.name, VALUES[(name, p.name)]))
    return out


TREE_TOOLS = ["ls", "du"]
OPERANDS = ["", "docs", "a.txt docs", ".", "docs/api void", "to-docs", "missing a.txt"]


def test_every_parameter_has_a_sample():
    for name in TEXT_TOOLS + TREE_TOOLS:
        assert options(name)        # raises KeyError for a parameter with no value in VALUES


@st.composite
def lines(draw) -> tuple[str, str]:
    name = draw(st.sampled_from(TEXT_TOOLS))
    chosen = [(p, w) for p, w in options(name) if (name, p) in REQUIRED or draw(st.booleans())]
    flags = [w for p, w in chosen if (name, p) not in REQUIRED or name == "tr" and p == "set1"]
    last = [w for p, w in chosen if (name, p) in REQUIRED and not (name == "tr" and p == "set1")]
    if name == "tr":
        flags = [w for w in flags if w.startswith("-")] + [w for w in flags if not w.startswith("-")]
        return name, " ".join([name, *flags, *last]) + " < in"
    return name, " ".join([name, *flags, *last, "in"])


def test_the_stand_in_itself_is_what_is_compared(tmp_path, monkeypatch):
    (tmp_path / "in").write_text("a\n")
    err = io.StringIO()
    shell = Shell(out=io.StringIO(), err=err)
    shell.cwd = str(tmp_path)
    run_script_lines(shell, ["cat in nope"])
    shell.shutdown()
    assert "nlsh: cat: nope" in err.getvalue()       # nlsh's words: not handed to GNU's cat


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(line=lines(), text=st.lists(st.sampled_from(LINES), max_size=12), end=st.booleans())
def test_every_declared_flag_prints_what_gnu_prints(line, text, end, tmp_path_factory, monkeypatch):
    _, written = line
    d = tmp_path_factory.mktemp("flags")
    (d / "in").write_text("\n".join(text) + ("\n" if end and text else ""))
    assert nlsh(written, d, monkeypatch) == bash(written, d), written


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(TREE_TOOLS), picks=st.lists(st.booleans(), min_size=12, max_size=12),
       operands=st.sampled_from(OPERANDS))
def test_every_declared_flag_of_ls_and_du_prints_what_gnu_prints(name, picks, operands, tmp_path_factory,
                                                                 monkeypatch):
    d = tmp_path_factory.mktemp("tree")
    make_tree(d)
    written = " ".join([name, *(w for (_, w), pick in zip(options(name), picks) if pick), operands]).strip()
    (mine, status), (theirs, expected) = nlsh(written, d, monkeypatch), bash(written, d)
    if name == "du":
        mine, theirs = sorted(mine.splitlines()), sorted(theirs.splitlines())
    assert (mine, status) == (theirs, expected), written


@pytest.mark.parametrize("line", ["echo -n a b", "echo -e 'a\\tb\\c' x", "echo -e -n 'x\\ny'", "echo -e 'a\\\\cb'",
                                  "echo -- a", "echo a -n", "echo -ne 'q\\n'", "echo -e '\\x41\\0101'"])
def test_echo_prints_what_bashs_echo_prints(line, tmp_path, monkeypatch):
    assert nlsh(line, tmp_path, monkeypatch) == bash(line, tmp_path)


def test_a_later_flag_overrides_an_earlier_one_as_in_gnu(tmp_path, monkeypatch):
    for name in (".h", "a"):
        (tmp_path / name).write_text("x")
    for line in ("ls -a -A", "ls -A -a", "ls -aA", "ls -S -t", "ls -t -S"):
        assert nlsh(line, tmp_path, monkeypatch) == bash(line, tmp_path), line


def test_printf_b_reads_escapes_as_echo_e_does(tmp_path, monkeypatch):
    line = "printf '%b|%s\\n' 'a\\0101\\x42\\tc' 'x\\ty'"
    assert nlsh(line, tmp_path, monkeypatch) == bash(line, tmp_path)
