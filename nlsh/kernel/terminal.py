"""Who owns the controlling terminal: the shell or a foreground job's processes."""

from __future__ import annotations

import os
import signal


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
