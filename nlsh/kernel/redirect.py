"""Redirections: where a call's streams go (files, the job's own output and
errors, each other), applied left to right as bash does, and the sinks a
built-in writes to there."""

from __future__ import annotations

import io
import os
import tempfile
from dataclasses import dataclass
from typing import TYPE_CHECKING

from nlsh.kernel.channel import ChannelClosed
from nlsh.kernel.context import (
    CommandError,
    os_reason,
)
from nlsh.kernel.expand import expand_word
from nlsh.lang.plan import Call
from nlsh.records import plain_line
from nlsh.trash import keep_overwritten

if TYPE_CHECKING:
    from nlsh.kernel.job import Job


ONE, TWO = "stdout", "stderr"     # where a stream goes when no file takes it: the job's own
OUTPUT = "output"                  # a block's errors go with its output (``{ …; } 2>&1``)


@dataclass
class Wiring:
    """Where a call's streams go, its redirections applied left to right as bash
    does: ``2>&1 >FILE`` sends errors to the output and the output to FILE;
    ``>&2 2>/dev/null`` the output to the errors and the errors nowhere. ``out``
    and ``err`` are ONE, TWO or an open file (the same object when shared)."""
    stdin: io.BufferedIOBase | None = None
    out: object = ONE
    err: object = TWO

    def files(self) -> list:
        return [f for f in {id(f): f for f in (self.stdin, self.out, self.err) if f not in (None, ONE, TWO)}.values()]


def redirections(call: Call, job: Job, run) -> Wiring:
    """Opens the call's redirect files (``run`` computes a ``$(…)`` in their
    words); on a bad one, closes those opened and raises CommandError."""
    w = Wiring()
    opened = []
    try:
        for r in call.redirects:
            if r.op == "2>&1":
                w.err = w.out
            elif r.op == ">&2":
                w.out = w.err
            elif r.op == "<<<":
                w.stdin = text_file(" ".join(expand_word(r.target, job.shell, False, run)) + "\n")
                opened.append(w.stdin)
            else:
                f = open_target(r, job, run)
                opened.append(f)
                if r.op == "<":
                    w.stdin = f
                elif r.op in (">", ">>"):
                    w.out = f
                else:
                    w.err = f
    except CommandError:
        for f in opened:
            f.close()
        raise
    kept = {id(f) for f in w.files()}
    for f in opened:         # one a later redirect replaced (`>a >b`: a is made, b written)
        if id(f) not in kept:
            f.close()
    return w


def open_target(r, job: Job, run) -> io.BufferedIOBase:
    targets = expand_word(r.target, job.shell, True, run)
    if len(targets) != 1:
        raise CommandError(f"ambiguous redirect '{r.target.source()}'")
    path = os.path.join(job.shell.cwd, os.path.expanduser(targets[0]))
    mode = {"<": "rb", ">": "wb", ">>": "ab", "2>": "wb", "2>>": "ab"}[r.op]
    monitor = getattr(job.shell, "monitor", None)
    why = monitor.redirect(path) if monitor is not None and r.op != "<" else None
    if why:
        raise CommandError(f"refused: {why}", 126)
    if r.op in (">", "2>") and os.path.isfile(path):
        keep_overwritten(job.shell, path, f"{r.op} {targets[0]}")
    try:
        return open(path, mode)
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
