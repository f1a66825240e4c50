"""Parse a line into a Plan, binding every call's words to its signature."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Protocol

from nlsh.lang.errors import ArgumentError, ParseError, did_you_mean
from nlsh.lang.lexer import (
    ASSIGNMENT_START,
    BLOCK_CLOSERS,
    BLOCK_INNER,
    BLOCK_OPENERS,
    CASE_ENDS,
    COMMAND_FOLLOWS,
    COMMAND_STARTS,
    FD_REDIRECT,
    Token,
    check_arithmetic,
    tokenize,
)
from nlsh.lang.plan import (
    BLOCKS,
    NAMED_FD,
    ArrayLit,
    Call,
    CaseEnd,
    Chain,
    Glob,
    Lit,
    Pipeline,
    Plan,
    Redirect,
    Sub,
    Word,
)
from nlsh.lang.signature import Param, Signature

_NUMBER = re.compile(r"^-\d+(\.\d+)?$")
_REDIRECTS = (">", ">>", ">|", "1>", "1>>", "<", "<<<", "2>", "2>>", "2>&1", "&>", "&>>", ">&2", "1>&2")


_NAMED_FD = re.compile(NAMED_FD)


def _is_redirect(op: str) -> bool:
    return op in _REDIRECTS or FD_REDIRECT.fullmatch(op) is not None or _FD_HERE.fullmatch(op) is not None


_FD_HERE = re.compile(r"\d+<<<")       # 3<<<WORD, 3<<END
_COMPARISONS = ("<", ">", "<=", ">=")
_OPERATOR_WORDS = ("(", ")", "!")


class CommandLookup(Protocol):
    """What the parser needs to know about commands."""

    def signature(self, name: str) -> Signature | None: ...
    def is_program(self, name: str) -> bool: ...
    def names(self) -> list[str]: ...


class _WithFunctions:
    """``commands`` and the shell functions: those of the shell, and those the
    line defines as it goes (``f() { …; }; f``). A function call is parsed as a
    program's (its words as they are); the shell runs the function."""

    def __init__(self, commands: CommandLookup, functions: Iterable[str], unknown_runs: bool = False) -> None:
        self.plain = commands               # without the functions (for ``command NAME …``)
        self.defined = set(functions)
        self.unknown_runs = unknown_runs    # an unknown command word is a program that may not be there

    def signature(self, name: str) -> Signature | None:
        return None if name in self.defined else self.plain.signature(name)

    def is_program(self, name: str) -> bool:
        return name in self.defined or self.plain.is_program(name)

    def names(self) -> list[str]:
        return [*self.plain.names(), *sorted(self.defined)]


def parse(line: str, commands: CommandLookup, aliases: Mapping[str, str] | None = None,
          functions: Iterable[str] = (), *, unknown_runs: bool = False) -> Plan:
    """Parse ``line``, where ``functions`` are the shell's. Raises ParseError
    naming the offending token and column. With ``unknown_runs`` (a script's
    line, as bash reads it) a command word that names nothing known is a program
    call that fails when it runs (127, "command not found"), not an error of the
    whole line: what comes before it runs."""
    commands = _WithFunctions(commands, functions, unknown_runs)
    tokens = tokenize(line, lambda source: _nested(source, commands, aliases))
    return _plan(_loops(tokens, commands, aliases or {}), commands, aliases, line)


def _plan(tokens: list[Token], commands: CommandLookup, aliases: Mapping[str, str] | None, line: str) -> Plan:
    chains: list[Chain] = []
    for items, background in _split_chains(tokens, line):
        modifiers, items = _modifiers(items, commands)
        pipelines, ops = [], []
        for group, op in _split(items, ("&&", "||"), line):
            negated = len(group) > 1 and _word_at(group[0]) == "!"      # ! PIPELINE
            if negated:
                group = group[1:]
            pipelines.append(Pipeline(tuple(
                _call(part, commands, aliases or {}, line) for part, _ in _split(group, ("|",), line)), negated))
            if op:
                ops.append(op)
        chains.append(Chain(tuple(pipelines), tuple(ops), background, modifiers))
    return Plan(tuple(chains))


def _nested(source: str, commands: CommandLookup, aliases: Mapping[str, str] | None) -> Plan:
    """The plan of a ``$(…)``: it runs to completion, so no ``&`` inside."""
    plan = parse(source, commands, aliases)
    if any(chain.background for chain in plan.chains):
        raise ParseError("a background job (&) cannot give its output", source.index("&"))
    _no_modifiers(plan, 0)
    return plan


def _no_modifiers(plan: Plan, column: int) -> None:
    """A plan run inside a line (``$(…)``, a loop's body) is part of the line's
    job, so limit, nice, batch and time, which set up a job, cannot stand in it."""
    if any(chain.modifiers for chain in plan.chains):
        raise ParseError("limit, nice, batch and time apply to a whole line: put them at its start", column)


def _keyword(tok: Token, word: str) -> bool:
    return tok.kind == "word" and not tok.flag_like and tok.value == Word.lit(word)


def _starts_command(previous: Token | None) -> bool:
    """Whether the token after ``previous`` is in command position (where ``for`` is a keyword)."""
    return previous is None or (previous.kind == "op" and previous.value in COMMAND_STARTS)




def _word_at(tok: Token) -> str | None:
    """The keyword ``tok`` may be: a plain unquoted word."""
    return tok.value.literal if tok.kind == "word" and not tok.flag_like and tok.value.is_literal else None


def _loops(tokens: list[Token], commands: CommandLookup, aliases: Mapping[str, str]) -> list[Token]:
    """Each ``for``/``while``/``until`` loop and each ``if`` becomes one ``block`` token holding its Call."""
    out: list[Token] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        at_start = _starts_command(out[-1] if out else None) or (      # `! { …; }`, `! [[ … ]]`
            bool(out) and out[-1].kind == "word" and _word_at(out[-1]) == "!"
            and _starts_command(out[-2] if len(out) > 1 else None))
        word = _word_at(tok)
        if word in BLOCK_OPENERS and (at_start or _only_modifiers(out, commands)) and (
                word != "case" or _case_header(tokens, i)):
            block = {"for": _loop, "if": _if, "{": _group, "case": _case}.get(word, _while)
            call, end = block(tokens, i, commands, aliases)
            out.append(Token("block", call, tok.column, tokens[end - 1].column + tokens[end - 1].length - tok.column))
            i = end
            continue
        if (word == "function" or _function_header(tokens, i)) and (at_start or _only_modifiers(out, commands)):
            call, end = _function(tokens, i, commands, aliases)
            out.append(Token("block", call, tok.column, tokens[end - 1].column + tokens[end - 1].length - tok.column))
            i = end
            continue
        if tok.kind == "cond":
            if not (at_start or _only_modifiers(out, commands)):
                raise ParseError("syntax error near '[[' ([[ … ]] must start the command)", tok.column, 2,
                                 status=_after_assignment(out))
            from nlsh.lang.cond import tree
            try:
                tree(tok.value)
            except ValueError as e:
                raise ParseError(f"[[: {e}", tok.column, tok.length) from None
            out.append(Token("block", Call("[[", (("expr", tok.value),)), tok.column, tok.length))
            i += 1
            continue
        if tok.kind == "arith":
            if not (at_start or _only_modifiers(out, commands)):
                raise ParseError("syntax error near '((' ((( EXPR )) must start the command)", tok.column, 2,
                                 status=_after_assignment(out))
            out.append(Token("block", Call("((", (("expr", _checked(tok.value, tok)),)), tok.column, tok.length))
            i += 1
            continue
        if tok.kind == "op" and tok.value == "(" and (at_start or _only_modifiers(out, commands)):
            call, end = _subshell(tokens, i, commands, aliases)
            out.append(Token("block", call, tok.column, tokens[end - 1].column + 1 - tok.column))
            i = end
            continue
        if tok.kind == "op" and tok.value in ("(", ")"):
            raise ParseError(f"unsupported character {tok.value!r} here (quote it to use it literally; "
                             "( … ) starts a command)", tok.column)
        if at_start and word in BLOCK_INNER:
            opener = ("'if'" if word in ("then", "elif", "else", "fi") else "'{'" if word == "}"
                      else "'case'" if word == "esac" else "'for' or 'while'")
            raise ParseError(f"syntax error near {tok.text!r} (no {opener} before it)", tok.column, tok.length)
        out.append(tok)
        i += 1
    return out


def _block_end(tokens: list[Token], start: int, stops: tuple[str, ...], ops: tuple[str, ...] = ()) -> int:
    """Where the first of ``stops`` in command position (or of the operators
    ``ops``), outside any block opened after ``start``, is (``len(tokens)`` if nowhere)."""
    depth = 0
    for k, at_start in zip(range(start, len(tokens)), _command_positions(tokens[start:])):
        if depth == 0 and tokens[k].kind == "op" and tokens[k].value in ops:
            return k
        if not at_start:
            continue
        word = _word_at(tokens[k])
        if depth == 0 and word in stops:
            return k
        if word in BLOCK_OPENERS and (word != "case" or _case_header(tokens, k)):
            depth += 1
        elif word in BLOCK_CLOSERS:
            depth -= 1
    return len(tokens)


def _keyword_at(tokens: list[Token], start: int, stops: tuple[str, ...], head: Token, missing: str) -> int:
    """``_block_end``, which must find one of ``stops``: else "HEAD: ``missing``"."""
    k = _block_end(tokens, start, stops)
    if k == len(tokens):
        raise ParseError(f"{head.text}: {missing}", head.column, head.length)
    return k


def _command_positions(tokens: list[Token]) -> list[bool]:
    """For each token, whether a command starts there: first, after ``;``, ``|``,
    ``&&``…, a case's ``;;`` and ``)``, after a ``do``, ``then`` or ``else``
    that starts one itself, and after ``function NAME`` (its ``{``)."""
    out, at_start = [], True
    for k, tok in enumerate(tokens):
        out.append(at_start)
        named = k > 0 and out[k - 1] and _word_at(tokens[k - 1]) == "function"     # `function NAME {`
        closes = out[k] and _word_at(tok) == "}"          # `if { …; } then`: a keyword may follow a group
        leads = at_start and _word_at(tok) in ("if", "elif", "while", "until", "!")    # `if { …; } then`, `! { …; }`
        at_start = _starts_command(tok) or at_start and _word_at(tok) in COMMAND_FOLLOWS or named or closes or leads
    return out


def _part(tokens: list[Token], start: int, end: int, head: Token, expected: str,
          commands: CommandLookup, aliases: Mapping[str, str]) -> Plan:
    """The plan of ``tokens[start:end]``, a block's condition or body, which ends in ``;``."""
    what = head.text
    part = tokens[start:end]
    amp = next((t for t in part if t.kind == "op" and t.value == "&"), None)
    if amp is not None:
        inside = "an if" if what in ("if", "elif", "else") else "a loop"
        raise ParseError(f"{what}: a background job (&) inside {inside} is not supported", amp.column)
    grouped = len(part) > 1 and _word_at(part[-1]) == "}"     # `if { …; } then`: the group ends it
    if not grouped and (not part or part[-1].kind != "op" or part[-1].value != ";" or len(part) == 1):
        at = part[-1] if part else tokens[min(end, len(tokens) - 1)]
        raise ParseError(f"{what}: expected {expected}", at.column, at.length)
    plan = _plan(_loops(part if grouped else part[:-1], commands, aliases), commands, aliases, "")
    _no_modifiers(plan, part[0].column)
    return plan


def _group(tokens: list[Token], i: int, commands: CommandLookup,
           aliases: Mapping[str, str]) -> tuple[Call, int]:
    """``{ COMMANDS; }``: the Call and where it ends."""
    head = tokens[i]
    end = _keyword_at(tokens, i + 1, ("}",), head, "missing '; }'")
    return Call("group", (("body", _part(tokens, i + 1, end, head, "COMMANDS; before '}'", commands, aliases)),)), \
        end + 1


def _subshell(tokens: list[Token], i: int, commands: CommandLookup,
              aliases: Mapping[str, str]) -> tuple[Call, int]:
    """``( COMMANDS )``: the Call and where it ends."""
    head, depth, cases = tokens[i], 0, 0
    for k, at_start in zip(range(i, len(tokens)), _command_positions(tokens[i:])):
        word = _word_at(tokens[k]) if at_start else None
        cases += (word == "case" and _case_header(tokens, k)) - (word == "esac" and cases > 0)
        if tokens[k].kind == "op" and tokens[k].value in ("(", ")") and not cases:   # a case's `x)` is no paren
            depth += 1 if tokens[k].value == "(" else -1
            if depth == 0:
                break
    else:
        raise ParseError("( without its )", head.column)
    body = tokens[i + 1:k]
    if body and body[-1].kind == "op" and body[-1].value == ";":
        body = body[:-1]
    if not body:
        raise ParseError("empty ( )", head.column)
    amp = next((t for t in body if t.kind == "op" and t.value == "&"), None)
    if amp is not None:
        raise ParseError("a background job (&) inside ( … ) is not supported", amp.column)
    plan = _plan(_loops(body, commands, aliases), commands, aliases, "")
    _no_modifiers(plan, body[0].column)
    return Call("subshell", (("body", plan),)), k + 1


def _while(tokens: list[Token], i: int, commands: CommandLookup,
           aliases: Mapping[str, str]) -> tuple[Call, int]:
    """``while|until CONDITION; do BODY; done``: the Call and where it ends."""
    head = tokens[i]
    do = _keyword_at(tokens, i + 1, ("do",), head, f"expected '; do' after the condition ({head.text} COMMANDS; "
                                                   "do …; done)")
    cond = _part(tokens, i + 1, do, head, "CONDITION; before 'do'", commands, aliases)
    done = _keyword_at(tokens, do + 1, ("done",), head, "missing '; done'")
    body = _part(tokens, do + 1, done, head, "COMMANDS; before 'done'", commands, aliases)
    return Call(head.text, (("cond", cond), ("body", body))), done + 1


def _if(tokens: list[Token], i: int, commands: CommandLookup,
        aliases: Mapping[str, str]) -> tuple[Call, int]:
    """``if C; then B; [elif C; then B;]… [else B;] fi`` (an ``elif`` is an ``if`` in the else part)."""
    head = tokens[i]
    then = _keyword_at(tokens, i + 1, ("then",), head, "expected '; then' after the condition (if COMMANDS; then …; fi)")
    cond = _part(tokens, i + 1, then, head, "CONDITION; before 'then'", commands, aliases)
    stop = _keyword_at(tokens, then + 1, ("elif", "else", "fi"), head, "missing '; fi'")
    body = _part(tokens, then + 1, stop, head, f"COMMANDS; before '{tokens[stop].text}'", commands, aliases)
    args: tuple[tuple[str, object], ...] = (("cond", cond), ("then", body))
    word = _word_at(tokens[stop])
    if word == "elif":
        inner, end = _if(tokens, stop, commands, aliases)
        return Call("if", args + (("else", Plan.of(inner)),)), end
    if word == "else":
        fi = _keyword_at(tokens, stop + 1, ("fi",), head, "missing '; fi'")
        args += (("else", _part(tokens, stop + 1, fi, tokens[stop], "COMMANDS; before 'fi'", commands, aliases)),)
        stop = fi
    return Call("if", args), stop + 1


_FUNCTION_NAME = re.compile(r"[A-Za-z_][\w.-]*$")
_FUNCTION_FORM = "NAME() { COMMANDS; }"


def _function_header(tokens: list[Token], i: int) -> bool:
    """Whether ``NAME ( )`` starts at ``i``."""
    return (i + 2 < len(tokens) and _word_at(tokens[i]) is not None and _FUNCTION_NAME.match(tokens[i].text) is not None
            and all(t.kind == "op" and t.value == v for t, v in zip(tokens[i + 1:i + 3], "()")))


def _function(tokens: list[Token], i: int, commands: CommandLookup,
              aliases: Mapping[str, str]) -> tuple[Call, int]:
    """``NAME() { COMMANDS; }`` or ``function NAME [()] { COMMANDS; }`` (or a
    ``( … )`` body): the Call that defines the function, and where it ends."""
    head = tokens[i]
    if _word_at(head) == "function":
        name = tokens[i + 1] if i + 1 < len(tokens) else None
        if name is None or _word_at(name) is None or not _FUNCTION_NAME.match(name.text):
            raise ParseError(f"function: expected a name ({_FUNCTION_FORM})", head.column, head.length)
        k = i + 4 if _function_header(tokens, i + 1) else i + 2
    else:
        name, k = head, i + 3
    while k < len(tokens) and tokens[k].kind == "op" and tokens[k].value == ";":
        k += 1                                          # the body may start on the next line
    opener = tokens[k] if k < len(tokens) else None
    if isinstance(commands, _WithFunctions):
        commands.defined.add(name.text)               # it may call itself, and later words of the line it
    if opener is not None and _word_at(opener) == "{":
        block, end = _group(tokens, k, commands, aliases)
    elif opener is not None and opener.kind == "op" and opener.value == "(":
        block, end = _subshell(tokens, k, commands, aliases)
    else:
        at = opener or tokens[-1]
        raise ParseError(f"{name.text}: expected {{ COMMANDS; }} after {name.text}() ({_FUNCTION_FORM})",
                         at.column, at.length)
    return Call("function", (("name", name.text), ("body", Plan.of(block)))), end


def _case_header(tokens: list[Token], i: int) -> bool:
    """Whether ``case`` at ``i`` starts ``case WORD in``, not a sentence ("case insensitive …")."""
    return i + 2 < len(tokens) and tokens[i + 1].kind == "word" and _word_at(tokens[i + 2]) == "in"


_CASE_FORM = "case WORD in PATTERN|PATTERN) COMMANDS;; … esac"


def _case(tokens: list[Token], i: int, commands: CommandLookup,
          aliases: Mapping[str, str]) -> tuple[Call, int]:
    """``case WORD in PATTERN[|PATTERN]…) COMMANDS;; … esac``: the Call (its
    branches one tuple: each branch's pattern words, then its Plan) and where it ends."""
    head = tokens[i]
    branches: list = []
    k = i + 3
    while True:
        while k < len(tokens) and tokens[k].kind == "op" and tokens[k].value == ";":
            k += 1
        if k == len(tokens):
            raise ParseError("case: missing 'esac'", head.column, head.length)
        if _word_at(tokens[k]) == "esac":
            break
        if tokens[k].kind == "op" and tokens[k].value == "(":
            k += 1
        while True:                                     # PATTERN | PATTERN … )
            pattern = tokens[k] if k < len(tokens) else None
            if pattern is None or pattern.kind != "word":
                at = pattern or tokens[-1]
                raise ParseError(f"case: expected a pattern ({_CASE_FORM})", at.column, at.length)
            branches.append(pattern.value)
            after = tokens[k + 1] if k + 1 < len(tokens) else None
            if after is None or after.kind != "op" or after.value not in ("|", ")"):
                at = after or pattern
                raise ParseError(f"case: expected ')' after the pattern ({_CASE_FORM})", at.column, at.length)
            k += 2
            if after.value == ")":
                break
        stop = _block_end(tokens, k, ("esac",), CASE_ENDS)     # the branch ends at its ;; (;& ;;&) or the esac
        if stop == len(tokens):
            raise ParseError("case: missing 'esac'", head.column, head.length)
        branches.append(_branch(tokens[k:stop], commands, aliases))
        if tokens[stop].kind == "op" and tokens[stop].value != ";;":
            branches.append(CaseEnd(tokens[stop].value))
        k = stop + (_word_at(tokens[stop]) != "esac")
    return Call("case", (("word", one_word(tokens[i + 1].value)), ("branches", tuple(branches)))), k + 1


def _branch(part: list[Token], commands: CommandLookup, aliases: Mapping[str, str]) -> Plan:
    """A case branch's commands (none is fine, as in bash)."""
    while part and part[-1].kind == "op" and part[-1].value == ";":
        part = part[:-1]
    while part and part[0].kind == "op" and part[0].value == ";":
        part = part[1:]
    if not part:
        return Plan(())
    amp = next((t for t in part if t.kind == "op" and t.value == "&"), None)
    if amp is not None:
        raise ParseError("case: a background job (&) inside a case is not supported", amp.column)
    plan = _plan(_loops(part, commands, aliases), commands, aliases, "")
    _no_modifiers(plan, part[0].column)
    return plan


def _only_modifiers(before: list[Token], commands: CommandLookup) -> bool:
    """Whether the command written before this point is only job modifiers
    (``limit --time 5s -- for …``), so a command starts here."""
    start = max((k + 1 for k, t in enumerate(before) if t.kind == "op" and t.value in COMMAND_STARTS), default=0)
    rest = before[start:]
    while rest:
        span = _modifier_span(rest, commands)
        if span is None:
            return False
        rest = rest[span[1]:]
    return start < len(before)


def open_loops(line: str, first_word_opens: bool = False) -> int:
    """How many blocks of ``line`` still wait for their end (the REPL goes on to
    the next line while some do): each ``do`` and ``then`` opens one, each
    ``done``, ``fi`` and ``elif`` closes one; so does a ``for NAME in WORDS``,
    or a ``while``, ``until``, ``if`` or ``elif`` after an operator, still
    without its ``do`` or ``then``. A ``while``, ``until`` or ``if`` that
    starts the line counts only with ``first_word_opens``: a sentence may start
    with them ("if there are logs, compress them"). So does each ``case … in``
    until its ``esac``, and each ``(`` until its ``)`` (a case's ``x)`` is none)."""
    tokens = tokenize(line)
    depth = headers = parens = cases = 0
    for k, (tok, at_start) in enumerate(zip(tokens, _command_positions(tokens))):
        if tok.kind == "op" and tok.value in ("(", ")") and not cases:
            parens += 1 if tok.value == "(" else -1
        if not at_start:
            continue
        word = _word_at(tok)
        for_header = word == "for" and k + 2 < len(tokens) and tokens[k + 1].text.isidentifier() \
            and _word_at(tokens[k + 2]) == "in" or word == "for" and k + 1 < len(tokens) \
            and tokens[k + 1].kind == "arith"
        if word == "case" and _case_header(tokens, k):
            cases += 1
        elif word == "esac":
            cases -= 1
        elif for_header or word in ("while", "until", "if", "elif") and (k > 0 or first_word_opens):
            headers += 1
        elif word in ("do", "then") and headers:
            headers -= 1
        depth += (word in ("do", "then", "{")) - (word in ("done", "fi", "elif", "}"))
    body = [t for t in tokens if not (t.kind == "op" and t.value == ";")]
    named = len(body) >= 2 and _word_at(body[-2]) == "function" and _command_positions(body)[-2]
    bodiless = named or len(body) >= 3 and _function_header(body, len(body) - 3) and _command_positions(body)[-3]
    return depth + headers + cases + max(parens, 0) + bodiless


def _checked(expr: str, tok: Token) -> str:
    """``expr`` of a ``((…))`` if it is an arithmetic expression, else a ParseError."""
    try:
        check_arithmetic(expr)
    except ValueError as e:
        raise ParseError(f"bad arithmetic (({expr})): {e}", tok.column, tok.length, status=1) from None
    return expr


def _arith_loop(tokens: list[Token], i: int, commands: CommandLookup,
                aliases: Mapping[str, str]) -> tuple[Call, int]:
    """``for ((INIT; COND; STEP)); do BODY; done`` at ``tokens[i]``."""
    head, header = tokens[i], tokens[i + 1]
    parts = _split_header(header.value)
    if len(parts) != 3:
        raise ParseError("for: expected (( INIT; CONDITION; STEP )), two ';' inside", header.column, header.length)
    j = i + 2
    if j < len(tokens) and tokens[j].kind == "op" and tokens[j].value == ";":
        j += 1
    if j >= len(tokens) or not _keyword(tokens[j], "do"):
        at = tokens[min(j, len(tokens) - 1)]
        raise ParseError("for: expected '; do' after (( … ))", at.column, at.length)
    done = _keyword_at(tokens, j + 1, ("done",), head, "missing '; done'")
    body = _part(tokens, j + 1, done, head, "COMMANDS; before 'done'", commands, aliases)
    init, cond, step = (_checked(p.strip(), header) for p in parts)
    return Call("for((", (("init", init), ("cond", cond), ("step", step), ("body", body))), done + 1


def _split_header(text: str) -> list[str]:
    """``i=0; i<3; i++`` at its ``;`` outside parentheses."""
    parts, depth, start = [], 0, 0
    for k, c in enumerate(text):
        depth += (c == "(") - (c == ")")
        if c == ";" and depth == 0:
            parts.append(text[start:k])
            start = k + 1
    return parts + [text[start:]]


def _loop(tokens: list[Token], i: int, commands: CommandLookup,
          aliases: Mapping[str, str]) -> tuple[Call, int]:
    """Parse the loop starting at ``tokens[i]``; the Call and where its ``done`` ends."""
    head = tokens[i]
    name = tokens[i + 1] if i + 1 < len(tokens) else None
    if name is not None and name.kind == "arith":
        return _arith_loop(tokens, i, commands, aliases)
    if name is None or name.kind != "word" or not name.value.is_literal or not name.text.isidentifier():
        raise ParseError("for: expected a variable name after 'for'", head.column, head.length, status=1)
    bare = i + 3 < len(tokens) and tokens[i + 2].value == ";" and _keyword(tokens[i + 3], "do")
    if not bare and (i + 2 >= len(tokens) or not _keyword(tokens[i + 2], "in")):
        raise ParseError("for: expected 'in' after the name (for NAME in WORDS; do …; done)",
                         name.column + name.length + 1)
    if bare:                                    # for NAME; do …: over "$@", as in bash
        j = i + 2
        items: tuple[Word, ...] = (tokenize('"$@"')[0].value,)
    else:
        j = i + 3
        while j < len(tokens) and tokens[j].kind == "word":
            j += 1
        if j + 1 >= len(tokens) or tokens[j].value != ";" or not _keyword(tokens[j + 1], "do"):
            at = tokens[min(j + 1 if j < len(tokens) and tokens[j].value == ";" else j, len(tokens) - 1)]
            raise ParseError("for: expected '; do' after the words", at.column, at.length)
        items = tuple(t.value for t in tokens[i + 3:j])
    done = _keyword_at(tokens, j + 2, ("done",), head, "missing '; done'")
    body = _part(tokens, j + 2, done, head, "COMMANDS; before 'done'", commands, aliases)
    return Call("for", (("name", name.text), ("items", items), ("body", body))), done + 1


def _modifiers(tokens: list[Token], commands: CommandLookup) -> tuple[tuple[Call, ...], list[Token]]:
    """Peel job modifiers (``limit … --``, ``nice -n 5``, ``batch``) off a chain."""
    found: list[Call] = []
    while (span := _modifier_span(tokens, commands)) is not None:
        args_end, end = span
        name, rest = tokens[0].value.literal, tokens[end:]
        if not _has_command(rest):                 # `limit`, `limit 2>&1`: no command after it
            if args_end == 1 and commands.signature(name).alone:     # `limit` alone (`nice limit` too): a command
                break
            raise ParseError(f"{name}: missing the command to run", tokens[0].column, tokens[0].length)
        found.append(Call(name, bind(name, commands.signature(name), tokens[1:args_end])))
        tokens = rest
    return tuple(found), tokens


def _has_command(tokens: list[Token]) -> bool:
    """Whether ``tokens`` start with a command, not only redirections (up to ``|``, ``&&`` …)."""
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok.kind == "op" and _is_redirect(tok.value):
            i += 1 if tok.value in _TARGETLESS else 2
            continue
        return not (tok.kind == "op" and tok.value in ("|", "&&", "||", ";", "&"))
    return False


def _modifier_span(tokens: list[Token], commands: CommandLookup) -> tuple[int, int] | None:
    """Where the options of the modifier starting ``tokens`` end, and where the
    command after it (and its ``--``) starts; None when no modifier starts it."""
    if not tokens or tokens[0].kind != "word" or not tokens[0].value.is_literal:
        return None
    sig = commands.signature(tokens[0].value.literal)
    if sig is None or not sig.modifier:
        return None
    i = 1
    while i < len(tokens) and tokens[i].kind == "word" and tokens[i].flag_like:
        if tokens[i].text == "--":
            break
        param = sig.flag(tokens[i].text.partition("=")[0])
        i += 2 if param is not None and param.type != "flag" and "=" not in tokens[i].text else 1
    args_end = min(i, len(tokens))
    if i < len(tokens) and tokens[i].kind == "word" and tokens[i].text == "--":
        i += 1
    return args_end, min(i, len(tokens))


def _split_chains(tokens: list[Token], line: str) -> list[tuple[list[Token], bool]]:
    out, current = [], []
    for tok in tokens:
        if tok.kind == "op" and tok.value in CASE_ENDS:
            raise ParseError(f"syntax error near '{tok.value}' (it ends a branch of a case)", tok.column,
                             len(tok.value))
        if tok.kind == "op" and tok.value in (";", "&"):
            if not current:
                raise ParseError(f"syntax error near {tok.value!r}", tok.column)
            out.append((current, tok.value == "&"))
            current = []
        else:
            current.append(tok)
    if current:
        out.append((current, False))
    return out


def _split(tokens: list[Token], seps: tuple[str, ...], line: str) -> list[tuple[list[Token], str]]:
    """Split on ``seps``; each group comes with the separator that follows it."""
    out, current = [], []
    for tok in tokens:
        if tok.kind == "op" and tok.value in seps:
            if not current:
                raise ParseError(f"syntax error near {tok.value!r}", tok.column, tok.length)
            out.append((current, tok.value))
            current = []
        else:
            current.append(tok)
    if not current:
        last = tokens[-1]
        raise ParseError(f"line ends after {last.value!r}", last.column, last.length)
    out.append((current, ""))
    return out


def _call(tokens: list[Token], commands: CommandLookup, aliases: Mapping[str, str], line: str) -> Call:
    if tokens[0].kind == "block":           # done > FILE: a block takes redirections, nothing else
        words, redirects = _words_and_redirects(tokens[1:], False)
        if words:
            end = {"if": "fi", "subshell": ")", "group": "}", "((": "))", "[[": "]]"}.get(tokens[0].value.name,
                                                                                         "done")
            raise ParseError(f"syntax error near {words[0].text!r} (after '{end}')", words[0].column,
                             words[0].length)
        block = tokens[0].value
        if block.name == "function" and redirects:      # f() { …; } <<EOF: every call's, as in bash
            body = block.get("body").calls[0]
            return Call("function", (("name", block.get("name")),
                                     ("body", Plan.of(replace(body, redirects=body.redirects + redirects)))))
        return replace(block, redirects=redirects)
    tokens, prefix = _assignments(_expand_alias(tokens, commands, aliases))
    if not prefix:
        return _command(tokens, commands, line)
    return replace(_command(tokens, commands, line, as_program=True), env=prefix)


def _command(tokens: list[Token], commands: CommandLookup, line: str, as_program: bool = False) -> Call:
    """A simple command (``as_program``: a built-in that stands for a program
    runs the program, as after ``NAME=VALUE``, whose variables it may read)."""
    if _word_at(tokens[0]) in ("command", "builtin") and len(tokens) > 1 and tokens[1].kind == "word" and not (
            tokens[1].value.is_literal and tokens[1].value.literal.startswith("-")):
        # command NAME …: the built-in or program NAME, not a function or alias of that name;
        # builtin NAME …: the built-in only
        plain = commands.plain if isinstance(commands, _WithFunctions) else commands
        if _word_at(tokens[0]) == "builtin" and plain.signature(_word_at(tokens[1]) or "") is None:
            raise ParseError(f"builtin: {tokens[1].text}: not a shell built-in", tokens[1].column, tokens[1].length)
        return replace(_command(tokens[1:], plain, line, as_program), direct=True)
    head = tokens[0]
    if head.kind == "op" and not _is_redirect(head.value):
        raise ParseError(f"syntax error near {head.value!r}", head.column, head.length)
    name_tok = _command_word(tokens)
    sig = commands.signature(name_tok.text) if name_tok is not None and name_tok.value.is_literal else None
    words, redirects = _words_and_redirects(tokens, sig is not None and sig.expression)
    if not words:                       # `> f`, `2>&1` alone: the redirections only (f made empty), as in bash
        return Call(":", (), redirects)
    name_tok = words[0]
    if not name_tok.value.is_literal:
        return Call("", (("argv", tuple(w.value for w in words)),), redirects, external=True)
    name = name_tok.value.literal
    if name == "case" and not any(t.kind == "op" for t in tokens):
        raise ParseError(f"case: expected {_CASE_FORM}", name_tok.column, name_tok.length)
    if name in BLOCKS or name in ("[[", "(("):  # `> f for …`, or the block's own name typed as a command
        written = {"subshell": "( COMMANDS )", "group": "{ COMMANDS; }", "[[": "[[ … ]]", "((": "(( … ))",
                   "for((": "for (( … ))"}.get(name, name)
        raise ParseError(f"syntax error near {name!r} ({written} must start the command)", name_tok.column,
                         name_tok.length, status=127 if as_program else 2)     # FOO=1 for: no command 'for'
    if sig is not None and sig.modifier and not (sig.alone and len(words) == 1):   # `> f nice …`, `ls | nice sort`
        raise ParseError("limit, nice, batch and time apply to a whole line: put them at its start", name_tok.column,
                         name_tok.length)
    if sig is None:
        if commands.is_program(name) or getattr(commands, "unknown_runs", False):
            return Call(name, (("argv", tuple(w.value for w in words)),), redirects, external=True)
        why = BASH_ONLY_NOTE if name in BASH_ONLY else did_you_mean(name, commands.names(), commands.is_program)
        raise ParseError(f"unknown command {name}{why}", name_tok.column, name_tok.length, status=127)
    if as_program and sig.program and commands.is_program(name):
        return Call(name, (("argv", tuple(w.value for w in words)),), redirects, external=True)
    try:
        return Call(name, bind(name, sig, words[1:]), redirects,
                    source=tuple(w.value for w in words) if sig.program else ())
    except ArgumentError:
        if sig.program and commands.is_program(name):
            return Call(name, (("argv", tuple(w.value for w in words)),), redirects, external=True)
        raise


def _command_word(tokens: list[Token]) -> Token | None:
    """The first word that is not a redirection's target."""
    i = 0
    while i < len(tokens):
        if tokens[i].kind == "op":
            i += 1 if tokens[i].value in _TARGETLESS else 2
            continue
        return tokens[i]
    return None


# bash's own words that nlsh does not have: a line starting with one is a
# command for another shell, never a request for the planner.
BASH_ONLY = frozenset(["bind", "caller", "compgen", "complete", "compopt",
                       "coproc", "disown", "enable", "fc", "hash",
                       "logout", "select", "suspend",
                       "times", "ulimit", "umask"])
BASH_ONLY_NOTE = " (a bash built-in that nlsh does not have; !LINE runs a line in $SHELL)"

_TARGETLESS = ("2>&1", ">&2", "1>&2")     # redirections without a file name


def _assignments(tokens: list[Token]) -> tuple[list[Token], tuple[Word, ...]]:
    """bash's ``NAME=VALUE …`` in command position: on its own it sets the
    variables (``export``: nlsh's variables are its environment); before a
    command it sets them for that command alone: the tokens left, and those
    NAME=VALUE words."""
    words = [t for k, t in enumerate(tokens) if t.kind == "word" and not (    # not a redirection's target
        k and tokens[k - 1].kind == "op" and _is_redirect(tokens[k - 1].value)
        and tokens[k - 1].value not in _TARGETLESS)]
    if words and words[0] is tokens[0] and _word_at(words[0]) in ("export", "local", "declare", "typeset", "readonly"):
        return _one_word_values(tokens), ()
    if not words or words[0] is not tokens[0] or not _is_assignment(words[0]):
        return tokens, ()
    if all(_is_assignment(w) for w in words):
        return [Token("word", Word.lit("export"), tokens[0].column, 0), *_one_word_values(tokens)], ()
    prefix = []
    for t in tokens:
        if t.kind != "word" or not _is_assignment(t):
            break
        if isinstance(t.value.parts[-1], ArrayLit) or "[" in t.text.split("=", 1)[0]:
            raise ParseError("an array cannot be set for one command (set it on a line of its own)",
                             t.column, t.length)
        prefix.append(one_word(t.value))
    return tokens[len(prefix):], tuple(prefix)


def _one_word_values(tokens: list[Token]) -> list[Token]:
    return [replace(t, value=one_word(t.value)) if t.kind == "word" and _is_assignment(t) else t for t in tokens]


def one_word(word: Word) -> Word:
    """The value of ``NAME=VALUE`` is one word, as in bash: ``x=$(cmd)`` keeps
    the output's spaces, ``x=*.txt`` is the text ``*.txt``."""
    parts: list = []
    for p in word.parts:
        p = replace(p, quoted=True) if isinstance(p, Sub) else Lit(p.text) if isinstance(p, Glob) else p
        if parts and isinstance(p, Lit) and isinstance(parts[-1], Lit):
            p = Lit(parts.pop().text + p.text)
        parts.append(p)
    return Word(tuple(parts))


def _after_assignment(out: list[Token]) -> int:
    """The status of a ``[[``/``((`` that does not start its command: 127 after
    ``NAME=VALUE`` (bash looks for a command of that name), else 2."""
    return 127 if out and out[-1].kind == "word" and _is_assignment(out[-1]) else 2


def _is_assignment(tok: Token) -> bool:
    """``NAME=…``, ``NAME+=…``, ``NAME[INDEX]=…`` (the index may hold ``$i``)."""
    first = tok.value.parts[0]
    return isinstance(first, (Lit, Glob)) and ASSIGNMENT_START.match(tok.value.source()) is not None and not tok.flag_like


def _expand_alias(tokens: list[Token], commands: CommandLookup, aliases: Mapping[str, str]) -> list[Token]:
    seen: set[str] = set()
    while tokens and tokens[0].kind == "word" and tokens[0].value.is_literal:
        name = tokens[0].value.literal
        if name not in aliases or name in seen:
            break
        seen.add(name)
        head = tokens[0]
        try:
            expansion = tokenize(aliases[name], lambda source: _nested(source, commands, aliases))
        except ParseError as e:
            raise ParseError(f"alias {name}: {e.message}", head.column, head.length) from None
        if any(t.kind == "op" and not _is_redirect(t.value) for t in expansion) or not expansion:
            raise ParseError(f"alias {name} must be a single command", head.column, head.length)
        moved = [Token(t.kind, t.value, head.column, head.length, t.flag_like) for t in expansion]
        tokens = moved + tokens[1:]
    return tokens


def _plain(op: str) -> str:
    """A redirection as written without the descriptor it has anyway: 1> is >, 1>&2 is >&2,
    0< is <, 0<& is <& (11> and 1< keep theirs)."""
    if op[:2] in ("1>", "0<"):
        return op[1:]
    return op


def _words_and_redirects(tokens: list[Token], expression: bool) -> tuple[list[Token], tuple[Redirect, ...]]:
    words: list[Token] = []
    redirects: list[Redirect] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok.kind == "op" and expression and words and tok.value in (">", "<"):
            op = tok.value
            nxt = tokens[i + 1] if i + 1 < len(tokens) else None
            if (nxt is not None and nxt.kind == "word" and nxt.column == tok.column + 1
                    and nxt.text.startswith("=")):
                rest = nxt.text[1:]
                words.append(Token("word", Word.lit(op + "="), tok.column, 2))
                if rest:
                    words.append(Token("word", Word.lit(rest), nxt.column + 1, len(rest)))
                i += 2
                continue
            words.append(Token("word", Word.lit(op), tok.column, 1))
        elif tok.kind == "op" and tok.value in _TARGETLESS:
            redirects.append(Redirect(_plain(tok.value), Word.lit("")))
        elif tok.kind == "op":
            named = words[-1] if words else None       # {fd}>FILE: the shell picks the descriptor, $fd names it
            if named is not None and named.column + named.length == tok.column and named.value.is_literal and (
                    _NAMED_FD.fullmatch(named.value.literal)) and _is_redirect(tok.value) and tok.value[:1] in "<>":
                words.pop()
                tok = Token("op", named.value.literal + tok.value, named.column, named.length + tok.length)
            target = tokens[i + 1] if i + 1 < len(tokens) else None
            if target is None or target.kind != "word":
                needs = "a word" if tok.value == "<<<" else "a file name"
                raise ParseError(f"{tok.value} needs {needs}", tok.column, tok.length)
            if tok.value in ("&>", "&>>"):      # both streams: > FILE 2>&1
                redirects += [Redirect(tok.value[1:], target.value), Redirect("2>&1", Word.lit(""))]
            else:
                redirects.append(Redirect(_plain(tok.value), target.value))
            i += 1
        else:
            words.append(tok)
        i += 1
    return words, tuple(redirects)


def bind(name: str, sig: Signature, words: list[Token]) -> tuple[tuple[str, object], ...]:
    """Bind argument tokens to ``sig``'s parameters.

    Values come in declaration order; an ``ordered`` signature keeps its
    flags in the order written, repeats included, after the positionals."""
    values: dict[str, object] = {}
    written: list[tuple[str, object]] = []

    def put(param: Param, value: object) -> None:
        for earlier in param.overrides:
            values.pop(earlier, None)
        values[param.name] = value
        written.append((param.name, value))

    positional: list[Token] = []
    only_positional = False
    i = 0
    while i < len(words):
        tok = words[i]
        i += 1
        text = tok.value.literal if tok.value.is_literal else None
        if sig.ordered and text in _OPERATOR_WORDS and not only_positional and sig.flag(text):
            put(sig.flag(text), True)          # find's ( ) !, quoted or not, as in GNU find
            continue
        if only_positional or not tok.flag_like or text is None or text == "-" or (sig.flags_first and (
                positional or text == "--")):
            positional.append(tok)
            continue
        if text == "--":
            only_positional = True
            continue
        if _NUMBER.match(text) and sig.flag(text) is None:
            if sig.number_flag and "." not in text:
                put(sig.param(sig.number_flag), int(text[1:]))
            else:
                positional.append(tok)
            continue
        if text.startswith("--"):
            flag, eq, inline = text.partition("=")
            param = sig.flag(flag)
            if param is None:
                if sig.free_dashes:
                    positional.append(tok)
                    continue
                raise _unknown_flag(name, flag, sig, tok)
            if param.type == "flag":
                if eq:
                    raise ParseError(f"{name}: {flag} takes no value", tok.column, tok.length)
                put(param, True)
            elif eq:
                put(param, _value(name, param, Word.lit(inline), tok))
            else:
                i, value = _take_value(name, param, flag, words, i, tok)
                put(param, value)
            continue
        param = sig.flag(text)
        if param is not None:
            if param.type == "flag":
                put(param, True)
            else:
                i, value = _take_value(name, param, text, words, i, tok)
                put(param, value)
            continue
        cluster = None if sig.ordered else _cluster(name, sig, text, tok)
        if cluster is None:
            if sig.free_dashes:
                positional.append(tok)
                continue
            raise _unknown_flag(name, text, sig, tok)
        found, pending = cluster
        for param, value in found:
            put(param, value)
        if pending is not None:
            i, value = _take_value(name, pending, text, words, i, tok)
            put(pending, value)
    _bind_positionals(name, sig, positional, values, words)
    if sig.ordered:
        return tuple((p.name, values[p.name]) for p in sig.positionals if p.name in values) + tuple(written)
    return tuple((p.name, values[p.name]) for p in sig.params if p.name in values)


def _cluster(name: str, sig: Signature, text: str,
             tok: Token) -> tuple[list[tuple[Param, object]], Param | None] | None:
    """Short flags grouped in one word (``-rn``, ``-n5``): the values found and
    the option still waiting for the next word; None if ``text`` is not one."""
    found: list[tuple[Param, object]] = []
    chars = text[1:]
    for k, ch in enumerate(chars):
        param = sig.flag("-" + ch)
        if param is None:
            return None
        if param.type == "flag":
            found.append((param, True))
            continue
        rest = chars[k + 1:]
        if not rest:
            return found, param
        found.append((param, _value(name, param, Word.lit(rest), tok)))
        break
    return found, None


def _take_value(name: str, param: Param, flag: str, words: list[Token], i: int,
                tok: Token) -> tuple[int, object]:
    """The value of option ``param`` starting at ``words[i]``, and where the next word is."""
    if param.type == "command":
        end = i
        while end < len(words) and not (words[end].value.is_literal and words[end].value.literal in (";", "+")):
            end += 1
        if end >= len(words) or end == i:
            raise ParseError(f"{name}: {flag} needs a command ending in ';' or '+'", tok.column, tok.length)
        return end + 1, tuple(w.value for w in words[i:end + 1])
    if i >= len(words) or words[i].kind != "word":     # the end, or `nice -n && …`
        raise ParseError(f"{name}: {flag} needs a value ({param.label})", tok.column, tok.length)
    return i + 1, _value(name, param, words[i].value, words[i])


def _value(name: str, param: Param, word: Word, tok: Token) -> object:
    try:
        return param.bind_word(word)
    except ValueError as e:
        label = param.flags[0] if param.flags else param.label
        raise ArgumentError(f"{name}: bad value {word.source()!r} for {label}: {e}", tok.column, tok.length) from None


def _unknown_flag(name: str, flag: str, sig: Signature, tok: Token) -> ArgumentError:
    return ArgumentError(f"{name}: unknown flag {flag}{did_you_mean(flag, list(sig.by_flag))}",
                         tok.column, tok.length)


def _bind_positionals(name: str, sig: Signature, tokens: list[Token], values: dict,
                      all_words: list[Token]) -> None:
    params = sig.positionals
    k = 0
    for idx, param in enumerate(params):
        if param.variadic:
            after = sum(1 for p in params[idx + 1:] if p.required)
            take = min(len(tokens) - k, max(1 if param.required else 0, len(tokens) - k - after))
            chunk = tokens[k:k + take]
            if chunk:
                values[param.name] = tuple(_value(name, param, t.value, t) for t in chunk)
            elif param.required:
                raise _missing(name, param, all_words)
            k += take
        elif k < len(tokens):
            values[param.name] = _value(name, param, tokens[k].value, tokens[k])
            k += 1
        elif param.required:
            raise _missing(name, param, all_words)
    if k < len(tokens):
        extra = tokens[k]
        raise ArgumentError(f"{name}: unexpected argument {extra.text!r}", extra.column, extra.length)


def _missing(name: str, param: Param, words: list[Token]) -> ParseError:
    column = (words[-1].column + words[-1].length + 1) if words else 0
    return ParseError(f"{name}: missing {param.label}", column)
