"""Word expansion when a call runs: ``~``, ``$VAR``, wildcards, typed values."""

from __future__ import annotations

import glob as _glob
import os
from typing import TYPE_CHECKING

from nlsh.kernel.context import Args, CommandError
from nlsh.lang.plan import Call, Glob, Lit, Tilde, Var, Word
from nlsh.lang.signature import GLOBBING_TYPES, Param

if TYPE_CHECKING:
    from nlsh.registry import Command
    from nlsh.session import Shell


def posix_glob(pattern: str) -> str:
    """``pattern`` for Python's glob/fnmatch: ``[^…]`` negates, as in bash and GNU find."""
    return pattern.replace("[^", "[!")


def expand_word(word: Word, shell: Shell, globbing: bool = True) -> list[str]:
    """The strings ``word`` stands for. A wildcard that matches nothing is an error."""
    text, pattern, wild = [], [], False
    for p in word.parts:
        if isinstance(p, Lit):
            text.append(p.text)
            pattern.append(_glob.escape(p.text))
        elif isinstance(p, Glob):
            text.append(p.text)
            pattern.append(posix_glob(p.text))
            wild = True
        elif isinstance(p, Var):
            value = str(shell.last_status) if p.name == "?" else shell.env.get(p.name, "")
            text.append(value)
            pattern.append(_glob.escape(value))
        elif isinstance(p, Tilde):
            home = shell.env.get("HOME") or os.path.expanduser("~")
            text.append(home)
            pattern.append(_glob.escape(home))
    if not (globbing and wild):
        return ["".join(text)]
    pat = "".join(pattern)
    matches = sorted(_glob.glob(pat, root_dir=shell.cwd))
    if not matches:
        raise CommandError(f"no matches for wildcard '{word.source()}'")
    return matches


def expand_args(cmd: Command, call: Call, shell: Shell) -> Args:
    """Typed, expanded values for every parameter of ``cmd``."""
    values = {}
    for param in cmd.params:
        raw = call.get(param.name, None)
        if raw is not None and param.type == "command":
            values[param.name] = _expand_command(raw, shell)
        elif raw is None:
            values[param.name] = [] if param.variadic else (False if param.type == "flag" else param.default)
        elif param.variadic:
            out: list = []
            for v in raw:
                out.extend(_expand_value(param, v, shell, many=True))
            values[param.name] = out
        else:
            values[param.name] = _expand_value(param, raw, shell, many=False)[0]
    if cmd.ordered:
        values["expr"] = [(name, _expand_option(cmd.signature.param(name), raw, shell))
                          for name, raw in call.args if not cmd.signature.param(name).positional]
    return Args(**values)


def _expand_command(raw: tuple, shell: Shell) -> list[str]:
    return [s for w in raw for s in expand_word(w, shell, globbing=False)]


def _expand_option(param: Param, raw: object, shell: Shell) -> object:
    """One option's expanded value, for an ordered command's ``expr``."""
    if param.type == "command":
        return _expand_command(raw, shell)
    if param.type == "flag":
        return True
    return _expand_value(param, raw, shell, many=False)[0]


def _expand_value(param: Param, value: object, shell: Shell, many: bool) -> list:
    if not isinstance(value, Word):
        return [value]
    strings = expand_word(value, shell, globbing=param.type in GLOBBING_TYPES)
    if len(strings) > 1 and not many:
        raise CommandError(f"'{value.source()}' matches {len(strings)} files; {param.label} takes one")
    if param.type in ("path", "word", "str", "pattern"):
        return strings
    try:
        return [param.convert(s) for s in strings]
    except ValueError as e:
        raise CommandError(f"bad value {strings[0]!r} for {param.flags[0] if param.flags else param.label}: {e}") from None


def expand_argv(call: Call, shell: Shell) -> list[str]:
    argv: list[str] = []
    for w in call.get("argv", ()):
        argv.extend(expand_word(w, shell))
    return argv
