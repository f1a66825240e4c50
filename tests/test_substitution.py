"""``$(…)`` (and backquotes): a command's output as words of another, as in
bash, checked by the policy before anything runs; ``$((…))`` arithmetic."""

from __future__ import annotations

import io
import os
import sys
import tempfile

import pytest

from nlsh.kernel.expand import Unexpanded, expand_word
from nlsh.lang import ParseError, parse, text
from nlsh.lang.plan import Lit, Sub
from nlsh.policy import Rules, assess, decide, dry_run
from nlsh.session import Shell, run_script_lines
from nlsh.wiring import default_registry

REG = default_registry()
PY = sys.executable


def word(line: str, k: int = 1):
    return parse(line, REG).calls[0].get("words")[k - 1]


def test_parts_hold_the_inner_plan_and_print_back():
    w = word('echo "n: $(ls | wc -l) files"')
    assert w.parts[0] == Lit("n: ") and w.parts[2] == Lit(" files")
    sub = w.parts[1]
    assert isinstance(sub, Sub) and sub.quoted and [c.name for c in sub.plan.calls] == ["ls", "wc"]
    assert not word("echo $(pwd)").parts[0].quoted
    for line in ['echo "n: $(ls | wc -l) files"', "echo $(echo $(pwd))x", 'cat "$(ls)" > $(echo f)',
                 "echo pre\"$(pwd)\"*", "echo \"a \\\"$(pwd)\\\" \\$HOME ${HOME}\""]:
        plan = parse(line, REG)
        assert parse(text(plan, REG.signature), REG) == plan
    assert text(parse("echo \"$(pwd)\"'!'", REG), REG.signature) == 'echo "$(pwd)!"'
    assert text(parse('echo `ls` "a `pwd`"', REG), REG.signature) == 'echo $(ls) "a $(pwd)"'


def test_inner_plans_count_among_the_calls():
    assert [c.name for c in parse("echo $(find . -name x) | wc -l", REG).calls] == ["echo", "find", "wc"]


@pytest.mark.parametrize("line,out", [
    ("echo $(ls | wc -l)", "3\n"),
    ('echo "files: $(ls *.txt | wc -l)"', "files: 2\n"),
    ("echo $(echo 'a b   c')x", "a b cx\n"),               # unquoted: split on whitespace
    ('echo "$(echo \'a b   c\')"', "a b   c\n"),          # quoted: one word, as written
    ("echo =$(true)= $(true) end", "== end\n"),            # empty on its own: no word at all
    ("echo $(printf 'x\\n\\n\\n')y", "xy\n"),             # trailing newlines dropped
    ("echo $(echo $(echo deep))", "deep\n"),
    ("echo $(cat a.txt; echo more)", "alpha more\n"),
    (f"echo $({PY} -c 'print(6*7)')", "42\n"),              # a program inside
    ("head -n $(echo 1) a.txt", "alpha\n"),                # typed values convert when the call runs
    ("$(echo echo) hi", "hi\n"),                           # the command word itself
    ('echo `echo hi` "n=`echo a.txt | wc -c`"', "hi n=6\n"),  # backquotes, the old spelling
    ("echo `echo \\`echo deep\\``", "deep\n"),
    ("echo x > $(echo out.txt) && cat out.txt", "x\n"),     # a redirect target
    ("wc -l $(find . -name '*.txt' | sort)", "1 ./a.txt\n0 ./b.txt\n1 total\n"),
])
def test_output_becomes_words(sh, line, out):
    r = sh(line, {"a.txt": "alpha\n", "b.txt": "", "d/x": ""})
    assert (r.status, r.out, r.err) == (0, out, "")


def test_a_substitution_runs_in_a_copy_of_the_shell_and_an_assignment_keeps_its_status(sh):
    r = sh("echo $(cd d; x=5; echo $x); test -d d && echo still-here; echo [$x]; y=$(exit 3); echo after $?; "
           "if out=$(cat missing.txt); then echo ok; else echo failed; fi; x=$(true); echo $?", {"d/x": ""})
    assert r.out == "5\nstill-here\n[]\nafter 3\nfailed\n0\n"      # as bash: $(…) is a subshell


def test_inner_errors_show_and_the_command_still_runs(sh):
    r = sh("echo =$(cat missing.txt)=")
    assert r.out == "==\n" and "missing.txt: No such file or directory" in r.err and r.status == 0


@pytest.mark.parametrize("line,message", [
    ("cd $(echo a b)", "'$(echo a b)' gives 2 words; DIR takes one"),
    ("cd $(true)", "'$(true)' gives 0 words; DIR takes one"),
    ("head -n $(echo many) a.txt", "bad value 'many' for -n"),
    ("$(true)", "the command name is empty"),
])
def test_bad_results_are_one_line_errors(sh, line, message):
    r = sh(line, {"a.txt": "alpha\n"})
    assert r.status != 0 and message in r.err and "Traceback" not in r.err


def test_nothing_runs_while_a_plan_is_assessed(work):
    shell = Shell(out=io.StringIO(), err=io.StringIO())
    shell.cwd = str(work)
    plan = parse("echo $(touch made)", REG)
    with pytest.raises(Unexpanded):
        expand_word(plan.calls[0].get("words")[0], shell)
    risk = assess(plan, shell)
    assert not (work / "made").exists()
    assert [s.call.name for s in risk.steps] == ["echo", "touch"]
    assert risk.summary() == "writes 1 path"
    # a planned line asks for what its $(…) would do, even when the outer call only reads
    assert decide(plan, shell, Rules(), planned=True).action == "ask"
    assert decide(parse("echo $(ls)", REG), shell, Rules(), planned=True).action == "allow"


def test_deleting_what_a_find_gives_previews_its_matches(work):
    for name in ("a.tmp", "b.tmp", "keep.txt"):
        (work / name).write_text("x")
    shell = Shell(out=io.StringIO(), err=io.StringIO())
    shell.cwd = str(work)
    risk = assess(parse("rm $(find . -name '*.tmp')", REG), shell)
    assert risk.summary() == "deletes 2 paths"
    assert dry_run(risk, str(work)) == ["would delete 2 files (2 B): a.tmp, b.tmp"]
    other = assess(parse("rm $(cat list.txt)", REG), shell)
    assert other.summary() == "deletes files"
    assert dry_run(other, str(work)) == ["would delete (what $(cat list.txt) gives)"]


def test_non_interactive_planned_refusal_runs_no_substitution(work):
    shell = Shell(out=io.StringIO(), err=io.StringIO())
    shell.cwd = str(work)
    shell.rules = Rules(typed="check")
    assert run_script_lines(shell, ["echo $(touch made)"]) == 126
    assert not (work / "made").exists()
    shell.shutdown()


def test_ctrl_c_cancels_a_substitution(work):
    import threading
    shell = Shell(out=io.StringIO(), err=io.StringIO())
    shell.cwd = str(work)
    done = threading.Event()
    status = []

    def go():
        status.append(run_script_lines(shell, ["echo $(sleep 30) after"]))
        done.set()
    threading.Thread(target=go, daemon=True).start()
    for _ in range(100):
        live = shell.jobs.live()
        if live and live[0].pgids:
            break
        done.wait(0.05)
    shell.jobs.live()[0].terminate("interrupted")
    assert done.wait(10)
    assert status == [130] and "after" not in shell.out.getvalue()
    shell.shutdown()


@pytest.mark.parametrize("line,out", [
    ("echo $((1 + 2 * 3)) $(( (10 * (10 + 1)) / 2 ))", "7 55\n"),
    ("export n=7; echo $((n % 3)) $(($n - 10)) $((-7 / 2)) $((-7 % 2)) $((2**10)) $((3 > 2)) $((unset + 1))",
     "1 -3 -3 -1 1024 1 1\n"),
    ('echo "total: $((4*5))"', "total: 20\n"),
    ("for i in 1 2 3; do echo $((i * i)); done", "1\n4\n9\n"),
])
def test_arithmetic(sh, line, out):
    r = sh(line)
    assert (r.out, r.err) == (out, "")
    plan = parse(line, REG)
    assert parse(text(plan, REG.signature), REG) == plan


@pytest.mark.parametrize("line,message", [
    ("echo $((1 / 0))", "$((1 / 0)): division by 0"),
    ("export s='a b'; echo $((s + 1))", "s='a b': unexpected 'b'"),
    ("echo $((2 ** 100))", "exponent out of range"),
])
def test_arithmetic_errors_when_it_runs(sh, line, message):
    r = sh(line)
    assert r.status == 1 and message in r.err and "Traceback" not in r.err


def test_process_substitution_gives_a_file_of_the_output(sh, work):
    r = sh("diff <(sort b) <(sort c); cat <(echo hi) <(ls | count); while read l; do echo \"[$l]\"; done < <(sort b)",
           {"b": "2\n1\n", "c": "1\n3\n"})
    assert r.out == "2c2\n< 2\n---\n> 3\n" + "hi\n2\n[1]\n[2]\n"
    r = sh("echo <(true)")
    assert r.out.startswith(tempfile.gettempdir()) and not os.path.exists(r.out.strip())   # gone with its job


def test_process_substitution_is_judged_and_prints_back(work):
    shell = Shell(out=io.StringIO(), err=io.StringIO())
    shell.cwd = str(work)
    plan = shell.parse("diff <(sort a) <(ls | sort) > d")
    assert shell.parse(shell.text(plan)) == plan and shell.text(plan) == "diff <(sort a) <(ls | sort) > d"
    refused = decide(shell.parse("cat <(rm -rf ~)"), shell, Rules(), planned=False)
    assert refused.action == "deny"
    with pytest.raises(ParseError, match=r"unterminated <\( \(no matching '\)'\)"):
        shell.parse("cat <(ls")
    shell.shutdown()


@pytest.mark.parametrize("line", [
    "echo 1 `echo \\$` 2 `echo \\\\$` 3 `echo \\\\\\$`",
    'echo "3 `echo \\\\$`" "[`echo \\\\ `]"',
    "echo [2 `echo \\\\ `] `echo \\\\(` `echo \\\\\"foo\\\\\"`",
    'echo "x `echo \\"hi\\"`" `echo \\`echo nested\\``',
])
def test_backslashes_in_backquotes_as_in_bash(like_bash, line):
    """Inside backquotes a backslash before $, ` or \\ (and " inside double quotes)
    is taken away before the command is read; bash is the reference."""
    like_bash(line)
