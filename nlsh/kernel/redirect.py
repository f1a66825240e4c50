"""Redirections: where a call's streams go (files, the job's own output and
errors, each other), applied left to right as bash does, and the sinks a
built-in writes to there."""

from __future__ import annotations

import io
import os
import tempfile
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from nlsh.kernel.channel import ChannelClosed
from nlsh.kernel.context import (
    CommandError,
    os_reason,
)
from nlsh.kernel.expand import expand_word
from nlsh.lang.plan import Call, Redirect, Word, split_redirect
from nlsh.records import plain_line
from nlsh.trash import keep_overwritten

if TYPE_CHECKING:
    from nlsh.kernel.job import Job


ONE, TWO = "stdout", "stderr"     # where a stream goes when no file takes it: the job's own
OUTPUT = "output"                  # a block's errors go with its output (``{ …; } 2>&1``)


CLOSED = "closed"                  # ``N>&-``: the descriptor is closed for the call
_MODES = {"<": "rb", ">": "wb", ">|": "wb", ">>": "ab", "<>": "r+b"}


@dataclass
class Wiring:
    """Where a call's streams go, its redirections applied left to right as bash
    does: ``2>&1 >FILE`` sends errors to the output and the output to FILE;
    ``>&2 2>/dev/null`` the output to the errors and the errors nowhere. ``out``
    and ``err`` are ONE, TWO or an open file (the same object when shared);
    ``fds`` every descriptor the call's redirections name (``3>&-``: CLOSED)."""
    stdin: io.BufferedIOBase | None = None
    out: object = ONE
    err: object = TWO
    fds: dict = field(default_factory=dict)
    opened: list = field(default_factory=list)

    def files(self) -> list:
        """The files the call opened (never the shell's own descriptors, of which it has copies)."""
        return list(self.opened)


def redirections(call: Call, job: Job, run) -> Wiring:
    """Opens the call's redirect files (``run`` computes a ``$(…)`` in their
    words); on a bad one, closes those opened and raises CommandError."""
    fds: dict[int, object] = {0: None, 1: ONE, 2: TWO}
    opened: list = []

    def number(spec: str, kind: str, new: bool) -> int:
        """The descriptor ``spec`` names: digits, none (0 for <, 1 for >), or
        ``{NAME}``: a new one from 10 up, put in $NAME (or $NAME's, to copy or close)."""
        if spec.startswith("{"):
            name = spec[1:-1]
            if not new:
                value = job.shell.env.get(name, "")
                if not value.isdigit():
                    raise CommandError(f"{spec}: ${name} holds no descriptor")
                return int(value)
            n = next(k for k in range(10, 10_000) if k not in fds and k not in job.shell.fds)
            job.shell.env[name] = str(n)
            return n
        return int(spec) if spec else (0 if kind[0] == "<" else 1)

    def descriptor(n: int) -> object:
        if n not in fds and n in job.shell.fds:        # exec 3>f earlier: a copy of it, for this call
            kept = job.shell.fds[n]
            fds[n] = kept if kept in (ONE, TWO) else copy_of(kept)
            if fds[n] is not kept:
                opened.append(fds[n])
        if fds.get(n, CLOSED) is CLOSED:
            raise CommandError(f"{n}: bad file descriptor")
        return fds[n]
    try:
        for r in call.redirects:
            if r.op == "2>&1":
                fds[2] = fds[1]
            elif r.op == ">&2":
                fds[1] = fds[2]
            elif r.op.endswith("<<<"):         # <<<WORD, 3<<END …
                n = int(r.op[:-3] or 0)
                fds[n] = text_file("".join(expand_word(r.target, job.shell, False, run, split=False)) + "\n")
                opened.append(fds[n])
            elif r.op.endswith("&"):            # N>&M, <&M, 3>&- …
                spec, kind = split_redirect(r.op)
                n = number(spec, kind, new=False)
                words = expand_word(r.target, job.shell, True, run)
                target = words[0] if len(words) == 1 else ""
                if target == "-":
                    fds[n] = CLOSED
                elif target.isdigit():
                    fds[n] = descriptor(int(target))
                elif target[:-1].isdigit() and target.endswith("-"):     # 6>&5-: 5 moves to 6
                    fds[n] = descriptor(int(target[:-1]))
                    fds[int(target[:-1])] = CLOSED
                elif r.op == ">&" and target:           # >&FILE: the output and the errors to FILE (bash)
                    f = open_target(Redirect(">", Word.lit(target)), ">", job, run)
                    opened.append(f)
                    fds[1] = fds[2] = f
                else:
                    raise CommandError(f"{r.op}{r.target.source()}: a descriptor number or - is needed")
            else:
                spec, kind = split_redirect(r.op)
                f = open_target(r, kind, job, run)
                n = number(spec, kind, new=True)
                opened.append(f)
                fds[n] = f
    except CommandError:
        for f in opened:
            f.close()
        raise
    stdin = fds[0] if fds[0] not in (ONE, TWO, CLOSED) else None
    out, err = fds[1], fds[2]
    if CLOSED in (out, err):        # written to nowhere (bash: a write error)
        nowhere = open(os.devnull, "wb")  # noqa: SIM115 (closed with the call's files)
        opened.append(nowhere)
        out, err = (nowhere if v is CLOSED else v for v in (out, err))
    used = {id(f) for f in (stdin, out, err, *fds.values())}
    for f in opened:         # one a later redirect replaced (`>a >b`: a is made, b written)
        if id(f) not in used:
            f.close()
    return Wiring(stdin, out, err, fds, [f for f in opened if id(f) in used])


def keep_descriptors(shell, fds: dict[int, object]) -> None:
    """``exec`` without a command: the descriptors above 2 that its redirections
    opened or closed stay so in ``shell`` (copies: the call's own files close)."""
    if fds.get(0) is not None or fds.get(1) is not ONE or fds.get(2) is not TWO:
        raise CommandError("only descriptors above 2 stay open after exec (exec 3>FILE, then >&3); "
                           "redirect the commands themselves for 0, 1 and 2")
    for n, f in fds.items():
        if n <= 2:
            continue
        if f is CLOSED:
            shell.fds.pop(n, None)      # closed once nothing holds it (a subshell may)
        else:
            shell.fds[n] = f if f in (ONE, TWO) else copy_of(f)


def copy_of(f) -> io.RawIOBase:
    """A descriptor of the same open file as ``f`` (its offset shared, as dup(2) makes)."""
    mode = "r+b" if f.readable() and f.writable() else "rb" if f.readable() else "wb"
    return os.fdopen(os.dup(f.fileno()), mode, buffering=0)


def open_target(r, kind: str, job: Job, run) -> io.BufferedIOBase:
    targets = expand_word(r.target, job.shell, True, run)
    if len(targets) != 1:
        raise CommandError(f"ambiguous redirect '{r.target.source()}'")
    path = os.path.join(job.shell.cwd, os.path.expanduser(targets[0]))
    monitor = getattr(job.shell, "monitor", None)
    why = monitor.redirect(path) if monitor is not None and kind != "<" else None
    if why:
        raise CommandError(f"refused: {why}", 126)
    if kind == ">" and "noclobber" in job.shell.options and os.path.isfile(path):
        raise CommandError(f"{targets[0]}: cannot overwrite existing file (set -C; >| overwrites)")
    if kind in (">", ">|") and os.path.isfile(path):
        keep_overwritten(job.shell, path, f"{r.op} {targets[0]}")
    try:
        if kind == "<>":            # read and write, made if missing, not emptied
            return os.fdopen(os.open(path, os.O_RDWR | os.O_CREAT, 0o666), "r+b", buffering=0)
        return open(path, _MODES[kind])
    except OSError as e:
        raise CommandError(f"{targets[0]}: {os_reason(e)}") from None


def text_file(text: str) -> io.BufferedIOBase:
    """An unnamed file holding ``text``, read from its start (a real file, so
    that a program can read it as its stdin, however long it is)."""
    f = tempfile.TemporaryFile()      # noqa: SIM115 (closed by the stage that reads it)
    f.write(text.encode("utf-8", "surrogateescape"))
    f.seek(0)
    return f


class FileSink:
    """Writes items as plain lines to a binary file (redirect or OS pipe)."""

    def __init__(self, f: io.BufferedIOBase) -> None:
        self.f = f

    def put(self, item: object) -> None:
        try:
            self.f.write(plain_line(item).encode("utf-8", "surrogateescape"))
        except BrokenPipeError:
            raise ChannelClosed() from None

    def close(self) -> None:
        try:
            self.f.close()
        except BrokenPipeError:
            pass


class ErrLines:
    """A built-in's output sent to the job's error stream (``>&2``)."""

    def __init__(self, job: Job) -> None:
        self.job = job

    def put(self, item: object) -> None:
        self.job.err(plain_line(item))

    def close(self) -> None:
        pass


class ErrWriter:
    """A built-in's stderr: a redirect target, its own output (``2>&1``), or
    the job's error stream."""

    def __init__(self, job: Job, f: io.BufferedIOBase | None, into: object = None) -> None:
        self.job = job
        self.f = f
        self.into = into

    def write(self, text: str) -> None:
        if self.into is not None:
            for line in text.rstrip("\n").split("\n"):
                self.into.put(line)
        elif self.f is not None:
            self.f.write(text.encode("utf-8", "surrogateescape"))
        else:
            self.job.err(text)

    def flush(self) -> None:
        if self.f is not None:
            self.f.flush()
