"""Reaching the model daemon: start it on demand (one, however many processes
try at once), ask it over its Unix socket, and fall back to loading the model
in this process, with one line saying why, when it cannot be reached."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time

from nlsh.planner.backend import BackendError, Completion
from nlsh.service.settings import LOCK, SOCKET

START_TIMEOUT = 30.0


class ServiceError(Exception):
    """The daemon cannot be reached or started; the message says why."""


class NotRunning(ServiceError):
    """No daemon listens on the socket (it never started, or it stopped)."""


def socket_path() -> str:
    from nlsh.paths import runtime_dir
    return os.path.join(runtime_dir(), SOCKET)


class UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float | None) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self._path)


def call(method: str, path: str, body: dict | None = None, *, headers: dict | None = None,
         timeout: float | None = 10.0, conn_box: list | None = None) -> dict:
    """One request to the daemon; its JSON answer. ServiceError if it cannot be
    reached; BackendError with the daemon's message if it answers an error.
    ``conn_box`` receives the connection (another thread may close it: cancel)."""
    try:
        conn = UnixConnection(socket_path(), timeout)
    except OSError as e:
        raise ServiceError(f"no runtime folder for the model service: {e.strerror or e}") from None
    if conn_box is not None:
        conn_box.append(conn)
    try:
        data = json.dumps(body).encode() if body is not None else None
        conn.request(method, path, body=data, headers={"Content-Type": "application/json", **(headers or {})})
        resp = conn.getresponse()
        raw = resp.read()
    except (FileNotFoundError, ConnectionRefusedError) as e:
        raise NotRunning(f"the model service is not running ({e.strerror})") from None
    except (OSError, http.client.HTTPException) as e:
        raise ServiceError(f"the model service stopped answering ({getattr(e, 'strerror', None) or e or type(e).__name__})") from None
    finally:
        conn.close()
    try:
        answer = json.loads(raw)
    except ValueError:
        raise ServiceError("the model service did not answer with JSON") from None
    if resp.status != 200:
        raise BackendError((answer.get("error") or {}).get("message") or f"the model service answered {resp.status}")
    return answer


def running() -> bool:
    try:
        call("GET", "/health", timeout=2.0)
        return True
    except (ServiceError, BackendError):
        return False


def ensure_running(timeout: float = START_TIMEOUT) -> None:
    """Start the daemon unless it runs; wait until it answers. Two processes doing
    this at once start one daemon (the daemon holds a lock for its life)."""
    if running():
        return
    import fcntl

    from nlsh.paths import runtime_dir
    try:
        run = runtime_dir()
        starting = open(os.path.join(run, "start.lock"), "a")   # noqa: SIM115 (closed below)
    except OSError as e:
        raise ServiceError(f"no runtime folder for the model service: {e.strerror or e}") from None
    with starting:
        fcntl.flock(starting, fcntl.LOCK_EX)
        if running():
            return
        log_path = os.path.join(run, "serve.log")
        with open(log_path, "ab") as log:
            proc = subprocess.Popen([sys.executable, "-m", "nlsh", "serve", "--on-demand"],
                                    stdin=subprocess.DEVNULL, stdout=log, stderr=log, cwd="/",
                                    start_new_session=True, close_fds=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if running():
                return
            if proc.poll() is not None and not _locked(os.path.join(run, LOCK)):
                raise ServiceError(f"the model service exited at start ({_last_line(log_path)})")
            time.sleep(0.05)
        raise ServiceError(f"the model service did not answer within {timeout:g} s (see {log_path})")


def _locked(path: str) -> bool:
    """Does a daemon hold its lock (so it is starting, or running)?"""
    import fcntl
    try:
        with open(path, "a") as f:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return False
    except OSError:
        return True


def _last_line(path: str) -> str:
    try:
        with open(path, "rb") as f:
            lines = f.read()[-2000:].decode("utf-8", "replace").strip().splitlines()
        return lines[-1] if lines else "no message"
    except OSError:
        return "no message"


class ServiceBackend:
    """A planner backend that asks the daemon (the model in memory once for all
    of a user's shells). If the daemon cannot start, ``fallback()`` gives an
    in-process backend, used from then on, and ``say`` tells the user once."""

    def __init__(self, model: str, *, fallback, cls: str = "interactive", client: str | None = None,
                 say=None) -> None:
        self.model = model
        self.name = model
        self._fallback_factory = fallback
        self.cls = cls
        self.client = client or f"{cls}:{os.getpid()}"
        self._say = say or (lambda msg: print(f"nlsh: {msg}", file=sys.stderr))
        self._local = None
        self._thread: threading.Thread | None = None
        self._started = threading.Event()
        self._lock = threading.Lock()
        self.load_seconds = 0.0
        self.device = "service"
        self._ready_seen = False

    # -- the planner's backend interface ------------------------------------
    def start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._connect, name="nlsh-service", daemon=True)
                self._thread.start()

    def _connect(self) -> None:
        try:
            ensure_running()
            status = call("POST", "/nlsh/load", {"model": self.model}, headers=self._headers())
            self.device = status.get("device") or "service"
        except (ServiceError, BackendError) as e:
            self._fall_back(str(e))
        finally:
            self._started.set()

    def _fall_back(self, why: str) -> None:
        if self._local is None:
            self._say(f"{why}; loading the model in this process")
            self._local = self._fallback_factory()
            self._local.start()

    def wait(self, timeout: float | None = None) -> bool:
        self.start()
        if not self._started.wait(timeout):
            return False
        if self._local is not None:
            return self._local.wait(timeout)
        t0 = time.perf_counter()
        try:
            status = call("POST", "/nlsh/load", {"model": self.model, "wait": True}, headers=self._headers(),
                          timeout=timeout)
            self.device, self.load_seconds = status.get("device") or "service", status.get("load_s") or 0.0
        except ServiceError as e:
            self._fall_back(str(e))
            return self._local.wait(timeout)
        except BackendError:
            pass                                 # the model's own error comes with the first request
        self.load_seconds = self.load_seconds or time.perf_counter() - t0
        return True

    @property
    def stage(self) -> str:
        """What the first use is doing (the daemon's stage), "" once the model
        answers; asked of the daemon only until then (faces poll it while planning)."""
        if self._local is not None:
            return self._local.stage
        if self._ready_seen:
            return ""
        if not self._started.is_set():
            return "starting the model service"
        try:
            status = call("GET", "/nlsh/status", timeout=1.0)
        except (ServiceError, BackendError):
            return ""
        self._ready_seen = bool(status.get("loaded")) and not status.get("stage")
        return str(status.get("stage") or "")

    def _headers(self, cls: str | None = None) -> dict:
        return {"X-Nlsh-Class": cls or self.cls, "X-Nlsh-Client": self.client}

    def prepare_prefix(self, prefix: str) -> float:
        self.wait()
        if self._local is not None:
            return self._local.prepare_prefix(prefix)
        try:
            return float(call("POST", "/nlsh/prefix", {"model": self.model, "prefix": prefix},
                              headers=self._headers(), timeout=None)["seconds"])
        except ServiceError as e:
            raise BackendError(str(e)) from None

    def complete(self, prefix: str, suffix: str, *, grammar: str | None, max_tokens: int,
                 stop: list[str], cancel=None, cls: str | None = None,
                 repeat_penalty: float = 1.0) -> Completion:
        """The daemon's answer; ``cls``: the request's class when it is not this
        client's (an agent's steps from a shell's planner)."""
        self.start()
        self._started.wait()
        if self._local is not None:
            return self._local.complete(prefix, suffix, grammar=grammar, max_tokens=max_tokens, stop=stop,
                                        cancel=cancel, repeat_penalty=repeat_penalty)
        body = {"model": self.model, "prefix": prefix, "suffix": suffix, "grammar": grammar,
                "max_tokens": max_tokens, "stop": stop, "repeat_penalty": repeat_penalty}
        box: list = []
        result: dict = {}

        def ask() -> None:
            try:
                result["answer"] = call("POST", "/nlsh/complete", body, headers=self._headers(cls),
                                        timeout=None, conn_box=box)
            except (ServiceError, BackendError) as e:
                result["error"] = e

        for attempt in (1, 2):
            result.clear()
            t = threading.Thread(target=ask, name="nlsh-service-request", daemon=True)
            t.start()
            if self._wait_answer(t, box, cancel):
                return Completion("", "cancelled")
            if attempt == 1 and isinstance(result.get("error"), NotRunning):
                try:
                    ensure_running()            # it stopped (idle, killed) since: start it again, once
                    continue
                except ServiceError as e:
                    self._fall_back(str(e))
                    return self._local.complete(prefix, suffix, grammar=grammar, max_tokens=max_tokens,
                                                stop=stop, cancel=cancel, repeat_penalty=repeat_penalty)
            break
        if "error" in result:
            e = result["error"]
            if isinstance(e, ServiceError):
                raise BackendError(f"{e}; the next request starts it again") from None
            raise e
        a = result["answer"]
        usage = a.get("usage") or {}
        timings = {**(a.get("timings") or {}), "queue_s": usage.get("queue_s", 0.0),
                   "model_s": usage.get("model_s", 0.0)}
        return Completion(a["text"], a["finish_reason"], a.get("prompt_tokens", 0), a.get("completion_tokens", 0),
                          timings)

    @staticmethod
    def _wait_answer(t: threading.Thread, box: list, cancel) -> bool:
        """Wait for the request thread ``t``; True if ``cancel`` came first. Either
        way, or on Ctrl-C here, the connection is closed: hanging up frees the model at once."""
        def hang_up() -> None:
            for conn in box:
                if conn.sock is not None:
                    try:
                        conn.sock.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
        try:
            while t.is_alive():
                t.join(0.05)
                if cancel is not None and cancel.cancelled and t.is_alive():
                    hang_up()
                    t.join()
                    return True
        except BaseException:
            hang_up()
            raise
        return False
