"""Running a plan inside a job and keeping what it prints: the bodies of
loops, functions and blocks, and ``$(…)`` (in a copy of the shell, as bash
runs it)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from typing import TYPE_CHECKING

from nlsh.kernel.context import (
    Context,
    Exiting,
    LoopControl,
)
from nlsh.kernel.redirect import OUTPUT
from nlsh.kernel.state import Forward
from nlsh.lang.plan import Plan
from nlsh.records import plain_line

if TYPE_CHECKING:
    from nlsh.kernel.job import Job


def capture(plan: Plan, job: Job, input: Iterator[object] | None = None, loop: bool = False,
            scope: bool = False, frame: dict | None = None, condition: bool = False,
            errors: object = None) -> tuple[list[object], int]:
    """Run ``plan`` inside ``job``: the items it wrote to its output (a loop
    body's) and its status. Errors go to the job's error stream. ``input``
    (a block's: ``… | while read x``) is what built-ins starting its
    pipelines read, one line at a time, from one round to the next; ``loop``:
    the plan is a loop's, where break and continue mean something; ``scope``:
    a subshell's, which no loop outside reaches and which ``exit`` only ends;
    ``frame``: a function's body (``local`` keeps what it hides there);
    ``condition``: an ``if``'s or a loop's condition, or a ``$(…)``, which
    ``set -e`` does not end; ``errors``: where the plan's errors go when the
    block's call redirects them (``{ …; } 2>FILE``): OUTPUT (``2>&1``), in
    order with its output, or an ErrWriter."""
    from nlsh.kernel.pipeline import run_chain  # a plan's chains run as any line's do
    inner = Captured(job, input, loop, scope, frame, condition, errors)
    status = 0
    for chain in plan.chains:
        status = run_chain(chain, inner)
        if job.loop_control is not None:
            break
    job.cancel.check()
    return inner.output, status


def block_capture(plan: Plan, job: Job, input: Iterator[object] | None = None, loop: bool = False,
                   scope: bool = False, frame: dict | None = None,
                   condition: bool = False, errors: object = None) -> tuple[list[object], int]:
    """``capture`` for a block's built-in: a break or continue inside the plan
    comes out as LoopControl, carrying what the plan printed before it; an
    ``exit`` inside a subshell gives the subshell's status."""
    out, status = capture(plan, job, input, loop, scope, frame, condition, errors)
    if scope and job.exit_request is not None:
        status, job.exit_request = getattr(job.exit_request, "status", 0), None
    control = job.loop_control
    if control is not None:
        job.loop_control = None
        control.output = out
        raise control
    if job.exit_request is not None:        # `exit` (or set -e) inside: no loop around it goes round again
        raise Exiting(out)
    return out, status


class Captured:
    """The job as a ``$(…)`` inside it sees it: output is kept, not shown;
    the terminal stays with the shell; the rest is the job's own."""

    def __init__(self, job: Job, input: Iterator[object] | None = None, loop: bool = False,
                 scope: bool = False, frame: dict | None = None, condition: bool = False,
                 errors: object = None) -> None:
        self._job = job
        self._errors = errors
        self.condition = condition or job.condition
        self.block_input = input if input is not None else job.block_input
        self.loops = 0 if scope or frame is not None else job.loops + loop   # a loop outside a function is not its
        self.frames = job.frames + [frame] if frame is not None else job.frames
        if scope:
            self.shell = job.shell.copy()
        self.output: list[object] = []
        self.foreground = False
        self.inherit_stdout = False
        self.pipeline_pgid = None

    @property
    def exit_request(self) -> BaseException | None:
        return self._job.exit_request

    @exit_request.setter
    def exit_request(self, request: BaseException | None) -> None:     # exit in a loop leaves the shell
        self._job.exit_request = request

    @property
    def spared(self) -> bool:
        return self._job.spared

    @spared.setter
    def spared(self, spared: bool) -> None:          # `{ a && b; }`: the block's status is spared by set -e
        self._job.spared = spared

    @property
    def loop_control(self) -> LoopControl | None:
        return self._job.loop_control

    @loop_control.setter
    def loop_control(self, control: LoopControl | None) -> None:
        self._job.loop_control = control

    def put(self, item: object) -> None:
        self.emit(item, 1)

    def emit(self, item: object, stream: int = 1) -> None:
        if stream == 1 or self._errors is OUTPUT:
            self.output.append(item)
        elif self._errors is not None:
            self._errors.write(plain_line(item))
        else:
            self._job.emit(item, stream)

    def err(self, text: str) -> None:
        for line in text.rstrip("\n").split("\n"):
            self.emit(line, 2)



# Everything of a Job that the capture does not keep for itself (the list is
# checked against Job's by tests/test_state.py, so none can be missed).
SHARED_WITH_JOB = (
    "id", "shell", "text", "chain", "limits", "priority", "queued", "usage", "stdin", "state", "status",
    "started", "ended", "cancel", "owns_terminal", "pgids", "processes", "threads", "killed_reason",
    "temp_files", "cancel_status", "start", "finished", "wait", "follow", "drain", "register_thread",
    "thread_ids", "thread_started", "limit_exceeded", "add_process", "add_pgid", "process_stopped",
    "process_continued", "stopped", "signal", "resume", "terminate", "activity", "agent_run", "used_model",
    "shape", "input_bytes", "estimate", "why", "paused", "pause", "cgroup", "on", "cluster_jobs", "asks_through")
for _name in SHARED_WITH_JOB:
    setattr(Captured, _name, Forward("_job", _name))


def runner(job: Job, ctx: Context | None = None):
    """How a call of ``job`` computes its ``$(…)`` words: the plan's output as
    text (its status goes to ``ctx.substituted``). As in bash, the plan runs
    in a copy of the shell: ``cd``, variables and ``exit`` inside stay inside."""
    def run(plan: Plan) -> str:
        items, status = block_capture(plan, job, scope=True, condition=True)
        if ctx is not None:
            ctx.substituted = status
        return "".join(plain_line(i) for i in items)

    def to_file(plan: Plan) -> str:
        """``<(…)``: the plan runs to its end, its output goes into a file that
        lasts until the job ends; the file's name."""
        text = run(plan)
        fd, path = tempfile.mkstemp(prefix="nlsh-", suffix=".out")
        with os.fdopen(fd, "w", encoding="utf-8", errors="surrogateescape") as f:
            f.write(text)
        job.temp_files.append(path)
        return path

    run.file = to_file
    return run
