"""Variables and their attributes, as bash scripts set them: declare (typeset),
local, readonly, arrays, and getopts for a script's or function's options."""

from __future__ import annotations

from collections.abc import Iterator

from nlsh.kernel.assign import assign
from nlsh.kernel.context import Args, CommandError, Context
from nlsh.kernel.variables import Array, declaration
from nlsh.lang.signature import Param
from nlsh.records import plain_line
from nlsh.registry import Example, command

_NOT_HERE = {"n": "name reference"}
_DECLARE_PARAMS = [
    Param("readonly", "flag", ("-r",), "make the names read-only"),
    Param("export", "flag", ("-x",), "export (every nlsh variable is in its programs' environment)"),
    Param("glob", "flag", ("-g",), "inside a function: the shell's variable, not the function's own"),
    Param("print", "flag", ("-p",), "show the names (every variable without names) as declare lines"),
    Param("functions", "flag", ("-f",), "show the functions' definitions"),
    Param("function_names", "flag", ("-F",), "show the functions' names"),
    Param("array", "flag", ("-a",), "arrays: NAME=(WORD …), ${NAME[0]}, \"${NAME[@]}\""),
    Param("assoc", "flag", ("-A",), "associative arrays: NAME=([KEY]=VALUE …), ${NAME[KEY]}"),
    Param("integer", "flag", ("-i",), "integers: a value is arithmetic (n=2+3 holds 5)"),
    Param("lower", "flag", ("-l",), "a value is kept in lower case"),
    Param("upper", "flag", ("-u",), "a value is kept in upper case"),
    *(Param(f"attr_{letter}", "flag", (f"-{letter}",), f"{kind} variables (not in nlsh)")
      for letter, kind in _NOT_HERE.items()),
    Param("names", "assignment", variadic=True, metavar="NAME[=VALUE]"),
]


def _declare(ctx: Context, a: Args, local: bool = False) -> Iterator[str]:
    for letter, kind in _NOT_HERE.items():
        if getattr(a, f"attr_{letter}"):
            raise CommandError(f"-{letter}: {kind} variables are not in nlsh (!LINE runs a line in $SHELL)")
    if a.array and a.assoc:
        raise CommandError("-a and -A: a variable is one kind of array")
    if a.lower and a.upper:
        raise CommandError("-l and -u: a value is kept in one case")
    env = ctx.env
    if a.functions or a.function_names:
        functions = ctx.shell.functions
        for name in [n.name for n in a.names] or sorted(functions):
            if name not in functions:
                ctx.warn(f"{name}: not a function")
            elif a.functions:
                yield f"{name}() {ctx.shell.text(functions[name])}"     # as the definition prints
            else:
                yield f"declare -f {name}"
        return
    if a.print or not a.names:
        names = [n.name for n in a.names] or sorted(
            n for n in {*env, *env.arrays} if (not (a.array or a.assoc) or n in env.arrays and (
                env.arrays[n].assoc == a.assoc)))
        for name in names:
            if not env.declared(name):
                ctx.warn(f"{name}: not found")
            else:
                yield declaration(name, env)
        return
    assign(ctx, a.names, readonly=a.readonly, own=local or bool(ctx.frames) and not a.glob,
           kind="A" if a.assoc else "a" if a.array else "",
           shape="i" * a.integer + "l" * a.lower + "u" * a.upper)


declare = command(
    "declare", "Set variables, as in bash: declare [-r] [-g] [-a|-A] NAME[=VALUE]…; in a function the names are "
    "its own (as local) unless -g; -r makes them read-only; -a/-A arrays; -i integers, -l/-u lower/upper case; "
    "-p (or no names) shows them; -f/-F the functions.",
    params=_DECLARE_PARAMS, output="text", category="shell", shell_state=True, planned=False, flags_first=True,
    examples=[Example("a constant", "declare -r limit=10; echo $limit", "10")])(_declare)

typeset = command(
    "typeset", "bash's other name for declare: typeset [-r] [-g] [-a|-A] NAME[=VALUE]….",
    params=_DECLARE_PARAMS, output="text", category="shell", shell_state=True, planned=False,
    flags_first=True, examples=[Example("a constant", "typeset -r limit=10; echo $limit", "10")])(_declare)


@command("local", "Give variables a value for the running function only (NAME or NAME=VALUE), as in bash; "
         "takes declare's options (-a, -A, -i, -l, -u, -r).",
         params=_DECLARE_PARAMS, output="text", category="shell", shell_state=True, planned=False,
         flags_first=True,
         examples=[Example("a variable inside a function only", "x=out; f() { local x=in; echo $x; }; f; echo $x",
                           "in\nout")])
def local(ctx: Context, a: Args) -> Iterator[str]:
    if not ctx.frames:
        raise CommandError("can only be used in a function")
    if not a.names:
        raise CommandError("a NAME is needed: local NAME[=VALUE]…")
    yield from _declare(ctx, a, local=True)


@command("readonly", "Make variables read-only (NAME or NAME=VALUE), as in bash: a new value or unset is an "
         "error; with no names, list them.",
         params=[Param("print", "flag", ("-p",), "list the read-only variables"),
                 Param("names", "assignment", variadic=True, metavar="NAME[=VALUE]")],
         output="text", category="shell", shell_state=True, planned=False, flags_first=True,
         examples=[Example("a constant", "readonly LIMIT=10; echo $LIMIT", "10")])
def readonly(ctx: Context, a: Args) -> Iterator[str]:
    if a.print or not a.names:
        for name in sorted(n for n in ctx.env.readonly if ctx.env.declared(n)):
            yield declaration(name, ctx.env)
        return
    assign(ctx, a.names, readonly=True)


@command("getopts", "Parse a script's or function's options, as in bash: while getopts 'ab:' opt; do case $opt "
         "in …; esac; done. Each round sets NAME to the next letter (? for an unknown one), $OPTARG to its value "
         "(b: takes one), $OPTIND to the next word; status 1 after the last option. A leading : in OPTSTRING: "
         "no messages (NAME is ? or : and $OPTARG the letter).",
         params=[Param("optstring", "str", required=True, metavar="OPTSTRING"),
                 Param("name", "str", required=True, metavar="NAME"),
                 Param("args", "str", variadic=True, metavar="ARG")],
         output="none", category="shell", shell_state=True, planned=False, free_dashes=True,
         examples=[Example("read -v and -o FILE", "set -- -v -o out.txt; while getopts 'vo:' f; do echo $f "
                           "$OPTARG; done", "v\no out.txt")])
def getopts(ctx: Context, a: Args) -> None:
    shell, env = ctx.shell, ctx.env
    if not a.name.isidentifier():
        raise CommandError(f"'{a.name}': not a variable name")
    args = list(a.args) if a.args else list(shell.positional)
    try:
        index = int(env.get("OPTIND") or "1")
    except ValueError:
        raise CommandError(f"OPTIND={env.get('OPTIND')!r} is not a number") from None
    # where in a word of grouped letters (-vx) the next one is: kept with the OPTIND it belongs to
    seen_index, at = shell.getopts_at
    at = at if seen_index == index else 1
    quiet, letters = a.optstring.startswith(":"), a.optstring.lstrip(":")

    def done(next_index: int) -> None:
        env[a.name] = "?"
        env["OPTIND"] = str(next_index)
        shell.getopts_at = (next_index, 1)
        ctx.status = 1

    if index < 1 or index > len(args):
        return done(index)
    word = args[index - 1]
    if at == 1 and (word == "--" or not word.startswith("-") or word == "-"):
        return done(index + 1 if word == "--" else index)
    letter, rest = word[at], word[at + 1:]
    index, at = (index, at + 1) if rest else (index + 1, 1)
    env.pop("OPTARG", None)
    spec = letters.find(letter) if letter != ":" else -1
    if spec < 0:
        found = "?"
        if quiet:
            env["OPTARG"] = letter
        else:
            ctx.warn(f"illegal option -- {letter}", status=0)
    elif letters[spec + 1:spec + 2] == ":":
        found = letter
        if rest:                                # -ofile: the rest of the word
            env["OPTARG"], index, at = rest, index + 1, 1
        elif index <= len(args):                # -o file: the next word
            env["OPTARG"], index = args[index - 1], index + 1
        elif quiet:
            found, env["OPTARG"] = ":", letter
        else:
            found = "?"
            ctx.warn(f"option requires an argument -- {letter}", status=0)
    else:
        found = letter
    env[a.name] = found
    env["OPTIND"] = str(index)
    shell.getopts_at = (index, at)


_MAPFILE_PARAMS = [
    Param("trim", "flag", ("-t",), "drop each line's newline"),
    Param("count", "count", ("-n",), "read at most COUNT lines (0: all)", metavar="COUNT"),
    Param("skip", "count", ("-s",), "skip the first COUNT lines", metavar="COUNT"),
    Param("name", "str", metavar="NAME"),
]


def _mapfile(ctx: Context, a: Args) -> None:
    name = a.name or "MAPFILE"
    if not name.isidentifier():
        raise CommandError(f"'{name}': not a variable name")
    lines: list[str] = []
    for k, item in enumerate(ctx.items(exact=True)):
        if k < (a.skip or 0):
            continue
        if a.count and len(lines) >= a.count:
            break
        line = plain_line(item)
        lines.append(line.removesuffix("\n") if a.trim else line)
    ctx.env.set_array(name, Array(enumerate(lines)))


mapfile = command(
    "mapfile", "Read the lines of the input into an array, as in bash: mapfile -t NAME < FILE "
    "(MAPFILE if no NAME); -t drops the newlines, -n COUNT reads at most COUNT lines, -s COUNT skips some.",
    params=_MAPFILE_PARAMS, input="any", output="none", category="shell", shell_state=True, planned=False,
    examples=[Example("the lines of a file as an array", "mapfile -t lines < names.txt; echo ${#lines[@]}", "2",
                      {"names.txt": "ann\nbob\n"})])(_mapfile)

readarray = command(
    "readarray", "bash's other name for mapfile: readarray -t NAME < FILE.",
    params=_MAPFILE_PARAMS, input="any", output="none", category="shell", shell_state=True, planned=False,
    examples=[Example("the lines of a file as an array", "readarray -t lines < names.txt; echo ${lines[1]}", "bob",
                      {"names.txt": "ann\nbob\n"})])(_mapfile)


COMMANDS = [declare, typeset, local, readonly, mapfile, readarray, getopts]
