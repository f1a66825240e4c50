"""Model time as a scheduled resource: one worker runs requests on the model,
by class (a person at the prompt first), first come first served within a
class, from a bounded queue; a cancelled request leaves the queue at once.
A running request gives way, at its next token, to one of a higher class that
comes meanwhile, and runs again (from its start) after it: a person at the
prompt waits for at most one token of someone else's work.

Every request is accounted: time in the queue, prompt and generated tokens,
model seconds; the totals are kept by client."""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from nlsh.kernel.context import CancelToken

# Highest priority first: a person waiting at a prompt, an agent's step, a
# script's or a batch job's plan, then any other program using the API.
CLASSES = ("interactive", "agent", "script", "batch", "app")


class QueueFull(Exception):
    """The queue holds as many requests as it may; the message says how many."""


@dataclass
class Usage:
    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    model_s: float = 0.0
    queue_s: float = 0.0
    cancelled: int = 0

    def add(self, other: Usage) -> None:
        for k in vars(self):
            setattr(self, k, getattr(self, k) + getattr(other, k))

    def as_dict(self) -> dict:
        return {**vars(self), "model_s": round(self.model_s, 3), "queue_s": round(self.queue_s, 3)}


@dataclass
class Task:
    """One request: ``work(cancel)`` runs on the model when its turn comes and
    returns (result, prompt tokens, generated tokens)."""
    cls: str
    client: str
    work: Callable[[CancelToken], tuple[object, int, int]]
    cancel: CancelToken = field(default_factory=CancelToken)
    submitted: float = field(default_factory=time.monotonic)
    started: float | None = None
    finished: float | None = None
    result: object = None
    error: BaseException | None = None
    usage: Usage = field(default_factory=Usage)
    done: threading.Event = field(default_factory=threading.Event)
    seq: int = 0
    preempted: int = 0              # times it gave way to a request of a higher class


class Turn:
    """What running work checks between tokens (CancelToken's reading side):
    cancelled by its client, or asked to give way to a higher class."""

    def __init__(self, scheduler: Scheduler, task: Task) -> None:
        self._scheduler, self._task = scheduler, task
        self.gave_way = False

    @property
    def cancelled(self) -> bool:
        if self._task.cancel.cancelled:
            return True
        if self._scheduler.outranked(self._task):
            self.gave_way = True
        return self.gave_way


class Scheduler:
    def __init__(self, max_queue: int = 16) -> None:
        self.max_queue = max_queue
        self._heap: list[tuple[int, int, Task]] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self.running: Task | None = None
        self.by_client: dict[str, Usage] = {}
        self.total = Usage()
        self._window: dict[str, list[tuple[float, int]]] = {}    # client or "class:NAME" → (when, tokens)
        self.last_active = time.monotonic()
        self._worker = threading.Thread(target=self._loop, name="nlsh-model-worker", daemon=True)
        self._worker.start()

    def submit(self, task: Task) -> Task:
        if task.cls not in CLASSES:
            raise ValueError(f"unknown request class {task.cls!r}: one of {', '.join(CLASSES)}")
        with self._cond:
            if len(self._heap) >= self.max_queue:
                raise QueueFull(f"the model's queue is full ({len(self._heap)} requests waiting); try again later")
            task.seq = next(self._seq)
            heapq.heappush(self._heap, (CLASSES.index(task.cls), task.seq, task))
            self.last_active = time.monotonic()
            self._cond.notify()
        return task

    def cancel(self, task: Task) -> None:
        """Stop ``task``: a queued one leaves the queue now, a running one at its next token."""
        task.cancel.cancel()
        with self._cond:
            kept = [e for e in self._heap if e[2] is not task]
            if len(kept) != len(self._heap):
                self._heap = kept
                heapq.heapify(self._heap)
                self._finish(task)

    def waiting(self) -> dict[str, int]:
        with self._cond:
            counts = dict.fromkeys(CLASSES, 0)
            for _, _, t in self._heap:
                counts[t.cls] += 1
            return counts

    def recent_tokens(self, who: str) -> int:
        """Tokens generated for a client (or ``class:NAME``) in the last minute: what rates are held to."""
        with self._cond:
            now = time.monotonic()
            kept = [s for s in self._window.get(who, ()) if now - s[0] < 60]
            self._window[who] = kept
            return sum(n for _, n in kept)

    def outranked(self, task: Task) -> bool:
        """Does a request of a higher class than ``task``'s wait?"""
        try:
            return self._heap[0][0] < CLASSES.index(task.cls)
        except IndexError:
            return False

    def idle_for(self) -> float:
        """Seconds since the last request came or ended (0 while any is queued or running)."""
        with self._cond:
            if self._heap or self.running is not None:
                return 0.0
            return time.monotonic() - self.last_active

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._heap:
                    self._cond.wait()
                _, _, task = heapq.heappop(self._heap)
                self.running = task
            began = time.monotonic()
            task.started = task.started or began
            turn = Turn(self, task)
            task.result = task.error = None
            try:
                if task.cancel.cancelled:
                    raise InterruptedError("cancelled")
                task.result, prompt, generated = task.work(turn)
                task.usage.prompt_tokens += prompt
                task.usage.completion_tokens += generated
            except BaseException as e:  # noqa: BLE001  (handed to whoever waits for the task)
                task.error = e
            task.usage.model_s += time.monotonic() - began
            with self._cond:
                self.running = None
                if turn.gave_way and not task.cancel.cancelled:
                    task.preempted += 1           # again after the higher class, first in its own
                    heapq.heappush(self._heap, (CLASSES.index(task.cls), task.seq, task))
                    continue
                self._finish(task)

    def _finish(self, task: Task) -> None:
        """Account ``task`` (the lock held) and wake its waiter."""
        now = time.monotonic()
        task.finished = now
        u = task.usage
        u.requests = 1
        u.queue_s = now - task.submitted - u.model_s
        u.cancelled = int(task.cancel.cancelled)
        self.by_client.setdefault(task.client, Usage()).add(u)
        self.total.add(u)
        for who in (task.client, f"class:{task.cls}"):
            self._window.setdefault(who, []).append((now, u.completion_tokens))
        self.last_active = now
        task.done.set()
