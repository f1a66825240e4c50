"""Text commands: grep, sort, uniq, wc, cut, tr, sed, echo, printf, tee."""

from __future__ import annotations

import collections
import decimal
import itertools
import os
import re
import stat
from collections.abc import Iterator

from nlsh import regexes
from nlsh.commands.gnu import GrepReads
from nlsh.kernel.context import Args, CommandError, Context, open_text, os_reason, whole_lines
from nlsh.lang.signature import Param
from nlsh.records import Heading, Partial, Record, plain, plain_line
from nlsh.registry import Example, command
from nlsh.trash import keep_overwritten

PATHS = Param("paths", "path", variadic=True, metavar="PATH")


def _regex(pattern: str, ignore_case: bool, fixed: bool, word: bool) -> re.Pattern:
    body = re.escape(pattern) if fixed else bre_to_python(pattern)
    if word:
        body = rf"(?<!\w)(?:{body})(?!\w)"
    try:
        return regexes.compile(body, re.IGNORECASE if ignore_case else 0)
    except regexes.error as e:
        raise CommandError(f"bad pattern {pattern!r}: {e}", status=2) from None


def bre_to_python(pattern: str) -> str:
    """GNU grep patterns mostly read as Python regexes; translate the
    POSIX classes and the ``\\|``, ``\\+``, ``\\?`` escapes of basic syntax."""
    classes = {"[:alpha:]": "a-zA-Z", "[:digit:]": "0-9", "[:alnum:]": "a-zA-Z0-9",
               "[:upper:]": "A-Z", "[:lower:]": "a-z", "[:space:]": r"\s",
               "[:punct:]": r"!-/:-@\[-`{-~", "[:xdigit:]": "0-9A-Fa-f", "[:blank:]": r" \t"}
    for k, v in classes.items():
        pattern = pattern.replace(k, v)
    return pattern.replace(r"\|", "|").replace(r"\+", "+").replace(r"\?", "?").replace(r"\<", r"\b").replace(r"\>", r"\b")


def _scan(path: str) -> tuple[int | None, int | None]:
    """A regular file's size and the offset of its first NUL byte (-1: none),
    found at C speed so that lines need no counting when there is none;
    (None, None) for anything else (a FIFO is not read twice)."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return None, None  # opened here, a FIFO's writer could lose what it wrote
        with open(path, "rb") as f:
            info = os.fstat(f.fileno())
            at = 0
            while block := f.read(1 << 20):
                if (i := block.find(b"\0")) >= 0:
                    return info.st_size, at + i
                at += len(block)
            return info.st_size, -1
    except OSError:
        return None, None


def _size(line: str) -> int:
    return len(line) if line.isascii() else len(line.encode("utf-8", "surrogateescape"))


def _binary_marks(lines: Iterator[object], size: int | None,
                  nul_at: int | None = None) -> Iterator[tuple[object, bool]]:
    """Each line with whether GNU grep calls the input binary by the time it
    matches it: when a NUL lies in what it has read once the line's newline
    came (``GrepReads``; ``size``: the input's, if a regular file). ``nul_at``:
    the first NUL's offset if known (a file); else lines are read ahead to it."""
    if nul_at is not None and nul_at < 0:
        yield from zip(lines, itertools.repeat(False))
        return
    reads = GrepReads(size)
    ahead: collections.deque[tuple[object, int, int]] = collections.deque()   # lines with their start and end
    offset, first = 0, -1 if nul_at is None else nul_at
    lines = iter(lines)
    done = False
    while True:
        while not done and (not ahead or (first < 0 and offset <= reads.through(ahead[0][1], ahead[0][2]))):
            line = next(lines, None)
            if line is None:
                done = True
                break
            text = line if isinstance(line, str) else ""
            if nul_at is None and first < 0 and "\0" in text:
                first = offset + _size(text[:text.index("\0")])
            ahead.append((line, offset, offset + _size(text)))
            offset += _size(text) + 1
        if not ahead:
            return
        line, start, end = ahead.popleft()
        yield line, 0 <= first < reads.through(start, end)


def _hits(rx: re.Pattern, text: str, invert: bool) -> int:
    """The lines GNU grep counts in ``text`` once the input is binary: a NUL
    ends a line as a newline does (and the input's last NUL ends its last line
    when no newline follows: ``text`` is then a Partial)."""
    parts = text.split("\0")
    if isinstance(text, Partial) and not parts[-1]:
        parts.pop()
    return sum(bool(rx.search(part)) != invert for part in parts)


def _grep_files(ctx: Context, paths: list[str], recursive: bool, follow: bool = False) -> Iterator[str]:
    """The files to search, named as GNU grep names them: under each directory
    given, its path joined to theirs (``./docs/a.md`` for ``.``); with none
    given (``grep -r x``), relative to here (``docs/a.md``). Links met inside
    a directory are followed only with -R, as GNU."""
    for p in paths or [""]:
        full = ctx.path(p or ".")
        if os.path.isdir(full):
            if not recursive:
                ctx.warn(f"{p}: Is a directory", status=2)
                continue
            for d, dirs, files in os.walk(full, followlinks=follow):
                dirs.sort()
                rel = os.path.relpath(d, full)
                for f in sorted(files):
                    ctx.check()
                    if not follow and os.path.islink(os.path.join(d, f)):
                        continue
                    yield os.path.join(p, f) if rel == "." else os.path.join(p, rel, f)
        elif not os.path.exists(full):
            ctx.warn(f"{p}: No such file or directory", status=2)
        else:
            yield p


def _grep_sources(ctx: Context, files: list[str]) -> Iterator[tuple[str, Iterator[tuple[object, bool]]]]:
    if not files:               # (read_lines would read the input instead)
        return
    for name, lines in ctx.read_lines(files, exact=True, whole=True, status=2):
        yield name, _binary_marks(lines, *(_scan(ctx.path(name)) if name != "-" else (None, None)))


@command("grep", "Lines (or records) that match a regular expression.",
         params=[Param("ignore_case", "flag", ("-i", "--ignore-case"), "ignore case"),
                 Param("recursive", "flag", ("-r", "--recursive"), "search directories (not following links in them)"),
                 Param("follow", "flag", ("-R", "--dereference-recursive"), "search directories, following links"),
                 Param("line_number", "flag", ("-n", "--line-number"), "prefix line numbers"),
                 Param("files_with_matches", "flag", ("-l", "--files-with-matches"), "only file names"),
                 Param("count", "flag", ("-c", "--count"), "count matching lines"),
                 Param("invert", "flag", ("-v", "--invert-match"), "non-matching lines"),
                 Param("word", "flag", ("-w", "--word-regexp"), "match whole words"),
                 Param("fixed", "flag", ("-F", "--fixed-strings"), "pattern is plain text"),
                 Param("extended", "flag", ("-E", "--extended-regexp"), "accepted (always extended)"),
                 Param("only_matching", "flag", ("-o", "--only-matching"), "print only the matches"),
                 Param("with_filename", "flag", ("-H", "--with-filename"), "always print file names"),
                 Param("no_filename", "flag", ("-h", "--no-filename"), "never print file names"),
                 Param("pattern", "pattern", required=True, metavar="PATTERN"),
                 PATHS],
         input="any", output="any", category="text",
         examples=[Example("lines with error in app.log", "grep error app.log", "error: disk",
                           {"app.log": "ok\nerror: disk\n"}),
                   Example("search password in config files, ignoring case", "grep -ri password conf",
                           "conf/a.ini:Password=1", {"conf/a.ini": "Password=1\nuser=x\n"}),
                   Example("which files mention TODO", "grep -rl TODO .", "./a.py",
                           {"a.py": "# TODO\n", "b.py": "done\n"}),
                   Example("count lines without a comment", "grep -vc '^#' f", "1", {"f": "#x\ny\n"})],
         program=True)
def grep(ctx: Context, a: Args) -> Iterator[object]:
    if a.fixed and a.extended:
        raise CommandError("conflicting matchers specified (-F and -E)", status=2)
    rx = _regex(a.pattern, a.ignore_case, a.fixed, a.word)
    matched = False
    recursive = a.recursive or a.follow
    if not a.paths and not recursive:
        sources: Iterator[tuple[str, Iterator[tuple[object, bool]]]] = iter(
            [("(standard input)", _binary_marks(whole_lines(ctx.items(exact=True), last_partial=True),
                                                ctx.input_size))])
        show_name = False
    else:
        files = list(_grep_files(ctx, a.paths, recursive, a.follow))
        searched_dir = recursive and (not a.paths or any(os.path.isdir(ctx.path(p)) for p in a.paths))
        show_name = (len(files) > 1 or searched_dir or a.with_filename) and not a.no_filename
        sources = _grep_sources(ctx, files)
    for name, lines in sources:
        n = 0
        for lineno, (item, binary) in enumerate(lines, 1):
            text = item if type(item) is str or isinstance(item, Partial) else plain(item)
            if binary and "\0" in text:
                hits = _hits(rx, text, a.invert)
            else:
                hits = (rx.search(text) is None) == a.invert
            if not hits:
                continue
            n += hits
            matched = True
            if a.files_with_matches:
                break
            if a.count:
                continue
            if binary:
                ctx.stderr.write(f"grep: {name}: binary file matches\n")     # as GNU grep 3.5+
                break
            prefix = (f"{name}:" if show_name else "") + (f"{lineno}:" if a.line_number else "")
            if a.only_matching:         # the matches of a selected line (-v: it has none)
                yield from (prefix + m.group(0) for m in rx.finditer(text) if m.group(0) and not a.invert)
            else:
                yield prefix + text if prefix or isinstance(item, Partial) else item
        if a.files_with_matches:
            if n:
                yield name
        elif a.count:
            yield f"{name}:{n}" if show_name else n
    if ctx.status == 0 and not matched:
        ctx.status = 1


def _sort_key(numeric: bool, fold: bool, human: bool = False):
    """The key of a record's field (or a line): with -n/-h a number as GNU sort
    reads one (:func:`_number`; a field that is a number is itself), else
    numbers before text, text folded to upper case with -f, as GNU."""
    def key(v: object) -> tuple:
        if numeric and isinstance(v, (int, float)):
            return (0, 0, v) if human else (0, v)
        if numeric:
            return (0, *_number("" if v is None else str(v), human))
        if v is None:
            return (0, "")
        if isinstance(v, (int, float)):
            return (0, v)
        s = str(v)
        return (1, s.upper() if fold else s)
    return key


_BLANKS = " \t"
_NUMBER = re.compile(r"[ \t]*(-?)(\d*(?:\.\d*)?)")
_UNITS = {"": 0, "k": 1, "K": 1, "M": 2, "G": 3, "T": 4, "P": 5, "E": 6, "Z": 7, "Y": 8, "R": 9, "Q": 10}


def _key_start(line: str, k: int, sep: str | None) -> int:
    """Where GNU sort's key ``-k K`` starts: after K-1 fields, each (without
    ``-t``) its blanks and then what is not blank, so the key keeps the blanks
    before its field."""
    at = 0
    for _ in range(k - 1):
        if sep:
            i = line.find(sep, at)
            if i < 0:
                return len(line)
            at = i + len(sep)
        else:
            while at < len(line) and line[at] in _BLANKS:
                at += 1
            while at < len(line) and line[at] not in _BLANKS:
                at += 1
    return at


def _number(text: str, human: bool) -> tuple:
    """GNU sort's -n (and -h) value of a key: blanks, an optional minus, digits
    with one decimal point; anything else is 0. With -h a unit after the number
    ranks first (1M after 2000K), its order negated for negative numbers."""
    m = _NUMBER.match(text)
    digits = m.group(2) if m.group(2) not in ("", ".") else "0"
    value = decimal.Decimal(digits) * (-1 if m.group(1) else 1)
    if not human:
        return (value,)
    unit = _UNITS.get(text[m.end():m.end() + 1], 0) if m.group(2) else 0
    return (-unit if value < 0 else unit, value)


def _gnu_sorted(lines: list[str], a: Args) -> list[str]:
    """Text lines in GNU sort's order (C locale): by the key (``-k K`` to the end
    of the line, ``-t``), as a number with -n/-h, folded to upper case with -f,
    and lines whose keys are equal as whole lines byte by byte; -r turns all
    of it over; -u keeps the first line of each run of equal keys."""
    numeric = a.numeric or a.human

    def key(line: str) -> object:
        text = line[_key_start(line, a.key, a.sep):] if a.key else line
        if numeric:
            return _number(text, a.human)
        return text.upper() if a.ignore_case else text
    if not a.unique:
        if not (a.key or numeric or a.ignore_case):
            return sorted(lines, reverse=a.reverse)
        return [line for _, line in sorted(((key(line), line) for line in lines), reverse=a.reverse)]
    out: list[str] = []
    last: object = object()
    for k, line in sorted(((key(line), line) for line in lines), key=lambda kl: kl[0], reverse=a.reverse):
        if k != last:
            out.append(line)
            last = k
    return out


@command("sort", "Sort lines, or records by fields (sort size -r).",
         params=[Param("reverse", "flag", ("-r", "--reverse"), "largest first"),
                 Param("numeric", "flag", ("-n", "--numeric-sort"), "compare as numbers"),
                 Param("human", "flag", ("-h", "--human-numeric-sort"), "compare as numbers"),
                 Param("unique", "flag", ("-u", "--unique"), "drop duplicates"),
                 Param("ignore_case", "flag", ("-f", "--ignore-case"), "fold case"),
                 Param("key", "int", ("-k", "--key"), "sort lines by field N", metavar="N"),
                 Param("sep", "str", ("-t", "--field-separator"), "field separator", metavar="SEP"),
                 Param("fields", "word", variadic=True, metavar="FIELD|FILE",
                       help="record fields to sort by, or files to sort when no records come in")],
         input="any", output="any", category="text",
         examples=[Example("sort names.txt", "cat names.txt | sort", "ann\nbob", {"names.txt": "bob\nann\n"}),
                   Example("sort numbers descending", "sort -rn n.txt", "10\n9\n1", {"n.txt": "9\n10\n1\n"}),
                   Example("largest files first", "ls | sort size -r | get name", "b\na",
                           {"a": "x", "b": "xxxx"})], program=True)
def sort(ctx: Context, a: Args) -> Iterator[object]:
    if a.numeric and a.human:
        raise CommandError(f"options '-{'f' if a.ignore_case else ''}hn' are incompatible", status=2)
    items = list(ctx.items()) if ctx.input is not None else []
    numeric = a.numeric or a.human
    if a.fields and not isinstance(next((it for it in items if not isinstance(it, Heading)), None), Record):
        items = [line for _, lines in ctx.read_lines(a.fields) for line in lines]
        a.fields = []
    if not a.fields and all(isinstance(it, str) for it in items):     # lines: GNU sort's order, exactly
        yield from _gnu_sorted(items, a)
        return
    if a.fields:
        key = _sort_key(numeric, a.ignore_case, a.human)
        items = [it for it in items if not isinstance(it, Heading)]     # ls -l's total sorts with no record
        recs = [it for it in items if isinstance(it, Record)]
        missing = [f for f in a.fields if recs and f not in recs[0]]
        if missing:
            raise CommandError(f"no field {missing[0]!r} (fields: {', '.join(recs[0])})")
        items.sort(key=lambda r: tuple(key(r.get(f) if isinstance(r, Record) else None)
                                       for f in a.fields), reverse=a.reverse)
    else:
        def text_of(item: object) -> object:
            if isinstance(item, Record) and item.line is None:
                first = item.get(item.primary) if item.primary else next(iter(item.values()), "")
                return first if isinstance(first, (int, float)) else plain(item)
            if isinstance(item, Record):        # a stand-in's record sorts as the line GNU's tool prints (du, ls)
                item = plain(item)
            if a.key and isinstance(item, str):
                return item[_key_start(item, a.key, a.sep):]
            return item
        key = _sort_key(numeric, a.ignore_case, a.human)
        if a.key or numeric or a.ignore_case:
            # lines whose keys are equal compare as whole lines, byte by byte (GNU's
            # last resort, which -r reverses too): "b 9" and "a 9" by -k2 -rn give b first
            items.sort(key=lambda it: (key(text_of(it)), plain(it)), reverse=a.reverse)
        else:
            items.sort(key=lambda it: key(text_of(it)), reverse=a.reverse)
    if a.unique:
        seen = set()
        out = []
        for it in items:
            k = plain(it).upper() if a.ignore_case else plain(it)
            if k not in seen:
                seen.add(k)
                out.append(it)
        items = out
    yield from items


@command("uniq", "Drop adjacent repeated lines or records (-c counts them).",
         params=[Param("count", "flag", ("-c", "--count"), "prefix counts"),
                 Param("repeated", "flag", ("-d", "--repeated"), "only repeated lines"),
                 Param("ignore_case", "flag", ("-i", "--ignore-case"), "fold case"),
                 PATHS],
         input="any", output="any", category="text",
         examples=[Example("count repeated lines", "sort w.txt | uniq -c", "      2 a\n      1 b",
                           {"w.txt": "a\nb\na\n"})], program=True)
def uniq(ctx: Context, a: Args) -> Iterator[object]:
    prev, prev_key, n = None, None, 0

    def emit(item: object, count: int) -> Iterator[object]:
        if a.repeated and count < 2:
            return
        if not a.count:
            yield item
        elif isinstance(item, Record):
            yield Record(item, primary=None, count=count)
        else:
            yield f"{count:7d} {plain(item)}"

    source = (line for _, lines in ctx.read_lines(a.paths) for line in lines) if a.paths else ctx.items()
    for item in source:
        key = plain(item).lower() if a.ignore_case else plain(item)
        if n and key == prev_key:
            n += 1
            continue
        if n:
            yield from emit(prev, n)
        prev, prev_key, n = item, key, 1
    if n:
        yield from emit(prev, n)


@command("wc", "Count lines, words and bytes.",
         params=[Param("lines", "flag", ("-l", "--lines"), "lines"),
                 Param("words", "flag", ("-w", "--words"), "words"),
                 Param("bytes", "flag", ("-c", "--bytes"), "bytes"),
                 Param("chars", "flag", ("-m", "--chars"), "characters"),
                 PATHS],
         input="text", output="any", category="text",
         examples=[Example("count lines in README.md", "wc -l README.md", "2 README.md",
                           {"README.md": "a\nb\n"}),
                   Example("how many words are in the input", "echo one two three | wc -w", "3")],
         program=True)
def wc(ctx: Context, a: Args) -> Iterator[object]:
    chosen = [k for k in ("lines", "words", "chars", "bytes") if getattr(a, k)] or ["lines", "words", "bytes"]
    rows = []
    wide = _utf8_locale(ctx.env)
    for path in a.paths or ["-"]:
        full = ctx.path(path) if path != "-" else ""
        fast = _fast_counts(ctx, full, need_text="words" in chosen or "chars" in chosen) \
            if path != "-" and os.path.isfile(full) else None
        if fast is not None:
            rows.append((path, [fast[k] for k in chosen]))
            continue
        if path != "-" and os.path.isdir(full):     # GNU: an error, and a row of zeros
            ctx.warn(f"{path}: Is a directory")
            rows.append((path, [0] * len(chosen)))
            continue
        rows.extend(_slow_counts(ctx, [path] if a.paths else [], chosen, wide))
    width = _wc_width(ctx, a.paths, len(chosen))
    if not a.paths:
        counts = rows[0][1]
        yield counts[0] if len(counts) == 1 else " ".join(f"{n:>{width}}" for n in counts)
        return
    if len(a.paths) > 1:            # GNU: a total for several operands, even when one could not be read
        rows.append(("total", [sum(r[1][i] for r in rows) for i in range(len(chosen))]))
    for name, ns in rows:
        yield " ".join(f"{n:>{width}}" for n in ns) + f" {name}"


_PLAIN_TEXT = bytes(range(0x20, 0x7f)) + b"\t\n\v\f\r"     # where a byte is a character and C's isspace rules


def _fast_counts(ctx: Context, path: str, need_text: bool) -> dict[str, int] | None:
    """A regular file's counts read in large blocks, as GNU wc reads it: lines
    and bytes always; words and characters only while the file is plain ASCII
    text (None otherwise: the careful count below decides)."""
    c = {"lines": 0, "words": 0, "bytes": 0, "chars": 0}
    in_word = False
    try:
        f = open(path, "rb")        # noqa: SIM115 (closed below)
    except OSError:
        return None                 # the careful count reports it as GNU does
    with f:
        while block := f.read(1 << 20):
            ctx.check()
            c["lines"] += block.count(b"\n")
            c["bytes"] += len(block)
            if not need_text:
                continue
            if block.translate(None, _PLAIN_TEXT):
                return None
            words = block.split()
            c["words"] += len(words) - (1 if words and in_word and not block[:1].isspace() else 0)
            in_word = not block[-1:].isspace()
    c["chars"] = c["bytes"]
    return c


def _slow_counts(ctx: Context, paths: list[str], chosen: list[str], wide: bool) -> list[tuple[str, list[int]]]:
    rows = []
    for name, chunks in ctx.read_lines(paths, keepends=True):
        c = {"lines": 0, "words": 0, "bytes": 0, "chars": 0}
        in_word = False
        for text in chunks:       # as GNU wc: lines are newlines, a last unterminated line adds none
            c["lines"] += text.count("\n")
            n, in_word = _count_words(text, in_word, wide)
            c["words"] += n
            size = len(text.encode("utf-8", "surrogateescape"))
            # -m: characters in a UTF-8 locale (a byte that is not UTF-8 is none), bytes in the C locale
            c["chars"] += len(text) - len(_UNDECODED.findall(text)) if wide else size
            c["bytes"] += size
        rows.append((name, [c[k] for k in chosen]))
    return rows


_RUN = re.compile(r"[^ \t\n\v\f\r]+")          # C's isspace
_UNDECODED = re.compile(r"[\udc80-\udcff]")      # bytes that were not UTF-8 (surrogateescape)
_ASCII_PRINTABLE = re.compile(r"[!-~]")
_OTHER = re.compile(r"[^\x00-\x7f\udc80-\udcff]")   # characters beyond ASCII that decoded


def _utf8_locale(env) -> bool:
    value = env.get("LC_ALL") or env.get("LC_CTYPE") or env.get("LANG") or ""
    return "UTF-8" in value.upper() or "UTF8" in value.upper()


def _count_words(text: str, in_word: bool, wide: bool) -> tuple[int, bool]:
    """GNU wc's words in ``text``: a word starts at a printable character after
    white space; other characters (NUL, bytes that are not text) neither start
    nor end one. ``in_word``: the text before ended inside a counted word (a
    long line comes in pieces). Returns the count and that state at the end."""
    n = 0
    for m in _RUN.finditer(text):
        token = m.group()
        printable = bool(_ASCII_PRINTABLE.search(token)) or (
            wide and any(ch.isprintable() for ch in _OTHER.findall(token)))
        carried = m.start() == 0 and in_word
        if printable and not carried:
            n += 1
        in_word = printable or carried
    if text and text[-1] in " \t\n\v\f\r":
        in_word = False
    return n, in_word


def _wc_width(ctx: Context, paths: list[str], counts: int) -> int:
    """GNU wc's column width: one count of one input is not padded; otherwise
    the digits of the regular files' total size, at least 7 when the input or
    a file that is not regular (a pipe, ``-``) is among them."""
    if counts == 1 and len(paths) <= 1:
        return 1
    if not paths:
        return 7 if ctx.input_size is None else len(str(ctx.input_size))      # wc < file: the file's size
    total, least = 0, 1
    for path in paths:
        try:
            s = os.stat(ctx.path(path)) if path != "-" else None
        except OSError:
            continue
        if s is not None and stat.S_ISREG(s.st_mode):
            total += s.st_size
        else:
            least = 7
    return max(len(str(total)), least)


def _field_list(spec: str) -> list[tuple[int, int]]:
    out = []
    for part in spec.split(","):
        lo, dash, hi = part.partition("-")
        try:
            start = int(lo) if lo else 1
            end = (int(hi) if hi else 10**9) if dash else start
        except ValueError:
            raise CommandError(f"invalid field list {spec!r} (try 1,3 or 2-4)") from None
        if start < 1:
            raise CommandError("fields are numbered from 1")
        out.append((start, end))
    return out


@command("cut", "Select fields (-f, split by -d) or characters (-c) of each line.",
         params=[Param("delimiter", "str", ("-d", "--delimiter"), "field delimiter (default tab)",
                       metavar="DELIM"),
                 Param("fields", "str", ("-f", "--fields"), "fields, e.g. 1,3-4", metavar="LIST"),
                 Param("characters", "str", ("-c", "--characters", "-b", "--bytes"), "bytes, e.g. 1-5",
                       metavar="LIST"),
                 Param("only_delimited", "flag", ("-s", "--only-delimited"), "skip lines without DELIM"),
                 PATHS],
         input="text", output="text", category="text",
         examples=[Example("the second column of data.csv", "cut -d , -f 2 data.csv", "b\n2",
                           {"data.csv": "a,b\n1,2\n"})], program=True)
def cut(ctx: Context, a: Args) -> Iterator[str]:
    if bool(a.fields) == bool(a.characters):
        raise CommandError("give exactly one of -f or -c")
    if a.characters and (a.only_delimited or a.delimiter is not None):
        raise CommandError(f"{'-s' if a.only_delimited else '-d'} applies to fields (-f), not to -c")
    ranges = _field_list(a.fields or a.characters)
    delim = a.delimiter if a.delimiter is not None else "\t"
    if a.fields and len(delim) != 1:
        raise CommandError("the delimiter must be a single character")
    for _, lines in ctx.read_lines(a.paths):
        for line in lines:
            if a.characters:        # GNU cut's -c counts bytes (it is -b), whatever the locale
                raw = line.encode("utf-8", "surrogateescape")
                yield bytes(b for i, b in enumerate(raw, 1) if any(lo <= i <= hi for lo, hi in ranges)
                            ).decode("utf-8", "surrogateescape")
                continue
            if delim not in line:
                if not a.only_delimited:
                    yield line
                continue
            parts = line.split(delim)
            yield delim.join(p for i, p in enumerate(parts, 1) if any(lo <= i <= hi for lo, hi in ranges))


_TR_CLASSES = {"[:upper:]": "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "[:lower:]": "abcdefghijklmnopqrstuvwxyz",
               "[:digit:]": "0123456789", "[:space:]": " \t\n\r\f\v", "[:blank:]": " \t",
               "[:punct:]": "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"}
_TR_CLASSES["[:alpha:]"] = _TR_CLASSES["[:upper:]"] + _TR_CLASSES["[:lower:]"]
_TR_CLASSES["[:alnum:]"] = _TR_CLASSES["[:alpha:]"] + _TR_CLASSES["[:digit:]"]


_TR_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\"}
_OCTAL = re.compile(r"[0-7]{1,3}")


def tr_set(spec: str) -> str:
    """Expand a tr set as GNU tr does: ranges (``a-z``, ``\\000-\\037``), classes
    (``[:upper:]``) and escapes (``\\n``, ``\\0``, ``\\NNN`` octal; ``\\-`` a hyphen)."""
    units: list[tuple[str, str]] = []      # (characters, "class" | "char" | "escaped")
    i = 0
    while i < len(spec):
        cls = next((k for k in _TR_CLASSES if spec.startswith(k, i)), None)
        if cls is not None:
            units.append((_TR_CLASSES[cls], "class"))
            i += len(cls)
        elif spec[i] == "\\" and i + 1 < len(spec):
            octal = _OCTAL.match(spec, i + 1)
            if octal is not None:
                n = int(octal.group(), 8)
                units.append((chr(n) if n < 0x80 else chr(0xDC00 + (n & 0xFF)), "escaped"))   # a byte, as read
                i = octal.end()
            else:
                units.append((_TR_ESCAPES.get(spec[i + 1], spec[i + 1]), "escaped"))
                i += 2
        else:
            units.append((spec[i], "char"))
            i += 1
    chars: list[str] = []
    k = 0
    while k < len(units):
        text, kind = units[k]
        if (kind != "class" and k + 2 < len(units) and units[k + 1] == ("-", "char")
                and units[k + 2][1] != "class"):
            lo, hi = ord(text), ord(units[k + 2][0])
            if hi < lo:
                raise CommandError(f"range {text}-{units[k + 2][0]} is in reverse order")
            chars.extend(chr(x) for x in range(lo, hi + 1))
            k += 3
        else:
            chars.append(text)
            k += 1
    return "".join(chars)


@command("tr", "Translate, delete (-d) or squeeze (-s) characters.",
         params=[Param("delete", "flag", ("-d", "--delete"), "delete characters in SET1"),
                 Param("squeeze", "flag", ("-s", "--squeeze-repeats"), "squeeze repeats"),
                 Param("set1", "str", required=True, metavar="SET1"),
                 Param("set2", "str", metavar="SET2")],
         input="text", output="text", category="text",
         examples=[Example("uppercase the text", "echo hello | tr a-z A-Z", "HELLO"),
                   Example("remove digits", "echo a1b2 | tr -d 0-9", "ab")], program=True)
def tr(ctx: Context, a: Args) -> Iterator[str]:
    s1 = tr_set(a.set1)
    s2 = tr_set(a.set2) if a.set2 is not None else ""
    if not a.delete and not a.squeeze and not s2:
        raise CommandError("missing SET2")
    if a.delete and a.squeeze and a.set2 is None:
        raise CommandError(f"missing operand after '{a.set1}': two sets are needed to delete and squeeze")
    if a.delete and not a.squeeze and a.set2 is not None:     # tr reads no file: a second word is no set here
        raise CommandError(f"extra operand '{a.set2}' (only one set is given when deleting without -s; "
                           "tr reads its input, not files: tr -d SET < FILE)")
    table: dict[int, object] = {}
    if a.delete:
        table = {ord(c): None for c in s1}
    elif s2:
        s2 = s2 + s2[-1] * max(0, len(s1) - len(s2))
        table = {ord(c): s2[i] for i, c in enumerate(s1)}
    squeeze = set(s2 or s1) if a.squeeze else set()     # -ds: delete SET1, squeeze SET2
    text = "".join(plain_line(item) for item in ctx.items(exact=True))    # newlines are characters too: tr '\n' ' '
    out = text.translate(table)
    if squeeze:
        out = re.sub("|".join(f"({re.escape(c)})\\{i + 1}+" for i, c in enumerate(sorted(squeeze))),
                     lambda m: m.group(0)[0], out) if len(squeeze) < 90 else out
    *lines, rest = out.split("\n")
    yield from lines
    if rest:
        yield Partial(rest)                 # no newline after it, as tr wrote none


def _sed_replacement(repl: str) -> str:
    """sed's replacement (``&``, ``\\1``, ``\\n``) in Python's ``re.sub`` syntax."""
    out, i = [], 0
    while i < len(repl):
        c = repl[i]
        if c == "\\" and i + 1 < len(repl):
            nxt = repl[i + 1]
            out.append(f"\\g<{nxt}>" if nxt.isdigit() else {"n": "\n", "t": "\t", "\\": "\\\\"}.get(nxt, nxt))
            i += 2
            continue
        out.append("\\g<0>" if c == "&" else "\\\\" if c == "\\" else c)
        i += 1
    return "".join(out)


def _split_sed(script: str) -> list[str]:
    """``s/a/b/;s/c/d/g`` → its commands (a ``;`` inside an s command stays)."""
    out, cur, i = [], "", 0
    while i < len(script):
        if script[i] == "s" and not cur.strip() and i + 1 < len(script):
            d = script[i + 1]
            seen, j = 0, i + 2
            while j < len(script) and seen < 2:
                if script[j] == "\\":
                    j += 2
                    continue
                if script[j] == d:
                    seen += 1
                j += 1
            while j < len(script) and script[j] not in ";\n":
                j += 1
            out.append(script[i:j])
            i = j + 1
            continue
        cur += script[i]
        i += 1
    return [s for s in out if s.strip()] or [script]


def _sed_check(script: str) -> None:
    """ValueError unless every command of ``script`` is an s command sed runs."""
    try:
        for s in _split_sed(script):
            sed_script(s.strip(), True)
    except CommandError as e:
        raise ValueError(e.message) from None
    except re.error as e:
        raise ValueError(str(e)) from None


_ZERO_WIDTH = ("^", "$", "\\b", "\\B", "(?=", "(?!", "(?<")


def _may_match_empty(rx: re.Pattern) -> bool:
    return rx.search("") is not None or any(z in rx.pattern for z in _ZERO_WIDTH)


def _sub_all(rx: re.Pattern, repl: str, line: str) -> str:
    """``s/RE/REPL/g`` as GNU sed does it: an empty match right after a match
    is not replaced (``s/a*/x/g`` on ``abb`` is ``xbxbx``; Python's ``sub``
    gives ``xxbxbx``)."""
    out, at, end = [], 0, -1
    for m in rx.finditer(line):
        if m.start() == m.end() == end:
            continue
        out += (line[at:m.start()], m.expand(repl))
        at = end = m.end()
    out.append(line[at:])
    return "".join(out)


def _as_bytes(text: str) -> str:
    """``text`` with one character per byte (latin-1), as the C locale reads it."""
    return text.encode("utf-8", "surrogateescape").decode("latin-1")


def _from_bytes(text: str) -> str:
    return text.encode("latin-1").decode("utf-8", "surrogateescape")


def sed_script(script: str, extended: bool, bytewise: bool = False) -> tuple[re.Pattern, str, int]:
    """Compile ``s/RE/REPL/FLAGS`` (any delimiter) to (regex, replacement, count);
    ``bytewise``: ``script`` is in bytes (:func:`_as_bytes`) and classes are ASCII's."""
    if len(script) < 2 or script[0] != "s":
        raise CommandError(f"unsupported script {script!r}: only s/PATTERN/REPLACEMENT/[gi] is supported")
    d = script[1]
    parts, cur, i = [], "", 2
    while i < len(script):
        c = script[i]
        if c == "\\" and i + 1 < len(script) and script[i + 1] == d:
            cur += d
            i += 2
            continue
        if c == "\\" and i + 1 < len(script):
            cur += script[i:i + 2]
            i += 2
            continue
        if c == d:
            parts.append(cur)
            cur = ""
        else:
            cur += c
        i += 1
    parts.append(cur)
    if len(parts) != 3:
        raise CommandError(f"unterminated s command: {script!r}")
    pattern, repl, flags = parts
    if any(f not in "gI i0123456789" for f in flags):
        raise CommandError(f"unknown flag in {script!r}")
    if not extended:
        pattern = (pattern.replace(r"\(", "\0").replace("(", r"\(").replace("\0", "(")
                   .replace(r"\)", "\0").replace(")", r"\)").replace("\0", ")")
                   .replace(r"\{", "\0").replace("{", r"\{").replace("\0", "{")
                   .replace(r"\}", "\0").replace("}", r"\}").replace("\0", "}"))
    pattern = bre_to_python(pattern)
    py_repl = _sed_replacement(repl)
    try:
        rx = regexes.compile(pattern, (re.IGNORECASE if ("i" in flags or "I" in flags) else 0)
                             | (re.ASCII if bytewise else 0))
    except regexes.error as e:
        raise CommandError(f"bad pattern {pattern!r}: {e}") from None
    count = 0 if "g" in flags else 1
    return rx, py_repl, count


@command("sed", "Substitute text: s/PATTERN/REPLACEMENT/[g][i]; -i edits files in place.",
         params=[Param("in_place", "flag", ("-i", "--in-place"), "edit the files", effects=("write",)),
                 Param("extended", "flag", ("-E", "-r", "--regexp-extended"), "extended regex syntax"),
                 Param("script", "str", required=True, metavar="SCRIPT", check=_sed_check),
                 PATHS],
         input="text", output="text", category="text",
         examples=[Example("replace cat with dog", "echo cat cat | sed s/cat/dog/g", "dog dog"),
                   Example("replace foo with bar in a.txt", "sed -i s/foo/bar/ a.txt", "bar",
                           {"a.txt": "foo\n"}, check="cat a.txt")], program=True)
def sed(ctx: Context, a: Args) -> Iterator[str]:
    bytewise = not _utf8_locale(ctx.env)        # in the C locale a character is a byte, as GNU sed reads it
    scripts = [sed_script(_as_bytes(s.strip()) if bytewise else s.strip(), a.extended, bytewise)
               for s in _split_sed(a.script)]

    def edit(line: str) -> str:
        wide = bytewise and not line.isascii()
        if wide:
            line = _as_bytes(line)
        for rx, repl, count in scripts:
            line = _sub_all(rx, repl, line) if count == 0 and _may_match_empty(rx) else rx.sub(repl, line, count=count)
        return _from_bytes(line) if wide else line
    if a.in_place:
        if not a.paths:
            raise CommandError("-i needs at least one file")
        for p in a.paths:
            full = ctx.path(p)
            try:
                with open_text(full) as f:
                    data = f.read()
                new = "\n".join(edit(line) for line in data.split("\n"))
                if new != data:
                    keep_overwritten(ctx.shell, full, "sed -i")
                    tmp = full + ".nlsh-sed"
                    with open(tmp, "w", encoding="utf-8", errors="surrogateescape", newline="\n") as f:
                        f.write(new)
                    os.chmod(tmp, os.stat(full).st_mode & 0o7777)
                    os.replace(tmp, full)
            except OSError as e:
                ctx.warn(f"{p}: {os_reason(e)}")
        return
    for _, lines in ctx.read_lines(a.paths, exact=True, whole=True):
        for line in lines:
            yield (type(line))(edit(line))      # a last line with no newline keeps none, as in GNU sed


def _escapes(s: str) -> str:
    try:
        return s.encode("utf-8", "surrogateescape").decode("unicode_escape").encode(
            "latin-1", "surrogateescape").decode("utf-8", "surrogateescape")
    except (UnicodeDecodeError, UnicodeEncodeError):
        return s


@command("echo", "Print the arguments as one line.",
         params=[Param("no_newline", "flag", ("-n",), "no trailing newline"),
                 Param("escapes", "flag", ("-e",), "interpret backslash escapes"),
                 Param("words", "word", variadic=True, metavar="TEXT")],
         output="text", category="text", free_dashes=True, flags_first=True,
         examples=[Example("say hello world", "echo hello world", "hello world")], program=True)
def echo(ctx: Context, a: Args) -> Iterator[str]:
    text = " ".join(a.words)
    stop = False
    if a.escapes:
        text, stop = _echo_escapes(text)
    lines = text.split("\n")
    yield from lines[:-1]
    yield Partial(lines[-1]) if a.no_newline or stop else lines[-1]


_ECHO_ESCAPES = {"\\": "\\", "a": "\a", "b": "\b", "e": "\x1b", "E": "\x1b", "f": "\f", "n": "\n",
                 "r": "\r", "t": "\t", "v": "\v"}
_ECHO_NUMBER = re.compile(r"0([0-7]{0,3})|x([0-9A-Fa-f]{1,2})|u([0-9A-Fa-f]{1,4})|U([0-9A-Fa-f]{1,8})")


def _echo_escapes(text: str) -> tuple[str, bool]:
    """bash's ``echo -e``: its backslash escapes (``\\0NNN`` octal, ``\\xHH``,
    ``\\uHHHH`` …) read, and whether a ``\\c`` ended the output (nothing after
    it is printed, not even the newline)."""
    out, i = [], 0
    while (j := text.find("\\", i)) >= 0 and j + 1 < len(text):
        out.append(text[i:j])
        c = text[j + 1]
        if c == "c":
            return "".join(out), True
        m = _ECHO_NUMBER.match(text, j + 1)
        if c in _ECHO_ESCAPES:
            out.append(_ECHO_ESCAPES[c])
            i = j + 2
        elif m:
            octal, hex2, u4, u8 = m.groups()
            if octal is not None:
                raw = bytes([int(octal or "0", 8) & 0xFF])
            elif hex2 is not None:
                raw = bytes([int(hex2, 16)])
            else:
                raw = chr(int(u4 or u8, 16)).encode("utf-8", "surrogatepass")
            out.append(raw.decode("utf-8", "surrogateescape"))
            i = m.end()
        else:
            out.append("\\" + c)
            i = j + 2
    out.append(text[i:])
    return "".join(out), False


_FMT = re.compile(r"%([-+ #0]*)(\d+|\*)?(?:\.(\d+))?([sdifgeExXocb%])")


def _format_once(fmt: str, args: list[str]) -> tuple[str, int]:
    """``fmt`` filled from ``args`` once (missing values are empty); the text
    and how many values it used. The format is reused while values remain."""
    used = 0

    def conv(m: re.Match) -> str:
        nonlocal used
        flags, width, prec, kind = m.groups()
        if kind == "%":
            return "%"
        v = args[used] if used < len(args) else ""
        used += 1
        spec = "%" + flags + (width or "") + (f".{prec}" if prec is not None else "")
        try:
            if kind in "di":
                return (spec + "d") % int(float(v or 0))
            if kind in "feEgG":
                return (spec + kind) % float(v or 0)
            if kind in "xXo":
                return (spec + kind) % int(v or 0)
            if kind == "c":
                return (spec + "s") % (v[:1])
            if kind == "b":
                return (spec + "s") % _echo_escapes(v)[0]      # %b reads escapes as echo -e does (\0NNN)
            return (spec + "s") % v
        except ValueError:
            raise CommandError(f"invalid number: {v!r}") from None

    text = _FMT.sub(conv, _escapes(fmt) if "\\" in fmt else fmt)
    return text, min(used, len(args))


@command("printf", "Format and print: printf '%s has %d lines\\n' a.txt 3.",
         params=[Param("variable", "str", ("-v",), "put the text into the variable NAME instead",
                       metavar="NAME", planned=False),
                 Param("format", "str", required=True, metavar="FORMAT"),
                 Param("values", "word", variadic=True, metavar="ARG")],
         output="text", category="text", free_dashes=True,
         examples=[Example("print name and count", "printf '%s=%d\\n' x 3", "x=3")], program=True)
def printf(ctx: Context, a: Args) -> Iterator[str]:
    args = list(a.values)
    out: list[str] = []
    while True:
        text, used = _format_once(a.format, args)
        out.append(text)
        args = args[used:]
        if not args or used == 0:
            break
    if a.variable is not None:
        if not a.variable.isidentifier():
            raise CommandError(f"{a.variable!r}: not a variable name")
        ctx.env[a.variable] = "".join(out)
        return
    *lines, rest = "".join(out).split("\n")
    yield from lines
    if rest:
        yield Partial(rest)


@command("tee", "Copy the input to files and pass it on.",
         params=[Param("append", "flag", ("-a", "--append"), "append instead of overwrite"),
                 Param("paths", "path", variadic=True, metavar="FILE", creates=True)],
         input="any", output="any", effects=("write",), category="text",
         examples=[Example("write hi to out.txt and show it too", "echo hi | tee out.txt", "hi\nhi",
                           check="cat out.txt")])
def tee(ctx: Context, a: Args) -> Iterator[object]:
    files = []
    try:
        for p in a.paths:
            try:
                if not a.append:
                    keep_overwritten(ctx.shell, ctx.path(p), "tee")
                files.append(open(ctx.path(p), "a" if a.append else "w", encoding="utf-8",  # noqa: SIM115
                                  errors="surrogateescape"))
            except OSError as e:
                ctx.warn(f"{p}: {os_reason(e)}")
        for item in ctx.items(exact=True):
            line = plain_line(item)
            for f in files:
                f.write(line)
            yield item
    finally:
        for f in files:
            f.close()


COMMANDS = [grep, sort, uniq, wc, cut, tr, sed, echo, printf, tee]
