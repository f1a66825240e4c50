"""What a job costs: CPU of its threads and processes, memory, I/O, and limits.

Finished threads and processes report their own totals (``getrusage`` of
the thread, ``wait4`` of the process); one sampler thread adds what live
ones have used so far (psutil) and enforces the limits.
"""

from __future__ import annotations

import os
import resource
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from nlsh.lang.values import Duration, Size

if TYPE_CHECKING:
    from nlsh.kernel.job import Job

LIMIT_NAMES = {"time": "time limit", "cpu": "CPU limit", "mem": "memory limit", "output": "output limit",
               "tokens": "model token limit"}


@dataclass
class Limits:
    """Per-job limits; None means unlimited."""
    time: Duration | None = None
    cpu: Duration | None = None
    mem: Size | None = None
    output: Size | None = None
    tokens: int | None = None       # the model's tokens for the job (an agent's steps)

    @property
    def any(self) -> bool:
        return any(v is not None for v in (self.time, self.cpu, self.mem, self.output, self.tokens))


@dataclass
class Usage:
    cpu_user: float = 0.0        # finished threads and processes
    cpu_system: float = 0.0
    live_user: float = 0.0       # live ones, as last sampled
    live_system: float = 0.0
    rss: int = 0
    peak_rss: int = 0
    read_bytes: int = 0
    write_bytes: int = 0
    cpu_percent: float = 0.0
    output_bytes: int = 0
    records: dict = field(default_factory=dict)   # stage name -> records out
    model_tokens: int = 0        # the model's work for this job: planning its line (prompt + generated)
    model_s: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def user(self) -> float:
        return self.cpu_user + self.live_user

    @property
    def system(self) -> float:
        return self.cpu_system + self.live_system

    @property
    def cpu(self) -> float:
        return self.user + self.system

    def thread_done(self) -> None:
        """Call on a job's worker thread as it ends: adds that thread's CPU time."""
        user, system = thread_cpu()
        with self._lock:
            self.cpu_user += user
            self.cpu_system += system

    def process_done(self, ru: resource.struct_rusage) -> None:
        with self._lock:
            self.cpu_user += ru.ru_utime
            self.cpu_system += ru.ru_stime
            scale = 1 if sys.platform == "darwin" else 1024
            self.peak_rss = max(self.peak_rss, ru.ru_maxrss * scale)


def thread_cpu() -> tuple[float, float]:
    """(user, system) seconds of the calling thread."""
    if hasattr(resource, "RUSAGE_THREAD"):
        ru = resource.getrusage(resource.RUSAGE_THREAD)
        return ru.ru_utime, ru.ru_stime
    return time.thread_time(), 0.0


class Sampler:
    """One thread that samples every live job and enforces limits."""

    def __init__(self, interval: float = 1.0) -> None:
        self.interval = interval
        self._jobs: list[Job] = []
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._wake = threading.Event()
        self._procs: dict[int, object] = {}

    def watch(self, job: Job) -> None:
        with self._lock:
            self._jobs.append(job)
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="nlsh-sampler", daemon=True)
                self._thread.start()
        if job.limits.any:
            self._wake.set()

    def _loop(self) -> None:
        import psutil
        tick = 0
        while True:
            with self._lock:
                self._jobs = [j for j in self._jobs if not j.finished]
                jobs = list(self._jobs)
                if not jobs:
                    self._thread = None
                    return
            limited = any(j.limits.any for j in jobs)
            # Descendants of a job's processes need a scan of every process;
            # do it every few ticks, and sample the known ones in between.
            children = _children_map(psutil) if tick % DESCENDANT_SCAN_EVERY == 0 else None
            for job in jobs:
                self._sample(job, psutil, children)
                _enforce(job)
            tick += 1
            self._wake.wait(0.1 if limited else self.interval)
            self._wake.clear()

    def _sample(self, job: Job, psutil, children: dict | None) -> None:
        u = job.usage
        live_user = live_sys = 0.0
        for tid in job.thread_ids:
            user, system = _thread_times(tid)
            live_user += user
            live_sys += system
        rss = rb = wb = 0
        tree: list[int] = job.__dict__.setdefault("_tree", [])
        if children is not None:
            tree[:] = _descendants([p.pid for p in job.processes if p.returncode is None], children)
        for pid in tree:
            try:
                p = self._procs.get(pid) or psutil.Process(pid)
                self._procs[pid] = p
                with p.oneshot():
                    ct = p.cpu_times()
                    mem = p.memory_info().rss
                try:
                    io = p.io_counters()
                    rb += io.read_bytes
                    wb += io.write_bytes
                except (psutil.Error, AttributeError):
                    pass
            except psutil.Error:
                self._procs.pop(pid, None)
                continue
            live_user += ct.user
            live_sys += ct.system
            rss += mem
        with u._lock:
            u.live_user, u.live_system = live_user, live_sys
            u.rss = rss
            u.peak_rss = max(u.peak_rss, rss)
            u.read_bytes = max(u.read_bytes, rb)
            u.write_bytes = max(u.write_bytes, wb)
        now = time.monotonic()
        last = getattr(job, "_last_sample", None)
        if last is not None and now > last[0]:
            u.cpu_percent = max(0.0, 100 * (u.cpu - last[1]) / (now - last[0]))
        job._last_sample = (now, u.cpu)


DESCENDANT_SCAN_EVERY = 5
_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _thread_times(tid: int) -> tuple[float, float]:
    """(user, system) seconds of one of our threads, from /proc (Linux)."""
    try:
        with open(f"/proc/self/task/{tid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        return int(fields[11]) / _CLK_TCK, int(fields[12]) / _CLK_TCK
    except (OSError, IndexError, ValueError):
        return 0.0, 0.0


def _children_map(psutil) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for p in psutil.process_iter(["ppid"]):
        out.setdefault(p.info["ppid"], []).append(p.pid)
    return out


def _descendants(roots: list[int], children: dict[int, list[int]]) -> list[int]:
    out, stack = [], list(roots)
    while stack:
        pid = stack.pop()
        out.append(pid)
        stack.extend(children.get(pid, ()))
    return out


def _enforce(job: Job) -> None:
    lim, u = job.limits, job.usage
    if job.finished or job.cancel.cancelled:
        return
    elapsed = time.time() - job.started if job.started else 0
    if lim.time is not None and elapsed > lim.time:
        job.limit_exceeded("time", f"{lim.time}", f"ran {Duration(round(elapsed, 1))}")
    elif lim.cpu is not None and u.cpu > lim.cpu:
        job.limit_exceeded("cpu", f"{lim.cpu}", f"used {u.cpu:.1f}s")
    elif lim.mem is not None and job.cgroup is not None:     # the kernel holds it; say so when it acted
        if job.cgroup.oom_killed():
            job.limit_exceeded("mem", Size(lim.mem).human(), kernel_stop(job.cgroup))
    elif lim.mem is not None and u.peak_rss > lim.mem:
        job.limit_exceeded("mem", Size(lim.mem).human(), f"peak {Size(u.peak_rss).human()}")


def limit_message(name: str, limit: str, detail: str) -> str:
    """``memory limit 200.0 MB exceeded (peak 231.1 MB)``: why a job was stopped."""
    return f"{LIMIT_NAMES[name]} {limit} exceeded ({detail})"


def kernel_stop(cgroup) -> str:
    return f"the kernel stopped it at {Size(cgroup.peak()).human()}, cgroup"


def times_report(job: Job, posix: bool, verbose: bool) -> str:
    """What ``time CMD`` prints when ``job`` ends, on its error stream (bash's layout)."""
    u = job.usage
    real = max(0.0, job.ended - job.started) if job.started else 0.0
    rows = [("real", real), ("user", u.user), ("sys", u.system)]
    if posix:
        text = "".join(f"{name} {value:.2f}\n" for name, value in rows)
    else:
        text = "\n" + "".join(f"{name}\t{int(value // 60)}m{value % 60:.3f}s\n" for name, value in rows)
    if verbose:     # built-ins run inside nlsh: only programs have a memory of their own
        peak = Size(u.peak_rss).human() if job.processes else "- (no program ran: built-ins run inside nlsh)"
        text += f"peak memory\t{peak}\n"
    return text
