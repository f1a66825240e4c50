"""What a line will need, from the records of earlier runs of its shape.

For each measure (wall time, CPU time, peak memory) the runs of the same shape
are fitted as ``value = a * size ** b`` in log space when their input sizes
differ enough to tell ``b``; otherwise the median of the recent runs, scaled
to this input's size by a prior exponent (time grows with the input; memory
grows more slowly). The spread of the runs about the fit gives the range.
"""

from __future__ import annotations

import math
import statistics
import threading
from collections.abc import Callable
from dataclasses import dataclass

RECENT = 30                 # runs of a shape that are used (the newest)
MIN_SPREAD = 1.5            # sizes must span this ratio before the exponent is fitted
PRIOR = {"wall": 1.0, "cpu": 1.0, "mem": 0.5}
LONG_S = 60.0               # a typed line expected to run this long is told (and offered the background)
LARGE_BYTES = 1_000_000_000


@dataclass(frozen=True)
class Run:
    """One finished run of a shape: what it took, on how many input bytes, where."""
    wall: float
    cpu: float
    mem: int
    size: int = 0
    cwd: str = ""


@dataclass(frozen=True)
class Estimate:
    wall: tuple[float, float, float]     # low, likely, high (seconds)
    cpu: float                           # CPU seconds, likely
    mem: int                             # peak bytes of its programs, likely
    runs: int

    @property
    def cores(self) -> float:
        """CPU cores it keeps busy while it runs (at least a tenth of one)."""
        return max(0.1, self.cpu / self.wall[1]) if self.wall[1] > 0 else 1.0

    @property
    def long(self) -> bool:
        """Long enough to offer the background to."""
        return self.wall[1] >= LONG_S

    @property
    def notable(self) -> bool:
        """Long or large enough to mention before a typed line runs."""
        return self.long or self.mem >= LARGE_BYTES

    def summary(self) -> str:
        """``usually 3–4 min, 1.2 GB, from 6 runs``."""
        parts = [f"usually {span(self.wall[0], self.wall[2])}"]
        if self.mem:
            from nlsh.lang.values import Size
            parts.append(Size(self.mem).human())
        parts.append(f"from {self.runs} run{'s' if self.runs != 1 else ''}")
        return ", ".join(parts)


def span(low: float, high: float) -> str:
    """A range of seconds as people say it: ``2–3 s``, ``3–4 min``, ``about 1 h``."""
    if high < 1:
        return "under a second"
    for unit, size in (("h", 3600), ("min", 60), ("s", 1)):
        if high >= size * 1.5 or unit == "s":
            digits = 0 if high / size >= 3 or unit == "s" and high >= 1 else 1
            lo, hi = (f"{v / size:.{digits}f}".removesuffix(".0") for v in (low, high))
            return f"about {hi} {unit}" if lo == hi else f"{lo}–{hi} {unit}"
    return "under a second"


def fitted(points: list[tuple[int, float]], size: int, prior: float) -> tuple[float, float, float]:
    """(low, likely, high) of a measure at ``size`` from (size, value) points, oldest first."""
    points = points[-RECENT:]
    sized = [(s, v) for s, v in points if s > 0 and v > 0]
    if size > 0 and len(sized) >= 3 and max(s for s, _ in sized) >= MIN_SPREAD * min(s for s, _ in sized):
        xs = [math.log(s) for s, _ in sized]
        ys = [math.log(v) for _, v in sized]
        mx, my = statistics.fmean(xs), statistics.fmean(ys)
        sxx = sum((x - mx) ** 2 for x in xs)
        b = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx if sxx else prior
        b = min(1.5, max(0.0, b))
        residuals = sorted(y - (my + b * (x - mx)) for x, y in zip(xs, ys))
        at = my + b * (math.log(size) - mx)
        return (math.exp(at + _quantile(residuals, 0.25)), math.exp(at + statistics.median(residuals)),
                math.exp(at + _quantile(residuals, 0.75)))
    recent = points[-5:]
    values = sorted(v for _, v in recent)
    scale = 1.0
    sizes = [s for s, _ in recent if s > 0]
    if size > 0 and sizes:
        scale = (size / statistics.median(sizes)) ** prior
    return (_quantile(values, 0.25) * scale, statistics.median(values) * scale, _quantile(values, 0.75) * scale)


def _quantile(sorted_values: list[float], q: float) -> float:
    if len(sorted_values) == 1:
        return sorted_values[0]
    at = q * (len(sorted_values) - 1)
    i = int(at)
    j = min(i + 1, len(sorted_values) - 1)
    return sorted_values[i] + (sorted_values[j] - sorted_values[i]) * (at - i)


def estimate(runs: list[Run], size: int) -> Estimate | None:
    """What the next run on ``size`` input bytes will take, from ``runs`` (oldest first)."""
    if not runs:
        return None
    wall = fitted([(r.size, r.wall) for r in runs], size, PRIOR["wall"])
    cpu = fitted([(r.size, r.cpu) for r in runs], size, PRIOR["cpu"])[1]
    mem = fitted([(r.size, float(r.mem)) for r in runs], size, PRIOR["mem"])[1]
    return Estimate(wall, cpu, int(mem), len(runs))


class Predictor:
    """Runs by shape, each shape read from the records the first time it is asked
    about (one indexed query) and kept up to date as jobs end."""

    def __init__(self, load: Callable[[str], list[Run]]) -> None:
        self._load = load
        self._runs: dict[str, list[Run]] = {}
        self._lock = threading.Lock()

    def _of(self, shape: str) -> list[Run]:
        with self._lock:
            if shape not in self._runs:
                self._runs[shape] = self._load(shape)
            return self._runs[shape]

    def learn(self, shape: str, run: Run) -> None:
        """A finished run, kept for a shape already read (another is read with it from the records)."""
        with self._lock:
            runs = self._runs.get(shape)
            if runs is not None:
                runs.append(run)
                del runs[:-RECENT * 4]

    def estimate(self, shape: str, size: int, cwd: str = "") -> Estimate | None:
        """The estimate for a line of ``shape`` on ``size`` bytes in ``cwd`` (the runs
        in the same directory when there are at least two: ``make`` differs by project)."""
        runs = list(self._of(shape))
        here = [r for r in runs if r.cwd == cwd]
        return estimate(here if len(here) >= 2 else runs, size)


def from_store(store) -> Callable[[str], list[Run]]:
    """A reader of the store's finished runs of a shape, oldest first."""
    def load(shape: str) -> list[Run]:
        rows = store.read("SELECT cwd, started, ended, cpu_user, cpu_system, peak_rss, input_bytes FROM jobs "
                          "WHERE shape = ? AND state = 'done' AND started > 0 ORDER BY id DESC LIMIT ?",
                          (shape, RECENT * 4))
        return [Run(max(0.0, r["ended"] - r["started"]), (r["cpu_user"] or 0) + (r["cpu_system"] or 0),
                    r["peak_rss"] or 0, r["input_bytes"] or 0, r["cwd"] or "") for r in reversed(rows)]
    return load
