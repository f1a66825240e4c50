"""nlsh for programs: ``from nlsh.api import Agent``; ``Agent(cwd=…).run("task")``
runs an agent without a terminal.

The run is the ``agent`` command's, in a shell of its own (the same
registry with the plugins' commands, the same policy and audit log, the
user's model daemon): what a person typing ``agent TASK`` would get, with
no one to ask, so a step that needs a confirmation ends the run unless
``yes=True``."""

from __future__ import annotations

import io
import os
import shlex

from nlsh.agent.loop import Budget, Run


class Agent:
    """A reusable agent: the model is loaded (or the daemon found) once, at the first run."""

    def __init__(self, cwd: str | None = None, *, yes: bool = False, max_steps: int = 8, seconds: float = 180,
                 tokens: int = 30_000, model: str | None = None, backend: str = "auto") -> None:
        self.cwd = os.path.abspath(cwd or os.getcwd())
        if not os.path.isdir(self.cwd):
            raise ValueError(f"Agent: {self.cwd} is not a directory")
        self.budget = Budget(max_steps, seconds, tokens)
        self.yes = yes
        self._model, self._backend = model, backend
        self._shell = None
        self.output = ""            # what the last run printed (its steps' output and the answer)
        self.errors = ""            # and what it said on the error stream (the steps chosen, how it ended)

    def run(self, task: str) -> Run:
        """Carry out ``task``; the run's steps, answer and status (``Run.status``:
        "answered", "budget", "refused", "unasked", …; ``Run.exit_status``)."""
        from nlsh.kernel.context import ExitShell
        from nlsh.session import Shell
        if self._shell is None:
            self._shell = Shell(out=io.StringIO(), err=io.StringIO(), assume_yes=self.yes)
            self._shell.configure_planner(self._model, self._backend, request_class="app")
        shell = self._shell
        shell.out.seek(0)
        shell.out.truncate()
        shell.err.seek(0)
        shell.err.truncate()
        shell.cwd = self.cwd
        shell.env["PWD"] = self.cwd
        shell.last_agent = None
        b = self.budget
        try:
            shell.run_line(f"agent --steps {b.steps} --time {b.seconds:g} --tokens {b.tokens} -- "
                           + shlex.quote(task))
        except ExitShell:
            pass
        shell.renderer.flush()
        self.output, self.errors = shell.out.getvalue(), shell.err.getvalue()
        if shell.last_agent is None:            # it never started: the reason is on the error stream
            return Run(task, self.cwd, status="failed", message=self.errors.strip())
        return shell.last_agent

    def close(self) -> None:
        if self._shell is not None:
            self._shell.shutdown()
            self._shell = None

    def __enter__(self) -> Agent:  # noqa: PYI034
        return self

    def __exit__(self, *_) -> None:
        self.close()
