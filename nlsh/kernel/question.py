"""A question a job waits on: a confirmation only the person at the terminal
can give. The job puts it in its output (the error stream, so no pipe takes
it); the shell asks it when the job is in front (at once for a foreground
job, at ``fg`` for a background one, which is stopped until then, like a
program that reads the terminal) and hands the answer back."""

from __future__ import annotations

import threading

from nlsh.kernel.context import CancelToken


class Question:
    def __init__(self, plan, text: str, decision) -> None:
        self.plan, self.text, self.decision = plan, text, decision
        self._answer: str | None = None
        self._given = threading.Event()
        self.stopped_job = None     # the background job stopped until it is answered

    def answer(self, value: str | None) -> None:
        """"yes", "no", or None (nobody can answer: the step does not run)."""
        self._answer = value
        job, self.stopped_job = self.stopped_job, None
        if job is not None and job.state == "stopped":
            job.state = "running"
        self._given.set()

    def wait(self, cancel: CancelToken) -> str | None:
        """The answer; "no" when the job is cancelled while it waits."""
        while not self._given.wait(0.1):
            if cancel.cancelled:
                return "no"
        return self._answer
