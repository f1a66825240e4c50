"""A GBNF grammar of the command language, generated from the live registry.

Only known commands, their own flags, and a few well-known programs can
appear (a built-in that stands in for a program, as grep or sed, may also
take that program's flags); words are bare or single/double-quoted. The parser still validates
every answer (the grammar does not check argument counts or types).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterable

from nlsh.lang.lexer import SPECIAL
from nlsh.registry import Command, Registry

# Programs the planner may use besides the built-ins, when they are on PATH.
PROGRAMS = ("awk", "base32", "base64", "basename", "bc", "bzip2", "chgrp", "chown", "cksum", "cmp",
            "column", "comm", "csplit", "diff", "dirname", "expand", "expr", "factor", "file", "fmt",
            "fold", "git", "gunzip", "gzip", "hexdump", "iconv", "id", "install", "join", "jq", "md5",
            "md5sum", "mkfifo", "mknod", "nl", "nproc", "numfmt", "od", "paste", "pr", "python3",
            "readlink", "realpath", "rev", "rmdir", "seq", "sha1sum", "sha256sum", "sha512sum", "shuf",
            "split", "strings", "sum", "tac", "tar", "truncate", "uname", "unxz", "unzip", "whoami",
            "xargs", "xxd", "xz", "zcat", "zip")


def _lit(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _rule(name: str) -> str:
    return re.sub(r"[^a-zA-Z0-9]", "-", name).lower()


def programs_on_path(path: str | None = None) -> list[str]:
    return sorted({p for p in PROGRAMS if shutil.which(p, path=path)})


def _flag(flag: str) -> str:
    """A flag as the model may write it: find's ``(`` is ``\\(`` or ``'('``."""
    if any(c in SPECIAL for c in flag):
        return f'({_lit(chr(92) + flag)} | {_lit(repr(flag))})'
    return _lit(flag)


def _command_rule(cmd: Command) -> tuple[str, list[str]]:
    rule = f"cmd-{_rule(cmd.name)}"
    alts = []
    for p in cmd.params:
        if p.positional or not p.planned:
            continue
        flag = p.flags[0]
        if p.type == "flag":
            alts.extend(_flag(f) for f in (p.flags if cmd.ordered else p.flags[:1]))
        elif p.type == "choice":
            alts.append(f'{_lit(flag + " ")} ({" | ".join(_lit(c) for c in p.choices)})')
        elif p.type in ("int", "count"):
            alts.append(f'{_lit(flag + " ")} int')
        elif p.type == "command":
            alts.append(f'{_lit(flag)} (" " word)+ " " ("\\\\;" | "\';\'" | "+")')
        else:
            alts.append(f'{_lit(flag + " ")} word')
    lines = []
    if cmd.expression:
        lines.append(f'{rule} ::= {_lit(cmd.name)} " " field " " op " " word')
        return rule, lines
    positional = [p for p in cmd.params if p.positional]
    arg_alts = list(alts)
    if cmd.number_flag:
        arg_alts.append('"-" [0-9]+')
    if positional:
        arg_alts.append("posword")
    if cmd.program:             # flags the built-in lacks run the program of the same name
        arg_alts.append("progflag")
    if arg_alts:
        lines.append(f"{rule}-arg ::= {' | '.join(arg_alts)}")
        lines.append(f'{rule} ::= {_lit(cmd.name)} (" " {rule}-arg)*')
    else:
        lines.append(f"{rule} ::= {_lit(cmd.name)}")
    return rule, lines


def grammar(registry: Registry, programs: Iterable[str] = ()) -> str:
    """The GBNF text: one line, a chain of pipelines of known commands (or loops)."""
    rules: list[str] = []
    names: list[str] = []
    for cmd in registry:
        if cmd.modifier or cmd.shell_state and cmd.name in ("exit",) or cmd.name == "for" or not cmd.planned:
            continue
        rule, lines = _command_rule(cmd)
        names.append(rule)
        rules.extend(lines)
    progs = list(programs)
    if progs:
        names.append("program")
        rules.append(f'program ::= ({" | ".join(_lit(p) for p in progs)}) (" " word)*')
    head = [
        'root ::= stmt (( " && " | " || " | "; " ) stmt)*',
        'stmt ::= pipeline | loop (" | " call)* redirect?',
        'loop ::= "for " [a-z_]+ " in " word (" " word)* "; do " root "; done"',
        'pipeline ::= call (" | " call)* redirect?',
        'redirect ::= ( " > " | " >> " ) word',
        f"call ::= {' | '.join(names)}",
        'field ::= [a-z_%]+',
        'op ::= "==" | "!=" | "<" | "<=" | ">" | ">=" | "=~" | "!~" | "contains"',
        'int ::= "-"? [0-9]+',
        'progflag ::= "-" "-"? [a-zA-Z0-9] [a-zA-Z0-9=,.:%+_-]*',
        'word ::= bare | squoted | dquoted | subst | arith',
        'posword ::= posbare | squoted | dquoted | subst | arith',
        "posbare ::= [^ \\t\\n'\"|;&<>()`#\\\\-] [^ \\t\\n'\"|;&<>()`\\\\]*",
        "bare ::= [^ \\t\\n'\"|;&<>()`#\\\\] [^ \\t\\n'\"|;&<>()`\\\\]*",
        "squoted ::= \"'\" [^'\\n]* \"'\"",
        'dquoted ::= "\\"" ([^"\\n`$] | subst | arith | dvar)* "\\""',
        'arith ::= "$((" [a-zA-Z0-9_ +*/%<>=!$-]+ "))"',
        'dvar ::= "$" [a-zA-Z_] [a-zA-Z0-9_]* | "${" "#"? [a-zA-Z_] [a-zA-Z0-9_]* ([%#/:^,-] [^}\\n]*)? "}"',
        'subst ::= "$(" pipeline (( " && " | " || " | "; " ) pipeline)* ")"',
    ]
    return "\n".join(head + rules) + "\n"
