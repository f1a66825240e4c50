"""Split a line into words and operators, keeping columns for error messages."""

from __future__ import annotations

import re
import string
from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise

from nlsh.lang.errors import ParseError
from nlsh.lang.plan import (
    ASSIGN_OPS,
    CASE_OPS,
    WORD_OPS,
    Arith,
    ArrayLit,
    Glob,
    Lit,
    Part,
    Plan,
    Sub,
    Tilde,
    Var,
    Word,
)

# Parses the text of a ``$(…)``; without one (highlighting), its plan is empty.
Nested = Callable[[str], Plan]

# ``3>f``, ``>&4``, ``5<&-``, ``8<>f``: descriptors nlsh does not have (a clear error, not a command "3")
# A redirection naming a descriptor (``3>f``, ``>&3``, ``4<&0``, ``3>&-``, ``<>f``);
# the plain ones (``>``, ``2>``, ``2>&1``, ``>&2`` …) are OPERATORS.
FD_REDIRECT = re.compile(r"(\d*)(>>|>&|<&|<>|>|<)(?![<&])")
OPERATORS = ("&&", "||", "2>&1", "1>&2", "1>>", "1>", "2>>", "2>", "&>>", "&>", ">&2", ">>", ">|", ">", "<<<", "<", "|",
             ";;&", ";;", ";&", ";", "&")
CASE_ENDS = (";;", ";&", ";;&")     # how a case branch ends: done, run the next one too, test the next ones
# The words of blocks, where they start a command: those that open one, those
# inside or closing one, and those after which a command starts at once.
BLOCK_OPENERS = ("for", "while", "until", "if", "{", "case")
BLOCK_INNER = ("do", "done", "then", "elif", "else", "fi", "}", "esac")
BLOCK_CLOSERS = ("done", "fi", "}", "esac")
COMMAND_FOLLOWS = ("do", "then", "else", "{")
# Keywords after which a command starts (``if [[ … ]]``, ``while ((…))``).
KEYWORDS_BEFORE_A_COMMAND = COMMAND_FOLLOWS + ("if", "elif", "while", "until", "!")
# Operators after which a command starts (after a case's ``;;`` a pattern, which
# may be ``esac``; after its pattern's ``)`` the branch's commands).
COMMAND_STARTS = (";", "&", "&&", "||", "|", "(", *CASE_ENDS, ")")
GLOB_CHARS = frozenset("*?[")
# Characters that end an unquoted word or need quoting to be literal.
SPECIAL = frozenset(" \t\n|&;<>()'\"\\$#`")


@dataclass(frozen=True)
class Token:
    kind: str          # "word", "op", "arith" (``((…))``) or "cond" (``[[ … ]]``); the parser adds "block"
    value: object      # Word for words, the operator text for ops, a Call for a loop
    column: int
    length: int
    flag_like: bool = False   # an unquoted word that starts with "-"

    @property
    def text(self) -> str:
        if self.kind == "cond":
            return "[["
        return self.value if isinstance(self.value, str) else self.value.source()


_BRACED = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*|[0-9]+|[?#$@*])"
                     r"(?:(%%|%|##|#|:-|:=|:\+|:\?|-|=|\+|\?|//|/#|/%|/|\^\^|\^|,,|,|:)(.*))?$", re.DOTALL)
_LENGTH = re.compile(r"^#([A-Za-z_][A-Za-z0-9_]*|[@*])$")
_SUBSCRIPTED = re.compile(r"^([#!]?)([A-Za-z_][A-Za-z0-9_]*)\[")
_NAMES = re.compile(r"^!([A-Za-z_][A-Za-z0-9_]*)([*@])$")      # ${!PREFIX*}: the names starting with PREFIX
# NAME=( or NAME+=( starting a word: an array's elements follow
_ARRAY_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\+?=\(")
def _is_slice(arg: str) -> bool:
    """Whether ``arg`` of ``${x:arg}`` is OFF or OFF:LEN, each arithmetic (``(-4)``, ``i+1``)."""
    off, colon, length = arg.partition(":")
    try:
        check_arithmetic(off)
        if colon and length.strip():
            check_arithmetic(length)
    except ValueError:
        return False
    return bool(off.strip()) and ":" not in length
BRACED_FORMS = ("expected ${NAME}, ${NAME%SUFFIX}, ${NAME#PREFIX}, ${NAME/PATTERN/TEXT}, "
                "${NAME:-DEFAULT}, ${NAME:=DEFAULT}, ${NAME:+ALTERNATIVE}, ${NAME:?MESSAGE}, "
                "${NAME:OFFSET:LENGTH}, ${NAME^^}, ${NAME,,}, ${#NAME}, ${NAME[INDEX]}, ${NAME[@]}, ${#NAME[@]}, "
                "${!NAME[@]}, ${!NAME} or ${!PREFIX*}")


def _wild(text: str) -> bool:
    """Whether ``text`` holds a wildcard: ``*``, ``?``, or a ``[`` closed by a later
    ``]`` (``[`` alone, as in ``[ -d x ]``, is a plain word in bash)."""
    return "*" in text or "?" in text or any(
        c == "[" and text.find("]", i + 2) > 0 for i, c in enumerate(text))


def _is_name_char(c: str) -> bool:
    return c.isalnum() or c == "_"


class _WordBuilder:
    """Collects characters and expansions, then makes the word (or, with braces,
    the words): unquoted text holding a wildcard becomes a Glob."""

    def __init__(self) -> None:
        self.atoms: list[tuple[str, bool] | Part] = []   # (char, unquoted) or an expansion
        self.vanishes = False       # an unquoted $( ) alone is no word at all

    def char(self, c: str, unquoted: bool) -> None:
        self.atoms.append((c, unquoted))

    def part(self, part: Part) -> None:
        self.atoms.append(part)

    def words(self, column: int) -> list[Word]:
        """The word, or the words its unquoted braces give (``a{b,c}``, ``{1..3}``):
        an empty one is dropped (``{a,,b}``), a ``~`` starting one is a home directory."""
        if self.vanishes and not self.atoms:
            return []
        results = _braces(self.atoms, column)
        if len(results) > 1:
            results = [_tilde(atoms) for atoms in results if atoms] or results[:1]
        return [_word(atoms) for atoms in results]


def _tilde(atoms: list) -> list:
    """``atoms`` with an unquoted ``~`` or ``~NAME`` at the start (up to a ``/``)
    made a Tilde, as bash does after brace expansion (``~{/src,root}``)."""
    if not atoms or atoms[0] != ("~", True):
        return atoms
    j = 1
    while j < len(atoms) and isinstance(atoms[j], tuple) and atoms[j][1] and atoms[j][0] != "/":
        if not (atoms[j][0].isalnum() or atoms[j][0] in "._-"):
            return atoms
        j += 1
    if j < len(atoms) and not (isinstance(atoms[j], tuple) and atoms[j][0] == "/"):
        return atoms
    return [Tilde("".join(c for c, _ in atoms[1:j])), *atoms[j:]]


def _word(atoms: list, marked: bool = False) -> Word:
    parts: list[Part] = []

    expands = any(not isinstance(a, (tuple, Lit)) for a in atoms)

    def add(part: Part) -> None:
        if parts and type(part) in (Lit, Glob) and type(parts[-1]) is type(part):
            parts[-1] = type(part)(parts[-1].text + part.text)     # ?""? is the one pattern ??, as in bash
        else:
            parts.append(part)

    # A wildcard spanning quoted characters makes all their unquoted text pattern ([\[z], *.[C\-D])
    runs = "".join((a[0] if a[1] else "") if isinstance(a, tuple) else "\0" for a in atoms).split("\0")
    run = 0
    i = 0
    while i < len(atoms):
        if atoms[i] == Lit("") and (not expands or any(isinstance(a, tuple) for a in atoms[max(0, i - 1):i + 2])):
            i += 1                      # '' marks a word only beside an expansion, not beside text ($x'')
            continue
        if not isinstance(atoms[i], tuple):
            add(atoms[i])
            run += 1
            i += 1
            continue
        # A stretch of unquoted characters holding a wildcard becomes a Glob; quoted or
        # escaped characters next to it stay Lit so they keep their meaning.
        j, unq = i, atoms[i][1]
        while j < len(atoms) and isinstance(atoms[j], tuple) and atoms[j][1] == unq:
            j += 1
        text = "".join(c for c, _ in atoms[i:j])
        pattern = marked or _wild(text) or _wild(runs[run]) and any(c in "*?[]" for c in text)
        add(Glob(text) if unq and pattern else Lit(text))
        i = j
    return Word(tuple(parts) or (Lit(""),))


MAX_BRACE_WORDS = 10_000
_SEQUENCE = re.compile(r"(-?\d+)\.\.(-?\d+)(?:\.\.(-?\d+))?|([a-zA-Z])\.\.([a-zA-Z])(?:\.\.(-?\d+))?")


def _braces(atoms: list, column: int) -> list[list]:
    """bash's brace expansion: the first unquoted ``{…}`` holding a ``,`` (or a
    sequence ``{1..5}``, ``{a..e}``, ``{01..10..2}``) gives one word per item,
    the rest expanded in turn; ``{}`` and ``{a}`` stay as they are."""
    for i, atom in enumerate(atoms):
        if atom != ("{", True):
            continue
        depth, commas, end = 0, [], None
        for j in range(i, len(atoms)):
            if atoms[j] == ("{", True):
                depth += 1
            elif atoms[j] == ("}", True):
                depth -= 1
                if depth == 0:
                    end = j
                    break
            elif atoms[j] == (",", True) and depth == 1:
                commas.append(j)
        if end is None:
            continue
        if commas:
            cuts = [i, *commas, end]
            items = [atoms[a + 1:b] for a, b in pairwise(cuts)]
        else:
            inner = atoms[i + 1:end]
            try:
                seq = _sequence("".join(a[0] for a in inner)) if all(
                    isinstance(a, tuple) and a[1] for a in inner) else None
            except ValueError:
                raise ParseError(f"the braces give more than {MAX_BRACE_WORDS} words", column) from None
            if seq is None:
                continue
            items = [[(c, False) for c in item] for item in seq]
        out: list[list] = []
        for item in items:
            out.extend(_braces(atoms[:i] + item + atoms[end + 1:], column))
            if len(out) > MAX_BRACE_WORDS:
                raise ParseError(f"the braces give more than {MAX_BRACE_WORDS} words", column)
        return out
    return [atoms]


def _sequence(text: str) -> list[str] | None:
    m = _SEQUENCE.fullmatch(text)
    if m is None:
        return None
    if m.group(1) is not None:
        a, b, step = int(m.group(1)), int(m.group(2)), abs(int(m.group(3) or 1)) or 1
        width = max(len(m.group(1)), len(m.group(2))) if any(
            g.lstrip("-").startswith("0") and len(g.lstrip("-")) > 1 for g in m.group(1, 2)) else 0
        if abs(b - a) // step >= MAX_BRACE_WORDS:
            raise ValueError("too many words")
        values = range(a, b + (1 if b >= a else -1), step if b >= a else -step)
        return [str(v).zfill(width) if v >= 0 else "-" + str(-v).zfill(width - 1) for v in values]
    a, b, step = ord(m.group(4)), ord(m.group(5)), abs(int(m.group(6) or 1)) or 1
    return [chr(v) for v in range(a, b + (1 if b >= a else -1), step if b >= a else -step)]


def join_continued(text: str) -> str:
    """``text`` with every backslash-newline removed, as bash reads it: not inside
    single quotes (``echo 'a\\<newline>b'`` keeps both) nor in a comment."""
    if "\\\n" not in text:
        return text
    out, i, n = [], 0, len(text)
    quote = ""                  # "'", '"', "$'" or ""
    docs: list[str] = []        # here-documents whose text starts after the next newline
    while i < n:
        c = text[i]
        if c == "\n" and docs and not quote:
            i = _copy_here_texts(text, i + 1, docs, out)
            docs = []
            continue
        if c == "<" and not quote and (m := _HERE_START.match(text, i)):
            docs.append(m.group(2))
            out.append(m.group())
            i = m.end()
            continue
        if c == "\\" and quote != "'":
            if text.startswith("\n", i + 1):
                i += 2              # joined
                continue
            out.append(text[i:i + 2])
            i += 2
            continue
        if quote:
            if c == quote[-1]:
                quote = ""
        elif c in "'\"":
            quote = "$'" if c == "'" and out and out[-1].endswith("$") else c
        elif c == "#" and (not out or out[-1][-1:] in " \t\n;&|("):
            end = text.find("\n", i)
            end = n if end < 0 else end
            out.append(text[i:end])
            i = end
            continue
        out.append(c)
        i += 1
    return "".join(out)


_HERE_START = re.compile(r"<<-?[ \t]*(['\"]?)([^ \t\n|&;<>()'\"]+)\1")


def _copy_here_texts(text: str, i: int, ends: list[str], out: list[str]) -> int:
    """Copy the newline and the here-documents' lines from ``i`` (up to each END line) into
    ``out`` as they are; where the text goes on."""
    out.append("\n")
    for end in ends:
        while i < len(text):
            stop = text.find("\n", i)
            stop = len(text) if stop < 0 else stop + 1
            line = text[i:stop]
            out.append(line)
            i = stop
            if line.rstrip("\n").lstrip("\t") == end:
                break
    return i


def tokenize(line: str, nested: Nested | None = None) -> list[Token]:
    """Tokens of ``line``; a ``#`` that starts a word begins a comment.
    ``nested`` parses the text of each ``$(…)``."""
    tokens: list[Token] = []
    here: list[_HereDoc] = []       # here-documents whose text starts on the next line
    i, n = 0, len(line)
    while i < n:
        c = line[i]
        if c == "\n" and _ends_command(tokens):
            tokens.append(Token("op", ";", i, 1))      # a newline ends a command, as in bash
        if c == "\n" and here:
            i = _here_texts(line, i + 1, here, tokens, nested)
            here = []
            continue
        if c in " \t\n":
            i += 1
            continue
        if line.startswith("<<", i) and not line.startswith("<<<", i):
            i = _here_doc(line, i, tokens, here)
            continue
        if c.isdigit() and (m := _HERE_FD.match(line, i)) and (i == 0 or line[i - 1] in " \t\n|;&("):
            if m.group(2):                  # 3<<<WORD: a here-string on descriptor 3
                tokens.append(Token("op", m.group(), i, m.end() - i))
                i = m.end()
            else:                           # 3<<END: a here-document on descriptor 3
                i = _here_doc(line, m.end() - 2, tokens, here, m.group(1))
            continue
        if c == "#":
            i = line.find("\n", i)
            if i < 0:
                break
            continue
        if line.startswith("<(", i):       # <(COMMANDS): a file holding their output
            end = _closing(line, i + 2)
            source = line[i + 2:end]
            if not source.strip():
                raise ParseError("empty <( )", i, end - i + 1)
            sub = _sub(source, i + 2, False, nested)
            tokens.append(Token("word", Word((Sub(sub.text, sub.plan, file=True),)), i, end + 1 - i))
            i = end + 1
            continue
        fd = _descriptor_op(line, i)
        if fd is not None:
            tokens.append(Token("op", fd, i, len(fd)))
            i += len(fd)
            continue
        op = next((o for o in OPERATORS if line.startswith(o, i)), None)
        if op is not None and not (op[0].isdigit() and i > 0 and line[i - 1] not in " \t|;&"):
            tokens.append(Token("op", op, i, len(op)))
            i += len(op)
            continue
        if line.startswith("[[", i) and line[i + 2:i + 3] in (" ", "\t", "\n") and _conditional_may_start(tokens):
            items, end = _conditional(line, i, nested)      # [[ EXPRESSION ]]
            tokens.append(Token("cond", items, i, end - i))
            i = end
            continue
        if line.startswith("((", i) and _arithmetic_may_start(tokens):
            end = _double_paren_end(line, i + 2)
            if end > 0:                     # ((EXPR)): bash's arithmetic command; for ((…)) too
                tokens.append(Token("arith", line[i + 2:end], i, end + 2 - i))
                i = end + 2
                continue
        if c in "()":                       # a subshell's; the parser says where one cannot stand
            tokens.append(Token("op", c, i, 1))
            i += 1
            continue
        start = i
        compound = _ARRAY_ASSIGNMENT.match(line, i)
        if compound is not None:          # NAME=(WORD …): an array
            array, i = _array_literal(line, compound.end() - 1, nested)
            tokens.append(Token("word", Word((Lit(compound.group()[:-1]), array)), start, i - start))
            continue
        b = _WordBuilder()
        i = _read_word(line, i, b, nested, WORD_ENDS)
        tokens.extend(Token("word", w, start, i - start, c == "-") for w in b.words(start))
    if here:
        raise ParseError(f"unterminated here-document (no line '{here[0].end}' after it)", here[0].column, 2)
    return tokens


WORD_ENDS = " \t\n|&;<>()"


def _descriptor_op(line: str, i: int) -> str | None:
    """The redirection naming a descriptor that starts at ``i`` (``3>``, ``>&``,
    ``2<&``, ``<>`` …), or None where OPERATORS has the plain one."""
    m = FD_REDIRECT.match(line, i)
    if m is None:
        return None
    n, op = m.groups()
    if not (i == 0 or line[i - 1] in " \t\n|;&(" or (line[i - 1] == "}" and not n)):     # {fd}>&-
        return None
    after = line[m.end():m.end() + 2]
    if op in (">&", "<&"):
        if (n, op, after[:1]) in (("2", ">&", "1"), ("", ">&", "2"), ("1", ">&", "2")) and (
                after[1:2] in ("", *WORD_ENDS)):
            return None                 # 2>&1, >&2, 1>&2: OPERATORS
        return m.group()
    if op == "<>" or (n and int(n) >= 3) or (n == "0" and op == "<"):
        return m.group()
    return None


def _array_literal(line: str, i: int, nested: Nested | None) -> tuple[ArrayLit, int]:
    """The ``(WORD …)`` whose ``(`` is at ``i`` (after ``NAME=``), and where it
    ends: words across lines, ``#`` comments, ``[KEY]=WORD`` items, as in bash."""
    start, n = i, len(line)
    items: list[tuple[str | None, Word]] = []
    i += 1
    while True:
        while i < n and line[i] in " \t\n":
            i += 1
        if i >= n:
            raise ParseError("unterminated array (no ')' closing its '(')", start, 1)
        c = line[i]
        if c == ")":
            break
        if c == "#":
            i = line.find("\n", i)
            i = n if i < 0 else i
            continue
        if c in "|&;<>(":
            raise ParseError(f"syntax error near {c!r} in an array's ( … )", i, 1)
        key = None
        if c == "[":
            close = _subscript_end(line, i + 1)
            if close > 0 and line.startswith("=", close + 1):
                key, i = line[i + 1:close], close + 2
                if not key:
                    raise ParseError("empty [ ] before = in an array", i - 3, 3)
        b = _WordBuilder()
        word_start = i
        i = _read_word(line, i, b, nested, WORD_ENDS)
        if i < n and line[i] not in " \t\n)":
            raise ParseError(f"syntax error near {line[i]!r} in an array's ( … )", i, 1)
        words = b.words(word_start) if i > word_start else [Word.lit("")]
        if key is not None and len(words) > 1:
            raise ParseError(f"[{key}]= takes one word", word_start, i - word_start)
        items.extend((key, w) for w in words)
    end = i + 1
    if end < n and line[end] not in WORD_ENDS:
        raise ParseError(f"syntax error near {line[end]!r} (after an array's ')')", end, 1)
    return ArrayLit(tuple(items)), end


def _subscript_end(text: str, i: int) -> int:
    """Where the ``]`` closing a ``[`` whose text starts at ``i`` is (``[…]`` nest); -1 if none."""
    depth = 1
    while i < len(text):
        if text[i] == "\\":
            i += 1
        elif text[i] == "[":
            depth += 1
        elif text[i] == "]":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


# NAME=, NAME+=, NAME[INDEX]= (the index may hold one level of brackets: a[${i[1]}]=)
ASSIGNMENT_START = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\[(?:[^][]|\[[^]]*\])*\])?\+?=")


def _read_word(line: str, i: int, b: _WordBuilder, nested: Nested | None, ends: str) -> int:
    """Read one word's characters and expansions at ``i`` into ``b``, up to a
    character of ``ends``; where it stopped."""
    start, n = i, len(line)
    while i < n and line[i] not in ends:
        c = line[i]
        if c == "'":
            end = line.find("'", i + 1)
            if end < 0:
                raise ParseError("unterminated single quote", i)
            for ch in line[i + 1:end]:
                b.char(ch, False)
            if end == i + 1:
                b.part(Lit(""))         # '' is a word even next to an empty $x
            i = end + 1
        elif c == '"':
            i = _double_quoted(line, i, b, nested)
        elif c == "\\":
            if i + 1 >= n:
                raise ParseError("backslash at end of line", i)
            b.char(line[i + 1], False)
            i += 2
        elif line.startswith("$'", i):
            i = _ansi_c_quoted(line, i, b)
        elif line.startswith('$"', i):            # $"…" (a translated string in bash): "…"
            i = _double_quoted(line, i + 1, b, nested)
        elif c in "$`":
            i = _expansion(line, i, b, False, nested)
        elif c == "~" and (i == start or ASSIGNMENT_START.fullmatch(line, start, i)):   # ~, a=~ (bash)
            j = i + 1
            while j < n and (line[j].isalnum() or line[j] in "._-"):
                j += 1
            if j < n and line[j] not in "/" + ends:        # ~"a", ~$x: no home directory, as in bash
                b.char("~", line[j] == "{")             # ~{/a,b}: a home directory after the braces
                i += 1
            else:
                b.part(Tilde(line[i + 1:j]))
                i = j
        else:
            b.char(c, True)
            i += 1
    return i


_C_ESCAPES = {"a": "\a", "b": "\b", "e": "\x1b", "E": "\x1b", "f": "\f", "n": "\n", "r": "\r", "t": "\t",
              "v": "\v", "\\": "\\", "'": "'", '"': '"', "?": "?"}
_C_NUMBER = {"0": (8, 3, "01234567"), "x": (16, 2, string.hexdigits), "u": (16, 4, string.hexdigits),
             "U": (16, 8, string.hexdigits)}


def _ansi_c_quoted(line: str, i: int, b: _WordBuilder) -> int:
    """bash's ``$'…'`` at ``i``: quoted text with C's backslash escapes (``\\n``,
    ``\\t``, ``\\'``, ``\\x41``, ``\\u00e9``, ``\\0101``, ``\\cA``); where the word goes on."""
    j, n = i + 2, len(line)
    while j < n and line[j] != "'":
        c = line[j]
        e = line[j + 1] if j + 1 < n else ""
        if c != "\\" or not e:
            b.char(c, False)
            j += 1
        elif e in _C_ESCAPES:
            b.char(_C_ESCAPES[e], False)
            j += 2
        elif e == "c" and j + 2 < n:
            b.char(chr(ord(line[j + 2]) & 0x1F), False)
            j += 3
        elif e in _C_NUMBER or e in "1234567":
            base, most, digits = _C_NUMBER.get(e, _C_NUMBER["0"])
            start = j + 1 if e in "01234567" else j + 2
            end = start
            while end < min(n, start + most) and line[end] in digits:
                end += 1
            if end == start:                        # \x with no digits: as written
                b.char(c, False)
                j += 1
                continue
            value = int(line[start:end], base)
            byte = e in "01234567x" and 0x80 <= value < 0x100       # \377, \xff: that byte, as in bash
            b.char(chr(0xDC00 + value) if byte else chr(min(value, 0x10FFFF)), False)
            j = end
        else:
            b.char(c, False)
            b.char(e, False)
            j += 2
    if j >= n:
        raise ParseError("unterminated $'…' quote", i, 2)
    return j + 1


def operand_word(text: str, quoted: bool = False, marked: bool = False) -> Word:
    """The word after ``${NAME:-``, ``:=``, ``:+`` or ``:?``: quotes, ``~``, ``$x``
    and ``$((…))`` work in it, as in bash; spaces are part of it. Inside double
    quotes (``"${x:-it's}"``) a ``'`` is a plain character. ``marked``: its
    unquoted text is a Glob (wildcards or not), for splitting as bash does."""
    b = _WordBuilder()
    if quoted:      # in double quotes a backslash stays unless $ ` " \ or a newline follows: "${u-\z}" is \z
        text = re.sub(r"\\(.)", lambda m: m.group() if m.group(1) in '$`"\\\n' else "\\\\" + m.group(1), text,
                      flags=re.DOTALL).replace("'", "\\'")
    _read_word(text, 0, b, None, "")
    word = _word(b.atoms, marked)
    if word.subs:
        raise ParseError("a $(…) inside ${…} is not supported: set a variable to it first (d=$(…); ${x:-$d})", 0)
    return word


def _arithmetic_may_start(tokens: list[Token]) -> bool:
    """Whether a ``((`` here may start an arithmetic command (or a ``for ((``): not
    after a redirection (the parser says where else one cannot stand)."""
    return not tokens or tokens[-1].kind != "op" or tokens[-1].value in COMMAND_STARTS


def check_arithmetic(expr: str) -> None:
    """Raise ValueError saying what is wrong if ``expr`` (of ``$((…))``,
    ``((…))`` or ``for ((…))``) is not arithmetic nlsh computes."""
    from nlsh.lang import arith  # only for lines that compute
    arith.check(expr)
    for form in arith.braced(expr):
        try:
            operand_word(form)
        except ParseError as e:
            raise ValueError(e.message) from None


def _conditional(line: str, i: int, nested: Nested | None) -> tuple[tuple, int]:
    """The items of the ``[[ … ]]`` at ``i`` (see ``cond``) and where it ends.
    No word splits or globs inside; the operand after ``==``, ``!=`` or ``=~``
    is kept as written, a pattern or regular expression."""
    from nlsh.lang.cond import OPERATORS, PATTERN
    items: list = []
    j, n = i + 2, len(line)
    while True:
        while j < n and line[j] in " \t\n":
            j += 1
        if j >= n:
            raise ParseError("unterminated [[ (no ]] after it)", i, 2)
        if line.startswith("]]", j) and (j + 2 == n or line[j + 2] in " \t\n;&|)"):
            return tuple(items), j + 2
        if line.startswith(("&&", "||"), j):
            items.append(line[j:j + 2])
            j += 2
            continue
        if line[j] in "()<>":             # [[ b<a ]]: no blank needed around < and >
            items.append(line[j])
            j += 1
            continue
        start = j
        if items and isinstance(items[-1], str) and items[-1] in PATTERN:
            j = _pattern_end(line, j)
            pattern_segments(line[start:j], start)         # a $(…) there is refused
            items.append(line[start:j])
            continue
        b = _WordBuilder()
        j = _read_word(line, j, b, nested, " \t\n()<>&|")
        if j == start:                  # a lone & or |
            raise ParseError(f"unexpected {line[j]!r} in [[ … ]] (&& and || join tests)", j, 1, status=2)
        raw = line[start:j]
        items.append(raw if raw in OPERATORS else _word(b.atoms))


def _pattern_end(line: str, j: int) -> int:
    """Where a ``[[``'s pattern or regular expression that starts at ``j`` ends:
    at a blank or a ``)`` outside quotes and its own parentheses (``^(a|b)$``)."""
    depth = 0
    while j < len(line):
        c = line[j]
        if c in " \t\n" and depth == 0 or c == ")" and depth == 0:
            break
        if c == "\\":
            j += 2
            continue
        if c in "'\"":
            close = line.find(c, j + 1)
            if close < 0:
                raise ParseError(f"unterminated {'single' if c == chr(39) else 'double'} quote", j)
            j = close
        depth += (c == "(") - (c == ")")
        j += 1
    return j


def pattern_segments(raw: str, column: int = 0) -> list[tuple[bool, Word]]:
    """A ``[[``'s pattern as written, in pieces: (literal, word). Quoted and
    escaped pieces match literally; the rest, ``$x`` values too, are pattern."""
    out: list[tuple[bool, Word]] = []
    i = 0
    while i < len(raw):
        c = raw[i]
        if c == "'":
            close = raw.find("'", i + 1)
            out.append((True, Word.lit(raw[i + 1:close])))
            i = close + 1
            continue
        b = _WordBuilder()
        if c == '"':
            i = _double_quoted(raw, i, b, None)
            literal = True
        elif c == "\\":
            b.char(raw[i + 1:i + 2], False)
            i += 2
            literal = True
        elif c in "$`":
            i = _expansion(raw, i, b, False, None)
            literal = False
        elif c == "~" and i == 0 and (m := re.match(r"~([\w.-]*)(?=/|$)", raw)):   # ~, ~/x: the home, literally
            b.part(Tilde(m.group(1)))
            i = m.end()
            literal = True
        else:
            b.char(c, False)
            i += 1
            literal = False
        word = _word(b.atoms)
        if word.subs:
            raise ParseError("a $(…) in a [[ pattern is not supported: set a variable to it first", column)
        out.append((literal, word))
    return out


def _conditional_may_start(tokens: list[Token]) -> bool:
    """Whether a ``[[`` here is the conditional command: where a command starts
    (``echo [[ x ]]`` prints it, as in bash)."""
    if not tokens:
        return True
    last = tokens[-1]
    if last.kind == "op":
        return last.value in COMMAND_STARTS
    return last.kind == "word" and not last.flag_like and last.value.is_literal \
        and last.value.literal in KEYWORDS_BEFORE_A_COMMAND


def _double_paren_end(line: str, i: int) -> int:
    """Where the ``))`` closing a ``((`` whose text starts at ``i`` is; -1 when the
    parentheses close another way (``((cd a); ls)`` is a subshell in a subshell)."""
    depth = 0
    while i < len(line):
        c = line[i]
        if c == "(":
            depth += 1
        elif c == ")":
            if depth == 0:
                return i if line.startswith("))", i) else -1
            depth -= 1
        i += 1
    return -1


@dataclass
class _HereDoc:
    """A ``<<END`` (``<<-END`` drops leading tabs; a quoted END keeps ``$`` literal)
    whose text is read from the lines after the command's, up to a line ``END``."""
    slot: int           # the index of the word token that gets the text
    end: str
    column: int
    literal: bool
    strip_tabs: bool


_HERE_FD = re.compile(r"(\d+)<<(<?)")


def _here_doc(line: str, i: int, tokens: list[Token], here: list[_HereDoc], fd: str = "") -> int:
    """Read ``<<END`` at ``i``: a ``<<<`` redirection (of descriptor ``fd``, 0 when
    empty) whose word is filled in at the next newline; where the line goes on."""
    strip_tabs = line.startswith("<<-", i)
    j = i + (3 if strip_tabs else 2)
    while j < len(line) and line[j] in " \t":
        j += 1
    k = j
    while k < len(line) and line[k] not in " \t\n|&;<>()":
        if line[k] in "'\"":                   # <<'E O F': quoted text is one word
            close = line.find(line[k], k + 1)
            k = close + 1 if close > 0 else len(line)
        elif line[k] == "\\":
            k += 2
        elif line.startswith("$(", k):         # <<$(a): the text as written, as bash takes it
            k = _closing(line, k + 2) + 1
        elif line.startswith("${", k):
            end = _brace_end(line, k + 2)
            k = end + 1 if end > 0 else len(line)
        else:
            k += 1
    k = min(k, len(line))
    raw = line[j:k]
    end = raw.replace("'", "").replace('"', "").replace("\\", "")
    if not end:
        raise ParseError("<< needs the word that ends the here-document (<<EOF)", i, 2)
    tokens.append(Token("op", fd + "<<<", i - len(fd), j - i + len(fd)))
    here.append(_HereDoc(len(tokens), end, i, raw != end, strip_tabs))
    tokens.append(Token("word", Word.lit(""), j, k - j))
    return k


def _here_texts(line: str, pos: int, here: list[_HereDoc], tokens: list[Token], nested: Nested | None) -> int:
    """Read the texts of ``here`` from the lines at ``pos`` into their words; where
    the line goes on after the last one's END. An empty text reads as /dev/null."""
    for doc in here:
        lines = []
        while True:
            stop = line.find("\n", pos)
            text = line[pos:stop if stop >= 0 else len(line)]
            if doc.strip_tabs:
                text = text.lstrip("\t")
            if text == doc.end:
                pos = stop + 1 if stop >= 0 else len(line)
                break
            if stop < 0:
                raise ParseError(f"unterminated here-document (no line '{doc.end}' after it)", doc.column, 2)
            lines.append(text)
            pos = stop + 1
        slot = tokens[doc.slot]
        if not lines:
            tokens[doc.slot - 1] = Token("op", tokens[doc.slot - 1].value[:-3] + "<", doc.column, 2)
            tokens[doc.slot] = Token("word", Word.lit("/dev/null"), slot.column, slot.length)
            continue
        body = "\n".join(lines)     # <<< adds the last newline back
        try:
            word = Word.lit(body) if doc.literal else _here_word(body, nested)
        except ParseError as e:
            raise ParseError(f"in the here-document: {e.message}", doc.column, 2) from None
        tokens[doc.slot] = Token("word", word, slot.column, slot.length)
    return pos


def _here_word(body: str, nested: Nested | None) -> Word:
    """A here-document's text as one word: ``$x``, ``$(…)`` and ``\\$`` work as
    between double quotes; quotes are plain characters."""
    b = _WordBuilder()
    k = 0
    while k < len(body):
        c = body[k]
        if c == "\\" and body[k + 1:k + 2] in ("$", "`", "\\"):
            b.char(body[k + 1], False)
            k += 2
        elif c == "\\" and body[k + 1:k + 2] == "\n":
            k += 2
        elif c in "$`":
            k = _expansion(body, k, b, True, nested)
        else:
            b.char(c, False)
            k += 1
    return _word(b.atoms)


def _ends_command(tokens: list[Token]) -> bool:
    """Whether a newline here ends a command: not at the start, nor after
    ``|``, ``&&``, ``;``… or a block's ``do``, ``then`` or ``else``, where a line may go on."""
    if not tokens:
        return False
    last = tokens[-1]
    if last.kind == "op":
        return last.value not in ("|", "&&", "||", ";", *CASE_ENDS, "&", "(")
    if last.kind != "word":                 # a whole [[ … ]] or (( … )): the command is complete
        return True
    goes_on = last.value.is_literal and last.value.literal in COMMAND_FOLLOWS
    before = tokens[-2] if len(tokens) > 1 else None
    return not goes_on or (before is not None and before.kind == "word"      # `echo do` ends; `} then` goes on
                           and not (before.value.is_literal and before.value.literal == "}"))


def _double_quoted(line: str, i: int, b: _WordBuilder, nested: Nested | None) -> int:
    start, atoms = i, len(b.atoms)
    i += 1
    while i < len(line):
        c = line[i]
        if c == '"':
            if len(b.atoms) == atoms:
                b.part(Lit(""))         # "" is a word even next to an empty $x
            return i + 1
        if c == "\\" and i + 1 < len(line) and line[i + 1] in '"\\$`':
            b.char(line[i + 1], False)
            i += 2
        elif c in "$`":
            i = _expansion(line, i, b, True, nested)
        else:
            b.char(c, False)
            i += 1
    raise ParseError("unterminated double quote", start)


def _expansion(line: str, i: int, b: _WordBuilder, quoted: bool, nested: Nested | None) -> int:
    """Read the ``$…`` or backquoted expansion at ``i``; where the word goes on."""
    if line.startswith("$((", i):
        return _arithmetic(line, i, b)
    if line.startswith("$(", i):
        return _substitution(line, i, b, quoted, nested)
    if line[i] == "`":
        return _backquoted(line, i, b, quoted, nested)
    return _variable(line, i, b, quoted)


def _substitution(line: str, i: int, b: _WordBuilder, quoted: bool, nested: Nested | None) -> int:
    """Parse ``$(…)`` at ``i``: the inner text up to the matching parenthesis
    (quotes and backslashes respected) becomes a Sub holding its plan."""
    end = _closing(line, i + 2)
    source = line[i + 2:end]
    if not source.strip():
        return _nothing(b, quoted, end + 1)
    b.part(_sub(source, i + 2, quoted, nested))
    return end + 1


def _arithmetic(line: str, i: int, b: _WordBuilder) -> int:
    """``$((…))`` at ``i``: its expression, checked now, computed when the call runs."""
    end = _closing(line, i + 2)
    inner = line[i + 2:end]             # "(…)"
    if not (inner.startswith("(") and inner.endswith(")")):
        raise ParseError("unterminated $(( (no matching '))')", i, 3)
    expr = inner[1:-1]
    try:
        check_arithmetic(expr)
    except ValueError as e:
        raise ParseError(f"bad arithmetic $(({expr})): {e}", i, end - i + 1, status=1) from None
    b.part(Arith(expr))
    return end + 1


def _backquoted(line: str, i: int, b: _WordBuilder, quoted: bool, nested: Nested | None) -> int:
    """```…``` at ``i``, the old spelling of ``$(…)`` (it prints as ``$(…)``)."""
    end = i + 1
    while end < len(line) and line[end] != "`":
        end += 2 if line[end] == "\\" else 1
    if end >= len(line):
        raise ParseError("unterminated ` (no closing backquote)", i)
    source = _backquote_escapes(line[i + 1:end], quoted)
    if not source.strip():
        return _nothing(b, quoted, end + 1)
    b.part(_sub(source, i + 1, quoted, nested))
    return end + 1


def _backquote_escapes(text: str, quoted: bool) -> str:
    """The command inside backquotes, as bash reads it: a backslash before ``$``,
    a backquote or a backslash (and ``"`` inside double quotes) is taken away;
    any other stays (``\\(`` is the command's own escape)."""
    special = '$`\\"' if quoted else '$`\\'
    out, k = [], 0
    while k < len(text):
        if text[k] == "\\" and k + 1 < len(text) and text[k + 1] in special:
            out.append(text[k + 1])
            k += 2
        else:
            out.append(text[k])
            k += 1
    return "".join(out)


def _nothing(b: _WordBuilder, quoted: bool, end: int) -> int:
    """An empty ``$( )`` or backquotes: no output, as in bash ("$()" is an empty word, $() alone none)."""
    if quoted:
        b.part(Lit(""))
    b.vanishes = True
    return end


def _sub(source: str, column: int, quoted: bool, nested: Nested | None) -> Sub:
    """The Sub for the text of a substitution that starts at ``column``."""
    plan = Plan()
    if nested is not None:
        try:
            plan = nested(source)
        except ParseError as e:
            raise type(e)(f"in $(…): {e.message}", column + e.column, e.length, e.status) from None
    return Sub(source, plan, quoted)


def _closing(line: str, i: int) -> int:
    """Where the ``)`` closing a ``$(`` that ends at ``i`` is."""
    start, depth = i - 2, 1
    cases: list[int] = []           # the depth of each case … esac open here: its patterns end in )
    while i < len(line):
        c = line[i]
        if c == "\\":
            i += 2
            continue
        before = i == 0 or line[i - 1] in " \t\n;&|("
        if before and line.startswith("case", i) and line[i + 4:i + 5] in (" ", "\t", "\n"):
            cases.append(depth)
        elif before and line.startswith("esac", i) and line[i + 4:i + 5] in ("", " ", "\t", "\n", ";", "&", "|", ")"):
            cases = cases[:-1]
        if c == "'":
            end = line.find("'", i + 1)
            i = end if end >= 0 else len(line)
        elif c == '"':
            i += 1
            while i < len(line) and line[i] != '"':
                i += 2 if line[i] == "\\" else 1
        elif c == "(":
            depth += 1
        elif c == ")" and not (cases and cases[-1] == depth):    # not a case pattern's )
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise ParseError(f"unterminated {line[start:start + 2]} (no matching ')')", start, 2)


def _brace_end(line: str, i: int, quoted: bool = False) -> int:
    """Where the ``}`` closing a ``${`` whose text starts at ``i`` is (``${x:-${y}}``
    nests; quoted and escaped braces do not count; inside double quotes, a ``'``
    quotes nothing); -1 if none."""
    depth = 1
    while i < len(line):
        c = line[i]
        if c == "\\":
            i += 2
            continue
        if c == '"' or c == "'" and not quoted:
            close = line.find(c, i + 1)
            if close < 0:
                return -1
            i = close
        elif line.startswith("${", i):
            depth += 1
            i += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


def _variable(line: str, i: int, b: _WordBuilder, quoted: bool = False) -> int:
    """Parse ``$NAME``, ``${NAME}`` or ``$?`` at ``i``; a lone ``$`` is literal."""
    n = len(line)
    if i + 1 < n and line[i + 1] == "{":
        end = _brace_end(line, i + 2, quoted)
        inner = line[i + 2:end] if end > 0 else ""
        try:
            array = _array_variable(inner, quoted) if end > 0 else None
        except ParseError as e:
            raise ParseError(e.message, i, end - i + 1) from None
        if array is not None:
            b.part(array)
            return end + 1
        indirect = inner[:1] == "!" and inner[1:2].isidentifier()     # ${!ref}, ${!ref-WORD}: what $ref names
        if indirect:
            inner = inner[1:]
        length = _LENGTH.match(inner)
        m = _BRACED.match(inner) if end > 0 and not length else None
        op, arg = (m.group(2) or "", m.group(3) or "") if m else ("", "")
        if length:
            b.part(Var(length.group(1), "length", quoted=quoted))
        elif m is None or (op == ":" and not _is_slice(arg)) or (op in CASE_OPS and arg):
            raise ParseError(f"bad variable: {BRACED_FORMS}", i, (end - i + 1) if end > 0 else 2, status=1)
        elif op in ASSIGN_OPS and not (m.group(1)[0].isalpha() or m.group(1)[0] == "_"):
            raise ParseError(f"${{{m.group(1)}{op}…}}: only a named variable can be assigned this way",
                             i, end - i + 1)
        else:
            if op in WORD_OPS:
                try:
                    operand_word(arg, quoted)
                except ParseError as e:
                    raise ParseError(e.message, i, end - i + 1) from None
            b.part(Var(m.group(1), op, arg, quoted, indirect=indirect))
        return end + 1
    if i + 1 < n and line[i + 1] in "?@#*$!":     # $? status; $@ $* $# arguments; $$ nlsh's pid; $! last job
        b.part(Var(line[i + 1], quoted=quoted))
        return i + 2
    j = i + 1
    if j < n and line[j].isdigit():
        j += 1                          # $1…$9: one digit, as in bash ($10 is ${1}0)
    else:
        while j < n and _is_name_char(line[j]):
            j += 1
    if j == i + 1:
        b.char("$", False)
        return j
    b.part(Var(line[i + 1:j], quoted=quoted))
    return j


def _array_variable(inner: str, quoted: bool) -> Var | None:
    """The Var for ``${…}`` text with a subscript (``a[1]``, ``#a[@]``,
    ``!a[@]``, ``a[@]%.txt``); None for any other text."""
    names = _NAMES.match(inner)
    if names:
        return Var(names.group(1), "names", quoted=quoted, index=names.group(2))
    m = _SUBSCRIPTED.match(inner)
    if m is None:
        return None
    prefix, name = m.group(1), m.group(2)
    close = _subscript_end(inner, m.end())
    index, rest = inner[m.end():close], inner[close + 1:]
    if close < 0 or not index.strip():
        raise ParseError(f"bad array subscript in ${{{inner}}}", 0)
    if prefix == "#" and not rest:
        return Var(name, "length", quoted=quoted, index=index)
    if prefix == "!" and not rest and index in ("@", "*"):
        return Var(name, "keys", quoted=quoted, index=index)
    op_match = _BRACED.match(name + rest) if not prefix else None
    if op_match is None:
        raise ParseError(f"bad variable: {BRACED_FORMS}", 0, status=1)
    op, arg = op_match.group(2) or "", op_match.group(3) or ""
    if (op == ":" and not _is_slice(arg)) or (op in CASE_OPS and arg):
        raise ParseError(f"bad variable: {BRACED_FORMS}", 0, status=1)
    if op in WORD_OPS:
        operand_word(arg, quoted)
    return Var(name, op, arg, quoted, index)
