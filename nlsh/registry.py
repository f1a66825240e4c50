"""Commands, declared once: signature, kinds, effects, examples and code.

From one ``Command`` come parsing and validation (its Signature), ``help``,
completion, the policy's view of its effects and of what a call touches
(``touches`` and ``lists``, for built-ins and plugins alike), and tests of its
examples.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from nlsh.lang.signature import Param, Signature

EFFECTS = ("read", "write", "delete", "exec", "network", "process")
REMOVERS = ("rm", "unlink", "rmdir", "shred")       # programs that remove the files they are given
KINDS = ("none", "text", "records", "any")


@dataclass(frozen=True)
class Touched:
    """What one call touches, as its command's ``touches(call, shell)`` says.

    Paths are as the call has them (words, which the policy expands in the
    shell of that moment) or absolute paths; a note in brackets stands for
    paths known only when the call runs. ``None`` keeps the default reading:
    a deleting command deletes its ``paths`` (or what a pipe gives it), a
    writing one writes its ``dest``, ``paths``, ``link`` and ``target``, one
    that signals signals its ``targets``."""
    deletes: tuple | None = None
    writes: tuple | None = None
    moves: tuple = ()               # what it moves away (mv's sources): gone from where they were
    trees: tuple = ()               # paths below which it changes everything (chmod -R)
    programs: tuple[str, ...] = ()  # programs it starts (find -exec)
    signals: tuple[str, ...] | None = None
    effects: frozenset = frozenset()    # beyond the declared ones (find -exec rm: delete)
    irreversible: str = ""          # why it cannot be undone: only a person at the prompt says yes
    unresolved: tuple[str, ...] = ()    # what could not be worked out before it runs


@dataclass(frozen=True)
class Example:
    """An utterance, the command it means, and what it prints.

    ``files`` are created in an empty directory before the command runs;
    ``output`` is the expected plain output (None: not checked) of the
    command followed by ``check``, a command that shows its effect (``ls``
    after ``rm``). The planner learns from ``command`` alone: a shot that
    ends in ``; ls`` teaches a model to list after every change.
    """
    utterance: str
    command: str
    output: str | None = None
    files: dict = field(default_factory=dict)
    check: str | None = None


@dataclass(frozen=True)
class Command:
    name: str
    summary: str
    run: Callable[..., Iterable[object] | None]
    params: tuple[Param, ...] = ()
    input: str = "none"
    output: str = "records"
    effects: frozenset = frozenset({"read"})
    examples: tuple[Example, ...] = ()
    category: str = "misc"
    free_dashes: bool = False
    expression: bool = False
    # Runs on the shell's main thread (cd, exit, alias: they change the shell).
    shell_state: bool = False
    number_flag: str | None = None
    modifier: bool = False
    ordered: bool = False
    # Stands in for the program of the same name: a line using flags the
    # built-in lacks (``sed -n 2p``, ``ls --color``) runs that program.
    program: bool = False
    # The planner may write it (its usage goes into the prompt and the grammar,
    # its examples into retrieval); shell syntax such as while and if it does not.
    planned: bool = True
    flags_first: bool = False
    # What a call touches, beyond the default reading of its parameters: (call, shell) → Touched.
    touches: Callable | None = field(default=None, compare=False)
    # The paths a call would print, known before it runs (find's matches): (call, shell) →
    # list or None; the policy's preview of ``rm $(find …)`` and ``find … | rm``.
    lists: Callable | None = field(default=None, compare=False)
    # A modifier that runs as a command when written alone (``limit``).
    alone: bool = False
    signature: Signature = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        bad = set(self.effects) - set(EFFECTS)
        if bad or self.input not in KINDS or self.output not in KINDS:
            raise ValueError(f"command {self.name}: bad declaration ({bad or self.input or self.output})")
        object.__setattr__(self, "signature", Signature(
            self.params, self.free_dashes, self.expression, self.number_flag, self.modifier,
            self.ordered, self.program, self.flags_first, self.alone))

    @property
    def usage(self) -> str:
        return self.signature.usage(self.name)


def command(name: str, summary: str, *, params: Sequence[Param] = (), input: str = "none",
            output: str = "records", effects: Iterable[str] = ("read",),
            examples: Sequence[Example] = (), category: str = "misc", free_dashes: bool = False,
            expression: bool = False, shell_state: bool = False,
            number_flag: str | None = None, modifier: bool = False,
            ordered: bool = False, program: bool = False, planned: bool = True,
            flags_first: bool = False, touches: Callable | None = None,
            lists: Callable | None = None, alone: bool = False) -> Callable[[Callable], Command]:
    """Declare a command; the decorated function becomes its ``run``."""
    def wrap(fn: Callable) -> Command:
        return Command(name, summary, fn, tuple(params), input, output, frozenset(effects),
                       tuple(examples), category, free_dashes, expression, shell_state, number_flag,
                       modifier, ordered, program, planned, flags_first, touches, lists, alone)
    return wrap


class Registry:
    """The live set of commands; implements the parser's CommandLookup."""

    def __init__(self, commands: Iterable[Command] = ()) -> None:
        self._commands: dict[str, Command] = {}
        self.version = 0
        self.host = None          # the PluginHost that loads plugin commands on demand
        for c in commands:
            self.register(c)

    def register(self, cmd: Command) -> None:
        if cmd.name in self._commands:
            raise ValueError(f"command {cmd.name} is already registered")
        self._commands[cmd.name] = cmd
        self.version += 1

    def get(self, name: str) -> Command | None:
        cmd = self._commands.get(name)
        if cmd is None and self.host is not None:
            plugin = self.host.provides(name)
            if plugin is not None:
                self.host.load(plugin)
                cmd = self._commands.get(name)
        return cmd

    def __iter__(self):
        if self.host is not None:
            self.host.load_all()
        return iter(sorted(self._commands.values(), key=lambda c: c.name))

    def __contains__(self, name: str) -> bool:
        return self.get(name) is not None

    # CommandLookup
    def signature(self, name: str) -> Signature | None:
        cmd = self.get(name)
        return cmd.signature if cmd else None

    def is_program(self, name: str) -> bool:
        if "/" in name:
            return os.path.isfile(name) and os.access(name, os.X_OK)
        return shutil.which(name) is not None

    def registered(self) -> list[str]:
        """Names of the commands registered so far (no plugin is loaded to answer)."""
        return sorted(self._commands)

    def names(self) -> list[str]:
        extra = self.host.command_names() if self.host is not None else []
        return sorted(set(self._commands) | set(extra))
