"""Model backends: llama.cpp in-process, or an OpenAI-compatible server.

Both take a prompt split into a fixed ``prefix`` and a per-request
``suffix`` and return a Completion. The llama backend loads its model once,
on a background thread, and keeps the prefix's KV cache: in memory across
requests, and in a state file in the user cache across processes.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import threading
import time
from array import array
from dataclasses import dataclass, field

from nlsh.paths import cache_dir, ensure

KEEP_STATES = 4     # saved prefix states per model (about 79 MB each for the 1.5B: the KV cache of ~2,700 tokens)
HELD_PREFIXES = 2   # prefixes left behind that stay in memory (a planner with two candidates switches between two)


class BackendError(Exception):
    """The model could not answer; the message says why."""


@dataclass
class Completion:
    text: str
    finish_reason: str            # "stop", "length", "loop" (greedy decoding stuck) or "cancelled"
    prompt_tokens: int = 0
    completion_tokens: int = 0
    timings: dict = field(default_factory=dict)


def common_start(a, b) -> int:
    """Length of the common start of two token sequences."""
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        pass


def _saved_states(d: str) -> list[tuple[str, array]]:
    """(state file, its tokens) saved in ``d``, most recently used first."""
    found = []
    try:
        names = os.listdir(d)
    except OSError:
        return []
    for name in names:
        if not name.endswith(".state"):
            continue
        path = os.path.join(d, name)
        try:
            tokens = array("i")
            with open(path + ".tokens", "rb") as f:
                tokens.frombytes(f.read())
            found.append((os.stat(path).st_mtime, path, tokens))
        except (OSError, ValueError):
            continue
    found.sort(reverse=True)
    return [(path, tokens) for _, path, tokens in found]


class _Unsuppressed:
    def __init__(self, disable: bool = True) -> None:
        pass

    def __enter__(self) -> None:
        return None

    def __exit__(self, *_) -> None:
        pass


_silent_log: list = []      # the C callback, kept alive


def _keep_output() -> None:
    """llama-cpp-python quiets a model's load by pointing the whole process's
    fds 1 and 2 at /dev/null (and swapping sys.stdout and sys.stderr): in a
    shell that loads its model on a thread behind the prompt, that swallowed
    what the user's commands printed meanwhile. Its messages also go through
    its log callback, which nlsh replaces with one that drops them (its ggml
    levels are out of date, so warnings printed as errors; a failed load is
    nlsh's own one-line error)."""
    import llama_cpp
    from llama_cpp import _internals, llama
    _internals.suppress_stdout_stderr = llama.suppress_stdout_stderr = _Unsuppressed
    if not _silent_log:
        _silent_log.append(llama_cpp.llama_log_callback(lambda level, text, user_data: None))
        llama_cpp.llama_log_set(_silent_log[0], ctypes.c_void_p(0))


def physical_cores() -> int:
    try:
        import psutil
        return psutil.cpu_count(logical=False) or os.cpu_count() or 1
    except ImportError:
        return os.cpu_count() or 1


def _allow_sequences(llm, n: int) -> None:
    """Give ``llm`` a context for ``n`` answers at once in one KV cache (a shared
    prompt start is held once): llama-cpp-python makes its context for one."""
    from llama_cpp import _internals
    params = llm.context_params
    params.n_seq_max = n + 1        # sequence 0 holds the shared prompt start
    params.kv_unified = True
    llm._ctx.close()
    llm._ctx = _internals.LlamaContext(model=llm._model, params=params, verbose=False)


class LlamaBackend:
    """llama-cpp-python, in-process. ``start()`` begins loading in the background."""

    def __init__(self, model_path: str | None, *, resolve_path=None, n_ctx: int = 4096,
                 n_threads: int | None = None, n_gpu_layers: int | None = None,
                 name: str = "model", parallel: int = 1) -> None:
        self._path = model_path
        self.parallel = max(1, parallel)     # answers decoded together at most (complete_many)
        self._resolve_path = resolve_path
        self.name = name
        self.n_ctx = n_ctx
        self.n_threads = n_threads or physical_cores()
        self.n_gpu_layers = n_gpu_layers
        self.llm = None
        self.load_seconds = 0.0
        self.device = "CPU"
        self._error: BaseException | None = None
        self._loaded = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._prefix_tokens: list[int] | None = None
        self._prefix_text: str | None = None
        self.prefix_evaluated = 0        # prefix tokens the last request had to evaluate
        self._held: dict[str, tuple[list[int], ctypes.Array]] = {}   # prefix text → (tokens, context state)
        self._grammar = None             # (text, decoding.Grammar)
        self._use = threading.RLock()   # one request at a time on the model
        self.stage = "starting"          # what first use is doing now; "" once the model answers

    def _assembling(self, done: int, total: int) -> None:
        self.stage = f"assembling the model {100 * done // max(total, 1)}%"

    def start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._load, name="nlsh-model-load", daemon=True)
                self._thread.start()

    @property
    def loaded(self) -> bool:
        return self._loaded.is_set() and self._error is None

    def wait(self, timeout: float | None = None) -> bool:
        self.start()
        return self._loaded.wait(timeout)

    def _load(self) -> None:
        t0 = time.perf_counter()
        try:
            path = self._path or self._resolve_path(self._assembling)
            self._path = path
            self.stage = "loading the model"
            import llama_cpp
            _keep_output()
            gpu = llama_cpp.llama_supports_gpu_offload()
            layers = self.n_gpu_layers if self.n_gpu_layers is not None else (-1 if gpu else 0)
            self.device = "GPU" if gpu and layers != 0 else "CPU"
            from nlsh.planner import cpucheck
            from nlsh.planner.models import file_identity
            cpucheck.check(path, file_identity(path), layers)
            self.llm = llama_cpp.Llama(
                model_path=path, n_ctx=self.n_ctx, n_threads=self.n_threads,
                n_threads_batch=self.n_threads, n_gpu_layers=layers, use_mmap=False,
                verbose=False, seed=0)
            if self.parallel > 1:
                _allow_sequences(self.llm, self.parallel)
        except BaseException as e:  # noqa: BLE001  (reported to whoever waits for the model)
            self._error = e
        finally:
            self.load_seconds = time.perf_counter() - t0
            self.stage = ""
            self._loaded.set()

    def ready(self) -> None:
        """Wait for the model; raise ModelError or BackendError saying why it cannot answer."""
        self.wait()
        if self._error is not None:
            e = self._error
            from nlsh.planner.cpucheck import UnsafeBuild
            from nlsh.planner.models import ModelError
            if isinstance(e, ModelError):
                raise e
            if isinstance(e, UnsafeBuild):
                raise BackendError(str(e)) from None
            if isinstance(e, OSError) and e.strerror:
                e = f"{e.filename}: {e.strerror}" if e.filename else e.strerror
            raise BackendError(f"cannot load the model {self._path or self.name}: {e}") from None

    # -- the prompt prefix ------------------------------------------------
    def _states_dir(self) -> str:
        """Saved prefix states of this model file and context size."""
        from nlsh.planner.models import file_identity
        key = hashlib.sha256(f"{file_identity(self._path)}|{self.n_ctx}".encode()).hexdigest()[:16]
        return os.path.join(cache_dir(), "prompt-states", key)

    def prepare_prefix(self, prefix: str) -> float:
        """Evaluate ``prefix`` once (or load it from the state file); seconds spent."""
        self.ready()
        with self._use:
            return self._prepare_prefix(prefix)

    def _prepare_prefix(self, prefix: str) -> float:
        llm = self.llm
        self.prefix_evaluated = 0
        if self._prefix_text == prefix and common_start(llm.input_ids[:llm.n_tokens], self._prefix_tokens) == len(
                self._prefix_tokens):
            return 0.0
        t0 = time.perf_counter()
        self._hold_current()
        tokens = llm.tokenize(prefix.encode(), add_bos=False, special=True)
        if len(tokens) >= self.n_ctx:
            raise BackendError(f"the prompt's fixed part (rules, commands, idioms) takes {len(tokens)} tokens, "
                               f"more than the model's context of {self.n_ctx}")
        kept = self._take_held(prefix, tokens) or self._reuse(tokens)
        if kept < len(tokens):
            llm.n_tokens = kept
            self.stage = f"reading the prompt ({len(tokens) - kept} tokens)"
            llm.eval(tokens[kept:])
            self.prefix_evaluated = len(tokens) - kept
            self._save(tokens)
        self._prefix_tokens = tokens
        self._prefix_text = prefix
        self.stage = ""
        return time.perf_counter() - t0

    def _hold_current(self) -> None:
        """Keep the prefix the context holds now in memory (its KV cache, without the
        last request's suffix), so that coming back to it is a copy, not a read."""
        import llama_cpp
        llm, tokens = self.llm, self._prefix_tokens
        if not tokens or self._prefix_text in self._held or common_start(
                llm.input_ids[:llm.n_tokens], tokens) != len(tokens):
            return
        llm._ctx.kv_cache_seq_rm(-1, len(tokens), -1)
        llm.n_tokens = len(tokens)
        size = llama_cpp.llama_state_get_size(llm._ctx.ctx)
        buf = (ctypes.c_uint8 * size)()
        if llama_cpp.llama_state_get_data(llm._ctx.ctx, buf, size) == 0:
            return
        self._held[self._prefix_text] = (list(tokens), buf)
        while len(self._held) > HELD_PREFIXES:
            self._held.pop(next(iter(self._held)))

    def _take_held(self, prefix: str, tokens: list[int]) -> int:
        """Put a prefix kept in memory back into the context; how many tokens (0: none kept)."""
        import llama_cpp
        held = self._held.pop(prefix, None)
        if held is None or held[0] != tokens:
            return 0
        llm = self.llm
        if llama_cpp.llama_state_set_data(llm._ctx.ctx, held[1], len(held[1])) == 0:
            llm.reset()
            return 0
        llm.input_ids[:len(tokens)] = tokens
        llm.n_tokens = len(tokens)
        return len(tokens)

    def _reuse(self, tokens: list[int]) -> int:
        """Put the longest start of ``tokens`` at hand into the context: what it holds
        now, or a saved state (after a plugin or a program comes or goes, the prefix
        changes only towards its end). How many tokens that is."""
        llm = self.llm
        best, best_n = None, common_start(llm.input_ids[:llm.n_tokens], tokens)
        for path, saved in _saved_states(self._states_dir()):
            n = common_start(saved, tokens)
            if n > best_n:
                best, best_n = (path, len(saved)), n
        if best is None:
            return best_n
        import llama_cpp
        path, size = best
        buf = (llama_cpp.llama_token * size)()
        n_out = ctypes.c_size_t(0)
        llm.reset()
        if not llama_cpp.llama_state_load_file(llm._ctx.ctx, path.encode(), buf, size, ctypes.byref(n_out)):
            llm.reset()
            return 0
        loaded = buf[:n_out.value]
        llm.input_ids[:len(loaded)] = loaded
        llm.n_tokens = len(loaded)
        try:
            os.utime(path)              # recently used states outlive the pruning
        except OSError:
            pass                        # a read-only or shared cache: the state serves all the same
        return common_start(loaded, tokens)

    def _save(self, tokens: list[int]) -> None:
        """Save the context (holding ``tokens``) for later processes; keep the newest few.
        A cache that cannot be written (read-only, full) only costs later processes time."""
        import llama_cpp
        d = self._states_dir()
        path = os.path.join(d, hashlib.sha256(array("i", tokens).tobytes()).hexdigest()[:24] + ".state")
        tmp = f"{path}.{os.getpid()}.tmp"
        try:
            ensure(d)
            arr = (llama_cpp.llama_token * len(tokens))(*tokens)
            if not llama_cpp.llama_state_save_file(self.llm._ctx.ctx, tmp.encode(), arr, len(tokens)):
                raise OSError("llama_state_save_file failed")
            with open(tmp + ".tokens", "wb") as f:
                f.write(array("i", tokens).tobytes())
            os.replace(tmp + ".tokens", path + ".tokens")
            os.replace(tmp, path)
        except OSError:
            _remove(tmp)
            _remove(tmp + ".tokens")
            return
        for old, _ in _saved_states(d)[KEEP_STATES:]:
            _remove(old)
            _remove(old + ".tokens")

    def complete(self, prefix: str, suffix: str, *, grammar: str | None, max_tokens: int,
                 stop: list[str], cancel=None, **sampling) -> Completion:
        """The answer to ``prefix + suffix`` (the prefix's KV cache is kept);
        ``sampling``: decoding.generate's temperature, seed, progress and repeat_penalty."""
        self.ready()
        with self._use:
            return self._complete(prefix, suffix, grammar, max_tokens, stop, cancel, sampling)

    def _complete(self, prefix: str, suffix: str, grammar: str | None, max_tokens: int,
                  stop: list[str], cancel, sampling: dict) -> Completion:
        from nlsh.planner import decoding
        t_prefix = self._prepare_prefix(prefix)
        t0 = time.perf_counter()
        prompt = self.llm.tokenize((prefix + suffix).encode(), add_bos=False, special=True)
        if len(prompt) + max_tokens > self.n_ctx:
            raise BackendError(f"the request is too long: its prompt takes {len(prompt)} tokens and the "
                               f"answer up to {max_tokens}, more than the model's context of {self.n_ctx}")
        # the start the prompt shares with the context is kept; the last token is read again for its logits
        self.llm.n_tokens = min(common_start(self.llm.input_ids[:self.llm.n_tokens], prompt), len(prompt) - 1)
        try:
            answer = decoding.generate(self.llm, prompt, grammar=self._compiled(grammar), max_tokens=max_tokens,
                                       stop=stop, cancel=cancel, **sampling)
        except (RuntimeError, ValueError) as e:      # llama_decode failed; the grammar allowed no token
            raise BackendError(f"the model failed on this request: {e}") from None
        return Completion(answer.text, answer.finish_reason, len(prompt), answer.tokens,
                          {"prefix_s": round(t_prefix, 3), "prefix_eval_tokens": self.prefix_evaluated,
                           "generate_s": round(time.perf_counter() - t0, 3)})

    def complete_many(self, prefix: str, take, give) -> None:
        """Answers to requests that share ``prefix``, decoded together (up to
        ``parallel`` at once, as many as the context holds; decoding.generate_many).
        ``take(n)`` hands in up to ``n`` more requests, each ``complete``'s keyword
        arguments with its ``suffix`` and a ``handle``, without a grammar ([]: none
        now); ``give(handle, Completion or BackendError)`` gets each answer when it
        is done. Requests taken while the others fill the context wait for room."""
        self.ready()
        with self._use:
            t_prefix = self._prepare_prefix(prefix)
            llm = self.llm
            held = list(llm.input_ids[:llm.n_tokens])
            room = [self.n_ctx]
            waiting: list[tuple[dict, list[int]]] = []
            open_: dict[int, dict] = {}         # id(handle) → what its answer needs
            shared = [None]

            def admit(n: int) -> list:
                for r in take(max(0, n - len(waiting))):
                    prompt = llm.tokenize((prefix + r["suffix"]).encode(), add_bos=False, special=True)
                    if len(prompt) + r["max_tokens"] > self.n_ctx:
                        give(r["handle"], BackendError(
                            f"the request is too long: its prompt takes {len(prompt)} tokens and the answer up to "
                            f"{r['max_tokens']}, more than the model's context of {self.n_ctx}"))
                    else:
                        waiting.append((r, prompt))
                if shared[0] is None:           # the start that the first requests share with the context
                    shared[0] = min([len(held)] + [min(common_start(held, p), len(p) - 1) for _, p in waiting])
                    room[0] -= shared[0]
                out = []
                while waiting and len(out) < n:
                    r, prompt = waiting[0]
                    start = min(common_start(held[:shared[0]], prompt), len(prompt) - 1)
                    need = len(prompt) - start + r["max_tokens"]
                    if need > room[0] and (open_ or out):
                        break                   # waits until answers done make room
                    waiting.pop(0)
                    room[0] -= need
                    kwargs = {k: v for k, v in r.items() if k not in ("suffix", "handle")}
                    open_[id(r["handle"])] = {"handle": r["handle"], "need": need, "prompt": len(prompt),
                                              "t0": time.perf_counter()}
                    out.append((r["handle"], prompt, start, kwargs))
                for o in open_.values():
                    o["together"] = max(o.get("together", 1), len(open_))
                return out

            def done(handle, answer) -> None:
                o = open_.pop(id(handle))
                room[0] += o["need"]
                give(handle, Completion(answer.text, answer.finish_reason, o["prompt"], answer.tokens,
                                        {"prefix_s": round(t_prefix, 3), "prefix_eval_tokens": self.prefix_evaluated,
                                         "generate_s": round(time.perf_counter() - o["t0"], 3),
                                         "together": o["together"]}))

            from nlsh.planner import decoding
            first = [admit(self.parallel)]
            try:
                decoding.generate_many(llm, shared[0], lambda n: first.pop() if first else admit(n), done)
            except (RuntimeError, ValueError) as e:      # llama_decode failed
                failed = BackendError(f"the model failed on this request: {e}")
                for handle in [o["handle"] for o in open_.values()] + [r["handle"] for r, _ in waiting]:
                    give(handle, failed)

    def _compiled(self, grammar: str | None):
        """The grammar compiled for this model, kept while the grammar text stays the same."""
        if grammar is None:
            return None
        if self._grammar is None or self._grammar[0] != grammar:
            from nlsh.planner.decoding import Grammar
            try:
                self._grammar = (grammar, Grammar(self.llm, grammar))
            except ValueError as e:
                raise BackendError(str(e)) from None
        return self._grammar[1]


class OpenAIBackend:
    """Any OpenAI-compatible server (llama-server, Ollama, vLLM) over HTTP."""

    def __init__(self, base_url: str, model: str = "default", api_key: str | None = None,
                 timeout: float = 180.0) -> None:
        # A cold CPU server reads the ~2,800-token prompt prefix on the first
        # request (tens of seconds on 2 cores); later requests reuse its cache.
        self.base_url = base_url.rstrip("/")
        self.name = model
        self.api_key = api_key or os.environ.get("OPENAI_API_KEY")
        self.timeout = timeout
        self.load_seconds = 0.0
        self.device = "server"

    def start(self) -> None:
        """Nothing to load locally."""

    def wait(self, timeout: float | None = None) -> bool:
        return True

    @property
    def loaded(self) -> bool:
        return True

    def complete(self, prefix: str, suffix: str, *, grammar: str | None, max_tokens: int,
                 stop: list[str], cancel=None, repeat_penalty: float = 1.0) -> Completion:
        import urllib.error
        import urllib.request
        body = {"model": self.name, "prompt": prefix + suffix, "max_tokens": max_tokens,
                "temperature": 0.0, "stop": stop}
        if grammar:
            body["grammar"] = grammar
        if repeat_penalty != 1.0:
            body["repeat_penalty"] = repeat_penalty        # llama-server's (and nlsh serve's) name
        req = urllib.request.Request(f"{self.base_url}/v1/completions", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json",
                                              **({"Authorization": f"Bearer {self.api_key}"}
                                                 if self.api_key else {})})
        t0 = time.perf_counter()
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                data = json.load(resp)
        except urllib.error.HTTPError as e:
            raise BackendError(f"server {self.base_url} answered {e.code}: {e.reason}") from None
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise BackendError(f"cannot reach the model server at {self.base_url}: {reason}") from None
        except ValueError:
            raise BackendError(f"the model server at {self.base_url} did not answer with JSON") from None
        try:
            choice = data["choices"][0]
        except (KeyError, IndexError, TypeError):
            raise BackendError(f"unexpected answer from {self.base_url}: {str(data)[:200]}") from None
        usage = data.get("usage") or {}
        return Completion(choice.get("text") or "", choice.get("finish_reason") or "stop",
                          usage.get("prompt_tokens", 0), usage.get("completion_tokens", 0),
                          {"generate_s": round(time.perf_counter() - t0, 3)})
