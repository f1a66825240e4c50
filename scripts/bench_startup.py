#!/usr/bin/env python3
"""Start-up benchmark: ``nlsh -c 'echo hi'`` start-to-exit and REPL time-to-prompt.

Prints the median (and min/max) of N runs of each. Budget on a 2-core
machine: 150 ms and 300 ms. Usage: python3 scripts/bench_startup.py [-n 15]
"""

from __future__ import annotations

import argparse
import os
import pty
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import time


def nlsh_command() -> list[str]:
    exe = shutil.which("nlsh")
    # pyenv-style shims add a shell script's start-up; use the real entry point.
    real = os.path.join(os.path.dirname(sys.executable), "nlsh")
    if os.path.exists(real):
        exe = real
    return [exe] if exe else [sys.executable, "-m", "nlsh"]


def time_dash_c(cmd: list[str], env: dict) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd + ["-c", "echo hi"], env=env, stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - t0


def time_to_prompt(cmd: list[str], env: dict) -> float:
    pid, fd = pty.fork()
    if pid == 0:
        os.execvpe(cmd[0], cmd, env)
    t0 = time.perf_counter()
    buf = b""
    try:
        while "❯".encode() not in buf:
            r, _, _ = select.select([fd], [], [], 10)
            if not r:
                raise RuntimeError("no prompt within 10 s")
            buf += os.read(fd, 4096)
        return time.perf_counter() - t0
    finally:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        os.close(fd)


def report(name: str, samples: list[float], budget_ms: float) -> None:
    ms = [s * 1000 for s in samples]
    med = statistics.median(ms)
    verdict = "within" if med <= budget_ms else "OVER"
    print(f"{name:<28} median {med:6.1f} ms  min {min(ms):6.1f}  max {max(ms):6.1f}  "
          f"(n={len(ms)}, budget {budget_ms:.0f} ms: {verdict})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("-n", type=int, default=15, help="runs of each measurement (default 15)")
    args = ap.parse_args()
    cmd = nlsh_command()
    home = tempfile.mkdtemp(prefix="nlsh-bench-")
    env = dict(os.environ, NLSH_HOME=home, PROMPT_TOOLKIT_NO_CPR="1", TERM="xterm")
    time_dash_c(cmd, env)  # warm the page cache
    print(f"command: {' '.join(cmd)}")
    report("nlsh -c 'echo hi'", [time_dash_c(cmd, env) for _ in range(args.n)], 150)
    report("REPL time to prompt", [time_to_prompt(cmd, env) for _ in range(args.n)], 300)
    shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
