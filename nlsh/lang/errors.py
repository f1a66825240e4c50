"""Errors that point at the part of the line they blame."""

from __future__ import annotations

import difflib
from collections.abc import Callable


class ParseError(Exception):
    """A line that is not valid nlsh; ``column`` is 0-based, ``length`` >= 1."""

    def __init__(self, message: str, column: int = 0, length: int = 1, status: int = 2) -> None:
        super().__init__(message)
        self.message = message
        self.column = column
        self.length = max(1, length)
        self.status = status

    def caret(self, line: str) -> str:
        """Two lines: the input and a caret under the blamed span."""
        return f"{line}\n{' ' * self.column}{'^' * self.length}"


class ArgumentError(ParseError):
    """Arguments a built-in does not take (an unknown flag, a value of the
    wrong kind): where the built-in stands in for a program, that program runs."""


def did_you_mean(word: str, candidates: list[str] | tuple[str, ...],
                 exists: Callable[[str], bool] | None = None) -> str:
    """`` (did you mean X?)`` for the closest candidate, or an empty string.

    Two letters swapped (``sl``, ``gti``, ``pyhton``) is the likeliest slip
    and comes first; ``exists`` says whether such a word names something
    else too (a program on PATH), which ``candidates`` do not list."""
    for i in range(len(word) - 1):
        swapped = word[:i] + word[i + 1] + word[i] + word[i + 2:]
        if swapped != word and (swapped in candidates or exists is not None and exists(swapped)):
            return f" (did you mean {swapped}?)"
    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.7)
    return f" (did you mean {close[0]}?)" if close else ""
