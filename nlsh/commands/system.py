"""Processes and system: ps, kill, free, uptime, env, export, unset, which,
type, command, date, sleep, true, :, false."""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import signal
import time
from collections.abc import Iterator

from nlsh.kernel.assign import assign
from nlsh.kernel.context import Args, CommandError, Context
from nlsh.kernel.expand import subscript
from nlsh.lang.signature import Param
from nlsh.lang.values import Duration, Size
from nlsh.paths import current_umask
from nlsh.records import Record
from nlsh.registry import Example, Touched, command


def _not_bsd_options(name: str) -> None:
    """``ps aux`` means GNU ps's BSD-style options, not a process called "aux"."""
    if re.fullmatch(r"[auxfwe]*[ax][auxfwe]*", name):
        raise ValueError("BSD-style ps options")


@command("ps", "Running processes as records (pid, name, user, cpu, mem, command).",
         params=[Param("name", "str", metavar="NAME", check=_not_bsd_options)],
         output="records", category="processes",
         examples=[Example("show running python processes", "ps python"),
                   Example("the process using the most memory", "ps | sort mem -r | first")], program=True)
def ps(ctx: Context, a: Args) -> Iterator[Record]:
    import psutil
    attrs = ["pid", "name", "username", "cpu_percent", "memory_info", "status", "cmdline"]
    for p in psutil.process_iter(attrs):
        ctx.check()
        info = p.info
        name = info.get("name") or ""
        cmdline = " ".join(info.get("cmdline") or []) or name
        if a.name and a.name.lower() not in name.lower() and a.name.lower() not in cmdline.lower():
            continue
        mem = info.get("memory_info")
        yield Record(pid=info["pid"], name=name, user=info.get("username") or "",
                     cpu=float(info.get("cpu_percent") or 0.0), mem=Size(mem.rss if mem else 0),
                     status=info.get("status") or "", command=cmdline, primary=None)


def _signal(spec: str) -> signal.Signals:
    s = spec.upper().removeprefix("SIG")
    try:
        return signal.Signals(int(s)) if s.isdigit() else signal.Signals["SIG" + s]
    except (KeyError, ValueError):
        raise CommandError(f"unknown signal {spec!r} (try TERM, KILL, INT, HUP, STOP, CONT)") from None


def signal_and_targets(words: list[str], signalled: bool = False) -> tuple[str | None, list[str]]:
    """``kill``'s words: a signal written bash's way (``-INT``, ``-15``, ``-SIGHUP``)
    before the targets, and the targets (``kill -1234`` alone names no target).
    Once a signal is given (``signalled``: -9, -s), ``-N`` is a process group
    (``kill -9 -1``: every process)."""
    if not signalled and words and words[0].startswith("-") and len(words[0]) > 1:
        return words[0][1:], words[1:]
    return None, list(words)


@command("kill", "Send a signal (default TERM) to processes or jobs (%1).",
         params=[Param("signal", "str", ("-s", "--signal"), "signal name or number", metavar="SIG"),
                 Param("kill", "flag", ("-9",), "SIGKILL"),
                 Param("targets", "str", variadic=True, required=True, metavar="PID")],
         output="none", effects=("process",), category="processes", free_dashes=True,
         touches=lambda call, shell: Touched(signals=tuple(signal_and_targets(
             [t.source() if hasattr(t, "source") else str(t) for t in (call.get("targets") or ())],
             bool(call.get("kill") or call.get("signal")))[1])),
         examples=[Example("stop job 1", "kill %1"), Example("force-kill process 1234", "kill -9 1234")])
def kill(ctx: Context, a: Args) -> None:
    spec, targets = signal_and_targets([str(t) for t in a.targets], bool(a.kill or a.signal))
    if (a.kill or a.signal) and targets and targets[0].startswith("-") and not targets[0][1:].isdigit():
        raise CommandError(f"two signals given ({targets[0]} and {'-9' if a.kill else '-s ' + a.signal})")
    if not targets:
        raise CommandError("no process or job to signal (kill [-SIGNAL] PID|%JOB …)")
    spec = spec or a.signal
    sig = signal.SIGKILL if a.kill else _signal(spec) if spec else signal.SIGTERM
    for t in targets:
        if t.startswith("%"):
            ctx.shell.jobs.signal(t, sig)
            continue
        try:
            pid = int(t)
        except ValueError:
            ctx.warn(f"{t}: arguments must be process or job IDs")
            continue
        if pid in (0, -1, 1) or pid == os.getpid():
            ctx.warn(f"{pid}: refusing to signal this process")
            continue
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            ctx.warn(f"({pid}) - No such process")
        except PermissionError:
            ctx.warn(f"({pid}) - Operation not permitted")


@command("free", "Memory and swap: total, used, free, available.",
         output="records", category="system",
         examples=[Example("how much memory is free", "free")], program=True)
def free(ctx: Context, a: Args) -> Iterator[Record]:
    import psutil
    m, s = psutil.virtual_memory(), psutil.swap_memory()
    yield Record(type="mem", total=Size(m.total), used=Size(m.used), free=Size(m.free),
                 available=Size(m.available))
    yield Record(type="swap", total=Size(s.total), used=Size(s.used), free=Size(s.free),
                 available=Size(s.free))


@command("uptime", "How long the system has been up, and its load averages.",
         output="records", category="system",
         examples=[Example("how long has this machine been up", "uptime")], program=True)
def uptime(ctx: Context, a: Args) -> Iterator[Record]:
    import psutil
    up = time.time() - psutil.boot_time()
    l1, l5, l15 = os.getloadavg()
    yield Record(up=Duration(int(up)), users=len(psutil.users()), load1=l1, load5=l5, load15=l15)


@command("env", "The environment, NAME=VALUE per line.",
         output="text", category="system",
         examples=[Example("show my environment variables", "env")], program=True)
def env(ctx: Context, a: Args) -> Iterator[str]:
    for k in sorted(ctx.env):
        yield f"{k}={ctx.env[k]}"


@command("export", "Set environment variables: export NAME=VALUE.",
         params=[Param("assignments", "assignment", variadic=True, required=True, metavar="NAME=VALUE")],
         output="none", category="system", shell_state=True,
         examples=[Example("set EDITOR to vim", "export EDITOR=vim", "vim", check="echo $EDITOR")])
def export(ctx: Context, a: Args) -> None:
    """Also what ``NAME=VALUE`` on its own line runs (every nlsh variable is
    exported; ``export NAME`` alone changes nothing). The status is the last
    ``$(…)``'s, as bash gives for ``x=$(cmd)``."""
    assign(ctx, a.assignments)
    ctx.status = ctx.substituted


@command("unset", "Remove variables (-v, the default) or functions (-f).",
         params=[Param("variables", "flag", ("-v",), "the names are variables (the default)"),
                 Param("functions", "flag", ("-f",), "the names are functions"),
                 Param("names", "str", variadic=True, required=True, metavar="NAME")],
         output="none", category="system", shell_state=True, flags_first=True,
         examples=[Example("forget the variable TMPDIR", "unset TMPDIR")])
def unset(ctx: Context, a: Args) -> None:
    """``unset NAME[INDEX]`` removes one element of an array."""
    if a.variables and a.functions:
        raise CommandError("-v and -f: a name is a variable or a function")
    for n in a.names:
        if a.functions:
            ctx.shell.functions.pop(n, None)
            continue
        name, bracket, index = n.partition("[")
        if not name.isidentifier() or bracket and not index.endswith("]"):
            raise CommandError(f"'{n}': not a variable name")
        if bracket:
            ctx.env.unset_element(name, subscript(name, index[:-1], ctx.shell, expanded=True))
        else:
            ctx.env.pop(n, None)


@command("which", "Where a command comes from: a built-in, an alias or a program on PATH.",
         params=[Param("names", "str", variadic=True, required=True, metavar="NAME")],
         output="text", category="system",
         examples=[Example("is ls a built-in", "which ls", "ls: nlsh built-in")])
def which(ctx: Context, a: Args) -> Iterator[str]:
    for n in a.names:
        if n in ctx.shell.aliases:
            yield f"{n}: aliased to {ctx.shell.aliases[n]}"
        elif n in ctx.shell.functions:
            yield f"{n}: shell function"
        elif n in ctx.shell.registry:
            yield f"{n}: nlsh built-in"
        else:
            path = shutil.which(n, path=ctx.env.get("PATH"))
            if path:
                yield path
            else:
                ctx.warn(f"no {n} in PATH")


@command("type", "What a command word is (bash's name for which); -t: one word, alias, function, builtin "
         "or file.",
         params=[Param("word", "flag", ("-t",), "alias, function, builtin or file (nothing, status 1, if none)"),
                 Param("names", "str", variadic=True, required=True, metavar="NAME")],
         output="text", category="system", planned=False,
         examples=[Example("what is cd", "type cd", "cd: nlsh built-in")])
def type_(ctx: Context, a: Args) -> Iterator[str]:
    if not a.word:
        yield from which.run(ctx, a)
        return
    for n in a.names:
        if n in ctx.shell.aliases:
            yield "alias"
        elif n in ctx.shell.functions:
            yield "function"
        elif n in ctx.shell.registry:
            yield "builtin"
        elif shutil.which(n, path=ctx.env.get("PATH")):
            yield "file"
        else:
            ctx.status = 1


@command("command", "command -v NAME: how NAME would run, one word (for scripts); command NAME ARGS runs the "
         "built-in or program NAME, never a function of that name.",
         params=[Param("short", "flag", ("-v",), "the alias, the name or the program's path; status 1 if none"),
                 Param("long", "flag", ("-V",), "a sentence, as type gives"),
                 Param("names", "str", variadic=True, required=True, metavar="NAME")],
         output="text", category="system", planned=False,
         examples=[Example("is git installed", "command -v git", "/usr/bin/git")])
def command_(ctx: Context, a: Args) -> Iterator[str]:
    if not (a.short or a.long):
        raise CommandError("command: give -v or -V, or a command to run (command NAME ARGS)")
    if a.long:
        yield from which.run(ctx, a)
        return
    for n in a.names:
        if n in ctx.shell.aliases:
            yield f"alias {n}='{ctx.shell.aliases[n]}'"
        elif n in ctx.shell.functions or n in ctx.shell.registry:
            yield n
        elif path := shutil.which(n, path=ctx.env.get("PATH")):
            yield path
        else:
            ctx.status = 1


@command("date", "The current date and time (+FORMAT as in strftime).",
         params=[Param("utc", "flag", ("-u", "--utc"), "in UTC"),
                 Param("iso", "flag", ("-I", "--iso-8601"), "date only, ISO 8601"),
                 Param("format", "str", metavar="+FORMAT")],
         output="text", category="system",
         examples=[Example("what is today's date", "date +%Y-%m-%d")], program=True)
def date(ctx: Context, a: Args) -> Iterator[str]:
    now = dt.datetime.now(dt.timezone.utc) if a.utc else dt.datetime.now().astimezone()
    if a.format is not None:
        if not a.format.startswith("+"):
            raise CommandError(f"invalid date format {a.format!r} (formats start with +, e.g. +%H:%M)")
        yield now.strftime(a.format[1:])
    elif a.iso:
        yield now.strftime("%Y-%m-%d")
    else:
        yield now.strftime("%a %b %e %H:%M:%S %Z %Y")


@command("sleep", "Wait for a duration (5, 10s, 2m).",
         params=[Param("duration", "duration", required=True, metavar="DURATION")],
         output="none", category="system",
         examples=[Example("wait two seconds", "sleep 2s")], program=True)
def sleep(ctx: Context, a: Args) -> None:
    ctx.cancel.wait(float(a.duration))
    ctx.check()


@command("true", "Do nothing, successfully.", output="none", category="system")
def true(ctx: Context, a: Args) -> None:
    return None


@command(":", "Do nothing, successfully, whatever the words (bash's :, as in while :; do …).",
         params=[Param("words", "word", variadic=True, metavar="WORD")], output="none", category="system",
         planned=False, examples=[Example("do nothing, successfully", ": nothing to do", "")])
def colon(ctx: Context, a: Args) -> None:
    return None


@command("false", "Do nothing, unsuccessfully.", output="none", category="system")
def false(ctx: Context, a: Args) -> None:
    ctx.status = 1


@command("umask", "The permissions new files do not get, as in bash: umask shows the mask (0022), umask 077 "
         "sets it, -S shows what files get (u=rwx,g=rx,o=rx), umask u=rwx,g=,o= sets that.",
         params=[Param("symbolic", "flag", ("-S",), "as the letters new files get"),
                 Param("mode", "str", metavar="MODE")],
         output="text", category="system", shell_state=True, planned=False,
         examples=[Example("make new files private", "umask 077")])
def umask(ctx: Context, a: Args) -> Iterator[str]:
    if a.mode is None:
        mask = current_umask()
        yield _letters(0o777 & ~mask) if a.symbolic else f"{mask:04o}"
        return
    if re.fullmatch(r"[0-7]{1,4}", a.mode):
        mask = int(a.mode, 8) & 0o777
    else:
        mask = 0o777 & ~_allowed(a.mode, 0o777 & ~current_umask())
    if ctx.shell.is_copy:
        raise CommandError("the mask is nlsh's own, for every job: set it on a line of its own, not in ( … ), "
                           "$(…) or a background job")
    os.umask(mask)


_WHO = {"u": 0o700, "g": 0o070, "o": 0o007}
_WHAT = {"r": 0o444, "w": 0o222, "x": 0o111}


def _allowed(spec: str, allowed: int) -> int:
    """The permissions ``u=rwx,g=rx,o=`` (also ``+``/``-``, ``a`` for all) leave new files, from ``allowed``."""
    for clause in spec.split(","):
        m = re.fullmatch(r"([ugoa]*)([=+-])([rwx]*)", clause)
        if m is None:
            raise CommandError(f"{spec}: not a mask (umask 022, or umask u=rwx,g=rx,o=)")
        who = sum(_WHO[w] for w in set(m.group(1).replace("a", "ugo") or "ugo"))
        what = sum(_WHAT[w] for w in set(m.group(3))) & who
        allowed = {"=": (allowed & ~who) | what, "+": allowed | what, "-": allowed & ~what}[m.group(2)]
    return allowed


def _letters(allowed: int) -> str:
    return ",".join(f"{w}=" + "".join(c for c, bits in _WHAT.items() if allowed & bits & _WHO[w]) for w in "ugo")


COMMANDS = [ps, kill, free, uptime, env, export, unset, which, type_, command_, date, sleep, true, colon, false,
            umask]
