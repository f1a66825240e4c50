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


class _Answering:
    """One answer being decoded: what it has said so far, and the choice of each next token."""

    def __init__(self, llm, *, grammar: Grammar | None, max_tokens: int, stop: list[str], cancel=None,
                 temperature: float = 0.0, seed: int | None = None, progress=None,
                 repeat_penalty: float = 1.0) -> None:
        self.llm, self.grammar, self.max_tokens, self.stop = llm, grammar, max_tokens, stop
        self.cancel, self.temperature, self.progress, self.repeat_penalty = cancel, temperature, progress, repeat_penalty
        self.rng = np.random.default_rng(seed) if temperature > 0 else None
        self.out = b""
        self.tokens: list[int] = []
        self.answer: Answer | None = None
        if grammar is not None:
            grammar.reset()

    def step(self, logits: np.ndarray) -> int | None:
        """The next token, given the model's ``logits`` for it; None once the answer is
        done (``self.answer`` then holds it)."""
        import llama_cpp
        n = len(self.tokens)
        if n >= self.max_tokens:
            return self._done(_text(self.out), "length", self.max_tokens)
        if self.cancel is not None and self.cancel.cancelled:
            return self._done(_text(self.out), "cancelled", n)
        if self.repeat_penalty != 1.0 and self.tokens:
            logits = penalized(logits, self.tokens[-PENALTY_WINDOW:], self.repeat_penalty)
        grammar = self.grammar
        token = pick(logits, grammar) if self.rng is None else sample(logits, grammar, self.temperature, self.rng)
        if llama_cpp.llama_vocab_is_eog(self.llm._model.vocab, token):
            return self._done(_text(self.out), "stop", n)
        self.out += self.llm.detokenize([token])
        text = _text(self.out)
        cut = min((text.find(s) for s in self.stop if s in text), default=-1)
        if cut >= 0:
            return self._done(text[:cut], "stop", n + 1)
        if self.progress is not None:
            self.progress(text)
        self.tokens.append(token)
        if self.rng is None and looping(self.tokens):
            return self._done(text, "loop", n + 1)
        if grammar is not None:
            grammar.accept(token)
        return token

    def _done(self, text: str, finish_reason: str, tokens: int) -> None:
        self.answer = Answer(text, finish_reason, tokens)


def _logits(llm, i: int) -> np.ndarray:
    """The logits the last decode gave for its ``i``-th token (-1: the last); a view, valid until the next decode."""
    import llama_cpp
    return np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(llm._ctx.ctx, i), shape=(llm.n_vocab(),))


def generate(llm, prompt: list[int], *, grammar: Grammar | None, max_tokens: int, stop: list[str],
             cancel=None, temperature: float = 0.0, seed: int | None = None, progress=None,
             repeat_penalty: float = 1.0) -> Answer:
    """The answer to ``prompt`` (tokens), of which the context holds the first
    ``llm.n_tokens`` already (at most all but the last, which gives the logits):
    greedy, or drawn at ``temperature`` > 0 (``seed`` makes it repeatable).
    ``progress(text)`` hears the answer so far after every token (streaming).
    ``repeat_penalty`` > 1 makes the answer's own recent tokens less likely."""
    answering = _Answering(llm, grammar=grammar, max_tokens=max_tokens, stop=stop, cancel=cancel,
                           temperature=temperature, seed=seed, progress=progress, repeat_penalty=repeat_penalty)
    llm.eval(prompt[llm.n_tokens:])
    while (token := answering.step(_logits(llm, -1))) is not None:
        llm.eval([token])
    return answering.answer


def generate_many(llm, shared: int, take, give) -> None:
    """Answers decoded together, as llama-server's slots do: every unfinished answer
    in a sequence of its own, one token of each in every step of the model (on a
    CPU a step of four tokens costs little more than a step of one), and each
    answer the one ``generate`` gives alone. Before every step ``take(n)`` hands
    in up to ``n`` new answers to begin, as (handle, prompt tokens, start,
    ``generate``'s keyword arguments without a grammar), where the prompt's
    first ``start`` tokens are the context's first ones (at most ``shared``);
    ``give(handle, Answer)`` gets each answer when it is done. It ends when none
    is left and ``take`` has none. The context's first ``shared`` tokens
    (sequence 0) are kept for all; the context must allow two sequences at least.
    Afterwards the context holds the last answer's prompt and answer, as after
    ``generate`` (a next request that goes on from it reads only what is new)."""
    import llama_cpp
    ctx = llm._ctx.ctx
    mem = llama_cpp.llama_get_memory(ctx)
    slots = llama_cpp.llama_n_seq_max(ctx) - 1
    llama_cpp.llama_memory_seq_rm(mem, 0, shared, -1)
    free = list(range(slots, 0, -1))
    active: dict[int, _Slot] = {}
    last: _Slot | None = None               # the answer done last: kept until another begins
    logits: dict[int, np.ndarray] = {}
    n_batch = llm.n_batch
    batch = llama_cpp.llama_batch_init(max(n_batch, slots), 0, 1)
    try:
        while True:
            entries = []
            for slot in list(active.values()):
                token = slot.answering.step(logits[slot.seq])
                if token is None:
                    del active[slot.seq]
                    if last is not None:
                        _release(mem, last, free)
                    last = slot
                    give(slot.handle, slot.answering.answer)
                else:
                    entries.append((token, slot.pos, slot.seq, True))
                    slot.fed.append(token)
            if last is not None and not free:
                _release(mem, last, free)
                last = None
            new = take(len(free))
            if new and last is not None:
                _release(mem, last, free)
                last = None
            for handle, prompt, start, kwargs in new:
                seq = free.pop()
                llama_cpp.llama_memory_seq_rm(mem, seq, -1, -1)
                llama_cpp.llama_memory_seq_cp(mem, 0, seq, 0, start)
                entries += [(t, start + j, seq, j == len(prompt) - start - 1) for j, t in enumerate(prompt[start:])]
                active[seq] = _Slot(seq, handle, _Answering(llm, grammar=None, **kwargs), list(prompt), start)
            if not entries:
                break
            logits = {}
            for at in range(0, len(entries), n_batch):
                logits.update(_decode(llm, batch, entries[at:at + n_batch]))
    finally:
        llama_cpp.llama_batch_free(batch)
        kept = shared
        if last is not None and not active:     # the last answer becomes the context's own sequence
            llama_cpp.llama_memory_seq_rm(mem, 0, last.start, -1)
            llama_cpp.llama_memory_seq_cp(mem, last.seq, 0, last.start, -1)
            llm.input_ids[:len(last.fed)] = last.fed
            kept = len(last.fed)
        for seq in range(1, slots + 1):
            llama_cpp.llama_memory_seq_rm(mem, seq, -1, -1)
        llama_cpp.llama_memory_seq_rm(mem, 0, kept, -1)
        llm.n_tokens = kept


@dataclass
class _Slot:
    """One answer of ``generate_many``: its sequence, and the tokens the model has read for it."""
    seq: int
    handle: object
    answering: _Answering
    fed: list[int]
    start: int

    @property
    def pos(self) -> int:
        return len(self.fed)


def _release(mem, slot: _Slot, free: list[int]) -> None:
    import llama_cpp
    llama_cpp.llama_memory_seq_rm(mem, slot.seq, -1, -1)
    free.append(slot.seq)


def _decode(llm, batch, entries: list[tuple[int, int, int, bool]]) -> dict[int, np.ndarray]:
    """Decode ``entries`` (token, position, sequence, wants logits) in one step; a copy
    of the logits of each sequence that wants them."""
    import llama_cpp
    batch.n_tokens = len(entries)
    for i, (token, pos, seq, want) in enumerate(entries):
        batch.token[i], batch.pos[i], batch.n_seq_id[i] = token, pos, 1
        batch.seq_id[i][0] = seq
        batch.logits[i] = want
    if llama_cpp.llama_decode(llm._ctx.ctx, batch) != 0:
        raise RuntimeError("llama_decode failed (the context is full?)")
    return {seq: _logits(llm, i).copy() for i, (_, _, seq, want) in enumerate(entries) if want}


def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="ignore")
