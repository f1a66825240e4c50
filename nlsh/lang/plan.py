"""The Plan: what a parsed command line and a model's answer both become.

A Plan is a list of chains run one after another (``;``), each chain is
pipelines joined by ``&&``/``||``, each pipeline is calls joined by ``|``.
Every value here is immutable and compares by value, so two plans with the
same meaning are equal.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Lit:
    """Literal text: never globbed, never expanded."""
    text: str


@dataclass(frozen=True)
class Glob:
    """Unquoted text holding wildcard characters (``*``, ``?``, ``[``)."""
    text: str


CASE_OPS = frozenset({"^^", "^", ",,", ","})
# ``${x:-WORD}`` and its kin: WORD is itself expanded (see lexer.operand_word)
WORD_OPS = frozenset({":-", "-", ":=", "=", ":+", "+", ":?", "?"})
ASSIGN_OPS = frozenset({":=", "="})


@dataclass(frozen=True)
class Var:
    """``$NAME`` or ``${NAME}``; ``?`` is the last exit status; ``1``…, ``@``,
    ``*`` and ``#`` are a function's arguments (``"$@"``: one word each). ``op`` changes
    the value as bash does, with ``arg`` after it: ``%``/``%%`` drop the
    shortest/longest suffix matching a wildcard pattern, ``#``/``##`` a prefix;
    ``/PAT/TEXT`` replaces the first match, ``//`` every match, ``/#`` one at
    the start, ``/%`` one at the end; ``:-`` gives a default (``:=`` also
    assigns it, ``:+`` an alternative, ``:?`` an error; without the colon only
    when unset, not when empty); ``:OFF:LEN`` a
    slice; ``^^``/``,,`` upper/lower case (``^``/``,`` the first letter);
    ``length`` is ``${#NAME}``. Unquoted, an empty value is no word at all
    (``grep $flags x f`` with flags empty is ``grep x f``), as in bash.

    ``index`` is an array's subscript as written (``${a[1]}``, ``${a[$i+1]}``,
    ``${m[key]}``); ``@`` or ``*`` stands for every element (``"${a[@]}"``: a
    word each, ``"${a[*]}"``: one word), with ``op`` applied to each;
    ``${#a[@]}`` counts them, ``${!a[@]}`` (op ``keys``) gives the indices;
    ``indirect``: ``${!NAME}`` is the variable that ``$NAME`` names (``a``,
    ``a[1]``, ``a[@]``), and ``${!NAME-WORD}`` and its kin apply the operation to it;
    ``${!PREFIX*}`` / ``${!PREFIX@}`` (op ``names``, index ``*``/``@``) the
    names of the variables that start with PREFIX."""
    name: str
    op: str = ""
    arg: str = ""
    quoted: bool = False    # written inside double quotes: never no word, and a ' in ``arg`` is a plain character
    index: str = ""
    indirect: bool = False

    def source(self) -> str:
        subscript = f"[{self.index}]" if self.index else ""
        if self.op == "length":
            return f"${{#{self.name}{subscript}}}"
        if self.indirect:
            return f"${{!{self.name}{self.op}{self.arg}}}"
        if self.op == "keys":
            return f"${{!{self.name}{subscript}}}"
        if self.op == "names":
            return f"${{!{self.name}{self.index}}}"
        braced = self.op or self.index or (len(self.name) > 1 and self.name.isdigit())     # $10 is ${1}0
        return f"${{{self.name}{subscript}{self.op}{self.arg}}}" if braced else f"${self.name}"

    @property
    def every(self) -> bool:
        """``${a[@]}``, ``${a[*]}``, ``$@`` and their kin: the elements, not one value."""
        return self.index in ("@", "*") or self.name in ("@", "*")


@dataclass(frozen=True)
class Tilde:
    """A leading unquoted ``~``: the user's home directory (``~NAME``: that user's)."""
    user: str = ""


@dataclass(frozen=True)
class Sub:
    """``$(…)``: the output of ``plan``, computed when the call runs (``<(…)``:
    the name of a file holding it, as bash's process substitution).

    ``text`` is what stands between the parentheses as written; ``quoted``
    (inside double quotes) keeps the output one word, else it splits on
    whitespace, as in bash."""
    text: str
    plan: Plan
    quoted: bool = False
    file: bool = False          # ``<(…)``: the word is a file holding the output

    def source(self) -> str:
        return f"<({self.text})" if self.file else f"$({self.text})"


@dataclass(frozen=True)
class Arith:
    """``$((…))``: integer arithmetic on numbers and variables, as in bash."""
    expr: str

    def source(self) -> str:
        return f"$(({self.expr}))"


@dataclass(frozen=True)
class ArrayLit:
    """``(WORD …)`` after ``NAME=`` or ``NAME+=``: an array's elements, as in
    bash; an item is ``(None, WORD)`` or, for ``[KEY]=WORD``, ``(KEY, WORD)``
    with KEY as written (an index for an array, a key for an associative one)."""
    items: tuple[tuple[str | None, Word], ...]

    def source(self) -> str:
        return "(" + " ".join((f"[{k}]=" if k is not None else "") + w.source() for k, w in self.items) + ")"


Part = Lit | Glob | Var | Tilde | Sub | Arith | ArrayLit


@dataclass(frozen=True)
class Word:
    """One shell word, before expansion."""
    parts: tuple[Part, ...]

    @classmethod
    def lit(cls, text: str) -> Word:
        return cls((Lit(text),))

    @property
    def is_literal(self) -> bool:
        return all(isinstance(p, Lit) for p in self.parts)

    @property
    def literal(self) -> str:
        """The text of a fully literal word (raises if it is not literal)."""
        if not self.is_literal:
            raise ValueError("word needs expansion")
        return "".join(p.text for p in self.parts)  # type: ignore[union-attr]

    @property
    def has_glob(self) -> bool:
        return any(isinstance(p, Glob) for p in self.parts)

    def source(self) -> str:
        """The word as a person would read it (unquoted, unexpanded)."""
        out = []
        for p in self.parts:
            if isinstance(p, (Lit, Glob)):
                out.append(p.text)
            elif isinstance(p, (Var, Sub, Arith, ArrayLit)):
                out.append(p.source())
            else:
                out.append("~")
        return "".join(out)

    @property
    def subs(self) -> list[Sub]:
        """The ``$(…)`` in the word (in an array's elements too)."""
        return [s for p in self.parts for s in ([p] if isinstance(p, Sub) else [
            s for _, w in p.items for s in w.subs] if isinstance(p, ArrayLit) else [])]


# Redirections that name no file.
STREAM_REDIRECTS = ("2>&1", ">&2")
NAMED_FD = r"\{[A-Za-z_][A-Za-z0-9_]*\}"      # {fd}> …: the shell picks the descriptor, $fd names it
_REDIRECT_OP = re.compile(rf"({NAMED_FD}|\d*)(.*)", re.DOTALL)


def split_redirect(op: str) -> tuple[str, str]:
    """A redirection's descriptor as written and its kind: ``3>`` → ("3", ">"),
    ``{fd}>&`` → ("{fd}", ">&"), ``2>>`` → ("2", ">>"), ``<`` → ("", "<")."""
    m = _REDIRECT_OP.match(op)
    return m.group(1), m.group(2)


@dataclass(frozen=True)
class Redirect:
    """``>`` / ``>>`` / ``<`` / ``2>`` / ``2>>`` with its target word, or ``2>&1``
    (stderr goes where stdout goes) or ``>&2`` (stdout goes to stderr), whose
    target is an empty word."""
    op: str
    target: Word


# A bound argument value: bool, int, float, Size, Duration, str (a choice),
# Word (expanded when the call runs) or a tuple of Words (variadic).
Value = object


BLOCKS = frozenset({"for", "for((", "while", "until", "if", "subshell", "group", "case", "function"})


@dataclass(frozen=True)
class Call:
    """One command with its arguments bound to the command's parameters.

    ``args`` holds ``(param name, value)`` pairs in declaration order and
    only for parameters that were given. An external program has a single
    parameter ``argv`` holding its words.
    """
    name: str
    args: tuple[tuple[str, Value], ...] = ()
    redirects: tuple[Redirect, ...] = ()
    external: bool = False
    direct: bool = False        # ``command NAME …``: the built-in or program, never a function of that name
    env: tuple[Word, ...] = ()  # ``NAME=VALUE COMMAND …``: variables set for this command alone
    # A stand-in for a program (grep, sort …): its words as written, so that the
    # kernel can run the program instead (nlsh.kernel.handover).
    source: tuple[Word, ...] = field(default=(), compare=False)

    def get(self, name: str, default: Value = None) -> Value:
        for key, value in self.args:
            if key == name:
                return value
        return default

    @property
    def is_loop(self) -> bool:
        """``for NAME in WORDS; do BODY; done`` (the parser builds it; ``for`` is syntax)."""
        return self.name == "for" and not self.external

    @property
    def is_block(self) -> bool:
        """A ``for``, ``while`` or ``until`` loop, an ``if``, a ``( … )`` or a ``{ …; }``: syntax holding plans."""
        return self.name in BLOCKS and not self.external

    def words(self) -> list[Word]:
        """Every word of the call: its NAME=VALUE words, arguments, option values, redirect targets."""
        out = [*self.env, *(r.target for r in self.redirects)]
        for _, value in self.args:
            for v in value if isinstance(value, tuple) else (value,):
                if isinstance(v, Word):
                    out.append(v)
        return out

    def nested(self) -> list[Plan]:
        """The plans this call runs: its ``$(…)`` words, a block's parts."""
        return [s.plan for w in self.words() for s in w.subs] + [
            v for _, value in self.args for v in (value if isinstance(value, tuple) else (value,))
            if isinstance(v, Plan)]


@dataclass(frozen=True)
class Pipeline:
    calls: tuple[Call, ...]
    negated: bool = False       # ``! PIPELINE``: its status turned over (0 ↔ 1), as in bash


@dataclass(frozen=True)
class Chain:
    """Pipelines joined by ``&&`` / ``||``: ``ops[i]`` joins pipelines i and i+1.

    ``modifiers`` are the job settings written before the chain
    (``limit --time 10s --``, ``nice -n 5``, ``batch``), as Calls.
    """
    pipelines: tuple[Pipeline, ...]
    ops: tuple[str, ...] = ()
    background: bool = False
    modifiers: tuple[Call, ...] = ()


@dataclass(frozen=True)
class CaseEnd:
    """In a case's branches, after a branch's Plan: ``;&`` (run the next branch's
    commands too) or ``;;&`` (go on testing the patterns after it); ``;;`` has none."""
    op: str


@dataclass(frozen=True)
class Plan:
    chains: tuple[Chain, ...] = field(default_factory=tuple)

    @classmethod
    def of(cls, call: Call) -> Plan:
        """The plan of one call."""
        return cls((Chain((Pipeline((call,)),)),))

    @property
    def calls(self) -> list[Call]:
        """Every call the plan may run, those inside ``$(…)`` after the call they feed."""
        out = []
        for call in (c for ch in self.chains for p in ch.pipelines for c in p.calls):
            out.append(call)
            for inner in call.nested():
                out.extend(inner.calls)
        return out
