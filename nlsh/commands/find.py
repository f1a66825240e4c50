"""find: walk directories and emit the paths that match an expression.

The expression is GNU find's: tests (``-name``, ``-type``, ``-size``,
``-mtime``, ``-perm``, …) joined by an implicit and, ``-o``, ``!``/``-not``
and parentheses; a test may repeat (``-size +1k -size -32k``). An action
(``-exec``, ``-delete``, ``-print``, ``-print0``) is done where GNU's evaluation
reaches it, so ``-name a -o -name b -delete`` deletes only the b's, as a bash
user's script expects (the planner groups a model's alternatives before an
action: nlsh.planner.mend); one kind of action per find.
"""

from __future__ import annotations

import fnmatch
import io
import math
import os
import re
import shutil
import stat as st
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from nlsh import regexes
from nlsh.commands.files import file_type, mtime_of, protected, to_trash
from nlsh.kernel.context import Args, CancelToken, CommandError, Context, os_reason
from nlsh.kernel.expand import posix_glob
from nlsh.lang.plan import Call, Word
from nlsh.lang.signature import Param
from nlsh.lang.values import Size
from nlsh.records import Partial, Record, plain_line
from nlsh.registry import REMOVERS, Example, Touched, command

if TYPE_CHECKING:
    from nlsh.kernel.state import Scope


@dataclass(frozen=True)
class Entry:
    shown: str            # the path as find prints it
    full: str             # the absolute path
    stat: os.stat_result  # lstat (stat for the starting points)


Test = Callable[[Entry], bool]

_TYPES = {"f": st.S_ISREG, "d": st.S_ISDIR, "l": st.S_ISLNK, "p": st.S_ISFIFO, "s": st.S_ISSOCK,
          "b": st.S_ISBLK, "c": st.S_ISCHR}
ACTIONS = ("exec", "delete", "print", "print0")
_OPTIONS = ("maxdepth", "mindepth")


def _size(spec: str) -> tuple[str, int, int]:
    """GNU find -size: (+|-|=, count, unit bytes); sizes round up to units."""
    sign = spec[0] if spec[:1] in "+-" else "="
    body = spec[1:] if sign != "=" else spec
    units = {"c": 1, "w": 2, "b": 512, "k": 1024, "K": 1024, "M": 1024**2, "G": 1024**3}
    unit = units.get(body[-1:]) if body and not body[-1].isdigit() else 512
    digits = body[:-1] if body and not body[-1].isdigit() else body
    if unit is None or not digits.isdigit():
        raise CommandError(f"invalid -size {spec!r} (try +1M, -10k, 100c)")
    return sign, int(digits), unit


def _number(spec: str, flag: str) -> tuple[str, int]:
    sign = spec[0] if spec[:1] in "+-" else "="
    digits = spec[1:] if sign != "=" else spec
    if not digits.isdigit():
        raise CommandError(f"invalid {flag} {spec!r} (try -7, +30, 2)")
    return sign, int(digits)


def _compare(sign: str, value: int, n: int) -> bool:
    return value > n if sign == "+" else value < n if sign == "-" else value == n


_WHO = {"u": 0o4700, "g": 0o2070, "o": 0o1007}
_WHAT = {"r": 0o444, "w": 0o222, "x": 0o111, "s": 0o6000, "t": 0o1000}


def _perm(spec: str) -> tuple[str, int]:
    """-perm MODE (exactly), -MODE (all these bits), /MODE (any of them);
    MODE is octal (644) or symbolic (u+x, o=w, g=rw,o=r)."""
    how = spec[0] if spec[:1] in "-/" else "="
    body = spec[1:] if how != "=" else spec
    if re.fullmatch(r"[0-7]{1,4}", body):
        return how, int(body, 8)
    bits = 0
    for clause in body.split(","):
        m = re.fullmatch(r"([ugoa]*)([=+])([rwxst]*)", clause)
        if not m:
            raise CommandError(f"invalid -perm {spec!r} (try 644, -u+x, /o=w)")
        who = m.group(1).replace("a", "ugo") or "ugo"
        mask = 0
        for w in set(who):
            mask |= _WHO[w]
        for p in m.group(3):
            bits |= _WHAT[p] & mask & (0o1000 if p == "t" else 0o7777)
    return how, bits


def _perm_matches(how: str, bits: int, mode: int) -> bool:
    mode &= 0o7777
    if how == "-":
        return mode & bits == bits
    if how == "/":
        return bits == 0 or bool(mode & bits)
    return mode == bits


def _age(field: str, unit: int, spec: str, flag: str, now: float) -> Test:
    sign, n = _number(spec, flag)
    if unit == 86400:
        return lambda e: _compare(sign, int((now - getattr(e.stat, field)) // unit), n)
    return lambda e: _compare(sign, math.ceil((now - getattr(e.stat, field)) / unit), n)


def _is_empty(e: Entry) -> bool:
    if st.S_ISDIR(e.stat.st_mode):
        try:
            return not os.listdir(e.full)
        except OSError:
            return False
    return st.S_ISREG(e.stat.st_mode) and e.stat.st_size == 0


def _regex(pattern: str, flags: int) -> Test:
    try:
        rx = regexes.compile(pattern, flags)
    except regexes.error as err:
        raise CommandError(f"invalid -regex {pattern!r}: {err}") from None
    return lambda e: rx.fullmatch(e.shown) is not None


def _id_of(name: str, kind: str) -> int:
    if name.isdigit():
        return int(name)
    try:
        if kind == "user":
            import pwd
            return pwd.getpwnam(name).pw_uid
        import grp
        return grp.getgrnam(name).gr_gid
    except (KeyError, ImportError):
        raise CommandError(f"-{kind}: no such {kind} {name!r}") from None


def _base(e: Entry) -> str:
    return os.path.basename(e.shown.rstrip("/")) or e.shown


def _either(a: Test, b: Test) -> Test:
    return lambda e: a(e) or b(e)


def _both(a: Test, b: Test) -> Test:
    return lambda e: a(e) and b(e)


def _test(ctx: Context, name: str, value: object, now: float) -> Test:
    """The test for one primary of the expression."""
    if name in ("name", "iname", "path_glob", "ipath"):
        value = posix_glob(value)
    if name == "name":
        return lambda e: fnmatch.fnmatchcase(_base(e), value)
    if name == "iname":
        return lambda e: fnmatch.fnmatchcase(_base(e).lower(), value.lower())
    if name == "path_glob":
        return lambda e: fnmatch.fnmatchcase(e.shown, value)
    if name == "ipath":
        return lambda e: fnmatch.fnmatchcase(e.shown.lower(), value.lower())
    if name == "regex":
        return _regex(value, 0)
    if name == "iregex":
        return _regex(value, re.IGNORECASE)
    if name == "type":
        return lambda e: _TYPES[value](e.stat.st_mode)
    if name == "size":
        sign, n, unit = _size(value)
        return lambda e: _compare(sign, -(-e.stat.st_size // unit), n)
    if name in ("mtime", "atime", "ctime"):
        return _age(f"st_{name}", 86400, value, f"-{name}", now)
    if name in ("mmin", "amin", "cmin"):
        return _age(f"st_{name[0]}time", 60, value, f"-{name}", now)
    if name == "newer":
        try:
            ref = os.stat(ctx.path(value)).st_mtime
        except OSError as err:
            raise CommandError(f"{value}: {os_reason(err)}") from None
        return lambda e: e.stat.st_mtime > ref
    if name == "empty":
        return _is_empty
    if name == "perm":
        how, bits = _perm(value)
        return lambda e: _perm_matches(how, bits, e.stat.st_mode)
    if name in ("user", "group"):
        wanted, field = _id_of(value, name), "st_uid" if name == "user" else "st_gid"
        return lambda e: getattr(e.stat, field) == wanted
    if name in ("readable", "writable", "executable"):
        mode = {"readable": os.R_OK, "writable": os.W_OK, "executable": os.X_OK}[name]
        return lambda e: os.access(e.full, mode)
    if name in ("true", "false"):
        return lambda e: name == "true"
    raise CommandError(f"unknown test -{name}")


class _Expr:
    """Recursive descent over the expression's items: or of ands of nots."""

    def __init__(self, ctx: Context, items: list[tuple[str, object]], now: float, act: Test | None = None) -> None:
        self.ctx, self.items, self.now, self.i, self.act = ctx, items, now, 0, act

    def peek(self) -> str | None:
        return self.items[self.i][0] if self.i < len(self.items) else None

    def parse(self) -> Test:
        if not self.items:
            return lambda e: True
        test = self.or_()
        if self.peek() is not None:
            raise CommandError("unexpected ')' in the expression")
        return test

    def or_(self) -> Test:
        left = self.and_()
        while self.peek() == "or":
            self.i += 1
            right = self.and_()
            left = _either(left, right)
        return left

    def and_(self) -> Test:
        left = self.not_()
        while self.peek() not in (None, "or", "close"):
            if self.peek() == "and":
                self.i += 1
            right = self.not_()
            left = _both(left, right)
        return left

    def not_(self) -> Test:
        kind = self.peek()
        if kind is None or kind in ("or", "and", "close"):
            where = "at the end" if kind is None else f"before {_SPELLING[kind]}"
            raise CommandError(f"a test is missing {where} of the expression")
        self.i += 1
        if kind == "not":
            inner = self.not_()
            return lambda e: not inner(e)
        if kind == "open":
            inner = self.or_()
            if self.peek() != "close":
                raise CommandError("missing ')' in the expression")
            self.i += 1
            return inner
        if kind in ACTIONS and self.act is not None:
            return self.act
        return _test(self.ctx, kind, self.items[self.i - 1][1], self.now)


_SPELLING = {"or": "-o", "and": "-a", "close": "')'"}


def _glob_param(name: str, flags: tuple[str, ...], help: str) -> Param:
    return Param(name, "pattern", flags, help, metavar="GLOB")


def _touches(call: Call, shell: Scope) -> Touched:
    """What a find touches: with -delete or -exec rm, what it matches now; with
    -exec, the program it runs."""
    argv = call.get("exec") or ()
    program = argv[0].literal if argv and isinstance(argv[0], Word) and argv[0].is_literal else None
    programs = (program,) if program else ()
    if not call.get("delete") and not (program and os.path.basename(program) in REMOVERS):
        return Touched(programs=programs)
    try:
        found = would_match(shell, call)
    except CommandError as e:
        return Touched(deletes=(_under(call, shell),), programs=programs, effects=frozenset({"delete"}),
                       unresolved=(str(e),))
    return Touched(deletes=tuple(found) if found is not None else (_under(call, shell),), programs=programs,
                   effects=frozenset({"delete"}))


def _under(call: Call, shell: Scope) -> str:
    from nlsh.kernel.expand import expand_word
    roots = []
    for w in call.get("paths") or (Word.lit("."),):
        try:
            roots.extend(os.path.normpath(os.path.join(shell.cwd, os.path.expanduser(p))) for p in expand_word(w, shell))
        except CommandError:
            roots.append(w.source())
    return f"(what find matches under {', '.join(roots)})"


def _lists(call: Call, shell: Scope) -> list[str] | None:
    """The paths a find prints, known now (``rm $(find …)``, ``find … | rm``); None with -exec."""
    return None if call.get("exec") else would_match(shell, call)


@command("find", "Walk directories and emit the paths that match the expression: tests -name GLOB, -iname, "
         "-path, -type f|d|l, -size [+-]N[ckMG], -mtime/-mmin/-atime [+-]N, -perm MODE, -empty, -newer FILE "
         "(tests may repeat), joined by ! -o \\( \\); -maxdepth N; actions -exec CMD {} ; or +, -delete.",
         params=[Param("paths", "path", variadic=True, metavar="PATH"),
                 _glob_param("name", ("-name",), "base name matches GLOB"),
                 _glob_param("iname", ("-iname",), "like -name, ignoring case"),
                 _glob_param("path_glob", ("-path", "-wholename"), "whole path matches GLOB"),
                 _glob_param("ipath", ("-ipath", "-iwholename"), "like -path, ignoring case"),
                 Param("regex", "pattern", ("-regex",), "whole path matches the regular expression",
                       metavar="RE"),
                 Param("iregex", "pattern", ("-iregex",), "like -regex, ignoring case", metavar="RE"),
                 Param("type", "choice", ("-type",), "f file, d directory, l symlink, p fifo, s socket",
                       choices=tuple(_TYPES)),
                 Param("size", "str", ("-size",), "+N bigger, -N smaller (units c k M G)",
                       metavar="[+-]N[ckMG]"),
                 Param("mtime", "str", ("-mtime",), "modified N days ago (+N older, -N newer)",
                       metavar="[+-]N"),
                 Param("mmin", "str", ("-mmin",), "modified N minutes ago", metavar="[+-]N"),
                 Param("atime", "str", ("-atime",), "accessed N days ago", metavar="[+-]N"),
                 Param("amin", "str", ("-amin",), "accessed N minutes ago", metavar="[+-]N"),
                 Param("ctime", "str", ("-ctime",), "status changed N days ago", metavar="[+-]N"),
                 Param("cmin", "str", ("-cmin",), "status changed N minutes ago", metavar="[+-]N"),
                 Param("newer", "path", ("-newer",), "modified after FILE", metavar="FILE"),
                 Param("perm", "str", ("-perm",), "mode is MODE, -MODE has all, /MODE any of the bits",
                       metavar="MODE"),
                 Param("user", "str", ("-user",), "owned by USER", metavar="USER"),
                 Param("group", "str", ("-group",), "owned by GROUP", metavar="GROUP"),
                 Param("empty", "flag", ("-empty",), "empty files and directories"),
                 Param("readable", "flag", ("-readable",), "readable by you"),
                 Param("writable", "flag", ("-writable",), "writable by you"),
                 Param("executable", "flag", ("-executable",), "executable by you"),
                 Param("true", "flag", ("-true",), "always true"),
                 Param("false", "flag", ("-false",), "always false"),
                 Param("not", "flag", ("!", "-not"), "negates the next test"),
                 Param("and", "flag", ("-a", "-and"), "both sides (the default between tests)"),
                 Param("or", "flag", ("-o", "-or"), "either side"),
                 Param("open", "flag", ("(",), "groups tests (write '(' or \\()"),
                 Param("close", "flag", (")",), "ends a group"),
                 Param("maxdepth", "int", ("-maxdepth",), "descend at most N levels", metavar="N"),
                 Param("mindepth", "int", ("-mindepth",), "skip the first N levels", metavar="N"),
                 Param("exec", "command", ("-exec",), "run CMD for each match ({} is the path; end with "
                       "';', or '+' to pass many paths at once)", metavar="CMD... ;", effects=("exec",)),
                 Param("delete", "flag", ("-delete",), "delete what matches (into the trash)",
                       effects=("delete",)),
                 Param("print", "flag", ("-print",), "print what matches (the default)"),
                 Param("print0", "flag", ("-print0",), "print each match with a NUL after it (for xargs -0 "
                       "and read -d '')", planned=False)],
         output="records", category="files", ordered=True, touches=_touches, lists=_lists,
         examples=[Example("find all python files", "find . -name '*.py'", "./a.py\n./lib/b.py",
                           {"a.py": "", "lib/b.py": "", "c.txt": ""}),
                   Example("directories under src", "find src -type d", "src\nsrc/x",
                           {"src/x/f": ""}),
                   Example("files over 1 MiB", "find . -type f -size +1M", "./big",
                           {"big": "x" * (1024 * 1024 + 1), "small": "x"}),
                   Example("python files changed in the last week", "find . -name '*.py' -mtime -7",
                           "./new.py", {"new.py": ""}),
                   Example("shell or python scripts", "find . -name '*.sh' -o -name '*.py'",
                           "./a.py\n./b.sh", {"a.py": "", "b.sh": "", "c.txt": ""}),
                   Example("files that are not markdown", "find . -type f ! -name '*.md'", "./a.txt",
                           {"a.txt": "", "b.md": ""}),
                   Example("how many files are there", "find . -type f | count", "2",
                           {"a": "", "d/b": ""})])
def find(ctx: Context, a: Args) -> Iterator[object]:
    execs = [v for n, v in a.expr if n == "exec"]
    if len(execs) > 1:
        raise CommandError("only one -exec per find (pipe into another command for more)")
    actions = sorted({n for n, _ in a.expr if n in ACTIONS})
    if len(actions) > 1:
        raise CommandError(f"one kind of action per find, not {' and '.join('-' + n for n in actions)} "
                           "(pipe into another command for more)")
    matches = _walk(ctx, a, _compile(ctx, a))
    if execs:
        yield from _exec(ctx, execs[0], (r["name"] for r in matches))
    elif a.delete:
        _delete(ctx, [r["name"] for r in matches])
    elif a.print0:
        yield from (Partial(f"{r['name']}\0") for r in matches)
    else:
        yield from matches


def _compile(ctx: Context, a: Args) -> Test:
    """Which entries the action is done for. As in GNU find, an action is a test
    that is true, done where the evaluation reaches it: in ``-name A -o -name B
    -exec …`` only B's matches reach -exec (A's are matched and left alone);
    with no action, what the whole expression is true for is printed."""
    items = [(n, v) for n, v in a.expr if n not in _OPTIONS]
    if not any(n in ACTIONS for n, _ in items):
        return _Expr(ctx, items, time.time()).parse()
    reached = [False]

    def act(_entry: Entry) -> bool:
        reached[0] = True
        return True
    expr = _Expr(ctx, items, time.time(), act).parse()

    def test(entry: Entry) -> bool:
        reached[0] = False
        expr(entry)
        return reached[0]
    return test


def _delete(ctx: Context, matched: list[str]) -> None:
    """-delete, into the trash (``undo`` restores). As with GNU find, a
    directory goes only when everything in it goes too."""
    gone: set[str] = set()
    for full in sorted({ctx.path(p) for p in matched}, key=lambda f: f.count(os.sep), reverse=True):
        shown = os.path.relpath(full, ctx.cwd)
        if full == ctx.cwd:
            continue                      # find . -delete empties ., as GNU find does
        if protected(ctx, full):
            ctx.warn(f"refusing to remove '{shown}'")
            continue
        if os.path.isdir(full) and not os.path.islink(full):
            try:
                children = [os.path.join(full, n) for n in os.listdir(full)]
            except OSError:
                children = []
            if not all(c in gone for c in children):
                ctx.warn(f"cannot delete '{shown}': Directory not empty")
                continue
        gone.add(full)
    to_trash(ctx, sorted(f for f in gone if os.path.dirname(f) not in gone), "find -delete")


def _exec(ctx: Context, argv: list[str], paths: Iterator[str]) -> Iterator[str]:
    """-exec: run the program once per path (``;``) or with many (``+``)."""
    import subprocess
    *template, end = argv
    program = shutil.which(template[0], path=ctx.env.get("PATH"))
    if program is None:
        raise CommandError(f"-exec: {template[0]}: command not found", status=127)

    def run(batch: list[str]) -> Iterator[str]:
        args = []
        for w in template:
            if w == "{}":
                args.extend(batch)
            else:
                args.append(w.replace("{}", batch[0]) if end == ";" else w)
        ctx.check()
        argv, box = [program, *args[1:]], None
        monitor = getattr(ctx.shell, "monitor", None)
        verdict = monitor([template[0], *args[1:]], ctx.shell, dict(ctx.env)) if monitor is not None else None
        if verdict is not None and verdict.action == "deny":
            raise CommandError(f"-exec {template[0]}: refused: {verdict.reason}", 126)
        if verdict is not None and verdict.action == "builtin":
            from nlsh.lang.plan import Plan
            items, status = ctx.capture(Plan.of(verdict.call))
            if status:
                ctx.status = max(ctx.status, 1)
            yield from (plain_line(i).rstrip("\n") for i in items)
            return
        if verdict is not None and verdict.action == "contain":
            box = verdict.box
            argv = box.argv
        try:
            p = subprocess.run(argv, cwd=ctx.cwd, env=ctx.env, stdin=subprocess.DEVNULL,
                               capture_output=True, check=False)
        finally:
            if box is not None:
                box.finish()
        if p.stderr:
            ctx.stderr.write(p.stderr.decode("utf-8", "replace"))
        if p.returncode:
            ctx.status = max(ctx.status, 1)
        text = p.stdout.decode("utf-8", "surrogateescape")
        yield from text.split("\n")[:-1] if text.endswith("\n") else text.split("\n") if text else []

    if end == "+":
        batch = list(paths)
        if batch:
            yield from run(batch)
    else:
        for path in paths:
            yield from run([path])


class TooBig(Exception):
    """The walk visited more entries than its budget."""


def would_match(shell: Scope, call: Call, budget: int = 20000) -> list[str] | None:
    """What ``call`` (a find) matches now, as absolute paths, for the policy's
    preview of -delete and -exec rm. Past ``budget`` entries walked: the
    starting points that match themselves, or None if none does."""
    from nlsh.kernel.expand import expand_args
    a = expand_args(shell.registry.get("find"), call, shell)
    ctx = Context(shell, "find", None, CancelToken(), io.StringIO())
    test = _compile(ctx, a)
    try:
        return [ctx.path(r["name"]) for r in _walk(ctx, a, test, budget)]
    except TooBig:
        roots = [ctx.path(r["name"]) for r in _walk(ctx, Args(**{**vars(a), "maxdepth": 0}), test)]
        return roots or None


def _walk(ctx: Context, a: Args, test: Test, budget: float = math.inf) -> Iterator[Record]:
    maxdepth = a.maxdepth if a.maxdepth is not None else math.inf
    mindepth = a.mindepth or 0
    visited = 0

    def walk(entry: Entry, depth: int) -> Iterator[Record]:
        nonlocal visited
        ctx.check()
        visited += 1
        if visited > budget:
            raise TooBig
        s = entry.stat
        if depth >= mindepth and test(entry):
            yield Record(name=entry.shown, type=file_type(s.st_mode), size=Size(s.st_size),
                         modified=mtime_of(s), primary="name")
        if not st.S_ISDIR(s.st_mode) or depth >= maxdepth:
            return
        try:
            names = sorted(os.listdir(entry.full))
        except OSError as err:
            ctx.warn(f"'{entry.shown}': {os_reason(err)}")
            return
        for n in names:
            child = os.path.join(entry.full, n)
            try:
                cs = os.lstat(child)
            except OSError as err:
                ctx.warn(f"'{os.path.join(entry.shown, n)}': {os_reason(err)}")
                continue
            yield from walk(Entry(os.path.join(entry.shown, n), child, cs), depth + 1)

    for root in a.paths or ["."]:
        full = ctx.path(root)
        try:
            s = os.stat(full)
        except OSError as err:
            ctx.warn(f"'{root}': {os_reason(err)}")
            continue
        yield from walk(Entry(root, full, s), 0)


COMMANDS = [find]
