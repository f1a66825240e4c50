"""The interactive shell (prompt_toolkit): prompt, history, completion, highlighting."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import threading
import time
from collections.abc import Iterable

from prompt_toolkit import PromptSession
from prompt_toolkit import prompt as pt_prompt
from prompt_toolkit.auto_suggest import AutoSuggestFromHistory
from prompt_toolkit.completion import Completer, Completion, PathCompleter
from prompt_toolkit.document import Document
from prompt_toolkit.formatted_text import FormattedText
from prompt_toolkit.history import FileHistory
from prompt_toolkit.key_binding import KeyBindings
from prompt_toolkit.lexers import Lexer
from prompt_toolkit.styles import Style

from nlsh import __version__
from nlsh.lang.errors import ParseError
from nlsh.lang.lexer import BLOCK_INNER, BLOCK_OPENERS, KEYWORDS_BEFORE_A_COMMAND, join_continued, tokenize
from nlsh.paths import ensure
from nlsh.render import Renderer
from nlsh.router import needs_more
from nlsh.session import ExitShell, Shell

STYLE = Style.from_dict({
    "cwd": "ansicyan bold", "status": "ansired", "arrow": "ansigreen bold",
    "known": "ansigreen", "unknown": "ansired underline", "flag": "ansiyellow",
    "string": "ansimagenta", "op": "ansiblue bold", "comment": "ansibrightblack",
    "bottom-toolbar": "noreverse ansibrightblack",
})
_SEPARATORS = ("|", ";", "&&", "||", "&")


def _segments_before(text: str) -> list[str]:
    """Words of the command the cursor is in (rough: split on separators)."""
    for sep in _SEPARATORS:
        text = text.replace(sep, "\0")
    return text.split("\0")[-1].split(" ")


class ShellCompleter(Completer):
    def __init__(self, shell: Shell) -> None:
        self.shell = shell
        self._programs: list[str] | None = None
        self._paths = PathCompleter(expanduser=True, get_paths=lambda: [self.shell.cwd])

    def programs(self) -> list[str]:
        if self._programs is None:
            names: set[str] = set()
            for d in self.shell.env.get("PATH", "").split(os.pathsep):
                try:
                    names.update(n for n in os.listdir(d) if os.access(os.path.join(d, n), os.X_OK))
                except OSError:
                    continue
            self._programs = sorted(names)
        return self._programs

    def get_completions(self, document: Document, complete_event) -> Iterable[Completion]:
        words = _segments_before(document.text_before_cursor)
        current = words[-1]
        before = [w for w in words[:-1] if w]
        if not before:
            names = self.shell.registry.names() + sorted(self.shell.aliases)
            seen = set()
            for n in names + self.programs():
                if n.startswith(current) and n not in seen:
                    seen.add(n)
                    cmd = self.shell.registry.get(n)
                    yield Completion(n, -len(current), display_meta=cmd.summary if cmd else "")
            return
        cmd = self.shell.registry.get(before[0])
        if current.startswith("-") and cmd is not None:
            for p in cmd.params:
                for f in p.flags:
                    if f.startswith(current):
                        yield Completion(f, -len(current), display_meta=p.help)
            return
        yield from self._paths.get_completions(Document(current, len(current)), complete_event)


class ShellLexer(Lexer):
    """Colours command words green when known, red when not; flags, strings, operators."""

    def __init__(self, shell: Shell) -> None:
        self.shell = shell

    def _known(self, word: str) -> bool:
        return (word in self.shell.registry or word in self.shell.aliases
                or shutil.which(word, path=self.shell.env.get("PATH")) is not None)

    def lex_document(self, document: Document):
        lines = document.lines

        def get_line(n: int):
            line = lines[n]
            try:
                tokens = tokenize(line)
            except ParseError:
                return [("", line)]
            out, pos, expect_cmd = [], 0, True
            for tok in tokens:
                if tok.column > pos:
                    out.append(("", line[pos:tok.column]))
                piece = line[tok.column:tok.column + tok.length]
                if tok.kind == "op":
                    style = "class:op"
                    expect_cmd = tok.value in ("|", ";", "&&", "||", "&", "(", ")")
                elif tok.kind in ("arith", "cond"):       # ((…)), for ((…)), [[ … ]]
                    style, expect_cmd = "class:known", False
                elif expect_cmd:
                    keyword = tok.text in BLOCK_OPENERS + BLOCK_INNER
                    style = "class:known" if keyword or self._known(tok.text) else "class:unknown"
                    # a command follows `then`, `if`… (not `for`: a name does)
                    expect_cmd = tok.text in KEYWORDS_BEFORE_A_COMMAND
                elif tok.flag_like:
                    style = "class:flag"
                elif piece[:1] in "'\"":
                    style = "class:string"
                else:
                    style = ""
                out.append((style, piece))
                pos = tok.column + tok.length
            if pos < len(line):
                out.append(("class:comment", line[pos:]))
            return out

        return get_line


def _bindings() -> KeyBindings:
    kb = KeyBindings()

    @kb.add("enter")
    def _(event) -> None:
        buf = event.current_buffer
        if needs_more(buf.text):
            buf.insert_text("\n")
        else:
            buf.validate_and_handle()

    @kb.add("c-z")
    def _(event) -> None:
        """Nothing to suspend at the prompt (as in bash)."""

    return kb


def _prompt(shell: Shell) -> FormattedText:
    home = shell.env.get("HOME", "")
    cwd = shell.cwd
    if home and (cwd == home or cwd.startswith(home.rstrip("/") + "/")):
        cwd = "~" + cwd[len(home.rstrip("/")):]
    parts = [("class:cwd", cwd)]
    if shell.last_status:
        parts.append(("class:status", f" [{shell.last_status}]"))
    parts.append(("class:arrow", " ❯ "))
    return FormattedText(parts)


def _toolbar(shell: Shell):
    live = shell.jobs.live()
    if not live:
        return None
    from nlsh.lang.values import Size
    return "  ".join(f"[{j.id}] {j.state} {j.usage.cpu_percent:.0f}% {Size(j.usage.rss).human()} {j.text[:30]}"
                     for j in live)


def _start_planner(shell: Shell) -> None:
    """Begin loading the model behind the prompt; problems are reported on first use."""
    def load() -> None:
        try:
            shell.get_planner().warm()
        except Exception:  # noqa: BLE001, S110  (the first utterance reports the error)
            pass
    threading.Thread(target=load, name="nlsh-planner-warm", daemon=True).start()


class ReplFace:
    """Planning in the REPL: a spinner, the plan with its risk, and ``[Y/n/e/?/d]``."""

    def __init__(self, shell: Shell) -> None:
        self.shell = shell
        self.prefill = ""

    @contextlib.contextmanager
    def planning(self, utterance: str, stage=None):
        from rich.console import Console
        console = Console(file=self.shell.err, highlight=False)
        t0 = time.monotonic()
        status = console.status("planning…", spinner="dots")
        status.start()
        stop = threading.Event()

        def tick() -> None:
            n = 0
            now = ""
            while not stop.wait(0.1):
                if stage is not None and n % 5 == 0:       # what the model's first use is doing
                    now = stage() or ""
                n += 1
                status.update(f"{now or 'planning'}… {time.monotonic() - t0:.1f}s")
        t = threading.Thread(target=tick, daemon=True)
        t.start()
        try:
            yield
        finally:
            stop.set()
            status.stop()

    def show_plan(self, text: str, decision, estimate=None) -> None:
        from rich.console import Console
        from rich.text import Text
        line = Text("  plan  ", style="bold cyan")
        line.append(text, style="bold")
        risk = decision.risk.summary()
        line.append(f"    {risk}", style="green" if risk == "read-only" else "yellow")
        if estimate is not None:
            line.append(f"    {estimate.summary()}", style="dim")
        Console(file=self.shell.err, highlight=False).print(line)

    def offer_background(self, estimate) -> bool:
        self.shell.err.write(f"  {estimate.summary()}\n")
        if not estimate.long:
            return False
        try:
            answer = pt_prompt("  run it in the background? [y/N] ")
        except (EOFError, KeyboardInterrupt):
            return False
        return answer.strip().lower() in ("y", "yes")

    def confirm(self, plan, text: str, decision) -> str:
        from nlsh.policy import dry_run, explain
        while True:
            try:
                answer = pt_prompt("  run? [Y/n/e/?/d] ").strip().lower()
            except (EOFError, KeyboardInterrupt):
                return "no"
            if answer in ("", "y", "yes"):
                return "yes"
            if answer in ("n", "no"):
                return "no"
            if answer == "e":
                self.prefill = text
                return "edit"
            if answer == "?":
                for line in explain(plan, self.shell.registry):
                    self.shell.err.write(f"    {line}\n")
            elif answer == "d":
                from nlsh.sandbox import preview
                for line in dry_run(decision.risk, self.shell.cwd) + preview(text, self.shell.cwd):
                    self.shell.err.write(f"    {line}\n")
            else:
                self.shell.err.write("    Enter or y runs it, n cancels, e edits the plan, ? explains, d shows the changes\n")


    def grant(self, plugin: str, command: str, effects: str) -> bool:
        try:
            answer = pt_prompt(f"  plugin {plugin} wants to {effects} (command {command}). Allow it from now on? [y/N] ")
        except (EOFError, KeyboardInterrupt):
            return False
        return answer.strip().lower() in ("y", "yes")


_EVENT = re.compile(r"(?<!\S)!(!|\$)(?!\S)")


def expand_history(line: str, previous: str | None) -> str:
    """bash's ``!!`` (the previous line) and ``!$`` (its last word), as whole words
    outside quotes; ValueError("!!: event not found") without a previous line."""
    if "'" in line or '"' in line or not _EVENT.search(line):
        return line
    if previous is None:
        raise ValueError(f"{_EVENT.search(line).group(0)}: event not found")
    words = previous.split()
    return _EVENT.sub(lambda m: previous if m.group(1) == "!" else (words[-1] if words else ""), line)


class _History(FileHistory):
    """The history file; if it cannot be written (a read-only or full disk), one
    warning, and this session's lines are kept in memory only."""

    def __init__(self, shell) -> None:
        super().__init__(shell.history.path)
        self._shell = shell
        self._warned = False
        with contextlib.suppress(OSError):      # if it cannot be made, the first line says so
            ensure(os.path.dirname(self.filename))

    def last(self) -> str | None:
        """The newest line (before the one being typed)."""
        strings = self.get_strings()
        return strings[-1] if strings else None

    def append_string(self, string: str) -> None:
        """Lines are kept with ``!!`` and ``!$`` already replaced, as bash keeps them."""
        with contextlib.suppress(ValueError):
            string = expand_history(string, self.last())
        super().append_string(string)

    def store_string(self, string: str) -> None:
        try:
            super().store_string(string)
        except OSError as e:
            if not self._warned:
                self._warned = True
                self._shell.renderer.item(2, f"nlsh: cannot save history in {self.filename}: "
                                             f"{e.strerror or e}; this session's lines are not kept")


def run_repl(json: bool = False, yes: bool = False, model: str | None = None, backend: str = "auto",
             base_url: str | None = None) -> int:
    """Run the interactive shell until ``exit`` or Ctrl-D; returns the exit status."""
    # An interactive shell handles Ctrl-C itself, even if it was started with
    # SIGINT ignored (as background commands of a non-interactive shell are).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    shell = Shell(interactive=True, json=json, assume_yes=yes, output=Renderer)
    shell.configure_planner(model, backend, base_url)
    face = ReplFace(shell)
    shell.face = face
    _start_planner(shell)
    history = _History(shell)
    session: PromptSession = PromptSession(
        history=history, auto_suggest=AutoSuggestFromHistory(), completer=ShellCompleter(shell),
        lexer=ShellLexer(shell), style=STYLE, key_bindings=_bindings(), multiline=True,
        complete_while_typing=False, bottom_toolbar=lambda: _toolbar(shell), refresh_interval=1.0,
        prompt_continuation=lambda width, n, soft: "… ".rjust(width), enable_history_search=False)
    shell.renderer.item(2, f"nlsh {__version__} · 'help' for help, Ctrl-D to leave")
    warned_jobs = False
    status = 0
    while True:
        shell.report_finished_jobs()
        shell.renderer.end_line()
        default, face.prefill = face.prefill, ""
        previous = history.last()
        try:
            line = session.prompt(lambda: _prompt(shell), default=default)
        except KeyboardInterrupt:
            continue
        except EOFError:
            line = "exit"
        line = join_continued(line)
        try:
            expanded = expand_history(line, previous)
        except ValueError as e:
            shell.renderer.item(2, f"nlsh: {e}")
            continue
        if expanded != line:
            shell.renderer.item(2, expanded)         # what runs, as bash shows it
            line = expanded
        try:
            status = shell.run_line(line)
        except ExitShell as e:
            if shell.jobs.live() and not warned_jobs:
                warned_jobs = True
                shell.renderer.item(2, f"nlsh: there are {len(shell.jobs.live())} running jobs; "
                                       "exit again to cancel them and leave")
                continue
            status = e.status
            break
    return shell.finish(status)
