"""The shell's own commands: history, alias, unalias, help, source and ., read,
shift, set, eval, exec, trap and exit."""
from __future__ import annotations

import datetime as dt
import re
import shutil
import sys
from collections.abc import Iterator

from nlsh.commands.control import Rewind, block_input
from nlsh.kernel import ifs
from nlsh.kernel.context import Args, CommandError, Context, ExitShell
from nlsh.kernel.redirect import keep_descriptors
from nlsh.kernel.terminal import typed_line
from nlsh.kernel.variables import Array, declaration
from nlsh.lang.errors import did_you_mean
from nlsh.lang.signature import Param
from nlsh.lang.values import Duration, Size
from nlsh.records import Partial, Record, plain_line
from nlsh.registry import Example, command


@command("history", "Lines typed before, oldest first (-c clears); --jobs: what ran and what it cost.",
         params=[Param("clear", "flag", ("-c", "--clear"), "forget the typed lines"),
                 Param("jobs", "flag", ("--jobs",), "finished jobs with their CPU, memory and status"),
                 Param("audit", "flag", ("--audit",), "every executed line with the policy's decision"),
                 Param("agents", "flag", ("--agents",), "past agent runs: task, how each ended, steps, tokens"),
                 Param("agent", "int", ("--agent",), "one agent run's steps (with --json: its whole transcript)",
                       metavar="ID"),
                 Param("json", "flag", ("--json",), "with --agent: the transcript as JSON"),
                 Param("save", "path", ("--save",), "write the last N lines (default 10) as an NL script",
                       metavar="FILE.nls", effects=("write",), creates=True),
                 Param("n", "int", metavar="N")],
         output="records", category="shell",
         examples=[Example("what did I run recently", "history 10"),
                   Example("what did my last jobs cost", "history --jobs 5")])
def history(ctx: Context, a: Args) -> Iterator[Record]:
    if a.agents or a.agent is not None:
        yield from _agent_history(ctx, a.agent, a.json, a.n)
        return
    if a.json:
        raise CommandError("--json goes with --agent ID (one agent run's transcript)", 2)
    if a.jobs:
        yield from _job_history(ctx, a.n)
        return
    if a.save:
        yield from _save_script(ctx, a.save, a.n or 10)
        return
    if a.audit:
        rows = ctx.shell.store.query("SELECT * FROM audit ORDER BY id DESC LIMIT ?", (a.n or 1000,))
        for row in reversed(rows):
            yield Record(id=row["id"], time=dt.datetime.fromtimestamp(row["time"]).replace(microsecond=0),
                         decision=row["decision"], by=row["decided_by"],
                         status="" if row["status"] is None else row["status"],
                         typed=row["typed"] or "", plan=row["plan"] or "", model=row["model"] or "",
                         tokens="" if row["model_tokens"] is None else row["model_tokens"],
                         model_s="" if row["model_s"] is None else round(row["model_s"], 2),
                         agent=row["agent"] or "")
        return
    h = ctx.shell.history
    if a.clear:
        h.clear()
        return
    entries = h.entries()
    start = max(0, len(entries) - a.n) if a.n is not None else 0
    for i, line in enumerate(entries[start:], start + 1):
        yield Record(id=i, command=line, primary=None)


def _save_script(ctx: Context, path: str, n: int) -> Iterator[str]:
    """The last N lines typed (utterances as said, not their plans) as a new script."""
    import os
    lines = [e for e in ctx.shell.history.entries() if not e.lstrip().startswith(("history", "exit"))][-n:]
    full = ctx.path(path)
    if os.path.exists(full):
        raise CommandError(f"{path} already exists")
    with open(full, "w", encoding="utf-8") as f:
        f.write("#!/usr/bin/env nlsh\n# nls 1\n# saved from history\n")
        f.writelines(line.replace("\n", " ") + "\n" for line in lines)
    yield f"saved {len(lines)} lines to {path}"


def _agent_history(ctx: Context, run: int | None, as_json: bool, n: int | None) -> Iterator[object]:
    """The agent runs kept (``--agents``), or one run's steps (``--agent ID``)."""
    import json
    store = ctx.shell.store
    if run is None:
        rows = store.query("SELECT * FROM agents ORDER BY id DESC LIMIT ?", (n or 1000,))
        for row in reversed(rows):
            yield Record(id=row["id"], started=dt.datetime.fromtimestamp(row["time"]).replace(microsecond=0),
                         status=row["status"], steps=row["steps"], tokens=row["model_tokens"] or 0,
                         time=Duration(round(row["seconds"] or 0, 1)), parent=row["parent"] or "", task=row["task"],
                         answer=(row["answer"] or "").replace("\n", "; "))
        return
    rows = store.query("SELECT transcript FROM agents WHERE id = ?", (run,))
    if not rows:
        raise CommandError(f"no agent run {run} (history --agents lists them)")
    transcript = json.loads(rows[0]["transcript"])
    if as_json:
        yield json.dumps(transcript, ensure_ascii=False, indent=2)
        return
    for child in transcript.get("children", []):
        got = store.query("SELECT task, status, answer FROM agents WHERE id = ?", (child,))
        if got:
            yield Record(step=f"#{child}", outcome=got[0]["status"], status="", command=got[0]["task"],
                         output=got[0]["answer"] or "")
    for step in transcript["steps"]:
        yield Record(step=step["n"], outcome=step["outcome"], status="" if step["status"] is None else step["status"],
                     command=step["line"], output=(step["output"] or step["reason"]).strip().split("\n")[0][:80])
    yield Record(step="", outcome=transcript["status"], status="", command="",
                 output=(transcript["answer"] or transcript["message"]).replace("\n", "; "))


def _job_history(ctx: Context, n: int | None) -> Iterator[Record]:
    rows = ctx.shell.store.query("SELECT * FROM jobs ORDER BY id DESC LIMIT ?", (n or 1000,))
    for row in reversed(rows):
        yield Record(id=row["id"], started=dt.datetime.fromtimestamp(row["started"]).replace(microsecond=0),
                     state=row["state"], status=row["status"],
                     time=Duration(round((row["ended"] or row["started"]) - row["started"], 3)),
                     cpu=Duration(round((row["cpu_user"] or 0) + (row["cpu_system"] or 0), 3)),
                     peak_rss=Size(row["peak_rss"] or 0), tokens=row["model_tokens"] or 0,
                     model=Duration(round(row["model_s"] or 0, 3)), where=row["node"] or "here",
                     command=row["command"])


@command("alias", "Define or list aliases: alias ll='ls -l'.",
         params=[Param("definitions", "word", variadic=True, metavar="NAME=VALUE")],
         output="text", category="shell", shell_state=True,
         examples=[Example("make ll mean ls -l", "alias ll='ls -l'")])
def alias(ctx: Context, a: Args) -> Iterator[str]:
    aliases = ctx.shell.aliases
    if not a.definitions:
        for k in sorted(aliases):
            yield f"alias {k}='{aliases[k]}'"
        return
    for d in a.definitions:
        name, eq, value = d.partition("=")
        if not eq:
            if name not in aliases:
                raise CommandError(f"{name}: not found")
            yield f"alias {name}='{aliases[name]}'"
            continue
        if not name or any(c in name for c in " /|;&<>'\"$"):
            raise CommandError(f"invalid alias name {name!r}")
        aliases[name] = value


@command("unalias", "Remove aliases.",
         params=[Param("names", "str", variadic=True, required=True, metavar="NAME")],
         output="none", category="shell", shell_state=True,
         examples=[Example("remove the ll alias", "unalias ll")])
def unalias(ctx: Context, a: Args) -> None:
    for n in a.names:
        if ctx.shell.aliases.pop(n, None) is None:
            ctx.warn(f"{n}: not found")


@command("help", "List the commands, or show one command's usage, flags and examples.",
         params=[Param("name", "str", metavar="COMMAND")],
         output="text", category="shell",
         examples=[Example("how do I use find", "help find")])
def help_(ctx: Context, a: Args) -> Iterator[str]:
    reg = ctx.shell.registry
    if a.name is None:
        by_cat: dict[str, list] = {}
        for c in reg:
            by_cat.setdefault(c.category, []).append(c)
        for cat in sorted(by_cat):
            yield f"{cat}:"
            for c in by_cat[cat]:
                yield f"  {c.name:<10} {c.summary}"
        yield ""
        yield "Type a command, or say what you want in plain words. 'help CMD' for details."
        return
    cmd = reg.get(a.name)
    if cmd is None:
        raise CommandError(f"no command {a.name}{did_you_mean(a.name, reg.names())}")
    yield f"{cmd.name} — {cmd.summary}"
    yield f"usage: {cmd.usage}"
    yield f"input: {cmd.input}   output: {cmd.output}   effects: {', '.join(sorted(cmd.effects))}"
    if cmd.program:
        where = shutil.which(cmd.name, path=ctx.shell.env.get("PATH"))
        yield (f"other flags run {where} instead, as in bash" if where
               else f"other flags would run the program {cmd.name}, which is not on PATH")
    options = [p for p in cmd.params if not p.positional]
    if options:
        yield "flags:"
        for p in options:
            spelled = ", ".join(p.flags) + ("" if p.type == "flag" else f" {p.label}")
            yield f"  {spelled:<28} {p.help}"
    if cmd.examples:
        yield "examples:"
        for ex in cmd.examples:
            yield f"  {ex.utterance:<44} {ex.command}"


_SOURCE_PARAMS = [Param("locked", "flag", ("--locked",), "refuse unlocked or stale lines"),
                  Param("dry_run", "flag", ("--dry-run",), "show the plans, run nothing"),
                  Param("path", "path", required=True, metavar="FILE")]


MAX_SOURCE_DEPTH = 64      # scripts sourced inside one another


@command("source", "Run an NL script (.nls) in this shell, using its lock.", params=_SOURCE_PARAMS,
         output="none", effects=("exec",), category="shell", shell_state=True,
         examples=[Example("run my cleanup script", "source cleanup.nls")])
def source(ctx: Context, a: Args) -> None:
    shell = ctx.shell
    depth = shell.source_depth
    if depth >= MAX_SOURCE_DEPTH:
        raise CommandError(f"scripts sourced more than {MAX_SOURCE_DEPTH} deep (one sources itself?)", 126)
    shell.source_depth = depth + 1
    try:
        ctx.status = shell.source_script(ctx.path(a.path), shell, locked=a.locked, dry_run=a.dry_run)
    finally:
        shell.source_depth = depth


@command(".", "Run a script in this shell (bash's name for source).", params=_SOURCE_PARAMS,
         output="none", effects=("exec",), category="shell", shell_state=True, planned=False,
         examples=[Example("read my settings", ". settings.nls")])
def dot(ctx: Context, a: Args) -> None:
    source.run(ctx, a)


@command("read", "Read one line of input into variables (REPLY if none), split on $IFS (white space); "
         "status 1 at the end of the input.",
         params=[Param("raw", "flag", ("-r",), "keep backslashes (without -r, \\X is X and \\ at the end of "
                       "a line joins the next, as in bash)"),
                 Param("prompt", "str", ("-p",), "show PROMPT first (on a terminal)", metavar="PROMPT"),
                 Param("silent", "flag", ("-s",), "do not show what is typed (a password)"),
                 Param("delim", "str", ("-d",), "end the line at DELIM's first character, not a newline "
                       "('' is NUL: find -print0)", metavar="DELIM"),
                 Param("nchars", "str", ("-n",), "return after N characters (or the line's end)", metavar="N"),
                 Param("exactly", "str", ("-N",), "read exactly N characters, newlines too; no splitting",
                       metavar="N"),
                 Param("timeout", "str", ("-t",), "at a terminal, give up after SECONDS (status 142)",
                       metavar="SECONDS"),
                 Param("array", "str", ("-a",), "put the words in the array NAME (${NAME[0]} …)", metavar="NAME"),
                 Param("fd", "int", ("-u",), "read from descriptor FD (exec 3<FILE)", metavar="FD"),
                 Param("names", "str", variadic=True, metavar="NAME")],
         input="any", output="none", category="shell", planned=False, shell_state=True,
         examples=[Example("print each line of names.txt with a dash", 'cat names.txt | while read n; do echo "- $n"; done',
                           "- ann\n- bob", {"names.txt": "ann\nbob\n"})])
def read(ctx: Context, a: Args) -> None:
    """As in bash, the status is 1 when the input ended before the line did
    (what was read is still set: ``while read l || [[ -n $l ]]``)."""
    names = [] if a.array else list(a.names or ["REPLY"])      # -a NAME: the words go there, other names are unused
    for name in names + ([a.array] if a.array else []):
        if not name.isidentifier():
            raise CommandError(f"{name!r}: not a variable name")
    n_text = a.exactly if a.exactly is not None else a.nchars
    count = _count(n_text)
    timeout = None
    if a.timeout is not None:
        try:
            timeout = float(a.timeout)
        except ValueError:
            timeout = -1.0
        if not timeout >= 0:
            raise CommandError(f"{a.timeout}: invalid timeout specification", 1)
        if timeout == 0:            # -t 0: is there input to read? (only a terminal's can be waited for)
            ctx.status = 0 if ctx.input is not None or ctx.terminal is None else 1
            return
    if n_text == "0":                   # -n 0: nothing read, the name emptied
        for name in names[:1]:
            ctx.env[name] = ""
        return
    if a.prompt and ctx.terminal is not None:
        ctx.stderr.write(a.prompt)
        ctx.stderr.flush()
    delim = "\n" if a.delim is None else a.delim[:1] or "\0"
    source = None if a.fd is None else _descriptor_lines(ctx, a.fd, delim)
    try:
        line, ended = _record(ctx, delim, a.silent, count, a.exactly is not None, timeout, source)
        while not a.raw and ended and count == 0 and _odd_backslashes(line):     # \ at the end: the next line too
            more, ended = _record(ctx, delim, a.silent, 0, False, timeout, source)
            line = line[:-1] + (delim if delim != "\n" else "") + more    # an escaped delimiter is its character
        if count and not a.raw and a.exactly is None:      # -n N counts characters after their backslashes
            got, asked = line, count
            while ended and _unescaped_length(line) < count:
                if len(got) < asked:            # the delimiter came first
                    if not _odd_backslashes(line):
                        break
                    line = line[:-1] + (delim if delim != "\n" else "")   # an escaped one: the line goes on
                asked = count - _unescaped_length(line)
                got, ended = _record(ctx, delim, a.silent, asked, False, timeout, source)
                line += got
    except TimeoutError:
        ctx.status = 142
        return
    if a.exactly is not None:                   # -N: the characters as they came, unsplit
        ctx.env[names[0] if names else "REPLY"] = line
        for name in names[1:]:
            ctx.env[name] = ""
        if not ended:
            ctx.status = 1
        return
    line, kept = (line, {}) if a.raw else _escaped(line)
    separators = ifs.separators(ctx.env)
    if a.array:
        ctx.env.set_array(a.array, Array(enumerate(_restore(w, kept) for w in ifs.fields(line, separators))))
    if names:           # REPLY alone: the line as it came, unsplit, as in bash
        got = ifs.fields(line, separators, len(names)) if a.names else [line]
        for i, name in enumerate(names):
            ctx.env[name] = _restore(got[i], kept) if i < len(got) else ""      # at the end: emptied, as in bash
    if not ended:
        ctx.status = 1


def _count(text: str | None) -> int:
    """-n/-N's N (0 when not given)."""
    if text is None:
        return 0
    if not text.isdigit():
        raise CommandError(f"{text}: invalid number")
    return int(text)


def _unescaped_length(line: str) -> int:
    """How many characters ``line`` holds once each backslash has quoted the next (a
    lone one at the end: none)."""
    return len(re.sub(r"\\(.)|\\$", lambda m: m.group(1) or "", line, flags=re.DOTALL))


def _odd_backslashes(line: str) -> bool:
    return (len(line) - len(line.rstrip("\\"))) % 2 == 1


def _escaped(line: str) -> tuple[str, dict[str, str]]:
    """bash's read without -r: \\X is X, kept out of word splitting (each such X
    stands in the line as a private character, ``_restore`` puts it back); a
    lone backslash at the end goes."""
    out, kept, i = [], {}, 0
    while i < len(line):
        c = line[i]
        if c == "\\":
            if i + 1 < len(line) and line[i + 1] != "\n":        # backslash-newline: both go
                stand_in = chr(0xF0000 + len(kept))
                kept[stand_in] = line[i + 1]
                out.append(stand_in)
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out), kept


def _restore(text: str, kept: dict[str, str]) -> str:
    return "".join(kept.get(c, c) for c in text) if kept else text


def _typed_lines(ctx: Context, silent: bool, count: int = 0, timeout: float | None = None) -> Iterator[str]:
    """Lines typed at the terminal, until Ctrl-D; text typed without Enter
    (then Ctrl-D twice) is input that ended mid-line, and the last. With
    ``count``, each key counts at once (no Enter needed for ``read -n 1``)."""
    while (line := typed_line(ctx.terminal, ctx.cancel, silent, count, timeout)) is not None:
        if not line.endswith("\n"):
            yield Partial(line)
            if not count:
                return
            continue
        yield line[:-1]


def _descriptor_lines(ctx: Context, fd: int, delim: str) -> Iterator[str]:
    """``read -u FD``: what descriptor FD holds, up to each ``delim``, read a byte at
    a time so that the descriptor is left just after it, as bash leaves it."""
    f = ctx.descriptors.get(fd) if fd in ctx.descriptors else ctx.shell.fds.get(fd)
    if f is None or not hasattr(f, "read") or not f.readable():
        raise CommandError(f"{fd}: invalid file descriptor: not open for reading", 1)
    end = delim.encode("utf-8", "surrogateescape")[:1]
    while True:
        got = bytearray()
        while (b := f.read(1)) and b != end:
            got += b
        if not b and not got:
            return
        yield got.decode("utf-8", "surrogateescape") + (delim if b else "")


def _record(ctx: Context, delim: str, silent: bool, count: int = 0, exact: bool = False,
            timeout: float | None = None, source: Iterator[str] | None = None) -> tuple[str, bool]:
    """The text up to ``delim`` from the input (or typed at the terminal, or
    ``source``: read -u), and whether it ended there (or after ``count``
    characters: -n; with ``exact``, only there: -N). What comes after it in the
    same line goes back to the block's input for the next read."""
    if source is None and ctx.input is not None:
        source = iter(ctx.input)
    elif source is None and ctx.terminal is not None:
        source = _typed_lines(ctx, silent, count, timeout)
    elif source is None:
        source = iter(())
    got: list[str] = []
    have = 0

    def give_back(rest: str) -> None:
        if rest and isinstance(source, Rewind):
            source.push(rest[:-1] if rest.endswith("\n") else Partial(rest))

    try:
        for item in source:
            text = plain_line(item)
            at = -1 if exact else text.find(delim)
            if count and (at < 0 or at >= count - have) and len(text) >= count - have:
                take = count - have
                got.append(text[:take])
                give_back(text[take:])
                return "".join(got), True
            if at < 0:
                got.append(text)
                have += len(text)
                continue
            got.append(text[:at])
            give_back(text[at + 1:])
            return "".join(got), True
        return "".join(got), False
    finally:
        if silent and ctx.terminal is not None and ctx.input is None:
            ctx.stderr.write("\n")


@command("shift", "Drop the function's first N arguments (default 1): $2 becomes $1, as in bash.",
         params=[Param("n", "int", metavar="N")], output="none", category="shell", shell_state=True,
         planned=False, examples=[Example("print a function's arguments after the first",
                                          "f() { shift; echo $@; }; f a b c", "b c")])
def shift(ctx: Context, a: Args) -> None:
    n = 1 if a.n is None else a.n
    args = ctx.shell.positional
    if n < 0:
        raise CommandError(f"{n}: shift count out of range")
    if n > len(args):
        ctx.status = 1                  # bash: nothing shifted, status 1
        return
    ctx.shell.positional = args[n:]


OPTIONS = ("errexit", "noclobber", "noglob", "nounset", "pipefail", "xtrace")     # what set knows: -o NAME, or its letter


LETTERS = {"e": "errexit", "u": "nounset", "x": "xtrace", "C": "noclobber", "f": "noglob"}


@command("set", "Shell options as in bash: set -e (a failing command ends the script), -u (an unset variable "
         "is an error), -x (print each command before it runs), -C (> does not overwrite a file; >| does), "
         "-f (no wildcards), -o pipefail (a pipeline fails if any stage does), + to turn off; set -- WORDS (or set WORDS) sets $1 …; set -o lists.",
         params=[Param("words", "word", variadic=True, metavar="-euxo pipefail|+e|-o NAME|-- WORDS")],
         output="text", category="shell", shell_state=True, planned=False, free_dashes=True, flags_first=True,
         examples=[Example("stop a script at its first failure", "set -e", ""),
                   Example("the strict start of a script", "set -euo pipefail", "")])
def set_(ctx: Context, a: Args) -> Iterator[str]:
    shell = ctx.shell
    words = list(a.words)
    if not words:
        for name in sorted({*shell.env, *shell.env.arrays}):
            array = shell.env.arrays.get(name)
            yield f"{name}={shell.env[name]}" if array is None else declaration(name, shell.env).split(" ", 2)[2]
        return
    if words in (["-o"], ["+o"]):
        for name in OPTIONS:
            yield f"{name:<12}{'on' if name in shell.options else 'off'}"
        return
    while words and words[0][:1] in "-+" and words[0] != "--":
        word = words.pop(0)
        on = word[0] == "-"
        if len(word) < 2:
            raise CommandError(f"{word}: not an option (set -e, set +e, set -o pipefail)")
        for letter in word[1:]:
            if letter == "o":           # -o NAME; also at the end of letters: -euo pipefail
                if not words:
                    raise CommandError(f"{word}: an option name is needed (set {word} pipefail)")
                name = words.pop(0)
                if name not in OPTIONS:
                    raise CommandError(f"{word} {name}: not an option nlsh has (it has {', '.join(OPTIONS)})")
            elif letter in LETTERS:
                name = LETTERS[letter]
            else:
                letters = ", ".join(f"-{k}" for k in LETTERS)
                raise CommandError(f"{word}: -{letter} is not an option nlsh has (it has {letters} and "
                                   "-o pipefail; + turns one off)")
            (shell.options.add if on else shell.options.discard)(name)
    if words:       # as in bash, `set a b c` is `set -- a b c` (at the prompt "set up a venv" is language)
        shell.positional = words[1:] if words[0] == "--" else words


# shopt's options nlsh has, with what each does; failglob is on from the start
SHOPT = {"dotglob": "wildcards match names that start with a dot (not . and ..)",
         "failglob": "a wildcard typed in a line that matches nothing is an error (on unless turned off; "
                     "off, the word stays as written, as bash's default)",
         "nullglob": "a wildcard that matches nothing is no word at all (for f in *.txt with none: no round)"}


@command("shopt", "bash's shopt for the options nlsh has: shopt -s NAME (on), -u NAME (off), -q NAME (status 0 "
         "if on), shopt or -p lists them: " + "; ".join(f"{k}: {v}" for k, v in SHOPT.items()) + ".",
         params=[Param("on", "flag", ("-s",), "turn the options on"),
                 Param("off", "flag", ("-u",), "turn the options off"),
                 Param("quiet", "flag", ("-q",), "print nothing; status 0 when all the named options are on"),
                 Param("commands", "flag", ("-p",), "list as shopt commands"),
                 Param("names", "str", variadic=True, metavar="NAME")],
         output="text", category="shell", shell_state=True, planned=False,
         examples=[Example("make wildcards that match nothing vanish", "shopt -s nullglob", "")])
def shopt(ctx: Context, a: Args) -> Iterator[str]:
    if a.on and a.off:
        raise CommandError("-s and -u: one or the other", 2)
    names = list(a.names or SHOPT)
    unknown = [n for n in names if n not in SHOPT]
    for name in unknown:
        ctx.warn(f"{name}: not an option nlsh has (it has {', '.join(SHOPT)})")
    names = [n for n in names if n in SHOPT]
    options = ctx.shell.options
    if a.on and "dotglob" in names and sys.version_info < (3, 11):    # (glob's include_hidden is 3.11's)
        ctx.warn("dotglob: needs Python 3.11 or later")
        names.remove("dotglob")
    if (a.on or a.off) and a.names:
        for name in names:
            (options.add if a.on else options.discard)(name)
        return
    if a.on or a.off:                   # shopt -s alone: those on (-u: those off), as bash lists them
        names = [n for n in names if (n in options) == bool(a.on)]
    if a.quiet:
        ctx.status = max(ctx.status, 0 if all(n in options for n in names) else 1)
        return
    for name in names:
        yield f"shopt {'-s' if name in options else '-u'} {name}" if a.commands else \
            f"{name:<15}\t{'on' if name in options else 'off'}"
    if a.names and not a.commands and not all(n in options for n in names):
        ctx.status = max(ctx.status, 1)


@command("eval", "Run WORDS, joined by spaces, as a command line in this shell (as in bash); the safety policy "
         "judges that line before it runs.",
         params=[Param("words", "word", variadic=True, metavar="WORDS")],
         input="any", output="text", effects=("exec",), category="shell", shell_state=True, planned=False,
         free_dashes=True,
         examples=[Example("run a command kept in a variable", "cmd='echo hi'; eval \"$cmd\"", "hi")])
def eval_(ctx: Context, a: Args) -> Iterator[object]:
    yield from _run_text(ctx, " ".join(a.words))


@command("exec", "Run COMMAND in place of the shell, as in bash: the shell (or the script) ends with its status; "
         "without one, its redirections stay (exec 3>FILE; echo hi >&3; exec 3>&-).",
         params=[Param("words", "word", variadic=True, metavar="COMMAND [ARGS]")],
         input="any", output="text", effects=("exec",), category="shell", shell_state=True, planned=False,
         free_dashes=True,
         examples=[Example("end the script with the program's status", "exec echo done", "done")])
def exec_(ctx: Context, a: Args) -> Iterator[object]:
    import shlex
    if not a.words:
        keep_descriptors(ctx.shell, ctx.descriptors)
        return
    yield from _run_text(ctx, shlex.join(a.words))
    raise ExitShell(ctx.status)


def _run_text(ctx: Context, line: str) -> Iterator[object]:
    """Run ``line`` in this shell once the policy allows it (as a typed line); its output."""
    if not line.strip():
        return
    from nlsh.lang import ParseError
    try:
        plan = ctx.shell.parse(line)
    except ParseError as e:
        raise CommandError(f"{line}: {e.message}", e.status) from None
    ticket = ctx.shell.gate(plan, "eval", ctx.shell, typed=line, in_plan=bool(ctx.shell.running_planned))
    if not ticket.allowed:
        raise CommandError(f"{line}: {ticket.refusal}", ticket.status)
    out, ctx.status = ctx.capture(plan, block_input(ctx))
    ticket.close(ctx.status)
    yield from out


_EXIT_NAMES = ("EXIT", "0", "SIGEXIT")      # the one condition trap takes, by bash's names for it


@command("trap", "Run COMMANDS when the shell ends (trap 'rm -f \"$tmp\"' EXIT), as in bash; trap - EXIT "
         "removes it; trap alone lists.",
         params=[Param("words", "word", variadic=True, metavar="[COMMANDS|-] EXIT")],
         output="text", category="shell", shell_state=True, planned=False, free_dashes=True,
         examples=[Example("remove a temporary file when the script ends", "tmp=$(mktemp); trap 'rm -f \"$tmp\"' EXIT",
                           "")])
def trap(ctx: Context, a: Args) -> Iterator[str]:
    shell = ctx.shell
    words = list(a.words)[1:] if a.words[:1] == ["--"] else list(a.words)
    if words in ([], ["-p"]):
        for name, action in sorted(shell.traps.items()):
            yield "trap -- '" + action.replace("'", "'\\''") + f"' {name}"
        return
    if len(words) == 1:
        raise CommandError(f"{words[0]}: give the commands and then EXIT (trap 'COMMANDS' EXIT)", 2)
    action, names = words[0], words[1:]
    if action not in ("-", ""):
        from nlsh.lang import ParseError
        try:
            shell.parse(action)
        except ParseError as e:
            if e.status != 127:         # a function defined later is fine; a syntax error is not
                raise CommandError(f"{action!r}: {e.message}", 2) from None
    if any(n.upper() in _EXIT_NAMES for n in names):
        if action == "-":
            shell.traps.pop("EXIT", None)
        else:
            shell.traps["EXIT"] = action
    wrong = [n for n in names if n.upper() not in _EXIT_NAMES]
    if wrong:
        raise CommandError(f"{' '.join(wrong)}: not trapped: nlsh traps only EXIT (which also runs when set -e or "
                           "exit ends a script; Ctrl-C cancels the running command)")


@command("exit", "Leave the shell with a status (default: the last one).",
         params=[Param("status", "int", metavar="N")],
         output="none", category="shell", shell_state=True,
         examples=[Example("quit", "exit")])
def exit_(ctx: Context, a: Args) -> None:
    raise ExitShell((a.status if a.status is not None else ctx.shell.last_status) & 255)    # as bash


COMMANDS = [history, alias, unalias, help_, source, dot, shift, set_, shopt, trap, eval_, exec_, read, exit_]
