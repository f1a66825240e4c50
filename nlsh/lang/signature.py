"""Signatures: the parameters a command takes, and how words bind to them.

The parser uses a Signature to turn words into typed values; the printer
uses it to write a Call back in canonical form.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from nlsh.lang.plan import Glob, Lit, Word
from nlsh.lang.values import Duration, Size

# Types whose words keep wildcards (expanded against the file system when
# the call runs). Every other word type treats wildcards as plain text.
GLOBBING_TYPES = frozenset({"path", "word"})
WORD_TYPES = frozenset({"path", "word", "str", "pattern", "glob"})


def _count(text: str) -> int:
    """A plain count: digits only (``head -n -3`` and ``tail -n +3`` mean something else)."""
    if not text.isdigit():
        raise ValueError("expected a count")
    return int(text)


CONVERTERS = {"int": int, "count": _count, "float": float, "size": Size.parse, "duration": Duration.parse}


@dataclass(frozen=True)
class Param:
    """One parameter. No ``flags`` means positional.

    type: ``flag`` (bool), ``int``, ``count`` (digits only), ``float``, ``size``, ``duration``,
    ``choice`` (one of ``choices``), ``path`` / ``word`` (globbed),
    ``str`` / ``pattern`` (never globbed), ``command`` (words up to a
    ``;`` or ``+`` word, as find's ``-exec``), ``assignment`` (``NAME=VALUE``,
    ``NAME+=VALUE``, ``NAME[INDEX]=VALUE``, ``NAME=(WORD …)`` or ``NAME``: an Assignment when the call runs).
    """
    name: str
    type: str = "str"
    flags: tuple[str, ...] = ()
    help: str = ""
    required: bool = False
    variadic: bool = False
    choices: tuple[str, ...] = ()
    metavar: str = ""
    default: object = None
    # Effects the call gains when this parameter is given (``sed -i``: write).
    effects: tuple[str, ...] = ()
    # A path the call makes (``mkdir DIR``, ``cp … DEST``): it need not exist
    # before; every other path is one the call reads, changes or removes.
    creates: bool = False
    # Raises ValueError for a literal value the built-in cannot run (sed's
    # ``/^$/d``): a bad value, so a stand-in runs its program instead.
    check: Callable[[str], None] | None = field(default=None, compare=False)
    # An unquoted ``$x`` or ``$(…)`` in it splits into words, as in bash (False: case's WORD, which bash never splits).
    split: bool = True
    # False: a script's option the planner never writes (printf -v): left out
    # of its catalogue and grammar, as a command's ``planned=False`` is.
    planned: bool = True
    # Flags this one cancels when written after them, as GNU's last one wins
    # (``ls -a -A`` is -A, ``ls -S -t`` sorts by time).
    overrides: tuple[str, ...] = ()

    @property
    def positional(self) -> bool:
        return not self.flags

    @property
    def label(self) -> str:
        return self.metavar or self.name.upper()

    def convert(self, text: str) -> object:
        """Typed value of ``text`` (raises ValueError with a readable reason)."""
        if self.type == "choice":
            if text not in self.choices:
                raise ValueError(f"expected one of {', '.join(self.choices)}")
            return text
        conv = CONVERTERS.get(self.type)
        if conv is None:
            return Word.lit(text)
        try:
            return conv(text)
        except ValueError as e:
            if self.type in ("int", "float"):
                raise ValueError(f"expected a{'n' if self.type == 'int' else ''} {self.type}") from e
            raise

    def bind_word(self, word: Word) -> object:
        """The value stored in a Call for ``word``; non-literal words stay Words."""
        if self.check is not None and word.is_literal:
            self.check(word.literal)
        if self.type in ("command", "assignment"):
            return word
        if self.type in WORD_TYPES:
            if self.type in GLOBBING_TYPES or self.type == "glob" or not word.has_glob:
                return word             # (a "glob" keeps its wildcards for fnmatch: case's patterns)
            return Word(_merge(tuple(Lit(p.text) if isinstance(p, Glob) else p for p in word.parts)))
        if not word.is_literal:
            return word if not word.has_glob else Word(_merge(
                tuple(Lit(p.text) if isinstance(p, Glob) else p for p in word.parts)))
        return self.convert(word.literal)


def _merge(parts: tuple) -> tuple:
    out: list = []
    for p in parts:
        if out and isinstance(p, Lit) and isinstance(out[-1], Lit):
            out[-1] = Lit(out[-1].text + p.text)
        else:
            out.append(p)
    return tuple(out)


@dataclass(frozen=True)
class Signature:
    params: tuple[Param, ...] = ()
    # Unknown "-x" words become positional text (echo, printf, where).
    free_dashes: bool = False
    # Comparison words (``>``, ``<``) are arguments, not redirections (where).
    expression: bool = False
    # The parameter that ``-5`` binds to, as in ``head -5``.
    number_flag: str | None = None
    # A job modifier (limit, nice, batch): written before a chain, its flags
    # end at ``--`` or at the first word that is not a flag.
    modifier: bool = False
    # Flags keep the order they were written in and may repeat (find's
    # expression: ``-size +1k -size -32k``, ``-name a -o -name b``).
    ordered: bool = False
    # The built-in stands in for the program of the same name (GNU grep, sed,
    # ls …): arguments it does not take run that program instead.
    program: bool = False
    # Flags come only before the first other word, and ``--`` is a word
    # (bash's echo: ``echo a -n`` and ``echo --`` print them).
    flags_first: bool = False
    # A modifier that, written alone (no flags, no command), runs as a command (``limit``: how limits are held).
    alone: bool = False
    by_flag: dict = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        for p in self.params:
            for f in p.flags:
                self.by_flag[f] = p

    def flag(self, text: str) -> Param | None:
        return self.by_flag.get(text)

    @property
    def positionals(self) -> list[Param]:
        return [p for p in self.params if p.positional]

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    def usage(self, name: str) -> str:
        """The one-line usage the planner's catalogue shows."""
        parts = [name]
        for p in self.params:
            if not p.planned:
                continue
            if p.positional:
                s = p.label + ("..." if p.variadic else "")
                parts.append(s if p.required else f"[{s}]")
            elif self.ordered:
                continue
            elif p.type == "flag":
                parts.append(f"[{p.flags[0]}]")
            else:
                parts.append(f"[{p.flags[0]} {p.label}]")
        if self.ordered:
            parts.append("[EXPRESSION...]")
        return " ".join(parts)
