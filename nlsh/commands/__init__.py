"""The built-in commands, grouped by what they work on. They are registered
through the plugin hook ``register_commands``, like any plugin's commands."""

from __future__ import annotations

from nlsh.hookspecs import hookimpl
from nlsh.registry import Command


def builtin_commands() -> list[Command]:
    from nlsh.commands import (
        agent,
        conditional,
        control,
        files,
        filters,
        find,
        jobs,
        plugins,
        safety,
        shell,
        system,
        text,
        variables,
    )
    return [*files.COMMANDS, *find.COMMANDS, *text.COMMANDS, *filters.COMMANDS, *system.COMMANDS, *jobs.COMMANDS,
            *safety.COMMANDS, *plugins.COMMANDS, *shell.COMMANDS, *control.COMMANDS, *conditional.COMMANDS,
            *variables.COMMANDS, *agent.COMMANDS]


@hookimpl
def register_commands(register) -> None:
    for cmd in builtin_commands():
        register(cmd)
