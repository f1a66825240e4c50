"""How well nlsh predicts a job's time and memory from its history, against "last run".

Generates a realistic history (sorts, compressions, builds, encodes, training
runs: each with its own law of time and memory over input size, run-to-run
noise and occasional slow runs), replays it in order, and at each run compares
the estimate made from the runs before it (nlsh.resources.predict) with the
naive prediction "same as the last run of this shape" (and, for time, the last
run scaled linearly to this input's size). Prints the median absolute
percentage error (MdAPE) for wall time and peak memory.

    python scripts/bench_predict.py [--runs 40] [--seed 1]
"""

from __future__ import annotations

import argparse
import random
import statistics

from nlsh.resources.predict import Run, estimate

MB = 1_000_000
# shape: (seconds at 1 GB, time exponent, memory at 1 GB, memory exponent, sizes?)
SHAPES = {
    "sort -n <path>": (95.0, 1.1, 1.1e9, 1.0, True),
    "gzip -k <path>": (30.0, 1.0, 3 * MB, 0.0, True),
    "xz -9 -T1 <path>": (400.0, 1.0, 670 * MB, 0.0, True),
    "tar czf <path> <path>": (35.0, 1.0, 6 * MB, 0.0, True),
    "ffmpeg -i <path> -c:v libx264 <path>": (260.0, 1.0, 320 * MB, 0.1, True),
    "grep -c ERROR <path>": (1.8, 1.0, 4 * MB, 0.0, True),
    "make -j2": (140.0, 0.0, 900 * MB, 0.0, False),
    "python3 train.py": (610.0, 0.0, 2.1e9, 0.0, False),
}


def history(runs_per_shape: int, rng: random.Random) -> list[tuple[str, Run]]:
    out = []
    for shape, (t1, bt, m1, bm, sized) in SHAPES.items():
        for _ in range(runs_per_shape):
            size = int(10 ** rng.uniform(6, 9.6)) if sized else 0     # 1 MB to 4 GB, log-uniform
            g = size / 1e9 if sized else 1.0
            wall = t1 * g ** bt * rng.lognormvariate(0, 0.15)
            if rng.random() < 0.05:
                wall *= 2.5                       # a slow run: a cold cache, a busy machine
            if shape == "make -j2" and rng.random() < 0.6:
                wall *= 0.12                      # an incremental build
            mem = m1 * g ** bm * rng.lognormvariate(0, 0.08)
            out.append((shape, Run(wall, wall * 0.9, int(mem), size)))
    rng.shuffle(out)
    return out


def ape(predicted: float, actual: float) -> float:
    return abs(predicted - actual) / actual * 100


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=40, help="runs of each shape (default 40)")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    seen: dict[str, list[Run]] = {}
    errors: dict[str, dict[str, list[float]]] = {}
    for shape, run in history(args.runs, random.Random(args.seed)):
        before = seen.setdefault(shape, [])
        if before:
            est, last = estimate(before, run.size), before[-1]
            e = errors.setdefault(shape, {"time": [], "time_last": [], "time_scaled": [], "mem": [], "mem_last": []})
            scaled = last.wall * run.size / last.size if run.size and last.size else last.wall
            e["time_scaled"].append(ape(scaled, run.wall))
            e["time"].append(ape(est.wall[1], run.wall))
            e["time_last"].append(ape(last.wall, run.wall))
            e["mem"].append(ape(est.mem, run.mem))
            e["mem_last"].append(ape(last.mem, run.mem))
        before.append(run)
    keys = ("time", "time_last", "time_scaled", "mem", "mem_last")
    print(f"{'MdAPE %':40} {'time: nlsh':>11} {'last run':>9} {'last×size':>10} {'mem: nlsh':>10} {'last run':>9}")

    def row(name: str, e: dict) -> str:
        return f"{name:40} " + " ".join(f"{statistics.median(e[k]):{w}.1f}" for k, w in zip(keys, (11, 9, 10, 10, 9)))
    for shape, e in errors.items():
        print(row(shape, e))
    every = {k: [x for e in errors.values() for x in e[k]] for k in keys}
    print(row(f"all ({len(every['time'])} predictions)", every))


if __name__ == "__main__":
    main()
