"""``[[ EXPRESSION ]]``: bash's conditional command.

Its words are expanded without splitting or globbing, only as far as the
expression needs them (``[[ -f x && $(…) ]]`` runs nothing when x is missing).
"""

from __future__ import annotations

import fnmatch
import operator
import os
import re
import stat

from nlsh import regexes
from nlsh.kernel.context import Args, CommandError, Context
from nlsh.kernel.expand import arithmetic, element, expand_word, glob_quote, posix_glob
from nlsh.kernel.variables import Array
from nlsh.lang.lexer import pattern_segments
from nlsh.lang.plan import Plan, Word
from nlsh.lang.signature import Param
from nlsh.records import plain_line
from nlsh.registry import Example, command


@command("[[", "Test files, strings and numbers as bash's [[ ]] does: -f FILE, -d DIR, -z STR, "
         "STR == PATTERN, STR =~ REGEX, A -lt B …, joined by && || ! ( ); status 0 when true.",
         params=[Param("expr", "str", required=True, metavar="EXPRESSION ]]")],
         output="none", category="shell", planned=False,
         examples=[Example("say whether notes.txt is a file", "[[ -f notes.txt ]] && echo yes", "yes",
                           {"notes.txt": ""}),
                   Example("does the name end in .txt", 'name=a.txt; [[ $name == *.txt ]] && echo text', "text")])
def conditional(ctx: Context, a: Args) -> None:
    from nlsh.lang.cond import tree
    try:
        ctx.status = 0 if _true(tree(a.expr), ctx) else 1
    except ValueError as e:
        raise CommandError(str(e), 2) from None


def _true(node: tuple, ctx: Context) -> bool:
    kind = node[0]
    if kind == "or":
        return _true(node[1], ctx) or _true(node[2], ctx)
    if kind == "and":
        return _true(node[1], ctx) and _true(node[2], ctx)
    if kind == "not":
        return not _true(node[1], ctx)
    if kind == "word":
        return _text(node[1], ctx) != ""
    if kind == "unary":
        return _unary(node[1], _text(node[2], ctx), ctx)
    op, left, right = node[1], _text(node[2], ctx), node[3]
    if op in ("==", "=", "!="):
        matched = fnmatch.fnmatchcase(left, posix_glob(_pattern(right, ctx, glob_quote)))
        return matched if op != "!=" else not matched
    if op == "=~":             # the match and its groups go to ${BASH_REMATCH[@]}, as in bash
        try:
            m = regexes.compile(_pattern(right, ctx, re.escape)).search(left)
        except regexes.error as e:
            raise CommandError(f"=~ {right}: not a regular expression ({e})", 2) from None
        groups = () if m is None else (m.group(), *(g or "" for g in m.groups()))
        ctx.env.set_array("BASH_REMATCH", Array(enumerate(groups)))
        return m is not None
    right_text = _text(right, ctx)
    if op in ("<", ">"):
        return left < right_text if op == "<" else left > right_text
    if op in ("-nt", "-ot", "-ef"):
        return _files(op, ctx.path(left), ctx.path(right_text))
    return _COMPARE[op](_number(left, ctx), _number(right_text, ctx))


def _text(word: Word, ctx: Context) -> str:
    """A word expanded as ``[[`` does: one string, no splitting, no globbing."""
    return " ".join(expand_word(word, ctx.shell, False, lambda plan: _output(plan, ctx), split=False))


def _output(plan: Plan, ctx: Context) -> str:
    items, ctx.substituted = ctx.capture(plan, scope=True, condition=True)
    return "".join(plain_line(i) for i in items)


def _pattern(raw: str, ctx: Context, escape) -> str:
    """A pattern as written: quoted pieces escaped, the rest (``$x`` values too) as pattern."""
    return "".join(escape(_text(word, ctx)) if literal else _text(word, ctx)
                   for literal, word in pattern_segments(raw))


_COMPARE = {"-eq": operator.eq, "-ne": operator.ne, "-lt": operator.lt, "-le": operator.le, "-gt": operator.gt,
            "-ge": operator.ge}      # [['s and test's integer comparisons


def _number(text: str, ctx: Context) -> int:
    """An operand of -eq, -lt …: an arithmetic expression, as in bash (``[[ $n -gt 2+1 ]]``)."""
    try:
        return arithmetic(text, ctx.shell)
    except ValueError as e:
        raise CommandError(f"{text!r}: {e}", 2) from None


def _is_set(operand: str, ctx: Context) -> bool:
    """``-v NAME`` or ``-v NAME[INDEX]``: is it set? (an array by its element 0, as in bash)"""
    name, bracket, index = operand.partition("[")
    if bracket and index.endswith("]") and name.isidentifier():
        try:
            return element(name, index[:-1], ctx.shell) is not None
        except CommandError:
            return False
    if name in ctx.env.arrays:
        return element(name, "0", ctx.shell) is not None
    return operand in ctx.env


def _unary(op: str, operand: str, ctx: Context) -> bool:
    if op == "-z":
        return operand == ""
    if op == "-n":
        return operand != ""
    if op == "-v":
        return _is_set(operand, ctx)
    if op == "-t":
        try:
            return os.isatty(int(operand))
        except ValueError:
            return False
    path = ctx.path(operand) if operand else ""
    if op in ("-r", "-w", "-x"):
        return bool(path) and os.access(path, {"-r": os.R_OK, "-w": os.W_OK, "-x": os.X_OK}[op])
    try:
        st = os.lstat(path) if op in ("-L", "-h") else os.stat(path)
    except (OSError, ValueError):
        return False
    mode = st.st_mode
    return {
        "-e": True, "-a": True, "-f": stat.S_ISREG(mode), "-d": stat.S_ISDIR(mode), "-s": st.st_size > 0,
        "-L": stat.S_ISLNK(mode), "-h": stat.S_ISLNK(mode), "-b": stat.S_ISBLK(mode), "-c": stat.S_ISCHR(mode),
        "-p": stat.S_ISFIFO(mode), "-S": stat.S_ISSOCK(mode), "-u": bool(mode & stat.S_ISUID),
        "-g": bool(mode & stat.S_ISGID), "-k": bool(mode & stat.S_ISVTX), "-O": st.st_uid == os.geteuid(),
        "-G": st.st_gid == os.getegid(), "-N": st.st_mtime > st.st_atime,
    }[op]


def _files(op: str, left: str, right: str) -> bool:
    def stat_of(path: str) -> os.stat_result | None:
        try:
            return os.stat(path)
        except OSError:
            return None
    a, b = stat_of(left), stat_of(right)
    if op == "-ef":
        return a is not None and b is not None and (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)
    if op == "-nt":
        return a is not None and (b is None or a.st_mtime_ns > b.st_mtime_ns)
    return b is not None and (a is None or a.st_mtime_ns < b.st_mtime_ns)


_TEST_UNARY = frozenset({"-b", "-c", "-d", "-e", "-f", "-g", "-h", "-k", "-n", "-p", "-r", "-s", "-t", "-u", "-v",
                         "-w", "-x", "-z", "-G", "-L", "-N", "-O", "-S", "-a"})
_TEST_BINARY = frozenset({"=", "==", "!=", "<", ">", "-eq", "-ne", "-lt", "-le", "-gt", "-ge", "-nt", "-ot", "-ef"})


@command("test", "Test files, strings and integers as POSIX test does: -f FILE, -d DIR, -z STR, STR = STR, "
         "A -lt B …, joined by ! -a -o ( ); status 0 when true, 1 when false, 2 for a mistake.",
         params=[Param("words", "word", variadic=True, metavar="EXPRESSION")],
         output="none", category="shell", planned=False, free_dashes=True,
         examples=[Example("say whether notes.txt is a file", "test -f notes.txt && echo yes", "yes",
                           {"notes.txt": ""})])
def test(ctx: Context, a: Args) -> None:
    ctx.status = _test_status(list(a.words or ()), ctx)


@command("[", "[ EXPRESSION ]: test's other name (the last word must be ]).",
         params=[Param("words", "word", variadic=True, metavar="EXPRESSION ]")],
         output="none", category="shell", planned=False, free_dashes=True,
         examples=[Example("say whether docs is a folder", "[ -d docs ] && echo yes", "yes", {"docs/a": ""})])
def bracket(ctx: Context, a: Args) -> None:
    words = list(a.words or ())
    if not words or words[-1] != "]":
        raise CommandError("missing ']'", 2)
    ctx.status = _test_status(words[:-1], ctx)


def _test_status(words: list[str], ctx: Context) -> int:
    """test's status for ``words`` (POSIX: by how many there are, then -a/-o, ! and ( ))."""
    try:
        return 0 if _Test(words, ctx).result() else 1
    except ValueError as e:
        raise CommandError(str(e), 2) from None


class _Test:
    """POSIX test's reading of its words: up to four by their count, as POSIX
    fixes it (``test -n``, ``test ! = x``), more by -o below -a below !."""

    def __init__(self, words: list[str], ctx: Context) -> None:
        self.words, self.ctx, self.i = words, ctx, 0

    def result(self) -> bool:
        value = self.counted(self.words) if len(self.words) <= 4 else None
        if value is not None:
            return value
        value = self.either()
        if self.i < len(self.words):
            raise ValueError(f"{self.words[self.i]!r}: unexpected (test EXPRESSION: -f FILE, A = B, A -lt B …)")
        return value

    def counted(self, w: list[str]) -> bool | None:
        n = len(w)
        if n == 0:
            return False
        if n == 1:
            return w[0] != ""
        if n == 2:
            if w[0] == "!":
                return w[1] == ""
            if w[0] in _TEST_UNARY:
                return self.unary(w[0], w[1])
            raise ValueError(f"{w[0]}: unary operator expected")
        if n == 3:
            if w[1] in _TEST_BINARY:
                return self.binary(w[0], w[1], w[2])
            if w[1] in ("-a", "-o"):
                return (w[0] != "" and w[2] != "") if w[1] == "-a" else (w[0] != "" or w[2] != "")
            if w[0] == "!":
                return not self.counted(w[1:])
            if w[0] == "(" and w[2] == ")":
                return w[1] != ""
            raise ValueError(f"{w[1]}: binary operator expected")
        if w[0] == "!":
            return not self.counted(w[1:])
        if w[0] == "(" and w[3] == ")":
            return self.counted(w[1:3])
        return None

    def take(self) -> str:
        if self.i >= len(self.words):
            raise ValueError("argument expected")
        self.i += 1
        return self.words[self.i - 1]

    def peek(self, k: int = 0) -> str | None:
        return self.words[self.i + k] if self.i + k < len(self.words) else None

    def either(self) -> bool:
        return self.joined("-o", self.both, any)

    def both(self) -> bool:
        return self.joined("-a", self.negated, all)

    def joined(self, op: str, operand, combine) -> bool:
        """Operands joined by ``op`` (every one read, as test reads them), combined by any or all."""
        values = [operand()]
        while self.peek() == op:
            self.i += 1
            values.append(operand())
        return combine(values)

    def negated(self) -> bool:
        if self.peek() == "!" and self.peek(1) is not None:
            self.i += 1
            return not self.negated()
        return self.primary()

    def primary(self) -> bool:
        if self.peek() == "(" and self.peek(1) is not None and self.peek(2) != ")" or \
                self.peek() == "(" and self.peek(2) == ")" and self.peek(1) not in _TEST_BINARY:
            self.i += 1
            value = self.either()
            if self.peek() != ")":
                raise ValueError("')' expected")
            self.i += 1
            return value
        if self.peek(1) in _TEST_BINARY and self.peek(2) is not None:
            left, op, right = self.take(), self.take(), self.take()
            return self.binary(left, op, right)
        word = self.take()
        if word in _TEST_UNARY and self.peek() is not None:
            return self.unary(word, self.take())
        return word != ""

    def unary(self, op: str, operand: str) -> bool:
        return _unary(op, operand, self.ctx)

    def binary(self, left: str, op: str, right: str) -> bool:
        if op in ("=", "=="):
            return left == right
        if op == "!=":
            return left != right
        if op in ("<", ">"):
            return left < right if op == "<" else left > right
        if op in ("-nt", "-ot", "-ef"):
            return _files(op, self.ctx.path(left), self.ctx.path(right))
        return _COMPARE[op](_integer(left), _integer(right))


def _integer(text: str) -> int:
    """An operand of test's -eq … : an integer (spaces around it allowed), as GNU test reads it."""
    try:
        return int(text.strip(), 10)
    except ValueError:
        raise ValueError(f"{text}: integer expression expected") from None


COMMANDS = [conditional, test, bracket]
