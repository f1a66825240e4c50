"""A line's shape: its words with the paths it names made general, and the size
of what those paths hold. ``sort -n a.csv`` and ``sort -n b.csv`` share a shape;
the second's estimate scales with its file's size."""

from __future__ import annotations

import glob
import os
import re
import shlex

_FILE_LIKE = re.compile(r"[^/\s]\.[A-Za-z][A-Za-z0-9]{0,4}$")     # a name with an extension, made or not yet
_REDIRECTS = (">", ">>", "2>", "&>", "2>>", "&>>")
MAX_WALK = 2000          # entries of a directory that are summed; past that the size is a floor
MAX_GLOB = 1000


def shape_of(text: str, cwd: str) -> tuple[str, int]:
    """(shape, input bytes) of a line run in ``cwd``. The command word stays as it
    is; a word that names an existing path, or looks like a file name, becomes
    ``<path>`` (its size counted when it exists); a glob stays as written and
    counts what it matches; what a redirection writes is ``<out>`` and not counted."""
    try:
        words = shlex.split(text, comments=False)
    except ValueError:
        words = text.split()
    out, size, after_redirect = [], 0, False
    for i, word in enumerate(words):
        if after_redirect:
            out.append("<out>")
            after_redirect = False
            continue
        if word in _REDIRECTS:
            out.append(word)
            after_redirect = True
            continue
        if word.startswith((">", "2>", "&>")):
            out.append(word[: len(word) - len(word.lstrip(">&2"))] + "<out>")
            continue
        if i == 0 or word.startswith("-") or word in ("|", "&&", "||", ";", "&"):
            out.append(word)
            continue
        if any(c in word for c in "*?[") and "$" not in word:
            matched = sorted(glob.glob(os.path.join(cwd, word)))[:MAX_GLOB]
            size += sum(_size(p) for p in matched)
            out.append(word)
            continue
        path = os.path.join(cwd, os.path.expanduser(word))
        if "$" not in word and os.path.lexists(path):
            size += _size(path)
            out.append("<path>")
        elif _FILE_LIKE.search(word) and "$" not in word:
            out.append("<path>")
        else:
            out.append(word)
    return " ".join(out), size


def _size(path: str) -> int:
    """Bytes in a file, or in a directory's files (the first MAX_WALK entries)."""
    try:
        if not os.path.isdir(path):
            return os.stat(path).st_size
    except OSError:
        return 0
    total, seen = 0, 0
    for root, dirs, files in os.walk(path):
        for name in files:
            seen += 1
            if seen > MAX_WALK:
                return total
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
        seen += len(dirs)
    return total
