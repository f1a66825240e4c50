"""find's expression: repeated tests, -o, !, parentheses, more GNU tests,
-delete into the trash, and the policy's preview of what a find deletes."""

from __future__ import annotations

import io
import os

import pytest

from nlsh.lang import parse
from nlsh.lang.text import text
from nlsh.policy import assess, dry_run
from nlsh.session import Shell
from nlsh.wiring import default_registry

REG = default_registry()
TREE = {"a.py": "print()\n", "b.sh": "", "c.md": "x" * 3000, "d/e.py": "", "d/f.txt": "y" * 40000,
        "d/g/h.MD": ""}


def found(r) -> list[str]:
    assert r.err == "" and r.status == 0, r.err
    return r.out.split()


def test_a_test_may_repeat_as_a_range(sh):
    assert found(sh("find . -type f -size +1k -size -32k", TREE)) == ["./c.md"]
    assert found(sh("find . -type f -size +1k")) == ["./c.md", "./d/f.txt"]


def test_or_not_and_parentheses(sh):
    assert found(sh("find . -name '*.py' -o -name '*.sh'", TREE)) == ["./a.py", "./b.sh", "./d/e.py"]
    assert found(sh("find . -type f ! -name '*.py' -not -name '*.txt'")) == ["./b.sh", "./c.md", "./d/g/h.MD"]
    # and binds tighter than or: the empty .sh file and every .py file
    assert found(sh("find . -name '*.sh' -empty -o -name '*.py'")) == ["./a.py", "./b.sh", "./d/e.py"]
    assert found(sh(r"find . \( -name '*.sh' -o -name '*.py' \) -empty")) == ["./b.sh", "./d/e.py"]
    assert found(sh("find d '(' -iname '*.md' -or -name '*.txt' ')' -a -type f")) == ["d/f.txt", "d/g/h.MD"]
    # -a before an action joins the test to it (GNU's find . -type f -a -print0)
    r = sh("find d -name '*.txt' -a -print0 | tr '\\0' '\\n'")
    assert (r.out, r.err) == ("d/f.txt\n", "")


@pytest.mark.parametrize("line", [
    "find . -name '*.py' -o -name '*.sh' -print",                # -print only where B matched
    "find . -name '*.py' -o -name '*.sh' -exec echo {} ';'",
    "find . -name '*.md' -o -name '*.txt' -exec wc -c {} +",
    "find . -print -name nothing",                              # reached before the test: everything
    "find . -name '*.py' -print -o -name '*.sh' -print",
    "find . ! -name '*.py' -print",
    "find . -type d -o -size +1k -print",
])
def test_an_action_is_done_where_gnu_finds_evaluation_reaches_it(sh, work, line):
    """GNU find: -o binds looser than the -a implied before an action, so in
    ``-name A -o -name B -exec …`` only B's matches reach -exec."""
    import subprocess
    r = sh(line + " | sort", TREE)
    gnu = subprocess.run(["bash", "-c", line + " | sort"], cwd=work, capture_output=True, text=True,
                         check=True, env={"PATH": os.environ["PATH"], "LC_ALL": "C"}).stdout
    assert (r.out, r.err, r.status) == (gnu, "", 0)


def test_delete_after_alternatives_deletes_only_what_reaches_it(sh, work):
    r = sh("find . -name '*.md' -o -name '*.txt' -delete", TREE)
    assert r.status == 0, r.err
    assert (work / "c.md").exists() and not (work / "d/f.txt").exists()


def test_two_kinds_of_action_are_refused_before_anything_is_done(sh, work):
    r = sh("find . -name '*.py' -delete -o -print", TREE)
    assert r.status == 1 and r.out == ""
    assert r.err == "nlsh: find: one kind of action per find, not -delete and -print (pipe into another command for more)\n"
    assert (work / "a.py").exists() and (work / "d/e.py").exists()


def test_canonical_text_round_trips():
    line = r"find . \( -name a -o -name b \) ! -type d -size +1k -size -2M -exec rm {} +"
    plan = parse(line, REG)
    canon = text(plan, REG.signature)
    assert canon == "find . '(' -name a -o -name b ')' ! -type d -size +1k -size -2M -exec rm {} +"
    assert parse(canon, REG) == plan


def test_more_gnu_tests(sh, work):
    files = {"s": "", "x": "", "r": ""}
    sh("true", files)
    os.chmod(work / "s", 0o1553)
    os.chmod(work / "x", 0o755)
    os.chmod(work / "r", 0o644)
    assert found(sh("find . -type f -perm 1553")) == ["./s"]
    assert found(sh("find . -type f -perm -u+x")) == ["./s", "./x"]
    assert found(sh("find . -type f ! -perm /o=w -perm -g=r")) == ["./r", "./x"]
    assert found(sh("find . -type f -perm -o=x")) == ["./s", "./x"]
    old = 1_600_000_000
    os.utime(work / "r", (old, old))
    assert found(sh("find . -type f -atime +30")) == ["./r"]
    assert found(sh("find . -type f -amin -60")) == ["./s", "./x"]
    assert found(sh(r"find . -regex '\./[rs]'")) == ["./r", "./s"]
    os.mkfifo(work / "fifo")
    assert found(sh("find . -type p")) == ["./fifo"]


@pytest.mark.parametrize("line,message", [
    ("find . -name x -o", "find: a test is missing at the end of the expression"),
    ("find . -o -name x", "find: a test is missing before -o of the expression"),
    ("find . '(' -name x", "find: missing ')' in the expression"),
    ("find . -name x ')'", "find: unexpected ')' in the expression"),
    ("find . -perm zz", "find: invalid -perm 'zz' (try 644, -u+x, /o=w)"),
    ("find . -size 3q", "find: invalid -size '3q' (try +1M, -10k, 100c)"),
    ("find . -regex '('", "find: invalid -regex '('"),
    ("find . -exec ls {} ';' -exec ls {} ';'", "find: only one -exec per find"),
    ("find . -user no-such-user-here", "find: -user: no such user 'no-such-user-here'"),
    ("find . -group no-such-group-here", "find: -group: no such group 'no-such-group-here'"),
    ("find . -newer missing.txt", "find: missing.txt: No such file or directory"),
    ("find . -mtime soon", "find: invalid -mtime 'soon' (try -7, +30, 2)"),
    ("find . -exec no-such-program-x {} ';'", "find: -exec: no-such-program-x: command not found"),
])
def test_bad_expressions_and_values_are_one_line_errors(sh, line, message):
    r = sh(line, TREE)
    assert r.status != 0
    assert r.err.startswith("nlsh: " + message)
    assert len(r.err.strip().splitlines()) == 1


def test_delete_goes_to_the_trash_and_undo_restores(sh, work):
    r = sh("find . -name '*.py' -delete", TREE)
    assert r.status == 0, r.err
    assert not (work / "a.py").exists() and not (work / "d/e.py").exists()
    assert sh("undo").status == 0
    assert (work / "a.py").read_text() == "print()\n" and (work / "d/e.py").exists()


def test_delete_takes_a_directory_only_with_everything_in_it(sh, work):
    r = sh("find d -delete", TREE)
    assert r.status == 0, r.err
    assert not (work / "d").exists()
    sh("mkdir keep; touch keep/a.log keep/b.txt")
    r = sh("find keep \\( -name '*.log' -o -name keep \\) -delete")
    assert "cannot delete 'keep': Directory not empty" in r.err
    assert sorted(os.listdir(work / "keep")) == ["b.txt"]


def shell_in(work) -> Shell:
    shell = Shell(out=io.StringIO(), err=io.StringIO())
    shell.cwd = str(work)
    return shell


def test_policy_previews_what_find_deletes(sh, work):
    sh("true", TREE)
    shell = shell_in(work)
    for line, also in (("find . -name '*.py' -delete", []),
                       ("find . -name '*.py' -exec rm {} ';'", ["would run: rm"])):
        risk = assess(parse(line, REG), shell)
        assert "delete" in risk.effects
        assert dry_run(risk, str(work)) == ["would delete 2 files (8 B): a.py, d/e.py", *also]
    shell.shutdown()


def test_policy_previews_what_a_find_feeds_to_rm(sh, work):
    sh("true", TREE)
    shell = shell_in(work)
    risk = assess(parse("find . -name '*.py' | rm", REG), shell)
    assert dry_run(risk, str(work)) == ["would delete 2 files (8 B): a.py, d/e.py"]
    risk = assess(parse("cat list.txt | rm", REG), shell)
    assert risk.steps[-1].deletes == ["(paths from the previous command)"]
    shell.shutdown()


def test_deleting_under_home_by_name_is_not_deleting_home(work, monkeypatch, sh):
    sh("true", {"sub/a.tmp": ""})
    monkeypatch.setenv("HOME", str(work))
    shell = shell_in(work)
    shell.env["HOME"] = str(work)
    from nlsh.policy import builtin_denial
    steps = assess(parse("find ~ -name '*.tmp' -delete", REG), shell).steps
    assert [builtin_denial(s, shell, []) for s in steps] == [None]
    steps = assess(parse("find ~ -delete", REG), shell).steps
    assert "is never allowed" in builtin_denial(steps[0], shell, [])
    shell.shutdown()


def test_owner_access_and_constant_tests(sh, work):
    import grp
    import pwd
    sh("true", {"run.sh": "", "notes": ""})
    os.chmod(work / "run.sh", 0o755)
    os.chmod(work / "notes", 0o644)
    me, group = pwd.getpwuid(os.getuid()).pw_name, grp.getgrgid(os.getgid()).gr_name
    assert found(sh(f"find . -type f -user {me} -group {group}")) == ["./notes", "./run.sh"]
    assert found(sh(f"find . -type f -user {os.getuid()}")) == ["./notes", "./run.sh"]
    assert found(sh("find . -type f -readable -writable")) == ["./notes", "./run.sh"]
    assert found(sh("find . -type f -executable")) == ["./run.sh"]
    assert found(sh("find . -type f -true -print")) == ["./notes", "./run.sh"]
    assert found(sh("find . -false -o -name notes")) == ["./notes"]
    assert found(sh("find . -type f -ctime -1 -cmin -60")) == ["./notes", "./run.sh"]


def test_case_insensitive_path_and_regex(sh):
    assert found(sh("find . -ipath './D/G/*'", TREE)) == ["./d/g/h.MD"]
    assert found(sh(r"find . -iregex '.*\.md'")) == ["./c.md", "./d/g/h.MD"]


def test_delete_of_dot_empties_it_and_refuses_home(sh, work, monkeypatch):
    sh("find . -delete", TREE)
    assert os.listdir(work) == []
    monkeypatch.setenv("HOME", str(work))
    r = sh("find ~ -maxdepth 0 -delete")
    assert r.status == 126 and "is never allowed" in r.err and work.exists()


def test_policy_walk_budget_falls_back_to_the_starting_points(sh, work):
    from nlsh.commands.find import would_match
    sh("true", TREE)
    shell = shell_in(work)
    assert would_match(shell, parse("find . -name '*.py' -delete", REG).calls[0], budget=3) is None
    assert would_match(shell, parse("find d -delete", REG).calls[0], budget=3) == [str(work / "d")]
    risk = assess(parse("find . -name '*.py' -delete", REG), shell)
    assert risk.steps[0].deletes == [str(work / "a.py"), str(work / "d/e.py")]
    shell.shutdown()


def test_the_planner_grammar_offers_every_operator_spelling():
    from nlsh.planner.grammar import grammar
    rule = next(line for line in grammar(REG).splitlines() if line.startswith("cmd-find-arg"))
    for alt in ('"!"', '"-not"', '"-o"', '"-or"', '("\\\\(" | "\'(\'")', '("\\\\)" | "\')\'")', '"-size " word'):
        assert alt in rule



def test_find_records_name_their_path_as_ls_does(sh):
    assert sh("find . -name c.md | get name", TREE).out == "./c.md\n"
    assert sh("ls -R d | where name =~ 'h.MD' | get name").out == "d/g/h.MD\n"
