"""Run a chain (``a && b || c``) and its pipelines: built-ins on worker
threads, programs as processes.

Built-in stages are connected by bounded Channels; programs next to each
other share OS pipes. Every program of a job joins the job's process group
so a signal reaches the whole tree. Where a call's streams go is
``redirect``'s; the pumps, threads and waits are ``pumps``'; running a block
or ``$(…)`` and keeping its output is ``capture``'s.
"""

from __future__ import annotations

import fcntl
import os
import shlex
import signal
import subprocess
import threading
from collections.abc import Iterable
from dataclasses import replace
from typing import TYPE_CHECKING

from nlsh.kernel.assign import prefixed
from nlsh.kernel.capture import block_capture, runner
from nlsh.kernel.channel import Channel, ChannelClosed
from nlsh.kernel.context import (
    Cancelled,
    CommandError,
    Context,
    Exiting,
    ExitShell,
    LoopControl,
    os_reason,
)
from nlsh.kernel.expand import Unbound, expand_args, expand_argv, traced
from nlsh.kernel.functions import function_command
from nlsh.kernel.handover import handed_over
from nlsh.kernel.pumps import (
    collect,
    continue_group,
    feed,
    feed_on_demand,
    job_thread,
    pgroup,
    pipe_lines,
    regular_size,
    wait_for,
)
from nlsh.kernel.redirect import CLOSED, ONE, OUTPUT, TWO, ErrLines, ErrWriter, FileSink, redirections
from nlsh.kernel.terminal import give_terminal, tty_fd
from nlsh.kernel.variables import Array
from nlsh.lang.plan import Call, Chain, Pipeline, Word

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
    spared = False          # the status is a failure set -e spares: `a` of `a && b` failed (bash)
    for i, pipeline in enumerate(chain.pipelines):
        if i and (chain.ops[i - 1] == "&&") != (status == 0):
            spared = status != 0
            continue
        if job.cancel.cancelled or job.exit_request is not None or job.loop_control is not None:
            break
        last = i == len(chain.pipelines) - 1
        outer, job.condition = job.condition, job.condition or not last   # set -e spares `a` in `a && b`
        if pipeline.negated:                # set -e spares `! …`, as in bash
            job.condition = True
        job.spared = False
        try:
            status = run_pipeline(pipeline, job)
        finally:
            job.condition = outer
        spared = job.spared and len(pipeline.calls) == 1 and pipeline.calls[0].is_block   # { a && b; } too
        if pipeline.negated:
            status = int(status == 0)
        job.shell.last_status = status
        if status and last and "errexit" in job.shell.options and not job.condition and not pipeline.negated \
                and not spared:
            job.exit_request = ExitShell(status)    # set -e: the shell ends with this status
    job.spared = spared
    return status


def run_pipeline(pipeline: Pipeline, job: Job) -> int:
    """Run every stage, wait for all of them, and return the last one's status."""
    stages: list[_Stage] = []
    upstream: object = None     # a Channel, a readable pipe, or None
    face = job.shell.renderer
    calls = handed_over(pipeline.calls, job.shell, job.inherit_stdout and not (face.tty or face.json))
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


def _assigned(values: dict[str, str]) -> str:
    """``NAME=VALUE `` as ``set -x`` shows a command's own variables."""
    return "".join(f"{name}={shlex.quote(value)} " for name, value in values.items())


def _trace(job: Job, line: str) -> None:
    """``set -x``: the command about to run, as bash prints it."""
    job.err(f"+ {line}\n")


def _unbound_ends_script(e: CommandError, job: Job) -> None:
    """``set -u``: an unset variable ends a script, as in bash (in the REPL, the
    command fails); with bash's status: 127 for ``-c`` text, 1 for a script (on
    stdin or from a file) and for a subshell it ends."""
    if isinstance(e, Unbound) and not job.shell.interactive:
        job.exit_request = ExitShell(e.status if job.shell.command_string and not job.shell.is_copy else 1)


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


def _start_builtin(call: Call, job: Job, upstream: object, last: bool,
                   next_external: bool, cmd=None) -> tuple[_Stage, object]:
    cmd = cmd or job.shell.registry.get(call.name)
    stage = _Stage(call.name)
    if cmd is None:
        return _not_started(stage, job, upstream, f"{call.name}: command not found", 127)
    try:
        wiring = redirections(call, job, runner(job))
    except CommandError as e:      # (`> f` alone is `:`, not named in the message)
        return _not_started(stage, job, upstream, e.message if call.name == ":" else f"{call.name}: {e.message}", 1)
    stdin = wiring.stdin
    # A pipe from a program: closed when this stage ends, read or not, so that the
    # program stops (SIGPIPE) instead of waiting to write forever (`yes | true`).
    pipe_in = upstream if upstream is not None and not isinstance(upstream, Channel) else None
    if stdin is not None:
        if isinstance(upstream, Channel):
            upstream.stop_reading()
        elif pipe_in is not None:
            pipe_in.close()
        source: Iterable[object] | None = pipe_lines(stdin, job.cancel)
    elif isinstance(upstream, Channel):
        source = upstream
    elif pipe_in is not None:
        source = pipe_lines(pipe_in, job.cancel)
    elif cmd.input != "none" and job.block_input is not None:
        source = job.block_input
    elif cmd.input != "none" and job.stdin is not None:
        source = pipe_lines(job.stdin, job.cancel, close=False)
    else:
        source = None

    downstream: object = None
    sinks: dict[int, object] = {}      # one per place written to, however many streams go there

    def sink(target: object) -> object:
        nonlocal downstream
        if id(target) not in sinks:
            if target is TWO:
                sinks[id(target)] = ErrLines(job)
            elif target is not ONE:
                sinks[id(target)] = FileSink(target)
            elif last:
                sinks[id(target)] = job
            elif next_external:
                r, w = os.pipe()
                sinks[id(target)] = FileSink(os.fdopen(w, "wb"))
                downstream = os.fdopen(r, "rb")
            else:
                sinks[id(target)] = downstream = Channel(job.cancel)
        return sinks[id(target)]

    out = sink(wiring.out)
    if wiring.err is TWO:
        err_stream = ErrWriter(job, None)
    elif wiring.err is ONE or id(wiring.err) in sinks:     # where the output goes (`2>&1`)
        err_stream = ErrWriter(job, None, into=sink(wiring.err))
    else:
        err_stream = ErrWriter(job, wiring.err)
    # a block's commands send their errors where the block's call does
    errors = None if wiring.err is TWO else OUTPUT if wiring.err is wiring.out else err_stream
    ctx = Context(job.shell, call.name, source, job.cancel, err_stream,
                  lambda plan, input=None, loop=False, scope=False, frame=None, condition=False, merged=False:
                  block_capture(plan, job, input, loop, scope, frame, condition, OUTPUT if merged else errors))
    ctx.job = job
    ctx.loops = job.loops
    ctx.frames = job.frames
    ctx.descriptors = wiring.fds
    ctx.terminal = tty_fd() if source is None and job.foreground else None
    ctx.input_size = regular_size(stdin if stdin is not None else
                                   job.stdin if source is not None and pipe_in is None and upstream is None else None)

    def run() -> None:
        job.thread_started()
        try:
            stage.status = _run_builtin(cmd, call, ctx, out, job)
        finally:
            job.usage.thread_done()
            for s in sinks.values():
                if isinstance(s, (Channel, FileSink)):
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
        run = runner(job, ctx)
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


def _descriptors_above_2(fds: dict, kept: dict) -> list[tuple[int, int]]:
    """(descriptor in this process, number in the program) for each descriptor above 2
    the call's redirections open (``8<<EOF``, ``3>f``) or ``exec`` left open; the
    job's own output and errors are the program's 1 and 2."""
    out = []
    for n, f in {**kept, **fds}.items():
        if n <= 2 or f is CLOSED or f is None:
            continue
        source = 1 if f is ONE else 2 if f is TWO else f.fileno() if hasattr(f, "fileno") else None
        if source is not None:
            out.append((source, n))
    return out


def _with_descriptors(pairs: list[tuple[int, int]], then):
    """A function for the child, before the program runs, that puts each descriptor at its
    number (through a high copy, so that one's number is never another's source), then ``then``."""
    if not pairs:
        return then

    def place() -> None:
        copies = [(fcntl.fcntl(source, fcntl.F_DUPFD, 1000), n) for source, n in pairs]
        for copy, n in copies:
            os.dup2(copy, n)
            os.close(copy)
        if then is not None:
            then()
    return place


def _named_by_value(argv: list[str], call: Call, shell) -> tuple[Call, object] | None:
    """The call (and command) a computed command word names when it is a function or
    one of the shell's own commands (``b=break; $b``, ``e=export; $e x=1``), as bash
    finds them; None for a program (a built-in standing in for one is routed later)."""
    from nlsh.lang import ParseError, parse
    name = argv[0]
    if name in shell.functions:
        words = tuple(Word.lit(a) for a in argv)
        return Call(name, (("argv", words),), call.redirects, external=True, env=call.env), \
            function_command(name, shell.functions[name])
    sig = shell.registry.signature(name)
    if sig is None or sig.program:
        return None
    try:
        plan = parse(shlex.join(argv), shell.registry)
    except ParseError:
        return None                 # [[, for …: syntax, never found by a value (bash: not found)
    if len(plan.calls) != 1 or plan.calls[0].external:
        return None
    return replace(plan.calls[0], redirects=call.redirects, env=call.env), None


def _start_external(call: Call, job: Job, upstream: object, last: bool,
                    next_external: bool) -> tuple[_Stage, object]:
    shell = job.shell
    stage = _Stage(call.name)
    opened: list = []
    try:
        argv = expand_argv(call, shell, runner(job))
        if not argv:
            raise CommandError("the command name is empty")
        if not call.name:           # `$cmd …`: a function or a shell's own command is found by its value
            named = _named_by_value(argv, call, shell)
            if named is not None:
                return _start_builtin(named[0], job, upstream, last, next_external, named[1])
        own = shell.copy() if call.env else shell      # NAME=VALUE: in the program's environment only
        with prefixed(call, own, runner(job)) as values:
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
        wiring = redirections(call, job, runner(job))
        opened = wiring.files()
        stdin_f = wiring.stdin
    except CommandError as e:
        _unbound_ends_script(e, job)
        return _not_started(stage, job, upstream, f"{call.name or 'command'}: {e.message}", 1)

    feeder: Channel | None = None
    shared = None           # the input of a block around it, fed as the program reads it
    if stdin_f is not None:
        stdin = stdin_f
        if isinstance(upstream, Channel):
            upstream.stop_reading()
    elif isinstance(upstream, Channel):
        stdin, feeder = subprocess.PIPE, upstream
    elif upstream is not None:
        stdin = upstream
    elif job.block_input is not None:
        stdin, shared = subprocess.PIPE, job.block_input
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
    join = job.cgroup.joiner() if job.cgroup is not None else None
    placed = _descriptors_above_2(wiring.fds, shell.fds)
    join = _with_descriptors(placed, join)
    keep = {"close_fds": False} if placed else {}       # the placed ones (nlsh's own are close-on-exec)
    try:
        try:
            proc = subprocess.Popen(argv, cwd=shell.cwd, env=env, stdin=stdin, stdout=stdout,
                                    stderr=stderr, **keep, **pgroup({"process_group": group or 0}, join))
        except (PermissionError, subprocess.SubprocessError):
            if group is None:
                raise
            # The group's leader has exited and been reaped, and the group with it
            # (`true | awk … | awk …`): this program leads a new group of the job.
            group = None
            proc = subprocess.Popen(argv, cwd=shell.cwd, env=env, stdin=stdin, stdout=stdout,
                                    stderr=stderr, **keep, **pgroup({"process_group": 0}, join))
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
            continue_group(proc.pid)
    job.add_process(proc)
    if job.cancel.cancelled:        # cancelled while it was starting (kill %1 right after &): it ends too
        try:
            os.killpg(group or proc.pid, signal.SIGKILL if job.killed_reason else signal.SIGTERM)
        except OSError:
            pass

    if feeder is not None:
        job_thread(job, f"nlsh-feed-{call.name}", feed, feeder, proc.stdin)
    feeding = None if shared is None else job_thread(job, f"nlsh-feed-{call.name}", feed_on_demand, shared,
                                                     proc.stdin, proc)
    downstream: object = None
    collectors = []
    for pipe, to in ((proc.stdout, out_to), (proc.stderr, err_to)):
        if to == 1 and not last:
            downstream = pipe
        elif to is not None:
            collectors.append(job_thread(job, f"nlsh-{'out' if to == 1 else 'err'}-{call.name}", collect, pipe, job, to))

    def watch() -> None:
        try:
            stage.status = wait_for(proc, job)
            for t in collectors:        # the stage is done when its output is in, not just when it exits
                t.join()
            if feeding is not None:     # what it left unread is back in the block's input
                feeding.join()
            if stage.finish is not None:
                _finish_contained(stage, job)
        finally:
            stage.done.set()        # whatever happened, the line goes on (a stage never done hangs it)

    stage.thread = job_thread(job, f"nlsh-wait-{call.name}", watch)
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
