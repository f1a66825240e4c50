"""The shell's state and the path every line takes: route → parse → run → render."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from typing import IO, TextIO

from nlsh.gate import Ticket, review
from nlsh.history import History
from nlsh.kernel.context import CommandError, ExitShell
from nlsh.kernel.job import Job, JobTable, bare_text
from nlsh.kernel.question import Question
from nlsh.kernel.state import Scope, State
from nlsh.kernel.terminal import take_terminal, tty_fd
from nlsh.kernel.variables import Variables
from nlsh.lang import ParseError, Plan
from nlsh.lang.lexer import join_continued
from nlsh.lang.plan import Call, Chain, Word
from nlsh.monitor import Monitor
from nlsh.output import Output, PlainFace
from nlsh.policy import Rules
from nlsh.registry import Registry
from nlsh.router import needs_more, parsed_is_utterance, unparsed_is_utterance
from nlsh.store import Store
from nlsh.trash import Trash
from nlsh.wiring import default_registry


class _Suspend(Exception):
    """Ctrl-Z while a built-in job runs in the foreground."""


class Shell(Scope):
    """The session: the top scope (its state is the shell's own) and the services every copy shares."""

    def __init__(self, registry: Registry | None = None, *, interactive: bool = False,
                 out: TextIO | None = None, err: TextIO | None = None, json: bool = False,
                 stdin: IO[bytes] | None = None, assume_yes: bool = False, output: type[Output] = Output) -> None:
        """``output`` draws what lines print: plain lines by default; the faces
        give ``nlsh.render.Renderer``, which draws tables on a terminal."""
        self.registry = registry or default_registry()
        env = Variables(os.environ)
        cwd = _initial_cwd(env)
        env["PWD"] = cwd
        super().__init__(State(cwd, env), self)
        self.started = time.monotonic()    # for $SECONDS
        self.last_background: int | None = None     # the job $! names
        self.script_path: str | None = None
        self.source_depth = 0
        self.history = History()
        self.store = Store()
        self.trash = Trash()
        # How many model-written lines (a plan, an agent's step) run now: while any does, what
        # cp/mv/> would overwrite goes to the trash first and the monitor contains unknown programs.
        # A count, not a flag: a typed line ending must not clear a background agent's step.
        self.running_planned = 0
        self._planned_lock = threading.Lock()
        self.line_serial = 0
        self.critical_confirmed = False     # the line running now was confirmed by a person despite a critical ask
        self.monitor = Monitor(self)
        self.config_limits = None
        self.jobs = JobTable(self.store)
        # A job that ``fg`` asked to bring to the front once the current line ends.
        self.pending_foreground: Job | None = None
        self.interactive = interactive
        self.command_string = False     # running ``nlsh -c TEXT`` (bash ends it with 127 where a script gets 1)
        self.tty = tty_fd() if interactive else None
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        # Programs in the foreground may write straight to our stdout.
        self.raw_stdout = out is None
        self.stdin = stdin
        self.assume_yes = assume_yes
        self.renderer = output(self.out, self.err, tty=self.out.isatty(), json=json)
        try:
            self.rules = Rules.load()
        except CommandError as e:
            self.renderer.error(f"{e.message}; until it is fixed, every step that changes anything asks")
            self.rules = Rules(typed="check", planned="ask")
        self.face = PlainFace(self.renderer)
        self.planner = None
        self._planner_lock = threading.Lock()
        self.planning_enabled = True
        self.model: str | None = None
        self.backend = "llama"
        self.request_class = "interactive"     # the model service's queue for this shell's plans
        self._model_use: tuple[int, float] | None = None   # (tokens, seconds) planning the line about to run
        self.base_url: str | None = None
        self.last_line: str | None = None
        self.last_error: str | None = None
        self.last_agent = None      # the last agent run's transcript (nlsh.agent.loop.Run)

    # -- running lines -----------------------------------------------------
    def run_line(self, line: str, origin: str = "typed") -> int:
        """Route and run one line; returns its exit status. Raises ExitShell on ``exit``."""
        try:
            return self._run_line(line, origin)
        except RecursionError:
            self.renderer.error("the line nests too deeply for nlsh (brackets, blocks or $(…) inside one another)")
            self.last_status = 2
            return 2

    def _run_line(self, line: str, origin: str) -> int:
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            return self.last_status
        if stripped.startswith("!") and self.planning_enabled:     # in a script, `! …` is bash's negation
            command = stripped[1:].strip()
            return self.run_plan(self._verbatim(command), typed=line, origin="verbatim")
        if stripped.startswith("??") and self.planning_enabled:     # an agent: ?? TASK
            import shlex
            return self.run_plan(self.parse("agent -- " + shlex.quote(stripped[2:].strip())), typed=line,
                                 origin=origin)
        if stripped.startswith("?"):
            return self.run_utterance(stripped[1:].strip(), line)
        try:
            plan = self.parse(line)
        except ParseError as e:
            if unparsed_is_utterance(stripped, e) and self.planning_enabled:
                return self.run_utterance(stripped, line)
            self.renderer.error(e.message, line, e.column, e.length)
            self.last_status = e.status
            if "errexit" in self.options and not self.interactive:
                raise ExitShell(e.status)       # set -e: `nonexistent_cmd` ends the script, as in bash
            return e.status
        if self.planning_enabled and parsed_is_utterance(plan, stripped, self.cwd):
            return self.run_utterance(stripped, line)
        return self.run_plan(plan, typed=line, origin=origin)

    # -- planning ----------------------------------------------------------
    def configure_planner(self, model: str | None = None, backend: str = "auto",
                          base_url: str | None = None, request_class: str = "interactive") -> None:
        self.model, self.backend, self.base_url = model, backend, base_url
        self.request_class = request_class

    def get_planner(self):
        """The planner, created on first use (the model loads in the background)."""
        with self._planner_lock:
            return self._get_planner()

    def _get_planner(self):
        if self.planner is None:
            from nlsh.planner.planner import Planner
            from nlsh.planner.prompt import Shot
            accepted = [Shot(r["utterance"], r["plan"]) for r in
                        self.store.query("SELECT utterance, plan FROM accepted ORDER BY id DESC LIMIT 200")]
            self.planner = Planner.create(self.registry, model=self.model, backend=self.backend,
                                          base_url=self.base_url, accepted=accepted,
                                          path=self.env.get("PATH"), request_class=self.request_class)
        return self.planner

    def problems(self, plan: Plan) -> list[str]:
        """What would fail at once if ``plan`` ran here now (the planner takes a second look)."""
        from nlsh.preflight import problems
        return problems(plan, self)

    def run_utterance(self, utterance: str, typed: str) -> int:
        """Plan an utterance, show the plan and its risk, check it, run it."""
        from nlsh.planner.models import ModelError
        from nlsh.planner.planner import PlanningError
        try:
            planner = self.get_planner()
            with self.face.planning(utterance, stage=lambda: getattr(planner.backend, "stage", "")):
                result = planner.plan(utterance, self.cwd, last=self.last_line, last_error=self.last_error,
                                      check=self.problems)
        except (ModelError, PlanningError) as e:
            self.renderer.error(f"could not plan that: {getattr(e, 'message', str(e))}")
            raw = getattr(e, "raw", "")
            if raw:
                self.renderer.item(2, f"  the model said: {raw}")
            self.last_status = 1
            return 1
        except KeyboardInterrupt:
            self.renderer.error("planning cancelled")
            self.last_status = 130
            return 130
        if result.problems:
            self.renderer.item(2, "  first try: " + "; ".join(result.problems)
                               + ("; planned again" if result.repaired else "; no better plan came"))
        status = self.run_plan(result.plan, typed=typed, planned=result)
        return status

    # -- services the commands reach through their scope (eval, exec, source) --
    def gate(self, plan: Plan, origin: str, scope: Scope, **options) -> Ticket:
        """The gate's ticket for ``plan`` run from ``origin`` in ``scope`` (a copy's state, this session's services)."""
        return review(plan, origin, scope, **options)

    def source_script(self, path: str, scope: Scope, *, locked: bool = False, dry_run: bool = False) -> int:
        """Run the script at ``path`` in ``scope`` (``source``, ``.``); a script's error is a command error."""
        from nlsh.scripts import ScriptError, run_script
        try:
            return run_script(path, scope, {}, locked=locked, dry_run=dry_run)
        except ScriptError as e:
            raise CommandError(e.message, e.status) from None

    def run_agent(self, task: str, ctx, limits: dict, verbose: bool = False, each: bool = False,
                  yes: bool = False):
        """The ``agent`` command's run in ``ctx`` (its job and scope): what its steps
        print; its transcript is kept in the store (``history --agents``)."""
        from nlsh.agent.runner import agent_run
        return agent_run(self, task, ctx, limits, verbose, each, yes)

    # -- the one path to execution ------------------------------------------
    def run_plan(self, plan: Plan, *, typed: str = "", planned=None, origin: str = "typed") -> int:
        """Run ``plan`` once the gate lets it through. Every line of the shell's own ends up here."""
        ticket = review(plan, "planned" if planned is not None and origin == "typed" else origin, self,
                        typed=typed, planned=planned)
        if not ticket.allowed:
            if ticket.refusal:
                self.renderer.error(ticket.refusal)
            self.last_status = ticket.status
            return ticket.status
        decision = ticket.decision
        if planned is not None:
            self.mark_planned(1)
        self.critical_confirmed = decision.critical and ticket.decided_by == "user"
        self.line_serial += 1               # what a line overwrites is kept once, as it was before the line
        t = planned.timings if planned is not None else {}
        self._model_use = (t.get("prompt_tokens", 0) + t.get("generated_tokens", 0),
                           t.get("model_s", t.get("latency_s", 0.0))) if t else None
        try:
            status = self._execute(plan, offer=origin == "typed" and self.interactive and planned is None)
        finally:
            if planned is not None:
                self.mark_planned(-1)
            self.critical_confirmed = False
            self._model_use = None
        ticket.close(status)
        if planned is not None and self.planner is not None and status == 0:   # a failed plan is no example
            plan_text = self.text(plan)
            self.planner.remember(planned.utterance, plan_text)
            self.store.insert("accepted", {"time": time.time(), "utterance": planned.utterance,
                                           "plan": plan_text, "model": planned.model})
        self.last_line = typed or self.text(plan)
        return status

    def mark_planned(self, delta: int) -> None:
        """A model-written line (or an agent's step) starts (+1) or ends (-1)."""
        with self._planned_lock:
            self.running_planned += delta

    def _verbatim(self, command: str) -> Plan:
        shell = self.env.get("SHELL") or "/bin/sh"
        call = Call(os.path.basename(shell), (("argv", (Word.lit(shell), Word.lit("-c"), Word.lit(command))),),
                    external=True)
        return Plan.of(call)

    def _execute(self, plan: Plan, offer: bool = False) -> int:
        """Run the plan's chains as jobs. ``offer``: a line typed at the prompt that earlier
        runs say is long or large is told so, and a long one may go to the background."""
        status = self.last_status
        for chain in plan.chains:
            background = chain.background or offer and self._to_background(chain)
            job = Job(self.copy() if background else self, chain, _chain_text(self, chain),
                      foreground=not background, stdin=self.stdin if not background else None)
            refusal = self.jobs.refusal(job)
            if refusal:
                self.renderer.error(refusal)
                self.last_status = status = 1
                continue
            self.jobs.add(job)
            if self._model_use is not None:             # planning's cost is the first job's
                job.usage.model_tokens, job.usage.model_s = self._model_use
                self._model_use = None
            if background:
                self.last_background = job.id          # $! is %N
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

    def _to_background(self, chain: Chain) -> bool:
        text = bare_text(self, chain)
        estimate = self.jobs.estimate_line(text, self.cwd) if text is not None else None
        return estimate is not None and estimate.notable and self.face.offer_background(estimate)

    def run_foreground(self, job: Job) -> int:
        """Follow a job's output until it ends, is stopped (Ctrl-Z) or cancelled (Ctrl-C)."""
        on_main = _on_main_thread()
        old_tstp = old_int = None
        if on_main and self.tty is not None:
            old_tstp = signal.signal(signal.SIGTSTP, _raise_suspend)
        # Ctrl-C only marks the job interrupted: a KeyboardInterrupt raised inside the job's
        # Condition.wait can leave its lock released ("cannot release un-acquired lock")
        interrupted: list[bool] = []
        if on_main and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            old_int = signal.signal(signal.SIGINT, lambda *_: interrupted.append(True))
        if job.state == "queued" and self.jobs.queue_position(job) is None:
            self.jobs.submit(job)
        else:
            job.foreground = True
            for stream, item in job.drain():
                self._show(stream, item)
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
                    for stream, item in job.follow(stop=lambda: job.stopped or bool(interrupted)):
                        self._show(stream, item)
                    if not interrupted:
                        break
                    interrupted.clear()
                    job.terminate("interrupted")        # and follow it to its end
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
            if old_int is not None:
                signal.signal(signal.SIGINT, old_int)
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

    def _show(self, stream: int, item: object) -> None:
        """An item of the job in front: drawn, or a question its step waits on, asked."""
        if isinstance(item, Question):
            item.answer(self.face.confirm(item.plan, item.text, item.decision) if self.interactive else None)
        else:
            self.renderer.item(stream, item)

    def report_finished_jobs(self) -> None:
        """Say which background jobs ended, with the output they left (before a prompt)."""
        for job in [j for j in self.jobs.list() if j.finished and not j.foreground]:
            for stream, item in job.drain():
                self.renderer.item(stream, item)
            self.renderer.flush()
        for notice in self.jobs.reap_notices():
            self.renderer.item(2, notice)

    def finish(self, status: int) -> int:
        """End the shell, whose last status is ``status``: run the EXIT trap
        (``trap CMDS EXIT``), then shut down. The status it ends with (an
        ``exit`` in the trap sets it)."""
        action = self.traps.pop("EXIT", "")
        if action:
            self.last_status = status
            try:
                self.run_line(action, origin="trap")
            except ExitShell as e:
                status = e.status
        self.shutdown()
        return status

    def shutdown(self) -> None:
        for job in self.jobs.live():
            if self.jobs.queue_position(job) is not None:
                self.jobs.cancel_queued(job)
            else:
                job.terminate("shell exited")
        for job in self.jobs.list():
            if job.state != "queued":
                job.wait(timeout=3)
        self.store.close()


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
    """Run lines one by one (piped stdin, ``-c`` with newlines); the last status.
    A command that goes on over several lines (a loop, an open quote, a
    trailing ``|``) runs once it is whole, as in bash."""
    status = 0
    pending: list[str] = []
    try:
        for line in lines:
            pending.append(line.rstrip("\n"))
            text = "\n".join(pending)
            if needs_more(text):
                continue
            pending = []
            status = shell.run_line(join_continued(text))
            shell.report_finished_jobs()
        if pending:         # the input ended inside a command: its error says what is open
            status = shell.run_line(join_continued("\n".join(pending)))
    except ExitShell as e:
        status = e.status
    return status


__all__ = ["ExitShell", "Shell", "run_script_lines"]
