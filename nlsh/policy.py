"""The safety policy: one check between every plan and its execution.

``assess`` computes what a plan would touch (paths written or deleted, with
wildcards expanded; programs started; processes signalled) before anything
runs. ``decide`` checks the built-in deny-list, then the user's rules (deny
→ allow → ask), then the defaults: a typed command is trusted as typed, a
planned step that does more than read asks.
"""

from __future__ import annotations

import fnmatch
import os
import re
import shlex
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING

from nlsh.kernel.context import CommandError
from nlsh.kernel.expand import Unexpanded, expand_word
from nlsh.kernel.variables import Variables
from nlsh.lang import ParseError, parse
from nlsh.lang.plan import Call, Plan, Word, split_redirect
from nlsh.lang.text import call_text
from nlsh.lang.text import text as plan_text
from nlsh.paths import config_dir, data_dir, inside, read_toml
from nlsh.registry import REMOVERS, Touched

if TYPE_CHECKING:
    from nlsh.kernel.state import Scope
    from nlsh.registry import Command, Registry

SYSTEM_DIRS = ("/", "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib32", "/lib64", "/opt", "/proc",
               "/root", "/sbin", "/srv", "/sys", "/usr", "/var", "/System", "/Library", "/Users")
SAFE_DEVICES = ("/dev/null", "/dev/stdout", "/dev/stderr", "/dev/tty", "/dev/zero", "/dev/random",
                "/dev/urandom")
DISK_TOOLS = ("mkfs", "mkfs.*", "mke2fs", "wipefs", "fdisk", "sfdisk", "cfdisk", "parted", "mkswap")
SHELLS = ("sh", "bash", "zsh", "dash", "ksh", "fish", "python", "python3", "perl", "ruby", "node")
FETCHERS = ("curl", "wget", "fetch", "download")
# What programs that are not nlsh's commands do, for rules such as ask = ["delete"]
PROGRAM_EFFECTS = {"unlink": ("delete",), "rmdir": ("delete",), "shred": ("delete", "write"),
                   "truncate": ("write",), "dd": ("write",), "chown": ("write",), "chgrp": ("write",),
                   "install": ("write",), "rsync": ("write", "delete"), "srm": ("delete",)}
# Programs that run as nlsh's command of the same name, whatever path names them (nlsh.monitor).
ROUTED = ("rm", "mv", "cp", "chmod", "ln", "kill", "tee", "mkdir", "touch")
FORK_BOMB = re.compile(r":\s*\(\s*\)\s*\{[^}]*:\s*\|\s*:\s*&")
EFFECT_WORDS = ("read", "write", "delete", "exec", "network", "process")


@dataclass
class Step:
    """What one call would do."""
    call: Call
    text: str
    effects: set[str]
    writes: list[str] = field(default_factory=list)
    deletes: list[str] = field(default_factory=list)
    programs: list[str] = field(default_factory=list)
    signals: list[str] = field(default_factory=list)
    moves: list[str] = field(default_factory=list)      # moved away from where they were
    trees: list[str] = field(default_factory=list)      # everything below them changes
    irreversible: str = ""                              # why it cannot be undone
    unresolved: list[str] = field(default_factory=list)
    piped: list[str] = field(default_factory=list)     # the programs of its pipeline


@dataclass
class Risk:
    steps: list[Step]

    @property
    def effects(self) -> set[str]:
        return set().union(*(s.effects for s in self.steps)) if self.steps else set()

    @property
    def read_only(self) -> bool:
        return self.effects <= {"read"}

    def summary(self) -> str:
        """One line: read-only · writes 3 paths · deletes 2 paths · runs git."""
        if self.read_only:
            return "read-only"
        parts = []
        writes = sorted({p for s in self.steps for p in s.writes})
        deletes = sorted({p for s in self.steps for p in s.deletes})
        programs = sorted({p for s in self.steps for p in s.programs})
        if writes or "write" in self.effects:
            parts.append(f"writes {_named(writes)}")
        if deletes or "delete" in self.effects:
            parts.append(f"deletes {_named(deletes)}")
        if programs:
            parts.append("runs " + ", ".join(programs[:4]) + (" …" if len(programs) > 4 else ""))
        elif "exec" in self.effects:
            parts.append("runs programs")
        if "network" in self.effects:
            parts.append("uses the network")
        if "process" in self.effects:
            parts.append("signals processes")
        return " · ".join(parts)


def _named(paths: list[str]) -> str:
    """``3 paths``, or ``files`` when some are known only as a note."""
    if not paths or any(p.startswith("(") for p in paths):
        return "files"
    return f"{len(paths)} path{'s' if len(paths) != 1 else ''}"


@dataclass
class Decision:
    action: str          # "allow", "ask" or "deny"
    reason: str
    decided_by: str      # "built-in deny-list", "rule: PATTERN", "default", ...
    risk: Risk
    critical: bool = False   # an ask that --yes does not answer: only a person at the prompt


@dataclass
class Rules:
    allow: list[str] = field(default_factory=list)
    deny: list[str] = field(default_factory=list)
    ask: list[str] = field(default_factory=list)
    typed: str = "trust"        # "trust": typed commands run as typed; "check": like planned ones
    planned: str = "ask"        # "ask": planned steps beyond read ask; "trust": they run

    @classmethod
    def load(cls, path: str | None = None) -> Rules:
        """Rules from policy.toml in the config dir (defaults if it does not exist)."""
        path = path or os.path.join(config_dir(), "policy.toml")
        if not os.path.exists(path):
            return cls()
        try:
            data = read_toml(path)
        except ValueError as e:         # a broken config is reported, never a traceback
            raise CommandError(str(e)) from None
        for key in ("allow", "deny", "ask"):
            value = data.get(key, [])
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise CommandError(f"{path}: {key} must be a list of patterns in quotes, e.g. {key} = [\"git status\"]")
        defaults = data.get("defaults", {})
        if not isinstance(defaults, dict):
            raise CommandError(f"{path}: defaults must be a table ([defaults])")
        rules = cls(list(data.get("allow", [])), list(data.get("deny", [])),
                    list(data.get("ask", [])), defaults.get("typed", "trust"), defaults.get("planned", "ask"))
        if rules.typed not in ("trust", "check") or rules.planned not in ("trust", "ask"):
            raise CommandError(f"{path}: defaults.typed must be trust|check and defaults.planned ask|trust")
        return rules


# -- assessing ---------------------------------------------------------------

def assess(plan: Plan, shell: Scope, calling: frozenset[str] = frozenset()) -> Risk:
    """The steps of ``plan``, those of every ``$(…)`` after the call it feeds;
    a function's call is judged by what its body does with the words given
    (``calling``: the functions being judged already, not judged again inside)."""
    defined = {c.get("name"): c.get("body") for c in plan.calls if c.is_block and c.name == "function"}
    if defined:
        shell = shell.derive(functions={**shell.functions, **defined})
    steps = []
    for chain in plan.chains:
        for pipeline in chain.pipelines:
            here = [_assess_call(call, shell, pipeline.calls, calling) for call in pipeline.calls]
            programs = [p for s in here for p in s.programs]
            for step in here:
                step.piped = programs
                steps.append(step)
                steps.extend(_inner_steps(step.call, shell, calling))
    return Risk(steps)


LOOP_RUNS = 200     # a loop's body is assessed for this many of its words


def _inner_steps(call: Call, shell: Scope, calling: frozenset[str]) -> list[Step]:
    """The steps of the plans ``call`` runs; a loop's body once per word it will
    take, with ``$NAME`` set to it (unknown when the words come from a ``$(…)``)."""
    if call.is_block and call.name == "function":
        return []                   # defining runs nothing; each call is judged
    body = _function_body(call, shell, calling)
    if body is not None:
        args = []
        for w in call.get("argv", ())[1:]:
            try:
                args.extend(expand_word(w, shell))
            except CommandError:
                args.append(w.source())
        return assess(body, shell.derive(positional=args), calling | {call.name}).steps
    if not call.is_loop:
        return [s for inner in call.nested() for s in assess(inner, shell, calling).steps]
    steps = [s for w in call.get("items", ()) for sub in w.subs for s in assess(sub.plan, shell, calling).steps]
    name, body = call.get("name"), call.get("body")
    try:
        items: list[str | None] = [s for w in call.get("items", ()) for s in expand_word(w, shell)]
    except CommandError:
        items = [None]
    for item in items[:LOOP_RUNS]:
        steps.extend(assess(body, shell.derive(env=_LoopEnv(shell.env, name, item)), calling).steps)
    return steps


def _function_body(call: Call, shell: Scope, calling: frozenset[str]) -> Plan | None:
    """The body of the function ``call`` calls (not again inside itself)."""
    if not call.external or call.direct or call.name in calling:
        return None
    return shell.functions.get(call.name)


class _LoopEnv(Variables):
    def __init__(self, env: Variables, name: str, value: str | None) -> None:
        super().__init__(env)
        self.arrays = env.arrays
        self.unknown = name if value is None else None
        if value is not None:
            self[name] = value

    def get(self, key: str, default: object = None) -> object:
        if key == self.unknown:
            raise Unexpanded(f"${key} is known only when the loop runs")
        return super().get(key, default)


def _paths(shell: Scope, values: object, step: Step) -> list[str]:
    """The paths ``values`` name now; what a ``$(…)`` gives is known only when
    it runs (what a command that lists paths would list is computed; anything
    else is a note, as is a string in brackets)."""
    out, notes = [], []
    for v in values if isinstance(values, tuple) else (values,):
        if isinstance(v, Word):
            try:
                out.extend(expand_word(v, shell))
            except Unexpanded:
                notes.extend(_substituted(v, shell, step))
            except CommandError:
                step.unresolved.append(v.source())
        elif isinstance(v, str):
            (notes if v.startswith("(") else out).append(v)
    return [os.path.normpath(os.path.join(shell.cwd, os.path.expanduser(p))) for p in out] + notes


def _substituted(word: Word, shell: Scope, step: Step) -> list[str]:
    """The paths of ``rm $(find …)``: the find's matches; else a note."""
    if not word.subs:
        return [f"({word.source()} as the loop sets it)"]
    calls = word.subs[0].plan.calls
    listed = _listed(calls[0], shell, step) if len(word.parts) == 1 and len(calls) == 1 else None
    return listed if listed is not None else [f"(what {word.source()} gives)"]


def _assess_call(call: Call, shell: Scope, pipeline: tuple[Call, ...], calling: frozenset[str]) -> Step:
    registry = shell.registry
    text = call_text(call, registry.signature)
    if _function_body(call, shell, calling) is not None:
        return _redirects(call, shell, Step(call, text, set()))      # its body's steps follow it
    if call.external:
        argv = []
        for w in call.get("argv", ()):
            try:
                argv.extend(expand_word(w, shell))
            except CommandError:
                argv.append(w.source())
        name = os.path.basename(argv[0]) if argv else call.name
        routed = _as_command(name, argv, shell)
        if routed is not None:          # /bin/rm runs as nlsh's rm (nlsh.monitor): judged as it
            return _assess_call(routed, shell, pipeline, calling)
        stand_in = registry.get(call.name) if call.name else None
        step = Step(call, text, {"exec"} | _stand_in_effects(stand_in, argv) | set(PROGRAM_EFFECTS.get(name, ())),
                    programs=[name])
        if name in REMOVERS:
            step.deletes = _paths(shell, tuple(a for a in argv[1:] if not a.startswith("-")), step)
        if name in FETCHERS:
            step.effects.add("network")
        for a in argv[1:]:
            if a.startswith("of="):
                step.writes.append(os.path.normpath(os.path.join(shell.cwd, a[3:])))
        if name == "env":
            _add_wrapped(step, argv[1:], shell, pipeline, calling)
        return _redirects(call, shell, step)
    cmd = registry.get(call.name)
    step = Step(call, text, set(cmd.effects) if cmd else {"exec"})
    if cmd is None:
        return step
    for p in cmd.params:
        if call.get(p.name) is not None:
            step.effects.update(p.effects)
    touched = cmd.touches(call, shell) if cmd.touches is not None else Touched()
    step.effects |= touched.effects
    step.unresolved.extend(touched.unresolved)
    if touched.deletes is not None:
        step.deletes = _paths(shell, touched.deletes, step)
    elif "delete" in step.effects:
        targets = call.get("paths")
        if targets is not None:
            step.deletes = _paths(shell, targets, step)
        elif cmd.input != "none" and len(pipeline) > 1:
            step.deletes = _piped_deletes(call, pipeline, shell, step)
    if touched.writes is not None:
        step.writes.extend(_paths(shell, touched.writes, step))
    elif "write" in step.effects:
        for name in ("dest", "paths", "link", "target"):
            v = call.get(name)
            if v is not None:
                step.writes.extend(_paths(shell, v, step))
    step.moves = _paths(shell, touched.moves, step)
    step.trees = _paths(shell, touched.trees, step)
    step.programs.extend(touched.programs)
    step.irreversible = touched.irreversible
    if touched.signals is not None:
        step.signals = list(touched.signals)
    elif "process" in step.effects:
        step.signals = [t.source() if isinstance(t, Word) else str(t) for t in (call.get("targets") or ())]
    return _redirects(call, shell, step)


def _as_command(name: str, argv: list[str], shell: Scope) -> Call | None:
    """The call of nlsh's own command a program by that name runs as (``/bin/rm -rf x``
    is ``rm -r -f x``), when its words are all known now and that command takes them."""
    if name not in ROUTED or shell.registry.get(name) is None or any(a.startswith("(") for a in argv):
        return None
    try:
        calls = parse(shlex.join([name, *argv[1:]]), shell.registry).calls
    except ParseError:
        return None
    return calls[0] if len(calls) == 1 and not calls[0].external else None


def _add_wrapped(step: Step, args: list[str], shell: Scope, pipeline: tuple[Call, ...],
                 calling: frozenset[str]) -> None:
    """``env [NAME=VALUE]… COMMAND …`` (what ``NAME=VALUE COMMAND`` runs) does what
    COMMAND does: judge that too, so a wrapper never hides a deletion."""
    while args and "=" in args[0] and args[0].split("=", 1)[0].isidentifier():
        args = args[1:]
    if not args or args[0].startswith("-"):
        return
    try:
        calls = parse(shlex.join(args), shell.registry).calls
    except ParseError:
        return
    inner = _assess_call(calls[0], shell, pipeline, calling)
    step.effects |= inner.effects
    for name in ("writes", "deletes", "programs", "signals", "moves", "trees", "unresolved"):
        getattr(step, name).extend(getattr(inner, name))
    step.irreversible = step.irreversible or inner.irreversible


def _stand_in_effects(cmd: Command | None, argv: list[str]) -> set[str]:
    """What a program run in place of a built-in may do, by the built-in's
    declaration: ``sed -n 2p f`` reads, ``sed -ni … f`` also writes."""
    if cmd is None or not cmd.program:
        return set()
    effects = set(cmd.effects)
    for p in cmd.params:
        if p.effects and any(_written(f, argv[1:]) for f in p.flags):
            effects.update(p.effects)
    return effects


def _written(flag: str, args: list[str]) -> bool:
    if flag.startswith("--"):
        return any(a == flag or a.startswith(flag + "=") for a in args)
    return any(a.startswith("-") and not a.startswith("--") and flag[1] in a[1:] for a in args)


def _piped_deletes(call: Call, pipeline: tuple[Call, ...], shell: Scope, step: Step) -> list[str]:
    """What a deleting command fed by a pipe removes: a find's matches, when a
    find feeds it (``find . -name '*.tmp' | rm``); otherwise unknown."""
    i = next((k for k, c in enumerate(pipeline) if c is call), 0)
    listed = _listed(pipeline[i - 1], shell, step) if i > 0 else None
    return listed if listed is not None else ["(paths from the previous command)"]


def _listed(call: Call, shell: Scope, step: Step) -> list[str] | None:
    """The paths ``call`` would print, as its command declares (``lists``); None if unknown."""
    cmd = shell.registry.get(call.name) if not call.external else None
    if cmd is None or cmd.lists is None or call.redirects:
        return None
    try:
        return cmd.lists(call, shell)
    except CommandError as e:
        step.unresolved.append(str(e))
        return None


def _redirects(call: Call, shell: Scope, step: Step) -> Step:
    for r in call.redirects:
        if split_redirect(r.op)[1] in (">", ">|", ">>", "<>"):      # >, 2>>, 3>, {fd}>, <> … write their file
            step.effects.add("write")
            step.writes.extend(_paths(shell, r.target, step))
    return step


# -- deciding ----------------------------------------------------------------

def builtin_denial(step: Step, shell: Scope, pipeline_programs: list[str]) -> str | None:
    """Why the built-in deny-list refuses ``step``, or None. No rule or --yes overrides it."""
    protected = {os.path.realpath(d) for d in SYSTEM_DIRS} | homes(shell)
    for p in step.deletes:
        if p.startswith("("):
            continue
        real = os.path.realpath(p)
        if real in protected:
            return f"deleting {p} is never allowed"
    for p in step.moves:
        if not p.startswith("(") and os.path.realpath(p) in protected:
            return f"moving {p} is never allowed"
    if step.moves:
        for p in step.writes:
            if not p.startswith("(") and os.path.realpath(p).startswith("/dev/"):
                return f"moving files onto the device {p} is never allowed (it destroys them)"
    for p in step.writes:
        if p.startswith("/dev/") and not p.startswith(SAFE_DEVICES):
            return f"writing to the device {p} is never allowed"
    for p in step.trees:
        if not p.startswith("(") and os.path.realpath(p) in protected:
            return f"changing everything under {p} ({step.text}) is never allowed"
    for prog in step.programs:
        if any(fnmatch.fnmatch(prog, t) for t in DISK_TOOLS):
            return f"{prog} formats or partitions disks and is never run by nlsh"
    if step.signals:                          # kill's targets, also under env
        for t in step.signals:
            if t.lstrip("-") in ("1", "0") or t == "-1":
                return f"signalling process {t} is never allowed"
    if any(p in FETCHERS for p in pipeline_programs) and any(p in SHELLS for p in step.programs):
        idx = pipeline_programs.index(step.programs[0]) if step.programs[0] in pipeline_programs else 0
        if any(p in FETCHERS for p in pipeline_programs[:idx]):
            return "piping a download into a shell is never allowed"
    return None


def verbatim_denial(command: str) -> str | None:
    """The deny-list for ``!`` lines, which go to $SHELL as text."""
    if FORK_BOMB.search(command):
        return "a fork bomb is never run"
    if re.search(r"\b(curl|wget)\b[^|]*\|\s*(sudo\s+)?(ba|z|da|k)?sh\b", command):
        return "piping a download into a shell is never allowed"
    if re.search(r"\brm\s+(-[a-zA-Z]*\s+)*(-[a-zA-Z]*[rR][a-zA-Z]*\s+)(-[a-zA-Z]*\s+)*(/|~|\$HOME)\s*($|[;&|])", command):
        return "deleting / or your home directory is never allowed"
    if re.search(r"\bmkfs(\.\w+)?\b|\bdd\b[^|;&]*\bof=/dev/(?!null)", command):
        return "formatting or overwriting disks is never allowed"
    return None


def critical(step: Step, shell: Scope) -> str | None:
    """Why ``step`` needs a person's yes even under --yes or a trusting rule: it
    empties the trash for good, removes everything in the home directory, or
    removes or rewrites nlsh's own data (the audit log, the trash)."""
    if step.irreversible:
        return step.irreversible
    data = os.path.realpath(data_dir())
    for p in step.deletes + step.moves + step.writes:
        if p.startswith("("):
            continue
        real = os.path.realpath(p)
        if inside(real, data) or (p not in step.writes and inside(data, real)):
            return f"{p} is or holds nlsh's own data (its audit log and trash)"
    return _empties_home(step.deletes, shell)


def homes(shell: Scope) -> set[str]:
    """Every directory that is the user's home: $HOME now, $HOME when nlsh started
    and the account's (``HOME=/tmp; rm -rf /home/me`` is still the home)."""
    return ({os.path.realpath(shell.env.get("HOME") or os.path.expanduser("~"))} | _first_homes()) - {"/"}


@cache
def _first_homes() -> frozenset[str]:
    """$HOME when nlsh started and the account's home (looked up once: judged on every rm)."""
    out = {os.path.realpath(os.environ["HOME"])} if os.environ.get("HOME") else set()
    try:
        import pwd
        out.add(os.path.realpath(pwd.getpwuid(os.getuid()).pw_dir))
    except (ImportError, KeyError, OSError):
        pass
    return frozenset(out)


def _empties_home(deletes: list[str], shell: Scope) -> str | None:
    """Why removing ``deletes`` empties a home directory (every entry not hidden), or None."""
    deleted = {os.path.realpath(p) for p in deletes if not p.startswith("(")}
    if not deleted:
        return None
    for home in sorted(homes(shell)):
        try:
            entries = [os.path.join(home, n) for n in os.listdir(home) if not n.startswith(".")]
        except OSError:
            continue
        if len(entries) >= 3 and all(e in deleted or any(inside(e, d) for d in deleted) for e in entries):
            return f"it removes everything in your home directory {home}"
    return None


def _matches(pattern: str, step: Step, shell: Scope) -> bool:
    """A rule's pattern against a step: an effect word, or a command pattern read
    as a command (``rm -rf *`` is ``rm -r -f *``, matching ``rm -r -f docs`` and
    ``/bin/rm -fr docs``), compared as written and as nlsh writes it."""
    if pattern in EFFECT_WORDS:
        return pattern in step.effects
    text = step.text
    forms = {pattern, _canonical(pattern, shell)}
    return any(fnmatch.fnmatchcase(text, f) or fnmatch.fnmatchcase(text, f + " *") for f in forms)


def _canonical(pattern: str, shell: Scope) -> str:
    """A rule's pattern as nlsh writes the command (flags split and in order)."""
    try:
        calls = parse(pattern, shell.registry).calls
    except (ParseError, RecursionError):
        return pattern
    if len(calls) != 1:
        return pattern
    call = calls[0]
    if call.external:
        argv = call.get("argv", ())
        words = [w.source() for w in argv]
        if words:
            name = os.path.basename(words[0])
            routed = _as_command(name, [name, *words[1:]], shell) if "*" not in words[1:] else None
            if routed is None and name in ROUTED and shell.registry.get(name) is not None:
                return pattern.replace(words[0], name, 1)
            if routed is not None:
                return call_text(routed, shell.registry.signature)
    return call_text(call, shell.registry.signature)


def decide(plan: Plan, shell: Scope, rules: Rules, planned: bool) -> Decision:
    """The one decision for a whole plan: deny if any step is denied, ask if any asks."""
    risk = assess(plan, shell)
    asks: list[str] = []
    decided_by = "default"
    grave: list[str] = []
    for step in risk.steps:
        why = builtin_denial(step, shell, step.piped)
        if why:
            return Decision("deny", why, "built-in deny-list", risk)
        why = critical(step, shell)
        if why:
            grave.append(f"{step.text}: {why}")
        for pattern in rules.deny:
            if _matches(pattern, step, shell):
                return Decision("deny", f"{step.text}: denied by your policy rule {pattern!r}",
                                f"rule: deny {pattern}", risk)
        if any(_matches(p, step, shell) for p in rules.allow):
            decided_by = "rule: allow"
            continue
        hit = next((p for p in rules.ask if _matches(p, step, shell)), None)
        if hit is not None:
            asks.append(f"{step.text} (rule {hit!r})")
            continue
        trusted = rules.typed == "trust" if not planned else rules.planned == "trust"
        if not trusted and not step.effects <= {"read"}:
            asks.append(step.text)
    everything = _empties_home([p for s in risk.steps for p in s.deletes], shell)   # one by one, in a loop
    if everything and not grave:
        grave.append(everything)
    if grave:
        return Decision("ask", "; ".join(dict.fromkeys(grave)), "built-in: needs a person", risk, critical=True)
    if asks:
        return Decision("ask", "; ".join(dict.fromkeys(asks)), "default" if decided_by == "default" else decided_by, risk)
    return Decision("allow", "", decided_by, risk)


# -- explaining --------------------------------------------------------------

def dry_run(risk: Risk, cwd: str, limit: int = 8) -> list[str]:
    """What would change, without running anything: ``would delete 12 files (3.4 MB): …``."""
    from nlsh.lang.values import Size
    lines = []
    deletes = sorted({p for s in risk.steps for p in s.deletes})
    if deletes:
        files, size = _tree_stats([p for p in deletes if not p.startswith("(")])
        notes = [p for p in deletes if p.startswith("(")]
        shown = ", ".join(_shown(p, cwd) for p in deletes[:limit])
        more = " …" if len(deletes) > limit else ""
        lines.append(f"would delete {files} file{'s' if files != 1 else ''} ({Size(size).human()}): {shown}{more}"
                     if not notes or files else f"would delete {shown}{more}")
    writes = sorted({p for s in risk.steps for p in s.writes})
    if writes:
        existing = [p for p in writes if os.path.lexists(p)]
        shown = ", ".join(_shown(p, cwd) for p in writes[:limit]) + (" …" if len(writes) > limit else "")
        lines.append(f"would write {len(writes)} path{'s' if len(writes) != 1 else ''}"
                     f"{f' ({len(existing)} already exist)' if existing else ''}: {shown}")
    programs = sorted({p for s in risk.steps for p in s.programs})
    if programs:
        lines.append("would run: " + ", ".join(programs))
    signals = [t for s in risk.steps for t in s.signals]
    if signals:
        lines.append("would signal: " + ", ".join(signals))
    unresolved = [u for s in risk.steps for u in s.unresolved]
    if unresolved:
        lines.append("matches nothing yet: " + ", ".join(unresolved))
    return lines or ["changes nothing (read-only)"]


def _shown(path: str, cwd: str) -> str:
    """A path relative to ``cwd``; a note such as ``(what $(…) gives)`` as it is."""
    return path if path.startswith("(") else os.path.relpath(path, cwd)


def _tree_stats(paths: list[str]) -> tuple[int, int]:
    files = size = 0
    for p in paths:
        if os.path.isdir(p) and not os.path.islink(p):
            for d, _, names in os.walk(p):
                for n in names:
                    files += 1
                    try:
                        size += os.lstat(os.path.join(d, n)).st_size
                    except OSError:
                        pass
        elif os.path.lexists(p):
            files += 1
            size += os.lstat(p).st_size
    return files, size


def explain(plan: Plan, registry: Registry) -> list[str]:
    """A sentence per step, from the commands' own declarations."""
    out = []
    for call in plan.calls:
        text = call_text(call, registry.signature)
        if call.external:
            out.append(f"{text}: runs the program {call.name or 'named by a variable'}")
            continue
        cmd = registry.get(call.name)
        given = []
        for name, value in call.args:
            param = cmd.signature.param(name)
            what = param.help or param.label.lower()
            if param.type == "flag":
                given.append(what)
            else:
                shown = " ".join(v.source() if isinstance(v, Word) else
                                 plan_text(v, registry.signature) if isinstance(v, Plan) else str(v)
                                 for v in (value if isinstance(value, tuple) else (value,)))
                given.append(f"{what}: {shown}")
        out.append(f"{text}: {cmd.summary}" + (f" ({'; '.join(given)})" if given else ""))
    return out
