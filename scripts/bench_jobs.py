#!/usr/bin/env python3
"""Job-layer benchmark. Prints:

- overhead of a trivial built-in job (``true``), start to done, median of N (budget 1 ms);
- time to start 200 concurrent background ``sleep`` jobs;
- the sampler thread's CPU cost with 50 live jobs (budget < 1% of one core).

Usage: python3 scripts/bench_jobs.py [-n 1000] [--seconds 10]
"""

from __future__ import annotations

import argparse
import atexit
import io
import os
import shutil
import statistics
import tempfile
import time

import psutil


def shell_in(tmp: str):
    from nlsh.session import Shell
    shell = Shell(out=io.StringIO(), err=io.StringIO())
    shell.cwd = tmp
    return shell


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("-n", type=int, default=1000)
    ap.add_argument("--seconds", type=float, default=10.0, help="how long to measure the sampler")
    args = ap.parse_args()
    scratch = tempfile.mkdtemp(prefix="nlsh-bench-jobs-")
    atexit.register(shutil.rmtree, scratch, True)
    os.environ["NLSH_HOME"] = os.path.join(scratch, "home")
    tmp = os.path.join(scratch, "work")
    os.mkdir(tmp)

    shell = shell_in(tmp)
    for _ in range(50):
        shell.run_line("true")
    samples = []
    for _ in range(args.n):
        t0 = time.perf_counter()
        shell.run_line("true")
        samples.append(time.perf_counter() - t0)
    med = statistics.median(samples) * 1000
    p95 = sorted(samples)[int(0.95 * len(samples))] * 1000
    print(f"trivial built-in job (true): median {med:.3f} ms, p95 {p95:.3f} ms over {args.n} jobs "
          f"(budget 1 ms: {'within' if med <= 1 else 'OVER'})")
    shell.shutdown()

    shell = shell_in(tmp)
    t0 = time.perf_counter()
    for _ in range(200):
        shell.run_line("sleep 60 &")
    started = time.perf_counter() - t0
    running = sum(1 for j in shell.jobs.live() if j.state == "running")
    print(f"200 background sleep jobs: started in {started * 1000:.1f} ms "
          f"({started / 200 * 1000:.2f} ms each), {running} running")
    shell.shutdown()

    shell = shell_in(tmp)
    for i in range(50):
        shell.run_line("sleep 120 &" if i % 2 else "/bin/sleep 120 &")
    time.sleep(1.5)
    sampler = shell.jobs.sampler._thread
    me = psutil.Process()

    def sampler_cpu() -> float:
        for t in me.threads():
            if t.id == sampler.native_id:
                return t.user_time + t.system_time
        return 0.0

    c0, t0 = sampler_cpu(), time.perf_counter()
    time.sleep(args.seconds)
    used, wall = sampler_cpu() - c0, time.perf_counter() - t0
    pct = 100 * used / wall
    print(f"sampler with 50 live jobs (25 built-in, 25 processes), interval "
          f"{shell.jobs.sampler.interval:g}s: {used * 1000:.1f} ms CPU in {wall:.1f} s = {pct:.2f}% of one core "
          f"(budget 1%: {'within' if pct < 1 else 'OVER'})")
    shell.shutdown()


if __name__ == "__main__":
    main()
