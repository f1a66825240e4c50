"""An agent run inside a job: the ``agent`` command's work (through
``Shell.run_agent``). Steps run in the job's scope with their output and
errors kept in order; a question goes to the person through the job
(nlsh.kernel.question); the transcript goes to the store."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator

from nlsh.agent import loop
from nlsh.kernel.context import CommandError
from nlsh.kernel.question import Question

_IDS = threading.Lock()
_last_id = [0]


class JobFace:
    """The face an agent's step asks through: a question in its job's output, which
    the shell asks when the job is in front; a background job stops until ``fg``."""

    def __init__(self, job) -> None:
        self.job = job

    def confirm(self, plan, text: str, decision) -> str | None:
        job = self.job
        q = Question(plan, text, decision)
        front = job.asks_through           # a child agent asks through its parent while that one is in front
        asker = front if front is not None and front.foreground and not front.finished else job
        if not asker.foreground:
            job.state = "stopped"
            q.stopped_job = job
            job.shell.jobs.notices.append(f"[{job.id}]+ Stopped (a step needs your answer: fg %{job.id})  "
                                          f"{text}")
        was, job.activity = job.activity, f"waiting for your answer: {text}"
        asker.emit(q, 2)
        answer = q.wait(job.cancel)
        job.activity = was
        return answer

    def grant(self, plugin: str, command: str, effects: str) -> bool | None:
        return None


def next_id(store) -> int:
    """A new run's number (one more than any kept or running)."""
    rows = store.query("SELECT COALESCE(MAX(id), 0) AS n FROM agents")
    with _IDS:
        _last_id[0] = max(_last_id[0], rows[0]["n"] if rows else 0) + 1
        return _last_id[0]


def learned(store, task: str) -> str:
    """The earlier run most like ``task`` that ended with an answer, as a hint
    line ("" when none is near enough): runs that worked teach the next ones."""
    from nlsh.planner.prompt import ExampleIndex, Shot
    rows = store.query("SELECT task, transcript FROM agents WHERE status = 'answered' ORDER BY id DESC LIMIT 200")
    shots = []
    for row in rows:
        steps = [s["line"] for s in json.loads(row["transcript"]).get("steps", []) if s["outcome"] == "ran"
                 and s["status"] == 0]
        if steps:
            shots.append(Shot(row["task"], "; then ".join(steps)))
    best = ExampleIndex(shots).top(task, 1, 1.12) if shots else []
    return f"a similar task done before: {best[0].utterance!r}: {best[0].command}" if best else ""


MAX_ITEMS = 16              # child agents one ``agent --each`` may start
PARALLEL = 2                # of them running at once (one model serves their steps in turn; their commands overlap)


def agent_run(shell, task: str, ctx, limits: dict, verbose: bool = False, each: bool = False,
              yes: bool = False) -> Iterator[object]:
    """Run ``agent TASK`` in ``ctx``'s job; yields what the steps print, then the
    answer. ``each``: a child agent per line of the input (``{}`` in TASK is the
    line), each a background job with the budgets given, PARALLEL at a time;
    their answers come back as ``ITEM: ANSWER`` lines in the order of the items,
    and the run that started them keeps them."""
    from nlsh.planner.models import ModelError
    try:
        budget = loop.Budget(**limits)
    except ValueError as e:
        raise CommandError(str(e).removeprefix("agent: "), 2) from None
    items = [line.strip() for line in ctx.lines() if line.strip()] if each else []
    if each and not items:
        raise CommandError("--each: no items came in (give them on the input: ls logs | agent --each 'TASK {}')")
    if len(items) > MAX_ITEMS:
        raise CommandError(f"--each: {len(items)} items, more than {MAX_ITEMS} agents at once; give fewer")
    try:
        backend = shell.get_planner().backend
    except ModelError as e:
        raise CommandError(f"no model to run an agent: {e}") from None
    if not each:
        run = yield from _run(shell, task, ctx, backend, budget, verbose, yes=yes)
        if run.answer:
            yield run.answer
        ctx.status = run.exit_status
        return
    parent = loop.Run(task, ctx.shell.cwd, id=next_id(shell.store), status="answered")
    started, t0 = time.time(), time.monotonic()
    job = ctx.job
    outer = getattr(job, "agent_run", 0)
    if job is not None:
        job.agent_run = parent.id
    waiting = [(n, item, task.replace("{}", item) if "{}" in task else f"{task}: {item}")
               for n, item in enumerate(items, 1)]
    running: dict[int, tuple[str, str, object]] = {}
    answers: dict[int, tuple[str, loop.Run | None]] = {}
    taken: set[int] = set()
    shown = 1
    try:
        while waiting or running or shown in answers:
            while waiting and len(running) < PARALLEL and not ctx.cancel.cancelled:
                n, item, child_task = waiting.pop(0)
                child = _child_job(shell, ctx, parent.id, child_task, limits, yes)
                running[n] = (item, child_task, child)
                ctx.stderr.write(f"agent #{parent.id} [{n}/{len(items)}] %{child.id} {child_task}\n")
                ctx.stderr.flush()
            for n, (item, child_task, child) in list(running.items()):
                if child.finished:
                    del running[n]
                    answers[n] = (item, _child_run(shell, parent.id, child_task, taken))
            while shown in answers:                 # in the order of the items, each as soon as it can be
                item, run = answers.pop(shown)
                shown += 1
                if run is not None:
                    parent.children.append(run.id)
                    parent.tokens += run.tokens
                    parent.model_s += run.model_s
                if run is None or run.status != "answered":
                    parent.status = "partial"
                why = "(no answer: " + ((run.message or run.status) if run is not None else "it was stopped") + ")"
                line = f"{item}: {run.answer if run is not None and run.answer else why}"
                parent.answer += line + "\n"
                yield line
            if ctx.cancel.cancelled:
                parent.status, parent.message = "cancelled", "stopped"
                break
            if running:
                ctx.cancel.wait(0.1)
    finally:
        for _, _, child in running.values():          # the parent stopped: so do the children it started
            child.terminate("the agent that started it stopped")
        if job is not None:
            job.agent_run = outer
        parent.parent = outer
        parent.answer = parent.answer.rstrip("\n")
        parent.seconds = round(time.monotonic() - t0, 3)
        _keep(shell, parent, started)
    ctx.status = parent.exit_status


def _child_job(shell, ctx, parent: int, task: str, limits: dict, yes: bool):
    """A background job running ``agent TASK`` with the parent's budgets; it asks
    through the parent's job while that one is in front."""
    import shlex

    from nlsh.kernel.job import Job
    names = {"steps": "--steps", "seconds": "--time", "tokens": "--tokens"}
    flags = [f"{names[k]} {v:g}" if isinstance(v, float) else f"{names[k]} {v}" for k, v in limits.items()]
    text = " ".join(["agent", *flags, *(["--yes"] if yes else []), "--", shlex.quote(task)])
    chain = shell.parse(text).chains[0]
    child = Job(ctx.shell.copy(), chain, text, foreground=False)
    child.agent_run = parent
    child.asks_through = ctx.job
    shell.jobs.add(child)
    shell.jobs.submit(child)
    return child


def _child_run(shell, parent: int, task: str, taken: set[int]) -> loop.Run | None:
    """The run a finished child job kept (its answer, status and use; one not ``taken``
    by an earlier child of the same task), or None if it kept none."""
    for row in shell.store.query("SELECT id, status, answer, model_tokens, model_s, transcript FROM agents "
                                 "WHERE parent = ? AND task = ? ORDER BY id", (parent, task)):
        if row["id"] not in taken:
            taken.add(row["id"])
            return loop.Run(task, "", id=row["id"], status=row["status"], answer=row["answer"] or "",
                            tokens=row["model_tokens"] or 0, model_s=row["model_s"] or 0.0,
                            message=json.loads(row["transcript"] or "{}").get("message", ""))
    return None


def _run(shell, task: str, ctx, backend, budget: loop.Budget, verbose: bool, parent: int = 0, yes: bool = False):
    """One agent's run in ``ctx``'s job (a generator: what its steps print; returns the Run)."""
    job, scope = ctx.job, ctx.shell
    request = {"cls": "agent"} if getattr(backend, "device", "") == "service" else {}
    run_id = next_id(shell.store)
    face = JobFace(job) if shell.interactive and job is not None else None
    counted = [0, 0.0]
    tag = f"agent #{run_id}" if parent else "agent"

    def execute(plan):
        scope.line_serial += 1              # what a step overwrites is kept once, as it was
        scope.mark_planned(1)               # the model wrote it: contained and kept as a planned line is
        try:
            return ctx.capture(plan, iter(()), merged=True)
        finally:
            scope.mark_planned(-1)

    def on_step(step: loop.Step, phase: str) -> None:
        if phase == "chosen" or step.outcome != "ran":
            account(step.tokens, step.model_s)
        if phase == "chosen":
            if job is not None:
                job.activity = f"step {step.n}/{budget.steps}: {step.line}"
            if verbose and step.thought:
                ctx.stderr.write(f"{tag} [{step.n}] # {step.thought}\n")
            ctx.stderr.write(f"{tag} [{step.n}] {step.line}\n")
        elif step.outcome != "ran":
            ctx.stderr.write(f"{tag} [{step.n}] {step.line}: not run: {step.reason}\n")
        ctx.stderr.flush()

    def account(tokens: int, seconds: float) -> None:
        counted[0] += tokens
        counted[1] += seconds
        if job is not None:
            job.used_model(tokens, seconds)

    waiting = shell.interactive and getattr(backend, "stage", "")
    if waiting:                             # the first use of a shell: the model loads before the first step
        ctx.stderr.write(f"{tag}: {waiting}…\n")
        ctx.stderr.flush()
    hint = learned(shell.store, task)
    run = loop.Run(task, scope.cwd, id=run_id, status="cancelled", message="stopped",
                   parent=parent or getattr(job, "agent_run", 0))
    t0 = time.monotonic()
    timer = threading.Timer(budget.seconds + 5, lambda: job.terminate(
        f"the agent's {budget.seconds:g} s are used up", status=124)) if job is not None else None
    if timer is not None:
        timer.daemon = True
        timer.start()
    started = time.time()
    outer = getattr(job, "agent_run", 0)
    if job is not None:
        job.agent_run = run_id
    try:
        yield from loop.run(run, scope, backend=backend, execute=execute, face=face, budget=budget,
                            cancel=job.cancel if job is not None else None, on_step=on_step, request=request,
                            hint=hint, yes=True if yes else None)
    except loop.AgentError as e:
        run.status, run.message = "failed", str(e).removeprefix("agent: ")
        raise CommandError(run.message) from None
    finally:
        if timer is not None:
            timer.cancel()
        if job is not None:
            job.agent_run = outer
        account(run.tokens - counted[0], run.model_s - counted[1])
        if job is not None:
            job.activity = ""
        if run.status == "cancelled":
            run.seconds = round(time.monotonic() - t0, 3)
        _keep(shell, run, started)
    if run.message:
        ctx.stderr.write(f"{tag}: {run.message}\n")
    if verbose and run.thought:
        ctx.stderr.write(f"{tag} # {run.thought}\n")
    if verbose:
        ctx.stderr.write(f"{tag}: #{run.id} {run.status} · {len(run.steps)} steps · {run.tokens} model tokens "
                         f"({run.model_s:.1f} s) · {run.seconds:.1f} s\n")
    return run


def _keep(shell, run: loop.Run, started: float) -> None:
    shell.last_agent = run
    shell.store.insert("agents", {"id": run.id, "time": started, "cwd": run.cwd, "task": run.task,
                                  "status": run.status, "answer": run.answer, "steps": len(run.steps),
                                  "model_tokens": run.tokens, "model_s": run.model_s,
                                  "seconds": run.seconds, "transcript": run.to_json(), "parent": run.parent or None})
