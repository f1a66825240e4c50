"""bash's integer arithmetic: ``$((…))``, ``((…))``, ``for ((…))`` and ``let``.

Numbers (``12``, ``0x1f``, ``017`` octal, ``2#101``), variables (``x`` or
``$x``; unset or empty is 0; ``$1`` … and ``$#``, a function's arguments;
``${x:-1}``-style forms), array elements (``a[i+1]``: the lookup reads
and sets them), and bash's operators with its precedence:
``, = += -= *= /= %= <<= >>= &= ^= |= ?: || && | ^ & == != < <= > >= << >>
+ - * / % ** ! ~ ++ --``. Division truncates toward zero, as in bash; ``&&``,
``||`` and ``?:`` evaluate only what they need. Nothing here runs a command.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

_TOKEN = re.compile(r"""
    \s*(?:
      (?P<number>0[xX][0-9a-fA-F]+|[0-9]+\#[0-9a-zA-Z@_]+|[0-9]+)
    | \$\{(?P<braced_name>[A-Za-z_][A-Za-z0-9_]*|[0-9]+|\#)\}
    | \$(?P<dollar>[A-Za-z_][A-Za-z0-9_]*|[0-9]|\#)
    | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\[[^\]]*\])?)
    | (?P<op><<=|>>=|\*\*|\+\+|--|<<|>>|<=|>=|==|!=|&&|\|\||[-+*/%&^|]=|[-+*/%<>=!~&^|?:,()])
    )""", re.VERBOSE)
_BRACED = "__braced_"       # the k-th ${x:-0}-style form is read as the name __braced_k
_ASSIGN = ("=", "+=", "-=", "*=", "/=", "%=", "<<=", ">>=", "&=", "^=", "|=")
# binary operators by precedence, loosest first (assignment, ?: and , are handled apart)
_LEVELS = (("||",), ("&&",), ("|",), ("^",), ("&",), ("==", "!="), ("<", "<=", ">", ">="), ("<<", ">>"),
           ("+", "-"), ("*", "/", "%"))
MAX_DEPTH = 64              # parentheses and unary operators nested this deep are refused

Node = tuple


_SIMPLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*|[0-9]+|#)\}")     # ${x}, ${1}, ${#}: a name


def braced(expr: str) -> list[str]:
    """The ``${…}`` forms in ``expr`` that are more than a name (``${x:-0}``, ``${#x}``)."""
    return [expr[s:e] for s, e in _forms(expr) if expr.startswith("${", s) and not _SIMPLE.fullmatch(expr[s:e])]


def _forms(expr: str) -> list[tuple[int, int]]:
    """Where each ``$x``, ``$1``, ``$#`` and ``${…}`` of ``expr`` starts and ends (``$((`` is not one)."""
    out, i = [], expr.find("$")
    while 0 <= i < len(expr) - 1:
        if expr.startswith("${", i):
            depth, j = 0, i
            while j < len(expr):
                if expr.startswith("${", j):
                    depth += 1
                    j += 1
                elif expr[j] == "}":
                    depth -= 1
                    if depth == 0:
                        break
                j += 1
            out.append((i, j + 1))
            i = j + 1
        else:
            m = re.match(r"\$(?:[A-Za-z_][A-Za-z0-9_]*|[0-9#])", expr[i:])
            if m is not None:
                out.append((i, i + m.end()))
                i += m.end()
            else:
                i += 1
        i = expr.find("$", i)
    return out


def _glued(expr: str) -> list[tuple[int, int]]:
    """The forms of ``expr`` if one is glued to a name, a number or a subscript
    (``${base}#a``, ``${zero}11``, ``f$x``, ``x$foo[5]``): bash puts their text in
    before it reads the expression, and so must nlsh; [] when none is."""
    forms = _forms(expr)
    for start, end in forms:
        if (start and (expr[start - 1].isalnum() or expr[start - 1] in "_#")) or (
                end < len(expr) and (expr[end].isalnum() or expr[end] in "_#[")):
            return forms
    return []


def _spliced(expr: str, forms: list[tuple[int, int]], text: Callable[[str], str]) -> str:
    """``expr`` with each form replaced by ``text(form)``."""
    out, at = [], 0
    for start, end in forms:
        out += [expr[at:start], text(expr[start:end])]
        at = end
    return "".join(out) + expr[at:]


def _unnested(expr: str) -> str:
    """``$((X))`` inside arithmetic is ``(X)``, as bash computes it."""
    k = expr.find("$((")
    while k >= 0:
        depth, e = 0, k + 1
        while e < len(expr):
            depth += (expr[e] == "(") - (expr[e] == ")")
            if depth == 0:
                break
            e += 1
        if depth or expr[e - 1] != ")":
            break                               # unbalanced: the tokens below say what is wrong
        expr = expr[:k] + "(" + expr[k + 3:e - 1] + ")" + expr[e + 1:]
        k = expr.find("$((")
    return expr


def _tokens(expr: str) -> list[tuple[str, str]]:
    """(kind, text) pairs: number, name (assignable), value ($x: read only), op."""
    expr = _unnested(expr)
    for k, form in enumerate(braced(expr)):
        expr = expr.replace(form, f" ${{{_BRACED}{k}}} ", 1)
    out, i = [], 0
    while i < len(expr):
        m = _TOKEN.match(expr, i)
        if m is not None and m.lastgroup == "number" and expr.startswith(".", m.end()):
            fraction = re.match(r"\.\d*", expr[m.end():]).group()
            raise ValueError(f"{m.group('number')}{fraction} is not an integer")
        if m is None:
            rest = expr[i:].strip()
            if rest.startswith(("$(", "`")):
                raise ValueError("a $(…) is not allowed here: set a variable to it first")
            if rest:
                raise ValueError(f"unexpected {rest[:12]!r}")
            break
        i = m.end()
        kind = m.lastgroup
        if kind in ("braced_name", "dollar"):
            out.append(("value", m.group(kind)))
        else:
            out.append((kind, m.group(kind)))
    return out


class _Parser:
    def __init__(self, expr: str) -> None:
        self.toks = _tokens(expr)
        self.i = 0
        self.depth = 0

    def peek(self) -> str | None:
        return self.toks[self.i][1] if self.i < len(self.toks) and self.toks[self.i][0] == "op" else None

    def take(self) -> tuple[str, str]:
        if self.i >= len(self.toks):
            raise ValueError("the expression ends too soon")
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def expect(self, op: str) -> None:
        if self.peek() != op:
            got = self.toks[self.i][1] if self.i < len(self.toks) else "the end"
            raise ValueError(f"expected {op!r}, not {got!r}")
        self.i += 1

    def whole(self) -> Node:
        if not self.toks:
            return ("num", 0)
        try:
            node = self.comma()
        except RecursionError:
            raise ValueError("nested too deep") from None
        if self.i < len(self.toks):
            raise ValueError(f"unexpected {self.toks[self.i][1]!r}")
        return node

    def comma(self) -> Node:
        node = self.assignment()
        while self.peek() == ",":
            self.i += 1
            node = (",", node, self.assignment())
        return node

    def assignment(self) -> Node:
        if (self.i + 1 < len(self.toks) and self.toks[self.i][0] == "name"
                and self.toks[self.i + 1][0] == "op" and self.toks[self.i + 1][1] in _ASSIGN):
            name, op = self.toks[self.i][1], self.toks[self.i + 1][1]
            self.i += 2
            return ("set", name, op, self.assignment())
        return self.ternary()

    def ternary(self) -> Node:
        cond = self.binary(0)
        if self.peek() != "?":
            return cond
        self.i += 1
        yes = self.assignment()
        self.expect(":")
        return ("?", cond, yes, self.assignment())

    def binary(self, level: int) -> Node:
        if level == len(_LEVELS):
            return self.power()
        node = self.binary(level + 1)
        while self.peek() in _LEVELS[level]:
            op = self.take()[1]
            node = (op, node, self.binary(level + 1))
        return node

    def power(self) -> Node:
        base = self.unary()
        if self.peek() == "**":
            self.i += 1
            return ("**", base, self.power())        # right to left, as in bash
        return base

    def unary(self) -> Node:
        op = self.peek()
        if op in ("-", "+", "!", "~", "++", "--"):
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise ValueError("nested too deep")
            self.i += 1
            if op in ("++", "--"):
                kind, name = self.take()
                if kind != "name":
                    raise ValueError(f"{op} needs a variable name")
                node: Node = ("pre", op, name)
            else:
                node = ("unary", op, self.unary())
            self.depth -= 1
            return node
        return self.postfix()

    def postfix(self) -> Node:
        kind, text = self.take()
        if kind == "op" and text == "(":
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise ValueError("nested too deep")
            node = self.comma()
            self.expect(")")
            self.depth -= 1
            return node
        if kind == "op":
            raise ValueError(f"unexpected {text!r}")
        if kind == "number":
            return ("num", _number(text))
        if kind == "name" and self.peek() in ("++", "--"):
            return ("post", self.take()[1], text)
        return ("var", text)


def _number(text: str) -> int:
    base, hash_, digits = text.partition("#")
    if hash_ and base.isdigit():
        return _based(digits, int(base))            # its own message for a bad digit or base
    try:
        if text[:2] in ("0x", "0X"):
            return int(text, 16)
        if len(text) > 1 and text.startswith("0"):
            return int(text, 8)
        return int(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a number") from None


_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ@_"


def _based(digits: str, base: int) -> int:
    """BASE#DIGITS as bash reads it: bases 2 to 64, digits 0-9, a-z, A-Z, @ and _
    (up to base 36 a letter's case does not matter)."""
    if not 2 <= base <= 64:
        raise ValueError(f"{base}: invalid arithmetic base")
    n = 0
    for c in digits:
        d = _DIGITS.index(c.lower() if base <= 36 else c) if c in _DIGITS else 99
        if d >= base:
            raise ValueError(f"{c!r}: value too great for base {base}")
        n = n * base + d
    return n


@functools.lru_cache(maxsize=256)
def _parsed(expr: str) -> Node:
    """The tree of ``expr`` (a ``for ((…))`` computes the same text every round)."""
    return _Parser(expr).whole()


def check(expr: str) -> None:
    """Raise ValueError if ``expr`` is not an expression this module computes.
    With a form glued to its neighbours (``${base}#a``) what is read is known
    only once its text is in: then the expression is checked when it is computed."""
    if not _glued(_unnested(expr)):
        _parsed(expr)


# Gives a variable's text (given a name, or a whole ``${…}`` form).
Lookup = Callable[[str], str]
# Sets a variable (``x=1``, ``x++``); None while a line is only judged.
Assign = Callable[[str, str], None] | None


MAX_DEPTH = 64       # a variable whose value names a variable whose value … (bash allows 1024)


def evaluate(expr: str, lookup: Lookup, assign: Assign = None, depth: int = 0) -> int:
    """The value of ``expr``. Assignments go to ``assign``; the expression reads
    its own assignments back either way. A variable whose text is not a number
    is an expression itself, as in bash: with ``s=abc``, ``s+1`` is ``abc+1``
    (an unset ``abc`` is 0); with ``e='2+3'``, ``e*2`` is 10. The text of
    ``$x`` and ``${…}`` goes in before the expression is read (``$e*2`` is 8,
    ``${base}#a`` and ``f$x`` work)."""
    if depth > MAX_DEPTH:
        raise ValueError("variables refer to one another without end")
    flat = _unnested(expr)
    forms = _forms(flat)
    if forms:           # the text of $x, ${…} goes in first, as in bash: with e='2+3', $e*2 is 8
        return evaluate(_spliced(flat, forms, lambda form: lookup(
            form[2:-1] if _SIMPLE.fullmatch(form) else form if form.startswith("${") else form[1:])),
            lookup, assign, depth + 1)
    written: dict[str, int] = {}

    def read(name: str) -> int:
        if name in written and "[" not in name:     # a[i]: i may have changed since
            return written[name]
        text = lookup(name).strip() or "0"
        if re.fullmatch(r"-?(0|[1-9]\d*)", text):       # 010 is octal, as in $((010))
            return int(text)
        try:
            return evaluate(text, lookup, assign, depth + 1)
        except ValueError as e:
            if depth:
                raise
            raise ValueError(f"{name}={text!r}: {e}") from None

    def write(name: str, value: int) -> int:
        written[name] = value
        if assign is not None:
            assign(name, str(value))
        return value

    return _eval(_parsed(expr), read, write)


def _eval(node: Node, read: Callable[[str], int], write: Callable[[str, int], int]) -> int:
    kind = node[0]
    if kind == "num":
        return node[1]
    if kind == "var":
        return read(node[1])
    if kind == "unary":
        value = _eval(node[2], read, write)
        return {"-": -value, "+": value, "!": int(not value), "~": ~value}[node[1]]
    if kind in ("pre", "post"):
        old = read(node[2])
        new = write(node[2], old + (1 if node[1] == "++" else -1))
        return new if kind == "pre" else old
    if kind == "set":
        _, name, op, rhs = node
        value = _eval(rhs, read, write)
        if op != "=":
            value = _binary(op[:-1], read(name), value)
        return write(name, value)
    if kind == "?":
        return _eval(node[2] if _eval(node[1], read, write) else node[3], read, write)
    if kind == ",":
        _eval(node[1], read, write)
        return _eval(node[2], read, write)
    if kind == "&&":
        return int(bool(_eval(node[1], read, write)) and bool(_eval(node[2], read, write)))
    if kind == "||":
        return int(bool(_eval(node[1], read, write)) or bool(_eval(node[2], read, write)))
    return _binary(kind, _eval(node[1], read, write), _eval(node[2], read, write))


def _binary(op: str, left: int, right: int) -> int:
    if op in ("/", "%"):
        if right == 0:
            raise ValueError("division by 0")
        quotient = abs(left) // abs(right) * (1 if (left < 0) == (right < 0) else -1)
        return quotient if op == "/" else left - quotient * right
    if op == "**":
        if not 0 <= right <= 64:
            raise ValueError("exponent out of range (0 to 64)")
        return left ** right
    if op in ("<<", ">>"):
        if not 0 <= right <= 64:
            raise ValueError("shift out of range (0 to 64)")
        return left << right if op == "<<" else left >> right
    return {"+": left + right, "-": left - right, "*": left * right, "&": left & right, "^": left ^ right,
            "|": left | right, "==": int(left == right), "!=": int(left != right), "<": int(left < right),
            "<=": int(left <= right), ">": int(left > right), ">=": int(left >= right)}[op]
