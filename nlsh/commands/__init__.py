"""The built-in commands, grouped by what they work on."""

from __future__ import annotations

from nlsh.registry import Command


def builtin_commands() -> list[Command]:
    from nlsh.commands import files, filters, jobs, shell, system, text
    return [*files.COMMANDS, *text.COMMANDS, *filters.COMMANDS, *system.COMMANDS, *jobs.COMMANDS,
            *shell.COMMANDS]
