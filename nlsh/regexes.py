"""Regular expressions a user gives (grep, sed, ``[[ =~ ]]``, ``find -regex``,
``where =~``), matched without hanging the shell.

A pattern with a quantified group (``(a+)+``, ``(x|xy)*``), the shape that
makes a backtracking engine take exponential time, is matched by the
``regex`` package with a time limit; a line that exceeds it is a one-line
error. Every other pattern uses Python's ``re``, which is faster for them.
"""

from __future__ import annotations

import re

from nlsh.kernel.context import CommandError

TIMEOUT_S = 2.0
_QUANTIFIED_GROUP = re.compile(r"\)\s*(?:[*+?]|\{\d)")

error = re.error     # what a bad pattern raises, from either engine


def compile(pattern: str, flags: int = 0):
    """``re.compile``, or a time-limited pattern for a risky one (the ``regex``
    package is imported only then: importing it would slow every start)."""
    if not _QUANTIFIED_GROUP.search(pattern):
        return re.compile(pattern, flags)
    try:
        import regex
    except ImportError:         # not installed: re alone
        return re.compile(pattern, flags)
    try:
        return _Limited(regex.compile(pattern, flags), pattern)
    except regex.error as e:
        raise re.error(str(e)) from None


class _Limited:
    """A ``regex`` pattern whose every match stops after TIMEOUT_S."""

    def __init__(self, rx, source: str) -> None:
        self._rx = rx
        self.pattern = source
        self.groups = rx.groups
        self.groupindex = rx.groupindex

    def _call(self, method, *args, **kwargs):
        try:
            return method(*args, timeout=TIMEOUT_S, **kwargs)
        except TimeoutError:
            raise CommandError(f"the pattern {self.pattern!r} took over {TIMEOUT_S:g} s on one line; "
                               "write it without a repeated group (e.g. a+ for (a+)+)", 2) from None

    def search(self, string, *args):
        return self._call(self._rx.search, string, *args)

    def match(self, string, *args):
        return self._call(self._rx.match, string, *args)

    def fullmatch(self, string, *args):
        return self._call(self._rx.fullmatch, string, *args)

    def sub(self, repl, string, count=0):
        return self._call(self._rx.sub, repl, string, count)

    def subn(self, repl, string, count=0):
        return self._call(self._rx.subn, repl, string, count)

    def findall(self, string, *args):
        return self._call(self._rx.findall, string, *args)

    def finditer(self, string, *args):
        return iter(self._call(lambda *a, **k: list(self._rx.finditer(*a, **k)), string, *args))

    def split(self, string, maxsplit=0):
        return self._call(self._rx.split, string, maxsplit)
