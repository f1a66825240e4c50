"""Who owns the controlling terminal: the shell or a foreground job's processes."""

from __future__ import annotations

import os
import signal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nlsh.kernel.context import CancelToken


def tty_fd() -> int | None:
    """The terminal on stdin, if the shell has one and is in its foreground."""
    try:
        if os.isatty(0) and os.tcgetpgrp(0) == os.getpgrp():
            return 0
    except OSError:
        pass
    return None


def give_terminal(fd: int | None, pgid: int) -> None:
    """Make ``pgid`` the terminal's foreground process group (no SIGTTOU)."""
    if fd is None:
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTTOU})
    try:
        os.tcsetpgrp(fd, pgid)
    except OSError:
        pass
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def take_terminal(fd: int | None) -> None:
    give_terminal(fd, os.getpgrp())


def typed_line(fd: int, cancel: CancelToken, silent: bool = False, count: int = 0,
               timeout: float | None = None) -> str | None:
    """A line typed at the terminal ``fd`` (what ``read`` takes when nothing is
    piped in), its newline included; None at Ctrl-D on an empty line. Reads a
    byte at a time, so nothing typed after the line is taken; Ctrl-C (the
    job's cancel) stops the wait. ``silent``: what is typed is not shown;
    ``count``: each key is taken as it is pressed, and ``count`` characters end
    the line (``read -n 1``); ``timeout``: seconds to wait (TimeoutError)."""
    import select
    import termios
    import time
    old = termios.tcgetattr(fd) if silent or count else None
    if old is not None:
        quiet = termios.tcgetattr(fd)
        if silent:
            quiet[3] &= ~termios.ECHO
        if count:
            quiet[3] &= ~termios.ICANON
            quiet[6][termios.VMIN], quiet[6][termios.VTIME] = 1, 0
        termios.tcsetattr(fd, termios.TCSANOW, quiet)
    deadline = None if timeout is None else time.monotonic() + timeout
    data = b""
    try:
        while not data.endswith(b"\n"):
            cancel.check()
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError
            if select.select([fd], [], [], 0.1 if deadline is None else max(0.0, min(0.1, deadline - time.monotonic())))[0]:
                byte = os.read(fd, 1)
                if not byte:
                    break
                data += byte
                if count and len(data.decode(errors="ignore")) >= count:
                    break
    finally:
        if old is not None:
            termios.tcsetattr(fd, termios.TCSANOW, old)
    return data.decode(errors="surrogateescape") if data else None
