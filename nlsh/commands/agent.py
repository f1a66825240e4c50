"""agent TASK: a task of several steps, each one seen before the next is chosen."""

from __future__ import annotations

from collections.abc import Iterator

from nlsh.kernel.context import Args, CommandError, Context
from nlsh.lang.signature import Param
from nlsh.registry import Example, command


@command("agent", "Carry out TASK in steps: the model chooses a command, the policy judges it, it runs, the model "
         "sees what it printed and chooses the next, until it answers (each step is audited; asks wait for you).",
         params=[Param("steps", "int", ("--steps",), "at most N steps (default 8)", metavar="N"),
                 Param("seconds", "duration", ("--time",), "at most this long in all (default 3m; 90s, 0.5)",
                       metavar="DURATION"),
                 Param("tokens", "int", ("--tokens",), "at most N model tokens in all (default 30000)",
                       metavar="N"),
                 Param("yes", "flag", ("-y", "--yes"), "run steps that would ask without asking (not those only a "
                       "person at the prompt may confirm)"),
                 Param("each", "flag", ("--each",), "a child agent for each line of the input ({} in TASK is "
                       "the line); their answers come back as ITEM: ANSWER lines"),
                 Param("verbose", "flag", ("-v", "--verbose"), "end with a line of what it used (steps, tokens, time)"),
                 Param("words", "word", variadic=True, metavar="TASK")],
         input="any", output="text", category="shell", shell_state=True, planned=False, free_dashes=True,
         examples=[Example("find the log with the most errors and show its last lines",
                           "agent 'which log has the most errors? show its last 3 lines'"),
                   Example("ask the same of every log", "ls logs | agent --each 'how many errors are in logs/{}?'")])
def agent(ctx: Context, a: Args) -> Iterator[object]:
    words = list(a.words)[1:] if a.words[:1] == ["--"] else list(a.words)
    if not words:
        raise CommandError("what should it do? (agent TASK, or ?? TASK at the prompt)", 2)
    limits = {k: v for k, v in (("steps", a.steps), ("seconds", None if a.seconds is None else float(a.seconds)),
                                ("tokens", a.tokens)) if v is not None}
    yield from ctx.shell.run_agent(" ".join(words), ctx, limits, verbose=a.verbose, each=a.each, yes=a.yes)


COMMANDS = [agent]
