"""Natural language → a validated Plan."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from nlsh.lang import ParseError, Plan, parse, text
from nlsh.planner.backend import BackendError, Completion, LlamaBackend, OpenAIBackend
from nlsh.planner.grammar import grammar, programs_on_path
from nlsh.planner.mend import mended
from nlsh.planner.models import ModelError, ModelSpec, model_file, resolve
from nlsh.planner.prompt import (
    ExampleIndex,
    Shot,
    chatml_prefix,
    chatml_suffix,
    context_line,
    everyday_shots,
    idiom_shots,
    plain_prefix,
    registry_shots,
    repair_suffix,
)
from nlsh.registry import Registry

SHOTS = 2   # retrieved examples per request: each costs prompt time on every request
# The prompts further candidates may come from (``candidates = N``, ``second = "A+B…"``):
# "plain", the model's own bash habits (no catalogue, examples from the everyday pool,
# free decoding, nlsh's parse and second look); "bare", the same with no example (what
# the model writes unprompted); "catalogue", nlsh's rules, catalogue, idioms and grammar.
# Each changes the model's catalogue entry as ``configure`` does.
SECOND = {
    "plain": {"prompt": "plain", "mode": "free", "shots": 3, "shot_floor": 0.0, "everyday": True,
              "record_examples": False, "idioms": "retrieved"},
    "bare": {"prompt": "plain", "mode": "free", "shots": 0, "shot_floor": 0.0, "everyday": True,
             "record_examples": False, "idioms": "retrieved"},
    "catalogue": {"prompt": "catalogue", "mode": "grammar", "shots": 1, "shot_floor": 1.12, "everyday": True,
                  "record_examples": True, "idioms": "prefix"},
}
TRIAL_TIMEOUT = 3.0     # seconds a candidate may run in the sandbox
SAMPLE_TEMPERATURE = 0.7  # of the answers drawn as more candidates (``samples = K``)
LOOP_PENALTY = 1.1      # the repeat penalty of the second try after an answer that looped or ran on


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
    candidates: list[dict] = field(default_factory=list)  # with several: each plan and how its trial went


class Planner:
    """Plans utterances with one backend; the prompt follows the live registry."""

    def __init__(self, registry: Registry, backend, spec: ModelSpec, *, accepted: list[Shot] | None = None,
                 path: str | None = None) -> None:
        self.registry = registry
        self.backend = backend
        self.accepted = list(accepted or [])
        self._path = path
        self._catalogued = spec
        self._use(spec)
        self._prefix = ""
        self._grammar = ""
        self._index: ExampleIndex | None = None

    @classmethod
    def create(cls, registry: Registry, *, model: str | None = None, backend: str = "llama",
               base_url: str | None = None, accepted: list[Shot] | None = None,
               path: str | None = None, request_class: str = "interactive") -> Planner:
        """A planner for the configured model (loading starts at once, in the background).
        ``backend``: "llama" (in this process), "service" (the user's model daemon,
        ``request_class`` its queue), "auto" (the daemon unless it is turned off), "openai"."""
        if backend == "auto":
            from nlsh.service.settings import enabled
            backend = "service" if enabled() else "llama"
        if backend == "service":
            from nlsh.service.client import ServiceBackend
            spec = resolve(model)
            be = ServiceBackend(spec.path or spec.name, cls=request_class, fallback=lambda: LlamaBackend(
                None, resolve_path=lambda progress: model_file(spec, progress), name=spec.name,
                n_ctx=int(spec.get("n_ctx", 4096))))
        elif backend == "openai":
            if not base_url:
                raise ModelError("--backend openai needs --base-url URL")
            spec = ModelSpec(model or "server", {"mode": "grammar", "stop": ["<|im_end|>", "\n"]})
            be = OpenAIBackend(base_url, model or "default")
        else:
            spec = resolve(model)
            be = LlamaBackend(None, resolve_path=lambda progress: model_file(spec, progress), name=spec.name,
                              n_ctx=int(spec.get("n_ctx", 4096)))
        planner = cls(registry, be, spec, accepted=accepted, path=path)
        be.start()
        return planner

    def _use(self, spec: ModelSpec) -> None:
        self.spec = spec
        self.mode = str(spec.get("mode", "grammar"))
        self.max_tokens = int(spec.get("max_tokens", 160))
        self.shots = int(spec.get("shots", SHOTS))
        self.shot_floor = float(spec.get("shot_floor", 0.0))
        self.stop = list(spec.get("stop", ["<|im_end|>", "\n"]))
        # "prefix": the idioms are earlier turns of every prompt (and retrieved);
        # "retrieved": only where one matches the request, like the commands' examples.
        self.idioms = str(spec.get("idioms", "prefix"))
        self.everyday = bool(spec.get("everyday", False))       # retrieve from the everyday pool too
        self.record_examples = bool(spec.get("record_examples", True))
        self.loop_penalty = float(spec.get("loop_penalty", LOOP_PENALTY))   # 1: no second try after a loop
        self.prompt = str(spec.get("prompt", "catalogue"))     # or "plain" (prompt.PLAIN_RULES)
        self.candidates = int(spec.get("candidates", 1))       # N: also the plans of N-1 prompts of SECOND
        # "always": plan all and try all; "doubt": try the first, plan the others only
        # when the first fails or does nothing in its trial (less time, fewer chances)
        self.second_when = str(spec.get("second_when", "always"))
        self.second = [name.strip() for name in str(spec.get("second", "plain")).split("+")]   # which of SECOND
        for key, values, allowed in (("second", self.second, tuple(SECOND)),
                                     ("second_when", [self.second_when], ("always", "doubt"))):
            for value in values:
                if value not in allowed:
                    raise ModelError(f"{key} = {value!r} in models/catalog.toml: expected one of {', '.join(allowed)}")
        if self.candidates > 1 + len(self.second):
            raise ModelError(f"candidates = {self.candidates} in models/catalog.toml: second names "
                             f"{len(self.second)} prompt(s) (second = \"A+B\" names two)")
        # K: also K answers drawn from this prompt at sample_temperature (seeds 1…K), tried with the rest
        self.samples = int(spec.get("samples", 0))
        self.sample_temperature = float(spec.get("sample_temperature", SAMPLE_TEMPERATURE))
        self._others: dict[str, Planner] = {}
        self._built_for = -1

    def configure(self, **settings) -> None:
        """Plan with the model's catalogue entry changed by ``settings`` (``shots=2``,
        ``idioms="retrieved"``; none: the entry as it is): what the eval compares."""
        c = self._catalogued
        self._use(ModelSpec(c.name, {**c.settings, **settings}, c.path, c.source))

    def _rebuild(self) -> None:
        """Prompt prefix, grammar and example index follow the registry."""
        if self._built_for == self.registry.version:
            return
        programs = programs_on_path(self._path)
        idioms = idiom_shots(self.registry, programs)
        if self.prompt == "plain":
            self._prefix = plain_prefix(self.registry)
        else:
            self._prefix = chatml_prefix(self.registry, programs, idioms if self.idioms == "prefix" else [])
        self._grammar = grammar(self.registry, programs) if self.mode == "grammar" else ""
        pool = registry_shots(self.registry, self.record_examples) + idioms
        if self.everyday:
            pool += everyday_shots(self.registry, programs)
        self._index = ExampleIndex(pool + self.accepted)
        self._built_for = self.registry.version

    def remember(self, utterance: str, plan_text: str) -> None:
        """A plan the user ran becomes an example for later requests."""
        self.accepted.append(Shot(utterance, plan_text))
        self._built_for = -1
        for other in self._others.values():
            other._built_for = -1

    def _other(self, name: str) -> Planner:
        """The planner of another candidate: the same model, registry and
        accepted plans, the prompt SECOND names."""
        if name not in self._others:
            c = self._catalogued
            settings = {**c.settings, **SECOND[name], "candidates": 1}
            other = Planner(self.registry, self.backend, ModelSpec(c.name, settings, c.path, c.source),
                            path=self._path)
            other.accepted = self.accepted
            self._others[name] = other
        return self._others[name]

    def examples(self, utterance: str) -> list[Shot]:
        """The examples a request is shown (retrieved for it), best last."""
        self._rebuild()
        return self._index.top(utterance, self.shots, self.shot_floor)

    @property
    def prefix(self) -> str:
        """The fixed start of every prompt (rules, catalogue, idioms) for the registry as it is now."""
        self._rebuild()
        return self._prefix

    def warm(self) -> None:
        """Load the model and evaluate the prompt prefix (for a fast first plan)."""
        if hasattr(self.backend, "prepare_prefix"):
            self.backend.prepare_prefix(self.prefix)

    def plan(self, utterance: str, cwd: str, *, last: str | None = None, last_error: str | None = None,
             cancel=None, check: Callable[[Plan], list[str]] | None = None) -> PlanResult:
        """A valid plan for ``utterance``. An answer that does not parse gets one
        more try with the error; so does one that ``check`` finds would fail at
        once (the second answer is taken only if ``check`` passes it).

        With ``candidates = N`` more plans come from the prompts ``second`` names; when
        they differ, each runs in the sandbox (nlsh.sandbox: nothing real changes) and
        the one chosen is one that did something, what most candidates did (by the
        agreement of their output and changes), the earliest on a tie."""
        utterance = " ".join(utterance.split())
        if not utterance:
            raise PlanningError("nothing to plan: the request is empty")
        t0 = time.perf_counter()
        first = self._plan_one(utterance, cwd, last, last_error, cancel, check)
        others = [(self._other(name), {}) for name in self.second[:self.candidates - 1]]
        others += [(self, {"temperature": self.sample_temperature, "seed": k}) for k in range(1, self.samples + 1)]
        if not others:
            return first
        tried = None
        if self.second_when == "doubt":
            from nlsh.sandbox import trial
            tried = trial(first.text, cwd, timeout=TRIAL_TIMEOUT, cancel=cancel)
            if cancel is not None and cancel.cancelled:
                raise PlanningError("planning cancelled")
            if tried is None or _rank(tried) == 2:
                first.candidates = [_described(first, tried, True)] if tried is not None else []
                return first
        results = [first]
        for planner, sampling in others:
            try:
                results.append(planner._plan_one(utterance, cwd, last, last_error, cancel, check, **sampling))
            except PlanningError as e:
                if e.message == "planning cancelled":
                    raise
        if len(results) == 1:
            return first
        chosen = choose(results, cwd, tried, cancel)
        if cancel is not None and cancel.cancelled:
            raise PlanningError("planning cancelled")
        chosen.timings = {**first.timings, "others_latency_s": [r.timings["latency_s"] for r in results[1:]],
                          "latency_s": round(time.perf_counter() - t0, 3)}
        return chosen

    def _plan_one(self, utterance: str, cwd: str, last: str | None, last_error: str | None, cancel,
                  check: Callable[[Plan], list[str]] | None, **sampling) -> PlanResult:
        """One candidate: greedy, or drawn as ``sampling`` says (temperature, seed)."""
        t0 = time.perf_counter()
        shots = self.examples(utterance)
        context = context_line(cwd, utterance, last, last_error)
        g = self._grammar if self.mode == "grammar" else None
        asked = chatml_suffix(shots, context, utterance)
        done = self._complete(asked, g, cancel, **sampling)
        timings = {"load_s": round(getattr(self.backend, "load_seconds", 0.0), 3),
                   "prompt_tokens": done.prompt_tokens, "generated_tokens": done.completion_tokens,
                   **done.timings}
        if done.finish_reason in ("loop", "length") and self.loop_penalty > 1.0 and not sampling:
            # greedy decoding went round in a loop (or on and on): the same prompt once more with
            # the answer's repeats penalized, not a repair turn that shows the model its loop
            retry = self._complete(asked, g, cancel, repeat_penalty=self.loop_penalty)
            timings["generated_tokens"] += retry.completion_tokens
            if retry.finish_reason not in ("loop", "length"):
                done = retry
        raw = _unquoted(done.text)
        repaired = False
        plan, error = self._validate(raw, done.finish_reason)

        def again(feedback: str) -> tuple[Plan | None, str, str]:
            answer = self._complete(repair_suffix(shots, context, utterance, raw, feedback), g, cancel, raw,
                                    **sampling)
            timings["generated_tokens"] += answer.completion_tokens
            text2 = _unquoted(answer.text)
            return (*self._validate(text2, answer.finish_reason), text2)

        if plan is None:
            plan, error2, raw2 = again(f"That line cannot run: {error}." if self.prompt == "plain"
                                       else f"That line is not valid nlsh: {error}.")
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

    def _complete(self, suffix: str, g: str | None, cancel, raw: str = "", **sampling) -> Completion:
        """The model's answer to the prefix and ``suffix``; a backend's failure or a
        cancel is a PlanningError (``raw``: the answer it followed, if any)."""
        try:
            done = self.backend.complete(self._prefix, suffix, grammar=g, max_tokens=self.max_tokens,
                                         stop=self.stop, cancel=cancel, **sampling)
        except BackendError as e:
            raise PlanningError(str(e), raw) from None
        if done.finish_reason == "cancelled":
            raise PlanningError("planning cancelled")
        return done

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
        return mended(plan, self.registry), ""


def _unquoted(answer: str) -> str:
    """The model's line without the markdown some answers come in: `ls -t` is the
    command ls -t, never a command substitution."""
    line = answer.strip()
    if len(line) > 2 and line[0] == line[-1] == "`" and "`" not in line[1:-1]:
        line = line[1:-1].strip()
    return line


def _rank(trial) -> int:
    """0: it failed; 1: it timed out, or printed and changed nothing; 2: it did something."""
    if trial.timed_out:
        return 1
    if trial.failed:
        return 0
    return 2 if trial.stdout.strip() or trial.changes else 1


def choose(results: list[PlanResult], cwd: str, tried=None, cancel=None) -> PlanResult:
    """The best of several candidates by their trials in the sandbox: one that did
    something before one that printed nothing and changed nothing (or ran out of
    time), before one that failed; among those, what most candidates did (the same
    line twice is two votes; lines that printed and changed the same agree); the
    earliest on a tie, and the first where no sandbox can be had or ``cancel`` stops
    the trials (``tried``: the first's trial, if it ran already). Its ``candidates``
    say what each did."""
    from collections import Counter
    from concurrent.futures import ThreadPoolExecutor

    from nlsh.sandbox import trial
    first = results[0]
    firsts: dict[str, PlanResult] = {}              # each line, by the first candidate that wrote it
    for r in results:
        firsts.setdefault(r.text, r)
    if len(firsts) == 1:
        first.candidates = [{"plan": first.text, "chosen": True}]
        return first
    known = {first.text: tried} if tried is not None else {}
    with ThreadPoolExecutor(2) as pool:
        ran = dict(zip(firsts, pool.map(lambda line: known.get(line) or trial(line, cwd, timeout=TRIAL_TIMEOUT,
                                                                              cancel=cancel), firsts)))
    if None in ran.values():
        return first
    votes = Counter(ran[r.text].effect for r in results)

    def merit(i: int) -> tuple[int, int, int]:
        t = ran[results[i].text]
        return _rank(t), votes[t.effect] if _rank(t) == 2 else 0, -i
    pick = results[max(range(len(results)), key=merit)]
    pick.candidates = [_described(r, ran[line], line == pick.text) for line, r in firsts.items()]
    return pick


def _described(result: PlanResult, trial, chosen: bool) -> dict:
    return {"plan": result.text, "status": trial.status, "failed": trial.failed, "timed_out": trial.timed_out,
            "changes": trial.changes[:20], "chosen": chosen}
