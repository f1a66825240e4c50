"""Jobs: every line the shell runs, in the foreground or the background."""

from __future__ import annotations

import collections
import contextlib
import os
import shlex
import signal
import threading
import time
from collections.abc import Callable, Iterator
from typing import IO, TYPE_CHECKING

from nlsh.kernel.accounting import Limits, Sampler, Usage, kernel_stop, limit_message, times_report
from nlsh.kernel.context import CancelToken, CommandError, LoopControl
from nlsh.kernel.pipeline import run_chain
from nlsh.lang.plan import Chain, Plan
from nlsh.lang.values import Size

if TYPE_CHECKING:
    from nlsh.kernel.state import Scope

GRACE_SECONDS = 2.0
FOLLOW_WINDOW = 512
MEMORY_CAP = 10_000     # buffered items of a background job kept in memory; the rest go to a file


class Job:
    """A chain (``a && b | c``) running on its own driver thread.

    Output goes into a buffer that the foreground follows (with back-pressure)
    and that a background job fills until someone brings it to the front.
    """

    def __init__(self, shell: Scope, chain: Chain, text: str, foreground: bool,
                 stdin: IO[bytes] | None = None) -> None:
        self.id = 0
        self.shell = shell
        self.chain = chain
        self.text = text
        self.foreground = foreground
        self.limits, self.priority, self.queued = job_settings(chain, shell.config_limits)
        self.on = _backend(chain) if self.queued else "local"     # where a batch job runs
        self.cluster_jobs: list = []     # its Ray jobs (nlsh.resources.ray_backend.Submitted), once submitted
        self.inherit_stdout = foreground and shell.raw_stdout and self.limits.output is None
        self.usage = Usage()
        self.activity = ""               # what it is doing now, for jobs -l (an agent's step)
        self.agent_run = 0               # the agent run going on in it (its children name it as parent)
        self.asks_through: Job | None = None   # a child agent's parent job: its questions go there while in front
        self.shape: str | None = None    # its words with paths made general (nlsh.resources.shape)
        self.input_bytes = 0             # what the paths it names held when it started
        self.estimate = None             # what earlier runs of its shape took (nlsh.resources.predict)
        self.why = ""                    # why it waits in the queue, or why it is paused
        self.paused = False              # stopped by the shell for memory (a batch job), not by the user
        self.cgroup = None               # the kernel's memory limit for its programs, where one could be made
        self.stdin = stdin
        self.block_input: Iterator[object] | None = None   # what a block's `read` takes lines from
        self.state = "queued"
        self.status: int | None = None
        self.started = 0.0
        self.ended = 0.0
        self.cancel = CancelToken()
        self.exit_request: BaseException | None = None
        self.loop_control: LoopControl | None = None    # a break or continue on its way to its loop
        self.loops = 0
        self.condition = False           # running a condition (if, while) or a $(…): set -e does not end it
        self.spared = False              # the last chain failed where set -e spares it (a && b, a failed)
        self.frames: list[dict] = []     # the running functions' (innermost last): what ``local`` hid
        self.owns_terminal = False
        self.pipeline_pgid: int | None = None
        self.pgids: list[int] = []
        self.processes: list = []
        self.threads: list[threading.Thread] = []
        self.killed_reason = ""
        self.temp_files: list[str] = []   # what its <(…) wrote, removed when it ends
        self.cancel_status = 130          # 128 + the signal that ended it (SIGINT unless told)
        self._buffer: collections.deque = collections.deque()
        self._spill = None      # a temporary file holding older output, as plain text
        self._cond = threading.Condition()
        self._following = False
        self._stopped_procs = 0
        self._driver: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------
    def start(self) -> None:
        self.state = "running"
        self.started = time.time()
        self.why = ""
        if self.limits.mem is not None:
            from nlsh.resources.cgroup import job_cgroup
            self.cgroup = job_cgroup(self.limits.mem)
        self._driver = threading.Thread(target=self._drive, name=f"nlsh-job-{self.id}", daemon=True)
        self._driver.start()
        self.shell.jobs.sampler.watch(self)

    def _drive(self) -> None:
        status = 0
        try:
            status = run_chain(self.chain, self) if self.on == "local" else self._run_on_cluster()
        except CommandError as e:
            self.err(f"nlsh: {e.message}\n")
            status = e.status
        except Exception as e:  # noqa: BLE001  (keep the shell alive whatever a job does)
            self.err(f"nlsh: internal error: {type(e).__name__}: {e}\n")
            status = 70
        finally:
            self.ended = time.time()
            timer = next((m for m in self.chain.modifiers if m.name == "time"), None)
            if timer is not None:
                self.err(times_report(self, bool(timer.get("posix")), bool(timer.get("verbose"))))
            for path in self.temp_files:
                with contextlib.suppress(OSError):
                    os.unlink(path)
            if self.cgroup is not None:
                if self.cgroup.oom_killed() and not self.killed_reason:
                    self.killed_reason = limit_message("mem", Size(self.limits.mem).human(), kernel_stop(self.cgroup))
                self.cgroup.remove()
            if self.killed_reason:
                self.state, status = "killed", 137
            elif self.cancel.cancelled:
                self.state, status = "cancelled", self.cancel_status
            else:
                self.state = "done" if status == 0 else "failed"
            self.status = status
            self.shell.jobs.finished(self)
            with self._cond:
                self._cond.notify_all()

    def _run_on_cluster(self) -> int:
        """Send the line (a ``for`` loop: each of its items) to Ray and follow it there."""
        from nlsh.resources import ray_backend
        from nlsh.resources.admission import Need
        need = Need.of(self.estimate)
        try:
            status, jobs = ray_backend.run(fan_out(self), self.shell.cwd, self.emit, lambda: self.cancel.cancelled,
                                           (need.cores, need.mem), on_submit=self.cluster_jobs.extend)
        except ray_backend.ClusterError as e:
            raise CommandError(str(e), 1) from None
        u = self.usage
        for j in jobs:
            u.cpu_user += j.accounting.get("cpu_user", 0.0)
            u.cpu_system += j.accounting.get("cpu_system", 0.0)
            u.peak_rss = max(u.peak_rss, j.accounting.get("peak_rss", 0))
        return status

    @property
    def finished(self) -> bool:
        return self.state in ("done", "failed", "cancelled", "killed")

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the job to end; True if it has."""
        deadline = None if timeout is None else time.time() + timeout
        with self._cond:
            while not self.finished:
                left = 0.1 if deadline is None else min(0.1, deadline - time.time())
                if left <= 0:
                    return False
                self._cond.wait(left)
        if self._driver is not None:
            self._driver.join()
        return True

    # -- output --------------------------------------------------------------
    def put(self, item: object) -> None:
        self.emit(item, 1)

    def emit(self, item: object, stream: int = 1) -> None:
        if self.limits.output is not None and stream == 1:
            if self.killed_reason:
                return
            from nlsh.records import plain
            self.usage.output_bytes += len(plain(item)) + 1
            if self.usage.output_bytes > self.limits.output:
                self.limit_exceeded("output", Size(self.limits.output).human(),
                                    f"wrote {Size(self.usage.output_bytes).human()}")
                return
        with self._cond:
            while self._following and len(self._buffer) >= FOLLOW_WINDOW and not self.cancel.cancelled:
                self._cond.wait(0.05)
            self._buffer.append((stream, item))
            if not self._following and len(self._buffer) > MEMORY_CAP:
                self._spill_buffer()
            self._cond.notify_all()

    def _spill_buffer(self) -> None:
        """Move buffered output to a file (records become their plain text)."""
        import tempfile

        from nlsh.records import Partial, plain
        if self._spill is None:
            self._spill = tempfile.TemporaryFile("w+b")  # noqa: SIM115  (lives as long as the job)
        self._spill.seek(0, os.SEEK_END)
        for stream, item in self._buffer:
            kind = "p" if isinstance(item, Partial) else "l"
            text = plain(item).replace("\\", "\\\\").replace("\n", "\\n")
            self._spill.write(f"{stream}{kind}{text}\n".encode("utf-8", "surrogateescape"))
        self._buffer.clear()

    def _unspill(self) -> list[tuple[int, object]]:
        """What was spilled, oldest first; the file is emptied."""
        if self._spill is None:
            return []
        from nlsh.records import Partial
        self._spill.seek(0)
        out = []
        for raw in self._spill.read().decode("utf-8", "surrogateescape").split("\n")[:-1]:
            text = raw[2:].replace("\\n", "\n").replace("\\\\", "\\")
            out.append((int(raw[0]), Partial(text) if raw[1] == "p" else text))
        self._spill.close()
        self._spill = None
        return out

    def err(self, text: str) -> None:
        for line in text.rstrip("\n").split("\n"):
            self.emit(line, 2)

    def follow(self, stop: Callable[[], bool] = lambda: False) -> Iterator[tuple[int, object]]:
        """Items as they come, until the job ends (or ``stop()`` is true)."""
        with self._cond:
            self._following = True
            spilled = self._unspill()
        yield from spilled
        try:
            while True:
                with self._cond:
                    while not self._buffer and not self.finished and not stop():
                        self._cond.wait(0.05)
                    if not self._buffer:
                        return
                    item = self._buffer.popleft()
                    self._cond.notify_all()
                yield item
        finally:
            with self._cond:
                self._following = False
                self._cond.notify_all()

    def drain(self) -> list[tuple[int, object]]:
        with self._cond:
            items = self._unspill() + list(self._buffer)
            self._buffer.clear()
            self._cond.notify_all()
        return items

    # -- processes and threads --------------------------------------------
    def register_thread(self, t: threading.Thread) -> None:
        self.threads.append(t)

    @property
    def thread_ids(self) -> set[int]:
        """Native ids of the job's live worker threads (for per-thread CPU)."""
        return {t.native_id for t in self.threads if t.native_id is not None and t.is_alive()}

    def thread_started(self) -> None:
        """Call first thing on a job's worker thread: applies the job's priority."""
        if self.priority:
            try:
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), self.priority)
            except (OSError, AttributeError):
                pass

    def used_model(self, tokens: int, seconds: float) -> None:
        """The model worked for this job (an agent's step): counted, and held to ``limit --tokens``."""
        self.usage.model_tokens += tokens
        self.usage.model_s += seconds
        if self.limits.tokens is not None and self.usage.model_tokens > self.limits.tokens:
            self.limit_exceeded("tokens", str(self.limits.tokens), f"used {self.usage.model_tokens}")

    def limit_exceeded(self, name: str, limit: str, detail: str) -> None:
        self.terminate(limit_message(name, limit, detail), killed=True)

    def add_process(self, proc) -> None:
        self.processes.append(proc)
        if self.cgroup is not None:
            self.cgroup.add(proc.pid)

    def add_pgid(self, pgid: int) -> None:
        self.pgids.append(pgid)
        if self.priority:
            try:
                os.setpriority(os.PRIO_PGRP, pgid, self.priority)
            except OSError:
                pass

    def process_stopped(self) -> None:
        with self._cond:
            self._stopped_procs += 1
            self.state = "stopped"
            self._cond.notify_all()

    def process_continued(self) -> None:
        with self._cond:
            self._stopped_procs = max(0, self._stopped_procs - 1)
            if self.state == "stopped":
                self.state = "running"
            self._cond.notify_all()

    @property
    def stopped(self) -> bool:
        return self.state == "stopped"

    def signal(self, sig: int) -> None:
        """Send ``sig`` to every process group of the job."""
        for pgid in self.pgids:
            try:
                os.killpg(pgid, sig)
            except OSError:
                pass

    def resume(self) -> None:
        """Let its programs go on (``fg``, ``bg``, or the memory pressure that paused it is gone)."""
        if self.paused:
            self.paused, self.why = False, ""
        self.signal(signal.SIGCONT)

    def pause(self, why: str) -> None:
        """Stop its programs for the system's sake (memory), until ``resume``."""
        self.paused, self.why = True, why
        self.signal(signal.SIGSTOP)

    def terminate(self, reason: str = "cancelled", killed: bool = False, status: int = 130) -> None:
        """Cancel every stage; SIGTERM the processes, SIGKILL after a grace period.
        ``status`` is the job's exit status if it ends by this (130, as for Ctrl-C)."""
        if killed:
            self.killed_reason = reason
        self.cancel_status = status
        self.cancel.cancel(reason)
        self.signal(signal.SIGTERM)
        self.signal(signal.SIGCONT)
        if self.pgids:
            threading.Thread(target=self._kill_later, daemon=True).start()

    def _kill_later(self) -> None:
        deadline = time.time() + GRACE_SECONDS
        while time.time() < deadline:
            if all(p.returncode is not None for p in self.processes):
                return
            time.sleep(0.05)
        self.signal(signal.SIGKILL)


TICK_S = 0.5            # how often queued and paused batch jobs are looked at again


class JobTable:
    """The shell's jobs by id (``%1``), and what to tell the user about them."""

    def __init__(self, store=None, cores: int | None = None, sample_interval: float = 1.0) -> None:
        self._jobs: dict[int, Job] = {}
        self._lock = threading.Lock()
        self.notices: collections.deque[str] = collections.deque()
        self.sampler = Sampler(sample_interval)
        self.store = store
        self.cores = cores or os.cpu_count() or 1
        self.predictor = None
        if store is not None:
            from nlsh.resources.predict import Predictor, from_store
            self.predictor = Predictor(from_store(store))
        self.memory_floor: int | None = None      # pause batch jobs under this much free memory (None: the default)
        self._ticker: threading.Thread | None = None
        self._tick = threading.Event()            # a batch job ended: look again now
        self._queue: list[Job] = []
        self._reported: dict[int, Job] = {}   # background jobs that ended and were reported, by id

    def describe(self, job: Job) -> None:
        """Give ``job`` its shape and input size (what its record is learnt under) and,
        for a batch job, its estimate (read from the records only where admission needs it)."""
        if job.shape is not None or self.predictor is None:
            return
        from nlsh.resources.shape import shape_of
        job.shape, job.input_bytes = shape_of(_bare(job), job.shell.cwd)
        if job.queued:
            job.estimate = self.predictor.estimate(job.shape, job.input_bytes, job.shell.cwd)

    def estimate_line(self, text: str, cwd: str):
        """What earlier runs say a line about to run in ``cwd`` will take (an Estimate), or None."""
        if self.predictor is None:
            return None
        from nlsh.resources.shape import shape_of
        return self.predictor.estimate(*shape_of(text, cwd), cwd)

    def refusal(self, job: Job) -> str | None:
        """Why ``job`` cannot be started at all (its backend is not installed), or None."""
        if job.on == "ray":
            from nlsh.resources.ray_backend import missing
            return missing()
        return None

    def submit(self, job: Job) -> None:
        """Start a job now, or queue it if it was submitted with ``batch``."""
        self.describe(job)
        if not job.queued or job.on != "local":         # the cluster schedules its own
            job.start()
            return
        with self._lock:
            self._queue.append(job)
        self._schedule()
        self._watch_batch()

    def _batch_running(self) -> list[Job]:
        """Batch jobs started here (a cluster's count against its own machines)."""
        return [j for j in self._jobs.values() if j.queued and j.on == "local" and j.state in ("running", "stopped")]

    def _schedule(self) -> None:
        """Start the queued jobs that fit in the CPU and memory free now, in order."""
        from nlsh.resources.admission import Need, admit
        available = _available_memory() - self.floor()
        with self._lock:
            self._queue.sort(key=lambda j: (j.priority, j.id))
            running = [(Need.of(j.estimate), j.usage.rss) for j in self._batch_running()]
            count, why = admit([Need.of(j.estimate) for j in self._queue], running, self.cores, available)
            ready, self._queue = self._queue[:count], self._queue[count:]
            for i, job in enumerate(self._queue):
                job.why = why if i == 0 else f"after %{self._queue[0].id}"
        for job in ready:
            job.start()

    def floor(self) -> int:
        """Free memory under which batch jobs are paused and none is started:
        ``[batch] memory_floor`` in config.toml, else 1 GB or a tenth of the memory if less."""
        if self.memory_floor is None:
            from nlsh.resources.settings import memory_floor
            self.memory_floor = memory_floor()
        return self.memory_floor

    def _watch_batch(self) -> None:
        with self._lock:
            if self._ticker is None:
                self._ticker = threading.Thread(target=self._tick_loop, name="nlsh-batch", daemon=True)
                self._ticker.start()

    def _tick_loop(self) -> None:
        """While batch jobs wait or run: start what now fits, pause and resume by memory."""
        while True:
            self._tick.wait(TICK_S)
            self._tick.clear()
            with self._lock:
                if not self._queue and not self._batch_running():
                    self._ticker = None
                    return
            self._schedule()
            self._relieve()

    def _relieve(self) -> None:
        """Under memory pressure, pause the newest running batch job in the background;
        once it is gone, resume the oldest paused one. Foreground work is never paused."""
        from nlsh.resources.admission import pressure
        available, floor = _available_memory(), self.floor()
        with self._lock:
            batch = [j for j in self._batch_running() if not j.foreground and j.pgids]
        paused = [j for j in batch if j.paused]
        act = pressure(available, floor, len(paused))
        if act == "pause":
            running = [j for j in batch if not j.paused]
            if running:
                max(running, key=lambda j: j.id).pause(
                    f"memory low: {Size(available).human()} free, under {Size(floor).human()}")
        elif act == "resume":
            min(paused, key=lambda j: j.id).resume()

    def queue_position(self, job: Job) -> int | None:
        with self._lock:
            ordered = sorted(self._queue, key=lambda j: (j.priority, j.id))
        return ordered.index(job) + 1 if job in ordered else None

    def cancel_queued(self, job: Job) -> None:
        with self._lock:
            if job in self._queue:
                self._queue.remove(job)
        job.cancel.cancel("cancelled")
        job.state, job.status = "cancelled", 130
        self.finished(job)

    def add(self, job: Job) -> Job:
        with self._lock:
            job.id = max(self._jobs, default=0) + 1
            self._jobs[job.id] = job
        return job

    def finished(self, job: Job) -> None:
        self._record(job)
        host = getattr(job.shell.registry, "host", None)
        if host is not None and any(p.hooks for p in host.plugins.values()):
            host.after_job(job)
        if job.queued:
            self._schedule()
            self._tick.set()
        if job.killed_reason and job.foreground:
            self.notices.append(f"[{job.id}] killed: {job.killed_reason}")
        if job.asks_through is not None:        # a child agent: its parent reports its answer
            self.remove(job)
        elif not job.foreground:
            word = {"done": "Done", "failed": f"Exit {job.status}",
                    "cancelled": "Terminated" if job.status == 128 + signal.SIGTERM else "Cancelled",
                    "killed": "killed"}[job.state]
            if job.state == "killed" and job.killed_reason:
                self.notices.append(f"[{job.id}] killed: {job.killed_reason}")
            else:
                self.notices.append(f"[{job.id}] {word:<12} {job.text}")
        else:
            self.remove(job)

    def _record(self, job: Job) -> None:
        if self.store is None:
            return
        u = job.usage
        self.store.insert("jobs", {
            "job": job.id, "command": job.text, "cwd": job.shell.cwd, "state": job.state,
            "status": job.status, "started": job.started, "ended": job.ended,
            "cpu_user": round(u.user, 4), "cpu_system": round(u.system, 4), "peak_rss": u.peak_rss,
            "read_bytes": u.read_bytes, "write_bytes": u.write_bytes,
            "records_out": sum(u.records.values()), "reason": job.killed_reason or None,
            "model_tokens": u.model_tokens, "model_s": round(u.model_s, 3),
            "shape": job.shape, "input_bytes": job.input_bytes,
            "node": ",".join(sorted({"ray:" + j.accounting.get("node", "?") for j in job.cluster_jobs})) or None})
        if self.predictor is not None and job.shape is not None and job.state == "done" and job.started:
            from nlsh.resources.predict import Run
            self.predictor.learn(job.shape, Run(job.ended - job.started, u.cpu, u.peak_rss, job.input_bytes,
                                                job.shell.cwd))

    def remove(self, job: Job) -> None:
        with self._lock:
            if self._jobs.get(job.id) is job:
                del self._jobs[job.id]

    def list(self) -> list[Job]:
        with self._lock:
            return [self._jobs[k] for k in sorted(self._jobs)]

    def live(self) -> list[Job]:
        return [j for j in self.list() if not j.finished]

    def background(self) -> list[Job]:
        """Jobs not in the foreground: the ones ``jobs``, ``fg`` and ``wait`` see."""
        return [j for j in self.list() if not j.foreground]

    def get(self, spec: str | None) -> Job:
        """The background job named by ``%N``, ``N``, ``%+``/``%%`` or None (the latest).
        A job that ended and was reported is still found by its number (``wait %1``
        gives its status, whenever it ended) until a new background job takes the
        number; the foreground job, which is asking, is never found."""
        if spec in (None, "%", "%+", "%%"):
            jobs = self.background()
            if not jobs:
                raise CommandError("no current job")
            return jobs[-1]
        s = spec.lstrip("%")
        if s.isdigit():
            with self._lock:
                job = self._jobs.get(int(s))
                if job is not None and not job.foreground:
                    return job
                if int(s) in self._reported:
                    return self._reported[int(s)]
        raise CommandError(f"{spec}: no such job")

    def signal(self, spec: str, sig: int) -> None:
        job = self.get(spec)
        if job.finished:
            raise CommandError(f"{spec}: job has already ended")
        if sig in (signal.SIGTERM, signal.SIGKILL, signal.SIGINT):
            job.terminate(f"signal {signal.Signals(sig).name}", killed=sig == signal.SIGKILL, status=128 + sig)
            if sig == signal.SIGKILL:
                job.signal(sig)
        else:
            job.signal(sig)

    def reap_notices(self) -> list[str]:
        out = []
        while self.notices:
            out.append(self.notices.popleft())
        for j in self.list():
            if j.finished and not j.foreground:
                self.remove(j)
                with self._lock:
                    self._reported[j.id] = j
        return out


def bare_text(shell: Scope, chain: Chain) -> str | None:
    """A chain's line without its modifiers (``batch``, ``nice``, ``limit``, ``time``)
    and its ``&``: what its shape is made from; None if it cannot be written out."""
    try:
        return shell.text(Plan((Chain(chain.pipelines, chain.ops, False, ()),)))
    except (KeyError, AttributeError):
        return None


def _bare(job: Job) -> str:
    return (bare_text(job.shell, job.chain) if job.chain.modifiers else None) or job.text


def _backend(chain: Chain) -> str:
    """Where a batch job runs: ``batch --on``, else ``[batch] on`` in config.toml, else here."""
    for m in chain.modifiers:
        if m.name == "batch" and m.get("on"):
            return m.get("on")
    from nlsh.resources.settings import setting
    return setting("on") or "local"


def fan_out(job: Job) -> list[tuple[str, str]]:
    """(label, line) of each Ray job a line becomes: a ``for`` loop, one per item
    (its variable set); ``source FILE``, one per line of the file; anything else one job."""
    text = _bare(job)
    calls = [c for p in job.chain.pipelines for c in p.calls] if len(job.chain.pipelines) == 1 else []
    if len(calls) == 1 and calls[0].name in ("source", ".") and calls[0].get("path") is not None:
        from nlsh.kernel.expand import expand_word
        name = " ".join(expand_word(calls[0].get("path"), job.shell))
        try:
            with open(os.path.join(job.shell.cwd, name), encoding="utf-8", errors="surrogateescape") as f:
                lines = [x.strip() for x in f if x.strip() and not x.lstrip().startswith("#")]
        except OSError as e:
            raise CommandError(f"source: {name}: {e.strerror}", 1) from None
        return [(f"{i}", line) for i, line in enumerate(lines, 1)] or [(text, text)]
    if len(calls) == 1 and calls[0].name == "for":
        from nlsh.kernel.expand import expand_word
        loop = calls[0]
        items = [x for w in loop.get("items") or () for x in expand_word(w, job.shell)]
        body = job.shell.text(loop.get("body"))
        name = loop.get("name")
        return [(item, f"{name}={shlex.quote(item)}; {body}") for item in items] or [(text, text)]
    return [(text, text)]


def _available_memory() -> int:
    import psutil
    return psutil.virtual_memory().available


def job_settings(chain: Chain, defaults: Limits | None = None) -> tuple[Limits, int, bool]:
    """Limits, priority and whether to queue, from a chain's modifiers."""
    limits = Limits(**vars(defaults)) if defaults is not None else Limits()
    priority, queued = 0, False
    for m in chain.modifiers:
        if m.name == "limit":
            for key in ("time", "cpu", "mem", "output", "tokens"):
                value = m.get(key)
                if value is not None:
                    setattr(limits, key, value)
        elif m.name == "nice":
            priority = max(-20, min(19, int(m.get("n", 10))))     # as GNU nice: clamped
        elif m.name == "batch":
            queued = True
    return limits, priority, queued
