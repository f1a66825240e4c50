"""The plugin API: the hooks a plugin may implement (pluggy, project "nlsh").

A plugin is a module (or package) with functions marked ``@hookimpl``::

    from nlsh.hookspecs import hookimpl
    from nlsh.registry import Example, command
    from nlsh.lang.signature import Param

    @command("hello", "Greet someone.", params=[Param("name", "str", required=True)], output="text",
             examples=[Example("say hello to Ann", "hello Ann", "hello, Ann")])
    def hello(ctx, args):
        yield f"hello, {args.name}"

    @hookimpl
    def register_commands(register):
        register(hello)
"""

from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("nlsh")
hookimpl = pluggy.HookimplMarker("nlsh")


@hookspec
def register_commands(register) -> None:
    """Call ``register(command)`` for each Command this plugin adds (the same
    declarations the built-ins use: typed params, effects, examples)."""


@hookspec
def before_run(plan, shell) -> str | None:
    """Called before a plan runs; return a reason (a string) to veto it."""


@hookspec
def after_job(job) -> None:
    """Called when a job has ended (state, status and accounting are final)."""
