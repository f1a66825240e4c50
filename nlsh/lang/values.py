"""Typed literal values of the command language: sizes and durations.

Each type parses the spelling people use (``1MB``, ``10k``, ``7d``) and
prints one canonical spelling, so ``parse(str(v)) == v`` always holds.
"""

from __future__ import annotations

import re

_SIZE_UNITS = {
    "": 1, "b": 1,
    "k": 1024, "kb": 1000, "kib": 1024,
    "m": 1024**2, "mb": 1000**2, "mib": 1024**2,
    "g": 1024**3, "gb": 1000**3, "gib": 1024**3,
    "t": 1024**4, "tb": 1000**4, "tib": 1024**4,
}
_SIZE_RE = re.compile(r"^(\d+(?:\.\d+)?)\s*([a-zA-Z]*)$")
_CANONICAL_SIZE = (("TB", 1000**4), ("TiB", 1024**4), ("GB", 1000**3), ("GiB", 1024**3),
                   ("MB", 1000**2), ("MiB", 1024**2), ("kB", 1000), ("KiB", 1024))


class Size(int):
    """A number of bytes. ``str()`` is canonical; ``human()`` is for display."""

    @classmethod
    def parse(cls, text: str) -> Size:
        m = _SIZE_RE.match(text.strip())
        unit = m.group(2).lower() if m else None
        if m is None or unit not in _SIZE_UNITS:
            raise ValueError(f"not a size: {text!r} (try 512, 10kB, 1MB, 2GiB)")
        return cls(round(float(m.group(1)) * _SIZE_UNITS[unit]))

    def __str__(self) -> str:
        n = int(self)
        for suffix, factor in _CANONICAL_SIZE:
            if n and n % factor == 0:
                return f"{n // factor}{suffix}"
        return f"{n}B"

    __repr__ = __str__

    def human(self) -> str:
        n = float(self)
        for unit in ("B", "kB", "MB", "GB", "TB"):
            if abs(n) < 1000 or unit == "TB":
                return f"{int(n)} {unit}" if unit == "B" else f"{n:.1f} {unit}"
            n /= 1000
        raise AssertionError("unreachable")


_DURATION_UNITS = {"ms": 0.001, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600,
                   "d": 86400, "day": 86400, "days": 86400, "w": 604800}
_DURATION_RE = re.compile(r"^(\d+(?:\.\d+)?)\s*([a-z]*)$")
_CANONICAL_DURATION = (("w", 604800_000), ("d", 86400_000), ("h", 3600_000),
                       ("m", 60_000), ("s", 1000), ("ms", 1))


class Duration(float):
    """A length of time in seconds (millisecond resolution)."""

    def __new__(cls, seconds: float) -> Duration:  # noqa: PYI034
        return super().__new__(cls, round(float(seconds), 3))

    @classmethod
    def parse(cls, text: str) -> Duration:
        m = _DURATION_RE.match(text.strip().lower())
        unit = (m.group(2) or "s") if m else None
        if m is None or unit not in _DURATION_UNITS:
            raise ValueError(f"not a duration: {text!r} (try 500ms, 10s, 5m, 2h, 7d)")
        return cls(float(m.group(1)) * _DURATION_UNITS[unit])

    def __str__(self) -> str:
        ms = round(float(self) * 1000)
        for suffix, factor in _CANONICAL_DURATION:
            if ms and ms % factor == 0:
                return f"{ms // factor}{suffix}"
        return "0s"

    __repr__ = __str__
