"""Resources: estimates from the records of earlier runs, batch admission by the
memory and CPU free, pausing under memory pressure, limits the kernel holds."""

from __future__ import annotations

import io
import os
import sys
import time

import psutil
import pytest

from nlsh.resources import cgroup
from nlsh.session import Shell, run_script_lines

PY = sys.executable
SLOW = "import os, sys, time; time.sleep(os.path.getsize(sys.argv[1]) / 10_000_000)"   # 0.1 s a MB


def make_shell(work) -> Shell:
    shell = Shell(out=io.StringIO(), err=io.StringIO())
    shell.cwd = str(work)
    return shell


def run(shell: Shell, text: str) -> int:
    return run_script_lines(shell, text.split("\n"))


def test_an_estimate_scales_with_the_input_from_real_runs(work):
    (work / "slow.py").write_text(SLOW)
    for name, mb in (("a.bin", 1), ("b.bin", 2), ("c.bin", 4), ("d.bin", 8)):
        (work / name).write_bytes(b"x" * mb * 1_000_000)
    shell = make_shell(work)
    assert shell.jobs.estimate_line(f"{PY} slow.py a.bin", str(work)) is None       # never ran: no estimate
    run(shell, f"{PY} slow.py a.bin\n{PY} slow.py b.bin\n{PY} slow.py c.bin")
    shell.shutdown()
    later = make_shell(work)                     # a new shell reads the runs from the records
    est = later.jobs.estimate_line(f"{PY} slow.py d.bin", str(work))
    assert est is not None and est.runs == 3
    assert 0.6 < est.wall[1] < 1.4, est          # 8 MB: about 0.8 s, twice the 4 MB run
    assert est.mem > 1_000_000                   # its Python's peak memory was measured
    assert "from 3 runs" in est.summary()
    later.shutdown()


def test_a_plain_shell_says_what_a_long_line_usually_takes(work, job_records):
    shell = make_shell(work)
    job_records( "/bin/sleep 0.2", str(work), wall=240.0, peak=2_000_000_000)
    shell.interactive = True                     # typed at a prompt (the plain face cannot ask)
    shell.run_line("/bin/sleep 0.2")
    assert "nlsh: usually about 4 min, 2.0 GB, from 3 runs" in shell.err.getvalue()
    shell.shutdown()


def test_batch_holds_back_a_job_whose_memory_does_not_fit_until_memory_frees(work, job_records):
    shell = make_shell(work)
    shell.jobs.cores = 8                         # CPU is not what holds it back
    need = int(psutil.virtual_memory().available * 0.6)
    job_records( "/bin/sleep 1", str(work), wall=1.0, peak=need)
    run(shell, "batch /bin/sleep 1 &\nbatch /bin/sleep 1 &\njobs")
    first, second = shell.jobs.get("%1"), shell.jobs.get("%2")
    out = shell.out.getvalue()
    assert "%1\trunning" in out
    assert "%2\tqueued #1 (needs " in out and " of memory, " in out and " free)" in out
    run(shell, "jobs -l | get expected")
    assert shell.out.getvalue().splitlines()[-1].startswith("usually about 1 s, ")     # from the 3 runs before
    run(shell, "wait")
    assert first.state == second.state == "done"
    assert second.started >= first.ended        # it started once the first one's memory was free
    shell.shutdown()


def test_batch_starts_jobs_that_use_little_cpu_side_by_side(work, job_records):
    shell = make_shell(work)
    shell.jobs.cores = 1
    job_records( "/bin/sleep 0.5", str(work), wall=0.5, peak=1_000_000)     # a tenth of a core each
    run(shell, "batch /bin/sleep 0.5 &\nbatch /bin/sleep 0.5 &\nbatch /bin/sleep 0.5 &\njobs")
    assert shell.out.getvalue().count("\trunning\t") == 3
    shell.shutdown()


def test_memory_pressure_pauses_a_batch_job_and_it_resumes(work):
    shell = make_shell(work)
    shell.jobs.memory_floor = psutil.virtual_memory().total * 4     # always "under pressure"
    run(shell, "batch /bin/sleep 2 &")
    job = shell.jobs.get("%1")
    deadline = time.time() + 5
    while not job.paused and time.time() < deadline:
        time.sleep(0.05)
    assert job.paused
    time.sleep(0.2)
    assert psutil.Process(job.processes[0].pid).status() == psutil.STATUS_STOPPED
    run(shell, "jobs")
    assert "%1\tpaused (memory low: " in shell.out.getvalue()
    started = time.time()
    run(shell, "/bin/sleep 0.3")                 # foreground work is never paused
    assert time.time() - started < 2
    shell.jobs.memory_floor = 0                  # the pressure is gone
    deadline = time.time() + 5
    while job.paused and time.time() < deadline:
        time.sleep(0.05)
    assert not job.paused
    run(shell, "wait %1")
    assert job.state == "done" and job.status == 0
    shell.shutdown()


def test_a_cgroup_memory_limit_stops_a_job_that_allocates_past_it(work, capsys):
    if cgroup.mechanism() is None:
        with capsys.disabled():
            print(f"\nskipped: {cgroup.describe()}")
        pytest.skip(cgroup.describe())
    shell = make_shell(work)
    run(shell, "limit")
    assert "memory: the kernel enforces it (cgroup" in shell.out.getvalue()
    # The program starts a child at once: it, too, is in the cgroup from its first instruction.
    line = f"{PY} -c 'import subprocess, sys; sys.exit(subprocess.call([sys.executable, \"-c\", \"x = b\\\"a\\\" * 300_000_000\"]))'"
    status = run(shell, f"limit --mem 60MB -- {line}")
    shell.report_finished_jobs()
    assert status == 137
    assert "[1] killed: memory limit 60.0 MB exceeded (the kernel stopped it at" in shell.err.getvalue()
    shell.store.flush()
    row = shell.store.query("SELECT state, reason, peak_rss FROM jobs WHERE command LIKE 'limit --mem%'")[0]
    assert row["state"] == "killed" and "cgroup" in row["reason"]          # its accounting is kept
    assert not [d for d in os.listdir(cgroup.mechanism()[1]) if d.startswith(f"nlsh-{os.getpid()}-")]
    shell.shutdown()


def test_without_cgroups_the_memory_limit_is_polled(nlsh):
    r = nlsh("-c", "limit", env={"NLSH_CGROUPS": "0"})
    assert r.status == 0 and r.out.startswith("memory: polled every 0.1 s (psutil)")
    r = nlsh("-c", f"limit --mem 100MB -- {PY} -c 'x = b\"a\" * (300 * 1024 * 1024); import time; time.sleep(5)'",
             env={"NLSH_CGROUPS": "0"})
    assert r.status == 137 and "killed: memory limit 100.0 MB exceeded (peak " in r.err


def test_limit_with_options_and_no_command_is_an_error(nlsh):
    r = nlsh("-c", "limit --mem 1MB")
    assert r.status == 2 and r.err.strip() == "nlsh: limit: missing the command to run"


def test_a_plan_is_shown_with_what_earlier_runs_of_it_took(work, job_records):
    from nlsh.lang import parse
    from nlsh.planner.planner import PlanResult
    (work / "big.log").write_bytes(b"x\n" * 500_000)
    shell = make_shell(work)
    shell.assume_yes = True
    job_records("gzip -k <path>", str(work), wall=200.0, peak=5_000_000)
    plan = parse("gzip -k big.log", shell.registry)
    result = PlanResult("compress the big log", plan, "gzip -k big.log", "gzip -k big.log", "test-model")
    assert shell.run_plan(plan, typed="compress the big log", planned=result) == 0
    assert "plan: gzip -k big.log" in shell.err.getvalue()
    assert "(usually about 3 min, 5.0 MB, from 3 runs)" in shell.err.getvalue()
    shell.shutdown()


def write_config(home, text: str) -> None:
    (home / "config").mkdir(parents=True, exist_ok=True)
    (home / "config" / "config.toml").write_text(text)


def test_the_batch_settings_in_config_toml(work, nlsh, nlsh_home):
    write_config(nlsh_home, '[batch]\nmemory_floor = "2GB"\n')
    shell = make_shell(work)
    assert shell.jobs.floor() == 2_000_000_000
    shell.shutdown()
    write_config(nlsh_home, '[batch]\non = "ray"\nray_address = "http://127.0.0.1:9"\n')
    r = nlsh("-c", "batch echo hi")              # the cluster is the default for batch jobs
    assert r.status == 1 and "no Ray cluster answers at http://127.0.0.1:9" in r.err
    assert nlsh("-c", "batch --on local -- echo hi").out == "hi\n"
    write_config(nlsh_home, '[batch]\non = "mars"\n')
    r = nlsh("-c", "batch echo hi")              # a wrong setting is said once; the defaults hold
    assert r.out == "hi\n" and r.err == ("nlsh: config.toml: [batch] on = 'mars': one of local, ray; "
                                         "the [batch] defaults hold\n")


def test_batch_on_ray_without_ray_says_how_to_install_it(work, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)          # as if it were not installed
    shell = make_shell(work)
    assert run(shell, "batch --on ray -- echo hi") == 1
    assert shell.err.getvalue() == ("nlsh: batch --on ray needs Ray: pip install 'nlsh[ray]' "
                                     "(or pip install 'ray[default]' beside nlsh)\n")
    assert shell.out.getvalue() == ""
    shell.shutdown()
