"""Errors that point at the part of the line they blame."""

from __future__ import annotations

import difflib


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


def did_you_mean(word: str, candidates: list[str] | tuple[str, ...]) -> str:
    """`` (did you mean X?)`` for the closest candidate, or an empty string."""
    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.7)
    return f" (did you mean {close[0]}?)" if close else ""
