"""Text stand-ins handed to the GNU programs they stand for.

``grep error big.log | sort | uniq -c`` between two programs or files is
text in and text out, and there nlsh's promise for its stand-ins is to print
what GNU prints: the GNU program itself keeps that promise exactly and runs
at its own speed (pipes between processes, no Python per line). So a stage
runs the program of the same name when

* it is one of HANDED (text filters that only read, and ``stat``), written with flags the
  stand-in accepted (so the policy judged the same act), not ``sed -i``;
* its input is text: the previous stage is a program, or it is the first stage
  and reads named files (or a ``<`` file), not the records or the input of a
  block around it;
* its output is text to whoever reads it: a program, a stage handed over, or a
  file follows; for the last stage, a file, or nlsh's own stdout when that is
  not a terminal and not ``--json`` (the terminal's tables, ``$(…)`` and JSON
  keep nlsh's own output);
* the program is GNU's (``--version`` says so; asked once per name).

The program starts as any program does: through the monitor, in the job's
process group, with its accounting.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from functools import cache
from typing import TYPE_CHECKING

from nlsh.lang.plan import Call

if TYPE_CHECKING:
    from nlsh.kernel.state import Scope

HANDED = frozenset({"cat", "head", "tail", "grep", "sort", "uniq", "wc", "cut", "tr", "sed", "stat"})


def handed_over(calls: tuple[Call, ...], shell: Scope, text_stdout: bool) -> tuple[Call, ...]:
    """``calls`` with each stage that may run as its GNU program turned into that
    program; ``text_stdout``: the line's output goes as text straight to a file
    or pipe (not a terminal, not ``--json``, not captured)."""
    out: list[Call] = []
    for i, call in enumerate(calls):
        last = i == len(calls) - 1
        text_in = (i > 0 and out[-1].external and out[-1].name not in shell.functions) or (
            i == 0 and _reads_files(call, shell))
        text_out = _to_file(call) or (text_stdout if last else calls[i + 1].external or calls[i + 1].name in HANDED)
        if text_in and text_out and _may_hand(call, shell):
            call = Call(call.name, (("argv", call.source),), call.redirects, external=True, env=call.env)
        out.append(call)
    return tuple(out)


def _may_hand(call: Call, shell: Scope) -> bool:
    return (not call.external and call.name in HANDED and bool(call.source) and not call.direct
            and call.name not in shell.functions and call.name not in shell.aliases
            and not call.get("in_place") and not (call.name == "uniq" and len(call.get("paths") or ()) > 1)
            and gnu(call.name))


def _reads_files(call: Call, shell: Scope) -> bool:
    if any(r.op == "<" for r in call.redirects):
        return True
    if call.name == "sort":         # sort's words name files or record fields: files only
        words = call.get("fields") or ()
        return bool(words) and all(w.is_literal and _is_file(shell, w.literal) for w in words)
    return bool(call.get("paths"))


def _is_file(shell: Scope, name: str) -> bool:
    return os.path.isfile(os.path.join(shell.cwd, name))


def _to_file(call: Call) -> bool:
    return any(r.op in (">", ">|", ">>") for r in call.redirects)


@cache
def gnu(name: str) -> bool:
    """Whether the program ``name`` on PATH is GNU's (not BSD's or busybox's)."""
    path = shutil.which(name)
    if path is None:
        return False
    try:
        p = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return False
    return p.returncode == 0 and "GNU" in p.stdout
