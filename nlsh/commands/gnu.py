"""How GNU coreutils print what nlsh's stand-ins also print: ``ls -l``'s long
lines and ``total``, ``-h`` sizes, and disk usage in 1K blocks (``du``).

The stand-ins yield records; these give a record's ``line``, the text it is
when it leaves for a program, a file or a pipe (``nlsh.records.plain``)."""

from __future__ import annotations

import math
import os
import stat as st
import time
from functools import cache

SIX_MONTHS = 31556952 // 2      # GNU ls: a time older than this (or in the future) shows its year
UNITS = "KMGTPEZY"


def human(n: int) -> str:
    """A size as ``ls -lh`` and ``du -h`` print it: powers of 1024, rounded up,
    one decimal below 10 (``4.0K``, ``16K``, ``1.5M``)."""
    if n < 1024:
        return str(n)
    value, unit = float(n), -1
    while value >= 1024 and unit < len(UNITS) - 1:
        value /= 1024
        unit += 1
    if value < 10:
        tenths = math.ceil(value * 10 - 1e-9) / 10
        if tenths < 10:
            return f"{tenths:.1f}{UNITS[unit]}"
        value = tenths
    whole = math.ceil(value - 1e-9)
    if whole >= 1024 and unit < len(UNITS) - 1:
        return f"1.0{UNITS[unit + 1]}"
    return f"{whole}{UNITS[unit]}"


def kilobytes(blocks: int) -> int:
    """512-byte blocks (``st_blocks``) as the 1K blocks GNU prints, rounded up."""
    return (blocks + 1) // 2


@cache
def user_name(uid: int) -> str:
    """The account's name for ``uid``, or the number when there is none (as ls and stat print it)."""
    try:
        import pwd
        return pwd.getpwuid(uid).pw_name
    except (KeyError, ImportError):
        return str(uid)


@cache
def group_name(gid: int) -> str:
    try:
        import grp
        return grp.getgrgid(gid).gr_name
    except (KeyError, ImportError):
        return str(gid)


def _when(mtime: float, now: float) -> str:
    t = time.localtime(mtime)
    day = f"{time.strftime('%b', t)} {t.tm_mday:>2}"
    if now - SIX_MONTHS < mtime <= now + 1:
        return f"{day} {time.strftime('%H:%M', t)}"
    return f"{day}  {t.tm_year}"


def long_lines(entries: list[tuple[str, str, os.stat_result]], human_sizes: bool = False) -> list[str]:
    """``ls -l``'s line for each (name shown, full path, lstat) of one listing,
    its columns as wide as that listing needs, as GNU aligns them."""
    now = time.time()
    rows = []
    for shown, full, s in entries:
        if st.S_ISCHR(s.st_mode) or st.S_ISBLK(s.st_mode):
            size = f"{os.major(s.st_rdev)}, {os.minor(s.st_rdev)}"
        else:
            size = human(s.st_size) if human_sizes else str(s.st_size)
        name = shown
        if st.S_ISLNK(s.st_mode):
            try:
                name += " -> " + os.readlink(full)
            except OSError:
                pass
        rows.append((st.filemode(s.st_mode), str(s.st_nlink), user_name(s.st_uid), group_name(s.st_gid), size,
                     _when(s.st_mtime, now), name))
    if not rows:
        return []
    links, users, groups, sizes = (max(len(r[i]) for r in rows) for i in (1, 2, 3, 4))
    return [f"{mode} {n:>{links}} {user:<{users}} {group:<{groups}} {size:>{sizes}} {when} {name}"
            for mode, n, user, group, size, when, name in rows]


def total_line(entries: list[tuple[str, str, os.stat_result]], human_sizes: bool = False) -> str:
    """``ls -l``'s first line: the disk the listing's entries use, in 1K blocks."""
    blocks = sum(s.st_blocks for _, _, s in entries)
    return f"total {human(blocks * 512) if human_sizes else kilobytes(blocks)}"


class GrepReads:
    """Where GNU grep 3.x's reads of an input end (offsets), so that nlsh calls
    an input binary at the line GNU grep does: grep checks for a NUL in all it
    holds after each read, and a line is matched in the read that brings its
    newline. Its buffer: 96 KiB plus a page and a word, grown by half (gnulib's
    xpalloc, capped by what is left of a file of known ``size``), each read as
    many whole pages as fit after the saved part of a line. Where the first
    buffer lies in its page depends on the heap (HEAP_OFFSET, fitted to GNU grep
    3.8 in the C locale); a grown one is mmapped, 16 bytes into its page."""

    PAGE, WORD = 4096, 8
    HEAP_OFFSET = 2464
    MMAP_AT = 128 * 1024

    def __init__(self, size: int | None) -> None:
        self.size = size
        self.alloc = 96 * 1024 + self.PAGE + self.WORD
        self.base = self.HEAP_OFFSET
        self.limit = self._align(self.base + 1)      # the end of the data in the buffer
        self.end = 0                                  # the offset read up to
        self.read(0)

    def _align(self, at: int) -> int:
        return -(-at // self.PAGE) * self.PAGE

    def read(self, save: int) -> int:
        """Read on, keeping the last ``save`` bytes (a line not yet ended);
        how many bytes came (0 at the end)."""
        after = self.PAGE + self.WORD
        if self.base + self.alloc - self.limit >= after:
            start = self.limit
        else:
            grow = save + self.PAGE - self.alloc + after
            if grow > 0:
                wanted = self.alloc + self.alloc // 2
                if self.size is not None:
                    wanted = min(wanted, max(self.size - self.end + save + after, self.alloc + grow))
                self.alloc = max(wanted, self.alloc + grow)
                self.base = 16 if self.alloc >= self.MMAP_AT else self.HEAP_OFFSET
            start = self._align(self.base + 1 + save)
        n = self.base + self.alloc - self.WORD - start
        n -= n % self.PAGE
        if self.size is not None:
            n = max(0, min(n, self.size - self.end))
        self.end += n
        self.limit = start + n
        return n

    def through(self, line_start: int, newline_at: int) -> int:
        """The offset read up to once the newline at ``newline_at`` (of the line
        starting at ``line_start``) has come."""
        while newline_at >= self.end and self.read(self.end - line_start):
            pass
        return self.end
