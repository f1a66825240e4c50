"""The model service: the real daemon, the real default model, the official
``openai`` client, real shells started as a user starts them. The scheduler's
own order is tested with plain functions for work (no model needed there)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from nlsh.service.scheduler import QueueFull, Scheduler, Task


def _env(home, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "NLSH_SERVE"}
    return {**env, "NLSH_HOME": str(home), **extra}


def _run_dir(home) -> str:
    """The daemon's folder for ``home`` (NLSH_HOME/run, or a short path under /tmp for a long one)."""
    from nlsh.paths import runtime_path
    saved = os.environ.get("NLSH_HOME")
    os.environ["NLSH_HOME"] = str(home)
    try:
        return runtime_path()
    finally:
        if saved is None:
            del os.environ["NLSH_HOME"]
        else:
            os.environ["NLSH_HOME"] = saved


def _wait_socket(home, proc=None, timeout=30.0) -> str:
    sock = os.path.join(_run_dir(home), "model.sock")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.path.exists(sock):
            return sock
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the daemon exited: {proc.stderr.read()}")
        time.sleep(0.05)
    raise AssertionError("no socket")


def _daemons(home) -> list:
    import psutil
    found = []
    for p in psutil.process_iter(["cmdline"]):
        try:
            if p.info["cmdline"] and "serve" in p.info["cmdline"] and p.environ().get("NLSH_HOME") == str(home):
                found.append(p)
        except (psutil.Error, OSError):
            pass
    return found


@pytest.fixture
def daemon(tmp_path, nlsh_home):
    """Start ``nlsh serve`` (options given) in this test's home; stopped afterwards."""
    procs = []

    def start(*args: str):
        p = subprocess.Popen([sys.executable, "-m", "nlsh", "serve", *args], env=_env(nlsh_home),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        procs.append(p)
        return p, _wait_socket(nlsh_home, p)

    yield start
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
    for p in _daemons(nlsh_home):
        p.kill()
    if _run_dir(nlsh_home).startswith("/tmp/nlsh-"):
        import shutil
        shutil.rmtree(_run_dir(nlsh_home), ignore_errors=True)


def _openai(sock: str, **options):
    import openai
    try:
        import httpx2 as httpx  # openai 3 is built on httpx2
    except ImportError:
        import httpx
    return openai.OpenAI(base_url="http://nlsh/v1", api_key="unused", max_retries=0,
                         http_client=httpx.Client(transport=httpx.HTTPTransport(uds=sock)), **options)


# -- the scheduler's order (plain functions as work) ---------------------------

def test_scheduler_serves_the_prompt_first_then_first_come_within_a_class():
    s = Scheduler(max_queue=8)
    gate, order = threading.Event(), []

    def work(name, block=False):
        def run(cancel):
            if block:
                gate.wait(10)
            order.append(name)
            return name, 1, 2
        return run

    first = s.submit(Task("batch", "b", work("busy", block=True)))
    while s.running is None:
        time.sleep(0.01)
    tasks = [s.submit(Task(c, c, work(n))) for c, n in
             (("app", "app1"), ("batch", "batch1"), ("interactive", "typed1"), ("script", "script1"),
              ("interactive", "typed2"), ("agent", "agent1"))]
    gate.set()
    for t in [first, *tasks]:
        assert t.done.wait(10)
    assert order == ["busy", "typed1", "typed2", "agent1", "script1", "batch1", "app1"]
    assert s.by_client["interactive"].requests == 2 and s.total.completion_tokens == 14


def test_scheduler_queue_is_bounded_and_a_cancelled_request_leaves_it_at_once():
    s = Scheduler(max_queue=2)
    gate = threading.Event()
    busy = s.submit(Task("batch", "x", lambda c: (gate.wait(10), 0, 0)))
    while s.running is None:
        time.sleep(0.01)
    a = s.submit(Task("app", "x", lambda c: (1, 0, 0)))
    s.submit(Task("app", "x", lambda c: (2, 0, 0)))
    with pytest.raises(QueueFull, match="queue is full"):
        s.submit(Task("app", "x", lambda c: (3, 0, 0)))
    s.cancel(a)
    assert a.done.is_set() and a.cancel.cancelled and a.result is None   # out of the queue, never run
    s.submit(Task("app", "x", lambda c: (3, 0, 0)))                      # its place is free
    gate.set()
    assert busy.done.wait(10)


def test_a_running_request_gives_way_to_the_prompt_and_runs_again_after():
    s = Scheduler()
    order, runs = [], []

    def long(turn):
        runs.append("batch")
        for _ in range(400):                         # a token every 5 ms, two seconds in all
            if turn.cancelled:
                return None, 0, 0
            time.sleep(0.005)
        order.append("batch")
        return "done", 3, 400

    batch = s.submit(Task("batch", "flood", long))
    while s.running is None:
        time.sleep(0.01)
    time.sleep(0.1)
    t0 = time.monotonic()
    typed = s.submit(Task("interactive", "me", lambda turn: (order.append("typed"), 1, 1)))
    assert typed.done.wait(5) and time.monotonic() - t0 < 0.5       # not two seconds behind the batch
    assert batch.done.wait(10) and batch.result == "done" and batch.preempted == 1
    assert order == ["typed", "batch"] and runs == ["batch", "batch"]
    assert s.by_client["flood"].completion_tokens == 400 and s.by_client["flood"].requests == 1


def test_requests_of_one_key_and_class_run_together_and_latecomers_join():
    s = Scheduler(together=3)
    gate, steps, order = threading.Event(), [], []

    def many(take, give):                            # one answer done a step, a place taken as it frees
        running = []
        while True:
            running += take(3 - len(running))
            if not running:
                return
            steps.append([t.request for t, _ in running])
            task, _ = running.pop(0)
            order.append(f"k{task.request}")
            give(task, (task.request * 10, 2, 3))

    def alone(name):
        return lambda turn: (order.append(name), 1, 1)

    busy = s.submit(Task("script", "x", lambda c: (gate.wait(10), 0, 0)))
    while s.running is None:
        time.sleep(0.01)
    keyed = [s.submit(Task("script", f"c{i}", alone("never"), "k", many, i)) for i in range(4)]
    plain = s.submit(Task("script", "p", alone("plain")))
    app = s.submit(Task("app", "a", alone("never"), "k", many, 9))       # another class: not with them
    gate.set()
    for t in [busy, *keyed, plain, app]:
        assert t.done.wait(10)
    assert steps == [[0, 1, 2], [1, 2, 3], [2, 3], [3], [9]]
    assert order == ["k0", "k1", "k2", "k3", "plain", "k9"]
    assert [t.result for t in keyed] == [0, 10, 20, 30] and [t.together for t in keyed] == [3, 3, 3, 3]
    assert app.together == 1 and s.by_client["c1"].completion_tokens == 3 and s.running is None


def test_a_batch_gives_way_to_the_prompt_and_runs_again_after():
    s = Scheduler(together=4)
    runs = []

    def many(take, give):
        running = take(4)
        runs.append(len(running))
        for _ in range(400):
            if any([turn.cancelled for _, turn in running]):  # noqa: C419  (each asked, as each answer asks)
                for task, _ in running:
                    give(task, (None, 0, 0))
                return
            time.sleep(0.005)
        for task, _ in running:
            give(task, ("done", 1, 400))

    first = s.submit(Task("batch", "f", lambda turn: (time.sleep(0.2), 0, 0)))
    while s.running is None:
        time.sleep(0.01)
    flood = [s.submit(Task("batch", f"f{i}", None, "k", many, i)) for i in range(3)]
    assert first.done.wait(5)
    time.sleep(0.2)
    t0 = time.monotonic()
    typed = s.submit(Task("interactive", "me", lambda turn: ("typed", 1, 1)))
    assert typed.done.wait(5) and time.monotonic() - t0 < 0.5
    for t in flood:
        assert t.done.wait(10) and t.result == "done" and t.preempted == 1
    assert runs == [3, 3]


def test_the_model_waits_a_moment_for_the_prompts_next_request_before_a_lower_class():
    s = Scheduler()
    order = []
    first = s.submit(Task("interactive", "me", lambda turn: (order.append("plan 1"), 1, 1)))
    assert first.done.wait(5)
    batch = s.submit(Task("batch", "b", lambda turn: (order.append("batch"), 1, 1)))
    time.sleep(0.03)                                # the shell sends its plan's next request
    second = s.submit(Task("interactive", "me", lambda turn: (order.append("plan 2"), 1, 1)))
    assert second.done.wait(5) and batch.done.wait(5)
    assert order == ["plan 1", "plan 2", "batch"]


def test_a_request_left_unanswered_by_a_batch_gets_an_error_not_a_hang():
    s = Scheduler(together=2)

    def many(take, give):
        (first, _), _ = take(2)
        give(first, ("a", 1, 1))
        raise RuntimeError("the model broke")

    s.submit(Task("app", "x", lambda turn: (time.sleep(0.2), 0, 0)))
    while s.running is None:
        time.sleep(0.01)
    a, b = (s.submit(Task("app", n, None, "k", many, n)) for n in "ab")
    assert a.done.wait(5) and b.done.wait(5)
    assert a.result == "a" and a.error is None and isinstance(b.error, RuntimeError)

    def broken(take, give):                         # fails before it takes any (a model that will not load)
        raise RuntimeError("cannot load the model")

    c = s.submit(Task("app", "c", None, "k", broken, "c"))
    assert c.done.wait(5) and str(c.error) == "cannot load the model"


def test_answers_decoded_together_are_the_answers_decoded_alone(model_path):
    from nlsh.kernel.context import CancelToken
    from nlsh.planner.backend import BackendError, LlamaBackend
    be = LlamaBackend(model_path, parallel=3, n_ctx=1024)
    prefix = "<|im_start|>system\nAnswer with one shell command.<|im_end|>\n"
    asks = ["count the lines of notes.txt", "show the disk usage of this folder", "list files by size",
            "print the date", "make a folder named out"]
    stop = ["<|im_end|>", "\n"]
    suffix = [f"<|im_start|>user\n{a}<|im_end|>\n<|im_start|>assistant\n" for a in asks]
    alone = [be.complete(prefix, x, grammar=None, max_tokens=24, stop=stop) for x in suffix]
    assert all(c.text for c in alone)
    stopped = CancelToken()
    stopped.cancel()
    requests = [{"suffix": x, "max_tokens": 24, "stop": stop} for x in suffix]
    requests.insert(2, {"suffix": "word " * 1200, "max_tokens": 24, "stop": stop})     # longer than the context
    requests.append({**requests[0], "cancel": stopped})

    def run(arrivals):
        """``arrivals[k]``: how many requests come before the k-th step (after those, none)."""
        todo, got, calls = [{**r, "handle": i} for i, r in enumerate(requests)], {}, [0]

        def take(n):
            come = arrivals[calls[0]] if calls[0] < len(arrivals) else len(todo)
            calls[0] += 1
            given = todo[:min(n, come)]
            del todo[:len(given)]
            return given
        be.complete_many(prefix, take, lambda handle, c: got.__setitem__(handle, c))
        return [got[i] for i in range(len(requests))]

    for arrivals in ([7], [1, 0, 0, 1, 0, 1, 1, 0, 0, 0, 1, 1, 1]):       # all at once; one by one, later
        out = run(arrivals)
        assert isinstance(out[2], BackendError) and "the request is too long" in str(out[2])
        together = out[:2] + out[3:6]
        assert [c.text for c in together] == [c.text for c in alone]
        assert [c.completion_tokens for c in together] == [c.completion_tokens for c in alone]
        assert out[6].finish_reason == "cancelled" and out[6].completion_tokens == 0
        assert max(c.timings["together"] for c in together) == 3
        again = be.complete(prefix, suffix[1], grammar=None, max_tokens=24, stop=stop)
        assert again.text == alone[1].text
    one = [[{**requests[1], "handle": 0}]]
    be.complete_many(prefix, lambda n: one.pop() if one else [], lambda handle, c: None)
    held = be.llm.detokenize(be.llm.input_ids[:be.llm.n_tokens].tolist(), special=True).decode()
    assert held == prefix + suffix[1] + alone[1].text    # as after complete: a repair turn reads only what is new


# -- the daemon without the model ----------------------------------------------

def test_tcp_needs_a_key_and_a_wrong_key_is_refused(daemon, nlsh, nlsh_home):
    import openai
    r = nlsh("serve", "--listen", "127.0.0.1:8765", env=_env(nlsh_home))
    assert r.status == 1 and "needs API keys" in r.err and "Traceback" not in r.err
    key = nlsh("serve", "keys", "add", "tester", "--endpoint", "/v1/models", env=_env(nlsh_home)).out.strip()
    assert key.startswith("nlsh-")
    assert key not in (nlsh_home / "config" / "serve-keys.json").read_text()       # only its hash is kept
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    daemon("--listen", f"127.0.0.1:{port}")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 1).close()
            break
        except OSError:
            time.sleep(0.05)
    good = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=key, max_retries=0)
    assert "qwen2.5-coder-1.5b" in [m.id for m in good.models.list()]
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="nlsh-wrong", max_retries=0).models.list()
    with pytest.raises(openai.PermissionDeniedError):                   # this key may only list models
        good.completions.create(model="default", prompt="x", max_tokens=1)
    listed = nlsh("serve", "keys", "list", env=_env(nlsh_home)).out.split()
    assert listed[:5] == ["tester", "/v1/models", "no", "rate", "limit"]
    assert nlsh("serve", "keys", "revoke", "tester", env=_env(nlsh_home)).status == 0
    with pytest.raises(openai.AuthenticationError):
        good.models.list()


def test_socket_is_private_and_a_second_daemon_refuses(daemon, nlsh, nlsh_home):
    _, sock = daemon()
    assert oct(os.stat(sock).st_mode & 0o777) == "0o600"
    assert oct(os.stat(os.path.dirname(sock)).st_mode & 0o777) == "0o700"
    r = nlsh("serve", env=_env(nlsh_home))
    assert r.status == 1 and r.err.startswith("nlsh: serve: a model service is already running")
    s = nlsh("serve", "status", "--json", env=_env(nlsh_home))
    assert json.loads(s.out)["loaded"] is False
    human = nlsh("serve", "status", env=_env(nlsh_home)).out.splitlines()
    assert human[0].startswith("service   pid ") and human[1] == "model     - (not loaded)"
    assert human[2] == "queue     empty (at most 16); running: nothing (up to 4 together)"
    from nlsh.service.client import UnixConnection
    conn = UnixConnection(sock, 10)
    conn.request("GET", "/metrics")
    metrics = conn.getresponse().read().decode()
    conn.close()
    assert "nlsh_model_loaded 0\n" in metrics and "nlsh_running 0\n" in metrics and 'nlsh_queue_waiting{class="interactive"} 0' in metrics
    assert nlsh("serve", "stop", env=_env(nlsh_home)).status == 0
    r = nlsh("serve", "status", env=_env(nlsh_home))
    deadline = time.monotonic() + 10
    while "not running" not in r.out and time.monotonic() < deadline:
        time.sleep(0.1)
        r = nlsh("serve", "status", env=_env(nlsh_home))
    assert (r.status, r.out) == (1, "nlsh: the model service is not running\n")


# -- with the real model ----------------------------------------------------------

def test_openai_client_chat_completion_and_streaming(daemon, model_path):
    import openai
    _, sock = daemon("--max-queue", "1")
    client = _openai(sock)
    chat = client.chat.completions.create(model=model_path, temperature=0, max_tokens=12,
                                          messages=[{"role": "user", "content": "What is 2+3? Answer with the number."}])
    assert "5" in chat.choices[0].message.content and chat.usage.completion_tokens > 0
    done = client.completions.create(model=model_path, prompt="def add(a, b):\n    return", max_tokens=6,
                                     temperature=0)
    assert done.choices[0].text.strip().startswith("a + b")
    streamed = client.completions.create(model=model_path, prompt="def add(a, b):\n    return", max_tokens=6,
                                         temperature=0, stream=True)
    assert "".join(c.choices[0].text for c in streamed) == done.choices[0].text
    pieces = [c.choices[0].delta.content or "" for c in client.chat.completions.create(
        model=model_path, temperature=0, max_tokens=12, stream=True,
        messages=[{"role": "user", "content": "What is 2+3? Answer with the number."}])]
    assert "".join(pieces) == chat.choices[0].message.content and len(pieces) > 1
    yes_no = client.completions.create(model=model_path, prompt="Is the sky green? Answer:", max_tokens=4,
                                       temperature=0, extra_body={"grammar": 'root ::= " yes" | " no"'})
    assert yes_no.choices[0].text in (" yes", " no")            # llama.cpp's grammar holds the answer
    ha = "Say ha as many times as you can: ha ha ha ha ha ha ha ha"
    looped = client.completions.create(model=model_path, prompt=ha, max_tokens=40, temperature=0)
    freed = client.completions.create(model=model_path, prompt=ha, max_tokens=40, temperature=0,
                                      extra_body={"repeat_penalty": 1.5})      # llama-server's name
    assert looped.choices[0].text.count(" ha") > 2 * max(1, freed.choices[0].text.count(" ha"))
    with pytest.raises(openai.BadRequestError, match="repeat_penalty must be between 1.0 and 2.0"):
        client.completions.create(model=model_path, prompt=ha, max_tokens=4, extra_body={"repeat_penalty": 0.5})


def test_clients_that_ask_at_once_are_answered_together_as_alone(daemon, model_path):
    """Four programs at once: the first has the model, the three that come meanwhile join it at its next
    step (one streamed), and each gets what it gets alone."""
    from nlsh.service.client import call
    _, sock = daemon()
    client = _openai(sock)
    prompts = ["def add(a, b):\n    return", "The capital of France is", "1, 2, 3, 4,", "Roses are red,"]
    most = [48, 16, 16, 16]                     # the first one's answer keeps the model while the rest queue
    alone = [client.completions.create(model=model_path, prompt=p, max_tokens=n, temperature=0).choices[0].text
             for p, n in zip(prompts, most)]
    got, usage = {}, {}

    def ask(i):
        if i == 3:
            got[i] = "".join(c.choices[0].text for c in client.completions.create(
                model=model_path, prompt=prompts[i], max_tokens=16, temperature=0, stream=True))
            return
        r = call("POST", "/v1/completions", {"model": model_path, "prompt": prompts[i], "max_tokens": most[i],
                                             "temperature": 0}, headers={"X-Nlsh-Client": f"c{i}"}, timeout=120)
        got[i], usage[i] = r["choices"][0]["text"], r["usage"]

    first = threading.Thread(target=ask, args=(0,))
    first.start()
    while call("GET", "/nlsh/status")["running"] is None:
        time.sleep(0.01)
    rest = [threading.Thread(target=ask, args=(i,)) for i in (1, 2, 3)]
    for t in rest:
        t.start()
    for t in [first, *rest]:
        t.join(120)
    assert [got[i] for i in range(4)] == alone
    assert usage[0]["together"] == usage[1]["together"] == usage[2]["together"] == 4
    assert call("GET", "/nlsh/status")["parallel"] == 4


def test_plan_endpoint_plans_and_runs_nothing(daemon, model_path, work):
    from nlsh.service.client import UnixConnection
    (work / "notes.txt").write_text("a\nb\n")
    _, sock = daemon()

    def post(body: dict) -> tuple[int, dict]:
        conn = UnixConnection(sock, 300)
        conn.request("POST", "/v1/plan", body=json.dumps(body), headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        out = (resp.status, json.loads(resp.read()))
        conn.close()
        return out

    status, r = post({"model": model_path, "utterance": "delete notes.txt", "cwd": str(work)})
    assert status == 200 and "rm" in r["plan"] and r["risk"] == "deletes 1 path" and r["usage"]["prompt_tokens"] > 0
    assert (work / "notes.txt").exists()                           # planned, never run
    status, r = post({"utterance": "list files", "cwd": "relative/dir"})
    assert (status, r["error"]["message"]) == (400, "cwd must be an existing absolute directory: 'relative/dir'")


def test_full_queue_is_an_error_and_a_killed_daemon_never_hangs_a_client(daemon, model_path, nlsh_home):
    import openai
    proc, sock = daemon("--max-queue", "1")
    client = _openai(sock, timeout=60)
    client.completions.create(model=model_path, prompt="x", max_tokens=1)           # loaded
    long = client.completions.create(model=model_path, prompt="Count from 1 to 500:", max_tokens=400,
                                     temperature=0, stream=True)
    next(iter(long))                                                               # it runs now
    waiting = threading.Thread(target=lambda: _swallow(lambda: client.completions.create(     # a grammar: it
        model=model_path, prompt="y", max_tokens=1, extra_body={"grammar": 'root ::= "y"'})))   # runs alone, so waits
    waiting.start()
    deadline = time.monotonic() + 10
    while sum(json.loads(subprocess.run([sys.executable, "-m", "nlsh", "serve", "status", "--json"],
              env=_env(nlsh_home), capture_output=True, text=True, check=False).stdout)["queue"].values()) < 1:
        assert time.monotonic() < deadline
    with pytest.raises(openai.APIStatusError) as full:
        client.completions.create(model=model_path, prompt="z", max_tokens=1)
    assert full.value.status_code == 503 and "queue is full" in str(full.value)
    t0 = time.monotonic()
    proc.kill()                                                                    # mid-request
    with pytest.raises(Exception, match="(?i)incomplete|closed|peer|chunk|connection"):   # a cut stream, not an end
        for _ in long:
            pass
    waiting.join(30)
    assert not waiting.is_alive() and time.monotonic() - t0 < 30


def _swallow(f):
    try:
        f()
    except Exception:       # noqa: BLE001, S110  (the waiting request's fate is not what is tested)
        pass


def test_shells_share_one_daemon_started_on_demand(model_path, nlsh_home, work):
    """Two `nlsh plan` at once with no daemon: one daemon starts, both plans come from it;
    the clients never hold the model; killed, the daemon is started again by the next shell."""
    env = _env(nlsh_home)
    (work / "notes.txt").write_text("a\nb\n")
    cmd = [sys.executable, "-m", "nlsh", "plan", "--json", "--model", model_path]
    procs = [subprocess.Popen([*cmd, "count the lines in notes.txt"], cwd=work, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    peaks = [0, 0]
    import psutil
    while any(p.poll() is None for p in procs):
        for i, p in enumerate(procs):
            try:
                peaks[i] = max(peaks[i], psutil.Process(p.pid).memory_info().rss)
            except psutil.Error:
                pass
        time.sleep(0.05)
    outs = [p.communicate() for p in procs]
    try:
        for out, err in outs:
            assert "Traceback" not in err and "loading the model in this process" not in err, err
            r = json.loads(out)
            assert "wc -l" in r["plan"] or "grep -c" in r["plan"]
            assert "queue_s" in r["timings"]                     # the plan came through the service
        daemons = _daemons(nlsh_home)
        assert len(daemons) == 1
        assert max(peaks) < 300 * 2**20 < daemons[0].memory_info().rss   # the model is in the daemon only
        status = json.loads(subprocess.run([sys.executable, "-m", "nlsh", "serve", "status", "--json"], env=env,
                                           capture_output=True, text=True, check=False).stdout)
        assert len([c for c in status["clients"] if c.startswith("interactive:")]) == 2
        daemons[0].kill()
        daemons[0].wait(10)
        again = subprocess.run([*cmd, "count the lines in notes.txt"], cwd=work, env=env, capture_output=True,
                               text=True, timeout=300, check=False)
        assert again.returncode == 0 and "queue_s" in json.loads(again.stdout)["timings"], again.stderr
    finally:
        for p in _daemons(nlsh_home):
            p.kill()


def test_cancel_frees_the_model_at_once(model_path, nlsh_home, daemon):
    from nlsh.kernel.context import CancelToken
    from nlsh.service import client
    daemon()
    be = client.ServiceBackend(model_path, fallback=lambda: pytest.fail("fell back"))
    assert be.wait(600)
    cancel = CancelToken()
    threading.Timer(1.0, cancel.cancel).start()
    t0 = time.monotonic()
    c = be.complete("", "Count from 1 to 1000, one number a line:\n", grammar=None, max_tokens=2000, stop=[],
                    cancel=cancel)
    assert c.finish_reason == "cancelled" and time.monotonic() - t0 < 3
    # at its next token: one step of the model, which under a loaded CI host can take seconds;
    # the request itself would have run for minutes (2000 tokens)
    deadline = time.monotonic() + 15
    while client.call("GET", "/nlsh/status")["running"] is not None:
        assert time.monotonic() < deadline, "the daemon still runs the cancelled request"
        time.sleep(0.05)


def test_the_planners_repeat_penalty_reaches_the_daemon(model_path, nlsh_home, daemon):
    """What the planner asks again after a loop (/nlsh/complete) decodes with the penalty."""
    from nlsh.service import client
    daemon()
    be = client.ServiceBackend(model_path, fallback=lambda: pytest.fail("fell back"))
    assert be.wait(600)
    ha = "Say ha as many times as you can: ha ha ha ha ha ha ha ha"
    looped = be.complete("", ha, grammar=None, max_tokens=40, stop=["\n"])
    freed = be.complete("", ha, grammar=None, max_tokens=40, stop=["\n"], repeat_penalty=1.5)
    assert looped.text.count(" ha") > 2 * max(1, freed.text.count(" ha")), (looped.text, freed.text)


def test_no_daemon_possible_falls_back_with_one_line(model_path, nlsh_home, work):
    nlsh_home.mkdir(exist_ok=True)
    run = _run_dir(nlsh_home)
    with open(run, "w") as f:                                   # the runtime folder cannot be made
        f.write("not a folder")
    r = subprocess.run([sys.executable, "-m", "nlsh", "plan", "--model", model_path, "count the lines in x.txt"],
                       cwd=work, env=_env(nlsh_home), capture_output=True, text=True, timeout=600, check=False)
    assert r.returncode == 0
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("nlsh: no runtime folder for the model service")
    assert lines[0].endswith("loading the model in this process") and "x.txt" in r.stdout
    os.remove(run)


def test_two_first_time_processes_assemble_one_file(tmp_path):
    """An empty cache and two processes wanting the model at once: no crash, one file."""
    env = {**os.environ, "NLSH_HOME": str(tmp_path / "fresh")}
    code = "from nlsh.planner.models import model_file, resolve; print(model_file(resolve()))"
    procs = [subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(2)]
    outs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert outs[0][0] == outs[1][0]
    folder = os.path.dirname(outs[0][0].strip())
    assert sorted(f for f in os.listdir(folder) if not f.endswith(".lock")) == [
        "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf", "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf.verified"]


def test_first_use_shows_each_stage_on_the_terminal(model_path, nlsh_home, work):
    """A fresh install at a terminal: assembling, loading, then the plan (through the daemon)."""
    import shutil

    import pexpect
    child = pexpect.spawn(sys.executable, ["-m", "nlsh", "plan", "list the files here"], cwd=str(work),
                          env=_env(nlsh_home), encoding="utf-8", timeout=300, dimensions=(24, 200))
    try:
        child.expect(r"nlsh: assembling the model \d+%")
        child.expect("nlsh: loading the model")
        child.expect(r"\bls\b")
        child.expect(pexpect.EOF)
    finally:
        child.close()
        subprocess.run([sys.executable, "-m", "nlsh", "serve", "stop"], env=_env(nlsh_home), capture_output=True,
                       check=False)
        for p in _daemons(nlsh_home):
            p.kill()
        shutil.rmtree(nlsh_home / "cache" / "models", ignore_errors=True)      # 1.1 GB
    assert child.exitstatus == 0


def test_a_planned_line_carries_its_model_use_into_history_and_audit(model_path, nlsh, work, nlsh_home):
    (work / "notes.txt").write_text("a\nb\n")
    r = nlsh("--model", model_path, "-c", "count the lines in notes.txt", timeout=600)
    assert r.status == 0 and "2" in r.out, r.err
    jobs = [json.loads(x) for x in nlsh("--json", "-c", "history --jobs").out.splitlines()]
    audit = [json.loads(x) for x in nlsh("--json", "-c", "history --audit").out.splitlines()]
    planned = [j for j in jobs if j["command"] != "history --jobs"]
    assert len(planned) == 1 and planned[0]["tokens"] > 50            # the prompt and the answer
    assert audit[0]["tokens"] == planned[0]["tokens"] and audit[0]["model_s"] > 0
    typed = nlsh("-c", "echo hi").status == 0 and [json.loads(x) for x in nlsh(
        "--json", "-c", "history --jobs").out.splitlines()]
    assert typed[-1]["command"] == "echo hi" and typed[-1]["tokens"] == 0   # a typed line costs the model nothing


def test_a_class_over_its_rate_is_refused_until_the_minute_passes():
    """[serve] rates: the scheduler's window of generated tokens by class (plain functions as work)."""
    s = Scheduler()
    t = s.submit(Task("app", "tool", lambda turn: ("x", 5, 30)))
    assert t.done.wait(5)
    assert s.recent_tokens("class:app") == 30 and s.recent_tokens("tool") == 30
    assert s.recent_tokens("class:interactive") == 0


def test_serve_rates_in_the_config_are_checked(nlsh, nlsh_home):
    (nlsh_home / "config").mkdir(parents=True, exist_ok=True)
    (nlsh_home / "config" / "config.toml").write_text("[serve.rates]\nrobots = 100\n")
    r = nlsh("serve", "--keep-alive", "1", env=_env(nlsh_home))
    assert r.status == 1 and r.err == ("nlsh: serve: config.toml: [serve.rates] robots: not a class "
                                       "(there are interactive, agent, script, batch, app)\n")


def test_a_class_over_its_rate_gets_429(daemon, model_path, nlsh_home):
    import openai
    (nlsh_home / "config").mkdir(parents=True, exist_ok=True)
    (nlsh_home / "config" / "config.toml").write_text("[serve.rates]\napp = 2\n")
    _, sock = daemon()
    client = _openai(sock)
    client.completions.create(model=model_path, prompt="One, two,", max_tokens=3, temperature=0)
    with pytest.raises(openai.RateLimitError, match="class app are over their rate of 2 tokens a minute"):
        client.completions.create(model=model_path, prompt="One, two,", max_tokens=3, temperature=0)


@pytest.mark.parametrize(("setup", "args", "err"), [
    ("", ["serve", "keys", "add", "bad name"], "nlsh: serve keys: key name 'bad name': use letters, digits, - and _\n"),
    ("k", ["serve", "keys", "add", "k"], "nlsh: serve keys: a key named 'k' exists; revoke it first\n"),
    ("", ["serve", "keys", "add", "k", "--endpoint", "/x"],
     "nlsh: serve keys: endpoint '/x': keys name API endpoints such as /v1/chat/completions\n"),
    ("", ["serve", "keys", "add", "k", "--rate", "0"],
     "nlsh: serve keys: --rate must be a positive number of tokens a minute\n"),
    ("", ["serve", "keys", "revoke", "nosuch"], "nlsh: serve keys: no key named 'nosuch'\n"),
    ("k", ["serve", "--listen", "nonsense"], "nlsh: serve: --listen 'nonsense': expected HOST:PORT, e.g. 127.0.0.1:8765\n"),
    ("[serve]\nfoo = 1\n", ["serve"],
     "nlsh: serve: config.toml: [serve] has no setting 'foo' (there are keep_alive, max_queue, parallel, enabled, rates)\n"),
    ("[serve]\nparallel = 0\n", ["serve"], "nlsh: serve: config.toml: [serve] parallel = 0: from 1 to 16\n"),
    ("[serve]\nkeep_alive = \"x\"\n", ["serve"], "nlsh: serve: config.toml: [serve] keep_alive = 'x' is not a number\n"),
])
def test_serve_mistakes_are_one_line_errors(nlsh, nlsh_home, setup, args, err):
    env = _env(nlsh_home)
    if setup == "k":
        assert nlsh("serve", "keys", "add", "k", env=env).status == 0
    elif setup:
        (nlsh_home / "config").mkdir(parents=True, exist_ok=True)
        (nlsh_home / "config" / "config.toml").write_text(setup)
    r = nlsh(*args, env=env)
    assert (r.status, r.err) == (1, err)


def test_a_daemon_started_on_demand_leaves_after_its_keep_alive(nlsh_home):
    (nlsh_home / "config").mkdir(parents=True, exist_ok=True)
    (nlsh_home / "config" / "config.toml").write_text("[serve]\nkeep_alive = 1\n")
    p = subprocess.Popen([sys.executable, "-m", "nlsh", "serve", "--on-demand"], env=_env(nlsh_home))
    sock = _wait_socket(nlsh_home, p)
    assert p.wait(15) == 0 and not os.path.exists(sock)          # gone, and its socket with it


def test_unset_v_and_f_together_is_a_mistake(sh):
    r = sh("x=1; unset -v -f x; echo [$x]")
    assert (r.err, r.out) == ("nlsh: unset: -v and -f: a name is a variable or a function\n", "[1]\n")


def test_an_older_database_gains_the_model_columns(tmp_path):
    import sqlite3

    from nlsh.store import Store
    path = str(tmp_path / "nlsh.db")
    with sqlite3.connect(path) as old:                            # the audit table as it was before
        old.execute("CREATE TABLE audit (id INTEGER PRIMARY KEY, time REAL, cwd TEXT, typed TEXT, plan TEXT, "
                    "model TEXT, decision TEXT, decided_by TEXT, status INTEGER)")
    store = Store(path)
    store.insert("audit", {"time": 1.0, "typed": "x", "model_tokens": 7, "model_s": 0.5, "queue_s": 0.0})
    store.flush()
    assert [tuple(r) for r in store.query("SELECT typed, model_tokens, model_s FROM audit")] == [("x", 7, 0.5)]
    store.close()
