#!/usr/bin/env python3
"""The model service under load: what a person at the prompt waits while other
clients flood the daemon, throughput with 1 and 4 clients, and memory of N
shells with and without the daemon.

1. alone: an interactive client plans bench_plan's requests one after another
   through a fresh daemon (p50, p95 of planning latency);
2. flooded: the same, while 3 other clients send back-to-back completions
   (32 tokens each, class "app") — the interactive p50 against alone's;
3. throughput: generated tokens a second with 1 client and with 4 (the
   daemon decodes up to ``--parallel`` answers together; 1: one at a time);
4. memory: the daemon's RSS plus a client shell's, against one shell that
   loads the model itself (N shells: N times that).
Usage: python3 scripts/bench_serve.py [--model NAME|PATH] [--requests 12] [--parallel N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_plan import REQUESTS, sample_dir


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


def plan_all(planner, requests: list[str], cwd: str) -> list[float]:
    times = []
    for r in requests:
        t0 = time.perf_counter()
        try:
            planner.plan(r, cwd)
        except Exception as e:  # noqa: BLE001  (a request that does not plan still took its time)
            print(f"  ({r!r}: {e})")
        times.append(time.perf_counter() - t0)
    return times


def flood(model: str, stop: threading.Event, tokens: list[int], name: str) -> None:
    from nlsh.service.client import call
    n = 0
    while not stop.is_set():
        try:
            a = call("POST", "/v1/completions", {"model": model, "prompt": f"Write a short poem number {n}:",
                                                 "max_tokens": 32, "temperature": 0.7, "seed": n},
                     headers={"X-Nlsh-Client": name}, timeout=None)
            tokens.append(a["usage"]["completion_tokens"])
        except Exception as e:  # noqa: BLE001
            print(f"  flood {name}: {e}")
            time.sleep(0.5)
        n += 1


def throughput(model: str, clients: int, seconds: float) -> float:
    stop, tokens = threading.Event(), []
    threads = [threading.Thread(target=flood, args=(model, stop, tokens, f"tp{i}")) for i in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()
    return sum(tokens) / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model")
    ap.add_argument("--requests", type=int, default=12)
    ap.add_argument("--parallel", type=int, help="[serve] parallel for the daemon (default: the service's)")
    args = ap.parse_args()
    from nlsh.paths import config_dir, ensure, scratch_home
    scratch_home("nlsh-bench-serve-")
    if args.parallel is not None:
        if os.environ.get("NLSH_HOME"):
            sys.exit("bench_serve: --parallel writes a config of its own: unset NLSH_HOME")
        with open(os.path.join(ensure(config_dir()), "config.toml"), "a") as f:
            f.write(f"[serve]\nparallel = {args.parallel}\n")
    os.environ["XDG_RUNTIME_DIR"] = tempfile.mkdtemp(prefix="nlsh-bench-run-")
    os.environ.pop("NLSH_SERVE", None)
    import psutil

    from nlsh.planner.models import model_file, resolve
    from nlsh.planner.planner import Planner
    from nlsh.service.client import call, ensure_running
    from nlsh.wiring import default_registry
    spec = resolve(args.model)
    model = model_file(spec)
    requests = REQUESTS[:args.requests]
    cwd = sample_dir()
    ensure_running()
    status0 = call("GET", "/nlsh/status")
    daemon = psutil.Process(status0["pid"])
    try:
        planner = Planner.create(default_registry(), model=model, backend="service")
        planner.warm()
        plan_all(planner, requests[:2], cwd)                      # warm: prefix read, first answers
        alone = plan_all(planner, requests, cwd)
        print(f"alone:   p50 {statistics.median(alone):.2f} s, p95 {pct(alone, 0.95):.2f} s ({len(alone)} plans)")
        stop, tokens = threading.Event(), []
        threads = [threading.Thread(target=flood, args=(model, stop, tokens, f"flood{i}")) for i in range(3)]
        for t in threads:
            t.start()
        time.sleep(2.0)                                           # the flood is under way
        flooded = plan_all(planner, requests, cwd)
        stop.set()
        for t in threads:
            t.join()
        ratio = statistics.median(flooded) / statistics.median(alone)
        print(f"flooded: p50 {statistics.median(flooded):.2f} s, p95 {pct(flooded, 0.95):.2f} s while 3 clients "
              f"generated {sum(tokens)} tokens; p50 ratio {ratio:.2f} (budget 1.5)")
        one, four = throughput(model, 1, 20.0), throughput(model, 4, 20.0)
        print(f"throughput: 1 client {one:.1f} tokens/s, 4 clients {four:.1f} tokens/s "
              f"(one model, up to {status0['parallel']} answers decoded together)")
        status = call("GET", "/nlsh/status")
        daemon_rss = daemon.memory_info().rss
        client = subprocess.run([sys.executable, "-c", (
            "import os,resource,sys;from nlsh.planner.planner import Planner;from nlsh.wiring import default_registry;"
            f"p=Planner.create(default_registry(),model={model!r},backend=sys.argv[1]);p.plan('list the files here',"
            f"{cwd!r});print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss*1024)"), "service"],
            capture_output=True, text=True, check=True)
        local = subprocess.run(client.args[:-1] + ["llama"], capture_output=True, text=True, check=True)
        c_rss, l_rss = int(client.stdout.split()[-1]), int(local.stdout.split()[-1])
        print(f"memory: daemon {daemon_rss / 2**20:.0f} MB + {c_rss / 2**20:.0f} MB a shell; a shell with its own "
              f"model {l_rss / 2**20:.0f} MB. 3 shells: {(daemon_rss + 3 * c_rss) / 2**20:.0f} MB with the daemon, "
              f"{3 * l_rss / 2**20:.0f} MB without")
        print(f"daemon totals: {status['total']}")
    finally:
        call("POST", "/nlsh/stop")


if __name__ == "__main__":
    main()
