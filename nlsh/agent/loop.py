"""An agent's run: plan a step → the gate → run it → look at what it printed →
the next step, until the model answers or a budget is used up.

The loop knows nothing of terminals or jobs: it is given how to ask the
model (``backend``), how to run a step (``execute``) and where a question
goes (``face``); ``nlsh.commands.agent`` gives it those of the job it runs
in. Every step goes through ``nlsh.gate.review`` as an "agent" line, exactly
like a typed or planned one, with its own audit record."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Generator
from dataclasses import asdict, dataclass, field

from nlsh.agent import prompt
from nlsh.gate import review
from nlsh.lang import ParseError
from nlsh.records import plain_line

MAX_TOKENS = 150            # one reply: a thought, then a command line or the answer
KEEP_OUTPUT = 20_000        # characters of a step's output kept in the transcript


class AgentError(Exception):
    """The agent could not go on (the model failed); the message says why."""


@dataclass
class Budget:
    steps: int = 8
    seconds: float = 180.0
    tokens: int = 30_000          # prompt and generated tokens over all the model's replies

    def __post_init__(self) -> None:
        for flag, value in (("--steps", self.steps), ("--time", self.seconds), ("--tokens", self.tokens)):
            if value <= 0:
                raise ValueError(f"agent: {flag} must be more than 0 (got {value:g})")


@dataclass
class Step:
    n: int
    line: str                     # what the model chose to run
    thought: str = ""             # why, in its words
    outcome: str = "ran"          # ran · refused · declined · unasked · unparsed · repeated
    status: int | None = None     # its exit status when it ran
    output: str = ""              # what it printed (errors in order), cut at KEEP_OUTPUT
    reason: str = ""              # why it did not run
    tokens: int = 0               # the model's tokens choosing it
    model_s: float = 0.0
    seconds: float = 0.0          # running it
    changes: bool = False         # the policy judged it to change something


@dataclass
class Run:
    """A whole run: its steps and how it ended."""
    task: str
    cwd: str
    id: int = 0
    steps: list[Step] = field(default_factory=list)
    answer: str = ""
    thought: str = ""             # the model's last word on why it is done
    status: str = "running"       # answered · budget · refused · declined · unasked · looping · cancelled · failed
                                  # (· partial: some of its children did not answer)
    message: str = ""             # how it ended, for the person
    tokens: int = 0
    model_s: float = 0.0
    seconds: float = 0.0
    parent: int = 0               # the run that started it (agent --each, or a step of another agent)
    children: list[int] = field(default_factory=list)

    @property
    def exit_status(self) -> int:
        return {"answered": 0, "refused": 126, "cancelled": 130}.get(self.status, 1)

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    def summary(self) -> str:
        """One line per step, for the person when a budget ends the run."""
        return "; ".join(f"{s.n}. {s.line} ({s.outcome if s.outcome != 'ran' else f'exit {s.status}'})"
                         for s in self.steps) or "no step ran"


def run(r: Run, scope, *, backend, execute: Callable, face=None, budget: Budget | None = None,
        cancel=None, on_step: Callable[[Step, str], None] = lambda step, phase: None,
        request: dict | None = None, hint: str = "", yes: bool | None = None) -> Generator[object, None, Run]:
    """Carry out ``r.task`` in ``scope`` (its directory and variables, which steps
    change), filling in ``r`` as it goes (a run cut short keeps its steps); yields
    what each step printed as it ends, and returns ``r``.

    ``execute(plan) -> (items, status)`` runs a step that the gate let through;
    ``face`` asks the person (None: a step that must ask ends the run);
    ``on_step(step, phase)`` is told of each step ("chosen", then "done");
    ``request``: extra arguments of ``backend.complete`` (the service's class);
    ``hint``: a line the task is shown with (a similar task done before);
    ``yes``: True answers the steps' non-critical asks (None: the shell's --yes decides)."""
    budget = budget or Budget()
    r.task = " ".join(r.task.split())
    if not r.task:
        raise AgentError("agent: what should it do? (agent TASK)")
    label = f"#{r.id}: {r.task}"[:200]
    t0 = time.monotonic()
    turns: list[prompt.Turn] = []
    repeats = 0
    nudged = False
    while True:
        if cancel is not None and cancel.cancelled:
            return _stopped(r, t0, budget)
        if len(r.steps) >= budget.steps:
            return _ended(r, t0, "budget", f"stopped: its {budget.steps} steps are used up")
        if time.monotonic() - t0 >= budget.seconds:
            return _ended(r, t0, "budget", f"stopped: its {budget.seconds:g} s are used up")
        if r.tokens >= budget.tokens:
            return _ended(r, t0, "budget", f"stopped: its {budget.tokens} model tokens are used up")
        left = budget.steps - len(r.steps)
        note = "one step left: give your Answer unless one more command is needed" if left == 1 else ""
        reply, tokens, model_s = _ask_model(backend, prompt.suffix(r.task, scope.cwd, turns, note, hint),
                                            cancel, request or {})
        r.tokens += tokens
        r.model_s += model_s
        if reply is None:
            return _stopped(r, t0, budget)
        thought, command, answer = prompt.parsed(reply)
        verb = prompt.asks_a_change(r.task)
        if answer and not nudged and verb and not _changed(r):
            nudged = True           # once: an answer before anything was done is a small model's commonest slip
            turns.append(prompt.Turn(prompt.reply_text(thought, answer=answer),
                                     f"Not done yet: the task says {verb}, and no command so far did that. "
                                     f"Run the command that does it with what you found, then answer."))
            continue
        if answer:
            r.answer, r.thought = answer, thought
            return _ended(r, t0, "answered", "")
        said = prompt.reply_text(thought, command)
        step = Step(len(r.steps) + 1, command, thought, tokens=tokens, model_s=round(model_s, 3))
        r.steps.append(step)
        if not step.line:
            step.outcome, step.reason = "unparsed", "a reply without a command or an answer"
            turns.append(prompt.Turn(said, "That reply had no Command: line and no Answer: line. Reply in the "
                                           "form asked."))
            on_step(step, "done")
            continue
        earlier = next((s for s in r.steps[:-1] if s.line == step.line), None)
        if earlier is not None:
            step.outcome, step.reason = "repeated", f"the same as step {earlier.n}"
            repeats += 1
            if repeats >= 2:
                return _ended(r, t0, "looping", f"stopped: it chose a command it had run already ({step.line})")
            turns.append(prompt.Turn(said, f"Not run: that command already ran (step {earlier.n}); its output "
                                           "is above. Choose a different command, or give your Answer."))
            on_step(step, "done")
            continue
        repeats = 0
        try:
            plan = scope.parse(step.line)
            if any(chain.background for chain in plan.chains):
                raise ParseError("a step may not start background jobs (no &): run it and wait for it")
        except ParseError as e:
            step.outcome, step.reason = "unparsed", e.message
            turns.append(prompt.Turn(said, f"Not run: the shell cannot run that line: {e.message}."))
            on_step(step, "done")
            continue
        on_step(step, "chosen")
        ticket = review(plan, "agent", scope, typed=step.line, face=face, agent=label, assume_yes=yes)
        if not ticket.allowed:
            step.reason = ticket.refusal
            step.outcome = ("refused" if ticket.denied else "declined" if ticket.decided_by == "user"
                            else "unasked")
            on_step(step, "done")
            what = {"refused": f"step {step.n} was refused ({ticket.reason})",
                    "declined": f"you declined step {step.n}",
                    "unasked": f"step {step.n} needs a confirmation nobody could give here ("
                               + (f"{ticket.decision.reason}; only a person at the prompt can give it)"
                                  if ticket.decision is not None and ticket.decision.critical else
                                  f"{ticket.decision.reason if ticket.decision else ticket.reason}; "
                                  "--yes gives it)")}
            return _ended(r, t0, step.outcome, "stopped: " + what[step.outcome])
        started = time.monotonic()
        items, status = execute(plan)
        ticket.close(status)
        step.changes = not ticket.decision.risk.read_only
        text = "".join(plain_line(i) for i in items)
        step.seconds = round(time.monotonic() - started, 3)
        step.status, step.output = status, text[:KEEP_OUTPUT]
        turns.append(prompt.Turn(said, prompt.observed(status, text)))
        on_step(step, "done")
        yield from items


def _ask_model(backend, suffix: str, cancel, request: dict) -> tuple[str | None, int, float]:
    """The model's next reply (None when cancelled), its tokens and seconds."""
    from nlsh.planner.backend import BackendError
    t0 = time.perf_counter()
    try:
        done = backend.complete(prompt.prefix(), suffix, grammar=None, max_tokens=MAX_TOKENS,
                                stop=prompt.STOP, cancel=cancel, **request)
    except BackendError as e:
        raise AgentError(f"agent: the model failed: {e}") from None
    seconds = done.timings.get("model_s") or time.perf_counter() - t0
    if done.finish_reason == "cancelled":
        return None, done.prompt_tokens + done.completion_tokens, seconds
    return done.text, done.prompt_tokens + done.completion_tokens, seconds


def _changed(r: Run) -> bool:
    """Did a step that ran change anything (as the policy judged it)?"""
    return any(s.outcome == "ran" and s.changes for s in r.steps)


def _stopped(r: Run, t0: float, budget: Budget) -> Run:
    """Cancelled: by the time budget's hard stop (a model reply that outlasted it) or by a person."""
    if time.monotonic() - t0 >= budget.seconds:
        return _ended(r, t0, "budget", f"stopped: its {budget.seconds:g} s are used up")
    return _ended(r, t0, "cancelled", "stopped")


def _ended(r: Run, t0: float, status: str, message: str) -> Run:
    r.status, r.message = status, message
    r.seconds = round(time.monotonic() - t0, 3)
    r.model_s = round(r.model_s, 3)
    if status == "budget" or status == "looping":
        r.message += f" (steps: {r.summary()})"
    return r
