"""Natural language → a validated Plan."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from nlsh.lang import ParseError, Plan, parse, text
from nlsh.planner.backend import BackendError, LlamaBackend, OpenAIBackend
from nlsh.planner.grammar import grammar, programs_on_path
from nlsh.planner.models import ModelError, ModelSpec, model_file, resolve
from nlsh.planner.prompt import (
    ExampleIndex,
    Shot,
    chatml_prefix,
    chatml_suffix,
    context_line,
    idiom_shots,
    registry_shots,
    repair_suffix,
)
from nlsh.registry import Registry

SHOTS = 2   # retrieved examples per request: each costs prompt time on every request


class PlanningError(Exception):
    """No valid plan came out; ``raw`` is what the model produced, if anything."""

    def __init__(self, message: str, raw: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.raw = raw


@dataclass
class PlanResult:
    utterance: str
    plan: Plan
    text: str
    raw: str
    model: str
    repaired: bool = False
    timings: dict = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)   # what the check found in the first answer


class Planner:
    """Plans utterances with one backend; the prompt follows the live registry."""

    def __init__(self, registry: Registry, backend, spec: ModelSpec, *, accepted: list[Shot] | None = None,
                 path: str | None = None) -> None:
        self.registry = registry
        self.backend = backend
        self.spec = spec
        self.accepted = list(accepted or [])
        self.mode = str(spec.get("mode", "grammar"))
        self.max_tokens = int(spec.get("max_tokens", 160))
        self.shots = int(spec.get("shots", SHOTS))
        self.shot_floor = float(spec.get("shot_floor", 0.0))
        self.stop = list(spec.get("stop", ["<|im_end|>", "\n"]))
        self._path = path
        self._built_for = -1
        self._prefix = ""
        self._grammar = ""
        self._index: ExampleIndex | None = None

    @classmethod
    def create(cls, registry: Registry, *, model: str | None = None, backend: str = "llama",
               base_url: str | None = None, accepted: list[Shot] | None = None,
               path: str | None = None) -> Planner:
        """A planner for the configured model (loading starts at once, in the background)."""
        if backend == "openai":
            if not base_url:
                raise ModelError("--backend openai needs --base-url URL")
            spec = ModelSpec(model or "server", {"mode": "grammar", "stop": ["<|im_end|>", "\n"]})
            be = OpenAIBackend(base_url, model or "default")
        else:
            spec = resolve(model)
            be = LlamaBackend(None, resolve_path=lambda: model_file(spec), name=spec.name,
                              n_ctx=int(spec.get("n_ctx", 4096)))
        planner = cls(registry, be, spec, accepted=accepted, path=path)
        be.start()
        return planner

    def _rebuild(self) -> None:
        """Prompt prefix, grammar and example index follow the registry."""
        if self._built_for == self.registry.version:
            return
        programs = programs_on_path(self._path)
        idioms = idiom_shots(self.registry, programs)
        self._prefix = chatml_prefix(self.registry, programs, idioms)
        self._grammar = grammar(self.registry, programs)
        self._index = ExampleIndex(registry_shots(self.registry) + idioms + self.accepted)
        self._built_for = self.registry.version

    def remember(self, utterance: str, plan_text: str) -> None:
        """A plan the user ran becomes an example for later requests."""
        self.accepted.append(Shot(utterance, plan_text))
        self._built_for = -1

    @property
    def prefix(self) -> str:
        """The fixed start of every prompt (rules, catalogue, idioms) for the registry as it is now."""
        self._rebuild()
        return self._prefix

    def warm(self) -> None:
        """Load the model and evaluate the prompt prefix (for a fast first plan)."""
        if isinstance(self.backend, LlamaBackend):
            self.backend.prepare_prefix(self.prefix)

    def plan(self, utterance: str, cwd: str, *, last: str | None = None, last_error: str | None = None,
             cancel=None, check: Callable[[Plan], list[str]] | None = None) -> PlanResult:
        """A valid plan for ``utterance``. An answer that does not parse gets one
        more try with the error; so does one that ``check`` finds would fail at
        once (the second answer is taken only if ``check`` passes it)."""
        utterance = " ".join(utterance.split())
        if not utterance:
            raise PlanningError("nothing to plan: the request is empty")
        t0 = time.perf_counter()
        self._rebuild()
        shots = self._index.top(utterance, self.shots, self.shot_floor)
        context = context_line(cwd, utterance, last, last_error)
        g = self._grammar if self.mode == "grammar" else None
        try:
            done = self.backend.complete(self._prefix, chatml_suffix(shots, context, utterance), grammar=g,
                                         max_tokens=self.max_tokens, stop=self.stop, cancel=cancel)
        except BackendError as e:
            raise PlanningError(str(e)) from None
        timings = {"load_s": round(getattr(self.backend, "load_seconds", 0.0), 3),
                   "prompt_tokens": done.prompt_tokens, "generated_tokens": done.completion_tokens,
                   **done.timings}
        if done.finish_reason == "cancelled":
            raise PlanningError("planning cancelled")
        raw = done.text.strip()
        repaired = False
        plan, error = self._validate(raw, done.finish_reason)

        def again(feedback: str) -> tuple[Plan | None, str, str]:
            try:
                answer = self.backend.complete(self._prefix, repair_suffix(shots, context, utterance, raw, feedback),
                                               grammar=g, max_tokens=self.max_tokens, stop=self.stop,
                                               cancel=cancel)
            except BackendError as e:
                raise PlanningError(str(e), raw) from None
            if answer.finish_reason == "cancelled":
                raise PlanningError("planning cancelled")
            timings["generated_tokens"] += answer.completion_tokens
            text2 = answer.text.strip()
            return (*self._validate(text2, answer.finish_reason), text2)

        if plan is None:
            plan, error2, raw2 = again(f"That line is not valid nlsh: {error}.")
            if plan is None:
                raise PlanningError(f"the model's answer is not a valid plan ({error2})", raw2 or raw)
            raw, repaired = raw2, True
        problems = check(plan) if check is not None and not repaired else []
        if problems:
            plan2, _, raw2 = again("That line would fail here: " + "; ".join(problems[:3]) + ".")
            if plan2 is not None and not check(plan2):
                plan, raw, repaired = plan2, raw2, True
        timings["latency_s"] = round(time.perf_counter() - t0, 3)
        return PlanResult(utterance, plan, text(plan, self.registry.signature), raw, self.spec.name,
                          repaired, timings, problems)

    def _validate(self, raw: str, finish: str) -> tuple[Plan | None, str]:
        if finish == "length":
            return None, "the answer was cut off (too long)"
        if finish == "loop":
            return None, "the answer went round in a loop (the same words again and again)"
        if not raw:
            return None, "the answer was empty"
        try:
            plan = parse(raw, self.registry)
        except ParseError as e:
            return None, e.message
        if any(ch.background for ch in plan.chains):
            return None, "a plan may not start background jobs by itself"
        return plan, ""
