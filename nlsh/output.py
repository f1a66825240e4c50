"""Output: a job's items as plain lines (or JSON), errors as one line, and the
face that plans without a terminal (no questions)."""

from __future__ import annotations

import contextlib
import datetime as dt
from typing import TextIO

from nlsh.lang.values import Duration, Size
from nlsh.records import Heading, Record, plain, plain_line, to_json

TABLE_CHUNK = 2000


def cell(value: object) -> str:
    if isinstance(value, Size):
        return value.human()
    if isinstance(value, Duration):
        return str(value)
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, float):
        return f"{value:.1f}"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "" if value is None else str(value)


class Output:
    """Writes a job's items in the order they come; call ``flush`` at the end.
    Records are plain lines here; a face that draws tables on a terminal
    (``nlsh.render.Renderer``) replaces ``_table`` and ``watch``."""

    def __init__(self, out: TextIO, err: TextIO, tty: bool, json: bool = False) -> None:
        self.out = out
        self.err = err
        self.tty = tty
        self.json = json
        self._pending: list[Record] = []
        self._console = None
        self.line_open = False      # the last text written to the output had no newline after it (echo -n)

    def item(self, stream: int, item: object) -> None:
        if stream == 2:
            self.flush()
            self.out.flush()
            self.err.write(f"{plain(item)}\n")
            self.err.flush()
            return
        if self.json:
            if isinstance(item, Heading):       # a stand-in's heading is for text, not data
                return
            self.out.write(to_json(item) + "\n")
        elif self.tty and isinstance(item, Record):
            self._pending.append(item)
            if len(self._pending) >= TABLE_CHUNK:
                self.flush()
            return
        else:
            self.flush()
            text = plain_line(item)
            self.out.write(text)
            self.line_open = not text.endswith("\n")
        if self.tty:
            self.out.flush()

    def end_line(self) -> None:
        """Before a prompt: end a line the output left open, so the prompt starts its own (as fish does)."""
        if self.line_open:
            self.line_open = False
            self.out.write("\n")
            self.out.flush()

    def flush(self) -> None:
        if self._pending:
            rows, self._pending = self._pending, []
            self._table(rows)
        try:
            self.out.flush()
        except BrokenPipeError:
            pass

    def _table(self, rows: list[Record]) -> None:
        for r in rows:
            self.out.write(plain_line(r))

    def watch(self, rows, cancel) -> bool:
        """Redraw ``rows()`` until a key is pressed or ``cancel`` is set; False
        where this output cannot (then the caller prints them once)."""
        return False

    def error(self, message: str, line: str | None = None, column: int = 0, length: int = 1) -> None:
        """A one-line error; on a terminal, the line with a caret under the culprit."""
        self.flush()
        self.err.write(f"nlsh: {message}\n")
        if line is not None and self.tty:
            self.err.write(f"  {line}\n  {' ' * column}{'^' * max(1, length)}\n")
        self.err.flush()


class PlainFace:
    """How planning looks without a terminal: the plan and its risk on stderr, no questions."""

    def __init__(self, renderer: Output) -> None:
        self.renderer = renderer

    @contextlib.contextmanager
    def planning(self, utterance: str, stage=None):
        """On a terminal, what the model's first use is doing (assembling, loading,
        reading the prompt) on one line of stderr while it lasts; nothing otherwise."""
        err = self.renderer.err
        if stage is None or not (hasattr(err, "isatty") and err.isatty()):
            yield
            return
        import threading
        import time
        stop, shown = threading.Event(), [""]
        t0 = time.monotonic()

        def show() -> None:
            while not stop.wait(0.25):
                now = stage()
                if now or shown[0]:
                    line = f"nlsh: {now}… {time.monotonic() - t0:.0f}s" if now else ""
                    err.write("\r" + line.ljust(len(shown[0])) + ("\r" if not now else ""))
                    err.flush()
                    shown[0] = line
        t = threading.Thread(target=show, name="nlsh-first-use", daemon=True)
        t.start()
        try:
            yield
        finally:
            stop.set()
            t.join()
            if shown[0]:
                err.write("\r" + " " * len(shown[0]) + "\r")
                err.flush()

    def show_plan(self, text: str, decision, estimate=None) -> None:
        """The plan, its risk, and what earlier runs of it took (``estimate``, when there were any)."""
        took = f"  ({estimate.summary()})" if estimate is not None else ""
        self.renderer.item(2, f"plan: {text}    [{decision.risk.summary()}]{took}")

    def offer_background(self, estimate) -> bool:
        """A typed line is expected to take long or much memory: say so; True to run
        it in the background instead (a face that can ask asks)."""
        self.renderer.item(2, f"nlsh: {estimate.summary()}")
        return False

    def confirm(self, plan, text: str, decision) -> str | None:
        return None

    def grant(self, plugin: str, command: str, effects: str) -> bool | None:
        return None
