"""The model daemon (``nlsh serve``): one model in memory for all of a user's
shells, scripts and programs, behind a Unix socket (mode 0600) and, when
asked, a loopback TCP port with API keys.

Endpoints: the OpenAI-compatible subset clients call (``/v1/models``,
``/v1/completions``, ``/v1/chat/completions``, streaming or not), ``/v1/plan``
(a plan for an utterance; nothing is run), ``/health``, and nlsh's own
``/nlsh/complete``, ``/nlsh/prefix``, ``/nlsh/load``, ``/nlsh/status`` and
``/nlsh/stop``. Every request that uses the model goes through the
scheduler (nlsh.service.scheduler)."""

from __future__ import annotations

import json
import os
import queue
import select
import signal
import socket
import socketserver
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from nlsh.planner.backend import BackendError, LlamaBackend
from nlsh.planner.models import (
    ModelError,
    ModelSpec,
    _named_or_path,
    assembled_path,
    list_models,
    model_file,
    resolve,
)
from nlsh.service import keys, settings
from nlsh.service.scheduler import CLASSES, QueueFull, Scheduler, Task
from nlsh.service.settings import LOCK, SOCKET

KEEP_ALIVE = 300.0          # seconds without a request before the model is unloaded (Ollama's default)
MAX_QUEUE = 16
PARALLEL = 4                # answers decoded together at most (llama-server's slots, OLLAMA_NUM_PARALLEL)
MAX_BODY = 1 << 22
FINISH = {"stop": "stop", "length": "length", "loop": "length", "cancelled": "stop"}


class RequestError(Exception):
    def __init__(self, status: int, message: str, kind: str = "invalid_request_error") -> None:
        super().__init__(message)
        self.status, self.message, self.kind = status, message, kind


def _file(spec: ModelSpec) -> str:
    return os.path.realpath(spec.path or assembled_path(spec))


class Engine:
    """The model in memory (one at a time; a request for another swaps it)."""

    def __init__(self, parallel: int = 1) -> None:
        self.parallel = parallel
        self.spec: ModelSpec | None = None
        self.backend: LlamaBackend | None = None
        self.lock = threading.Lock()
        self._planners: dict[str, object] = {}

    def spec_for(self, name: str | None) -> ModelSpec:
        try:
            return _named_or_path(name, "the request") if name else resolve()
        except ModelError as e:
            raise RequestError(404, str(e), "model_not_found") from None

    def get(self, name: str | None, *, wait: bool = True) -> LlamaBackend:
        spec = self.spec_for(name)
        with self.lock:
            if self.spec is None or _file(spec) != _file(self.spec):
                self.spec, self._planners = spec, {}
                self.backend = LlamaBackend(None, resolve_path=lambda progress: model_file(spec, progress),
                                            name=spec.name, parallel=self.parallel,
                                            n_ctx=int(spec.get("n_ctx", 4096)))
            backend = self.backend
        backend.start()
        if wait:
            backend.wait()
        return backend

    def unload(self) -> None:
        with self.lock:
            backend, self.backend, self.spec, self._planners = self.backend, None, None, {}
        if backend is not None and backend.llm is not None:
            backend.llm.close()

    def together(self, name: str | None, prefix: str):
        """``work_many`` for tasks that complete ``prefix`` + their request's ``suffix``
        on one model, decoded together (Task.request: complete's keyword arguments
        with the suffix, less the grammar and the cancel)."""
        def work_many(take, give) -> None:
            def requests(n: int) -> list[dict]:
                return [{**t.request, "cancel": turn, "handle": t} for t, turn in take(n)]

            def answered(task, c) -> None:
                give(task, c if isinstance(c, BaseException) else (c, c.prompt_tokens, c.completion_tokens))
            self.get(name).complete_many(prefix, requests, answered)
        return work_many

    def planner(self, name: str | None):
        """A planner for ``/v1/plan`` over this engine's model (the default registry)."""
        backend = self.get(name)
        key = self.spec.name
        if key not in self._planners:
            from nlsh.planner.planner import Planner
            from nlsh.session import Shell
            from nlsh.wiring import default_registry
            registry = default_registry()
            self._planners[key] = (Planner(registry, backend, self.spec), Shell(registry))
        return self._planners[key]


class Service:
    """What the handlers share: the engine, the scheduler, the keys, the clock."""

    def __init__(self, *, keep_alive: float = KEEP_ALIVE, max_queue: int = MAX_QUEUE,
                 on_demand: bool = False, rates: dict | None = None, parallel: int = PARALLEL) -> None:
        self.engine = Engine(parallel)
        self.scheduler = Scheduler(max_queue, together=parallel)
        self.keep_alive = keep_alive
        self.on_demand = on_demand
        self.started = time.time()
        self.stopping = threading.Event()
        self.keys = keys.KeyRing()
        self.rates = dict(rates or {})          # class → generated tokens a minute

    def status(self) -> dict:
        import psutil
        be = self.engine.backend
        running = self.scheduler.running
        return {"pid": os.getpid(), "since": round(self.started, 3),
                "model": self.engine.spec.name if self.engine.spec else None,
                "loaded": bool(be and be.loaded), "device": be.device if be else None,
                "stage": be.stage if be else "",
                "load_s": round(be.load_seconds, 2) if be else None,
                "rss": psutil.Process().memory_info().rss,
                "keep_alive_s": self.keep_alive, "idle_s": round(self.scheduler.idle_for(), 1),
                "queue": self.scheduler.waiting(), "max_queue": self.scheduler.max_queue,
                "running": {"class": running.cls, "client": running.client,
                            "together": self.scheduler.running_n} if running else None,
                "parallel": self.scheduler.together,
                "clients": {c: u.as_dict() for c, u in self.scheduler.by_client.items()},
                "total": self.scheduler.total.as_dict()}


def chatml(messages: list) -> str:
    """The chat as the catalogue's models read it (ChatML), ending where the assistant speaks."""
    if not isinstance(messages, list) or not messages:
        raise RequestError(400, "messages must be a non-empty list")
    parts = []
    for m in messages:
        if not isinstance(m, dict) or m.get("role") not in ("system", "user", "assistant", "tool"):
            raise RequestError(400, "each message needs a role: system, user, assistant or tool")
        content = m.get("content")
        if isinstance(content, list):           # [{"type": "text", "text": …}, …]
            content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
        if not isinstance(content, str):
            raise RequestError(400, f"a {m['role']} message's content must be text")
        parts.append(f"<|im_start|>{m['role']}\n{content}<|im_end|>\n")
    return "".join(parts) + "<|im_start|>assistant\n"


def _number(body: dict, key: str, default, kind, low, high):
    value = body.get(key, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (kind is int and value != int(value)):
        raise RequestError(400, f"{key} must be a number")
    if not low <= value <= high:
        raise RequestError(400, f"{key} must be between {low} and {high}")
    return kind(value)


def _stops(body: dict) -> list[str]:
    stop = body.get("stop")
    if stop is None:
        return []
    if isinstance(stop, str):
        return [stop]
    if isinstance(stop, list) and all(isinstance(s, str) for s in stop) and len(stop) <= 8:
        return [s for s in stop if s]
    raise RequestError(400, "stop must be a string or a list of at most 8 strings")


class Handler(BaseHTTPRequestHandler):
    server_version = "nlsh-serve"
    protocol_version = "HTTP/1.1"       # streams are chunked: a client can tell a cut stream from its end
    service: Service

    def log_message(self, format: str, *args) -> None:
        pass

    # -- plumbing ----------------------------------------------------------
    def _send(self, status: int, data: dict) -> None:
        body = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def _error(self, e: RequestError) -> None:
        self._send(e.status, {"error": {"message": e.message, "type": e.kind, "code": e.status}})

    def _body(self) -> dict:
        try:
            n = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            raise RequestError(400, "Content-Length is not a number") from None
        if n > MAX_BODY:
            raise RequestError(413, f"the request body is over {MAX_BODY} bytes")
        try:
            data = json.loads(self.rfile.read(n) or b"{}")
        except ValueError:
            raise RequestError(400, "the request body is not JSON") from None
        if not isinstance(data, dict):
            raise RequestError(400, "the request body must be a JSON object")
        return data

    def _remote(self) -> bool:
        return isinstance(self.client_address, tuple) and bool(self.client_address)

    def _authorize(self, path: str) -> str:
        """The client's name; on TCP the key must be known and may use ``path``."""
        if not self._remote():
            return self.headers.get("X-Nlsh-Client") or "local"
        auth = self.headers.get("Authorization") or ""
        key = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        entry = self.service.keys.check(key) if key else None
        if entry is None:
            raise RequestError(401, "a valid API key is needed (Authorization: Bearer KEY)", "authentication_error")
        if entry.get("endpoints") and path not in entry["endpoints"]:
            raise RequestError(403, f"this key may not use {path}", "permission_error")
        if entry.get("rate") and self.service.scheduler.recent_tokens(f"key:{entry['name']}") >= entry["rate"]:
            raise RequestError(429, f"key {entry['name']!r} is over its rate of {entry['rate']} tokens a minute",
                               "rate_limit_error")
        return f"key:{entry['name']}"

    def _class(self, default: str) -> str:
        cls = self.headers.get("X-Nlsh-Class") or default
        if cls not in CLASSES:
            raise RequestError(400, f"X-Nlsh-Class must be one of {', '.join(CLASSES)}")
        if self._remote() and CLASSES.index(cls) < CLASSES.index("app"):
            cls = "app"                          # programs on TCP do not jump the queue
        rate = self.service.rates.get(cls)
        if rate and self.service.scheduler.recent_tokens(f"class:{cls}") >= rate:
            raise RequestError(429, f"requests of the class {cls} are over their rate of {rate} tokens a minute "
                               "([serve] rates in config.toml)", "rate_limit_error")
        return cls

    def _gone(self) -> bool:
        """Has the client hung up? (Ctrl-C in a shell closes its connection.)"""
        try:
            r, _, _ = select.select([self.connection], [], [], 0)
            return bool(r) and self.connection.recv(1, socket.MSG_PEEK) == b""
        except (OSError, ValueError):
            return True

    def _submit(self, cls: str, client: str, work, shared: tuple | None = None) -> Task:
        """Queue ``work``; ``shared``: (key, work_many, request) when it may run with others."""
        key, work_many, request = shared or (None, None, None)
        try:
            return self.service.scheduler.submit(Task(cls, client, work, key, work_many, request))
        except QueueFull as e:
            raise RequestError(503, str(e), "server_busy") from None

    def _run(self, cls: str, client: str, work, shared: tuple | None = None) -> Task:
        """Queue ``work`` and wait for it, cancelling it if the client hangs up."""
        task = self._submit(cls, client, work, shared)
        while not task.done.wait(0.05):
            if self._gone():
                self.service.scheduler.cancel(task)
                task.done.wait()
                break
        return task

    @staticmethod
    def _raise(task: Task) -> None:
        e = task.error
        if e is None:
            return
        if isinstance(e, RequestError):
            raise e
        if isinstance(e, InterruptedError):
            raise RequestError(499, "the request was cancelled", "cancelled")
        if isinstance(e, (BackendError, ModelError)):
            raise RequestError(500, str(e), "server_error")
        raise RequestError(500, f"{type(e).__name__}: {e}", "server_error")

    # -- routes ------------------------------------------------------------
    def do_GET(self) -> None:
        self._route("GET")

    def do_POST(self) -> None:
        self._route("POST")

    def _route(self, method: str) -> None:
        path = self.path.split("?", 1)[0].rstrip("/") or "/"
        routes = {("GET", "/health"): self.health, ("GET", "/v1/models"): self.models,
                  ("GET", "/metrics"): self.metrics,
                  ("POST", "/v1/completions"): self.completions,
                  ("POST", "/v1/chat/completions"): self.chat, ("POST", "/v1/plan"): self.plan,
                  ("POST", "/nlsh/complete"): self.nlsh_complete, ("POST", "/nlsh/prefix"): self.nlsh_prefix,
                  ("POST", "/nlsh/load"): self.nlsh_load, ("GET", "/nlsh/status"): self.nlsh_status,
                  ("POST", "/nlsh/stop"): self.nlsh_stop}
        try:
            handler = routes.get((method, path))
            if handler is None:
                raise RequestError(404, f"no such endpoint: {method} {path}", "not_found")
            if path.startswith("/nlsh/") and self._remote():
                raise RequestError(403, "nlsh's own endpoints answer on the Unix socket only", "permission_error")
            client = self._authorize(path) if path != "/health" else "health"
            handler(client)
        except RequestError as e:
            try:
                self._error(e)
            except OSError:
                pass
        except (BrokenPipeError, ConnectionResetError):
            pass

    def health(self, client: str) -> None:
        self._send(200, {"status": "ok"})

    def metrics(self, client: str) -> None:
        """Prometheus text: requests, tokens and seconds by client, the queue by class."""
        s = self.service.status()
        lines = []
        for name, kind, key in (("requests", "counter", "requests"), ("prompt_tokens", "counter", "prompt_tokens"),
                                ("generated_tokens", "counter", "completion_tokens"),
                                ("model_seconds", "counter", "model_s"), ("queue_seconds", "counter", "queue_s"),
                                ("cancelled", "counter", "cancelled")):
            lines.append(f"# TYPE nlsh_{name}_total {kind}")
            lines += [f'nlsh_{name}_total{{client="{c}"}} {u[key]}' for c, u in sorted(s["clients"].items())]
        lines.append("# TYPE nlsh_queue_waiting gauge")
        lines += [f'nlsh_queue_waiting{{class="{c}"}} {n}' for c, n in s["queue"].items()]
        lines += ["# TYPE nlsh_running gauge", f"nlsh_running {s['running']['together'] if s['running'] else 0}"]
        lines += ["# TYPE nlsh_model_loaded gauge", f"nlsh_model_loaded {int(s['loaded'])}",
                  "# TYPE nlsh_resident_bytes gauge", f"nlsh_resident_bytes {s['rss']}"]
        body = ("\n".join(lines) + "\n").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def models(self, client: str) -> None:
        data = [{"id": m["name"], "object": "model", "created": 0, "owned_by": "nlsh"}
                for m in list_models() if m["state"] != "not installed"]
        self._send(200, {"object": "list", "data": data})

    def completions(self, client: str) -> None:
        body = self._body()
        prompt = body.get("prompt")
        if isinstance(prompt, list) and len(prompt) == 1:
            prompt = prompt[0]
        if not isinstance(prompt, str) or not prompt:
            raise RequestError(400, "prompt must be a non-empty string")
        self._generate(client, body, prompt, chat=False)

    def chat(self, client: str) -> None:
        body = self._body()
        self._generate(client, body, chatml(body.get("messages")), chat=True)

    def _generate(self, client: str, body: dict, prompt: str, *, chat: bool) -> None:
        max_tokens = _number(body, "max_completion_tokens" if "max_completion_tokens" in body else "max_tokens",
                             256, int, 1, 8192)
        temperature = _number(body, "temperature", 0.8, float, 0.0, 2.0)
        seed = _number(body, "seed", None, int, 0, 2**63 - 1)
        repeat_penalty = _number(body, "repeat_penalty", 1.0, float, 1.0, 2.0)
        stop = _stops(body) + (["<|im_end|>"] if chat else [])
        grammar = body.get("grammar")
        if grammar is not None and not isinstance(grammar, str):
            raise RequestError(400, "grammar must be GBNF text")
        name = body.get("model") if isinstance(body.get("model"), str) and body.get("model") != "default" else None
        model = self.service.engine.spec_for(name).name    # an unknown model is a 404 before queueing
        stream = bool(body.get("stream"))
        if stream and temperature > 0 and seed is None:
            import secrets  # a request that gives way runs again: the same draws
            seed = secrets.randbits(63)
        pieces: queue.Queue = queue.Queue()
        sent = [0]
        hold = max((len(s) for s in stop), default=1) - 1

        def progress(text: str) -> None:
            safe = len(text) - hold
            if safe > sent[0]:
                pieces.put(text[sent[0]:safe])
                sent[0] = safe

        request = {"suffix": prompt, "max_tokens": max_tokens, "stop": stop, "temperature": temperature,
                   "seed": seed, "progress": progress if stream else None, "repeat_penalty": repeat_penalty}

        def work(cancel):
            c = self.service.engine.get(name).complete("", grammar=grammar, cancel=cancel, **request)
            return c, c.prompt_tokens, c.completion_tokens
        shared = None if grammar else ((model, ""), self.service.engine.together(name, ""), request)

        cls = self._class("app")
        rid = ("chatcmpl-" if chat else "cmpl-") + uuid.uuid4().hex[:24]
        created = int(time.time())
        if not stream:
            task = self._run(cls, client, work, shared)
            self._raise(task)
            c = task.result
            choice = ({"index": 0, "message": {"role": "assistant", "content": c.text},
                       "finish_reason": FINISH[c.finish_reason]} if chat else
                      {"index": 0, "text": c.text, "logprobs": None, "finish_reason": FINISH[c.finish_reason]})
            self._send(200, {"id": rid, "object": "chat.completion" if chat else "text_completion",
                             "created": created, "model": model, "choices": [choice],
                             "usage": self._usage(task)})
            return
        self._stream(self._submit(cls, client, work, shared), pieces, sent, rid, created, model, chat)

    def _stream(self, task, pieces, sent, rid, created, model, chat) -> None:
        kind = "chat.completion.chunk" if chat else "text_completion"

        def chunk(text: str | None, finish: str | None = None, role: bool = False) -> bytes:
            if chat:
                delta = {"role": "assistant", "content": ""} if role else ({"content": text} if text else {})
                choice = {"index": 0, "delta": delta, "finish_reason": finish}
            else:
                choice = {"index": 0, "text": text or "", "logprobs": None, "finish_reason": finish}
            return f"data: {json.dumps({'id': rid, 'object': kind, 'created': created, 'model': model, 'choices': [choice]})}\n\n".encode()

        try:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Connection", "close")
            self.end_headers()
            out = _Chunked(self.wfile)
            if chat:
                out.write(chunk(None, role=True))
            while True:
                try:
                    out.write(chunk(pieces.get(timeout=0.05)))
                    continue
                except queue.Empty:
                    pass
                if task.done.is_set() and pieces.empty():
                    break
                if self._gone():
                    raise BrokenPipeError
            if task.error is not None:
                msg = str(task.error)
                out.write(f"data: {json.dumps({'error': {'message': msg, 'type': 'server_error'}})}\n\n".encode())
            else:
                c = task.result
                if c.text[sent[0]:]:                # what was held back in case a stop string began there
                    out.write(chunk(c.text[sent[0]:]))
                out.write(chunk(None, FINISH[c.finish_reason]))
                out.write(b"data: [DONE]\n\n")
            out.close()
        except (BrokenPipeError, ConnectionResetError):
            self.service.scheduler.cancel(task)

    @staticmethod
    def _usage(task: Task) -> dict:
        u = task.usage
        return {"prompt_tokens": u.prompt_tokens, "completion_tokens": u.completion_tokens,
                "total_tokens": u.prompt_tokens + u.completion_tokens,
                "queue_s": round(u.queue_s, 3), "model_s": round(u.model_s, 3), "together": task.together}

    def plan(self, client: str) -> None:
        body = self._body()
        utterance, cwd = body.get("utterance"), body.get("cwd") or "/"
        if not isinstance(utterance, str) or not utterance.strip():
            raise RequestError(400, "utterance must be a non-empty string")
        if not isinstance(cwd, str) or not os.path.isabs(cwd) or not os.path.isdir(cwd):
            raise RequestError(400, f"cwd must be an existing absolute directory: {cwd!r}")
        name = body.get("model") if isinstance(body.get("model"), str) else None
        self.service.engine.spec_for(name)

        def work(cancel):
            from nlsh.planner.planner import PlanningError
            from nlsh.policy import assess
            planner, shell = self.service.engine.planner(name)
            shell.cwd = cwd
            try:
                r = planner.plan(utterance, cwd, cancel=cancel, check=shell.problems)
            except (PlanningError, ModelError) as e:
                raise RequestError(422, f"could not plan that: {getattr(e, 'message', e)}", "planning_error") from None
            out = {"utterance": r.utterance, "plan": r.text, "model": r.model,
                   "risk": assess(r.plan, shell).summary(), "problems": r.problems,
                   "repaired": r.repaired, "timings": r.timings}
            return out, int(r.timings.get("prompt_tokens", 0)), int(r.timings.get("generated_tokens", 0))

        task = self._run(self._class("app"), client, work)
        self._raise(task)
        self._send(200, {**task.result, "usage": self._usage(task)})

    # -- nlsh's own, on the socket -------------------------------------------
    def nlsh_complete(self, client: str) -> None:
        body = self._body()
        for key in ("prefix", "suffix"):
            if not isinstance(body.get(key), str):
                raise RequestError(400, f"{key} must be a string")
        name = body.get("model")
        self.service.engine.spec_for(name)
        repeat_penalty = _number(body, "repeat_penalty", 1.0, float, 1.0, 2.0)

        grammar = body.get("grammar") or None
        request = {"suffix": body["suffix"], "max_tokens": int(body.get("max_tokens") or 160),
                   "stop": list(body.get("stop") or []), "repeat_penalty": repeat_penalty}

        def work(cancel):
            c = self.service.engine.get(name).complete(body["prefix"], grammar=grammar, cancel=cancel, **request)
            return c, c.prompt_tokens, c.completion_tokens
        shared = None if grammar else ((self.service.engine.spec_for(name).name, body["prefix"]),
                                       self.service.engine.together(name, body["prefix"]), request)

        task = self._run(self._class("interactive"), client, work, shared)
        self._raise(task)
        c = task.result
        self._send(200, {"text": c.text, "finish_reason": c.finish_reason, "prompt_tokens": c.prompt_tokens,
                         "completion_tokens": c.completion_tokens, "timings": c.timings,
                         "usage": self._usage(task)})

    def nlsh_prefix(self, client: str) -> None:
        body = self._body()
        if not isinstance(body.get("prefix"), str):
            raise RequestError(400, "prefix must be a string")
        name = body.get("model")
        self.service.engine.spec_for(name)

        def work(cancel):
            return self.service.engine.get(name).prepare_prefix(body["prefix"]), 0, 0

        task = self._run(self._class("interactive"), client, work)
        self._raise(task)
        self._send(200, {"seconds": task.result})

    def nlsh_load(self, client: str) -> None:
        body = self._body()
        name = body.get("model")
        backend = self.service.engine.get(name, wait=bool(body.get("wait")))
        if body.get("wait"):
            try:
                backend.ready()
            except (BackendError, ModelError) as e:
                raise RequestError(500, str(e), "server_error") from None
        self._send(200, self.service.status())

    def nlsh_status(self, client: str) -> None:
        self._send(200, self.service.status())

    def nlsh_stop(self, client: str) -> None:
        self._send(200, {"stopping": True})
        self.service.stopping.set()


class _Chunked:
    """HTTP/1.1 chunked framing of a stream's events."""

    def __init__(self, wfile) -> None:
        self.wfile = wfile

    def write(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def close(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


class UnixServer(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True


class TCPServer(ThreadingHTTPServer):
    daemon_threads = True


def parse_listen(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"--listen {value!r}: expected HOST:PORT, e.g. 127.0.0.1:8765")
    return host.strip("[]"), int(port)


def serve(*, listen: str | None = None, on_demand: bool = False, keep_alive: float | None = None,
          max_queue: int | None = None, out=sys.stderr) -> int:
    """Run the daemon until ``nlsh serve stop``, SIGTERM or (started on demand)
    ``keep_alive`` seconds without a request. The exit status."""
    import fcntl

    from nlsh.paths import runtime_dir
    config = settings.settings()
    keep_alive = float(keep_alive if keep_alive is not None else config.get("keep_alive", KEEP_ALIVE))
    max_queue = int(max_queue if max_queue is not None else config.get("max_queue", MAX_QUEUE))
    try:
        run = runtime_dir()
        lock = open(os.path.join(run, LOCK), "a+")      # noqa: SIM115 (held for the daemon's life)
    except OSError as e:
        print(f"nlsh: serve: cannot use the runtime folder: {e.strerror or e}", file=out)
        return 1
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        if not on_demand:
            print(f"nlsh: serve: a model service is already running ({os.path.join(run, SOCKET)}); "
                  "'nlsh serve stop' stops it", file=out)
        return 0 if on_demand else 1
    service = Service(keep_alive=keep_alive, max_queue=max_queue, on_demand=on_demand,
                      rates=config.get("rates"), parallel=int(config.get("parallel", PARALLEL)))
    handler = type("BoundHandler", (Handler,), {"service": service})
    tcp = None
    if listen:
        try:
            host, port = parse_listen(listen)
            if not service.keys.entries():
                raise ValueError("a TCP port needs API keys: add one first with 'nlsh serve keys add NAME'")
            tcp = TCPServer((host, port), handler)
        except (ValueError, OSError) as e:
            print(f"nlsh: serve: {getattr(e, 'strerror', None) or e}", file=out)
            return 1
    path = os.path.join(run, SOCKET)
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    old = os.umask(0o177)
    try:
        unix = UnixServer(path, handler)
    finally:
        os.umask(old)
    os.chmod(path, 0o600)
    ours = os.stat(path).st_ino
    lock.seek(0)
    lock.truncate()
    lock.write(str(os.getpid()))
    lock.flush()
    for server in (unix, tcp):
        if server is not None:
            threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True).start()
    signal.signal(signal.SIGTERM, lambda *_: service.stopping.set())
    signal.signal(signal.SIGINT, lambda *_: service.stopping.set())
    if not on_demand:
        where = path + (f" and http://{listen}" if listen else "")
        print(f"nlsh: model service on {where}; keep-alive {keep_alive:g} s", file=out, flush=True)
    try:
        while not service.stopping.wait(0.5):
            if service.scheduler.idle_for() > keep_alive:
                if on_demand:
                    break
                if service.engine.backend is not None:
                    service.engine.unload()
    finally:
        for server in (unix, tcp):
            if server is not None:
                server.shutdown()
                server.server_close()
        try:
            if os.stat(path).st_ino == ours:     # not a newer daemon's socket
                os.unlink(path)
        except OSError:
            pass
    return 0
