"""NL scripts (``.nls``): plain-language routines that run unattended.

Format (version 1)::

    #!/usr/bin/env nlsh
    # nls 1
    param days = 7              # a parameter with a default; `param name` has none
    on error continue           # from here on a failing step does not stop the script
    delete the .log files in logs older than {days} days
    find logs -name '*.gz' | count        # a command line runs as typed
    compress the reports folder &         # a background step
    wait

``nlsh lock FILE`` plans every plain-language line once and writes
``FILE.lock`` (readable text: one entry per line, with the line's hash, the
model and the plan). ``nlsh run FILE`` uses the lock where it is up to date
and plans only new or changed lines; a fully locked script never loads the
model. Before the first step runs, the whole script is checked by the
safety policy: nothing runs if any step is refused.
"""

from __future__ import annotations

import hashlib
import os
import re
import shlex
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from nlsh.lang import ParseError
from nlsh.lang.errors import did_you_mean

FORMAT_VERSION = 1
LOCK_VERSION = 1
_PARAM = re.compile(r"^param\s+([A-Za-z_][A-Za-z0-9_]*)\s*(?:=\s*(.*))?$")
_PLACEHOLDER = re.compile(r"(?<!\$)\{([A-Za-z_][A-Za-z0-9_]*)\}")     # {days}, not the variable ${days}
_HEADER = re.compile(r"^#\s*nls\s+(\d+)\s*$")


class ScriptError(Exception):
    """A problem with a script, pointing at its line: ``FILE:LINE: message``."""

    def __init__(self, message: str, path: str = "", line: int = 0, status: int = 2) -> None:
        where = f"{os.path.basename(path)}:{line}: " if path and line else (f"{os.path.basename(path)}: " if path else "")
        super().__init__(where + message)
        self.message = where + message
        self.status = status


@dataclass
class Step:
    line: int
    text: str                     # as written, placeholders included, without a trailing &
    background: bool = False
    kind: str = ""                # "command" or "nl" (decided when the script runs or locks)
    continue_on_error: bool = False

    @property
    def key(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()[:16]


@dataclass
class Script:
    path: str
    version: int = FORMAT_VERSION
    # plain-language steps are planned only in an NL script (FILE.nls, or one with the
    # '# nls N' header or params); in a bash script a line that is no command is an error
    language: bool = False
    params: dict[str, str | None] = field(default_factory=dict)
    steps: list[Step] = field(default_factory=list)


def parse_script(text: str, path: str = "") -> Script:
    """Parse a script; errors name the line."""
    script = Script(path, language=path.endswith(".nls"))
    continue_on_error = False
    seen_step = False
    lines = text.split("\n")
    consumed = 0                        # lines a step that goes on over several lines took
    for n, raw in enumerate(lines, 1):
        if n <= consumed:
            continue
        line = raw.strip()
        if n == 1 and line.startswith("#!"):
            continue
        header = _HEADER.match(line)
        if header:
            if seen_step:
                raise ScriptError("the '# nls N' header must come before the steps", path, n)
            script.version = int(header.group(1))
            script.language = True
            if script.version != FORMAT_VERSION:
                raise ScriptError(f"this is an nls {script.version} script; this nlsh reads nls {FORMAT_VERSION}",
                                  path, n)
            continue
        if not line or line.startswith("#"):
            continue
        if line.startswith("param ") or line == "param":
            m = _PARAM.match(line)
            if not m:
                raise ScriptError("expected 'param NAME' or 'param NAME = DEFAULT'", path, n)
            name, default = m.group(1), m.group(2)
            if name in script.params:
                raise ScriptError(f"parameter {name} is declared twice", path, n)
            if seen_step:
                raise ScriptError("parameters must be declared before the first step", path, n)
            script.params[name] = _unquote(default.strip()) if default is not None else None
            script.language = True
            continue
        if line.startswith("on error"):
            mode = line[len("on error"):].strip()
            if mode not in ("continue", "stop"):
                raise ScriptError("expected 'on error continue' or 'on error stop'", path, n)
            continue_on_error = mode == "continue"
            continue
        seen_step = True
        step, consumed = _step(lines, n, path, script, continue_on_error)
        script.steps.append(step)
    return script


def _step(lines: list[str], n: int, path: str, script: Script, continue_on_error: bool) -> tuple[Step, int]:
    """The step starting on line ``n``, and its last line: a command that goes
    on over several lines (a loop, a function, an open quote or array, a
    trailing ``|`` or ``\\``) is one step, as bash reads it."""
    from nlsh.lang.lexer import join_continued
    from nlsh.router import needs_more
    body = lines[n - 1].strip()
    end = n
    while needs_more(body) and end < len(lines):
        body += "\n" + lines[end].rstrip()
        end += 1
    body = join_continued(body)
    background = body.endswith("&") and not body.endswith("&&")
    if background:
        body = body[:-1].rstrip()
    if not body:
        raise ScriptError("a step cannot be just '&'", path, n)
    for name in _PLACEHOLDER.findall(body):
        if name not in script.params:
            raise ScriptError(f"unknown parameter {{{name}}}{did_you_mean(name, list(script.params))}", path, n)
    return Step(n, body, background, continue_on_error=continue_on_error), end


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def resolve_params(script: Script, overrides: dict[str, str]) -> dict[str, str]:
    unknown = [k for k in overrides if k not in script.params]
    if unknown:
        raise ScriptError(f"unknown parameter {unknown[0]}{did_you_mean(unknown[0], list(script.params))} "
                          f"(this script takes: {', '.join(script.params) or 'none'})", script.path)
    values = {k: v for k, v in script.params.items()}
    values.update(overrides)
    missing = [k for k, v in values.items() if v is None]
    if missing:
        raise ScriptError(f"parameter {missing[0]} has no default; give it with --param {missing[0]}=VALUE",
                          script.path)
    return values


def fill(text: str, values: dict[str, str]) -> str:
    """A request with its parameters' values written in (for the planner)."""
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], text)


def fill_command(text: str, values: dict[str, str]) -> str:
    """A command with its parameters' values in as data, never as code: one quoted
    word where the placeholder stands bare, escaped for the quotes it stands in
    (``ls {dir}`` with ``dir=docs; rm -rf ~`` lists a folder of that name)."""
    out, quote, i = [], None, 0
    while i < len(text):
        m = _PLACEHOLDER.match(text, i) if text[i] == "{" else None
        if m is not None and (i == 0 or text[i - 1] != "$"):
            value = values[m.group(1)]
            if quote == "'":
                out.append(value.replace("'", "'\\''"))
            elif quote == '"':
                out.append(re.sub(r'(["\\$`])', r"\\\1", value))
            else:
                out.append(shlex.quote(value))
            i = m.end()
            continue
        c = text[i]
        if c == "\\" and quote != "'" and i + 1 < len(text):
            out.append(text[i:i + 2])
            i += 2
            continue
        if c in "'\"" and quote in (None, c):
            quote = None if quote == c else c
        out.append(c)
        i += 1
    return "".join(out)


# -- lock files -------------------------------------------------------------

@dataclass
class LockEntry:
    key: str
    line: int
    utterance: str
    plan: str
    model: str
    bound: dict[str, str] = field(default_factory=dict)   # parameters baked into the plan


def lock_path(script_path: str) -> str:
    return script_path + ".lock"


def _not_utf8(e: UnicodeDecodeError) -> str:
    return f"not UTF-8: byte 0x{e.object[e.start]:02x} at offset {e.start}"


def read_lock(path: str) -> dict[str, LockEntry]:
    """Entries by line hash ({} if there is no lock)."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        return {}
    except UnicodeDecodeError as e:
        raise ScriptError(f"{path}: the lock is not text ({_not_utf8(e)}); delete it and lock the script again",
                          status=1) from None
    entries: dict[str, LockEntry] = {}
    current: dict = {}
    for n, raw in enumerate(text.split("\n"), 1):
        line = raw.rstrip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and "]" in line:
            head, _, rest = line.partition("]")
            fields = dict(part.split("=", 1) for part in rest.split() if "=" in part)
            if "sha" not in fields:
                raise ScriptError("lock entry without sha=", path, n)
            current = {"key": fields["sha"], "line": int(head[1:].split()[-1]) if head[1:].split() else 0,
                       "model": fields.get("model", "?"),
                       "bound": dict(b.split(":", 1) for b in fields.get("bound", "").split(",") if ":" in b)}
        elif line.startswith("nl: "):
            current["utterance"] = line[4:]
        elif line.startswith("plan: "):
            current["plan"] = line[6:]
            if "key" not in current or "utterance" not in current:
                raise ScriptError("plan: without its [line …] and nl: lines", path, n)
            entries[current["key"]] = LockEntry(**current)
            current = {}
        else:
            raise ScriptError(f"cannot read this lock line: {line[:40]!r}", path, n)
    return entries


def write_lock(path: str, script: Script, entries: list[LockEntry]) -> None:
    out = [f"# nlsh lock {LOCK_VERSION}: the plans for {os.path.basename(script.path)}.",
           "# Review them like code; `nlsh run --locked` runs exactly these.", ""]
    for e in entries:
        bound = f" bound={','.join(f'{k}:{v}' for k, v in e.bound.items())}" if e.bound else ""
        out += [f"[line {e.line}] sha={e.key} model={e.model}{bound}", f"nl: {e.utterance}", f"plan: {e.plan}", ""]
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write("\n".join(out))
    os.replace(tmp, path)


# -- planning and running ------------------------------------------------------

def step_kind(step: Step, shell, values: dict[str, str], language: bool = True) -> str:
    """A step is a command when it parses as one (after filling in parameters);
    outside an NL script (``language`` False) every step not starting with ``?`` is."""
    from nlsh.router import parsed_is_utterance, unparsed_is_utterance
    text = fill_command(step.text, values)
    if text.startswith("?"):
        return "nl"
    if not language:
        return "command"
    try:
        plan = shell.parse(text)
    except ParseError as e:
        return "nl" if unparsed_is_utterance(text, e) else "command"
    return "nl" if parsed_is_utterance(plan, text, shell.cwd) else "command"


def _plan_step(step: Step, shell, defaults: dict[str, str]) -> LockEntry:
    """Plan one plain-language step, keeping ``{param}`` placeholders when the
    model keeps them, else planning with the given values (recorded as bound)."""
    from nlsh.planner.planner import PlanningError
    planner = shell.get_planner()
    utterance = step.text.lstrip("?").strip()
    names = _PLACEHOLDER.findall(utterance)
    try:
        r = planner.plan(utterance, shell.cwd)
        if all(f"{{{n}}}" in r.text for n in names):
            shell.parse(fill_command(r.text, defaults))
            return LockEntry(step.key, step.line, step.text, r.text, r.model)
        bound = {n: defaults[n] for n in names}
        r = planner.plan(fill(utterance, defaults), shell.cwd)
        return LockEntry(step.key, step.line, step.text, r.text, r.model, bound)
    except PlanningError as e:
        raise ScriptError(f"could not plan {step.text!r}: {e.message}", shell_path(shell), step.line, 1) from None
    except ParseError as e:
        raise ScriptError(f"the plan for {step.text!r} does not parse with the parameters filled in: {e.message}",
                          shell_path(shell), step.line, 1) from None


def shell_path(shell) -> str:
    return getattr(shell, "script_path", "")


def load(path: str) -> Script:
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise ScriptError(f"cannot read {path}: {e.strerror}", status=1) from None
    except UnicodeDecodeError as e:
        raise ScriptError(f"{path}: not a text script ({_not_utf8(e)})", status=1) from None
    return parse_script(text, path)


def lock_script(path: str, shell) -> list[str]:
    """Plan every plain-language line and write FILE.lock; messages for the user."""
    script = load(path)
    shell.script_path = path
    defaults = {k: v for k, v in script.params.items() if v is not None}
    missing = [k for k, v in script.params.items() if v is None]
    old = read_lock(lock_path(path))
    entries, messages = [], []
    with _functions_ahead(shell):
        kinds = []
        for step in script.steps:
            values = {**defaults, **{k: f"{{{k}}}" for k in missing}}
            kinds.append(step_kind(step, shell, values, script.language))
            if kinds[-1] == "command":
                _define_functions(shell, fill_command(step.text, values))
    for step, kind in zip(script.steps, kinds):
        if kind != "nl":
            continue
        prior = old.get(step.key)
        if prior is not None and not prior.bound:
            entries.append(LockEntry(step.key, step.line, step.text, prior.plan, prior.model))
            messages.append(f"line {step.line}: kept   {prior.plan}")
            continue
        entry = _plan_step(step, shell, {**defaults, **{k: "" for k in missing}})
        entries.append(entry)
        messages.append(f"line {step.line}: planned {entry.plan}")
    write_lock(lock_path(path), script, entries)
    messages.append(f"wrote {os.path.basename(lock_path(path))} ({len(entries)} planned line"
                    f"{'s' if len(entries) != 1 else ''})")
    return messages


@contextmanager
def _functions_ahead(shell) -> Iterator[None]:
    """While a script's steps are read ahead of running them (sorted into
    commands and language, parsed, judged), the functions its earlier steps
    define are known, as they will be when the later steps run."""
    saved = dict(shell.functions)
    try:
        yield
    finally:
        shell.functions.clear()
        shell.functions.update(saved)


def _define_functions(shell, text: str) -> None:
    try:
        plan = shell.parse(text)
    except ParseError:
        return                  # the step's error is reported when it is parsed to run
    for call in plan.calls:
        if call.is_block and call.name == "function":
            shell.functions[call.get("name")] = call.get("body")


def run_script(path: str, shell, overrides: dict[str, str] | None = None, *, locked: bool = False,
               replan: bool = False, dry_run: bool = False) -> int:
    """Run a script: plans from the lock (planning only what is new or changed),
    a policy check of every step before the first runs, then the steps."""
    from nlsh.gate import preview
    from nlsh.planner.planner import PlanResult
    script = load(path)
    shell.script_path = path
    values = resolve_params(script, overrides or {})
    lock = {} if replan else read_lock(lock_path(path))
    with _functions_ahead(shell):
        resolved = []          # (step, text to run, PlanResult or None)
        for step in script.steps:
            if step_kind(step, shell, values, script.language) == "command":
                resolved.append((step, fill_command(step.text, values), None))
                _define_functions(shell, fill_command(step.text, values))
                continue
            entry = lock.get(step.key)
            fresh = entry is not None and all(values.get(k) == v for k, v in entry.bound.items())
            if not fresh:
                why = "not locked" if entry is None else "locked for other parameter values"
                if locked:
                    raise ScriptError(f"{why}: {step.text!r} (run 'nlsh lock {os.path.basename(path)}')", path,
                                      step.line, 1)
                shell.renderer.item(2, f"nlsh: {os.path.basename(path)}:{step.line}: planning ({why}): {step.text}")
                entry = _plan_step(step, shell, values)
            text = fill_command(entry.plan, values)
            resolved.append((step, text, entry))

        plans = []
        for step, text, entry in resolved:
            try:
                plan = shell.parse(text)
            except ParseError as e:
                raise ScriptError(f"{e.message} in {text!r}", path, step.line, e.status) from None
            if step.background:
                from nlsh.lang.plan import Chain, Plan
                plan = Plan(tuple(Chain(c.pipelines, c.ops, True, c.modifiers) for c in plan.chains))
            result = None if entry is None else PlanResult(step.text, plan, text, text, entry.model)
            plans.append((step, plan, result))

        asks = []
        for step, plan, result in plans:
            d = preview(plan, shell, planned=result is not None)
            if d.action == "deny":
                raise ScriptError(f"refused, so nothing ran: {d.reason}", path, step.line, 126)
            if d.action == "ask":
                asks.append(f"line {step.line}: {shell.text(plan)} [{d.risk.summary()}]")
        if dry_run:
            for step, plan, result in plans:
                risk = preview(plan, shell, planned=result is not None).risk.summary()
                kind = "plan" if result is not None else "cmd "
                shell.renderer.item(1, f"line {step.line} {kind}  {shell.text(plan)}    [{risk}]")
            return 0
        if asks and not shell.assume_yes:
            raise ScriptError("these steps need confirmation, so nothing ran (use --yes or a policy rule):\n  "
                              + "\n  ".join(asks), path, 0, 126)

    status = 0
    for step, plan, result in plans:
        status = shell.run_plan(plan, typed=step.text, planned=result, origin="script")
        shell.report_finished_jobs()
        if status != 0 and not step.continue_on_error and not step.background:
            return status
    return status
