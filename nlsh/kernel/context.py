"""What a running built-in sees: its arguments, input, cancellation and shell."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Iterator
from types import SimpleNamespace
from typing import TYPE_CHECKING, TextIO

from nlsh.records import Heading, Partial, Record, as_record, plain, plain_line

if TYPE_CHECKING:
    from nlsh.kernel.state import Scope


class Cancelled(Exception):
    """Raised inside a built-in when its job was cancelled."""


class CommandError(Exception):
    """A user-facing failure of one command: printed as ``nlsh: CMD: message``."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class LoopControl(Exception):
    """Raised by ``break`` and ``continue``: leave (or go round) the ``levels``-th
    enclosing loop; ``output`` is what the round printed before it."""

    def __init__(self, kind: str, levels: int = 1) -> None:
        super().__init__(kind)
        self.kind = kind
        self.levels = levels
        self.output: list[object] = []


class ExitShell(Exception):
    """Raised by ``exit``: the shell ends with ``status``."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class Exiting(Exception):
    """Raised out of a block (a loop's body, a function's, ``{ }``) once ``exit``
    or ``set -e`` has asked the shell to end, through every loop around it;
    ``output`` is what the block printed before."""

    def __init__(self, output: list[object]) -> None:
        super().__init__("exit")
        self.output = output


class Return(LoopControl):
    """Raised by ``return``: leave the function with ``status``."""

    def __init__(self, status: int) -> None:
        super().__init__("return")
        self.status = status


class CancelToken:
    """Set once; every built-in checks it between records and in long loops."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.reason = ""

    def cancel(self, reason: str = "cancelled") -> None:
        if not self._event.is_set():
            self.reason = reason
            self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        if self._event.is_set():
            raise Cancelled(self.reason)

    def wait(self, timeout: float) -> bool:
        """Sleep up to ``timeout`` seconds; True if cancelled meanwhile."""
        return self._event.wait(timeout)


class Args(SimpleNamespace):
    """Expanded argument values, by parameter name."""


class Context:
    """One running built-in: ``ctx.input`` is the previous stage's items."""

    def __init__(self, shell: Scope, name: str, input: Iterable[object] | None,
                 cancel: CancelToken, stderr: TextIO,
                 capture: Callable[..., tuple[list[object], int]] | None = None) -> None:
        self.shell = shell
        # Runs a nested plan (a block's part) in this job: its output items and status;
        # ``capture(plan, input, loop=True)`` gives the plan's first built-ins ``input``
        # to read and runs it as a loop's body (raises LoopControl at break/continue);
        # ``merged=True``: its errors come in its output, in order (what an agent's step printed).
        self.capture = capture
        self.job = None           # the job it runs in (set by the pipeline)
        self.loops = 0            # loops around this call (for break and continue)
        self.frames: list[dict] = []   # the functions this call runs in (for return and local)
        self.name = name
        self.input = input
        self.cancel = cancel
        self.stderr = stderr
        self.status = 0
        self.substituted = 0      # the status of the last $(…) in the call's words (0 if none)
        self.terminal: int | None = None    # the terminal a foreground call with no input may read (read does)
        self.input_size: int | None = None  # the size of its input when that is a regular file (wc < f)
        self.descriptors: dict[int, object] = {}   # what its redirections made of each descriptor (exec 3>f)

    @property
    def cwd(self) -> str:
        return self.shell.cwd

    @property
    def env(self) -> dict[str, str]:
        return self.shell.env

    def path(self, p: str) -> str:
        """``p`` made absolute against the shell's working directory."""
        return os.path.normpath(os.path.join(self.shell.cwd, os.path.expanduser(p)))

    def check(self) -> None:
        self.cancel.check()

    def warn(self, message: str, status: int = 1) -> None:
        """Report a non-fatal problem (one file of many) and fail at the end."""
        self.stderr.write(f"nlsh: {self.name}: {message}\n")
        self.stderr.flush()
        self.status = max(self.status, status)

    def items(self, exact: bool = False) -> Iterator[object]:
        """The input's items. Text with no newline after it (``printf a``) comes
        as a whole line, as grep and sort make one of it, unless ``exact``:
        cat, head, tail, sed and tee pass it on as it came (a Partial)."""
        checked = self._checked()
        yield from checked if exact else whole_lines(checked, last_partial=False)

    def _checked(self) -> Iterator[object]:
        for item in self.input or ():
            self.cancel.check()
            yield item

    def lines(self) -> Iterator[str]:
        for item in self.items():
            text = plain(item)
            yield from text.split("\n") if "\n" in text else (text,)

    def records(self) -> Iterator[Record]:
        for item in self.entries():
            yield as_record(item)

    def entries(self) -> Iterator[object]:
        """The input's items but the headings a stand-in printed around its
        records (``ls -l``'s ``total``): what record commands count and take."""
        return (item for item in self.items() if not isinstance(item, Heading))

    def read_lines(self, paths: list[str], keepends: bool = False, exact: bool = False,
                   whole: bool = False, status: int = 1) -> Iterator[tuple[str, Iterator[str]]]:
        """(name, lines) for each path, or ("-", input lines) when none given.

        With ``keepends`` each line keeps its newline, and a last line without
        one (or an ``echo -n`` item) comes without, as ``wc`` counts them.
        With ``exact`` such a line is a Partial, as cat passes it on, and a long
        line may come in pieces (Partials) unless ``whole`` (cat -n, sed).
        Files that cannot be read are reported (the command's status then
        ``status``) and skipped.
        """
        for p in paths or ["-"]:
            if p == "-":
                yield "-", self._input_lines(keepends, exact, whole)
                continue
            try:
                f = open_text(self.path(p))
            except OSError as e:
                self.warn(f"{p}: {os_reason(e)}", status=status)
                continue
            with f:
                yield p, self._file_lines(f, keepends, exact, whole)

    def _input_lines(self, keepends: bool, exact: bool, whole: bool) -> Iterator[str]:
        if keepends:
            return (plain_line(i) for i in self.items(exact=True))
        if exact:
            return self._exact_lines(whole)
        return self.lines()

    def _exact_lines(self, whole: bool) -> Iterator[str]:
        items = self.items(exact=True)
        for item in whole_lines(items, last_partial=True) if whole else items:
            *lines, last = plain(item).split("\n")
            yield from lines
            yield Partial(last) if isinstance(item, Partial) else last

    def _file_lines(self, f: TextIO, keepends: bool, exact: bool, whole: bool) -> Iterator[str]:
        # Passed on as it comes (``exact``): in bounded pieces, so that a file with
        # no newlines (/dev/zero) still flows and notices cancellation; read as
        # lines (or ``whole``): whole lines, however long.
        while True:
            if exact and not whole:
                self.cancel.check()
                line = f.readline(MAX_LINE)
            else:
                line = read_line(f, self.cancel)
            if not line:
                return
            if keepends:
                yield line
            elif line.endswith("\n"):
                yield line[:-1]
            else:
                yield Partial(line) if exact else line


MAX_LINE = 1 << 16              # bytes read at a time
LONGEST_LINE = 1 << 28          # a line longer than this (a file with no newlines) is an error


def whole_lines(items: Iterable[object], last_partial: bool) -> Iterator[object]:
    """``items`` with each line that came in pieces (Partials: a long line read in
    parts, printf's pieces) joined into one; a last line with no newline stays a
    Partial when ``last_partial`` (cat, tail pass it on so), else becomes a line."""
    pieces: list[str] = []
    size = 0
    for item in items:
        if isinstance(item, Partial):
            pieces.append(str(item))
            size += len(item)
            if size > LONGEST_LINE:
                raise CommandError(f"a line longer than {LONGEST_LINE >> 20} MiB (is the input text?)")
            continue
        if pieces:
            if isinstance(item, str):
                item = "".join(pieces) + item
            else:
                yield "".join(pieces)
            pieces, size = [], 0
        yield item
    if pieces:
        yield Partial("".join(pieces)) if last_partial else "".join(pieces)


def read_line(f, cancel):
    """The next whole line of ``f`` (with its newline; the last may have none),
    however long, read in bounded pieces so that cancellation is noticed
    (``cat /dev/zero | grep x`` stops at Ctrl-C). Empty at the end."""
    cancel.check()
    piece = f.readline(MAX_LINE)
    if len(piece) < MAX_LINE or piece.endswith(b"\n" if isinstance(piece, bytes) else "\n"):
        return piece
    pieces, size = [piece], len(piece)
    while True:
        cancel.check()
        piece = f.readline(MAX_LINE)
        pieces.append(piece)
        size += len(piece)
        if size > LONGEST_LINE:
            raise CommandError(f"a line longer than {LONGEST_LINE >> 20} MiB (is the input text?)")
        if len(piece) < MAX_LINE or piece.endswith(b"\n" if isinstance(piece, bytes) else "\n"):
            return piece[:0].join(pieces)


def open_text(path: str) -> TextIO:
    if os.path.isdir(path):
        raise IsADirectoryError(21, "Is a directory", path)
    return open(path, encoding="utf-8", errors="surrogateescape", newline="\n")


def os_reason(e: OSError) -> str:
    """The human part of an OSError: 'No such file or directory'."""
    return e.strerror or str(e)
