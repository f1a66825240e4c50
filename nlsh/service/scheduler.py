"""Model time as a scheduled resource: one worker runs requests on the model,
by class (a person at the prompt first), first come first served within a
class, from a bounded queue; a cancelled request leaves the queue at once.
A running request gives way, at its next token, to one of a higher class that
comes meanwhile, and runs again (from its start) after it: a person at the
prompt waits for at most one token of someone else's work.

Requests that say they can share the model (the same ``key``: the same model
and prompt start, nothing that needs the model to itself) run together, up to
``together`` of one class at a time, one token of each in every step: on a
CPU a step of four tokens costs little more than a step of one, so a flood
of scripts or programs is served faster, while a person at the prompt never
waits in such a batch (a batch of a lower class gives way as one request does).
After a request ends, a lower class waits LINGER for the same class's next one.

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
LINGER = 0.1        # seconds the model waits for a class's next request before a lower class's


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
    returns (result, prompt tokens, generated tokens). Tasks with the same
    ``key`` (not None) run together instead: ``work_many(take, give)`` of the
    first one runs while ``take(n)`` hands it up to n more [(task, its cancel)]
    (at first the task itself) and ``give(task, tuple or exception)`` takes each
    one's outcome as soon as it is done."""
    cls: str
    client: str
    work: Callable[[CancelToken], tuple[object, int, int]]
    key: object = None
    work_many: Callable[[list], list] | None = None
    request: object = None          # what work_many needs of this task
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
    admitted: float = 0.0           # when it last began to run
    together: int = 1               # most requests it ran with, itself included (the last time it ran)


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
    def __init__(self, max_queue: int = 16, together: int = 1) -> None:
        self.max_queue = max_queue
        self.together = together              # requests of one key run at once, at most
        self._heap: list[tuple[int, int, Task]] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self.running: Task | None = None     # the first of those running now
        self.running_n = 0                    # how many run with it, it included
        self.by_client: dict[str, Usage] = {}
        self.total = Usage()
        self._window: dict[str, list[tuple[float, int]]] = {}    # client or "class:NAME" → (when, tokens)
        self.last_active = time.monotonic()
        self._last_ended = (len(CLASSES), 0.0)    # (class, when) of the request that ended last
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
                while not self._heap or (linger := self._linger()) > 0:
                    self._cond.wait(linger if self._heap else None)
                _, _, task = heapq.heappop(self._heap)
                self.running, self.running_n = task, 1
            if task.key is not None and task.work_many is not None and self.together > 1:
                self._together(task)
            else:
                turn = Turn(self, task)
                self._began([task])
                self._ended(task, turn, self._work(task, turn))
            with self._cond:
                self.running, self.running_n = None, 0

    def _together(self, first: Task) -> None:
        """Run ``first`` and the tasks of its class and key that come while it runs,
        ``together`` at most at a time, each one finished as soon as it is done."""
        running: dict[int, tuple[Task, Turn]] = {}
        pending = [first]

        def take(n: int) -> list:
            with self._cond:
                new = [pending.pop()] if pending else []
                if n > len(new) and not self.outranked(first):
                    found = [e for e in sorted(self._heap)
                             if e[2].cls == first.cls and e[2].key == first.key][:n - len(new)]
                    if found:
                        self._heap = [e for e in self._heap if e not in found]
                        heapq.heapify(self._heap)
                    new += [e[2] for e in found]
                self._began(new)
                for t in new:
                    running[id(t)] = (t, Turn(self, t))
                self.running_n = len(running)
                for t, _ in running.values():
                    t.together = max(t.together, len(running))
                return [running[id(t)] for t in new]

        def give(task: Task, outcome) -> None:
            _, turn = running.pop(id(task))
            self._ended(task, turn, outcome)
            with self._cond:
                self.running_n = max(1, len(running))

        try:
            first.work_many(take, give)
            left = InterruptedError("the model stopped before this request was answered")
        except BaseException as e:  # noqa: BLE001  (handed to whoever waits for the task)
            left = e
        for task, _ in list(running.values()):
            give(task, left)
        if pending:                             # it failed before it took the first (the model would not load)
            self._began(pending)
            self._ended(first, Turn(self, first), left)

    @staticmethod
    def _began(tasks: list[Task]) -> None:
        now = time.monotonic()
        for t in tasks:
            t.started, t.admitted, t.together = t.started or now, now, 1
            t.result = t.error = None

    def _ended(self, task: Task, turn: Turn, outcome) -> None:
        """Account ``task``'s outcome ((result, prompt tokens, generated tokens) or an
        exception) and finish it, or queue it again when it gave way to a higher class."""
        task.usage.model_s += time.monotonic() - task.admitted
        if isinstance(outcome, BaseException):
            task.error = outcome
        else:
            task.result, prompt, generated = outcome
            task.usage.prompt_tokens += prompt
            task.usage.completion_tokens += generated
        with self._cond:
            if turn.gave_way and not task.cancel.cancelled:
                task.preempted += 1               # again after the higher class, first in its own
                heapq.heappush(self._heap, (CLASSES.index(task.cls), task.seq, task))
            else:
                self._finish(task)

    @staticmethod
    def _work(task: Task, turn: Turn):
        """``task``'s (result, prompt tokens, generated tokens), or what it raised."""
        try:
            if task.cancel.cancelled:
                raise InterruptedError("cancelled")
            return task.work(turn)
        except BaseException as e:  # noqa: BLE001  (handed to whoever waits for the task)
            return e

    def _linger(self) -> float:
        """Seconds to keep the model free for the class of the request that ended last,
        before one of a lower class begins (the lock held): a person's plan is several
        requests in a row, and a batch begun between them would hold the next one up."""
        cls, ended = self._last_ended
        return ended + LINGER - time.monotonic() if self._heap[0][0] > cls else 0.0

    def _finish(self, task: Task) -> None:
        """Account ``task`` (the lock held) and wake its waiter."""
        now = time.monotonic()
        task.finished = now
        self._last_ended = (CLASSES.index(task.cls), now)
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
