"""Which queued (``batch``) jobs may start, and which running one to pause, by
what they are predicted to need and what the machine has free. Pure: the job
table gives the numbers and acts on the answer."""

from __future__ import annotations

from dataclasses import dataclass

from nlsh.lang.values import Size

HEADROOM = 0.9          # a job is admitted into at most this share of the memory that is free


@dataclass(frozen=True)
class Need:
    """What a job is expected to hold while it runs: CPU cores and peak bytes."""
    cores: float = 1.0      # a job with no history is taken to keep one core busy
    mem: int = 0

    @classmethod
    def of(cls, estimate) -> Need:
        return cls() if estimate is None else cls(round(estimate.cores, 2), estimate.mem)


def admit(waiting: list[Need], running: list[tuple[Need, int]], cores: int, available: int) -> tuple[int, str]:
    """How many of ``waiting`` (in priority order, then age) start now, and why the
    next one waits ("" when none does). ``running``: each running batch job's need
    and its memory now (what it will still take is its need less what it holds);
    ``available``: the memory the system says is free. Order is kept: a job never
    starts ahead of one before it. With nothing running, the first always starts."""
    free_cores = cores - sum(n.cores for n, _ in running)
    free_mem = available - sum(max(0, n.mem - rss) for n, rss in running)
    started = 0
    for need in waiting:
        if not running and started == 0:
            pass
        elif need.mem > free_mem * HEADROOM:
            return started, (f"needs {Size(need.mem).human()} of memory, "
                             f"{Size(max(0, int(free_mem))).human()} free")
        elif need.cores > free_cores + 1e-9:
            return started, f"needs {_cores(need.cores)}, {_cores(max(0.0, free_cores))} free"
        free_cores -= need.cores
        free_mem -= need.mem
        started += 1
    return started, ""


def _cores(n: float) -> str:
    return f"{n:g} CPU core{'s' if n != 1 else ''}" if n == int(n) else f"{n:.1f} CPU cores"


def pressure(available: int, floor: int, paused: int) -> str:
    """``pause`` while free memory is under the floor, ``resume`` once it is back
    above twice the floor (with a job paused), else ``""``."""
    if available < floor:
        return "pause"
    if paused and available >= 2 * floor:
        return "resume"
    return ""
