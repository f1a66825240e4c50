"""The shell's state and the path every line takes: route → parse → run → render."""

from __future__ import annotations

import os
import signal
import sys
from typing import IO, TextIO

from nlsh.commands.shell import ExitShell
from nlsh.history import History
from nlsh.kernel.job import Job, JobTable
from nlsh.kernel.terminal import take_terminal, tty_fd
from nlsh.lang import ParseError, Plan, parse, text
from nlsh.lang.plan import Call, Chain, Pipeline, Word
from nlsh.registry import Registry, default_registry
from nlsh.render import Renderer
from nlsh.store import Store


class _Suspend(Exception):
    """Ctrl-Z while a built-in job runs in the foreground."""


class Shell:
    def __init__(self, registry: Registry | None = None, *, interactive: bool = False,
                 out: TextIO | None = None, err: TextIO | None = None, json: bool = False,
                 stdin: IO[bytes] | None = None) -> None:
        self.registry = registry or default_registry()
        self.env = dict(os.environ)
        self.cwd = _initial_cwd(self.env)
        self.env["PWD"] = self.cwd
        self.aliases: dict[str, str] = {}
        self.last_status = 0
        self.history = History()
        self.store = Store()
        self.config_limits = None
        self.jobs = JobTable(self.store)
        # A job that ``fg`` asked to bring to the front once the current line ends.
        self.pending_foreground: Job | None = None
        self.interactive = interactive
        self.tty = tty_fd() if interactive else None
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        # Programs in the foreground may write straight to our stdout.
        self.raw_stdout = out is None
        self.stdin = stdin
        self.renderer = Renderer(self.out, self.err, tty=self.out.isatty(), json=json)

    # -- state -------------------------------------------------------------
    def set_cwd(self, path: str) -> None:
        self.env["OLDPWD"] = self.cwd
        self.cwd = path
        self.env["PWD"] = path

    def parse(self, line: str) -> Plan:
        return parse(line, self.registry, self.aliases)

    def text(self, plan: Plan) -> str:
        return text(plan, self.registry.signature)

    # -- running lines -----------------------------------------------------
    def run_line(self, line: str) -> int:
        """Run one line; returns its exit status. Raises ExitShell on ``exit``."""
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            return self.last_status
        if stripped.startswith("!"):
            plan = self._verbatim(stripped[1:].strip())
        else:
            try:
                plan = self.parse(line)
            except ParseError as e:
                self.renderer.error(e.message, line, e.column, e.length)
                self.last_status = e.status
                return e.status
        return self.run_plan(plan)

    def _verbatim(self, command: str) -> Plan:
        shell = self.env.get("SHELL") or "/bin/sh"
        call = Call(os.path.basename(shell), (("argv", (Word.lit(shell), Word.lit("-c"), Word.lit(command))),),
                    external=True)
        return Plan((Chain((Pipeline((call,)),)),))

    def run_plan(self, plan: Plan) -> int:
        status = self.last_status
        for chain in plan.chains:
            job = Job(self, chain, _chain_text(self, chain), foreground=not chain.background,
                      stdin=self.stdin if not chain.background else None)
            self.jobs.add(job)
            if chain.background:
                self.jobs.submit(job)
                place = self.jobs.queue_position(job)
                self.renderer.item(2, f"[{job.id}] queued (position {place})" if place else f"[{job.id}] started")
                status = 0
            else:
                status = self.run_foreground(job)
            self.last_status = status
            while self.pending_foreground is not None:
                job, self.pending_foreground = self.pending_foreground, None
                status = self.run_foreground(job)
                self.last_status = status
        return status

    def run_foreground(self, job: Job) -> int:
        """Follow a job's output until it ends, is stopped (Ctrl-Z) or cancelled (Ctrl-C)."""
        on_main = _on_main_thread()
        old_tstp = None
        if on_main and self.tty is not None:
            old_tstp = signal.signal(signal.SIGTSTP, _raise_suspend)
        if job.state == "queued" and self.jobs.queue_position(job) is None:
            self.jobs.submit(job)
        else:
            job.foreground = True
            for stream, item in job.drain():
                self.renderer.item(stream, item)
            if job.pgids:
                if self.tty is not None:
                    from nlsh.kernel.terminal import give_terminal
                    give_terminal(self.tty, job.pgids[-1])
                    job.owns_terminal = True
                job.resume()
        suspended = False
        try:
            while True:
                try:
                    for stream, item in job.follow(stop=lambda: job.stopped):
                        self.renderer.item(stream, item)
                    break
                except KeyboardInterrupt:
                    job.terminate("interrupted")
                except _Suspend:
                    suspended = True
                    break
                except BrokenPipeError:
                    job.terminate("output closed")
                    _silence_stdout()
        finally:
            if old_tstp is not None:
                signal.signal(signal.SIGTSTP, old_tstp)
            if job.owns_terminal:
                take_terminal(self.tty)
            self.renderer.flush()
        if (suspended or job.stopped) and not job.finished:
            job.foreground = False
            word = "Stopped" if job.stopped else "Running"
            self.renderer.item(2, f"[{job.id}]+ {word:<12} {job.text}")
            return 148
        job.wait()
        if job.exit_request is not None:
            raise job.exit_request
        return job.status if job.status is not None else 0

    def report_finished_jobs(self) -> None:
        """Say which background jobs ended, with the output they left (before a prompt)."""
        for job in [j for j in self.jobs.list() if j.finished and not j.foreground]:
            for stream, item in job.drain():
                self.renderer.item(stream, item)
            self.renderer.flush()
        for notice in self.jobs.reap_notices():
            self.renderer.item(2, notice)

    def shutdown(self) -> None:
        for job in self.jobs.live():
            if self.jobs.queue_position(job) is not None:
                self.jobs.cancel_queued(job)
            else:
                job.terminate("shell exited")
        for job in self.jobs.list():
            if job.state != "queued":
                job.wait(timeout=3)
        self.store.flush()


def _chain_text(shell: Shell, chain: Chain) -> str:
    try:
        return shell.text(Plan((Chain(chain.pipelines, chain.ops, False, chain.modifiers),)))
    except KeyError:
        return "?"


def _initial_cwd(env: dict) -> str:
    try:
        return os.getcwd()
    except FileNotFoundError:
        return env.get("HOME", "/")


def _on_main_thread() -> bool:
    import threading
    return threading.current_thread() is threading.main_thread()


def _raise_suspend(signum, frame) -> None:
    raise _Suspend()


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except OSError:
        pass


def run_script_lines(shell: Shell, lines, *, stop_on_exit: bool = True) -> int:
    """Run lines one by one (piped stdin, ``-c`` with newlines); the last status."""
    status = 0
    try:
        for line in lines:
            status = shell.run_line(line.rstrip("\n"))
            shell.report_finished_jobs()
    except ExitShell as e:
        status = e.status
    return status


__all__ = ["ExitShell", "Shell", "run_script_lines"]
