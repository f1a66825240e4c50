"""Plan → its one canonical text. ``parse(text(plan)) == plan`` holds."""

from __future__ import annotations

from collections.abc import Callable

from nlsh.lang.lexer import GLOB_CHARS, SPECIAL
from nlsh.lang.plan import (
    STREAM_REDIRECTS,
    Arith,
    ArrayLit,
    Call,
    CaseEnd,
    Chain,
    Glob,
    Lit,
    Pipeline,
    Plan,
    Sub,
    Tilde,
    Var,
    Word,
)
from nlsh.lang.signature import Signature

_COMPARISON_WORDS = frozenset({"<", ">", "<=", ">="})


def text(plan: Plan, signature: Callable[[str], Signature | None]) -> str:
    """The canonical text of ``plan``; ``signature`` looks commands up by name."""
    out = []
    for i, chain in enumerate(plan.chains):
        if i:
            out.append(" " if plan.chains[i - 1].background else "; ")
        out.append(chain_text(chain, signature))
    return "".join(out)


def chain_text(chain: Chain, signature: Callable[[str], Signature | None]) -> str:
    parts = [_modifier_text(m, signature) for m in chain.modifiers]
    parts.append(pipeline_text(chain.pipelines[0], signature))
    for op, p in zip(chain.ops, chain.pipelines[1:]):
        parts.append(f" {op} {pipeline_text(p, signature)}")
    return "".join(parts) + (" &" if chain.background else "")


def _modifier_text(call: Call, signature: Callable[[str], Signature | None]) -> str:
    words = call_text(call, signature)
    return words + (" -- " if call.args else " ")


def pipeline_text(pipeline: Pipeline, signature: Callable[[str], Signature | None]) -> str:
    return ("! " if pipeline.negated else "") + " | ".join(call_text(c, signature) for c in pipeline.calls)


def _if_text(call: Call, signature: Callable[[str], Signature | None]) -> str:
    """``if C; then B`` and its ``elif``/``else`` parts, without the closing ``fi``."""
    out = f"if {text(call.get('cond'), signature)}; then {text(call.get('then'), signature)}"
    other = call.get("else")
    if other is None:
        return out
    only = other.chains[0] if len(other.chains) == 1 else None
    if only is not None and not only.modifiers and len(only.pipelines) == 1 and len(only.pipelines[0].calls) == 1:
        inner = only.pipelines[0].calls[0]
        if inner.is_block and inner.name == "if" and not inner.redirects:
            return f"{out}; el{_if_text(inner, signature)}"
    return f"{out}; else {text(other, signature)}"


def _case_text(call: Call, signature: Callable[[str], Signature | None]) -> str:
    """``case WORD in A|B) COMMANDS;; … esac``; a first pattern ``esac`` goes after ``(``."""
    out, patterns = [f"case {quote(call.get('word'))} in"], []
    for item in call.get("branches"):
        if isinstance(item, Word):
            patterns.append(quote(item))
            continue
        if isinstance(item, CaseEnd):       # the branch before it ends so, not with ;;
            out[-1] = out[-1].removesuffix(";;") + item.op
            continue
        opening = "(" if patterns[0] == "esac" else ""
        body = text(item, signature)
        out.append(f"{opening}{'|'.join(patterns)}) {body};;" if body else f"{opening}{'|'.join(patterns)}) ;;")
        patterns = []
    return " ".join(out + ["esac"])


def call_text(call: Call, signature: Callable[[str], Signature | None]) -> str:
    if call.is_loop:
        items = "".join(" " + quote(w) for w in call.get("items", ()))
        words = [f"for {call.get('name')} in{items}; do {text(call.get('body'), signature)}; done"]
    elif call.is_block and call.name == "subshell":
        words = [f"({text(call.get('body'), signature)})"]
    elif call.is_block and call.name == "group":
        words = [f"{{ {text(call.get('body'), signature)}; }}"]
    elif call.is_block and call.name == "if":
        words = [_if_text(call, signature) + "; fi"]
    elif call.is_block and call.name == "case":
        words = [_case_text(call, signature)]
    elif call.is_block and call.name == "for((":
        header = "; ".join(call.get(k).strip() for k in ("init", "cond", "step"))
        words = [f"for (({header})); do {text(call.get('body'), signature)}; done"]
    elif call.name == "((" and not call.external:
        words = [f"(({call.get('expr')}))"]
    elif call.name == "[[" and not call.external:
        words = ["[[", *(_cond_item(item) for item in call.get("expr")), "]]"]
    elif call.is_block and call.name == "function":
        words = [f"{call.get('name')}() {text(call.get('body'), signature)}"]
    elif call.is_block:
        words = [f"{call.name} {text(call.get('cond'), signature)}; do {text(call.get('body'), signature)}; done"]
    elif call.external:
        words = [quote(w, dashes_ok=True) for w in call.get("argv", ())]
    else:
        sig = signature(call.name)
        if sig is None:
            raise KeyError(f"unknown command {call.name}")
        words = [call.name]
        for name, value in call.args:
            param = sig.param(name)
            if param.positional:
                values = value if param.variadic else (value,)
                words.extend(_value_text(v, sig.expression) for v in values)
            elif param.type == "flag":
                words.append(quote(Word.lit(param.flags[0]), dashes_ok=True))
            elif param.type == "command":
                words.append(f"{param.flags[0]} {' '.join(quote(w, dashes_ok=True) for w in value)}")
            else:
                words.append(f"{param.flags[0]} {_value_text(value, False, option=True)}")
    for r in call.redirects:
        words.append(r.op if r.op in STREAM_REDIRECTS else f"{r.op}{quote(r.target)}" if r.op.endswith("&")
                     else f"{r.op} {quote(r.target)}")
    return " ".join([*map(_assignment_text, call.env), *(["command", *words] if call.direct else words)])


def _assignment_text(word: Word) -> str:
    """``NAME=VALUE`` with only VALUE quoted (``X='a b'``), which reads back as an assignment."""
    first = word.parts[0]
    name, eq, value = first.text.partition("=")
    rest = ((Lit(value),) if value else ()) + word.parts[1:]
    return name + eq + quote(Word(rest))


def _cond_item(item: object) -> str:
    """An item of ``[[ … ]]``: an operator or a pattern as written, an operand
    quoted (in quotes where it would read as an operator: ``'=='``)."""
    if isinstance(item, str):
        return item
    from nlsh.lang.cond import OPERATORS
    written = quote(item)
    return f"'{written}'" if written in OPERATORS or written == "]]" else written


def _value_text(value: object, expression: bool, option: bool = False) -> str:
    if isinstance(value, Word):
        if expression and value.is_literal and value.literal in _COMPARISON_WORDS:
            return value.literal
        return quote(value, dashes_ok=option)
    if isinstance(value, str):
        if expression and value in _COMPARISON_WORDS:
            return value
        return quote(Word.lit(value), dashes_ok=option)
    return str(value)


def quote(word: Word, dashes_ok: bool = False) -> str:
    """Shell text for ``word`` that the lexer reads back as the same parts."""
    parts = word.parts
    if _reads_better_double_quoted(word):
        return _double_quoted(parts)
    out = []
    for i, p in enumerate(parts):
        if isinstance(p, Lit):
            near_glob = (i > 0 and isinstance(parts[i - 1], Glob)) or (
                i + 1 < len(parts) and isinstance(parts[i + 1], Glob))
            body = p.text
            if i > 0 and isinstance(parts[i - 1], Tilde) and body.startswith("/"):
                out.append("/")             # unquoted: a quoted / would keep ~ from expanding
                body = body[1:]
            if body or not out or isinstance(parts[i - 1], (Var, Sub, Arith)):    # $x'': the marker stays
                out.append(_lit(body, first=(i == 0), near_glob=near_glob, dashes_ok=dashes_ok))
        elif isinstance(p, Glob):
            # at a word's start, # would begin a comment, ~ the home directory, - a flag
            lead = i == 0 and p.text[0] in "#~" or i == 0 and p.text[0] == "-" and not dashes_ok
            out.append("''" + p.text if lead else p.text)
        elif isinstance(p, (Var, Sub, Arith)):
            text = _expansion(p, parts[i + 1] if i + 1 < len(parts) else None)
            out.append(f'"{text}"' if isinstance(p, (Sub, Var)) and p.quoted else text)
        elif isinstance(p, Tilde):
            out.append("~" + p.user)
        elif isinstance(p, ArrayLit):
            out.append("(" + " ".join((f"[{k}]=" if k is not None else "") + quote(w) for k, w in p.items) + ")")
    return "".join(out)


def _reads_better_double_quoted(word: Word) -> bool:
    """``"n: $(ls | wc -l)"``, ``"[$f]"``, ``"$f.bak"``: a word whose variables
    and ``$(…)`` were all written in double quotes is written as one
    double-quoted string; one with an unquoted ``$x`` is written part by part."""
    parts = word.parts
    if any(isinstance(p, (Glob, Tilde)) or isinstance(p, (Sub, Var)) and not p.quoted for p in parts):
        return False
    return any(isinstance(p, (Sub, Var)) for p in parts)


def _double_quoted(parts: tuple) -> str:
    """A word holding ``"$(…)"`` as one double-quoted string: ``"n: $(ls | wc -l)"``."""
    out = []
    for i, p in enumerate(parts):
        if isinstance(p, Lit):
            out.append("".join("\\" + c if c in '"\\$`' else c for c in p.text))
        else:
            out.append(_expansion(p, parts[i + 1] if i + 1 < len(parts) else None))
    return '"' + "".join(out) + '"'


def _expansion(part: Var | Sub | Arith, after: object) -> str:
    """``$x``, ``$(…)``, ``$((…))``; ``${x}`` when a name character follows the variable."""
    glued = isinstance(after, (Lit, Glob)) and after.text[:1] and (after.text[0].isalnum() or after.text[0] == "_")
    if isinstance(part, Var) and glued and part.name not in ("?", "@", "*", "#", "$", "!") and not part.op:
        return f"${{{part.name}}}"
    return part.source()


def _lit(text: str, first: bool, near_glob: bool, dashes_ok: bool) -> str:
    safe = (
        text
        and not near_glob
        and not any(c in SPECIAL or c in GLOB_CHARS or not c.isprintable() for c in text)
        and (text == "{}" or "{" not in text and "}" not in text)      # braces would expand
        and not (first and text[0] in "~-" and not (dashes_ok and text[0] == "-"))
    )
    if safe:
        return text
    if any(_control(c) for c in text):       # a tab, a newline: $'\t', as bash writes them
        return "$'" + "".join(_C_WRITTEN.get(c) or (f"\\x{ord(c):02x}" if _control(c) else c) for c in text) + "'"
    return "'" + text.replace("'", "'\\''") + "'"


_C_WRITTEN = {"\n": "\\n", "\t": "\\t", "\r": "\\r", "\x1b": "\\e", "\\": "\\\\", "'": "\\'"}


def _control(c: str) -> bool:
    return c < " " or c == "\x7f"
