"""Would a plan fail at once? What can be seen without running it: a wildcard
that matches nothing, a path to read, change or remove that is not there, a
``find -name`` pattern with a ``/`` or without the extension it needs (it matches nothing), a grep
or sed basic pattern written as an extended one (``[0-9]+``), a pipe into a command that reads no input (``… | mkdir``: what it is given is
lost, as shellcheck's SC2216 says of bash).

The planner shows these to the model for one more try, so a plan naming
``text2`` where ``text2.txt`` exists comes back right instead of failing.
Paths are checked for built-in commands only, and only until the plan runs a
program, changes directory or loops (after that the file system is anyone's
guess); pipes are checked everywhere, ``$(…)`` and loop bodies included.
"""

from __future__ import annotations

import difflib
import os
import re
import shlex
from typing import TYPE_CHECKING

from nlsh.kernel.context import CommandError
from nlsh.kernel.expand import Unexpanded, expand_word
from nlsh.lang.plan import Chain, Pipeline, Plan, Word
from nlsh.lang.text import text
from nlsh.policy import assess

if TYPE_CHECKING:
    from nlsh.kernel.state import Scope


def problems(plan: Plan, shell: Scope) -> list[str]:
    """One line for each thing that would fail at once: lost pipes, find tests that
    match nothing, then missing paths in the plan's order."""
    return (_lost_input(plan, shell) + _names_with_a_slash(plan) + _names_without_extension(plan, shell)
            + _plain_plus(plan, shell) + _missing_paths(plan, shell))


# In a basic regular expression (grep and sed without -E) these are plain characters;
# a model writes them meaning one-or-more and either-or (``grep -o '[0-9]+'``).
_ERE_ONLY = re.compile(r"[\]).*][+?]|(?<!\\)\|")


def _plain_plus(plan: Plan, shell: Scope) -> list[str]:
    """grep or sed with a basic pattern that uses ``+``, ``?`` or ``|`` as an extended one would."""
    out = []
    for words in _invocations(plan, shell, ("grep", "sed")):
        options = [w for w in words[1:] if w.startswith("-") and len(w) > 1]
        if any(w.startswith("--") and w[2:] in ("extended-regexp", "perl-regexp", "fixed-strings", "regexp-extended")
               or not w.startswith("--") and set(w[1:]) & set("EPFr" if words[0] == "sed" else "EPF")
               for w in options):
            continue
        pattern = next((w for w in words[1:] if not w.startswith("-")), "")
        if words[0] == "sed" and not pattern.startswith("s"):
            continue
        if _ERE_ONLY.search(pattern):
            out.append(f"{words[0]} without -E reads + ? and | as plain characters, so {pattern} matches them "
                       f"literally: for one or more, or either of two, use {words[0]} -E")
    return out


def _invocations(plan: Plan, shell: Scope, names: tuple[str, ...]):
    """The words of every call of one of ``names`` in ``plan``: calls, programs,
    a find's -exec, and those in $(…) and blocks."""
    for call in plan.calls:
        words = _words_of(call, shell)
        if words and words[0] in names:
            yield words
        for key, value in call.args:
            if key == "exec" and isinstance(value, tuple) and value and isinstance(value[0], Word) \
                    and value[0].source() in names:
                yield [w.source() for w in value if isinstance(w, Word)]


def _words_of(call, shell: Scope) -> list[str]:
    if call.source:
        return [w.source() for w in call.source]
    if call.external:
        return [w.source() for w in call.get("argv") or ()]
    if call.is_block:
        return []
    one = Plan(chains=(Chain(pipelines=(Pipeline(calls=(call,)),)),))
    try:
        return shlex.split(text(one, shell.registry.signature))
    except ValueError:
        return []


WALK_BUDGET = 5000      # entries a find's start folders are looked through for the names it asks for


def _names_without_extension(plan: Plan, shell: Scope) -> list[str]:
    """``find DIR -name text2`` where nothing under DIR has that name and
    ``text2.txt`` is there: the request named files the way people do, without
    their extension (finds with literal names only)."""
    out = []
    for call in plan.calls:
        if call.name != "find" or call.external:
            continue
        wanted = {(key, value.source()) for key, value in call.args if key in ("name", "iname")
                  and isinstance(value, Word) and not any(c in value.source() for c in "*?[]/\\")}
        if wanted:
            out.extend(_unfound(wanted, _start_folders(call, shell), shell.cwd))
    return out


def _start_folders(call, shell: Scope) -> list[str]:
    folders = []
    for word in call.get("paths") or ():
        try:
            folders += [os.path.join(shell.cwd, os.path.expanduser(p)) for p in expand_word(word, shell)]
        except (Unexpanded, CommandError):
            return []
    return folders or [shell.cwd]


def _unfound(wanted: set[tuple[str, str]], folders: list[str], cwd: str) -> list[str]:
    names: dict[str, str] = {}                 # each name under the folders: its first path
    seen = 0
    for folder in folders:
        for root, dirs, files in os.walk(folder):
            dirs.sort()
            for n in dirs + sorted(files):
                names.setdefault(n, os.path.relpath(os.path.join(root, n), cwd))
            seen += len(dirs) + len(files)
            if seen > WALK_BUDGET:
                return []
    out = []
    for key, name in sorted(wanted):
        fold = str.lower if key == "iname" else str
        if any(fold(n) == fold(name) for n in names):
            continue
        like = sorted(path for n, path in names.items() if fold(n).startswith(fold(name) + "."))
        if like:
            out.append(f"find -{key} {name} matches nothing here, it takes the whole name (there is {like[0]})")
    return out


def _names_with_a_slash(plan: Plan) -> list[str]:
    """``find -name 'dir/*'``: -name compares the last part of a path, which has no
    ``/``, so the test matches nothing (GNU find warns of it)."""
    out = []
    for call in plan.calls:
        if call.name == "find" and not call.external:
            for key, value in call.args:
                pattern = value.source() if key in ("name", "iname") and isinstance(value, Word) else ""
                if "/" in pattern.rstrip("/"):
                    out.append(f"find -{key} compares only the last part of a path, so {pattern} "
                               f"(with a /) matches nothing: use -{key.replace('name', 'path')} '*/{pattern}'")
    return out


def _lost_input(plan: Plan, shell: Scope) -> list[str]:
    """A command after a ``|`` that reads no input: a built-in, or the program a
    built-in stands in for (``mkdir -m 755``). A loop or a modifier (``nice``)
    passes its input on, and so does ``env`` running a program."""
    out = []
    for chain in plan.chains:
        for pipeline in chain.pipelines:
            for i, call in enumerate(pipeline.calls):
                cmd = None if call.is_block else shell.registry.get(call.name)
                if call.external and cmd is not None and (not cmd.program or cmd.name == "env"):
                    cmd = None
                if i and cmd is not None and cmd.input == "none" and not cmd.modifier:
                    out.append(f"{call.name} reads no input: what is piped into it is lost "
                               f"(give it as arguments, e.g. {call.name} $(…))")
                for inner in call.nested():
                    out.extend(_lost_input(inner, shell))
    return out


def _missing_paths(plan: Plan, shell: Scope) -> list[str]:
    out: list[str] = []
    made: list[str] = []                      # paths earlier steps write
    try:
        steps = {id(s.call): s for s in assess(plan, shell).steps}
    except CommandError:                      # the policy reports it when the plan is run
        return out
    for chain in plan.chains:
        if "||" in chain.ops:                 # `cat f || …` means to handle f's absence
            return out
        for pipeline in chain.pipelines:
            for call in pipeline.calls:
                cmd = None if call.external else shell.registry.get(call.name)
                if cmd is None or _from_plugin(shell, call.name):
                    return out
                for param in cmd.params:
                    if param.type == "path" and not param.creates and not (cmd.name == "rm" and call.get("force")):
                        out.extend(_missing(call.get(param.name), shell, made))
                if call.is_block or cmd.shell_state:
                    return out
                step = steps.get(id(call))
                made.extend(step.writes if step else ())
    return out


def _from_plugin(shell: Scope, name: str) -> bool:
    host = shell.registry.host
    return host is not None and host.plugin_of(name) is not None


def _missing(value: object, shell: Scope, made: list[str]) -> list[str]:
    out = []
    for word in value if isinstance(value, tuple) else (value,):
        if not isinstance(word, Word):
            continue
        try:
            paths = expand_word(word, shell)
        except Unexpanded:
            continue
        except CommandError as e:             # a wildcard that matches nothing
            out.append(e.message)
            continue
        for p in paths:
            full = os.path.normpath(os.path.join(shell.cwd, os.path.expanduser(p)))
            if not os.path.lexists(full) and not any(full == m or full.startswith(m + os.sep) for m in made):
                shown = word.source() if len(paths) == 1 else p
                out.append(f"{shown}: no such file or directory{_nearest(full, shell.cwd)}")
    return out


def _nearest(full: str, cwd: str) -> str:
    """`` (there is docs/text2.txt)``: the closest name in that folder, if any is close."""
    folder, name = os.path.split(full)
    try:
        names = os.listdir(folder)
    except OSError:
        return ""
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    return f" (there is {os.path.relpath(os.path.join(folder, close[0]), cwd)})" if close else ""
