"""Output: records as rich tables on a terminal, plain lines elsewhere, or JSON."""

from __future__ import annotations

import contextlib
import datetime as dt
from typing import TextIO

from nlsh.lang.values import Duration, Size
from nlsh.records import Record, plain, plain_line, to_json

TABLE_CHUNK = 2000


def _cell(value: object) -> str:
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


class Renderer:
    """Renders a job's items in the order they come; call ``flush`` at the end."""

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
        from rich.table import Table
        columns: list[str] = []
        for r in rows:
            for k in r:
                if k not in columns:
                    columns.append(k)
        table = Table(box=None, pad_edge=False, header_style="bold")
        for c in columns:
            numeric = any(isinstance(r.get(c), (int, float)) and not isinstance(r.get(c), bool) for r in rows)
            table.add_column(c, justify="right" if numeric else "left", overflow="fold")
        for r in rows:
            table.add_row(*(_cell(r.get(c)) for c in columns))
        self.console().print(table)

    def console(self):
        if self._console is None:
            from rich.console import Console
            self._console = Console(file=self.out, highlight=False, soft_wrap=False)
        return self._console

    def error(self, message: str, line: str | None = None, column: int = 0, length: int = 1) -> None:
        """A one-line error; on a terminal, the line with a caret under the culprit."""
        self.flush()
        self.err.write(f"nlsh: {message}\n")
        if line is not None and self.tty:
            self.err.write(f"  {line}\n  {' ' * column}{'^' * max(1, length)}\n")
        self.err.flush()


class PlainFace:
    """How planning looks without a terminal: the plan and its risk on stderr, no questions."""

    def __init__(self, renderer: Renderer) -> None:
        self.renderer = renderer

    @contextlib.contextmanager
    def planning(self, utterance: str):
        yield

    def show_plan(self, text: str, decision) -> None:
        self.renderer.item(2, f"plan: {text}    [{decision.risk.summary()}]")

    def confirm(self, plan, text: str, decision) -> str | None:
        return None

    def grant(self, plugin: str, command: str, effects: str) -> bool | None:
        return None
