#!/usr/bin/env python3
"""Execution-based evaluation of nlsh's planner against a bash baseline.

For every task: materialise its fixture, ask nlsh for a plan (with the
fixture as the working directory), run the plan with ``nlsh --yes -c PLAN``
inside the shared scorer's sandbox, and score it. In the same run, the same
model is asked for one bash command (the approach of today's NL→shell tools),
run with bash in the same sandbox and scored the same way. Prints pass@1 for
both, per source and difficulty, and the planning latency (median, p95).

  python3 scripts/eval_nl.py --tasks ../shared/eval/tasks --split dev
  python3 scripts/eval_nl.py --tasks FILE.jsonl --fixtures DIR --model qwen2.5-coder-0.5b
  python3 scripts/eval_nl.py --tasks ../shared/eval/tasks --split dev \
      --config now: --config retrieved:idioms=retrieved,shots=2

Each --config NAME:KEY=VALUE,… is a planner configuration (settings of the
model's catalogue entry, models/catalog.toml, changed for this run): all of
them plan the same tasks in the same process, one after another, and the
report compares each with the first and with the baseline, listing the tasks
whose result differs.

The scorer (score.py) is looked up next to the tasks' folder (``TASKS/../score.py``)
unless --scorer names it; fixtures resolve as ``TASKS/../fixtures/NAME`` unless
--fixtures is given. The sandbox runs commands as an unprivileged user, who must
be able to read this Python and nlsh's install (the script checks, and says how).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time

BASELINE_SYSTEM = ("You translate a request into ONE bash command for GNU/Linux. The current directory is "
                   "the working directory; use relative paths. Reply with only the command, no explanation, "
                   "no markdown.")
BASELINE_SHOTS = [("show the files in the current directory, newest first", "ls -t"),
                  ("how many lines does notes.txt have", "wc -l < notes.txt"),
                  ("make a directory called archive", "mkdir archive")]


def load_scorer(tasks_path: str, scorer: str | None):
    base = tasks_path if os.path.isdir(tasks_path) else os.path.dirname(os.path.abspath(tasks_path))
    path = scorer or os.path.join(os.path.dirname(os.path.abspath(base)), "score.py")
    if not os.path.exists(path):
        sys.exit(f"eval_nl: no scorer at {path} (give --scorer PATH)")
    spec = importlib.util.spec_from_file_location("score", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def check_sandbox_can_run_nlsh(score, python: str) -> None:
    """Run ``import nlsh`` the way every plan runs, in the scorer's sandbox (a
    probe outside it passed where the sandbox could not read /root)."""
    probe_dir = tempfile.mkdtemp(prefix="nlsh-eval-probe-")
    os.chmod(probe_dir, 0o777)
    try:
        r = score.run_shell(probe_dir, f"{shlex.quote(python)} -c 'import nlsh'")
    finally:
        subprocess.run(["rm", "-rf", probe_dir], check=False)
    if r["rc"] != 0:
        sys.exit(f"eval_nl: the sandbox cannot run nlsh with {python}:\n  {r['stderr'].strip()[-300:]}\n"
                 "Make the interpreter and nlsh's install readable, e.g. `chmod o+x /root` for a pyenv "
                 "Python under /root, or install nlsh into a world-readable virtual environment.")


def baseline_command(llm, nl: str) -> tuple[str, float]:
    msgs = [{"role": "system", "content": BASELINE_SYSTEM}]
    for u, c in BASELINE_SHOTS:
        msgs += [{"role": "user", "content": u}, {"role": "assistant", "content": c}]
    msgs.append({"role": "user", "content": nl})
    t0 = time.perf_counter()
    out = llm.create_chat_completion(messages=msgs, temperature=0.0, max_tokens=128, seed=0)
    dt = time.perf_counter() - t0
    text = out["choices"][0]["message"]["content"].strip()
    if text.startswith("```"):
        text = "\n".join(line for line in text.split("\n") if not line.startswith("```"))
    lines = [line for line in text.strip().split("\n") if line.strip()]
    return (lines[0].strip() if lines else ""), dt


def parse_config(text: str) -> tuple[str, dict]:
    """``NAME:KEY=VALUE,…`` → (NAME, {KEY: VALUE}); numbers become numbers."""
    name, _, rest = text.partition(":")
    settings: dict = {}
    for item in filter(None, rest.split(",")):
        key, eq, value = item.partition("=")
        if not eq or not key:
            sys.exit(f"eval_nl: --config {text!r}: expected NAME:KEY=VALUE,…")
        for kind in (int, float):
            try:
                settings[key] = kind(value)
                break
            except ValueError:
                continue
        else:
            settings[key] = value
    if not name:
        sys.exit(f"eval_nl: --config {text!r} has no name")
    return name, settings


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))]


def plan_and_score(score, planner, shell, task: dict, code_root: str, python: str) -> tuple[bool, dict, str]:
    """Plan the task in a fresh copy of its fixture, run the plan with nlsh in the
    scorer's sandbox; (passed, a record, a line to print)."""
    from nlsh.planner.planner import PlanningError
    tid = task["id"]
    view = tempfile.mkdtemp(prefix="nlsh-eval-view-")
    r = None
    try:
        score.materialize(task, os.path.join(view, "w"))
        cwd = os.path.join(view, "w")
        try:
            shell.cwd = cwd
            r = planner.plan(task["nl"], cwd, check=shell.problems)
            plan_text, latency = r.text, r.timings["latency_s"]
            cmd = (f"NLSH_HOME=/tmp/nlsh-home PYTHONPATH={shlex.quote(code_root)} {shlex.quote(python)} "
                   f"-m nlsh --yes -c {shlex.quote(plan_text)}")
            result = score.run_task(task, cmd)
        except PlanningError as e:
            plan_text, latency = f"<no plan: {e.message}> {e.raw}", None
            result = {"id": tid, "error": f"no plan: {e.message}"}
    finally:
        subprocess.run(["rm", "-rf", view], check=False)
    ok, why = score.score(task, result)
    rec = {"id": tid, "plan": plan_text, "pass": ok, "why": why, "problems": r.problems if r else [],
           "stdout": result.get("stdout", "")[:2000], "stderr": result.get("stderr", "")[:500], "latency": latency}
    return ok, rec, f"{'PASS' if ok else 'fail'} {latency or 0:.2f}s  {plan_text}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tasks", required=True, help="a task .jsonl file or a folder of them")
    ap.add_argument("--split", help="only tasks of this split (dev/test), from the scorer's split.json")
    ap.add_argument("--fixtures", help="folder of fixture tarballs (default: TASKS/../fixtures)")
    ap.add_argument("--scorer", help="path of score.py (default: TASKS/../score.py)")
    ap.add_argument("--model", help="model name or GGUF path (default: nlsh's default model)")
    ap.add_argument("--mode", choices=["grammar", "free"], help="override the model's planning mode")
    ap.add_argument("--config", action="append", default=[], metavar="NAME:KEY=VALUE,…",
                    help="a planner configuration to compare (repeatable; the first is the reference)")
    ap.add_argument("--limit", type=int, help="at most N tasks")
    ap.add_argument("--ids", help="comma-separated task ids")
    ap.add_argument("--no-baseline", action="store_true", help="skip the bash baseline")
    ap.add_argument("--out", help="folder for per-task results (JSON lines)")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every task")
    args = ap.parse_args()

    score = load_scorer(args.tasks, args.scorer)
    base = args.tasks if os.path.isdir(args.tasks) else os.path.dirname(os.path.abspath(args.tasks))
    score.FIXTURE_DIR = args.fixtures or os.path.join(os.path.dirname(os.path.abspath(base)), "fixtures")
    tasks = score.load_tasks(args.tasks)
    split = score.load_split()
    if args.split:
        tasks = {k: v for k, v in tasks.items() if split.get(k) == args.split}
    if args.ids:
        wanted = set(args.ids.split(","))
        tasks = {k: v for k, v in tasks.items() if k in wanted}
    if args.limit:
        tasks = dict(list(tasks.items())[:args.limit])
    if not tasks:
        sys.exit("eval_nl: no tasks selected")

    python = sys.executable
    check_sandbox_can_run_nlsh(score, python)
    from nlsh.paths import scratch_home
    scratch_home("nlsh-eval-home-")

    import nlsh
    from nlsh.planner.planner import Planner
    # Plans run with the very code that planned them (PYTHONPATH), not whatever is installed.
    code_root = os.path.dirname(os.path.dirname(os.path.abspath(nlsh.__file__)))
    from nlsh.session import Shell
    from nlsh.wiring import default_registry
    registry = default_registry()
    planner = Planner.create(registry, model=args.model)
    shell = Shell(registry)         # for the planner's check of a plan against the fixture
    configs = [parse_config(c) for c in args.config] or [("nlsh", {})]
    if args.mode:
        configs = [(name, {"mode": args.mode, **settings}) for name, settings in configs]
    names = [name for name, _ in configs]
    if len(set(names)) != len(names):
        sys.exit("eval_nl: two --config share a name")
    t0 = time.perf_counter()
    planner.warm()
    print(f"model {planner.spec.name} loaded and warmed in {time.perf_counter() - t0:.1f} s; "
          f"{len(tasks)} tasks; configurations: {', '.join(names)}", flush=True)

    outcomes: dict[str, dict] = {name: {} for name in names + ["baseline"]}
    latencies: dict[str, list[float]] = {name: [] for name in names + ["baseline"]}
    records: dict[str, list[dict]] = {name: [] for name in names + ["baseline"]}
    for n, (name, settings) in enumerate(configs):
        planner.configure(**settings)
        planner.warm()
        print(f"== {name}: {planner.mode} mode, shots {planner.shots}, floor {planner.shot_floor}, "
              f"idioms {planner.idioms} {settings or ''}", flush=True)
        baseline = n == 0 and not args.no_baseline
        for i, (tid, task) in enumerate(tasks.items(), 1):
            ok, rec, line = plan_and_score(score, planner, shell, task, code_root, python)
            outcomes[name][tid] = (ok, rec["why"])
            records[name].append(rec)
            if rec["latency"] is not None:
                latencies[name].append(rec["latency"])
            line = f"[{i}/{len(tasks)}] {tid} {name} {line}"
            if baseline:
                bash, dt = baseline_command(planner.backend.llm, task["nl"])
                latencies["baseline"].append(dt)
                bres = score.run_task(task, bash) if bash else {"id": tid, "error": "empty answer"}
                bok, bwhy = score.score(task, bres)
                outcomes["baseline"][tid] = (bok, bwhy)
                records["baseline"].append({"id": tid, "command": bash, "pass": bok, "why": bwhy})
                line += f"\n    bash {'PASS' if bok else 'fail'} {dt:.2f}s  {bash}"
            if args.verbose:
                print(line + (f"\n    why: {rec['why']}" if not ok else ""), flush=True)

    for name in names + ["baseline"]:
        if not outcomes[name]:
            continue
        rep = score.report(tasks, outcomes[name], split or None)
        print(f"\n== {name} ==")
        print(score.render_report(rep))
        lat = latencies[name]
        if lat:
            print(f"planning latency: median {statistics.median(lat):.2f} s, p95 {pct(lat, 0.95):.2f} s "
                  f"(n={len(lat)})")
    groups = {"": list(tasks)}
    for tid in tasks:
        if split.get(tid):
            groups.setdefault(f" ({split[tid]} split)", []).append(tid)

    def rate(name: str, ids: list[str]) -> float:
        return sum(outcomes[name].get(t, (False,))[0] for t in ids) / len(ids)

    print()
    for other in names[1:] + (["baseline"] if outcomes["baseline"] else []):
        for name in names if other == "baseline" else [names[0]]:
            for label, ids in groups.items():
                a, b = rate(name, ids), rate(other, ids)
                print(f"{name} {a:.3f} vs {other} {b:.3f}: {100 * (a - b):+.1f} points{label}")
    for other in names[1:]:
        won = [t for t in tasks if outcomes[other][t][0] and not outcomes[names[0]][t][0]]
        lost = [t for t in tasks if outcomes[names[0]][t][0] and not outcomes[other][t][0]]
        print(f"{other} vs {names[0]}: passes {len(won)} more ({', '.join(won) or '-'}), "
              f"fails {len(lost)} more ({', '.join(lost) or '-'})")
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        for name, rows in records.items():
            with open(os.path.join(args.out, f"{name}.jsonl"), "w") as f:
                f.writelines(json.dumps(row) + "\n" for row in rows)


if __name__ == "__main__":
    main()
