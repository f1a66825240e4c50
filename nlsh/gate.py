"""The gate: the one place a line is let through, or not, before it runs.

Every way a line comes to run calls :func:`review` with where it comes from
(its :data:`ORIGINS`): a typed line, a planned one, a ``!`` escape, a trap,
``eval``/``exec``, a script's step, a program or built-in the kernel is about
to start (the monitor, with the words of that moment), and later agents, the
API and plugins. The gate asks the policy (``nlsh.policy.decide``) for its
decision, lets plugins veto and grants their effects, asks the person through
the face where the origin has one, and writes the audit record of every line
it refuses; the caller runs what it let through and closes the ticket with the
status, which writes the audit record of the run. :func:`preview` is the same
judgement with nothing asked and nothing recorded (``nlsh run --dry-run`` and a
script's check before its first step)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from nlsh.kernel.context import CommandError
from nlsh.policy import Decision, decide, verbatim_denial

if TYPE_CHECKING:
    from nlsh.kernel.state import Scope
    from nlsh.lang.plan import Plan


@dataclass(frozen=True)
class Origin:
    """Where a line comes from, and what that allows."""
    name: str
    asks: bool          # a person may be asked (the line runs on the shell's own thread)
    trusted: bool       # a non-critical ask was already answered (a checked script, a line already let through)
    audited: bool       # a record of its own when it runs (eval's text and a program run as part of their line;
                        # a refusal is recorded from every door)
    written: bool = False   # the model wrote the line (an agent's step): judged as a planned line


ORIGINS = {o.name: o for o in (
    Origin("typed", asks=True, trusted=False, audited=True),        # the REPL, -c, piped lines
    Origin("planned", asks=True, trusted=False, audited=True),      # a plan of the model's
    Origin("verbatim", asks=True, trusted=True, audited=True),      # `!CMD`: the user's $SHELL, as typed
    Origin("trap", asks=True, trusted=False, audited=True),         # trap '…' EXIT as the shell ends
    Origin("script", asks=True, trusted=True, audited=True),        # a script's step, checked as a whole first
    Origin("eval", asks=False, trusted=False, audited=False),       # eval and exec: text that becomes a line
    Origin("program", asks=False, trusted=True, audited=False),     # what the kernel is about to start, as it is
    Origin("agent", asks=True, trusted=False, audited=True, written=True),
    Origin("api", asks=False, trusted=False, audited=True),
    Origin("plugin", asks=False, trusted=False, audited=True),
)}


def judge(plan: Plan, shell: Scope, origin: Origin, planned: bool) -> Decision:
    """The policy's decision on ``plan`` from ``origin``, written by the model
    or run by a step that was (nothing asked, nothing recorded). The policy
    judges the same whatever the door; ``origin`` is here so that a test can
    stand a gate of its own in (tests/test_gate.py refuses one door at a time)."""
    return decide(plan, shell, shell.rules, planned=planned)


@dataclass
class Ticket:
    """The gate's answer for one line: let through (run it, then :meth:`close`) or not."""
    shell: Scope
    origin: Origin
    typed: str
    planned: object                 # the planner's result for a planned line, else None
    decision: Decision | None
    decided_by: str
    agent: str | None = None        # the agent run a step is part of ("#3: TASK")
    reason: str = ""                # why it did not get through ("" when it did)
    denied: bool = False            # refused outright (the deny-list, a rule): said as "refused: REASON"
    status: int = 0                 # the line's status when it did not get through

    @property
    def allowed(self) -> bool:
        return not self.reason and self.status == 0

    @property
    def refusal(self) -> str:
        """What the person is told when it did not get through."""
        return f"refused: {self.reason}" if self.denied else self.reason

    def close(self, status: int) -> None:
        """The line ran with ``status``: its audit record."""
        if self.origin.audited:
            _audit(self.shell, self.typed, self.planned, "allowed", self.decided_by, status, self.agent)


def review(plan: Plan, origin: str, shell: Scope, *, typed: str = "", planned=None, in_plan: bool = False,
           face=None, agent: str | None = None, assume_yes: bool | None = None) -> Ticket:
    """Judge ``plan`` coming from ``origin`` and ask where it must; the ticket
    says whether it may run. ``planned`` is the planner's result for a planned
    line; ``in_plan`` says a program or built-in runs inside a planned step.
    ``face`` asks in place of the shell's (an agent's step asks through its job);
    ``agent`` names the agent run a step belongs to, in the audit log;
    ``assume_yes`` answers its non-critical asks in place of the shell's --yes (``agent --yes``)."""
    where = ORIGINS[origin]

    def refuse(reason: str, decided_by: str, decision: Decision | None = None, denied: bool = False) -> Ticket:
        return _refuse(shell, where, typed or shell.text(plan), planned, reason, decided_by, decision, denied,
                       agent)

    if where.name == "verbatim":                      # `!CMD`: the text as $SHELL -c gets it
        why = verbatim_denial(plan.calls[0].get("argv")[-1].literal)
        if why:
            return refuse(why, "built-in deny-list", denied=True)
    try:
        decision = judge(plan, shell, where, planned is not None or in_plan or where.written)
    except CommandError as e:
        return refuse(e.message, "policy error")
    if face is None:
        face = shell.face if where.asks and shell.interactive else None
    plan_text = shell.text(plan) if planned is not None else None
    if planned is not None:
        shell.face.show_plan(plan_text, decision, shell.jobs.estimate_line(plan_text, shell.cwd))
    if decision.action == "deny":
        return refuse(decision.reason, decision.decided_by, decision, denied=True)
    if where.name != "program":                       # a program's line was vetted and granted as a whole
        host = shell.registry.host
        veto = host.veto(plan, shell) if host is not None else None
        if veto:
            return refuse(f"refused by a plugin: {veto}", "plugin before_run", decision)
        why = _plugin_trust(plan, shell, face)
        if why:
            return refuse(why, "plugin trust", decision)
    decided_by = decision.decided_by
    if decision.action == "ask" and where.name == "program":
        if decision.critical and not shell.critical_confirmed:
            return refuse(f"{decision.reason} (needs a confirmation at the prompt; type it as a line of its own)",
                          decided_by, decision)
    elif decision.action == "ask" and (not where.trusted or decision.critical):
        if (shell.assume_yes if assume_yes is None else assume_yes) and not decision.critical:
            decided_by = "--yes"
        else:
            answer = face.confirm(plan, plan_text or shell.text(plan), decision) if face is not None else None
            if answer is None:
                return refuse(_unasked(decision, where), "non-interactive", decision)
            if answer != "yes":
                if where.audited:
                    _audit(shell, typed, planned, "declined", "user", None, agent)
                return Ticket(shell, where, typed, planned, decision, "user", agent, status=1)
            decided_by = "user"
    if not decision.risk.read_only and where.audited:
        broken = shell.store.writable()
        if broken:
            return refuse(f"not run: the audit log cannot be written ({broken}); only lines that change nothing "
                          "run until it can", "audit log", decision)
    return Ticket(shell, where, typed, planned, decision, decided_by, agent)


def preview(plan: Plan, shell: Scope, planned: bool) -> Decision:
    """What the gate would decide for a script's step, before anything of it runs."""
    return judge(plan, shell, ORIGINS["script"], planned)


def _unasked(decision: Decision, origin: Origin) -> str:
    if decision.critical:
        return (f"not run: needs confirmation at the prompt (--yes and rules do not answer this one): "
                f"{decision.reason}")
    if origin.name == "eval":
        return f"not run: needs confirmation, which eval and exec cannot ask (use --yes or a policy rule): " \
               f"{decision.reason}"
    return f"not run: {decision.risk.summary()} needs confirmation (use --yes or a policy rule): {decision.reason}"


def _refuse(shell: Scope, origin: Origin, typed: str, planned, reason: str, decided_by: str,
            decision: Decision | None, denied: bool, agent: str | None = None) -> Ticket:
    _audit(shell, typed, planned, "denied", decided_by, None, agent)       # a refusal is recorded from any door
    return Ticket(shell, origin, typed, planned, decision, decided_by, agent, reason=reason, denied=denied,
                  status=126)


def _audit(shell: Scope, typed: str, planned, decision: str, decided_by: str, status: int | None,
           agent: str | None = None) -> None:
    t = planned.timings if planned is not None else {}
    shell.store.insert("audit", {
        "time": time.time(), "cwd": shell.cwd, "typed": typed,
        "plan": shell.text(planned.plan) if planned is not None else None,
        "model": planned.model if planned is not None else None,
        "decision": decision, "decided_by": decided_by, "status": status,
        # what planning cost on the model (through the service: its own clock and queue)
        "model_tokens": t.get("prompt_tokens", 0) + t.get("generated_tokens", 0) if t else None,
        "model_s": t.get("model_s", t.get("latency_s")) if t else None,
        "queue_s": t.get("queue_s", 0.0) if t else None, "agent": agent})


def _plugin_trust(plan: Plan, shell: Scope, face) -> str | None:
    """The first time a plugin's command with effects beyond read would run, its
    plugin must be granted those effects (remembered); None when all is granted."""
    host = shell.registry.host
    if host is None:
        return None
    from nlsh.plugins import load_grants, save_grants
    grants = load_grants()
    for call in plan.calls:
        plugin = host.plugin_of(call.name)
        if plugin is None:
            continue
        needed = set(shell.registry.get(call.name).effects) - {"read"}
        granted = set(grants.get(plugin, {}).get("effects", []))
        if needed <= granted:
            continue
        missing = ", ".join(sorted(needed - granted))
        if shell.assume_yes:
            continue
        answer = face.grant(plugin, call.name, missing) if face is not None else None
        if answer is None:
            return (f"not run: plugin {plugin} has not been granted {missing} (for {call.name}); "
                    "run it once interactively to grant it, or use --yes")
        if not answer:
            return f"not run: you refused plugin {plugin} {missing}"
        grants.setdefault(plugin, {"effects": []})
        grants[plugin]["effects"] = sorted(granted | needed)
        save_grants(grants)
    return None
