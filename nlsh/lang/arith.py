"""``$((…))``: bash's integer arithmetic, without running anything.

Numbers, variables (``x`` or ``$x``; unset or empty is 0; ``$1`` … and ``$#``,
a function's arguments; ``${x:-1}``-style forms), ``+ - * / % **``,
comparisons (1 or 0) and parentheses. Division truncates toward zero, as in bash.
"""

from __future__ import annotations

import ast
import operator
import re
from collections.abc import Callable

_DOLLAR = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?")
_ARGUMENT = re.compile(r"\$\{?([0-9]+|#)\}?")
_ARG = "__arg_"             # $1 is read as the name __arg_1, $# as __arg_n
_BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Mod: None,
           ast.Div: None, ast.FloorDiv: None, ast.Pow: operator.pow}
_COMPARE = {ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge,
            ast.Eq: operator.eq, ast.NotEq: operator.ne}
_ALLOWED = frozenset({ast.BinOp, ast.UnaryOp, ast.Compare, ast.Name, ast.Constant, ast.Load, ast.USub, ast.UAdd,
                      *_BINARY, *_COMPARE})


_BRACED = "__braced_"        # ${x:-0}, ${#x}: the k-th such form is read as the name __braced_k


def braced(expr: str) -> list[str]:
    """The ``${…}`` forms in ``expr`` that are more than a name (``${x:-0}``, ``${#x}``)."""
    out, i = [], expr.find("${")
    while i >= 0:
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
        form = expr[i:j + 1]
        if not re.fullmatch(r"\$\{([A-Za-z_][A-Za-z0-9_]*|[0-9]+|#)\}", form):
            out.append(form)
        i = expr.find("${", j + 1)
    return out


def _tree(expr: str) -> ast.expr:
    forms = braced(expr)
    for k, form in enumerate(forms):
        expr = expr.replace(form, f" {_BRACED}{k} ", 1)
    try:
        named = _ARGUMENT.sub(lambda m: _ARG + m.group(1).replace("#", "n"), expr)
        tree = ast.parse(_DOLLAR.sub(r"\1", named).strip() or "0", mode="eval").body
    except SyntaxError:
        raise ValueError("not an arithmetic expression") from None
    for node in ast.walk(tree):
        if type(node) not in _ALLOWED:
            raise ValueError(f"{type(node).__name__.lower()} is not allowed")
        if isinstance(node, ast.Constant) and type(node.value) is not int:
            raise ValueError(f"{node.value!r} is not an integer")
    return tree


def check(expr: str) -> None:
    """Raise ValueError if ``expr`` is not an expression this module computes."""
    _tree(expr)


def evaluate(expr: str, lookup: Callable[[str], str]) -> int:
    """The value of ``expr``; ``lookup`` gives a variable's text (given a name,
    or a whole ``${…}`` form)."""
    forms = braced(expr)
    return _eval(_tree(expr), lambda name: lookup(forms[int(name.removeprefix(_BRACED))])
                 if name.startswith(_BRACED) else lookup(name))


def _eval(node: ast.expr, lookup: Callable[[str], str]) -> int:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        name = node.id.removeprefix(_ARG).replace("n", "#") if node.id.startswith(_ARG) else node.id
        text = lookup(name).strip() or "0"
        if not re.fullmatch(r"-?\d+", text):
            raise ValueError(f"{node.id}={text!r} is not a number")
        return int(text)
    if isinstance(node, ast.UnaryOp):
        value = _eval(node.operand, lookup)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.Compare):
        left = _eval(node.left, lookup)
        for op, right_node in zip(node.ops, node.comparators):
            right = _eval(right_node, lookup)
            if not _COMPARE[type(op)](left, right):
                return 0
            left = right
        return 1
    left, right = _eval(node.left, lookup), _eval(node.right, lookup)
    if isinstance(node.op, (ast.Div, ast.FloorDiv, ast.Mod)):
        if right == 0:
            raise ValueError("division by 0")
        quotient = abs(left) // abs(right) * (1 if (left < 0) == (right < 0) else -1)
        return quotient if not isinstance(node.op, ast.Mod) else left - quotient * right
    if isinstance(node.op, ast.Pow) and not 0 <= right <= 64:
        raise ValueError("exponent out of range (0 to 64)")
    return _BINARY[type(node.op)](left, right)
