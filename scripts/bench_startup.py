#!/usr/bin/env python3
"""Start-up benchmark. Prints the median (and min/max) of N runs of:

- ``nlsh -c 'echo hi'`` start to exit (budget 150 ms on a 2-core machine);
- the same with ten plugins installed (drop-in plugins, each with a command);
- REPL time to prompt (budget 300 ms);
- a locked 10-step NL script, start to exit (it must not load the model).

Usage: python3 scripts/bench_startup.py [-n 15]
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


def time_cmd(cmd: list[str], env: dict, cwd: str | None = None) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - t0


def time_to_first_output(cmd: list[str], env: dict) -> float:
    """Start until the first line of output: when a script's first step has run."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    p.stdout.readline()
    dt = time.perf_counter() - t0
    p.communicate()
    return dt


PLUGIN = """
from nlsh.hookspecs import hookimpl
from nlsh.registry import command


@command("bench-{n}", "A command of benchmark plugin {n}.", output="text")
def run(ctx, a):
    yield "plugin {n}"


@hookimpl
def register_commands(register):
    register(run)
"""


def with_plugins(home: str, count: int = 10) -> None:
    d = os.path.join(home, "config", "plugins")
    os.makedirs(d, exist_ok=True)
    for n in range(count):
        with open(os.path.join(d, f"bench{n}.py"), "w") as f:
            f.write(PLUGIN.replace("{n}", str(n)))


def locked_script(folder: str, steps: int = 10) -> str:
    from nlsh.scripts import Step
    path = os.path.join(folder, "locked.nls")
    lines = [f"say step number {i}" for i in range(steps)]
    with open(path, "w") as f:
        f.write("# nls 1\n" + "\n".join(lines) + "\n")
    with open(path + ".lock", "w") as f:
        f.writelines(f"[line {i + 2}] sha={Step(i + 2, line).key} model=bench\nnl: {line}\nplan: echo step {i}\n\n" for i, line in enumerate(lines))
    return path


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
    # pip compiles an installed package to bytecode; an editable checkout (or
    # PYTHONDONTWRITEBYTECODE) would otherwise compile every module on every start.
    import nlsh
    subprocess.run([sys.executable, "-m", "compileall", "-q", os.path.dirname(nlsh.__file__)], check=False)
    home = tempfile.mkdtemp(prefix="nlsh-bench-")
    env = dict(os.environ, NLSH_HOME=home, PROMPT_TOOLKIT_NO_CPR="1", TERM="xterm")
    time_dash_c(cmd, env)  # warm the page cache
    print(f"command: {' '.join(cmd)}")
    report("nlsh -c 'echo hi'", [time_dash_c(cmd, env) for _ in range(args.n)], 150)
    report("REPL time to prompt", [time_to_prompt(cmd, env) for _ in range(args.n)], 300)
    script = locked_script(home)
    no_model = dict(env, NLSH_MODEL="/nonexistent/model.gguf")
    time_cmd(cmd + ["run", script, "--locked"], no_model)
    report("locked 10-step script: 1st step", [time_to_first_output(cmd + ["run", script, "--locked"], no_model)
                                               for _ in range(args.n)], 150)
    report("locked 10-step script: all", [time_cmd(cmd + ["run", script, "--locked"], no_model)
                                          for _ in range(args.n)], 300)
    with_plugins(home)
    time_cmd(cmd + ["-c", "bench-3"], env)   # first run builds the plugin manifest
    report("echo hi, 10 plugins", [time_dash_c(cmd, env) for _ in range(args.n)], 150)
    shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
