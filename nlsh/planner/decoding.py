"""Greedy decoding under a GBNF grammar, asking the grammar about few tokens.

llama-cpp-python's sampler chain runs the grammar over the whole vocabulary
(152k tokens for Qwen) before every greedy pick, which costs more than the
model's own step on a small CPU. Greedy decoding needs only the best token the
grammar allows: try the model's favourite, then its next best few, and only
if the grammar refuses all of them, the whole vocabulary. The answer is the
one the full check gives (llama.cpp's own sampler does the same).

Measured and not kept (2-core AVX2 host, 1.5B, 2026-12-04): drafting the next
tokens from the request and its example (prompt lookup, exact under greedy
verification). Checking a draft needs logits at every drafted position, which
costs ~28 ms a token on top of the ~48 ms of one step; with the drafts the
answers actually allow, 97 requests would have taken 681–881 ms of generation
each instead of 689 ms.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass

import numpy as np

TOP = 64                  # candidates tried before the whole vocabulary
LOOP_TOKENS = 24          # an answer whose last this many tokens repeat one short run is stuck
LOOP_PERIOD = 6           # (``-l -l -l …``): longest run looked for
PENALTY_WINDOW = 64       # the answer's last tokens a repeat penalty looks at (llama.cpp's penalty_last_n)
_TOKEN_DATA = np.dtype([("id", np.int32), ("logit", np.float32), ("p", np.float32)], align=True)


class Grammar:
    """A compiled grammar for one model's vocabulary; reusable (``reset`` per answer)."""

    def __init__(self, llm, text: str) -> None:
        import llama_cpp
        self._lib = llama_cpp
        self._sampler = llama_cpp.llama_sampler_init_grammar(llm._model.vocab, text.encode(), b"root")
        if not self._sampler:
            raise ValueError("the planner grammar does not parse")

    def reset(self) -> None:
        self._lib.llama_sampler_reset(self._sampler)

    def accept(self, token: int) -> None:
        self._lib.llama_sampler_accept(self._sampler, token)

    def allowed(self, ids: np.ndarray) -> np.ndarray:
        """Those of ``ids`` (in their order) that the grammar allows next."""
        lib = self._lib
        data = np.zeros(len(ids), dtype=_TOKEN_DATA)
        data["id"] = ids
        arr = lib.llama_token_data_array(data=data.ctypes.data_as(lib.llama_token_data_p), size=len(ids),
                                         selected=-1, sorted=False)
        lib.llama_sampler_apply(self._sampler, ctypes.byref(arr))
        # the grammar sampler only marks refused tokens (logit -inf); it keeps order and size
        return ids[np.isfinite(data["logit"][:arr.size])]

    def close(self) -> None:
        if self._sampler:
            self._lib.llama_sampler_free(self._sampler)
            self._sampler = None

    def __del__(self) -> None:
        self.close()


def pick(logits: np.ndarray, grammar: Grammar | None) -> int:
    """The highest-scoring token the grammar allows (the lowest id among equals)."""
    best = int(np.argmax(logits))
    if grammar is None or len(grammar.allowed(np.array([best], dtype=np.int32))):
        return best
    for ids in (np.argpartition(-logits, TOP)[:TOP], np.arange(len(logits))):
        ids = ids.astype(np.int32)
        ok = grammar.allowed(ids)
        if len(ok):
            scores = logits[ok]
            return int(ok[np.lexsort((ok, -scores))[0]])
    raise ValueError("the grammar allows no token here")


@dataclass
class Answer:
    text: str
    finish_reason: str        # "stop", "length", "loop" or "cancelled"
    tokens: int


def looping(tokens: list[int]) -> bool:
    """Do the last LOOP_TOKENS tokens repeat a run of at most LOOP_PERIOD tokens?

    Greedy decoding that starts to repeat itself never stops; seeing it early
    saves the time up to ``max_tokens`` (seconds on a small CPU).
    """
    if len(tokens) < LOOP_TOKENS:
        return False
    tail = tokens[-LOOP_TOKENS:]
    return any(all(tail[i] == tail[i % p] for i in range(p, LOOP_TOKENS)) for p in range(1, LOOP_PERIOD + 1))


def sample(logits: np.ndarray, grammar: Grammar | None, temperature: float, rng: np.random.Generator) -> int:
    """A token drawn from the model's best TOP at ``temperature`` (those the grammar allows)."""
    ids = np.argpartition(-logits, TOP)[:TOP].astype(np.int32)
    if grammar is not None:
        ids = grammar.allowed(ids)
        if not len(ids):
            return pick(logits, grammar)
    scores = logits[ids].astype(np.float64) / temperature
    p = np.exp(scores - scores.max())
    return int(rng.choice(ids, p=p / p.sum()))


def penalized(logits: np.ndarray, recent: list[int], penalty: float) -> np.ndarray:
    """``logits`` with those of the ``recent`` tokens made less likely, as llama.cpp's
    repeat penalty does: a positive logit divided by ``penalty``, a negative one multiplied."""
    out = logits.copy()
    ids = np.unique(np.array(recent, dtype=np.int64))
    seen = out[ids]
    out[ids] = np.where(seen > 0, seen / penalty, seen * penalty)
    return out


def generate(llm, prompt: list[int], *, grammar: Grammar | None, max_tokens: int, stop: list[str],
             cancel=None, temperature: float = 0.0, seed: int | None = None, progress=None,
             repeat_penalty: float = 1.0) -> Answer:
    """The answer to ``prompt`` (tokens), of which the context holds the first
    ``llm.n_tokens`` already (at most all but the last, which gives the logits):
    greedy, or drawn at ``temperature`` > 0 (``seed`` makes it repeatable).
    ``progress(text)`` hears the answer so far after every token (streaming).
    ``repeat_penalty`` > 1 makes the answer's own recent tokens less likely."""
    import llama_cpp
    rng = np.random.default_rng(seed) if temperature > 0 else None
    llm.eval(prompt[llm.n_tokens:])
    if grammar is not None:
        grammar.reset()
    vocab = llm._model.vocab
    n_vocab = llm.n_vocab()
    out = b""
    tokens: list[int] = []
    for n in range(max_tokens):
        if cancel is not None and cancel.cancelled:
            return Answer(_text(out), "cancelled", n)
        logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(llm._ctx.ctx, -1), shape=(n_vocab,))
        if repeat_penalty != 1.0 and tokens:
            logits = penalized(logits, tokens[-PENALTY_WINDOW:], repeat_penalty)
        token = pick(logits, grammar) if rng is None else sample(logits, grammar, temperature, rng)
        if llama_cpp.llama_vocab_is_eog(vocab, token):
            return Answer(_text(out), "stop", n)
        out += llm.detokenize([token])
        text = _text(out)
        cut = min((text.find(s) for s in stop if s in text), default=-1)
        if cut >= 0:
            return Answer(text[:cut], "stop", n + 1)
        if progress is not None:
            progress(text)
        tokens.append(token)
        if rng is None and looping(tokens):
            return Answer(text, "loop", n + 1)
        if grammar is not None:
            grammar.accept(token)
        llm.eval([token])
    return Answer(_text(out), "length", max_tokens)


def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="ignore")
