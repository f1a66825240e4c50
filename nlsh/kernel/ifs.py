"""``$IFS``, as bash uses it: where ``read`` and word splitting (an unquoted
``$x``, ``$(…)``, ``$@``) split, and what joins ``"$*"`` and ``"${a[*]}"``."""

from __future__ import annotations

from collections.abc import Mapping

DEFAULT = " \t\n"
_WHITE = " \t\n"


def separators(env: Mapping[str, str]) -> str:
    """``$IFS``; space, tab and newline when it is unset."""
    ifs = env.get("IFS")
    return DEFAULT if ifs is None else ifs


def joiner(env: Mapping[str, str]) -> str:
    """What goes between the values of ``"$*"``: IFS's first character
    (nothing when IFS is empty, a space when it is unset)."""
    return separators(env)[:1]


def fields(text: str, ifs: str, limit: int = 0) -> list[str]:
    """``text`` split as ``read`` splits a line: IFS's white space around the
    line goes, a run of it separates, as does each other IFS character (with
    the white space beside it), so ``a::b`` is three fields with IFS ``:``.
    With ``limit``, at most that many fields, the last holding the rest of the
    line (a lone field keeps no trailing separator): ``read a b`` gives ``b``
    the rest."""
    white = "".join(c for c in ifs if c in _WHITE)
    other = "".join(c for c in ifs if c not in _WHITE)
    text = text.strip(white) if white else text
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        if limit and len(out) == limit - 1:
            rest = fields(text[i:], ifs)
            out.append(rest[0] if len(rest) == 1 else text[i:])
            return out
        j = i
        while j < n and text[j] not in ifs:
            j += 1
        out.append(text[i:j])
        j = _past_white(text, j, white)
        if j < n and text[j] in other:
            j = _past_white(text, j + 1, white)
        i = j
    return out


def _past_white(text: str, i: int, white: str) -> int:
    while i < len(text) and text[i] in white:
        i += 1
    return i
