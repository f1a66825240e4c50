"""Moving lines between programs and built-ins, and waiting for programs:
the I/O pumps of a pipeline, its threads, and process groups."""

from __future__ import annotations

import fcntl
import io
import os
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from nlsh.kernel.channel import Channel
from nlsh.kernel.context import (
    MAX_LINE,
    Cancelled,
)
from nlsh.records import Partial, plain_line

if TYPE_CHECKING:
    from nlsh.kernel.job import Job


def pipe_lines(f: io.BufferedIOBase, cancel, close: bool = True) -> Iterator[str]:
    """The lines of ``f``; it is closed at the end unless it is the shell's own
    input, which the next command reads on from (``read a; read b``)."""
    try:
        while True:             # in bounded pieces: what has no newline yet comes as a Partial
            cancel.check()
            raw = f.readline(MAX_LINE)
            if not raw:
                return
            line = raw.decode("utf-8", "surrogateescape")
            yield line[:-1] if line.endswith("\n") else Partial(line)     # no newline added where none was
    finally:
        if close:
            f.close()


def regular_size(f: object) -> int | None:
    """The size of ``f`` when it is a regular file (a ``<`` redirect), else None."""
    try:
        st = os.fstat(f.fileno())
    except (AttributeError, OSError, ValueError):
        return None
    import stat
    return st.st_size if stat.S_ISREG(st.st_mode) else None


def pgroup(kwargs: dict, join: Callable[[], None] | None = None) -> dict:
    """Popen's arguments for a program that leads or joins a process group and,
    with ``join``, first enters its job's cgroup (in the child, before it runs:
    what it starts is limited from its first instruction)."""
    if sys.version_info >= (3, 11):
        return dict(kwargs, preexec_fn=join) if join is not None else kwargs
    pgid = kwargs["process_group"]

    def setup() -> None:
        os.setpgid(0, pgid)
        if join is not None:
            join()
    return {"preexec_fn": setup}


def continue_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGCONT)
    except OSError:
        pass


def job_thread(job: Job, name: str, target, *args) -> threading.Thread:
    def run() -> None:
        job.thread_started()
        try:
            target(*args)
        finally:
            job.usage.thread_done()

    t = threading.Thread(target=run, name=name, daemon=True)
    job.register_thread(t)
    t.start()
    return t


def feed(source: Channel, sink: io.BufferedIOBase) -> None:
    try:
        sink.writelines(plain_line(item).encode("utf-8", "surrogateescape") for item in source)
    except (BrokenPipeError, Cancelled, OSError):
        pass
    finally:
        source.stop_reading()
        try:
            sink.close()
        except OSError:
            pass


FEED_BYTES = 16 * 1024      # at most this much of a block's input in a program's pipe at once


def _unread(fd: int) -> int:
    return struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0]


def feed_on_demand(items: Iterator[object], sink: io.BufferedIOBase, proc: subprocess.Popen) -> None:
    """A block's input (``… | while read f; do CMD; done``, ``echo hi | f``) to a
    program inside it, as the program reads it: a few lines at a time, more
    once it has read those. What it leaves unread when it ends goes back to the
    block's input for the commands after it, as with bash's shared stdin
    (``wc -l "$f"`` in the loop reads no line of it; ``rev`` reads them all)."""
    fd = sink.fileno()
    batch, written = 1, []
    try:
        while True:
            written, data, size = [], [], 0
            for item in items:
                written.append(item)
                data.append(plain_line(item).encode("utf-8", "surrogateescape"))
                size += len(data[-1])
                if len(written) >= batch or size >= FEED_BYTES:
                    break
            if not written:
                return
            sink.write(b"".join(data))
            sink.flush()
            delay = 0.001
            while _unread(fd):
                if proc.poll() is not None:
                    return              # ended without reading them: they go back (finally)
                time.sleep(delay)
                delay = min(delay * 2, 0.05)
            written = []
            batch = min(batch * 2, 512)
    except (BrokenPipeError, OSError, Cancelled):
        pass
    finally:
        if written and hasattr(items, "push"):
            for item in reversed(written):
                items.push(item)
        try:
            sink.close()
        except OSError:
            pass


def collect(f: io.BufferedIOBase, job: Job, stream: int) -> None:
    try:
        while True:
            raw = f.readline(MAX_LINE)
            if not raw:
                return
            line = raw.decode("utf-8", "surrogateescape")
            if line.endswith("\n"):
                job.emit(line[:-1], stream)
            else:
                job.emit(Partial(line), stream)
    except (OSError, ValueError):
        pass
    finally:
        f.close()


def wait_for(proc: subprocess.Popen, job: Job) -> int:
    """Wait for ``proc``, reporting stops (Ctrl-Z) to the job; its exit status."""
    while True:
        try:
            _, status, rusage = os.wait4(proc.pid, os.WUNTRACED | os.WCONTINUED)
        except ChildProcessError:
            return proc.returncode if proc.returncode is not None else 0
        except InterruptedError:
            continue
        if os.WIFSTOPPED(status):
            job.process_stopped()
            continue
        if os.WIFCONTINUED(status):
            job.process_continued()
            continue
        job.usage.process_done(rusage)
        code = os.waitstatus_to_exitcode(status)
        proc.returncode = code
        return 128 - code if code < 0 else code
