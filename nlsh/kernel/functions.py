"""Shell functions: ``name() { COMMANDS; }`` runs COMMANDS when ``name`` is
called, with its words as ``$1`` … ``$#`` and ``"$@"``, as in bash."""

from __future__ import annotations

from collections.abc import Iterator

from nlsh.kernel.context import Args, CommandError, Context, Return
from nlsh.lang.plan import Plan
from nlsh.lang.signature import Param
from nlsh.registry import Command

MAX_DEPTH = 100         # functions running inside one another (bash's FUNCNEST, which is unset by default)


def function_command(name: str, body: Plan) -> Command:
    """A call of the function ``name`` as a built-in: it reads what is piped
    into it, and its output goes on like a block's."""

    def run(ctx: Context, a: Args) -> Iterator[object]:
        if len(ctx.frames) >= MAX_DEPTH:
            raise CommandError(f"functions nested more than {MAX_DEPTH} deep (one calls itself without end?)")
        shell = ctx.shell
        outer = shell.positional
        shell.positional = list(a.argv[1:])
        hidden: dict[str, tuple] = {}               # what ``local`` hid (Variables.saved), put back at the end
        try:
            out, ctx.status = ctx.capture(body, iter(ctx.input) if ctx.input is not None else None, frame=hidden)
            yield from out
        except Return as r:
            yield from r.output
            ctx.status = r.status
        finally:
            shell.positional = outer
            for var, value in hidden.items():
                shell.env.restore(var, value)

    return Command(name, "a shell function", run, (Param("argv", "word", variadic=True),), input="any",
                   output="text", category="shell", planned=False)
