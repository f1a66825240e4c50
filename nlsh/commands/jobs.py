"""Job control: jobs, fg, bg, wait, and the job modifiers limit, nice, batch, time."""

from __future__ import annotations

import time
from collections.abc import Iterator

from nlsh.kernel.context import Args, CommandError, Context
from nlsh.lang.signature import Param
from nlsh.lang.values import Duration, Size
from nlsh.records import Record
from nlsh.registry import Example, command

JOB = Param("job", "str", metavar="%N")


def job_record(job, long: bool, position: int | None) -> Record:
    u = job.usage
    elapsed = (job.ended or time.time()) - job.started if job.started else 0.0
    state = f"queued #{position}" if position else ("paused" if job.paused else job.state)
    if job.why:
        state += f" ({job.why})"
    r = Record(job=f"%{job.id}", state=state, time=Duration(round(elapsed)), command=job.text)
    if long:
        r["pids"] = ",".join(str(p.pid) for p in job.processes) or "-"
        r["cpu"] = Duration(round(u.cpu, 2))
        r["cpu%"] = round(u.cpu_percent, 1)
        r["rss"] = Size(u.rss)
        r["peak"] = Size(u.peak_rss)
        r["read"] = Size(u.read_bytes)
        r["written"] = Size(u.write_bytes)
        r["tokens"] = u.model_tokens             # the model's work planning the line (an agent's steps)
        r["model"] = Duration(round(u.model_s, 2))
        if job.activity:
            r["doing"] = job.activity
        if job.estimate is not None:             # what earlier runs of its shape took (a batch job)
            r["expected"] = job.estimate.summary()
        if job.cluster_jobs:                     # on Ray: its jobs there and their state
            r["pids"] = ",".join(j.id for j in job.cluster_jobs)
            r["doing"] = "ray: " + ", ".join(sorted({j.state.lower() for j in job.cluster_jobs}))
    return r


@command("jobs", "The shell's jobs: state and command; -l adds pids, CPU, memory, I/O; --watch is live.",
         params=[Param("long", "flag", ("-l", "--long"), "add pids, CPU, RSS, I/O"),
                 Param("watch", "flag", ("-w", "--watch"), "live view until a key is pressed")],
         output="records", category="jobs",
         examples=[Example("what is running in the background", "jobs"),
                   Example("how much memory do my jobs use", "jobs -l")])
def jobs(ctx: Context, a: Args) -> Iterator[Record]:
    table = ctx.shell.jobs

    def rows(long: bool) -> list[Record]:
        return [job_record(j, long, table.queue_position(j)) for j in table.background()]

    if a.watch and ctx.shell.renderer.watch(lambda: rows(True), ctx.cancel):
        return
    yield from rows(a.long or a.watch)


@command("fg", "Bring a job to the foreground: its buffered output, then live output.",
         params=[JOB], output="none", category="jobs", shell_state=True,
         examples=[Example("bring job 2 back", "fg %2")])
def fg(ctx: Context, a: Args) -> None:
    job = ctx.shell.jobs.get(a.job)
    if job.finished:
        raise CommandError(f"job %{job.id} has already ended")
    ctx.shell.pending_foreground = job


@command("bg", "Resume a stopped job in the background.",
         params=[JOB], output="none", effects=("process",), category="jobs", shell_state=True,
         examples=[Example("let the stopped job continue in the background", "bg")])
def bg(ctx: Context, a: Args) -> None:
    job = ctx.shell.jobs.get(a.job)
    if job.finished:
        raise CommandError(f"job %{job.id} has already ended")
    job.foreground = False
    job.resume()
    ctx.stderr.write(f"[{job.id}]+ {job.text} &\n")


@command("wait", "Wait until a job (or every job) has ended; its exit status.",
         params=[JOB], output="none", category="jobs",
         examples=[Example("wait for the background jobs to finish", "wait")])
def wait(ctx: Context, a: Args) -> None:
    """``wait %N`` gives the job's status; plain ``wait``, 0 (as in bash)."""
    table = ctx.shell.jobs
    targets = [table.get(a.job)] if a.job else table.background()
    for job in targets:
        while not job.wait(timeout=0.1):
            ctx.check()
        if a.job:
            ctx.status = job.status or 0


_MODIFIER_NOTE = "written before a command; it applies to the whole line"


def _modifier(ctx: Context, a: Args) -> None:
    raise CommandError("needs a command after it")


def _limit(ctx: Context, a: Args) -> Iterator[str]:
    """``limit`` alone: how each limit is held on this machine."""
    from nlsh.resources.cgroup import describe
    yield describe()
    yield "time, cpu, output, tokens: checked every 0.1 s while a limited job runs"


limit = command(
    "limit", f"Run a command under limits: limit --time 10s --mem 200MB -- CMD ({_MODIFIER_NOTE}); "
    "alone, how each limit is held here.",
    params=[Param("time", "duration", ("--time",), "wall-clock time", metavar="DURATION"),
            Param("cpu", "duration", ("--cpu",), "CPU seconds", metavar="DURATION"),
            Param("mem", "size", ("--mem",), "peak memory of its processes", metavar="SIZE"),
            Param("output", "size", ("--output",), "bytes of output", metavar="SIZE"),
            Param("tokens", "int", ("--tokens",), "model tokens (an agent's steps: prompt and generated)",
                  metavar="N")],
    output="text", category="jobs", modifier=True, alone=True,
    examples=[Example("build, but give up after ten minutes", "limit --time 10m -- make")])(_limit)

nice = command(
    "nice", f"Run a command at a lower priority (nice -n 10 CMD; {_MODIFIER_NOTE}).",
    params=[Param("n", "int", ("-n", "--adjustment"), "niceness, 0-19 (default 10)", metavar="N",
                  default=10)],
    output="none", category="jobs", modifier=True,
    examples=[Example("compress the logs at low priority", "nice -n 15 gzip -k big.log")])(_modifier)

batch = command(
    "batch", "Queue a command: it starts when the CPU and memory it is predicted to need are free, "
    f"or on a Ray cluster with --on ray ({_MODIFIER_NOTE}).",
    params=[Param("on", "choice", ("--on",), "where it runs: local (the default) or ray", metavar="BACKEND",
                  choices=("local", "ray"))],
    output="none", category="jobs", modifier=True,
    examples=[Example("queue the backup", "batch tar czf backup.tgz docs &")])(_modifier)


timed = command(
    "time", f"Time a command: when it ends, its real, user and system time (time CMD; {_MODIFIER_NOTE}).",
    params=[Param("posix", "flag", ("-p",), "bash's plain form: real 0.10, user 0.00, sys 0.00"),
            Param("verbose", "flag", ("-v",), "also the peak memory of its programs")],
    output="none", category="jobs", modifier=True, planned=False,
    examples=[Example("how long do the tests take", "time make test")])(_modifier)


COMMANDS = [jobs, fg, bg, wait, limit, nice, batch, timed]
