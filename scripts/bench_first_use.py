#!/usr/bin/env python3
"""First use, as on a fresh install: an empty cache (a temporary NLSH_HOME), then
``nlsh plan "list the files here"`` timed from start to plan, through the model
service (the default) and in-process (NLSH_SERVE=0), each from its own empty
cache; then the same again with the cache now filled (the second shell of the day).
Prints each wall time; the stages are in the plan's timings.
Usage: python3 scripts/bench_first_use.py [--model NAME]   (a catalogue model: it is assembled)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time


def plan(home: str, serve: bool, model: str | None) -> tuple[float, dict]:
    env = {**os.environ, "NLSH_HOME": home}
    env.pop("NLSH_SERVE", None)
    if not serve:
        env["NLSH_SERVE"] = "0"
    cmd = [sys.executable, "-m", "nlsh", "plan", "--json", *(["--model", model] if model else []),
           "list the files here"]
    t0 = time.perf_counter()
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False, cwd=home)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        raise SystemExit(f"nlsh plan failed: {p.stderr.strip()}")
    return wall, json.loads(p.stdout)["timings"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model")
    args = ap.parse_args()
    for serve in (True, False):
        home = tempfile.mkdtemp(prefix="nlsh-first-use-")
        try:
            first, t1 = plan(home, serve, args.model)
            second, _ = plan(home, serve, args.model)
            how = "through the service" if serve else "in-process"
            print(f"{how}: first plan from an empty cache {first:.1f} s (load {t1.get('load_s', 0):.1f} s, "
                  f"prompt {t1.get('prefix_s', 0):.1f} s for {t1.get('prefix_eval_tokens', 0)} tokens); "
                  f"the next shell {second:.1f} s")
        finally:
            if serve:
                subprocess.run([sys.executable, "-m", "nlsh", "serve", "stop"], env={**os.environ, "NLSH_HOME": home},
                               capture_output=True, check=False)
                time.sleep(1)
            shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
