"""The Ray cluster backend: a line submitted as a Ray job (Ray's job submission
API), its logs followed, its end and accounting read back.

Ray is an optional extra (``pip install 'nlsh[ray]'``); nothing here imports it
until a line is sent to the cluster. The line runs as ``nlsh -c LINE`` in the
same path on the node (a local head, or a cluster with a shared file system).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shlex
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from nlsh.resources.ray_entry import MARK

DEFAULT_ADDRESS = "http://127.0.0.1:8265"
POLL_S = 0.5
_ENTRY_LINE = "Running entrypoint for job "
ENDED = {"SUCCEEDED": 0, "FAILED": 1, "STOPPED": 143}


class ClusterError(Exception):
    """A one-line reason a line cannot go to the cluster."""


def missing() -> str | None:
    """Why the backend cannot be used here (Ray not installed), or None."""
    if importlib.util.find_spec("ray") is None:
        return "batch --on ray needs Ray: pip install 'nlsh[ray]' (or pip install 'ray[default]' beside nlsh)"
    return None


def address() -> str:
    """``[batch] ray_address`` in config.toml, else ``RAY_ADDRESS``, else a local head's dashboard."""
    from nlsh.resources.settings import setting
    return setting("ray_address") or os.environ.get("RAY_ADDRESS") or DEFAULT_ADDRESS


def client(where: str):
    why = missing()
    if why:
        raise ClusterError(why)
    from ray.job_submission import JobSubmissionClient
    try:
        return JobSubmissionClient(where)
    except (OSError, RuntimeError, ValueError):         # (requests' errors are OSErrors)
        raise ClusterError(f"no Ray cluster answers at {where}: start one with 'ray start --head', "
                           "or set [batch] ray_address in config.toml (or RAY_ADDRESS)") from None


def entrypoint(line: str, cwd: str) -> str:
    return shlex.join([sys.executable, "-m", "nlsh.resources.ray_entry", cwd, line])


@dataclass
class Submitted:
    """One Ray job of a line: its id, what of its log was shown, its end."""
    id: str
    label: str
    shown: int = 0
    status: int | None = None
    accounting: dict = field(default_factory=dict)
    started: float = 0.0
    ended: float = 0.0
    begun: bool = False         # Ray's own first lines are behind (the line's output follows)
    state: str = "PENDING"      # Ray's word for it


def run(lines: list[tuple[str, str]], cwd: str, emit: Callable[[str, int], None], cancelled: Callable[[], bool],
        need: tuple[float, int] | None = None, where: str | None = None,
        on_submit: Callable[[list[Submitted]], None] = lambda jobs: None) -> tuple[int, list[Submitted]]:
    """Submit each (label, line) as a Ray job, follow their logs (``emit(line, stream)``,
    prefixed by the label when there are several), stop them if ``cancelled()``;
    the worst exit status and the jobs. ``need`` (CPU cores, bytes) is the estimate,
    given to Ray as the entrypoint's resources."""
    c = client(where or address())
    options = {}
    if need is not None:
        options["entrypoint_num_cpus"] = need[0]
        if need[1]:
            options["entrypoint_memory"] = int(need[1])
    jobs = []
    for label, line in lines:
        try:
            job_id = _asked(c.submit_job, entrypoint=entrypoint(line, cwd), metadata={"nlsh": line}, **options)
        except (RuntimeError, ValueError, OSError) as e:
            for j in jobs:
                _asked(c.stop_job, j.id)
            raise ClusterError(f"Ray did not take the job: {str(e).strip().splitlines()[0]}") from None
        jobs.append(Submitted(job_id, label))
    on_submit(jobs)
    stopped = False
    while any(j.status is None for j in jobs):
        if cancelled() and not stopped:
            stopped = True
            for j in jobs:
                if j.status is None:
                    _asked(c.stop_job, j.id)
        for j in jobs:
            if j.status is None:
                _follow(c, j, emit, several=len(jobs) > 1)
        if any(j.status is None for j in jobs):
            time.sleep(POLL_S)
    return max(j.status or 0 for j in jobs), jobs


def _asked(call: Callable, *args, waits: tuple[float, ...] = (0.5, 1, 2, 4, 8, 15), **kwargs):
    """``call`` to Ray's head, asked again while the connection fails (for about 30 s,
    ``waits`` apart): a loaded head's dashboard now and then closes one or stops
    answering for seconds."""
    for wait in waits:
        try:
            return call(*args, **kwargs)
        except OSError:                 # requests' ConnectionError and Ray's own ConnectionError are ones
            time.sleep(wait)
    return call(*args, **kwargs)        # the last time its error goes on


def _follow(c, job: Submitted, emit: Callable[[str, int], None], several: bool) -> None:
    try:
        info = _asked(c.get_job_info, job.id)
        logs = _asked(c.get_job_logs, job.id)
    except OSError as e:
        raise ClusterError(f"Ray's head stopped answering about {job.id}: {str(e).strip().splitlines()[0]}") from None
    state = job.state = str(getattr(info.status, "value", info.status))
    done = state in ENDED
    new = logs[job.shown:]
    if not done:                               # a line still being written is shown once whole
        new = new[: new.rfind("\n") + 1]
    job.shown += len(new)
    if not job.begun:                   # Ray's own lines first: up to the one naming the entrypoint
        head = new.find(_ENTRY_LINE)
        if head < 0 and not done:
            job.shown -= len(new)
            return
        job.begun = True
        new = new[new.index("\n", head) + 1:] if head >= 0 else new
    for text in new.splitlines():
        if text.startswith(MARK):
            try:
                job.accounting = json.loads(text[len(MARK):])
            except ValueError:
                pass
            continue
        emit(f"[{job.label}] {text}" if several else text, 1)
    if info.start_time:
        job.started = info.start_time / 1000
    if done:
        job.ended = (info.end_time or time.time() * 1000) / 1000
        code = getattr(info, "driver_exit_code", None)
        job.status = code if isinstance(code, int) and state != "STOPPED" else ENDED[state]
        if state == "FAILED" and info.message and not isinstance(code, int):
            emit(f"nlsh: ray: {info.message.strip().splitlines()[-1]}", 2)
