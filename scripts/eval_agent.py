#!/usr/bin/env python3
"""The agent against the one-shot planner, on tasks that need a look first.

Every task (scripts/agent_eval/tasks.jsonl: this project's own, over
fixtures its setup lines build, in the format of ../shared/eval/) runs twice
in the shared scorer's sandbox, in fresh copies:

  agent     ``nlsh agent --yes -v TASK`` (the model from the user's model daemon,
            which this script starts for the sandbox's user)
  one-shot  the planner's one line for TASK, run with ``nlsh --yes -c PLAN``

and is judged by the files it leaves and what it prints (the task's ``check``).
Prints the pass rate of each, per split (dev: what the agent's prompt was
tuned on; test: only reported), the agent's steps (median, max), model tokens
and wall time per task.

  python3 scripts/eval_agent.py --scorer ../shared/eval/score.py [--split dev] [--ids agent-01,…] [-v]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from eval_nl import check_sandbox_can_run_nlsh, load_scorer, pct, plan_and_score

HERE = os.path.dirname(os.path.abspath(__file__))
TASKS = os.path.join(HERE, "agent_eval", "tasks.jsonl")
AGENT_TIMEOUT = 240         # seconds for one agent task in the sandbox (its own budget is 180 s)


def start_daemon(python: str, code_root: str, runtime: str) -> subprocess.Popen:
    """The model daemon, run as the sandbox's user (nobody when this runs as root)
    with its socket in ``runtime``, which the sandbox sees read-only."""
    drop = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"] if os.geteuid() == 0 else []
    if drop:
        os.chown(runtime, 65534, 65534)
    os.chmod(runtime, 0o700)
    env = {**os.environ, "PYTHONPATH": code_root, "XDG_RUNTIME_DIR": runtime,
           "XDG_DATA_HOME": os.path.join(runtime, "data"), "XDG_CONFIG_HOME": os.path.join(runtime, "config"),
           "XDG_CACHE_HOME": os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")}
    env.pop("NLSH_HOME", None)
    proc = subprocess.Popen([*drop, python, "-m", "nlsh", "serve"], env=env, stdout=subprocess.DEVNULL,
                            stderr=open(os.path.join(runtime, "serve.log"), "w"))  # noqa: SIM115
    sock = os.path.join(runtime, "nlsh", "model.sock")
    deadline = time.time() + 120
    while not os.path.exists(sock):
        if proc.poll() is not None or time.time() > deadline:
            with open(os.path.join(runtime, "serve.log")) as f:
                sys.exit(f"eval_agent: the model daemon did not start:\n{f.read()[-800:]}")
        time.sleep(0.2)
    return proc


def agent_command(python: str, code_root: str, runtime: str, task: str) -> str:
    env = (f"XDG_RUNTIME_DIR={shlex.quote(runtime)} XDG_DATA_HOME=/tmp/nlsh-data XDG_CONFIG_HOME=/tmp/nlsh-config "
           f"XDG_CACHE_HOME=/tmp/nlsh-cache PYTHONPATH={shlex.quote(code_root)}")
    return f"{env} {shlex.quote(python)} -m nlsh agent --yes -v {shlex.quote(task)}"


USED = re.compile(r"agent: #\d+ (\w+) · (\d+) steps · (\d+) model tokens")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tasks", default=TASKS, help="the task file (default: scripts/agent_eval/tasks.jsonl)")
    ap.add_argument("--scorer", default=os.path.join(HERE, "..", "..", "shared", "eval", "score.py"),
                    help="path of the shared score.py")
    ap.add_argument("--split", choices=["dev", "test"], help="only the tasks of this split")
    ap.add_argument("--ids", help="comma-separated task ids")
    ap.add_argument("--no-baseline", action="store_true", help="skip the one-shot planner")
    ap.add_argument("--out", help="a file for per-task results (JSON lines)")
    ap.add_argument("-v", "--verbose", action="store_true", help="print each agent's steps")
    args = ap.parse_args()

    score = load_scorer(args.tasks, args.scorer)
    with open(args.tasks, encoding="utf-8") as f:
        tasks = {t["id"]: t for t in map(json.loads, filter(str.strip, f))}
    if args.split:
        tasks = {k: t for k, t in tasks.items() if t["split"] == args.split}
    if args.ids:
        tasks = {k: t for k, t in tasks.items() if k in args.ids.split(",")}
    if not tasks:
        sys.exit("eval_agent: no tasks selected")
    python = sys.executable
    check_sandbox_can_run_nlsh(score, python)
    import nlsh
    code_root = os.path.dirname(os.path.dirname(os.path.abspath(nlsh.__file__)))
    runtime = tempfile.mkdtemp(prefix="nlsh-agent-eval-", dir="/var/tmp")   # outside the sandbox's private /tmp
    daemon = start_daemon(python, code_root, runtime)
    from nlsh.paths import scratch_home
    scratch_home("nlsh-agent-eval-home-")
    planner = shell = None
    if not args.no_baseline:
        from nlsh.planner.planner import Planner
        from nlsh.session import Shell
        from nlsh.wiring import default_registry
        registry = default_registry()
        planner = Planner.create(registry, backend="llama")
        shell = Shell(registry)
        planner.warm()
    rows, t_start = [], time.time()
    try:
        for i, (tid, task) in enumerate(tasks.items(), 1):
            t0 = time.time()
            res = score.run_task(task, agent_command(python, code_root, runtime, task["nl"]), timeout=AGENT_TIMEOUT)
            wall = time.time() - t0
            ok, why = score.score(task, res)
            used = USED.search(res.get("stderr", ""))
            row = {"id": tid, "split": task["split"], "agent": ok, "why": why, "wall_s": round(wall, 2),
                   "status": used.group(1) if used else "?", "steps": int(used.group(2)) if used else None,
                   "tokens": int(used.group(3)) if used else None, "stderr": res.get("stderr", "")[-3000:],
                   "stdout": res.get("stdout", "")[-2000:]}
            if planner is not None:
                bok, brec, _ = plan_and_score(score, planner, shell, task, code_root, python)
                row.update(one_shot=bok, plan=brec["plan"], one_shot_why=brec["why"])
            rows.append(row)
            print(f"[{i}/{len(tasks)}] {tid} ({task['split']}) agent {'PASS' if ok else 'fail'} "
                  f"{row['status']} {row['steps']} steps {wall:.1f}s"
                  + (f" · one-shot {'PASS' if row['one_shot'] else 'fail'}: {row['plan']}" if planner else ""),
                  flush=True)
            if args.verbose:
                steps = [x for x in res.get("stderr", "").split("\n") if x.startswith("agent")]
                print("    " + "\n    ".join(steps) + (f"\n    why: {why}" if not ok else ""), flush=True)
    finally:
        daemon.terminate()
        daemon.wait(timeout=30)
        shutil.rmtree(runtime, ignore_errors=True)

    print(f"\n{len(rows)} tasks in {time.time() - t_start:.0f} s")
    for label, part in [("all", rows)] + [(s, [r for r in rows if r["split"] == s]) for s in ("dev", "test")]:
        if not part:
            continue
        a = sum(r["agent"] for r in part) / len(part)
        line = f"{label:>4}: agent {sum(r['agent'] for r in part)}/{len(part)} = {a:.3f}"
        if planner is not None:
            b = sum(r["one_shot"] for r in part) / len(part)
            line += f"   one-shot {sum(r['one_shot'] for r in part)}/{len(part)} = {b:.3f}   {100 * (a - b):+.1f} points"
        print(line)
    steps = [r["steps"] for r in rows if r["steps"] is not None]
    tokens = [r["tokens"] for r in rows if r["tokens"] is not None]
    walls = [r["wall_s"] for r in rows]
    if steps:
        print(f"agent steps: median {statistics.median(steps):g}, max {max(steps)}; model tokens per task: "
              f"median {statistics.median(tokens):g}, max {max(tokens)}")
    print(f"agent wall time per task: median {statistics.median(walls):.1f} s, p95 {pct(walls, 0.95):.1f} s")
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            f.writelines(json.dumps(r) + "\n" for r in rows)


if __name__ == "__main__":
    main()
