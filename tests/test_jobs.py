"""Jobs: background work, job control, cancellation, accounting, limits, queueing."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import threading
import time

import psutil
import pytest

from nlsh.kernel.context import Args, Context
from nlsh.registry import command
from nlsh.session import Shell, run_script_lines
from nlsh.wiring import default_registry

PY = sys.executable


def make_shell(work, registry=None) -> Shell:
    shell = Shell(registry=registry, out=io.StringIO(), err=io.StringIO())
    shell.cwd = str(work)
    return shell


def run(shell: Shell, text: str) -> int:
    return run_script_lines(shell, text.split("\n"))


def worker_threads() -> list[str]:
    return [t.name for t in threading.enumerate()
            if t.name.startswith("nlsh-") and t.name not in ("nlsh-sampler", "nlsh-store")]


@command("burn", "Burn CPU for about a second (test command).", output="none")
def burn(ctx: Context, a: Args) -> None:
    end = time.thread_time() + 1.0
    while time.thread_time() < end:
        ctx.check()
        sum(range(1000))


def test_background_jobs_and_wait(work):
    shell = make_shell(work)
    run(shell, "sleep 0.5 && echo done-1 &\njobs\nwait\necho $?")
    out, err = shell.out.getvalue(), shell.err.getvalue()
    assert out.splitlines()[0].startswith("%1\trunning\t")
    assert "done-1" in out and out.splitlines()[-1] == "0"
    assert "[1] started" in err
    shell.shutdown()


def test_wait_returns_job_status(work):
    shell = make_shell(work)
    run(shell, "sh -c 'exit 3' &\nwait %1\necho $?\nsh -c 'exit 4' &\nwait\necho $?")
    assert shell.out.getvalue().splitlines()[-2:] == ["3", "0"]     # plain wait: 0, as in bash
    shell.shutdown()


@pytest.mark.parametrize("kill, status, word", [("kill", 143, "Terminated"), ("kill -INT", 130, "Cancelled"),
                                               ("kill -s INT", 130, "Cancelled"), ("kill -15", 143, "Terminated"),
                                               ("kill -SIGKILL", 137, "killed"), ("kill -9", 137, "killed")])
def test_a_killed_job_ends_with_128_plus_the_signal_as_in_bash(work, kill, status, word):
    shell = make_shell(work)
    run(shell, f"sleep 60 &\nsh -c 'sleep 60' &\n{kill} %1\n{kill} %2\nwait %1\necho $?\nwait %2\necho $?")
    assert shell.out.getvalue().splitlines()[-2:] == [str(status), str(status)]
    assert f"[2] {word}" in shell.err.getvalue() + "\n".join(shell.jobs.reap_notices())
    shell.shutdown()


def test_kill_says_what_is_wrong_with_its_words(work):
    shell = make_shell(work)
    run(shell, "kill -INT\nkill -9 -INT 99999\nkill -FOO 99999\nkill -HUP 1\nkill --bogus 99999")
    assert shell.err.getvalue().splitlines() == [
        "nlsh: kill: no process or job to signal (kill [-SIGNAL] PID|%JOB …)",
        "nlsh: kill: two signals given (-INT and -9)",
        "nlsh: kill: unknown signal 'FOO' (try TERM, KILL, INT, HUP, STOP, CONT)",
        "nlsh: refused: signalling process 1 is never allowed",
        "nlsh: kill: unknown signal '-bogus' (try TERM, KILL, INT, HUP, STOP, CONT)"]   # never /bin/kill
    shell.shutdown()


def test_a_background_line_changes_nothing_in_the_shell_as_in_bash(work):
    (work / "sub").mkdir()
    shell = make_shell(work)
    run(shell, "cd sub &\nexport Y=2 &\nalias zz=ls &\nwait\npwd\necho \"[$Y]\"")
    assert shell.out.getvalue().splitlines()[-2:] == [str(work), "[]"]
    assert shell.cwd == str(work) and "Y" not in shell.env and "zz" not in shell.aliases
    shell.shutdown()


def test_a_job_reported_as_ended_still_answers_wait_and_never_the_asking_job(work):
    shell = make_shell(work)
    run(shell, "sh -c 'exit 3' &")
    assert shell.jobs.get("%1").wait(timeout=10)
    shell.report_finished_jobs()                     # "[1] Exit 3": job 1 leaves the table
    assert shell.jobs.list() == []
    done = threading.Event()
    threading.Thread(target=lambda: (run(shell, "wait %1\necho $?\nfg %1\nwait %2"), done.set()),
                     daemon=True).start()
    assert done.wait(timeout=10), "wait %1 waited on itself"   # its own job is %1 now
    assert shell.out.getvalue().splitlines()[-1] == "3"
    err = shell.err.getvalue()
    assert "job %1 has already ended" in err and "%2: no such job" in err
    shell.shutdown()


@pytest.mark.parametrize("line", ["sleep 60", "find / -name nothing-matches-this", "tail -f /dev/null",
                                  "burn", "yes | count", "yes | sort"])
def test_cancel_each_long_running_builtin(work, line):
    reg = default_registry()
    reg.register(burn)
    shell = make_shell(work, reg)
    run(shell, line + " &")
    job = shell.jobs.get("%1")
    time.sleep(0.3)
    job.terminate("test")
    assert job.wait(timeout=5), f"{line} did not stop"
    assert job.state in ("cancelled", "killed")
    time.sleep(0.2)
    assert worker_threads() == []
    shell.shutdown()


def test_kill_reaches_the_whole_process_tree(work):
    shell = make_shell(work)
    run(shell, "sh -c 'sleep 100 & sleep 100; wait' &")
    job = shell.jobs.get("%1")
    time.sleep(0.5)
    tree = [psutil.Process(p.pid) for p in job.processes]
    tree += [c for p in tree for c in p.children(recursive=True)]
    assert len(tree) >= 3
    run(shell, "kill %1")
    assert job.wait(timeout=5)
    time.sleep(0.3)
    alive = [p for p in tree if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert alive == []
    shell.shutdown()


def test_cpu_accounting_threads_and_processes(work):
    reg = default_registry()
    reg.register(burn)
    shell = make_shell(work, reg)
    run(shell, "burn")
    run(shell, f"{PY} -c \"import time; exec('while time.process_time() < 1: pass')\"")
    shell.store.flush()
    rows = shell.store.query("SELECT command, cpu_user + cpu_system AS cpu FROM jobs ORDER BY id")
    assert rows[0]["command"] == "burn" and rows[0]["cpu"] >= 0.8
    assert rows[1]["cpu"] >= 0.8
    shell.shutdown()


def test_peak_rss_of_a_child(work):
    shell = make_shell(work)
    run(shell, f"{PY} -c 'x = b\"a\" * (210 * 1024 * 1024)'")
    shell.store.flush()
    (row,) = shell.store.query("SELECT peak_rss FROM jobs")
    assert row["peak_rss"] >= 200 * 1024 * 1024
    shell.shutdown()


def test_time_reports_a_lines_times_on_stderr_as_bash_does(sh, nlsh):
    r = sh(f"time {PY} -c 'sum(range(3 * 10 ** 6))' && echo ok")
    assert r.out == "ok\n"
    lines = dict(line.split("\t") for line in r.err.strip().split("\n"))
    assert set(lines) == {"real", "user", "sys"}
    mins, secs = lines["user"].removesuffix("s").split("m")
    assert int(mins) * 60 + float(secs) > 0.01        # the program's own CPU time, counted
    r = sh("time -p sleep 0.2")
    real, user, sys_ = (line.split() for line in r.err.strip().split("\n"))
    assert real[0] == "real" and float(real[1]) >= 0.2 and user[0] == "user" and sys_[0] == "sys"
    r = nlsh("-c", f"time -v {PY} -c 'x = bytearray(60 * 10 ** 6)'")
    peak = r.err.strip().split("\n")[-1].split("\t")
    assert peak[0] == "peak memory" and peak[1].endswith("MB") and float(peak[1].split()[0]) >= 60
    assert "no program ran" in sh("time -v echo hi").err
    r = sh("time")
    assert r.status == 2 and r.err == "nlsh: time: missing the command to run\n"
    r = sh("for f in a; do time echo $f; done")
    assert r.status == 2 and "limit, nice, batch and time apply to a whole line" in r.err


def test_jobs_long_shows_live_accounting(work):
    shell = make_shell(work)
    shell.jobs.sampler.interval = 0.1
    run(shell, f"{PY} -c 'x = b\"a\" * (60 * 1024 * 1024); import time; time.sleep(3)' &")
    time.sleep(1.5)
    run(shell, "jobs -l | where job == %1 | get rss")
    rss = int(shell.out.getvalue().split()[-1])
    assert rss >= 60 * 1024 * 1024
    shell.shutdown()


@pytest.mark.parametrize("limit,line,message", [
    ("--time 1s", "sleep 10", "time limit 1s exceeded"),
    ("--cpu 500ms", "for i in 1 2 3 4 5; do burn; done", "CPU limit 500ms exceeded"),
    ("--output 1kB", "yes", "output limit 1.0 kB exceeded"),
])
def test_limits_are_enforced(work, limit, line, message):
    reg = default_registry()
    reg.register(burn)
    shell = make_shell(work, reg)
    status = run(shell, f"limit {limit} -- {line}")       # each would run on for seconds past its limit
    shell.report_finished_jobs()
    assert status == 137
    assert f"[1] killed: {message}" in shell.err.getvalue()
    shell.shutdown()


def test_batch_queue_runs_by_priority(work):
    shell = make_shell(work)
    shell.jobs.cores = 1
    run(shell, "batch sleep 0.5 &\nbatch nice -n 10 echo low &\nbatch echo high &\njobs")
    out = shell.out.getvalue()
    assert "queued #2 (after %3)\t0s\tbatch nice -n 10 -- echo low" in out
    assert "queued #1 (needs 1 CPU core, 0 CPU cores free)\t0s\tbatch echo high" in out
    first, low, high = (shell.jobs.get(f"%{i}") for i in (1, 2, 3))
    run(shell, "wait")
    assert first.ended <= high.started <= high.ended <= low.started
    shell.shutdown()


def test_job_records_in_sqlite(work):
    shell = make_shell(work)
    run(shell, "echo hi\nsh -c 'exit 2'\nhistory --jobs")
    out = shell.out.getvalue().splitlines()
    assert out[-2].endswith("\tdone\t0\t" + out[-2].split("\t")[4] + "\t" + out[-2].split("\t")[5] + "\t"
                            + out[-2].split("\t")[6] + "\t0\t0s\there\techo hi")     # no model tokens, no model time
    assert "\tfailed\t2\t" in out[-1] and out[-1].endswith("sh -c 'exit 2'")
    run(shell, "echo last")
    writers = sum(t.name == "nlsh-store" for t in threading.enumerate())
    shell.shutdown()                                  # writes what is queued, then its writer ends
    assert sum(t.name == "nlsh-store" for t in threading.enumerate()) == writers - 1
    rows = shell.store.query("SELECT command FROM jobs ORDER BY rowid DESC LIMIT 1")
    assert rows[0]["command"] == "echo last"


def test_records_keep_bytes_that_are_not_utf8_and_a_store_that_cannot_be_written_is_one_warning(nlsh, work):
    p = subprocess.run([sys.executable, "-m", "nlsh"], input=b"echo x > a\xffb\nhistory --jobs | last 1 | get command\n",
                       cwd=work, capture_output=True, timeout=60, check=False)
    assert (p.returncode, p.stdout, p.stderr) == (0, b"echo x > 'a\\xffb'\n", b"")   # canonical text
    assert (work / os.fsdecode(b"a\xffb")).read_text() == "x\n"
    (work / "home").write_text("a file where nlsh's folders would go\n")
    r = nlsh("-c", "echo one\necho two", env={"NLSH_HOME": str(work / "home")})
    assert (r.status, r.out) == (0, "one\ntwo\n")
    assert r.err == (f"nlsh: cannot use {work / 'home' / 'data' / 'nlsh.db'}: Not a directory "
                     "(job records, the audit log and remembered plans are not kept)\n")
    (work / "home").unlink()
    (work / "home" / "data").mkdir(parents=True)
    (work / "home" / "data" / "nlsh.db").write_text("not a database, just text that is long enough to be read\n")
    r = nlsh("-c", "echo three\nhistory --jobs\necho four", env={"NLSH_HOME": str(work / "home")})
    assert (r.status, r.out) == (0, "three\nfour\n")         # a broken file is one warning too
    assert r.err == (f"nlsh: cannot use {work / 'home' / 'data' / 'nlsh.db'}: file is not a database "
                     "(job records, the audit log and remembered plans are not kept)\n")
    r = nlsh("-c", "echo five; touch made", env={"NLSH_HOME": str(work / "home")})   # a change is never unrecorded
    assert r.status == 126 and r.out == "" and "not run: the audit log cannot be written" in r.err
    assert not (work / "made").exists()


def test_modifiers_round_trip_in_plans(work):
    from nlsh.lang import parse, text
    reg = default_registry()
    plan = parse("batch nice -n 5 limit --time 1m --mem 512MB -- make -j2 && echo ok &", reg)
    assert text(plan, reg.signature) == "batch nice -n 5 -- limit --time 1m --mem 512MB -- make -j2 && echo ok &"
    assert parse(text(plan, reg.signature), reg) == plan
    plan = parse("time -p make", reg)
    assert text(plan, reg.signature) == "time -p -- make" and parse("time -p -- make", reg) == plan


def test_job_table_with_no_leaked_threads_after_many_jobs(work):
    shell = make_shell(work)
    for _ in range(50):
        run(shell, "ls | sort name | first 2 | count")
    time.sleep(0.2)
    assert worker_threads() == []
    shell.shutdown()




def test_background_output_beyond_the_cap_spills_to_a_file_and_comes_back(work):
    from nlsh.kernel import job as jobmod
    shell = make_shell(work)
    n = jobmod.MEMORY_CAP * 3
    run(shell, f"seq 1 {n} | tr 0 0 &")
    job = shell.jobs.get("%1")
    assert job.wait(timeout=60)
    assert job._spill is not None and len(job._buffer) <= jobmod.MEMORY_CAP
    shell.report_finished_jobs()
    lines = shell.out.getvalue().split()
    assert lines == [str(i) for i in range(1, n + 1)]
    shell.shutdown()


def test_jobs_w_without_a_terminal_prints_the_table_once(sh):
    r = sh("sleep 3 &\njobs -w\nkill %1")
    assert "sleep 3" in r.out, r.err
