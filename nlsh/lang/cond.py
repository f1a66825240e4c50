"""bash's ``[[ … ]]``: its items, as the lexer reads them, into a tree.

The lexer gives a ``[[``'s items as a tuple: an unquoted operator is a str
(``-f``, ``==``, ``&&``, ``!``, ``(``), an operand a Word; the operand after
``==``, ``=``, ``!=`` or ``=~`` is the str it is written as (a pattern or a
regular expression, whose quoted parts match literally, see
``lexer.pattern_segments``).
"""

from __future__ import annotations

import functools

from nlsh.lang.plan import Word

UNARY = frozenset(["-e", "-f", "-d", "-r", "-w", "-x", "-s", "-L", "-h", "-z", "-n", "-a", "-b", "-c", "-p", "-S", "-g", "-u", "-k", "-O", "-G", "-N", "-t", "-v"])
BINARY = frozenset(["==", "=", "!=", "<", ">", "=~", "-eq", "-ne", "-lt", "-le", "-gt", "-ge", "-nt", "-ot", "-ef"])
PATTERN = frozenset({"==", "=", "!=", "=~"})
OPERATORS = UNARY | BINARY | {"!", "&&", "||", "(", ")"}
FORM = "[[ EXPRESSION ]]: -f FILE, STRING == PATTERN, A -lt B, … joined by && || ! ( )"

Item = Word | str
# ("or"|"and", left, right), ("not", node), ("unary", op, Word),
# ("binary", op, Word, Word | str), ("word", Word)
Node = tuple


@functools.lru_cache(maxsize=256)
def tree(items: tuple[Item, ...]) -> Node:
    """The expression ``items`` make (once for a ``[[`` in a loop); ValueError saying what is wrong."""
    if not items:
        raise ValueError(f"an empty [[ ]] ({FORM})")
    parser = _Parser(items)
    node = parser.either()
    if parser.i < len(items):
        raise ValueError(f"unexpected {_shown(items[parser.i])!r} ({FORM})")
    return node


def _shown(item: Item) -> str:
    return item if isinstance(item, str) else item.source()


def _operand(item: Item) -> Word:
    return item if isinstance(item, Word) else Word.lit(item)


class _Parser:
    def __init__(self, items: tuple[Item, ...]) -> None:
        self.items = items
        self.i = 0

    def at(self, k: int = 0) -> Item | None:
        return self.items[self.i + k] if self.i + k < len(self.items) else None

    def either(self) -> Node:
        node = self.both()
        while self.at() == "||":
            self.i += 1
            node = ("or", node, self.both())
        return node

    def both(self) -> Node:
        node = self.negated()
        while self.at() == "&&":
            self.i += 1
            node = ("and", node, self.negated())
        return node

    def negated(self) -> Node:
        if self.at() == "!" and self.at(1) is not None:
            self.i += 1
            return ("not", self.negated())
        return self.primary()

    def primary(self) -> Node:
        first = self.at()
        if first is None:
            raise ValueError(f"the expression ends too soon ({FORM})")
        if first == "(":
            self.i += 1
            node = self.either()
            if self.at() != ")":
                raise ValueError("a '(' without its ')'")
            self.i += 1
            return node
        if first in ("&&", "||", ")"):
            raise ValueError(f"unexpected {first!r} ({FORM})")
        second = self.at(1)
        if first in UNARY and second is not None and second not in ("&&", "||", ")"):
            self.i += 2
            return ("unary", first, _operand(second))
        if isinstance(second, str) and second in BINARY:
            right = self.at(2)
            if right is None:
                raise ValueError(f"{second} needs something after it")
            self.i += 3
            return ("binary", second, _operand(first), right if second in PATTERN else _operand(right))
        self.i += 1
        return ("word", _operand(first))
