"""The ``nlsh`` command line as a typer app: options, help and subcommands."""

from __future__ import annotations

import typer

from nlsh import __version__

app = typer.Typer(add_completion=False, rich_markup_mode=None,
                  context_settings={"help_option_names": ["-h", "--help"]},
                  help="nlsh: a shell that takes commands or plain language.\n\n"
                       "With no arguments, starts the interactive shell; with lines on "
                       "stdin, runs them as a script.")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"nlsh {__version__}")
        raise typer.Exit()


@app.callback(invoke_without_command=True)
def main_options(
    ctx: typer.Context,
    command: str | None = typer.Option(None, "-c", "--command", metavar="LINE",
                                          help="Run LINE and exit with its status."),
    json: bool = typer.Option(False, "--json", help="Print records as JSON lines."),
    yes: bool = typer.Option(False, "-y", "--yes",
                             help="Run planned steps that would ask for confirmation (never deny-listed ones)."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    if ctx.invoked_subcommand is not None:
        return
    from nlsh.main import run
    raise typer.Exit(run(command, json, yes))
