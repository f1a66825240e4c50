"""Run one pipeline: built-ins on worker threads, programs as processes.

Built-in stages are connected by bounded Channels; programs next to each
other share OS pipes. Every program of a job joins the job's process group
so a signal reaches the whole tree.
"""

from __future__ import annotations

import io
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from nlsh.kernel.assign import prefixed
from nlsh.kernel.channel import Channel, ChannelClosed
from nlsh.kernel.context import (
    MAX_LINE,
    Cancelled,
    CommandError,
    Context,
    Exiting,
    ExitShell,
    LoopControl,
    os_reason,
)
from nlsh.kernel.expand import Unbound, expand_args, expand_argv, expand_word, traced
from nlsh.kernel.functions import function_command
from nlsh.kernel.terminal import give_terminal, tty_fd
from nlsh.kernel.variables import Array
from nlsh.lang.plan import Call, Chain, Pipeline, Plan
from nlsh.records import Partial, plain_line
from nlsh.trash import keep_overwritten

if TYPE_CHECKING:
    from nlsh.kernel.job import Job


MAX_THREADS = 1500          # threads of the whole shell: past this, a line that keeps starting commands stops


class _Stage:
    """Bookkeeping for one running stage; ``status`` is set when it ends."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.status: int | None = None
        self.done = threading.Event()
        self.proc: subprocess.Popen | None = None
        self.thread: threading.Thread | None = None
        self.finish = None          # a contained program's: applies its changes when it has ended


def run_chain(chain: Chain, job: Job) -> int:
    """Run a chain's pipelines as ``&&``/``||`` say; the status of the last that ran."""
    status = 0
    for i, pipeline in enumerate(chain.pipelines):
        if i and (chain.ops[i - 1] == "&&") != (status == 0):
            continue
        if job.cancel.cancelled or job.exit_request is not None or job.loop_control is not None:
            break
        last = i == len(chain.pipelines) - 1
        outer, job.condition = job.condition, job.condition or not last   # set -e spares `a` in `a && b`
        if pipeline.negated:                # set -e spares `! …`, as in bash
            job.condition = True
        try:
            status = run_pipeline(pipeline, job)
        finally:
            job.condition = outer
        if pipeline.negated:
            status = int(status == 0)
        job.shell.last_status = status
        if status and last and "errexit" in job.shell.options and not job.condition and not pipeline.negated:

            job.exit_request = ExitShell(status)    # set -e: the shell ends with this status
    return status


def capture(plan: Plan, job: Job, input: Iterator[object] | None = None, loop: bool = False,
            scope: bool = False, frame: dict | None = None, condition: bool = False,
            errors: object = None) -> tuple[list[object], int]:
    """Run ``plan`` inside ``job``: the items it wrote to its output (a loop
    body's) and its status. Errors go to the job's error stream. ``input``
    (a block's: ``… | while read x``) is what built-ins starting its
    pipelines read, one line at a time, from one round to the next; ``loop``:
    the plan is a loop's, where break and continue mean something; ``scope``:
    a subshell's, which no loop outside reaches and which ``exit`` only ends;
    ``frame``: a function's body (``local`` keeps what it hides there);
    ``condition``: an ``if``'s or a loop's condition, or a ``$(…)``, which
    ``set -e`` does not end; ``errors``: where the plan's errors go when the
    block's call redirects them (``{ …; } 2>FILE``): OUTPUT (``2>&1``), in
    order with its output, or an _ErrWriter."""
    inner = _Captured(job, input, loop, scope, frame, condition, errors)
    status = 0
    for chain in plan.chains:
        status = run_chain(chain, inner)
        if job.loop_control is not None:
            break
    job.cancel.check()
    return inner.output, status


def _block_capture(plan: Plan, job: Job, input: Iterator[object] | None = None, loop: bool = False,
                   scope: bool = False, frame: dict | None = None,
                   condition: bool = False, errors: object = None) -> tuple[list[object], int]:
    """``capture`` for a block's built-in: a break or continue inside the plan
    comes out as LoopControl, carrying what the plan printed before it; an
    ``exit`` inside a subshell gives the subshell's status."""
    out, status = capture(plan, job, input, loop, scope, frame, condition, errors)
    if scope and job.exit_request is not None:
        status, job.exit_request = getattr(job.exit_request, "status", 0), None
    control = job.loop_control
    if control is not None:
        job.loop_control = None
        control.output = out
        raise control
    if job.exit_request is not None:        # `exit` (or set -e) inside: no loop around it goes round again
        raise Exiting(out)
    return out, status


class _Captured:
    """The job as a ``$(…)`` inside it sees it: output is kept, not shown;
    the terminal stays with the shell; the rest is the job's own."""

    def __init__(self, job: Job, input: Iterator[object] | None = None, loop: bool = False,
                 scope: bool = False, frame: dict | None = None, condition: bool = False,
                 errors: object = None) -> None:
        self._job = job
        self._errors = errors
        self.condition = condition or job.condition
        self.block_input = input if input is not None else job.block_input
        self.loops = 0 if scope or frame is not None else job.loops + loop   # a loop outside a function is not its
        self.frames = job.frames + [frame] if frame is not None else job.frames
        if scope:
            self.shell = job.shell.copy()
        self.output: list[object] = []
        self.foreground = False
        self.inherit_stdout = False
        self.pipeline_pgid = None

    @property
    def exit_request(self) -> BaseException | None:
        return self._job.exit_request

    @exit_request.setter
    def exit_request(self, request: BaseException | None) -> None:     # exit in a loop leaves the shell
        self._job.exit_request = request

    @property
    def loop_control(self) -> LoopControl | None:
        return self._job.loop_control

    @loop_control.setter
    def loop_control(self, control: LoopControl | None) -> None:
        self._job.loop_control = control

    def put(self, item: object) -> None:
        self.emit(item, 1)

    def emit(self, item: object, stream: int = 1) -> None:
        if stream == 1 or self._errors is OUTPUT:
            self.output.append(item)
        elif self._errors is not None:
            self._errors.write(plain_line(item))
        else:
            self._job.emit(item, stream)

    def err(self, text: str) -> None:
        for line in text.rstrip("\n").split("\n"):
            self.emit(line, 2)

    def __getattr__(self, name: str) -> object:
        return getattr(self._job, name)


def _runner(job: Job, ctx: Context | None = None):
    """How a call of ``job`` computes its ``$(…)`` words: the plan's output as
    text (its status goes to ``ctx.substituted``). As in bash, the plan runs
    in a copy of the shell: ``cd``, variables and ``exit`` inside stay inside."""
    def run(plan: Plan) -> str:
        items, status = _block_capture(plan, job, scope=True, condition=True)
        if ctx is not None:
            ctx.substituted = status
        return "".join(plain_line(i) for i in items)

    def to_file(plan: Plan) -> str:
        """``<(…)``: the plan runs to its end, its output goes into a file that
        lasts until the job ends; the file's name."""
        text = run(plan)
        fd, path = tempfile.mkstemp(prefix="nlsh-", suffix=".out")
        with os.fdopen(fd, "w", encoding="utf-8", errors="surrogateescape") as f:
            f.write(text)
        job.temp_files.append(path)
        return path

    run.file = to_file
    return run


def run_pipeline(pipeline: Pipeline, job: Job) -> int:
    """Run every stage, wait for all of them, and return the last one's status."""
    stages: list[_Stage] = []
    upstream: object = None     # a Channel, a readable pipe, or None
    calls = pipeline.calls
    job.pipeline_pgid = None
    try:
        for i, call in enumerate(calls):
            last = i == len(calls) - 1
            next_external = not last and calls[i + 1].external
            if threading.active_count() > MAX_THREADS:
                if not job.cancel.cancelled:
                    job.err(f"nlsh: more than {MAX_THREADS} commands running at once (a command that starts "
                            "itself without end?): the line is stopped\n")
                    job.cancel.cancel("too many commands at once")
                stage = _Stage(call.name)
                stage.status = 126
                stage.done.set()
                stages.append(stage)
                break
            if call.external and not call.direct and call.name in job.shell.functions:
                stage, upstream = _start_builtin(call, job, upstream, last, next_external,
                                                 function_command(call.name, job.shell.functions[call.name]))
            elif call.external:
                stage, upstream = _start_external(call, job, upstream, last, next_external)
            else:
                stage, upstream = _start_builtin(call, job, upstream, last, next_external)
            stages.append(stage)
    except BaseException:
        job.cancel.cancel("failed to start")
        raise
    finally:
        if isinstance(upstream, Channel):
            upstream.stop_reading()
    for stage in stages:
        stage.done.wait()
        if stage.thread is not None:
            stage.thread.join()
    job.shell.env.set_array("PIPESTATUS", Array(enumerate(str(s.status or 0) for s in stages)))
    if "pipefail" in job.shell.options:     # the last stage that failed gives the status
        return next((s.status for s in reversed(stages) if s.status), 0)
    return stages[-1].status or 0


ONE, TWO = "stdout", "stderr"     # where a stream goes when no file takes it: the job's own
OUTPUT = "output"                  # a block's errors go with its output (``{ …; } 2>&1``)


@dataclass
class _Wiring:
    """Where a call's streams go, its redirections applied left to right as bash
    does: ``2>&1 >FILE`` sends errors to the output and the output to FILE;
    ``>&2 2>/dev/null`` the output to the errors and the errors nowhere. ``out``
    and ``err`` are ONE, TWO or an open file (the same object when shared)."""
    stdin: io.BufferedIOBase | None = None
    out: object = ONE
    err: object = TWO

    def files(self) -> list:
        return [f for f in {id(f): f for f in (self.stdin, self.out, self.err) if f not in (None, ONE, TWO)}.values()]


def _wiring(call: Call, job: Job) -> _Wiring:
    """Opens the call's redirect files; on a bad one, closes those opened and raises CommandError."""
    w = _Wiring()
    opened = []
    try:
        for r in call.redirects:
            if r.op == "2>&1":
                w.err = w.out
            elif r.op == ">&2":
                w.out = w.err
            elif r.op == "<<<":
                w.stdin = _text_file(" ".join(expand_word(r.target, job.shell, False, _runner(job))) + "\n")
                opened.append(w.stdin)
            else:
                f = _open_target(r, job)
                opened.append(f)
                if r.op == "<":
                    w.stdin = f
                elif r.op in (">", ">>"):
                    w.out = f
                else:
                    w.err = f
    except CommandError:
        for f in opened:
            f.close()
        raise
    kept = {id(f) for f in w.files()}
    for f in opened:         # one a later redirect replaced (`>a >b`: a is made, b written)
        if id(f) not in kept:
            f.close()
    return w


def _open_target(r, job: Job) -> io.BufferedIOBase:
    targets = expand_word(r.target, job.shell, True, _runner(job))
    if len(targets) != 1:
        raise CommandError(f"ambiguous redirect '{r.target.source()}'")
    path = os.path.join(job.shell.cwd, os.path.expanduser(targets[0]))
    mode = {"<": "rb", ">": "wb", ">>": "ab", "2>": "wb", "2>>": "ab"}[r.op]
    monitor = getattr(job.shell, "monitor", None)
    why = monitor.redirect(path) if monitor is not None and r.op != "<" else None
    if why:
        raise CommandError(f"refused: {why}", 126)
    if r.op in (">", "2>") and os.path.isfile(path):
        keep_overwritten(job.shell, path, f"{r.op} {targets[0]}")
    try:
        return open(path, mode)
    except OSError as e:
        raise CommandError(f"{targets[0]}: {os_reason(e)}") from None


def _text_file(text: str) -> io.BufferedIOBase:
    """An unnamed file holding ``text``, read from its start (a real file, so
    that a program can read it as its stdin, however long it is)."""
    f = tempfile.TemporaryFile()      # noqa: SIM115 (closed by the stage that reads it)
    f.write(text.encode("utf-8", "surrogateescape"))
    f.seek(0)
    return f


def _pipe_lines(f: io.BufferedIOBase, cancel, close: bool = True) -> Iterator[str]:
    """The lines of ``f``; it is closed at the end unless it is the shell's own
    input, which the next command reads on from (``read a; read b``)."""
    try:
        while True:             # in bounded pieces: what has no newline yet comes as a Partial
            cancel.check()
            raw = f.readline(MAX_LINE)
            if not raw:
                return
            line = raw.decode("utf-8", "surrogateescape")
            yield line[:-1] if line.endswith("\n") else Partial(line)     # no newline added where none was
    finally:
        if close:
            f.close()


def _literal(call: Call, cmd, args) -> Call:
    """``call`` with each word replaced by what it expanded to (``rm -rf "$(echo
    /usr)"`` → ``rm -r -f /usr``), for the monitor to judge what the command got."""
    from nlsh.lang.plan import Word
    order = list(getattr(args, "expr", ())) if cmd.ordered else []

    def lit(value: object) -> object:
        if isinstance(value, (list, tuple)):
            return tuple(Word.lit(str(v)) for v in value)
        return Word.lit(str(value))

    out = []
    for name, raw in call.args:
        param = cmd.signature.param(name)
        value = getattr(args, name, None)
        if cmd.ordered and not param.positional:
            value = next((v for n, v in order if n == name), value)
            order = order[[n for n, _ in order].index(name) + 1:] if any(n == name for n, _ in order) else order
        words = raw if isinstance(raw, tuple) else (raw,)
        if value is None or not words or not all(isinstance(w, Word) for w in words) or \
                param.type == "assignment":
            out.append((name, raw))
            continue
        if isinstance(raw, tuple):
            out.append((name, lit(value if isinstance(value, (list, tuple)) else [value])))
        else:
            out.append((name, lit(value) if not isinstance(value, (list, tuple)) else lit(value)[0]))
    return Call(call.name, tuple(out), call.redirects, call.external, call.direct, call.env)


def _regular_size(f: object) -> int | None:
    """The size of ``f`` when it is a regular file (a ``<`` redirect), else None."""
    try:
        st = os.fstat(f.fileno())
    except (AttributeError, OSError, ValueError):
        return None
    import stat
    return st.st_size if stat.S_ISREG(st.st_mode) else None


def _assigned(values: dict[str, str]) -> str:
    """``NAME=VALUE `` as ``set -x`` shows a command's own variables."""
    return "".join(f"{name}={shlex.quote(value)} " for name, value in values.items())


def _trace(job: Job, line: str) -> None:
    """``set -x``: the command about to run, as bash prints it."""
    job.err(f"+ {line}\n")


def _unbound_ends_script(e: CommandError, job: Job) -> None:
    """``set -u``: an unset variable ends a script, as in bash (in the REPL, the command fails)."""
    if isinstance(e, Unbound) and not job.shell.interactive:
        job.exit_request = ExitShell(e.status)


def _not_started(stage: _Stage, job: Job, upstream: object, message: str, status: int) -> tuple[_Stage, None]:
    """A stage that could not start: say why; what was piped into it is not read
    (the stage before it stops, as on SIGPIPE)."""
    job.err(f"nlsh: {message}\n")
    stage.status = status
    stage.done.set()
    if isinstance(upstream, Channel):
        upstream.stop_reading()
    elif upstream is not None:
        upstream.close()
    return stage, None


# -- built-ins ---------------------------------------------------------------

def _start_builtin(call: Call, job: Job, upstream: object, last: bool,
                   next_external: bool, cmd=None) -> tuple[_Stage, object]:
    cmd = cmd or job.shell.registry.get(call.name)
    stage = _Stage(call.name)
    if cmd is None:
        return _not_started(stage, job, upstream, f"{call.name}: command not found", 127)
    try:
        wiring = _wiring(call, job)
    except CommandError as e:
        return _not_started(stage, job, upstream, f"{call.name}: {e.message}", 1)
    stdin = wiring.stdin
    # A pipe from a program: closed when this stage ends, read or not, so that the
    # program stops (SIGPIPE) instead of waiting to write forever (`yes | true`).
    pipe_in = upstream if upstream is not None and not isinstance(upstream, Channel) else None
    if stdin is not None:
        if isinstance(upstream, Channel):
            upstream.stop_reading()
        elif pipe_in is not None:
            pipe_in.close()
        source: Iterable[object] | None = _pipe_lines(stdin, job.cancel)
    elif isinstance(upstream, Channel):
        source = upstream
    elif pipe_in is not None:
        source = _pipe_lines(pipe_in, job.cancel)
    elif cmd.input != "none" and job.block_input is not None:
        source = job.block_input
    elif cmd.input != "none" and job.stdin is not None:
        source = _pipe_lines(job.stdin, job.cancel, close=False)
    else:
        source = None

    downstream: object = None
    sinks: dict[int, object] = {}      # one per place written to, however many streams go there

    def sink(target: object) -> object:
        nonlocal downstream
        if id(target) not in sinks:
            if target is TWO:
                sinks[id(target)] = _ErrLines(job)
            elif target is not ONE:
                sinks[id(target)] = _FileSink(target)
            elif last:
                sinks[id(target)] = job
            elif next_external:
                r, w = os.pipe()
                sinks[id(target)] = _FileSink(os.fdopen(w, "wb"))
                downstream = os.fdopen(r, "rb")
            else:
                sinks[id(target)] = downstream = Channel(job.cancel)
        return sinks[id(target)]

    out = sink(wiring.out)
    if wiring.err is TWO:
        err_stream = _ErrWriter(job, None)
    elif wiring.err is ONE or id(wiring.err) in sinks:     # where the output goes (`2>&1`)
        err_stream = _ErrWriter(job, None, into=sink(wiring.err))
    else:
        err_stream = _ErrWriter(job, wiring.err)
    # a block's commands send their errors where the block's call does
    errors = None if wiring.err is TWO else OUTPUT if wiring.err is wiring.out else err_stream
    ctx = Context(job.shell, call.name, source, job.cancel, err_stream,
                  lambda plan, input=None, loop=False, scope=False, frame=None, condition=False:
                  _block_capture(plan, job, input, loop, scope, frame, condition, errors))
    ctx.loops = job.loops
    ctx.frames = job.frames
    ctx.terminal = tty_fd() if source is None and job.foreground else None
    ctx.input_size = _regular_size(stdin if stdin is not None else
                                   job.stdin if source is not None and pipe_in is None and upstream is None else None)

    def run() -> None:
        job.thread_started()
        try:
            stage.status = _run_builtin(cmd, call, ctx, out, job)
        finally:
            job.usage.thread_done()
            for s in sinks.values():
                if isinstance(s, (Channel, _FileSink)):
                    s.close()
            if source is job.block_input:        # the block's, for its next round
                pass
            elif isinstance(source, Channel):
                source.stop_reading()
            elif source is not None and hasattr(source, "close"):
                source.close()
            for f in (pipe_in, *wiring.files()):     # a generator never started does not close its file
                if f is not None:
                    f.close()
            stage.done.set()

    if cmd.shell_state:
        run()
    else:
        stage.thread = threading.Thread(target=run, name=f"nlsh-{call.name}", daemon=True)
        job.register_thread(stage.thread)
        stage.thread.start()
    return stage, downstream


def _run_builtin(cmd, call: Call, ctx: Context, out, job: Job) -> int:
    try:
        run = _runner(job, ctx)
        args = expand_args(cmd, call, job.shell, run)
        trace = "xtrace" in job.shell.options and not (call.is_block or call.is_loop)
        late = any(p.type == "assignment" for p in cmd.params)     # its values are expanded as it runs
        with prefixed(call, job.shell, run) as values:
            if trace and not late:
                _trace(job, _assigned(values) + traced(cmd, call, args, job.shell))
            monitor = getattr(job.shell, "monitor", None)
            effects = set(cmd.effects).union(*(p.effects for p in cmd.params if call.get(p.name) is not None))
            if monitor is not None and effects & {"write", "delete", "process"}:
                why = monitor.builtin(_literal(call, cmd, args), job.shell)   # judged with what it got now
                if why:
                    ctx.stderr.write(f"nlsh: {call.name}: refused: {why}\n")
                    return 126
            try:
                result = cmd.run(ctx, args)
                if result is not None:
                    n = 0
                    try:
                        for item in result:
                            out.put(item)
                            n += 1
                    finally:
                        job.usage.records[call.name] = job.usage.records.get(call.name, 0) + n
            finally:
                if trace and late:
                    _trace(job, _assigned(values) + traced(cmd, call, args, job.shell))
            return ctx.status
    except ChannelClosed:
        return ctx.status
    except Cancelled:
        return 130
    except CommandError as e:
        ctx.stderr.write(f"nlsh: {call.name}: {e.message}\n")
        _unbound_ends_script(e, job)
        return e.status
    except ExitShell as e:
        job.exit_request = e
        return e.status
    except Exiting as e:                    # what the block printed before it goes out first
        for item in e.output:
            out.put(item)
        return getattr(job.exit_request, "status", ctx.status)
    except LoopControl as e:                # on its way to the loop it breaks or continues
        for item in e.output:
            out.put(item)
        e.output = []
        job.loop_control = e
        return ctx.status
    except BrokenPipeError:
        return ctx.status
    except OSError as e:
        ctx.stderr.write(f"nlsh: {call.name}: {os_reason(e)}\n")
        return 1
    except RecursionError:
        ctx.stderr.write(f"nlsh: {call.name}: nested too deeply for nlsh\n")
        return 2
    except Exception as e:  # noqa: BLE001  (a bug in a command must not take the shell down)
        ctx.stderr.write(f"nlsh: {call.name}: internal error: {type(e).__name__}: {e}\n")
        return 70


class _FileSink:
    """Writes items as plain lines to a binary file (redirect or OS pipe)."""

    def __init__(self, f: io.BufferedIOBase) -> None:
        self.f = f

    def put(self, item: object) -> None:
        try:
            self.f.write(plain_line(item).encode("utf-8", "surrogateescape"))
        except BrokenPipeError:
            raise ChannelClosed() from None

    def close(self) -> None:
        try:
            self.f.close()
        except BrokenPipeError:
            pass


class _ErrLines:
    """A built-in's output sent to the job's error stream (``>&2``)."""

    def __init__(self, job: Job) -> None:
        self.job = job

    def put(self, item: object) -> None:
        self.job.err(plain_line(item))

    def close(self) -> None:
        pass


class _ErrWriter:
    """A built-in's stderr: a redirect target, its own output (``2>&1``), or
    the job's error stream."""

    def __init__(self, job: Job, f: io.BufferedIOBase | None, into: object = None) -> None:
        self.job = job
        self.f = f
        self.into = into

    def write(self, text: str) -> None:
        if self.into is not None:
            for line in text.rstrip("\n").split("\n"):
                self.into.put(line)
        elif self.f is not None:
            self.f.write(text.encode("utf-8", "surrogateescape"))
        else:
            self.job.err(text)

    def flush(self) -> None:
        if self.f is not None:
            self.f.flush()


# -- programs ----------------------------------------------------------------

def _start_external(call: Call, job: Job, upstream: object, last: bool,
                    next_external: bool) -> tuple[_Stage, object]:
    shell = job.shell
    stage = _Stage(call.name)
    opened: list = []
    try:
        argv = expand_argv(call, shell, _runner(job))
        if not argv:
            raise CommandError("the command name is empty")
        own = shell.copy() if call.env else shell      # NAME=VALUE: in the program's environment only
        with prefixed(call, own, _runner(job)) as values:
            env = dict(own.env)
        if "xtrace" in shell.options:
            _trace(job, _assigned(values) + shlex.join(argv))
        terminal = (upstream is None and job.foreground and job.shell.interactive and job.stdin is None
                    and not any(r.op in ("<", "<<<") for r in call.redirects))
        verdict = shell.monitor(argv, own, env, terminal) if getattr(shell, "monitor", None) else None
        if verdict is not None and verdict.action == "deny":
            return _not_started(stage, job, upstream, f"refused: {verdict.reason}", 126)
        if verdict is not None and verdict.action == "builtin":
            routed = Call(verdict.call.name, verdict.call.args, call.redirects, direct=True)
            return _start_builtin(routed, job, upstream, last, next_external)
        if verdict is not None and verdict.action == "contain":
            box = verdict.box
            argv = box.argv
            stage.finish = box.finish
        wiring = _wiring(call, job)
        opened = wiring.files()
        stdin_f = wiring.stdin
    except CommandError as e:
        _unbound_ends_script(e, job)
        return _not_started(stage, job, upstream, f"{call.name or 'command'}: {e.message}", 1)

    feeder: Channel | None = None
    if stdin_f is not None:
        stdin = stdin_f
        if isinstance(upstream, Channel):
            upstream.stop_reading()
    elif isinstance(upstream, Channel):
        stdin, feeder = subprocess.PIPE, upstream
    elif upstream is not None:
        stdin = upstream
    elif job.foreground and job.stdin is not None:
        stdin = job.stdin
    elif job.foreground and job.shell.interactive:
        stdin = None
    else:
        stdin = subprocess.DEVNULL

    def target(where: object, fd: int) -> tuple[object, int | None]:
        """The Popen argument for stream ``fd`` sent ``where``, and which of the job's
        streams a pipe from it goes to (a pipe from the output may feed the next stage)."""
        if where is ONE:
            if last and job.inherit_stdout:
                return (None if fd == 1 else 1), None
            return subprocess.PIPE, 1
        if where is TWO:      # the foreground's errors are the shell's own fd 2; a background job collects them
            if job.foreground:
                return (None if fd == 2 else 2), None
            return subprocess.PIPE, 2
        return where, None

    stdout, out_to = target(wiring.out, 1)
    stderr, err_to = (subprocess.STDOUT, None) if wiring.err is wiring.out else target(wiring.err, 2)

    group = job.pipeline_pgid
    try:
        try:
            proc = subprocess.Popen(argv, cwd=shell.cwd, env=env, stdin=stdin, stdout=stdout,
                                    stderr=stderr, **_pgroup({"process_group": group or 0}))
        except (PermissionError, subprocess.SubprocessError):
            if group is None:
                raise
            # The group's leader has exited and been reaped, and the group with it
            # (`true | awk … | awk …`): this program leads a new group of the job.
            group = None
            proc = subprocess.Popen(argv, cwd=shell.cwd, env=env, stdin=stdin, stdout=stdout,
                                    stderr=stderr, **_pgroup({"process_group": 0}))
    except FileNotFoundError:
        job.err(f"nlsh: {argv[0]}: command not found\n")
        stage.status = 127
    except PermissionError:
        job.err(f"nlsh: {argv[0]}: Permission denied\n")
        stage.status = 126
    except OSError as e:
        job.err(f"nlsh: {argv[0]}: {os_reason(e)}\n")
        stage.status = 126
    finally:
        for f in opened:
            f.close()
        if upstream is not None and not isinstance(upstream, Channel) and hasattr(upstream, "close"):
            upstream.close()
    if stage.status is not None:
        stage.done.set()
        if feeder is not None:
            feeder.stop_reading()
        return stage, None

    stage.proc = proc
    if group is None:
        job.pipeline_pgid = proc.pid
        job.add_pgid(proc.pid)
        if job.foreground and shell.tty is not None:
            give_terminal(shell.tty, proc.pid)
            job.owns_terminal = True
            _continue(proc.pid)
    job.add_process(proc)
    if job.cancel.cancelled:        # cancelled while it was starting (kill %1 right after &): it ends too
        try:
            os.killpg(group or proc.pid, signal.SIGKILL if job.killed_reason else signal.SIGTERM)
        except OSError:
            pass

    if feeder is not None:
        _thread(job, f"nlsh-feed-{call.name}", _feed, feeder, proc.stdin)
    downstream: object = None
    collectors = []
    for pipe, to in ((proc.stdout, out_to), (proc.stderr, err_to)):
        if to == 1 and not last:
            downstream = pipe
        elif to is not None:
            collectors.append(_thread(job, f"nlsh-{'out' if to == 1 else 'err'}-{call.name}", _collect, pipe, job, to))

    def watch() -> None:
        try:
            stage.status = _wait(proc, job)
            for t in collectors:        # the stage is done when its output is in, not just when it exits
                t.join()
            if stage.finish is not None:
                _finish_contained(stage, job)
        finally:
            stage.done.set()        # whatever happened, the line goes on (a stage never done hangs it)

    stage.thread = _thread(job, f"nlsh-wait-{call.name}", watch)
    return stage, downstream


def _finish_contained(stage: _Stage, job: Job) -> None:
    """Apply what a contained program changed in the working directory, silently,
    as the program alone would (``undo`` brings back what it removed or replaced)."""
    try:
        stage.finish()
    except Exception as e:  # noqa: BLE001  (the program has run: say what was not applied, never hang)
        why = os_reason(e) if isinstance(e, OSError) else f"internal error: {type(e).__name__}: {e}"
        job.err(f"nlsh: {stage.name}: its changes could not all be applied: {why}\n")
        stage.status = stage.status or 1


def _pgroup(kwargs: dict) -> dict:
    if sys.version_info >= (3, 11):
        return kwargs
    pgid = kwargs["process_group"]
    return {"preexec_fn": lambda: os.setpgid(0, pgid)}


def _continue(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGCONT)
    except OSError:
        pass


def _thread(job: Job, name: str, target, *args) -> threading.Thread:
    def run() -> None:
        job.thread_started()
        try:
            target(*args)
        finally:
            job.usage.thread_done()

    t = threading.Thread(target=run, name=name, daemon=True)
    job.register_thread(t)
    t.start()
    return t


def _feed(source: Channel, sink: io.BufferedIOBase) -> None:
    try:
        sink.writelines(plain_line(item).encode("utf-8", "surrogateescape") for item in source)
    except (BrokenPipeError, Cancelled, OSError):
        pass
    finally:
        source.stop_reading()
        try:
            sink.close()
        except OSError:
            pass


def _collect(f: io.BufferedIOBase, job: Job, stream: int) -> None:
    try:
        while True:
            raw = f.readline(MAX_LINE)
            if not raw:
                return
            line = raw.decode("utf-8", "surrogateescape")
            if line.endswith("\n"):
                job.emit(line[:-1], stream)
            else:
                job.emit(Partial(line), stream)
    except (OSError, ValueError):
        pass
    finally:
        f.close()


def _wait(proc: subprocess.Popen, job: Job) -> int:
    """Wait for ``proc``, reporting stops (Ctrl-Z) to the job; its exit status."""
    while True:
        try:
            _, status, rusage = os.wait4(proc.pid, os.WUNTRACED | os.WCONTINUED)
        except ChildProcessError:
            return proc.returncode if proc.returncode is not None else 0
        except InterruptedError:
            continue
        if os.WIFSTOPPED(status):
            job.process_stopped()
            continue
        if os.WIFCONTINUED(status):
            job.process_continued()
            continue
        job.usage.process_done(rusage)
        code = os.waitstatus_to_exitcode(status)
        proc.returncode = code
        return 128 - code if code < 0 else code
