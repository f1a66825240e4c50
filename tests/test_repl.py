"""The interactive shell, driven as a person would through a pseudo-terminal."""

from __future__ import annotations

import os
import sys
import time

import pexpect
import pytest

PROMPT = "❯ "


class Repl:
    def __init__(self, cwd: str, env: dict) -> None:
        self.c = pexpect.spawn(sys.executable, ["-m", "nlsh"], cwd=cwd, env=env, encoding="utf-8",
                               timeout=15, dimensions=(30, 120))
        self.c.expect_exact("'help' for help")
        self.c.expect_exact(PROMPT)

    def run(self, line: str, expect: str) -> str:
        """Type ``line``, wait for ``expect`` and the next prompt; what came before ``expect``."""
        self.c.sendline(line)
        self.c.expect_exact(expect)
        before = self.c.before
        self.c.expect_exact(PROMPT)
        return before

    def close(self) -> None:
        if self.c.isalive():
            self.c.terminate(force=True)


@pytest.fixture
def repl(work, nlsh_home):
    env = dict(os.environ, PROMPT_TOOLKIT_NO_CPR="1", TERM="xterm", NLSH_HOME=str(nlsh_home),
               HOME=str(work), NLSH_MODEL=str(work / "no-model-in-this-test.gguf"))
    sessions = []

    def start(**extra: str) -> Repl:
        r = Repl(str(work), {**env, **extra})
        sessions.append(r)
        return r
    yield start
    for r in sessions:
        r.close()


def test_typing_a_command(repl, work):
    (work / "hello.txt").write_text("hi\n")
    r = repl()
    r.run("cat hello.txt | tr a-z A-Z", "HI")
    r.run("echo $?", "0")


def test_the_prompt_starts_a_line_of_its_own(repl, work):
    (work / "no-newline.txt").write_text("x\ny")
    r = repl()
    r.c.sendline("cat no-newline.txt; echo -n '|end'")
    r.c.expect_exact("y|end\r\n")          # the output left the line open: the shell ends it
    r.c.expect_exact(PROMPT)


def test_error_shows_caret(repl):
    r = repl()
    r.c.sendline("cp --sizee a b")
    r.c.expect_exact("nlsh: cp: unknown flag --sizee")
    r.c.expect_exact("  cp --sizee a b")
    r.c.expect_exact("     ^^^^^^^")
    r.c.expect_exact("[2]")


def test_tab_completes_commands_and_flags(repl, work):
    (work / "unique_name.txt").write_text("content\n")
    r = repl()
    # Completion runs as a task of the REPL's event loop: each Tab is awaited
    # on screen before typing on, as a person would look before going on.
    r.c.send("whic")   # "whi" is also while
    r.c.send("\t")
    r.c.expect_exact("which")
    r.c.send(" ls\r")
    r.c.expect_exact("ls: nlsh built-in")
    r.c.expect_exact(PROMPT)
    r.c.send("cat uniq")
    r.c.send("\t")
    r.c.expect_exact("_name.txt")  # only the completed end is redrawn
    r.c.send("\r")
    r.c.expect_exact("content")
    r.c.expect_exact(PROMPT)
    r.c.send("grep --ignore-c")
    r.c.send("\t")
    r.c.expect_exact("ase")
    r.c.send(" CONTENT unique_name.txt\r")
    r.c.expect_exact("content")


def test_ctrl_c_clears_line_and_cancels_job(repl):
    r = repl()
    r.c.send("echo this should not run")
    r.c.sendintr()
    r.c.expect_exact(PROMPT)
    r.c.sendline("sleep 30")
    time.sleep(0.5)
    r.c.sendintr()
    r.c.expect_exact("[130]")
    r.run("echo after", "after")


def test_ctrl_z_stops_program_then_jobs_and_kill(repl):
    r = repl()
    r.c.sendline("/bin/cat")
    time.sleep(0.5)
    r.c.sendline("typed into cat")
    r.c.expect_exact("typed into cat\r\ntyped into cat")
    r.c.sendcontrol("z")
    r.c.expect_exact("[1]+ Stopped      /bin/cat")
    r.c.expect_exact(PROMPT)
    r.c.sendline("kill %1")
    r.c.expect_exact(PROMPT)
    time.sleep(0.5)
    r.c.sendline("")
    r.c.expect_exact("[1] Terminated")


def test_history_persists_and_arrow_up(repl):
    r = repl()
    r.run("echo first-entry", "first-entry\r\n")
    r.c.sendcontrol("d")
    r.c.expect(pexpect.EOF)
    r2 = repl()
    r2.c.send("\x1b[A")
    r2.c.expect_exact("first-entry")     # the line from history, on screen
    r2.c.send("\r")
    r2.c.expect_exact("first-entry\r\n")
    r2.run("history", "echo first-entry")


def test_a_home_that_cannot_be_written_still_gives_a_working_shell(repl, work):
    (work / "home").write_text("a file where nlsh's folders would go\n")
    r = repl(NLSH_HOME=str(work / "home"))
    r.c.sendline("echo first")
    r.c.expect_exact("cannot save history in")           # said once, and the shell goes on
    r.run("echo second", "second\r\n")
    r.run("echo $((6 * 7))", "42\r\n")
    assert "cannot save history" not in r.c.before
    r.c.sendcontrol("d")
    r.c.expect(pexpect.EOF)
    r.c.close()
    assert r.c.exitstatus == 0


def test_ctrl_d_exits_with_status(repl):
    r = repl()
    r.run("false", "[1]")
    r.c.sendcontrol("d")
    r.c.expect(pexpect.EOF)
    r.c.close()
    assert r.c.exitstatus == 1


def test_multiline_continuation(repl):
    r = repl()
    r.c.sendline("echo one |")
    r.c.sendline("tr a-z A-Z")
    r.c.expect_exact("ONE")


def test_a_loop_typed_over_several_lines(repl):
    r = repl()
    r.c.sendline("for w in one two; do")        # the loop waits for its done
    r.c.sendline("echo got-$w")
    r.c.sendline("done")
    r.c.expect_exact("got-one")
    r.c.expect_exact("got-two")
    r.c.expect_exact(PROMPT)


def test_a_here_document_typed_over_several_lines(repl):
    r = repl()
    r.c.sendline("tr a-z A-Z <<END")                 # the line waits for its END
    r.c.sendline("here-text")
    r.c.sendline("END")
    r.c.expect_exact("HERE-TEXT")
    r.c.expect_exact(PROMPT)


def test_an_if_and_a_while_read_typed_over_several_lines(repl, work):
    (work / "names.txt").write_text("ann\nbob\n")
    r = repl()
    r.c.sendline("if test -e names.txt; then")       # the if waits for its fi
    r.c.sendline("echo has-names")
    r.c.sendline("else")
    r.c.sendline("echo no-names")
    r.c.sendline("fi")
    r.c.expect_exact("has-names")
    r.c.expect_exact(PROMPT)
    r.c.sendline("cat names.txt | while read n")
    r.c.sendline("do echo hello-$n")
    r.c.sendline("done")
    r.c.expect_exact("hello-ann")
    r.c.expect_exact("hello-bob")
    r.c.expect_exact(PROMPT)


def test_bang_bang_runs_the_previous_line_again(repl):
    r = repl()
    r.c.sendline("echo bang-one")
    r.c.expect_exact("bang-one")
    r.c.expect_exact(PROMPT)
    r.c.sendline("!! two")                          # shown as it runs, then run
    r.c.expect_exact("echo bang-one two")
    r.c.expect_exact("bang-one two")
    r.c.expect_exact(PROMPT)
    r.c.sendline("echo last !$")
    r.c.expect_exact("last two")


def test_history_expansion_replaces_whole_words_outside_quotes():
    from nlsh.repl import expand_history
    assert expand_history("!!", "ls -l") == "ls -l"
    assert expand_history("sudo !! && echo !$", "rm a b") == "sudo rm a b && echo b"
    assert expand_history("echo 'hi!!' x!!", "ls") == "echo 'hi!!' x!!"      # quoted or inside a word: kept
    assert expand_history("!ls", "pwd") == "!ls"                              # $SHELL's line, not an event
    with pytest.raises(ValueError, match="!!: event not found"):
        expand_history("!!", None)


def test_ctrl_z_builtin_runs_on_and_fg_brings_it_back(repl):
    r = repl()
    r.c.sendline("sleep 1 && echo finished-now")
    time.sleep(0.4)
    r.c.sendcontrol("z")
    r.c.expect_exact("[1]+ Running")
    r.c.expect_exact(PROMPT)
    r.c.sendline("fg")
    r.c.expect_exact("finished-now")
    r.c.expect_exact(PROMPT)
    r.run("jobs | count", "0")


def test_bg_resumes_stopped_program_and_exit_warns(repl):
    r = repl()
    r.c.sendline("/bin/sleep 30")
    time.sleep(0.5)
    r.c.sendcontrol("z")
    r.c.expect_exact("[1]+ Stopped")
    r.c.expect_exact(PROMPT)
    r.c.sendline("bg %1")
    r.c.expect_exact("[1]+ /bin/sleep 30 &")
    r.c.expect_exact(PROMPT)
    r.run("jobs | get state", "running")
    r.c.sendline("exit")
    r.c.expect_exact("there are 1 running jobs; exit again")
    r.c.expect_exact(PROMPT)
    r.c.sendline("exit")
    r.c.expect(pexpect.EOF)


def test_ctrl_c_in_fg_job_cancels_it(repl):
    r = repl()
    r.c.sendline("sleep 30 &")
    r.c.expect_exact("[1] started")
    r.c.expect_exact(PROMPT)
    r.c.sendline("fg %1")
    time.sleep(0.5)
    r.c.sendintr()
    r.c.expect_exact("[130]")


def answer(r: Repl, text: str) -> None:
    """Answer the confirmation prompt once it is listening (people do not type ahead of it)."""
    time.sleep(0.5)
    r.c.send(text)
    time.sleep(0.2)
    r.c.send("\r")


def test_commands_print_while_the_model_loads(repl, model_path):
    # the model loads behind the prompt; llama-cpp-python pointed fds 1 and 2
    # at /dev/null meanwhile, so what the user ran then printed nothing
    r = repl(NLSH_MODEL=model_path)
    start, n = time.monotonic(), 0
    while time.monotonic() - start < 5:
        before = r.run(f'echo "out-$((6*7))-{n}"; echo "err-$((6*7))-{n}" >&2', f"err-42-{n}")
        assert f"out-42-{n}" in before
        n += 1


def test_read_takes_a_line_typed_at_the_terminal(repl):
    r = repl()
    r.c.sendline('q=name; read -p "$q? " n; echo "got-$n-$?"')
    r.c.expect_exact("name? ")
    r.c.sendline("ann lee")
    r.c.expect_exact("got-ann lee-0")
    r.c.expect_exact(PROMPT)
    r.c.sendline('q=password; read -s -p "$q? " pw; echo "${#pw}-chars"')
    r.c.expect_exact("password? ")
    r.c.sendline("hush")
    r.c.expect_exact("4-chars")
    assert "hush" not in r.c.before            # not shown as it is typed
    r.c.expect_exact(PROMPT)
    r.c.sendline('w=wai; read -p "${w}ting> " x; echo "never"')
    r.c.expect_exact("waiting> ")               # the read has begun
    r.c.sendcontrol("c")                        # Ctrl-C leaves the read and the line
    r.c.expect_exact(PROMPT)
    r.run("echo after-$((1+1))", "after-2")
    r.c.sendline('q=go; read -n 1 -p "$q on? " k; echo "key-$k-$?"')
    r.c.expect_exact("go on? ")
    r.c.send("y")                               # one key, no Enter: read -n 1 returns at once
    r.c.expect_exact("key-y-0")
    r.c.expect_exact(PROMPT)
    r.c.sendline('t=0.3; read -t $t -p "quick? " k; echo "timed-$?"')
    r.c.expect_exact("timed-142")               # nothing typed: it gives up


def test_planned_delete_asks_dry_run_decline_edit(repl, work, model_path):
    (work / "old.log").write_text("x" * 10)
    r = repl(NLSH_MODEL=model_path)
    r.c.timeout = 290   # a fresh cache evaluates the whole prompt prefix first (minutes on a slow build)
    r.c.sendline("delete the file old.log")
    r.c.expect_exact("plan")
    r.c.expect(r"rm(\x1b\[[0-9;]*m)* old\.log")
    r.c.expect_exact("deletes 1 path")
    r.c.expect_exact("run? [Y/n/e/?/d]")
    answer(r, "d")
    r.c.expect_exact("would delete 1 file (10 B): old.log")
    r.c.expect_exact("in a trial run (status 0; nothing here changed):")     # the sandbox's true preview
    r.c.expect_exact("- old.log")
    r.c.expect_exact("run? [Y/n/e/?/d]")
    assert (work / "old.log").exists()
    answer(r, "?")
    r.c.expect_exact("rm old.log: Remove files")
    r.c.expect_exact("run? [Y/n/e/?/d]")
    answer(r, "n")
    r.c.expect_exact("[1]")
    r.c.expect_exact(PROMPT)
    assert (work / "old.log").exists()
    r.c.sendline("delete the file old.log, it's not needed")     # Enter sends it: an apostrophe opens no quote
    r.c.expect_exact("run? [Y/n/e/?/d]")
    answer(r, "e")
    r.c.expect(r"❯ (\x1b\[[0-9;]*m)*rm(\x1b\[[0-9;]*m)* old\.log")
    time.sleep(0.5)
    r.c.send("\r")
    r.c.expect_exact(PROMPT)
    time.sleep(0.5)
    assert not (work / "old.log").exists()
    r.run("undo", "restored old.log")
    assert (work / "old.log").exists()


def test_highlighting_marks_command_words_and_loop_keywords():
    import io

    from prompt_toolkit.document import Document

    from nlsh.repl import ShellLexer
    from nlsh.session import Shell
    shell = Shell(out=io.StringIO(), err=io.StringIO())
    line = ShellLexer(shell).lex_document(Document("for f in a; do echo $f; done; lsx -l 'q'"))(0)
    styles = {piece: style for style, piece in line}
    assert styles["for"] == styles["do"] == styles["echo"] == styles["done"] == "class:known"
    assert (styles["lsx"], styles["-l"], styles["'q'"], styles["$f"]) == ("class:unknown", "class:flag", "class:string", "")
    line = ShellLexer(shell).lex_document(Document("if true; then pwd; else date; fi"))(0)
    styles = {piece: style for style, piece in line}
    assert {styles[w] for w in ("if", "true", "then", "pwd", "else", "date", "fi")} == {"class:known"}
    line = ShellLexer(shell).lex_document(Document("{ pwd; }; (date)"))(0)
    styles = {piece: style for style, piece in line}
    assert {styles[w] for w in ("{", "pwd", "}", "date")} == {"class:known"}
    line = ShellLexer(shell).lex_document(Document("for ((i=0; i<3; i++)); do ((n += i)); done"))(0)
    styles = {piece: style for style, piece in line}
    assert {styles[w] for w in ("for", "((i=0; i<3; i++))", "do", "((n += i))", "done")} == {"class:known"}
    line = ShellLexer(shell).lex_document(Document("[[ -f x ]] && echo"))(0)
    assert line[:3] == [("class:known", "[[ -f x ]]"), ("", " "), ("class:op", "&&")]


def test_an_interpreter_typed_alone_runs_what_the_user_types_uncontained(repl, work, tmp_path):
    """`python3` at the prompt is the user typing code (their own trust, as in bash);
    the same code handed over as -c would run contained (tests/test_monitor.py)."""
    target = tmp_path / "outside-the-working-directory.txt"
    r = repl()
    r.c.sendline("python3 -q")
    r.c.expect_exact(">>> ")
    r.c.sendline(f"open({str(target)!r}, 'w').write('typed')")
    r.c.expect_exact(">>> ")
    r.c.sendline("exit()")
    r.c.expect_exact(PROMPT)
    assert target.read_text() == "typed"


def test_two_shells_plan_through_one_model_service(repl, work, model_path, nlsh_home):
    """Two interactive shells with the model service on: both plans come from one daemon."""
    import json
    import subprocess

    import psutil
    (work / "notes.txt").write_text("a\nb\nc\n")
    shells = [repl(NLSH_MODEL=model_path, NLSH_SERVE="1") for _ in range(2)]
    try:
        for r in shells:
            r.c.timeout = 290
            r.c.sendline("count the lines in notes.txt")
            r.c.expect_exact("plan")
            r.c.expect(r"\r\n3( notes\.txt)?\r\n")
            r.c.expect_exact(PROMPT)
        env = {**os.environ, "NLSH_HOME": str(nlsh_home)}
        status = json.loads(subprocess.run([sys.executable, "-m", "nlsh", "serve", "status", "--json"], env=env,
                                           capture_output=True, text=True, check=True).stdout)
        shell_pids = {r.c.pid for r in shells}
        clients = {int(c.split(":")[1]) for c in status["clients"] if c.startswith("interactive:")}
        assert clients == shell_pids and status["model"] == "qwen2.5-coder-1.5b"
        for pid in shell_pids:                               # neither shell holds the model itself
            assert psutil.Process(pid).memory_info().rss < 400 * 2**20
    finally:
        for r in shells:
            r.close()
        subprocess.run([sys.executable, "-m", "nlsh", "serve", "stop"], env={**os.environ, "NLSH_HOME": str(nlsh_home)},
                       capture_output=True, check=False)



def wait_for(r: Repl, line: str, pattern: str, seconds: float = 240) -> None:
    """Type ``line`` until what it prints matches ``pattern`` (a background job's state)."""
    deadline = time.time() + seconds
    while True:
        r.c.sendline(line)
        if r.c.expect([pattern, pexpect.TIMEOUT], timeout=2) == 0:
            r.c.expect_exact(PROMPT)
            return
        assert time.time() < deadline, f"{line!r} never printed {pattern!r}"
        time.sleep(1)


def test_a_background_agent_stops_at_a_question_until_fg(repl, work, model_path, nlsh_home):
    """A step that needs a confirmation stops the background agent (like a program
    reading the terminal); the shell says so; ``fg`` asks; the answer lets it run."""
    (work / "old.log").write_text("x\n")
    r = repl(NLSH_MODEL=model_path)
    r.c.timeout = 290
    r.run("agent 'delete the file old.log' &", "[1] started")
    wait_for(r, "jobs", r"\[1\]\+ Stopped \(a step needs your answer: fg %1\)  rm old\.log")
    r.c.sendline("jobs")
    r.c.expect(r"%1\s+stopped")
    r.c.expect_exact(PROMPT)
    assert (work / "old.log").exists()
    r.c.sendline("fg")
    r.c.expect_exact("run? [Y/n/e/?/d]")
    answer(r, "y")
    r.c.expect_exact(PROMPT)
    deadline = time.time() + 60
    while (work / "old.log").exists() and time.time() < deadline:
        time.sleep(0.2)
    assert not (work / "old.log").exists()
    import sqlite3
    rows = sqlite3.connect(nlsh_home / "data" / "nlsh.db").execute(
        "SELECT typed, decision, decided_by, status, agent FROM audit WHERE agent IS NOT NULL").fetchall()
    assert rows == [("rm old.log", "allowed", "user", 0, "#1: delete the file old.log")]


def test_kill_ends_a_running_agent_and_its_programs(repl, work, model_path):
    import psutil
    r = repl(NLSH_MODEL=model_path)
    r.c.timeout = 290
    r.run("agent --yes 'run the command /bin/sleep 300 and wait until it ends' &", "[1] started")   # a program
    me = psutil.Process(r.c.pid)

    def sleeping() -> bool:
        names = []
        for p in me.children(recursive=True):
            try:
                names.append(p.name())
            except psutil.NoSuchProcess:         # it ended between the listing and the look
                pass
        return "sleep" in names
    deadline = time.time() + 240
    while not sleeping():
        assert time.time() < deadline, "the agent never started sleep"
        time.sleep(0.3)
    r.c.sendline("jobs -l | get doing")         # the one column, whatever the terminal's width
    r.c.expect(r"step 1/8: [^\n]*sleep")
    r.c.expect_exact(PROMPT)
    r.c.sendline("kill %1")
    r.c.expect_exact(PROMPT)
    deadline = time.time() + 20
    while sleeping() and time.time() < deadline:
        time.sleep(0.2)
    assert not sleeping()
    wait_for(r, "history --agents", r"cancelled", 30)


def test_a_foreground_agent_asks_at_the_prompt_before_a_step_that_deletes(repl, work, model_path):
    (work / "old.txt").write_text("x\n")
    r = repl(NLSH_MODEL=model_path)
    r.c.timeout = 290
    r.c.sendline("?? delete the file old.txt")
    r.c.expect_exact("agent [1] rm old.txt")
    r.c.expect_exact("run? [Y/n/e/?/d]")
    assert (work / "old.txt").exists()
    answer(r, "n")                               # declined: the run ends, nothing deleted
    r.c.expect_exact("agent: stopped: you declined step 1")
    r.c.expect_exact(PROMPT)
    assert (work / "old.txt").exists()


def test_a_typed_line_that_usually_runs_long_is_offered_the_background(repl, work, job_records):
    job_records("/bin/sleep 5", str(work), wall=300.0)      # the same NLSH_HOME as the shell's
    job_records("/bin/sleep 1", str(work), wall=300.0)
    r = repl()
    r.c.sendline("/bin/sleep 5")
    r.c.expect_exact("usually about 5 min, from 3 runs")
    r.c.expect_exact("run it in the background? [y/N]")
    r.c.sendline("y")
    r.c.expect_exact("[1] started")
    r.c.expect_exact(PROMPT)
    r.run("jobs | get state", "running")
    r.c.sendline("/bin/sleep 0.1")            # a line with no history runs as it is, unasked
    r.c.expect_exact(PROMPT)
    assert "background?" not in r.c.before
    r.c.sendline("/bin/sleep 1; echo ran-here")
    r.c.expect_exact("run it in the background? [y/N]")
    r.c.sendline("")                          # the default, no: it runs in front
    r.c.expect_exact("ran-here")
    r.c.expect_exact(PROMPT)
    assert "started" not in r.c.before
