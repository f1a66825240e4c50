"""Entry point of the ``nlsh`` command.

The commonest invocations (``nlsh``, ``nlsh -c LINE``, a script on stdin) run
without importing typer: typer's import alone (it pulls in pydantic) costs
more than the 150 ms start-up budget. Everything else — ``--help``,
``--version``, subcommands — goes to the typer app in ``nlsh.cli``. Both
paths end in ``run``.
"""

from __future__ import annotations

import os
import sys


def run(command: str | None, json: bool = False, yes: bool = False, *, model: str | None = None,
        backend: str = "auto", base_url: str | None = None) -> int:
    """Run LINE (``-c``), a script on stdin, or the interactive shell."""
    from nlsh.render import Renderer
    from nlsh.session import Shell, run_script_lines
    stdin_is_tty = sys.stdin is None or sys.stdin.isatty()
    planner_options = {"model": model, "backend": backend, "base_url": base_url}
    if command is None and stdin_is_tty:
        from nlsh.repl import run_repl
        return run_repl(json=json, yes=yes, **planner_options)
    if command is not None:
        shell = Shell(json=json, stdin=None if stdin_is_tty else sys.stdin.buffer, assume_yes=yes, output=Renderer)
        lines = command.split("\n")
        shell.command_string = True
    else:
        shell = Shell(json=json, assume_yes=yes, output=Renderer)
        lines = sys.stdin
    shell.configure_planner(**planner_options)
    # plain language is for the prompt and one -c line; a script piped in or given as
    # -c lines is bash's: a line that is no command is an error there, never a request
    shell.planning_enabled = command is not None and "\n" not in command.strip()
    return shell.finish(run_script_lines(shell, lines))


RUN_OPTIONS = "--param NAME=VALUE (or --NAME VALUE), --locked, --replan, --dry-run, -y/--yes"


def script_options(rest: list[str], path: str | None = None) -> tuple[str, list[str], dict[str, str], dict[str, bool]]:
    """The one reading of ``nlsh run [options] FILE [ARG…] [options]`` (and a
    shebang's, whose FILE is ``path``): the script, its arguments ($1 …; all
    words after ``--``), the parameters given and the flags; ValueError says
    what is wrong."""
    overrides: dict[str, str] = {}
    args: list[str] = []
    flags = {"locked": False, "replan": False, "dry_run": False, "yes": False}
    i = 0
    while i < len(rest):
        arg = rest[i]
        if arg == "--":
            args.extend(rest[i + 1:])
            break
        if arg in ("--locked", "--replan", "--dry-run"):
            flags[arg[2:].replace("-", "_")] = True
        elif arg in ("-y", "--yes"):
            flags["yes"] = True
        elif arg in ("--param", "-p") or arg.startswith(("--param=", "-p=")):
            given = arg.partition("=")[2] if "=" in arg else (rest[i + 1] if i + 1 < len(rest) else "")
            i += "=" not in arg
            k, eq, v = given.partition("=")
            if not eq or not k:
                raise ValueError(f"--param needs NAME=VALUE (got {given!r})")
            overrides[k] = v
        elif arg.startswith("--") and len(arg) > 2:
            name, eq, value = arg[2:].partition("=")
            if not eq:
                if i + 1 >= len(rest):
                    raise ValueError(f"{arg} needs a value (a parameter: {arg} VALUE)")
                value = rest[i + 1]
                i += 1
            overrides[name.replace("-", "_")] = value
        elif not arg.startswith("-") or arg == "-":
            if path is None:
                path = arg
            else:
                args.append(arg)
        else:
            raise ValueError(f"run: {arg!r} is not an option (options: {RUN_OPTIONS})")
        i += 1
    if path is None:
        raise ValueError(f"run: which script? (nlsh run FILE [{RUN_OPTIONS}])")
    return path, args, overrides, flags


def run_script_file(path: str | None, rest: list[str]) -> int:
    """``nlsh run [options] FILE [options]`` (``path`` None) and ``nlsh FILE`` (a shebang)."""
    try:
        path, args, overrides, flags = script_options(rest, path)
    except ValueError as e:
        sys.stderr.write(f"nlsh: {e}\n")
        return 2
    from nlsh.render import Renderer
    from nlsh.scripts import ScriptError, run_script
    from nlsh.session import Shell
    shell = Shell(assume_yes=flags["yes"], output=Renderer)
    shell.configure_planner(request_class="script")
    shell.positional = args
    try:
        status = run_script(path, shell, overrides, locked=flags["locked"], replan=flags["replan"],
                            dry_run=flags["dry_run"])
    except ScriptError as e:
        shell.renderer.error(e.message)
        status = e.status
    return shell.finish(status)


AGENT_USAGE = "nlsh agent [-y/--yes] [--steps N] [--time DURATION] [--tokens N] [-v] [--model M] TASK"


def run_agent_cli(rest: list[str]) -> int:
    """``nlsh agent [options] TASK``: the ``agent`` command in a shell of its own."""
    import shlex
    options, words, model, yes = [], [], None, False
    i = 0
    while i < len(rest):
        arg = rest[i]
        if arg == "--":
            words += rest[i + 1:]
            break
        if arg in ("-y", "--yes"):
            yes = True
        elif arg in ("-v", "--verbose"):
            options.append("-v")
        elif arg in ("--steps", "--time", "--tokens", "--model"):
            if i + 1 >= len(rest):
                sys.stderr.write(f"nlsh agent: {arg} needs a value ({AGENT_USAGE})\n")
                return 2
            if arg == "--model":
                model = rest[i + 1]
            else:
                options += [arg, shlex.quote(rest[i + 1])]
            i += 1
        elif arg.startswith("-") and arg != "-":
            sys.stderr.write(f"nlsh agent: {arg!r} is not an option ({AGENT_USAGE})\n")
            return 2
        else:
            words.append(arg)
        i += 1
    task = " ".join(words).strip()
    if not task:
        sys.stderr.write(f"nlsh agent: what should it do? ({AGENT_USAGE})\n")
        return 2
    from nlsh.kernel.context import ExitShell
    from nlsh.render import Renderer
    from nlsh.session import Shell
    shell = Shell(assume_yes=yes, output=Renderer)
    shell.configure_planner(model=model, request_class="agent")
    try:
        status = shell.run_line(" ".join(["agent", *options, "--", shlex.quote(task)]))
    except ExitShell as e:
        status = e.status
    return shell.finish(status)


def _fast_options(argv: list[str]) -> dict | None:
    """Options of the invocations run without typer, or None."""
    opts: dict = {"command": None, "json": False, "yes": False}
    i = 0
    while i < len(argv):
        if argv[i] == "--json":
            opts["json"] = True
        elif argv[i] in ("-y", "--yes"):
            opts["yes"] = True
        elif argv[i] in ("-c", "--command") and i + 1 < len(argv) and opts["command"] is None:
            opts["command"] = argv[i + 1]
            i += 1
        else:
            return None
        i += 1
    return opts


# Imported only where first used, some on a thread (the job sampler's psutil),
# where a missing one would be a traceback after the line had run.
LAZY_DEPENDENCIES = ("psutil",)


def _check_lazy_dependencies() -> None:
    import importlib.util
    for name in LAZY_DEPENDENCIES:
        if importlib.util.find_spec(name) is None:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point; returns the exit status."""
    args = sys.argv[1:] if argv is None else argv
    try:
        _check_lazy_dependencies()
        fast = _fast_options(args)
        if fast is not None:
            return run(**fast)
        if args == ["serve", "--on-demand"]:         # a shell starting the daemon: no typer, fast
            from nlsh.service.server import serve
            return serve(on_demand=True)
        if args[:1] == ["agent"] and not {"-h", "--help"} & set(args[1:]):
            return run_agent_cli(args[1:])
        if args[:1] == ["run"] and len(args) > 1 and not {"-h", "--help"} & set(args[1:]):
            return run_script_file(None, args[1:])
        if args and not args[0].startswith("-") and os.path.isfile(args[0]):
            return run_script_file(args[0], args[1:])
        from nlsh.cli import app
        app(args=args, prog_name="nlsh")
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        _quiet_stdout()
        return 141
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except ModuleNotFoundError as e:
        missing = (e.name or "nlsh").split(".")[0]
        if missing == "nlsh":
            raise
        # nlsh found on a path (PYTHONPATH, a checkout) by a Python it was not installed into
        print(f"nlsh: this Python ({sys.executable}) lacks {missing}, which nlsh needs: run nlsh "
              "from the environment it was installed in, or install it into this one (pip install nlsh)",
              file=sys.stderr)
        return 1
    return 0


def _quiet_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
