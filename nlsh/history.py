"""The history file, in prompt_toolkit's FileHistory format so the REPL and
the ``history`` command read and write the same file."""

from __future__ import annotations

import datetime as dt
import os

from nlsh.paths import data_dir, ensure


class History:
    def __init__(self, path: str | None = None) -> None:
        self.path = path or os.path.join(data_dir(), "history")

    def entries(self) -> list[str]:
        """Every stored line, oldest first (multi-line entries joined by newlines)."""
        try:
            with open(self.path, "rb") as f:
                raw = f.read().decode("utf-8", "replace")
        except OSError:
            return []
        out: list[str] = []
        current: list[str] = []
        for line in raw.split("\n"):
            if line.startswith("+"):
                current.append(line[1:])
            elif current:
                out.append("\n".join(current))
                current = []
        if current:
            out.append("\n".join(current))
        return out

    def append(self, line: str) -> None:
        ensure(os.path.dirname(self.path))
        with open(self.path, "ab") as f:
            f.write(f"\n# {dt.datetime.now()}\n".encode())
            f.writelines(f"+{part}\n".encode("utf-8", "replace") for part in line.split("\n"))

    def clear(self) -> None:
        try:
            open(self.path, "wb").close()
        except OSError:
            pass
