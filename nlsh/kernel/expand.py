"""Word expansion when a call runs: ``~``, ``$VAR``, wildcards, typed values."""

from __future__ import annotations

import fnmatch
import glob as _glob
import os
import re
import shlex
import string
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from nlsh.kernel import ifs
from nlsh.kernel.context import Args, CommandError
from nlsh.kernel.variables import Assignment
from nlsh.lang.errors import ParseError
from nlsh.lang.plan import CASE_OPS, WORD_OPS, Arith, ArrayLit, Call, Glob, Lit, Plan, Sub, Tilde, Var, Word
from nlsh.lang.signature import GLOBBING_TYPES, Param

if TYPE_CHECKING:
    from nlsh.kernel.state import Scope
    from nlsh.registry import Command


_CLASSES = {"alpha": string.ascii_letters, "digit": string.digits, "alnum": string.ascii_letters + string.digits,
            "upper": string.ascii_uppercase, "lower": string.ascii_lowercase, "space": " \t\n\r\f\v",
            "blank": " \t", "punct": string.punctuation, "xdigit": string.hexdigits,
            "cntrl": "".join(map(chr, range(32))) + "\x7f", "print": "".join(map(chr, range(32, 127))),
            "graph": "".join(map(chr, range(33, 127)))}


def posix_glob(pattern: str, paths: bool = False) -> str:
    """``pattern`` for Python's glob/fnmatch, bracket expressions read as bash
    reads them: ``[^…]`` negates, ``[[:punct:]]`` classes, ``[C\\-D]`` an escaped
    character (fnmatch knows neither). For ``paths``, a class never holds ``/``
    (glob splits a pattern there; no file name has one)."""
    out, i = [], 0
    while i < len(pattern):
        if pattern[i] == "\\" and i + 1 < len(pattern):      # \* is a *, as glob_quote writes it
            out.append(_glob.escape(pattern[i + 1]))
            i += 2
            continue
        if pattern[i] != "[":
            out.append(pattern[i])
            i += 1
            continue
        bracket, i = _bracket(pattern, i, paths)
        out.append(bracket)
    return "".join(out)


def _bracket(pattern: str, start: int, paths: bool) -> tuple[str, int]:
    """The bracket expression at ``start`` as fnmatch writes it, and where it ends
    (a ``[`` that closes nowhere is itself)."""
    k = start + 1
    negated = k < len(pattern) and pattern[k] in "!^"
    k += negated
    singles: list[str] = []
    ranges: list[str] = []
    plain = True
    first = True
    while k < len(pattern):
        c = pattern[k]
        if c == "]" and not first:
            break
        first = False
        end = pattern.find(":]", k + 2) if pattern.startswith("[:", k) else -1
        if end > 0 and pattern[k + 2:end].replace("\\", "") in _CLASSES:       # [[:punct:]], [[:punct\:]]
            singles += _CLASSES[pattern[k + 2:end].replace("\\", "")]
            plain, k = False, end + 2
        elif c == "\\" and k + 1 < len(pattern):
            singles.append(pattern[k + 1])
            plain, k = False, k + 2
        elif k + 2 < len(pattern) and pattern[k + 1] == "-" and pattern[k + 2] != "]":
            ranges.append(pattern[k:k + 3])
            k += 3
        else:
            singles.append(c)
            k += 1
    else:
        return "[", start + 1
    if plain:
        return "[" + ("!" if negated else "") + pattern[start + 1 + negated:k + 1], k + 1
    chars = sorted(set(singles) - ({"/"} if paths else set()), key=lambda ch: (ch == "-", ch == "!", ch != "]", ch))     # ] first, - last, ! not first
    return "[" + ("!" if negated else "") + "".join(chars[:1] + ranges + chars[1:]) + "]", k + 1


# Runs the plan of a ``$(…)`` and returns its output.
Run = Callable[[Plan], str]


class Unexpanded(CommandError):
    """A ``$(…)`` met where nothing may run (assessing a plan's risk)."""


def expand_word(word: Word, shell: Scope, globbing: bool = True, run: Run | None = None,
                split: bool = True) -> list[str]:
    """The strings ``word`` stands for. A wildcard typed in the word that matches
    nothing is an error. An unquoted ``$x``, ``$(…)`` or ``$@`` splits into words
    on ``$IFS`` and each piece with a wildcard is globbed (kept as it is when
    nothing matches), as in bash; ``split`` false (an assignment's value, ``[[``,
    a here-string) keeps one string. ``run`` runs a ``$(…)``'s plan (without it,
    Unexpanded is raised)."""
    fields: list[_Field] = [_Field()]
    seps = ifs.separators(shell.env) if split else ""
    _expand_parts(word.parts, fields, shell, globbing, run, seps, split)
    out = []
    for f in fields:
        if not f.text:              # an empty $(…) or $x on its own is no word at all
            continue
        if not (globbing and f.wild):
            out.append("".join(f.text))
            continue
        matches = _matches(posix_glob("".join(f.pattern), paths=True), shell)
        if not matches and "nullglob" in shell.options:
            continue
        if not matches and f.typed and "failglob" in shell.options:
            raise CommandError(f"no matches for wildcard '{word.source()}'")
        out.extend(matches or ["".join(f.text)])
    if not split:
        return [" ".join(out)] if out else []       # a="$@": the words joined by spaces (bash)
    return out


def _matches(pattern: str, shell: Scope) -> list[str]:
    """The names ``pattern`` matches, sorted; with ``shopt -s dotglob`` hidden ones too (never . and ..)."""
    if "dotglob" not in shell.options:
        return sorted(_glob.glob(pattern, root_dir=shell.cwd))
    return sorted(m for m in _glob.glob(pattern, root_dir=shell.cwd, include_hidden=True)
                  if os.path.basename(m.rstrip("/")) not in (".", ".."))


def _expand_parts(parts: tuple, fields: list[_Field], shell: Scope, globbing: bool, run: Run | None,
                  seps: str, split: bool, operand: bool = False) -> None:
    """``parts`` expanded into ``fields`` (see expand_word); ``operand``: the parts of an
    unquoted ``${x:-WORD}``'s WORD, whose unquoted text splits as a value does."""
    soft_glob = globbing and "noglob" not in shell.options
    for p in parts:
        if isinstance(p, Var) and p.indirect:
            p = resolved(p, shell)
        if isinstance(p, Glob) and operand:
            _split_into(fields, p.text, seps, soft_glob)
        elif isinstance(p, Lit):
            fields[-1].add(p.text)
        elif isinstance(p, Glob):
            fields[-1].add(p.text, p.text, wild=not (globbing and "noglob" in shell.options))
        elif isinstance(p, Var) and p.every and p.quoted and p.op in WORD_OPS and p.op[-1] in "-+" \
                and _operand_used(p, _joined(p, shell)):     # "${a[@]:-"${b[@]}"}": a word each
            _expand_parts(_operand_parts(p.arg, quoted=True), fields, shell, globbing, run, seps, split)
        elif isinstance(p, Var) and p.every:
            values = var_values(p, shell, assign=run is not None)
            if (p.quoted or not split) and "*" in (p.name, p.index):     # "${a[*]}", "$*": one word
                values = [ifs.joiner(shell.env).join(values)]
            for k, value in enumerate(values):              # "${a[@]}", "$@": a word each
                if k:
                    fields.append(_Field())
                if p.quoted or not split:
                    fields[-1].add(value)
                elif value:
                    _split_into(fields, value, seps, soft_glob)
        elif isinstance(p, Var) and not p.quoted and split and p.op in WORD_OPS and p.op[-1] in "-+" \
                and _operand_used(p, _lookup(p, shell, run is not None)):       # ${x:-"a b" c}: two words
            _expand_parts(_operand_parts(p.arg), fields, shell, globbing, run, seps, split, operand=True)
        elif isinstance(p, Var):
            value = var_value(p, shell, assign=run is not None)
            if p.quoted:
                fields[-1].add(value)
            elif value:                 # an unquoted empty $x adds nothing, not even an empty word
                _split_into(fields, value, seps, soft_glob)
        elif isinstance(p, ArrayLit):
            raise CommandError(f"{p.source()}: ( … ) makes an array only in an assignment: NAME=(WORD …)")
        elif isinstance(p, Tilde) and p.user:
            fields[-1].add(os.path.expanduser("~" + p.user))    # an unknown user's stays ~NAME, as in bash
        elif isinstance(p, Tilde):
            home = shell.env.get("HOME")
            fields[-1].add(os.path.expanduser("~") if home is None else home)
        elif isinstance(p, Arith):
            try:
                fields[-1].add(str(arithmetic(p.expr, shell, assign=run is not None)))
            except ValueError as e:
                raise CommandError(f"{p.source()}: {e}") from None
        elif isinstance(p, Sub) and p.file:
            to_file = getattr(run, "file", None)
            if to_file is None:
                raise Unexpanded(f"{p.source()} is computed when the line runs")
            fields[-1].add(to_file(p.plan))
        elif isinstance(p, Sub):
            if run is None:
                raise Unexpanded(f"{p.source()} is computed when the line runs")
            value = run(p.plan).rstrip("\n")
            if p.quoted:
                fields[-1].add(value)
            else:
                _split_into(fields, value, seps, soft_glob)


def _split_into(fields: list[_Field], value: str, seps: str, globbing: bool) -> None:
    """An unquoted expansion's value added to ``fields``, split on ``seps`` (bash's
    word splitting: a separator at either end ends the word before or starts the
    next); a piece with a wildcard is a pattern too."""
    for k, piece in enumerate(ifs.fields(value, seps) if seps else [value]):
        if k or value[:1] and value[0] in seps:
            fields.append(_Field())
        fields[-1].add(piece, piece, wild=globbing and _wild(piece), typed=False)     # a \ in it quotes (bash)
    if value[-1:] and value[-1] in seps:
        fields.append(_Field())


def var_value(var: Var, shell: Scope, assign: bool = True) -> str:
    """``$x`` with its ``${x%suffix}``-style operation applied, as bash does.
    ``${x:=WORD}`` sets ``x`` only when ``assign`` (not while a plan is judged).
    Every element of ``${a[@]}`` and its kin, joined by spaces."""
    var = resolved(var, shell)
    if var.every:
        return " ".join(var_values(var, shell, assign))
    return _changed(var, _lookup(var, shell, assign), shell, assign)


def var_values(var: Var, shell: Scope, assign: bool = True) -> list[str]:
    """The values ``${a[@]}``, ``${a[*]}``, ``$@`` and ``$*`` stand for, with
    ``op`` applied to each; ``${#a[@]}`` their count, ``${!a[@]}`` their indices;
    ``${a[@]:OFF:LEN}`` the elements from OFF on."""
    var = resolved(var, shell)
    if var.op == "names":
        env = shell.env
        return sorted(n for n in {*env, *env.arrays} if n.startswith(var.name))
    items = _elements(var, shell)
    if var.op == "keys":
        return [str(key) for key, _ in items]
    if var.op == "length":
        return [str(len(items))]
    values = [value for _, value in items]
    if var.op in WORD_OPS:
        joined = _joined(var, shell)
        missing = joined is None or (var.op[0] == ":" and not joined)
        return [_operand_op(var, joined, shell, assign)] if missing or var.op[-1] in "+?" else values
    if var.op == ":":
        try:
            if var.name in ("@", "*"):              # ${@:1} starts at $1, ${@:0} at $0
                return _slice(["nlsh", *values], var.arg, shell, assign)
            return _array_slice(items, var.arg, shell, assign)
        except ValueError as e:
            raise CommandError(f"{var.source()}: {e}") from None
    return [_changed(var, value, shell, assign) for value in values]


def _elements(var: Var, shell: Scope) -> list[tuple[int | str, str]]:
    """(index, value) of every element: the arguments for ``$@``, one element for a plain variable."""
    if var.name in ("@", "*"):
        return list(enumerate(getattr(shell, "positional", []), 1))
    array = shell.env.arrays.get(var.name)
    if array is not None:
        return array.ordered()
    value = _value(var.name, shell)
    return [] if value is None else [(0, value)]


def _lookup(var: Var, shell: Scope, assign: bool) -> str | None:
    """The value ``var`` reads before its operation: ``${a[i]}`` an element."""
    if var.index:
        return element(var.name, var.index, shell, assign)
    return _value(var.name, shell)


def resolved(var: Var, shell: Scope) -> Var:
    """``${!ref…}``: the Var of what ``$ref`` names (``a``, ``a[1]``, ``a[@]``) with
    ``var``'s operation; ``var`` itself when it is no indirection. An unset or empty
    ``$ref`` is an error, as in bash, whatever the operation."""
    if not var.indirect:
        return var
    target = _value(var.name, shell) or ""
    name, bracket, index = target.partition("[")
    if not (name.isidentifier() or name.isdigit() or name in ("@", "*")) or (bracket and not index.endswith("]")):
        raise CommandError(f"${{!{var.name}}}: {target!r} is not a variable name")
    return Var(name, var.op, var.arg, var.quoted, index[:-1])


def element(name: str, index: str, shell: Scope, assign: bool = True, expanded: bool = False) -> str | None:
    """``${name[index]}``: None when there is no such element (also for a negative
    index before the first: reading it is no error in bash, setting it is)."""
    key = subscript(name, index, shell, assign, expanded, strict=False)
    if key is None:
        return None
    array = shell.env.arrays.get(name)
    if array is None:
        return _value(name, shell) if key == 0 else None
    return array.get(key)


def subscript(name: str, index: str, shell: Scope, assign: bool = True, expanded: bool = False,
              strict: bool = True) -> int | str | None:
    """The key ``name[index]`` stands for: for an associative array the text
    of ``index`` (expanded unless ``expanded``), else its arithmetic value,
    a negative one counting back from the end (``${a[-1]}``: the last element);
    one before the first is an error, or None unless ``strict``."""
    array = shell.env.arrays.get(name)
    if array is not None and array.assoc:
        return index if expanded else _expanded(index, shell, assign)
    try:
        n = arithmetic(index, shell, assign)
    except ValueError as e:
        raise CommandError(f"{name}[{index}]: {e}") from None
    if n < 0:
        n += array.next_index if array is not None else 1 if shell.env.get(name) is not None else 0
        if n < 0:
            if not strict:
                return None
            raise CommandError(f"{name}[{index}]: bad array subscript")
    return n


def _changed(var: Var, value: str | None, shell: Scope, assign: bool) -> str:
    """``value`` with ``var``'s operation applied."""
    op = var.op
    if op in WORD_OPS:
        return _operand_op(var, value, shell, assign)
    if value is None:
        if "nounset" in getattr(shell, "options", ()):
            raise Unbound(f"{var.name}: unbound variable (set -u)")
        value = ""
    if op == "length":
        return str(len(value))
    if op == ":":
        try:
            return _slice(value, var.arg, shell, assign)
        except ValueError as e:
            raise CommandError(f"{var.source()}: {e}") from None
    if op in CASE_OPS:
        change = str.upper if op[0] == "^" else str.lower
        return change(value) if len(op) == 2 else change(value[:1]) + value[1:]
    if op.startswith("/"):
        pattern, text = _pattern_and_text(var.arg)
        return _replace(value, _var_pattern(pattern, shell, assign), text, op)
    pattern = _var_pattern(var.arg, shell, assign)
    n = len(value)
    if op in ("%", "%%"):
        cuts = range(n, -1, -1) if op == "%" else range(n + 1)
        return next((value[:k] for k in cuts if fnmatch.fnmatchcase(value[k:], pattern)), value)
    if op in ("#", "##"):
        cuts = range(n + 1) if op == "#" else range(n, -1, -1)
        return next((value[k:] for k in cuts if fnmatch.fnmatchcase(value[:k], pattern)), value)
    return value


def arithmetic(expr: str, shell: Scope, assign: bool = True) -> int:
    """The value of ``expr`` (``$((…))``, ``((…))``, ``let``); ``x=1`` and ``x++``
    in it set ``x`` only when ``assign`` (not while a plan is judged).
    Raises ValueError for a bad expression."""
    from nlsh.lang import arith  # only for lines that compute

    def lookup(name: str) -> str:
        if name.startswith("${"):
            return _expanded(name, shell, assign)
        base, bracket, index = name.partition("[")
        if bracket:                             # a[i+1]: an element
            return element(base, index[:-1], shell, assign) or ""
        return var_value(Var(name), shell)

    def set_variable(name: str, value: str) -> None:
        base, bracket, index = name.partition("[")
        if bracket:
            shell.env.set_element(base, subscript(base, index[:-1], shell), value)
        else:
            shell.env[name] = value

    return arith.evaluate(expr, lookup, set_variable if assign else None)


def _value(name: str, shell: Scope) -> str | None:
    """The value of ``$name``; None when it is unset.

    Besides the variables: ``$?``; a function's (or ``set --``'s) arguments
    ``$1``…, ``$#``, ``$*``/``$@``; ``$0`` is nlsh; ``$$`` and ``$PPID`` its
    process and parent; ``$!`` the last background job as ``%N`` (kill, wait
    and fg take it); ``$RANDOM`` (0–32767), ``$SECONDS`` since the shell
    started, ``$HOSTNAME``, ``$UID`` and ``$EUID``, unless set as variables."""
    if name[0].isalpha() or name[0] == "_":
        value = shell.env.value(name)          # an array's: ${a[0]}
        if value is None and name in DYNAMIC:
            return DYNAMIC[name](shell)
        return value
    if name == "?":
        return str(shell.last_status)
    if name == "$":
        return str(os.getpid())
    if name == "!":
        job = getattr(shell, "last_background", None)
        return None if job is None else f"%{job}"
    args = getattr(shell, "positional", [])
    if name == "#":
        return str(len(args))
    if name in ("@", "*"):
        return " ".join(args)
    n = int(name)
    return "nlsh" if n == 0 else args[n - 1] if n <= len(args) else None


def _random(shell: Scope) -> str:
    import random  # not on the start path
    return str(random.randrange(32768))


def _hostname(shell: Scope) -> str:
    import socket  # not on the start path
    return socket.gethostname()


DYNAMIC: dict[str, Callable[[Scope], str]] = {
    "RANDOM": _random,
    "SECONDS": lambda shell: str(int(time.monotonic() - shell.started)),
    "PPID": lambda shell: str(os.getppid()),
    "HOSTNAME": _hostname,
    "UID": lambda shell: str(os.getuid()),
    "EUID": lambda shell: str(os.geteuid()),
}


def _operand_op(var: Var, value: str | None, shell: Scope, assign: bool) -> str:
    """``${x:-WORD}`` (a default), ``:=`` (a default, assigned), ``:+`` (an
    alternative when set), ``:?`` (an error when unset); with the colon an empty
    value counts as unset, without it only an unset one does (bash)."""
    used = _operand_used(var, value)
    kind = var.op[-1]
    if kind == "+":
        return _operand(var, shell, assign) if used else ""
    if not used:
        return value or ""
    if kind == "?":
        message = _operand(var, shell, assign) or ("parameter null or not set" if var.op[0] == ":" else "parameter not set")
        raise Unbound(f"{var.name}: {message}")        # a script ends there, as in bash
    word = _operand(var, shell, assign)
    if kind == "=" and assign:
        shell.env[var.name] = word
    return word


def _operand_used(var: Var, value: str | None) -> bool:
    """Does ``${x:-WORD}`` and its kin (``value`` being x's) stand for WORD? With the
    colon an empty value counts as unset, without it only an unset one does; ``+``
    uses WORD when x is set."""
    missing = value is None or (var.op[0] == ":" and not value)
    return not missing if var.op[-1] == "+" else missing


def _joined(var: Var, shell: Scope) -> str | None:
    """``${a[@]}``'s elements joined by spaces, None when it has none (what ``:-`` tests)."""
    items = _elements(var, shell)
    joiner = ifs.joiner(shell.env) if var.quoted and "*" in (var.name, var.index) else " "  # "${*:-x}", IFS=: ""
    return joiner.join(value for _, value in items) if items else None


def _operand_parts(text: str, quoted: bool = False) -> tuple:
    """An unquoted ``${x:-WORD}``'s WORD with its unquoted text marked (a Glob), to split;
    ``quoted``: a quoted one's, each part as if in double quotes."""
    from nlsh.lang.lexer import operand_word
    try:
        parts = operand_word(text, quoted, marked=not quoted).parts if text else ()
    except ParseError as e:
        raise CommandError(f"{text}: {e.message}") from None
    return tuple(replace(p, quoted=True) if isinstance(p, (Var, Sub)) else p for p in parts) if quoted else parts


def _operand(var: Var, shell: Scope, assign: bool) -> str:
    """The expanded WORD of ``var`` (which holds no ``$(…)``: the lexer refuses one)."""
    return _expanded(var.arg, shell, assign, var.quoted)


def _expanded(text: str, shell: Scope, assign: bool, quoted: bool = False) -> str:
    """``text`` (an operand, a subscript, a key) read as one word and expanded;
    with ``assign`` false a ``${y:=…}`` in it does not assign."""
    from nlsh.lang.lexer import operand_word
    try:
        word = operand_word(text, quoted)
    except ParseError as e:
        raise CommandError(f"{text}: {e.message}") from None
    return "".join(expand_word(word, shell, False, _nothing_to_run if assign else None, split=False))


def _nothing_to_run(plan: Plan) -> str:
    raise AssertionError("operand_word refuses $(…)")


def _slice(value: Sequence, arg: str, shell: Scope | None = None, assign: bool = False) -> Sequence:
    """``${x:OFF}`` / ``${x:OFF:LEN}`` (of a value's letters, or of elements),
    OFF and LEN arithmetic (``${x:(-4)}``, ``${x:i+1:n}``); a negative offset
    counts from the end, a negative length stops that far before the end (bash)."""
    off, colon, length = arg.partition(":")

    def number(expr: str) -> int:
        return arithmetic(expr, shell, assign) if shell is not None else int(expr)
    start = number(off)
    start = len(value) + start if start < 0 else start
    if start < 0:
        return value[:0]                # before the first: nothing, as in bash
    if not colon:
        return value[start:]
    n = number(length) if length.strip() else 0
    if n < 0:
        end = len(value) + n
        if end < start:
            raise ValueError(f"the length {n} ends before the offset")
        return value[start:end]
    return value[start:start + n]


def _array_slice(items: list[tuple[int | str, str]], arg: str, shell: Scope, assign: bool) -> list[str]:
    """``${a[@]:OFF:LEN}``: the elements whose index is OFF or more (a negative OFF
    counts back from one past the last index), LEN of them; by position in an
    associative array. A negative LEN is an error, as in bash."""
    off, colon, length = arg.partition(":")
    start = arithmetic(off, shell, assign)
    if items and isinstance(items[0][0], str):
        keys: list[int] = list(range(len(items)))
    else:
        keys = [int(k) for k, _ in items]
    if start < 0:
        start += (keys[-1] + 1) if keys else 0
        if start < 0:
            return []
    chosen = [value for k, (_, value) in zip(keys, items) if k >= start]
    if not colon:
        return chosen
    n = arithmetic(length, shell, assign) if length.strip() else 0
    if n < 0:
        raise ValueError(f"{n}: substring expression < 0")
    return chosen[:n]


_DOLLAR = re.compile(r"\$(\{[^}]*\}|\(\([^)]*\)\)|[A-Za-z_][A-Za-z0-9_]*|[0-9?#@*$!])")


def glob_pattern(word: Word, shell: Scope, run: Run | None = None) -> str:
    """A case pattern for fnmatch, as bash reads it: quoted text, ``\\c`` and a
    quoted ``"$p"`` match themselves; unquoted wildcards and the value of an
    unquoted ``$p`` or ``$(…)`` are pattern."""
    out = []
    for part in word.parts:
        if isinstance(part, Glob):
            out.append(part.text)
            continue
        text = "".join(expand_word(Word((part,)), shell, False, run, split=False))
        out.append(text if isinstance(part, (Var, Sub)) and not part.quoted else glob_quote(text))
    return posix_glob("".join(out))


def _var_pattern(text: str, shell: Scope | None = None, assign: bool = False) -> str:
    """A ``${x%PAT}``-style pattern for fnmatch, as bash reads PAT: ``\\c`` and
    quoted text (``"["``, ``'*'``, ``"$p"``) match themselves; an unquoted
    ``$p`` brings its value in as a pattern (outside ``[…]``)."""
    out, i, in_set = [], 0, False
    while i < len(text):
        c = text[i]
        if text.startswith("$'", i) and shell is not None:         # ${x%$'\n'}: a C-quoted part
            end = _quote_end(text, i + 2, "'")
            out.append(glob_quote(_expanded(text[i:end + 1], shell, assign)))
            i = end + 1
        elif c not in "\\'\"$" or in_set and c == "$":          # quotes work inside [ ] too: ['+-']
            in_set = (in_set and c != "]") or (not in_set and c == "[")
            out.append(c)
            i += 1
        elif c == "\\" and i + 1 < len(text):
            out.append(glob_quote(text[i + 1]))
            i += 2
        elif c == "'":
            end = text.find("'", i + 1)
            end = len(text) if end < 0 else end
            out.append(glob_quote(text[i + 1:end]))
            i = end + 1
        elif c == '"' and shell is not None:
            end = _quote_end(text, i + 1, '"')
            out.append(glob_quote(_expanded(text[i:end + 1], shell, assign)))
            i = end + 1
        elif c == "$" and shell is not None and (m := _DOLLAR.match(text, i)):
            out.append(_expanded(m.group(), shell, assign))
            i = m.end()
        else:
            out.append(c)
            i += 1
    return posix_glob("".join(out))


def _quote_end(text: str, i: int, close: str) -> int:
    """Where the ``close`` quote ending the quoted text from ``i`` is (a backslash escapes)."""
    while i < len(text) and text[i] != close:
        i += 2 if text[i] == "\\" else 1
    return i


def glob_quote(text: str) -> str:
    """``text`` as a pattern (for posix_glob) that matches only itself."""
    return "".join("\\" + c if c in "\\*?[]-!^" else c for c in text)


def _wild(text: str) -> bool:
    """Does ``text`` (a value, where a backslash quotes) hold a wildcard?"""
    return any(c in "*?[" for c in re.sub(r"\\.", "", text))


def _pattern_and_text(arg: str) -> tuple[str, str]:
    """``PAT/TEXT`` split at the first ``/`` that no backslash escapes."""
    i = 0
    while i < len(arg):
        if arg[i] == "\\":
            i += 2
            continue
        if arg[i] == "/":
            return arg[:i], arg[i + 1:]
        i += 1
    return arg, ""


def _replace(value: str, pattern: str, text: str, op: str) -> str:
    """``${x/PAT/TEXT}``: the longest match of PAT, leftmost first (every one for
    ``//``); ``/#`` replaces a match at the start, ``/%`` one at the end."""
    n = len(value)
    if op == "/#":
        end = next((j for j in range(n, -1, -1) if fnmatch.fnmatchcase(value[:j], pattern)), None)
        return value if end is None else text + value[end:]
    if op == "/%":
        start = next((i for i in range(n + 1) if fnmatch.fnmatchcase(value[i:], pattern)), None)
        return value if start is None else value[:start] + text
    if not pattern:
        return value
    out, i = [], 0
    while i < n:
        end = next((j for j in range(n, i, -1) if fnmatch.fnmatchcase(value[i:j], pattern)), None)
        if end is None:
            out.append(value[i])
            i += 1
            continue
        out.append(text)
        i = end
        if op == "/":
            break
    return "".join(out) + value[i:]


class _Field:
    """One word of an expansion: its text, and the pattern that globs it."""

    def __init__(self) -> None:
        self.text: list[str] = []
        self.pattern: list[str] = []        # as bash writes one (posix_glob reads it): quoted text glob_quote'd
        self.wild = False
        self.typed = False          # a wildcard written in the line (no match is an error), not one from a value

    def add(self, text: str, pattern: str | None = None, wild: bool = False, typed: bool = True) -> None:
        self.text.append(text)
        self.pattern.append(glob_quote(text) if pattern is None else pattern)
        self.wild = self.wild or wild
        self.typed = self.typed or wild and typed


def expand_args(cmd: Command, call: Call, shell: Scope, run: Run | None = None) -> Args:
    """Typed, expanded values for every parameter of ``cmd``."""
    values = {}
    for param in cmd.params:
        raw = call.get(param.name, None)
        if raw is not None and param.type == "command":
            values[param.name] = _expand_command(raw, shell, run)
        elif raw is None:
            values[param.name] = [] if param.variadic else (False if param.type == "flag" else param.default)
        elif param.variadic:
            out: list = []
            for v in raw:
                out.extend(_expand_value(param, v, shell, True, run))
            values[param.name] = out
        else:
            values[param.name] = _expand_value(param, raw, shell, False, run)[0]
    if cmd.ordered:
        values["expr"] = [(name, _expand_option(cmd.signature.param(name), raw, shell, run))
                          for name, raw in call.args if not cmd.signature.param(name).positional]
    return Args(**values)


def _expand_command(raw: tuple, shell: Scope, run: Run | None) -> list[str]:
    return [s for w in raw for s in expand_word(w, shell, False, run)]


def _expand_option(param: Param, raw: object, shell: Scope, run: Run | None) -> object:
    """One option's expanded value, for an ordered command's ``expr``."""
    if param.type == "command":
        return _expand_command(raw, shell, run)
    if param.type == "flag":
        return True
    return _expand_value(param, raw, shell, False, run)[0]


def _expand_value(param: Param, value: object, shell: Scope, many: bool, run: Run | None) -> list:
    if not isinstance(value, Word):
        return [value]
    if param.type == "glob":
        return [glob_pattern(value, shell, run)]
    if param.type == "assignment":
        if isinstance(value.parts[0], Lit) and _ASSIGNMENT.match(value.parts[0].text) or value.is_literal:
            return [Pending(value, shell, run)]
        # `export $x`, `local $1`: no assignment as written, so the words split first (bash)
        return [Pending(Word.lit(s), shell, run) for s in expand_word(value, shell, True, run)]
    strings = expand_word(value, shell, param.type in GLOBBING_TYPES, run, split=param.split)
    if not strings and not many and param.positional and param.type in ("int", "count"):
        return [param.default]      # `return $empty`: no word, as if none were written (bash)
    if not strings and not many and not value.subs and not any(isinstance(p, Glob) for p in value.parts):
        strings = [""]      # an empty $x where one value is bound when the line is read: the value is ""
    if len(strings) != 1 and not many:
        split = value.subs or any(isinstance(p, Var) and not p.quoted for p in value.parts)
        got = f"gives {len(strings)} words" if split else f"matches {len(strings)} files"
        raise CommandError(f"'{value.source()}' {got}; {param.label} takes one")
    if param.type in ("path", "word", "str", "pattern"):
        return strings
    try:
        return [param.convert(s) for s in strings]
    except ValueError as e:
        raise CommandError(f"bad value {strings[0]!r} for {param.flags[0] if param.flags else param.label}: {e}") from None


_ASSIGNMENT = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(?:\[(.*?)\])?(\+?)=(.*)", re.DOTALL)


def expand_assignment(word: Word, shell: Scope, run: Run | None = None) -> Assignment:
    """The Assignment ``word`` (``NAME=VALUE``, ``NAME[INDEX]+=VALUE``,
    ``NAME=(WORD …)``, ``NAME``) stands for; an array's words are globbed and
    give a value each, as in bash."""
    parts = word.parts
    array = parts[-1] if isinstance(parts[-1], ArrayLit) else None
    text = "".join(expand_word(Word(parts[:-1] if array else parts), shell, False, run, split=False))
    m = _ASSIGNMENT.fullmatch(text)
    if m is None:
        if text.isidentifier() and array is None:
            return Assignment(text)
        raise CommandError(f"'{text}': not a variable name")
    name, index, append, value = m.groups()
    if array is None:
        return Assignment(name, value, index, append=bool(append))
    items: list[tuple[str | None, str]] = []
    for key, element_word in array.items:
        if key is None:
            items.extend((None, v) for v in expand_word(element_word, shell, True, run))
            continue
        key_text = _expanded(key, shell, run is not None)
        items.append((key_text, "".join(expand_word(element_word, shell, False, run, split=False))))
    return Assignment(name, items=items, append=bool(append))


class Pending:
    """An ``assignment`` argument, expanded when its turn comes (once): in
    ``a=1 b=$a``, ``export``, ``declare`` and ``local``, b sees the new a, as in bash."""

    def __init__(self, word: Word, shell: Scope, run: Run | None) -> None:
        self.word, self._shell, self._run = word, shell, run
        self.done: Assignment | None = None

    def expand(self) -> Assignment:
        if self.done is None:
            self.done = expand_assignment(self.word, self._shell, self._run)
        return self.done

    @property
    def name(self) -> str:
        return self.expand().name

    def __str__(self) -> str:
        """As ``set -x`` shows it: expanded, or as written if its turn never came."""
        return str(self.done) if self.done is not None else self.word.source()


def traced(cmd: Command, call: Call, args: Args, shell: Scope) -> str:
    """A built-in's call as ``set -x`` prints it: the words it runs with, after
    expansion (``((…))`` and ``[[ … ]]`` as written)."""
    if call.name in ("((", "[[") and not call.external:
        from nlsh.lang.text import call_text
        return call_text(call, shell.registry.signature)
    if call.external:               # a function: its argv starts with its name
        return shlex.join(str(w) for w in args.argv)
    words = [call.name]
    options = iter(args.expr) if cmd.ordered else None
    for name, _ in call.args:
        param = cmd.signature.param(name)
        value = next(options)[1] if options is not None and not param.positional else getattr(args, name)
        if param.positional:
            words.extend(v if isinstance(v, Pending) else str(v) for v in (value if param.variadic else [value]))
        elif param.type == "flag":
            words.append(param.flags[0])
        elif param.type == "command":
            words.extend([param.flags[0], *value])
        else:
            words.extend([param.flags[0], str(value)])
    return " ".join(str(w) if isinstance(w, Pending) else shlex.quote(w) for w in words)


class Unbound(CommandError):
    """``$x`` unset under ``set -u``, or ``${x?MESSAGE}``: the command fails with
    127, and a script ends (see pipeline's ``_unbound_ends_script`` for its status)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, 127)


def expand_argv(call: Call, shell: Scope, run: Run | None = None) -> list[str]:
    argv: list[str] = []
    for w in call.get("argv", ()):
        argv.extend(expand_word(w, shell, True, run))
    return argv
