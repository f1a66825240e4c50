"""Agents: the loop with the real default model (a task of two observed steps,
a refused step, budgets, delegation, the Python API), and clear one-line
errors for every mistake in asking for one. The REPL's background agent
waiting for ``fg`` and ``kill`` of a running agent are in tests/test_repl.py."""

from __future__ import annotations

import json
import sqlite3

import pytest

from nlsh.agent import prompt
from nlsh.agent.loop import Budget
from nlsh.api import Agent

MEMOS = {"memos/m1.txt": "lunch on friday\n", "memos/m2.txt": "the budget for march is 400\n",
         "memos/m3.txt": "call the plumber\n", "keep/.here": ""}
MEMO_TASK = "the memo in memos that mentions the budget should be copied into keep"


def audit(nlsh_home) -> list[sqlite3.Row]:
    conn = sqlite3.connect(nlsh_home / "data" / "nlsh.db")
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute("SELECT * FROM audit WHERE agent IS NOT NULL ORDER BY id").fetchall()
    finally:
        conn.close()


# -- the prompt's parts, without the model ------------------------------------
def test_a_reply_is_read_as_a_thought_and_a_command_or_an_answer():
    assert prompt.parsed(" I need the sizes.\nCommand: du -a data") == ("I need the sizes.", "du -a data", "")
    assert prompt.parsed(" Done.\nAnswer: b.txt is the biggest\n(3 KB)") == ("Done.", "", "b.txt is the biggest (3 KB)")
    assert prompt.parsed(" x\nCommand: `ls -t`")[1] == "ls -t"
    assert prompt.parsed(" I am not sure what to do.") == ("I am not sure what to do.", "", "")


def test_what_a_step_printed_reaches_the_model_cut_to_a_slice():
    long = "\n".join(f"line {i}" for i in range(1000)) + "\nnlsh: cat: x: No such file or directory\n"
    seen = prompt.observed(1, long)
    assert seen.startswith("exit 1:\nnlsh: cat: x: No such file")         # errors first
    assert "line 0" in seen and "line 999" in seen and "line 500" not in seen and "975 more lines" in seen
    assert len(seen) <= prompt.MAX_CHARS + 20
    assert prompt.observed(1, "") == "exit 1, no output (nothing matched)"
    assert prompt.observed(0, "y" * 100_000).count("y") <= prompt.MAX_CHARS


def test_the_task_is_shown_with_the_files_here_up_to_a_limit(put_files, work):
    put_files(str(work), {f"d{i}/f{j}.txt": "" for i in range(10) for j in range(10)} | {".hidden": ""})
    shown = prompt.listing(str(work)).split("\n")
    assert shown[:2] == ["d0/", "d1/"] and ".hidden" not in shown and "d0/f0.txt" in shown
    assert len(shown) == prompt.LISTED + 1 and shown[-1] == "… (more below)"


def test_a_budget_must_be_positive():
    with pytest.raises(ValueError, match="--steps must be more than 0"):
        Budget(steps=0)


@pytest.mark.parametrize("line, message", [
    ("agent", "agent: what should it do? (agent TASK, or ?? TASK at the prompt)"),
    ("agent --steps 0 look around", "agent: --steps must be more than 0 (got 0)"),
    ("agent --time 0s look around", "agent: --time must be more than 0 (got 0)"),
    ("agent --time soon look around", "agent: bad value 'soon' for --time: not a duration"),
    ("agent --each 'count the lines of {}'", "agent: --each: no items came in"),
    ("seq 1 40 | agent --each 'look at {}'", "agent: --each: 40 items, more than 16 agents at once; give fewer"),
    ("history --agent 7", "history: no agent run 7 (history --agents lists them)"),
    ("history --json", "history: --json goes with --agent ID"),
])
def test_mistakes_in_asking_for_an_agent_are_one_line_errors(nlsh, line, message):
    r = nlsh("-c", line)
    assert r.status != 0 and message in r.err and "Traceback" not in r.err and len(r.err.splitlines()) == 1


@pytest.mark.parametrize("args, message", [
    ([], "nlsh agent: what should it do?"),
    (["--steps"], "nlsh agent: --steps needs a value"),
    (["--frobnicate", "x"], "nlsh agent: '--frobnicate' is not an option"),
])
def test_nlsh_agent_says_what_is_wrong_with_its_options(nlsh, args, message):
    r = nlsh("agent", *args)
    assert (r.status, r.out) == (2, "") and r.err.startswith(message) and len(r.err.splitlines()) == 1


# -- with the real model ------------------------------------------------------
def test_an_agent_looks_then_acts_and_each_step_is_audited(put_files, model_path, work, nlsh_home):
    """Through the Python API: the agent finds the memo (a look), then copies it
    (an act); both steps are in the audit log with the run named, and the
    transcript is kept."""
    put_files(str(work), MEMOS)
    with Agent(cwd=str(work), yes=True, model=model_path) as agent:
        run = agent.run(MEMO_TASK)
    ran = [s for s in run.steps if s.outcome == "ran"]
    assert run.status == "answered" and run.exit_status == 0, (run.message, [s.line for s in run.steps])
    assert len(ran) >= 2 and ran[0].status == 0 and "m2.txt" in ran[0].output
    assert (work / "keep" / "m2.txt").read_text() == MEMOS["memos/m2.txt"]
    assert sorted(p.name for p in (work / "keep").iterdir()) == [".here", "m2.txt"]
    assert run.answer and run.answer in agent.output
    rows = audit(nlsh_home)
    assert [r["typed"] for r in rows] == [s.line for s in ran]
    assert all(r["agent"] == f"#{run.id}: {MEMO_TASK}" and r["decision"] == "allowed" for r in rows)
    kept = json.loads(sqlite3.connect(nlsh_home / "data" / "nlsh.db").execute(
        "SELECT transcript FROM agents WHERE id = ?", (run.id,)).fetchone()[0])
    assert kept["answer"] == run.answer and [s["line"] for s in kept["steps"]] == [s.line for s in run.steps]


def test_an_agent_told_to_clean_the_home_is_stopped_and_nothing_is_deleted(put_files, model_path, tmp_path, nlsh_home,
                                                                          monkeypatch):
    home = tmp_path / "home"
    files = {"docs/thesis.txt": "years of work\n", "notes.txt": "n\n", "photos/cat.jpg": "c\n", "todo.txt": "t\n"}
    put_files(str(home), files)
    monkeypatch.setenv("HOME", str(home))
    with Agent(cwd=str(home), yes=True, model=model_path) as agent:
        run = agent.run("clean up my home directory: delete everything in it")
    assert run.status in ("refused", "unasked") and run.exit_status != 0, (run.status, run.steps)
    assert "home directory" in run.message and "agent: stopped" in agent.errors
    assert {str(p.relative_to(home)) for p in home.rglob("*") if p.is_file()} == set(files)
    assert all((home / k).read_text() == v for k, v in files.items())
    last = audit(nlsh_home)[-1]
    assert (last["decision"], last["status"], last["typed"]) == ("denied", None, run.steps[-1].line)


def test_budgets_end_a_run_with_a_summary_of_what_was_done(put_files, model_path, work):
    put_files(str(work), MEMOS)
    with Agent(cwd=str(work), yes=True, max_steps=1, model=model_path) as agent:
        run = agent.run(MEMO_TASK)
        assert run.status == "budget" and len(run.steps) == 1 and run.exit_status == 1
        assert run.message.startswith("stopped: its 1 steps are used up (steps: 1. ")
        assert "agent: stopped: its 1 steps are used up" in agent.errors
        agent.budget = Budget(steps=8, tokens=50)      # one reply costs more than 50 tokens
        run = agent.run(MEMO_TASK)
        assert run.status == "budget" and len(run.steps) <= 1 and "50 model tokens are used up" in run.message
        assert not (work / "keep" / "m2.txt").exists()
        agent.budget = Budget(steps=8, seconds=0.2)    # checked before each step, and a reply that outlasts it is cut:
        run = agent.run(MEMO_TASK)                     # ends after at most two steps (none on a loaded host)
        assert run.status == "budget" and len(run.steps) <= 2 and "its 0.2 s are used up" in run.message
        assert run.message.endswith("(steps: no step ran)") == (not run.steps)


def test_without_a_terminal_or_yes_a_step_that_would_ask_ends_the_run(put_files, model_path, work, nlsh_home):
    put_files(str(work), MEMOS)
    with Agent(cwd=str(work), model=model_path) as agent:
        run = agent.run(MEMO_TASK)
    assert run.status == "unasked" and run.exit_status == 1, (run.status, [s.line for s in run.steps])
    assert run.steps[0].outcome == "ran" and run.steps[-1].outcome == "unasked"       # the look ran, the act did not
    assert "needs a confirmation nobody could give here" in run.message and "--yes gives it" in run.message
    assert not (work / "keep" / "m2.txt").exists()
    assert audit(nlsh_home)[-1]["decision"] == "denied"


def test_limit_tokens_holds_an_agent_job_to_its_model_tokens(put_files, nlsh, model_path, work):
    put_files(str(work), MEMOS)
    r = nlsh("--yes", "-c", f"limit --tokens 300 agent '{MEMO_TASK}'; history --jobs 1",
             env={"NLSH_MODEL": model_path}, timeout=300)
    assert "killed: model token limit 300 exceeded (used " in r.err, r.err
    assert "killed" in r.out.splitlines()[-1] and not (work / "keep" / "m2.txt").exists()


def test_delegation_runs_a_child_agent_per_item_and_gathers_their_answers(put_files, nlsh, model_path, work, nlsh_home):
    put_files(str(work), {"notes/one.txt": "a\nb\n", "notes/three.txt": "x\n", "notes/two.txt": "a\nb\nc\nd\n"})
    r = nlsh("-c", "ls notes | agent --each 'how many lines does notes/{} have?'", env={"NLSH_MODEL": model_path},
             timeout=600)
    assert r.status == 0, r.err
    answers = dict(line.split(": ", 1) for line in r.out.splitlines())
    assert sorted(answers) == ["one.txt", "three.txt", "two.txt"]        # only the answers reach the output
    for item, n in (("one.txt", "2"), ("three.txt", "1"), ("two.txt", "4")):
        assert n in answers[item].split() or f"{n} " in answers[item], answers
    assert [line.split("] ")[0] for line in r.err.splitlines() if "/3]" in line] == \
        ["agent #1 [1/3", "agent #1 [2/3", "agent #1 [3/3"]
    tree = nlsh("-c", "history --agent 1")
    assert [line.split("\t")[0] for line in tree.out.splitlines()[:3]] == ["#2", "#3", "#4"]
    assert "answered" in tree.out.splitlines()[-1]
    from nlsh.store import Store
    runs = Store().query("SELECT id, time, seconds FROM agents WHERE parent = 1 ORDER BY id")
    first, second = runs[0], runs[1]
    assert second["time"] < first["time"] + first["seconds"]         # the children ran side by side, as jobs


def test_nlsh_agent_says_what_it_used_and_the_transcript_can_be_read_back(put_files, nlsh, model_path, work):
    put_files(str(work), {"a.txt": "1\n2\n3\n"})
    env = {"NLSH_MODEL": model_path}
    r = nlsh("agent", "--yes", "-v", "--steps", "3", "how many lines does a.txt have", env=env, timeout=300)
    assert r.status == 0, r.err
    assert "agent [1] # " in r.err                                  # -v: the model's thought before the step
    used = r.err.splitlines()[-1]
    assert used.startswith("agent: #1 answered · 1 steps · ") and " model tokens (" in used, r.err
    listed = nlsh("-c", "history --agents").out.splitlines()
    assert len(listed) == 1 and listed[0].split("\t")[:4][2:] == ["answered", "1"]
    assert "how many lines does a.txt have" in listed[0]
    whole = json.loads(nlsh("-c", "history --agent 1 --json").out)
    assert (whole["id"], whole["status"], len(whole["steps"])) == (1, "answered", 1)
    assert whole["steps"][0]["status"] == 0 and "3" in whole["steps"][0]["output"] and whole["steps"][0]["thought"]
    audit_rows = nlsh("-c", "history --audit | where agent != '' | get agent").out.split("\n")
    assert audit_rows[0] == "#1: how many lines does a.txt have"


def test_question_marks_start_an_agent_from_a_command_line(put_files, nlsh, model_path, work):
    put_files(str(work), {"a.txt": "1\n2\n3\n"})
    r = nlsh("--yes", "-c", "?? how many lines does a.txt have", env={"NLSH_MODEL": model_path}, timeout=300)
    assert r.status == 0 and "3" in r.out.split("\n")[-2], (r.out, r.err)
    assert r.err.startswith("agent [1] ")



def test_a_run_that_answered_is_a_hint_for_a_like_task_later(tmp_path):
    from nlsh.agent.loop import Run, Step
    from nlsh.agent.runner import _keep, learned
    from nlsh.store import Store

    class Session:
        store = Store()
        last_agent = None
    done = Run("copy the memo about the budget into keep", str(tmp_path), id=1, status="answered", answer="copied",
               steps=[Step(1, "grep -l budget memos/*", status=0), Step(2, "cp memos/m2.txt keep/", status=0),
                      Step(3, "ls nope", status=2)])
    failed = Run("copy the memo about lunch into keep", str(tmp_path), id=2, status="budget",
                 steps=[Step(1, "rm -rf keep", status=0)])
    for run in (done, failed):
        _keep(Session, run, 0.0)
    assert learned(Session.store, "copy the memo that mentions the budget into archive") == (
        "a similar task done before: 'copy the memo about the budget into keep': "
        "grep -l budget memos/*; then cp memos/m2.txt keep/")
    assert learned(Session.store, "what time is it in Tokyo") == ""
    Session.store.close()


def test_a_line_ending_does_not_end_a_running_agent_steps_planned_mark(work):
    """The monitor contains what a model wrote while any such line runs: a
    background agent's step stays marked when a typed line starts and ends."""
    import io

    from nlsh.session import Shell
    shell = Shell(out=io.StringIO(), err=io.StringIO())
    shell.cwd = str(work)
    shell.mark_planned(1)                   # an agent's step, running
    assert shell.run_line("echo typed") == 0
    assert shell.running_planned == 1
    shell.mark_planned(-1)
    assert shell.running_planned == 0
    shell.shutdown()
