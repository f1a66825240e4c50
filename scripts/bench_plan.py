#!/usr/bin/env python3
"""Planning latency with the model warm: median and p95 over a fixed set of
everyday requests (our own, not the eval's), run in a small sample folder.

Prints per-request latency, prompt and generated tokens, then the summary.
Budget on a 2-core CPU with the default model: p50 ≤ 1.0 s, p95 ≤ 2.5 s, set on a
machine where the model reads a prompt at about 165 tok/s and writes 32 tok/s;
the last line says what this machine does, to compare like with like.
Usage: python3 scripts/bench_plan.py [--model NAME|PATH] [--mode grammar|free] [--rounds 2]
       [--config NAME:KEY=VALUE,…]…   (settings side by side in one run, as scripts/eval_nl.py)
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time

REQUESTS = [
    "list the files here", "show the 3 largest files", "how many lines are in notes.txt",
    "show the last 5 lines of app.log", "find all markdown files", "search for TODO in the src folder",
    "what is my current directory", "make a folder called archive", "count the python files",
    "which files changed in the last day", "show the first line of every csv file", "how much disk space is free",
    "sort names.txt alphabetically", "show lines with error in app.log, ignoring case", "how big is the src folder",
    "list files bigger than 1 kB", "show running python processes", "print hello world",
    "show unique lines of names.txt", "what is in notes.txt",
]


def sample_dir() -> str:
    d = tempfile.mkdtemp(prefix="nlsh-bench-plan-")
    files = {"notes.txt": "a\nb\nc\n", "app.log": "ok\nERROR x\n" * 20, "names.txt": "bob\nann\nbob\n",
             "src/main.py": "# TODO\n", "src/util.py": "x = 1\n", "README.md": "# hi\n", "data.csv": "a,b\n1,2\n"}
    for rel, text in files.items():
        os.makedirs(os.path.dirname(os.path.join(d, rel)), exist_ok=True)
        with open(os.path.join(d, rel), "w") as f:
            f.write(text)
    return d


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model")
    ap.add_argument("--mode", choices=["grammar", "free"])
    ap.add_argument("--rounds", type=int, default=1, help="times through the request list")
    ap.add_argument("--config", action="append", default=[], metavar="NAME:KEY=VALUE,…",
                    help="planner settings to time (repeatable), as scripts/eval_nl.py takes them")
    args = ap.parse_args()
    from eval_nl import parse_config
    configs = [parse_config(c) for c in args.config] or [("default", {})]
    from nlsh.paths import scratch_home
    scratch_home("nlsh-bench-home-")
    from nlsh.planner.planner import Planner, PlanningError
    from nlsh.wiring import default_registry
    t0 = time.perf_counter()
    planner = Planner.create(default_registry(), model=args.model)
    planner.backend.wait()
    load = time.perf_counter() - t0
    cwd = sample_dir()
    summary = []
    for name, settings in configs:
        planner.configure(**({"mode": args.mode} if args.mode else {}), **settings)
        t1 = time.perf_counter()
        planner.warm()
        print(f"{name}: model {planner.spec.name} on {planner.backend.device}, {planner.mode} mode: "
              f"load {load:.2f} s, prompt prefix {time.perf_counter() - t1:.2f} s")
        lat = []
        for _ in range(args.rounds):
            for u in REQUESTS:
                try:
                    r = planner.plan(u, cwd)
                except PlanningError as e:
                    print(f"  FAILED {u!r}: {e.message}")
                    continue
                lat.append(r.timings["latency_s"])
                print(f"  {r.timings['latency_s']:5.2f}s  prompt {r.timings['prompt_tokens']:5d}  "
                      f"gen {r.timings['generated_tokens']:3d}  {u!r:52} {r.text}")
        s = sorted(lat)
        p95 = s[min(len(s) - 1, round(0.95 * (len(s) - 1)))]
        med = statistics.median(s)
        summary.append(f"{name}: planning latency, warm: median {med:.2f} s, p95 {p95:.2f} s over {len(s)} "
                       f"requests (budget p50 1.0 s: {'within' if med <= 1.0 else 'OVER'}; "
                       f"p95 2.5 s: {'within' if p95 <= 2.5 else 'OVER'})")
    shutil.rmtree(cwd, ignore_errors=True)
    print("\n".join(summary))
    llm = getattr(planner.backend, "llm", None)
    if llm is not None:
        read, write = raw_speed(llm)
        print(f"this machine, {planner.backend.n_threads} threads: reads a prompt at {read:.0f} tok/s, "
              f"writes {write:.1f} tok/s (the budget's machine: 165 and 32)")


def raw_speed(llm, prompt: int = 512, gen: int = 32) -> tuple[float, float]:
    """Tokens per second reading a prompt from an empty context, and writing one token at a time."""
    words = llm.tokenize(b" ".join(REQUESTS[i % len(REQUESTS)].encode() for i in range(200)), add_bos=False)
    llm.reset()
    t = time.perf_counter()
    llm.eval(words[:prompt])
    read = prompt / (time.perf_counter() - t)
    t = time.perf_counter()
    for tok in words[prompt:prompt + gen]:
        llm.eval([tok])
    return read, gen / (time.perf_counter() - t)


if __name__ == "__main__":
    main()
