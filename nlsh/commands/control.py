"""Control flow, as bash has it: for, for ((…)), while, until, if, case,
( … ), { … }, functions, break, continue, return, and arithmetic (( … )) and let."""
from __future__ import annotations

import fnmatch
from collections.abc import Generator, Iterable, Iterator

from nlsh.kernel.context import Args, CommandError, Context, ExitShell, LoopControl, Return
from nlsh.lang.plan import CaseEnd, Plan
from nlsh.lang.signature import Param
from nlsh.registry import Example, command


@command("for", "Run COMMANDS once for each word, with $NAME set to it (as in bash).",
         params=[Param("name", "str", help="the variable", required=True, metavar="NAME in"),
                 Param("items", "word", help="the words", variadic=True, metavar="WORD"),
                 Param("body", "plan", help="the commands", required=True, metavar="; do COMMANDS; done")],
         output="text", category="shell",
         examples=[Example("put a notes.txt in each of the folders a and b",
                           'for d in a b; do touch "$d/notes.txt"; done',
                           "./a/notes.txt\n./b/notes.txt", {"a/x": "", "b/y": ""}, "find . -name notes.txt | sort"),
                   Example("rename every .txt file here to .md",
                           'for f in *.txt; do mv "$f" "${f%.txt}.md"; done',
                           "a.md\nb.md", {"a.txt": "", "b.txt": ""}, "ls")])
def for_(ctx: Context, a: Args) -> Iterator[object]:
    """The body's output, one iteration at a time; the status is the last body's."""
    lines = block_input(ctx)
    for item in a.items:
        ctx.check()
        ctx.env[a.name] = item
        if not (yield from _round(ctx, a.body, lines)):
            break


@command("for((", "Run COMMANDS while CONDITION is not 0: INIT first, STEP after each round (bash's "
         "arithmetic for).",
         params=[Param("init", "str", help="arithmetic, run first", metavar="(( INIT;"),
                 Param("cond", "str", help="arithmetic; an empty one is 1", metavar="CONDITION;"),
                 Param("step", "str", help="arithmetic, after each round", metavar="STEP )); do"),
                 Param("body", "plan", help="the commands", required=True, metavar="COMMANDS; done")],
         input="any", output="text", category="shell", planned=False,
         examples=[Example("count to three", "for ((i = 1; i <= 3; i++)); do echo $i; done", "1\n2\n3")])
def arith_for(ctx: Context, a: Args) -> Iterator[object]:
    """The body's output, one round at a time; the status is the last body's (0 if none ran)."""
    lines = block_input(ctx)
    _compute(ctx, a.init)
    while not a.cond.strip() or _compute(ctx, a.cond):
        ctx.check()
        if not (yield from _round(ctx, a.body, lines)):
            break
        _compute(ctx, a.step)


def _round(ctx: Context, body: Plan, lines: Iterator[object] | None) -> Generator[object, None, bool]:
    """One round of a loop's body: yields what it prints; returns False at a ``break``."""
    try:
        out, ctx.status = ctx.capture(body, lines, loop=True)
        yield from out
    except LoopControl as e:
        yield from _leave_or_go_on(e)
        return e.kind != "break"
    return True


@command("((", "Arithmetic as in bash: set variables ((n++)), ((total += n)); status 0 when the value is "
         "not 0, so ((n > 3)) && … tests.",
         params=[Param("expr", "str", required=True, metavar="EXPR ))")],
         output="none", category="shell", shell_state=True, planned=False,
         examples=[Example("add one to n", "n=1; ((n++)); echo $n", "2")])
def arith_command(ctx: Context, a: Args) -> None:
    ctx.status = 0 if _compute(ctx, a.expr) else 1


@command("let", "Arithmetic as in bash: each word an expression (let n++ \"total = n * 2\"); status 0 when "
         "the last is not 0.",
         params=[Param("exprs", "str", variadic=True, required=True, metavar="EXPR")],
         output="none", category="shell", shell_state=True, planned=False,
         examples=[Example("double n", "n=4; let n*=2; echo $n", "8")])
def let(ctx: Context, a: Args) -> None:
    for expr in a.exprs:
        ctx.status = 0 if _compute(ctx, expr) else 1


def _compute(ctx: Context, expr: str) -> int:
    from nlsh.kernel.expand import arithmetic
    try:
        return arithmetic(expr, ctx.shell)
    except ValueError as e:
        raise CommandError(f"{expr.strip()}: {e}") from None


@command("while", "Run COMMANDS as long as CONDITION succeeds (as in bash).",
         params=[Param("cond", "plan", help="the condition", required=True, metavar="CONDITION; do"),
                 Param("body", "plan", help="the commands", required=True, metavar="COMMANDS; done")],
         input="any", output="text", category="shell", planned=False,
         examples=[Example("print ok every second until stopped", "while true; do echo ok; sleep 1; done")])
def while_(ctx: Context, a: Args) -> Iterator[object]:
    yield from _repeat(ctx, a, until=False)


@command("until", "Run COMMANDS as long as CONDITION fails (as in bash).",
         params=[Param("cond", "plan", help="the condition", required=True, metavar="CONDITION; do"),
                 Param("body", "plan", help="the commands", required=True, metavar="COMMANDS; done")],
         input="any", output="text", category="shell", planned=False,
         examples=[Example("wait until ready.txt exists", "until test -e ready.txt; do sleep 1; done", "ready",
                           {"ready.txt": ""}, "echo ready")])
def until(ctx: Context, a: Args) -> Iterator[object]:
    yield from _repeat(ctx, a, until=True)


def _repeat(ctx: Context, a: Args, *, until: bool) -> Iterator[object]:
    """The output of each round as it ends; the status is the last body's (0 if none ran)."""
    status = 0
    lines = block_input(ctx)
    while True:
        ctx.check()
        try:
            out, cond = ctx.capture(a.cond, lines, loop=True, condition=True)
            yield from out
            if (cond == 0) == until:
                break
            out, status = ctx.capture(a.body, lines, loop=True)
            yield from out
        except LoopControl as e:
            yield from _leave_or_go_on(e)
            if e.kind == "break":
                break
    ctx.status = status


def _leave_or_go_on(control: LoopControl) -> Iterator[object]:
    """What the round printed; a break or continue of a loop further out, or a
    function's return, goes on out."""
    yield from control.output
    if control.levels > 1 or isinstance(control, Return):
        control.levels -= not isinstance(control, Return)
        control.output = []
        raise control


def block_input(ctx: Context) -> Iterator[object] | None:
    """What is piped into a block, shared by its rounds (``… | while read x``)."""
    return Rewind(ctx.input) if ctx.input is not None else None


class Rewind:
    """A block's input, to which ``read -d`` gives back the rest of a line."""

    def __init__(self, items: Iterable[object]) -> None:
        self._items = iter(items)
        self._back: list[object] = []

    def __iter__(self) -> Rewind:
        return self

    def __next__(self) -> object:
        return self._back.pop() if self._back else next(self._items)

    def push(self, item: object) -> None:
        self._back.append(item)


@command("if", "Run COMMANDS if CONDITION succeeds, as in bash: if C; then …; [elif C; then …;] "
         "[else …;] fi.",
         params=[Param("cond", "plan", help="the condition", required=True, metavar="CONDITION; then"),
                 Param("then", "plan", help="the commands", required=True, metavar="COMMANDS;"),
                 Param("else", "plan", help="elif …; or else COMMANDS;", metavar="elif …|else COMMANDS;")],
         input="any", output="text", category="shell", planned=False,
         examples=[Example("say whether notes.txt exists", "if test -e notes.txt; then echo yes; else echo no; fi",
                           "yes", {"notes.txt": ""})])
def if_(ctx: Context, a: Args) -> Iterator[object]:
    """The status is the branch's, or 0 when no branch ran (as in bash)."""
    lines = block_input(ctx)
    out, cond = ctx.capture(a.cond, lines, condition=True)
    yield from out
    branch = a.then if cond == 0 else getattr(a, "else", None)
    status = 0
    if branch is not None:
        out, status = ctx.capture(branch, lines)
        yield from out
    ctx.status = status


@command("case", "Run the COMMANDS of the first PATTERN that WORD matches (wildcards * ? [..]), as in bash: "
         "case WORD in PATTERN|PATTERN) COMMANDS;; … esac.",
         params=[Param("word", "str", help="the word to match", required=True, metavar="WORD in", split=False),
                 Param("branches", "glob", help="patterns, each group followed by its commands", variadic=True,
                       metavar="PATTERN) COMMANDS;; … esac")],
         input="any", output="text", category="shell", planned=False,
         examples=[Example("say what kind of file notes.txt is", 'f=notes.txt; case $f in *.txt|*.md) echo text;; '
                           "*) echo other;; esac", "text")])
def case(ctx: Context, a: Args) -> Iterator[object]:
    """The status is the branch's, or 0 when no pattern matches (as in bash). A
    branch ending in ``;&`` runs the next one's commands too; in ``;;&`` the
    patterns after it are tested as well."""
    patterns: list[str] = []
    ctx.status = 0
    falls = False
    items = list(a.branches)
    for k, item in enumerate(items):
        if isinstance(item, CaseEnd):
            continue
        if not isinstance(item, Plan):
            patterns.append(item)
            continue
        end = items[k + 1].op if k + 1 < len(items) and isinstance(items[k + 1], CaseEnd) else ";;"
        if falls or any(fnmatch.fnmatchcase(a.word, p) for p in patterns):      # patterns as bash reads them
            out, ctx.status = ctx.capture(item, block_input(ctx))
            yield from out
            if end == ";;":
                return
            falls = end == ";&"
        patterns = []


@command("subshell", "( COMMANDS ): run COMMANDS in a copy of the shell, as in bash: cd, variables, "
         "aliases and exit inside stay inside.",
         params=[Param("body", "plan", help="the commands", required=True, metavar="( COMMANDS )")],
         input="any", output="text", category="shell", planned=False,
         examples=[Example("count the files in docs without going there", "(cd docs && ls | count); pwd | count",
                           "1\n1", {"docs/a": ""})])
def subshell(ctx: Context, a: Args) -> Iterator[object]:
    out, ctx.status = ctx.capture(a.body, block_input(ctx), scope=True)
    yield from out


@command("group", "{ COMMANDS; }: run COMMANDS as one command in this shell (one redirection or pipe "
         "for all), as in bash.",
         params=[Param("body", "plan", help="the commands", required=True, metavar="{ COMMANDS; }")],
         input="any", output="text", category="shell", planned=False,
         examples=[Example("write two lines into out.txt", "{ echo a; echo b; } > out.txt", "a\nb", {},
                           "cat out.txt")])
def group(ctx: Context, a: Args) -> Iterator[object]:
    out, ctx.status = ctx.capture(a.body, block_input(ctx))
    yield from out


@command("break", "Leave the loop (the Nth enclosing one with N).",
         params=[Param("n", "str", metavar="N")], output="none", category="shell", shell_state=True,
         planned=False, examples=[Example("stop at the first line that is stop",
                                          "for w in go stop go; do if test $w = stop; then break; fi; echo $w; done",
                                          "go")])
def break_(ctx: Context, a: Args) -> None:
    _loop_control(ctx, "break", a.n)


@command("continue", "Go on with the next round of the loop (of the Nth enclosing one with N).",
         params=[Param("n", "str", metavar="N")], output="none", category="shell", shell_state=True,
         planned=False, examples=[Example("skip the word skip", "for w in a skip b; do if test $w = skip; then "
                                          "continue; fi; echo $w; done", "a\nb")])
def continue_(ctx: Context, a: Args) -> None:
    _loop_control(ctx, "continue", a.n)


def _loop_control(ctx: Context, kind: str, n: str | None) -> None:
    """Raise the LoopControl that leaves (or goes round) the loop; outside one, say so
    (status 0, as in bash: ``if break; then`` goes on)."""
    if not ctx.loops:
        ctx.warn("only meaningful in a for, while or until loop", 0)
        return
    raise _control(ctx, kind, n)


def _control(ctx: Context, kind: str, n: str | None) -> LoopControl:
    try:
        levels = 1 if n is None else int(n)
    except ValueError:
        # bash: a fatal error, the script ends with 128 (a loop never spins on it)
        ctx.warn(f"{n}: numeric argument required", 128)
        if not ctx.shell.interactive:
            raise ExitShell(128) from None
        return LoopControl("break", ctx.loops)
    if levels < 1:                          # bash: said once, and every loop is left
        ctx.warn(f"{n}: loop count out of range")
        return LoopControl("break", ctx.loops)
    return LoopControl(kind, min(levels, ctx.loops))


@command("function", "NAME() { COMMANDS; }: define a function; NAME WORDS… then runs COMMANDS with the "
         "WORDS as $1 … ($# of them, \"$@\" each one word), as in bash.",
         params=[Param("name", "str", help="the function's name", required=True, metavar="NAME()"),
                 Param("body", "plan", help="the commands", required=True, metavar="{ COMMANDS; }")],
         output="none", category="shell", shell_state=True, planned=False,
         examples=[Example("a greet function", 'greet() { echo "hello $1"; }; greet world', "hello world")])
def function(ctx: Context, a: Args) -> None:
    ctx.shell.functions[a.name] = a.body


@command("return", "Leave the function, with status N (default: the last command's).",
         params=[Param("n", "int", metavar="N")], output="none", category="shell", shell_state=True,
         planned=False, examples=[Example("a function that fails on purpose", "nope() { return 3; }; nope; echo $?",
                                          "3")])
def return_(ctx: Context, a: Args) -> None:
    if not ctx.frames:
        raise CommandError("can only return from a function", 2)
    raise Return(ctx.shell.last_status if a.n is None else a.n & 0xFF)


COMMANDS = [for_, arith_for, arith_command, let, while_, until, if_, case, subshell, group, function, return_,
            break_, continue_]
