"""The shell's state, explicit: what a line changes and what a copy of the
shell gets.

``State`` holds the working directory, the variables (with their kinds and
arrays), functions, aliases, options, the EXIT trap, the positional
parameters, the directory stack, getopts' place, the last status and the
descriptors above 2 that ``exec`` opened.
``State.copy()`` is the one copy that ``( … )``, ``$( … )``, a background
job (``&``) and a program's ``NAME=VALUE`` get, as bash gives a subshell.

``Scope`` is a shell as a running line sees it: a ``State`` of its own and
the services of the session it runs in (the commands, the job table, the
store, the trash, the face, the monitor), which every copy shares. The
session (``nlsh.session.Shell``) is the top scope; ``scope.copy()`` is a
subshell's. Commands and the kernel use a scope; none of them needs the
session object itself."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from nlsh.kernel.variables import Variables

if TYPE_CHECKING:
    from nlsh.lang.plan import Plan


@dataclass
class State:
    cwd: str
    env: Variables
    aliases: dict[str, str] = field(default_factory=dict)
    dirs: list[str] = field(default_factory=list)          # pushd's stack, below the working directory
    functions: dict[str, Plan] = field(default_factory=dict)   # name() { …; }: the body of each
    positional: list[str] = field(default_factory=list)    # $1 … of the running script or function
    options: set[str] = field(default_factory=lambda: {"failglob"})   # set -e …: "errexit", …; shopt's
    traps: dict[str, str] = field(default_factory=dict)    # trap CMDS EXIT: {"EXIT": CMDS}
    last_status: int = 0
    getopts_at: tuple[int, int] = (0, 1)    # getopts: the OPTIND it left, and where in that word (-vx) it is
    # The descriptors above 2 that ``exec 3>FILE`` opened (``>&3`` writes there), unbuffered.
    fds: dict[int, object] = field(default_factory=dict)

    def copy(self) -> State:
        """A subshell's state: changes to it never reach this one (its descriptors
        are the same open files, as a subshell inherits them)."""
        return State(self.cwd, self.env.copy(), dict(self.aliases), list(self.dirs), dict(self.functions),
                     list(self.positional), set(self.options), dict(self.traps), self.last_status,
                     self.getopts_at, dict(self.fds))

    def set_cwd(self, path: str) -> None:
        self.env["OLDPWD"] = self.cwd
        self.cwd = path
        self.env["PWD"] = path


class _Own:
    """A field of the scope's own state."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, scope: Scope | None, owner: type | None = None) -> object:
        if scope is None:
            return self
        return getattr(scope.state, self.name)

    def __set__(self, scope: Scope, value: object) -> None:
        setattr(scope.state, self.name, value)


class Forward:
    """An attribute read from another object (``via`` names the attribute that
    holds it): a scope's services from its session, a capture's from its job.
    Set on the object itself, it stays that object's own."""

    def __init__(self, via: str, name: str = "") -> None:
        self.via = via
        self.name = name            # given when set on a class after it was made

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, obj: object, owner: type | None = None) -> object:
        if obj is None:
            return self
        target = getattr(obj, self.via)
        if target is obj:                   # the session itself: an attribute it has not set
            raise AttributeError(self.name)
        return getattr(target, self.name)


class Scope:
    """A shell as the line running in it sees it (see the module's docstring)."""

    cwd = _Own()
    env = _Own()
    aliases = _Own()
    dirs = _Own()
    functions = _Own()
    positional = _Own()
    options = _Own()
    traps = _Own()
    fds = _Own()
    last_status = _Own()
    getopts_at = _Own()

    # the session's services: what runs (registry, jobs, monitor), what is kept
    # (store, trash, history), who is there (face, renderer, interactive, tty)
    registry = Forward("session")
    jobs = Forward("session")
    monitor = Forward("session")
    store = Forward("session")
    trash = Forward("session")
    history = Forward("session")
    rules = Forward("session")
    face = Forward("session")
    renderer = Forward("session")
    raw_stdout = Forward("session")
    interactive = Forward("session")
    command_string = Forward("session")
    tty = Forward("session")
    assume_yes = Forward("session")
    planning_enabled = Forward("session")
    started = Forward("session")
    config_limits = Forward("session")
    last_background = Forward("session")
    pending_foreground = Forward("session")
    # the line running now, as the gate let it through
    running_planned = Forward("session")
    mark_planned = Forward("session")
    critical_confirmed = Forward("session")
    line_serial = Forward("session")
    # scripts: the one running and how deep sources go
    script_path = Forward("session")
    source_depth = Forward("session")
    # the session's own doings, reached from a command (the gate for eval and exec, source, running a
    # plan, planning, reporting finished jobs)
    gate = Forward("session")
    source_script = Forward("session")
    run_plan = Forward("session")
    report_finished_jobs = Forward("session")
    get_planner = Forward("session")
    run_agent = Forward("session")

    def __init__(self, state: State, session: Scope) -> None:
        self.state = state
        self.session = session

    @property
    def is_copy(self) -> bool:
        """A subshell's, ``$(…)``'s or a background job's scope, not the shell's own."""
        return self.session is not self

    def copy(self) -> Scope:
        """The scope of a subshell: its own copy of the state, the same services."""
        return Scope(self.state.copy(), self.session)

    def derive(self, **changes: object) -> Scope:
        """This scope with some of its state replaced (nothing copied): the
        policy's view of a function's body or of a loop's turn."""
        return Scope(dataclasses.replace(self.state, **changes), self.session)

    def set_cwd(self, path: str) -> None:
        self.state.set_cwd(path)

    def parse(self, line: str) -> Plan:
        """``line`` read with this scope's aliases and functions; in a script (no
        planning) an unknown command fails as it runs, as bash reads it."""
        from nlsh.lang import parse
        return parse(line, self.registry, self.aliases, self.functions, unknown_runs=not self.planning_enabled)

    def text(self, plan: Plan) -> str:
        from nlsh.lang import text
        return text(plan, self.registry.signature)
