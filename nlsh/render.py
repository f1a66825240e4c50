"""The terminal's drawing of output: records as rich tables, and ``jobs -w``'s live table."""

from __future__ import annotations

import os
import sys

from nlsh.output import Output, cell
from nlsh.records import Record


class Renderer(Output):
    """Output that draws records as tables on a terminal."""

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
            table.add_row(*(cell(r.get(c)) for c in columns))
        self.console().print(table)

    def console(self):
        if self._console is None:
            from rich.console import Console
            self._console = Console(file=self.out, highlight=False, soft_wrap=False)
        return self._console

    def watch(self, rows, cancel) -> bool:
        """A live table of ``rows()`` (rich Live) until a key is pressed."""
        if not (self.tty and sys.stdin.isatty()):
            return False
        import select
        import termios
        import tty

        from rich.live import Live
        from rich.table import Table

        def table() -> Table:
            t = Table(box=None, header_style="bold")
            data = rows()
            columns = list(data[0]) if data else ["job", "state", "time", "command"]
            for c in columns:
                t.add_column(c)
            for r in data:
                t.add_row(*(cell(r[c]) for c in columns))
            t.caption = "press any key to leave"
            return t

        fd = sys.stdin.fileno()
        old = termios.tcgetattr(fd)
        try:
            tty.setcbreak(fd)
            with Live(table(), refresh_per_second=2, transient=False, console=self.console()) as live:
                while not cancel.cancelled:
                    ready, _, _ = select.select([fd], [], [], 0.5)
                    if ready:
                        os.read(fd, 64)
                        break
                    live.update(table())
        finally:
            termios.tcsetattr(fd, termios.TCSADRAIN, old)
        return True
