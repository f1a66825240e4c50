"""The command language: lexing, parsing, binding, errors and canonical text."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from nlsh.lang import Duration, Glob, Lit, ParseError, Plan, Size, Tilde, Var, Word, parse, text
from nlsh.lang.parser import one_word
from nlsh.lang.plan import Call, Chain, Pipeline, Redirect, Sub
from nlsh.wiring import default_registry

REG = default_registry()


def p(line: str, aliases=None) -> Plan:
    return parse(line, REG, aliases)


def t(plan: Plan) -> str:
    return text(plan, REG.signature)


def call(line: str) -> Call:
    return p(line).chains[0].pipelines[0].calls[0]


def test_pipeline_and_sequences():
    plan = p("ls | sort size -r | first 5; pwd && echo ok || echo no &")
    assert len(plan.chains) == 2
    first, second = plan.chains
    assert [c.name for c in first.pipelines[0].calls] == ["ls", "sort", "first"]
    assert second.ops == ("&&", "||") and second.background
    assert t(plan) == "ls | sort -r size | first 5; pwd && echo ok || echo no &"


def test_typed_arguments():
    c = call("head -n 5 a.txt")
    assert c.get("n") == 5 and c.get("paths") == (Word.lit("a.txt"),)
    assert call("head -5").get("n") == 5
    assert call("head -n5").get("n") == 5
    assert call("head --lines=7").get("n") == 7
    assert call("sleep 1m").get("duration") == Duration(60)
    assert call("grep -rin foo").args == (("ignore_case", True), ("recursive", True),
                                          ("line_number", True), ("pattern", Word.lit("foo")))


def test_quoting_and_expansion_parts():
    c = call("echo 'a b' \"$HOME/x\" ~/y *.py a\\*b ${X}z $?")
    words = c.get("words")
    assert words[0] == Word.lit("a b")
    assert words[1] == Word((Var("HOME", quoted=True), Lit("/x")))
    assert words[2] == Word((Tilde(), Lit("/y")))
    assert words[3] == Word((Glob("*.py"),))
    assert words[4] == Word.lit("a*b")
    assert words[5] == Word((Var("X"), Lit("z")))
    assert words[6] == Word((Var("?"),))


def test_positional_variables_are_one_digit_unless_braced():
    assert call("echo $10 ${10}").get("words") == (Word((Var("1"), Lit("0"))), Word((Var("10"),)))
    assert t(p("echo ${10}")) == "echo ${10}"


def test_a_bracket_without_its_closing_bracket_is_a_plain_word():
    assert p("[ -d x ]").calls[0].get("words") == tuple(Word.lit(w) for w in ("-d", "x", "]"))    # the built-in [
    assert p("echo a[ b]").calls[0].get("words") == (Word.lit("a["), Word.lit("b]"))
    assert p("echo [ab].txt").calls[0].get("words") == (Word((Glob("[ab].txt"),)),)


@pytest.mark.parametrize("line,words", [
    ("echo {a,b}.txt", ["a.txt", "b.txt"]),
    ("echo x{1..3}y {c..a}", ["x1y", "x2y", "x3y", "c", "b", "a"]),
    ("echo {01..10..3} {3..1}", ["01", "04", "07", "10", "3", "2", "1"]),
    ("echo {a,b}{1,2} pre{a,{b,c}}", ["a1", "a2", "b1", "b2", "prea", "preb", "prec"]),
    ("echo f{,.bak} a,b {}", ["f", "f.bak", "a,b", "{}"]),
    ("echo '{a,b}' \"{c,d}\" \\{e,f} {g} {1..x}", ["{a,b}", "{c,d}", "{e,f}", "{g}", "{1..x}"]),   # not expanded
])
def test_braces_expand_as_in_bash(line, words):
    call = p(line).calls[0]
    assert [w.source() for w in call.get("words")] == words
    assert p(t(p(line))) == p(line)                    # and print back as they parse


def test_braces_name_globs_and_variables_too():
    assert p("ls {*.py,*.md}").calls[0].get("paths") == (Word((Glob("*.py"),)), Word((Glob("*.md"),)))
    assert p("echo $D/{x,y}").calls[0].get("words") == (Word((Var("D"), Lit("/x"))), Word((Var("D"), Lit("/y"))))
    with pytest.raises(ParseError) as e:
        p("echo {1..100000}")
    assert e.value.message == "the braces give more than 10000 words"


def test_patterns_are_not_globbed():
    c = call("find . -name *.py")
    assert c.get("name") == Word.lit("*.py")
    assert t(p("find . -name *.py")) == "find . -name '*.py'"


def test_redirections_and_comments():
    c = call("sort < in.txt > out.txt 2>> err.log  # a comment")
    assert c.redirects == (Redirect("<", Word.lit("in.txt")), Redirect(">", Word.lit("out.txt")),
                           Redirect("2>>", Word.lit("err.log")))


def test_where_comparisons_are_words_not_redirects():
    c = call("where size >= 1MB")
    assert c.get("op") == ">="
    assert c.redirects == ()
    assert t(p("ls | where size > 1MB")) == "ls | where size > 1MB"
    assert t(p("ls | where name =~ '\\.py$'")) == "ls | where name =~ '\\.py$'"


def test_external_programs_keep_their_words():
    c = call("git log --oneline -n 3")
    assert c.external and c.name == "git"
    assert t(p("git log --oneline -n 3")) == "git log --oneline -n 3"


@pytest.mark.parametrize("line,canonical", [
    ("ls x 2>&1 | wc -l", "ls x 2>&1 | wc -l"),
    ("make &> build.log", "make > build.log 2>&1"),
    ("cat a &>> all.log", "cat a >> all.log 2>&1"),
    ("ls file2>x", "ls file2 > x"),
    ("echo oops >&2", "echo oops >&2"),
    ("echo oops 1>&2", "echo oops >&2"),
])
def test_streams_join(line, canonical):
    assert t(p(line)) == canonical
    assert p(canonical) == p(line)


class NoPrograms:
    """The registry's commands with nothing on PATH."""
    signature = staticmethod(REG.signature)
    names = staticmethod(REG.names)

    @staticmethod
    def is_program(name: str) -> bool:
        return False


@pytest.mark.parametrize("line", ["sed -n 2p f", "ls --color=never", "head -n -2 f", "tail -n +2 f",
                                  "sort -k 2,2 f", "date -d yesterday +%s", "pwd -P", "ps aux", "ps -ef"])
def test_builtin_standing_in_for_a_program_runs_it_for_flags_it_lacks(line):
    c = call(line)
    assert c.external and c.name == line.split()[0]
    assert t(p(line)) == line
    with pytest.raises(ParseError):
        parse(line, NoPrograms())


def test_ps_with_a_process_name_stays_the_builtin():
    assert not call("ps python").external and not call("ps xfce4-panel").external


def test_destructive_builtins_never_fall_back_to_programs():
    for line in ("rm --no-preserve-root x", "cp -u a b", "mv -t d a", "chmod --reference=a b"):
        with pytest.raises(ParseError):
            p(line)


def test_aliases_expand_first_word():
    c = p("ll src", {"ll": "ls -l -a"}).chains[0].pipelines[0].calls[0]
    assert c.name == "ls" and c.get("long") and c.get("all")


@pytest.mark.parametrize("line,message,column", [
    ("cp --sizee a b", "cp: unknown flag --sizee", 3),
    ("lss -la", "unknown command lss (did you mean ls?)", 0),
    ("sl -la", "unknown command sl (did you mean ls?)", 0),          # two letters swapped
    ("shs -c x", "unknown command shs", 0),
    ("hs -c x", "unknown command hs (did you mean sh?)", 0),         # a program on PATH, swapped
    ("ulimit -n 10", "unknown command ulimit (a bash built-in that nlsh does not have; !LINE runs a line in $SHELL)", 0),
    ("builtin git x", "builtin: git: not a shell built-in", 8),
    ("tree -L lots", "tree: bad value 'lots' for -L: expected an int", 8),
    ("ls |", "line ends after '|'", 3),
    ("| ls", "syntax error near '|'", 0),
    ("echo 'open", "unterminated single quote", 5),
    ("cat a b > ", "> needs a file name", 8),
    ("find -type x", "find: bad value 'x' for -type: expected one of f, d, l", 11),
    ("cp a", "cp: missing DEST", 5),
    ("cd a extra", "cd: unexpected argument 'extra'", 5),
    ("echo (ls)", "unsupported character '('", 5),
    ("echo $(ls", "unterminated $( (no matching ')')", 5),
    ("echo `ls", "unterminated ` (no closing backquote)", 5),
    ("echo `lss`", "in $(…): unknown command lss", 6),
    ("echo ok $(cp a)", "in $(…): cp: missing DEST", 15),
    ("echo $((1+2) * 3)", "unterminated $(( (no matching '))')", 5),
    ("echo $((x + ))", "bad arithmetic $((x + )): the expression ends too soon", 5),
    ('echo $((__import__("os")))', "bad arithmetic $((__import__(\"os\"))): unexpected '\"os\")'", 5),
    ("echo $((2.5 * 2))", "bad arithmetic $((2.5 * 2)): 2.5 is not an integer", 5),
    ("echo $((f(2)))", "bad arithmetic $((f(2))): unexpected '('", 5),
    ("ls; ((x +* 2))", "bad arithmetic ((x +* 2)): unexpected '*'", 4),
    ("for ((i; j)); do :; done", "for: expected (( INIT; CONDITION; STEP )), two ';' inside", 4),
    ("for f in a; echo x", "for: expected '; do' after the words", 12),
    ("for f in a", "for: expected '; do' after the words", 9),
    ("for f a; do echo; done", "for: expected 'in' after the name", 6),
    ("for 1x in a; do echo; done", "for: expected a variable name after 'for'", 0),
    ("for f in a; do echo x done", "for: missing '; done'", 0),
    ("for f in a; do ; done", "for: expected COMMANDS; before 'done'", 15),
    ("for f in a; do echo x; done y", "syntax error near 'y' (after 'done')", 28),
    ("echo a; done", "syntax error near 'done' (no 'for' or 'while' before it)", 8),
    ("> f for x in a", "syntax error near 'for' (for must start the command)", 4),
    ("group x", "syntax error near 'group' ({ COMMANDS; } must start the command)", 0),
    ("> f nice ls", "limit, nice, batch and time apply to a whole line: put them at its start", 4),
    ("nice -n && ls", "nice: -n needs a value (N)", 5),
    ("for f in a; do sleep 1 & done", "for: a background job (&) inside a loop is not supported", 23),
    ("echo ${f%x", "bad variable", 5),
    ("echo ${f:}", "bad variable: expected ${NAME}", 5),
    ("echo ${f^^x}", "bad variable", 5),
    ("echo ${#f%x}", "bad variable", 5),
    ("for f in a; do limit -- echo x; done", "limit, nice, batch and time apply to a whole line", 15),
    ("echo $(nice -n 3 ls)", "in $(…): limit, nice, batch and time apply to a whole line", 7),
    ("echo $(lss -l)", "in $(…): unknown command lss", 7),
    ("echo $(sleep 1 &)", "in $(…): a background job (&) cannot give its output", 15),
    ("echo \"$(cp a)\"", "in $(…): cp: missing DEST", 13),
])
def test_errors_name_token_and_column(line, message, column):
    with pytest.raises(ParseError) as e:
        p(line)
    assert e.value.message.startswith(message)
    assert e.value.column == column


def test_did_you_mean_for_flags():
    with pytest.raises(ParseError) as e:
        p("cp --recursiv a b")
    assert "did you mean --recursive?" in e.value.message


def test_caret_points_at_culprit():
    with pytest.raises(ParseError) as e:
        p("cp --sizee a b")
    assert e.value.caret("cp --sizee a b").splitlines()[1] == "   ^^^^^^^"


def test_sizes_and_durations_round_trip():
    for s in ["512", "1MB", "1M", "2GiB", "10kB", "3k"]:
        v = Size.parse(s)
        assert Size.parse(str(v)) == v
    assert Size.parse("1MB") == 1_000_000 and Size.parse("1MiB") == 1 << 20
    for d in ["500ms", "10s", "5m", "2h", "7d", "1.5"]:
        v = Duration.parse(d)
        assert Duration.parse(str(v)) == v


# -- property: parse(text(plan)) == plan ------------------------------------

LOOP_BODIES = ["echo $f", "mv \"$f\" \"${f%.txt}.md\" && ls", "for g in a b; do echo $f$g; done | sort > out"]
SUBSTITUTIONS = ["ls", "ls -l | count", " wc -l < 'a b' ", "echo \"$(pwd)\" x", "find . -name '*.py' -o -type d"]
SAFE = st.text(alphabet="abcxyz019_./,:=+@%", min_size=1, max_size=6)
ANY_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\x00"),
                   max_size=8)


@st.composite
def words(draw, globbing=True):
    parts = []
    if draw(st.booleans()) and draw(st.integers(0, 4)) == 0:
        parts.append(Tilde(draw(st.sampled_from(["", "root"]))))
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["lit", "lit", "var", "sub", "glob"] if globbing else ["lit", "lit", "var", "sub"]))
        if kind == "sub":
            source = draw(st.sampled_from(SUBSTITUTIONS))
            parts.append(Sub(source, parse(source, REG), draw(st.booleans())))
        elif kind == "lit":
            parts.append(Lit(draw(ANY_TEXT)))
        elif kind == "var":
            parts.append(draw(st.sampled_from([Var("HOME"), Var("x"), Var("A_1"), Var("?"), Var("x", "//", "a/b"),
                                               Var("f", "/#", "*-"), Var("x", "length"), Var("p", ":", "1:2"),
                                               Var("x", "^^"), Var("x", ","), Var("x", ":-", "$HOME/a"),
                                               Var("x", ":=", "'b c'"), Var("x", "+", "${y:-z}"), Var("$"),
                                               Var("!"), Var("1", "?", "give it"),
                                               Var("x", ":-", "it's", True)])))
        else:
            parts.append(Glob(draw(SAFE) + draw(st.sampled_from(["*", "?", "[ab]"])) + draw(st.text("abc", max_size=2))))
    parts = [x for x in parts if not (isinstance(x, Lit) and x.text == "")]
    merged = []
    for part in parts:
        if merged and isinstance(part, Lit) and isinstance(merged[-1], Lit):
            merged[-1] = Lit(merged[-1].text + part.text)
        elif merged and isinstance(part, Glob) and isinstance(merged[-1], Glob):
            merged[-1] = Glob(merged[-1].text + part.text)
        else:
            merged.append(part)
    if merged and isinstance(merged[0], Glob) and merged[0].text[0] in "~-#":
        merged[0] = Lit(merged[0].text)
    if len(merged) > 1 and isinstance(merged[0], Tilde):       # ~ and ~NAME end at a / or the word's end
        after = merged[1]
        if isinstance(after, (Lit, Glob)):
            merged[1] = type(after)("/" + after.text.lstrip("/"))
        else:
            merged.insert(1, Lit("/"))
    merged = merged or [Lit("")]
    return Word(tuple(merged))


def value_for(draw, param):
    from nlsh.lang.signature import GLOBBING_TYPES
    if param.type == "flag":
        return True
    if param.type == "int":
        return draw(st.integers(-5, 10**6))
    if param.type == "count":
        return draw(st.integers(0, 10**6))
    if param.type == "float":
        return float(draw(st.integers(0, 100)))
    if param.type == "size":
        return Size(draw(st.integers(0, 10**10)))
    if param.type == "duration":
        return Duration(draw(st.integers(0, 10**6)) / 1000)
    if param.type == "choice":
        return draw(st.sampled_from(param.choices))
    if param.check is not None:     # a value the built-in runs (sed: an s command)
        return Word.lit(draw(st.sampled_from(["s/a/b/", "s|x y|z|g", "s/^/> /"])))
    if param.type == "command":
        body = draw(st.lists(words(globbing=False), min_size=1, max_size=3))
        body = [w for w in body if not (w.is_literal and w.literal in (";", "+"))] or [Word.lit("x")]
        return (*body, Word.lit(draw(st.sampled_from([";", "+"]))))
    return draw(words(globbing=param.type in GLOBBING_TYPES))


@st.composite
def calls(draw):
    cmd = draw(st.sampled_from([c for c in REG if not c.modifier]))
    if cmd.name == "for":
        items = tuple(draw(words()) for _ in range(draw(st.integers(0, 3))))
        body = parse(draw(st.sampled_from(LOOP_BODIES)), REG)
        return Call("for", (("name", draw(st.sampled_from(["f", "x_1"]))), ("items", items), ("body", body)))
    if cmd.name in ("subshell", "group"):
        return Call(cmd.name, (("body", parse(draw(st.sampled_from(LOOP_BODIES)), REG)),))
    if cmd.name == "function":
        block = Call(draw(st.sampled_from(["group", "subshell"])), (("body", parse(draw(st.sampled_from(LOOP_BODIES)), REG)),))
        return Call("function", (("name", draw(st.sampled_from(["f", "do_it", "a.b-c"]))),
                                 ("body", Plan((Chain((Pipeline((block,)),)),)))))
    if cmd.name == "case":
        branches: tuple = ()
        for _ in range(draw(st.integers(0, 3))):
            branches += tuple(draw(words()) for _ in range(draw(st.integers(1, 2))))
            branches += (parse(draw(st.sampled_from(LOOP_BODIES)), REG) if draw(st.booleans()) else Plan(()),)
        return Call("case", (("word", one_word(draw(words(globbing=False)))), ("branches", branches)))
    if cmd.name == "[[":
        items = draw(st.sampled_from([
            ("-f", draw(words(globbing=False))), ("!", "(", draw(words(globbing=False)), "==", "*.t'x'", ")"),
            (draw(words(globbing=False)), "-lt", draw(words(globbing=False)), "||", draw(words(globbing=False))),
            (Word.lit("=="), "=~", "^(a|b)$", "&&", Word.lit("]]"))]))
        return Call("[[", (("expr", items),))
    if cmd.name == "((":
        return Call("((", (("expr", draw(st.sampled_from(["x++", " n += 2 ", "a ? b : c", "1"]))),))
    if cmd.name == "for((":
        header = draw(st.sampled_from([("i=0", "i<3", "i++"), ("", "", ""), ("a = 1, b = 2", "a < b", "a++")]))
        return Call("for((", (*zip(("init", "cond", "step"), header),
                              ("body", parse(draw(st.sampled_from(LOOP_BODIES)), REG))))
    if cmd.name in ("while", "until", "if"):
        def part():
            return parse(draw(st.sampled_from(LOOP_BODIES)), REG)
        if cmd.name != "if":
            return Call(cmd.name, (("cond", part()), ("body", part())))
        args = (("cond", part()), ("then", part()))
        for _ in range(draw(st.integers(0, 2))):          # else parts, the first ones elif
            args += (("else", Plan((Chain((Pipeline((Call("if", args),)),)),)) if draw(st.booleans())
                      else part()),)
            args = (("cond", part()), ("then", part()), args[-1])
        return Call("if", args)
    args = []
    positional_needed = False
    for param in cmd.params:
        if param.positional:
            given = param.required or (draw(st.booleans()) and not positional_needed)
            if not given:
                positional_needed = True  # later positionals cannot be given without this one
                continue
            if param.variadic:
                args.append((param.name, tuple(value_for(draw, param) for _ in range(draw(st.integers(1, 3))))))
            else:
                args.append((param.name, value_for(draw, param)))
            if cmd.ordered:  # find reads ( ) ! as operators wherever they stand, as GNU find does
                value = args[-1][1]
                assume(not any(isinstance(v, Word) and v.is_literal and v.literal in ("(", ")", "!")
                               for v in (value if isinstance(value, tuple) else (value,))))
        elif draw(st.booleans()) and not any(name in param.overrides for name, _ in args):
            args.append((param.name, value_for(draw, param)))     # (ls -a -A is -A alone, as in GNU)
    if cmd.expression:
        return Call(cmd.name, tuple(args))
    if cmd.name == "command" and not any(name in ("short", "long") for name, _ in args):
        args.insert(0, ("short", True))     # without -v or -V, `command NAME …` runs NAME
    if any(p.type == "assignment" for p in cmd.params):   # NAME=VALUE after them is one word, as bash reads it
        args = [(name, tuple(one_word(w) if isinstance(w.parts[0], (Lit, Glob))
                                and re.match(r"[A-Za-z_]\w*=", w.parts[0].text) else w for w in value)
                       if isinstance(value, tuple) else value)
                for name, value in args]
    redirects = tuple(Redirect(op, Word.lit("") if op in ("2>&1", ">&2") else draw(words(globbing=False)))
                      for op in draw(st.lists(st.sampled_from([">", ">>", "<", "2>", "2>>", "2>&1", ">&2"]),
                                              max_size=1)))
    direct = not cmd.modifier and draw(st.integers(0, 9)) == 0      # command NAME …
    return Call(cmd.name, tuple(args), redirects, direct=direct)


def _variadic_ok(call):
    """A variadic positional followed by another positional is ambiguous unless
    the later one is required (cp SRC... DEST); drop such draws."""
    cmd = REG.get(call.name)
    given = [p for p in cmd.params if p.positional and call.get(p.name) is not None]
    for i, param in enumerate(given[:-1]):
        if param.variadic and not all(q.required for q in given[i + 1:]):
            return False
    return True


@st.composite
def plans(draw):
    chains = []
    for _ in range(draw(st.integers(1, 3))):
        pipelines = []
        for _ in range(draw(st.integers(1, 2))):
            pipelines.append(Pipeline(tuple(draw(st.lists(calls(), min_size=1, max_size=3)))))
        ops = tuple(draw(st.sampled_from(["&&", "||"])) for _ in pipelines[1:])
        modifiers = []
        can_modify = pipelines[0].calls[0].name != "[["     # [[ is a keyword only where a command starts
        for m in draw(st.lists(st.sampled_from(["limit", "nice", "batch"]), max_size=2 * can_modify)):
            cmd = REG.get(m)
            args = tuple((p.name, value_for(draw, p)) for p in cmd.params if draw(st.booleans()))
            modifiers.append(Call(m, args))
        chains.append(Chain(tuple(pipelines), ops, draw(st.booleans()), tuple(modifiers)))
    return Plan(tuple(chains))


def _valid(plan):
    return all(_variadic_ok(c) for c in plan.calls)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plans())
def test_text_round_trips(plan):
    if not _valid(plan):
        return
    assert p(t(plan)) == plan


SHELL_WORDS = ["if", "f()", "function", "return", "then", "else", "elif", "fi", "while", "until", "do", "done", "for", "x", "in", "(", ")",
               "{", "}", ";", "|", "&&", "||", "echo", "true", "read", "break", "&", "a{b,c}", "{1..3}", "'q'",
               "$x", "\n", ">", "f", "group", "nice", "limit", "--", "-n", "5", "sort", "--time", "<", "2>&1", ">&2",
               "case", "esac", ";;", "x)", "*)", "<<<", "<<E", "E"]


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(SHELL_WORDS), min_size=1, max_size=14))
def test_any_line_of_shell_words_parses_or_says_why_and_prints_back(words):
    line = " ".join(words)
    try:
        plan = p(line)
    except ParseError:
        return
    assert p(t(plan)) == plan


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="ls -ra|;&><'\"\\$~*?{}#ehocatwd123.=\n", max_size=30))
@example("11<1")            # a descriptor of two digits starting with 1 lost its first (11< read as 1<)
@example('$1""')            # the empty quotes after an expansion were not written back
@example('?""?')            # two patterns around empty quotes are one (written back as ??)
def test_any_parsed_line_round_trips(line):
    try:
        plan = p(line)
    except ParseError:
        return
    assert p(t(plan)) == plan


def test_case_branch_ends_round_trip():
    for line in ("case $x in a) echo A;& b|c) echo B;;& *) echo C;; esac", "case y in (esac) ;& *) :;; esac"):
        plan = p(line)
        assert p(t(plan)) == plan
        assert t(p(t(plan))) == t(plan)


@pytest.mark.parametrize("line,ops", [("exec 5>log.txt", ["5>"]), ("echo hi >&3", [">&"]), ("read l 8<>f", ["8<>"]),
                                      ("cat 3< f", ["3<"]), ("echo x 3>&1 1>&2 2>&3", ["3>&", ">&2", "2>&"]),
                                      ("exec 3>&-", ["3>&"]), ("cat 0<f <&4", ["<", "<&"]), ("echo a5>x", [">"]),
                                      ("exec {fd}>f {fd}>&-", ["{fd}>", "{fd}>&"]), ("echo a >| f", [">|"])])
def test_descriptors_above_2_are_redirections_that_round_trip(line, ops):
    """`exec 5>f` once ran a program named 5; then it was an error; now it opens descriptor 5, as in bash."""
    plan = p(line)
    call = plan.chains[0].pipelines[0].calls[0]
    assert [r.op for r in call.redirects] == ops
    assert p(t(plan)) == plan


@pytest.mark.parametrize("script,out", [
    ("if { false; true; } then echo yes; fi", "yes\n"),
    ("if { true; }\nthen\n  echo multi\nfi", "multi\n"),
    ("while { false; } do echo never; done; echo } then", "} then\n"),
])
def test_then_and_do_right_after_a_group_as_in_bash(sh, script, out):
    r = sh(script)
    assert (r.out, r.err) == (out, "")


def test_a_redirection_alone_is_a_command_and_a_modifier_still_needs_one():
    assert t(p("> f")) == ": > f" and p("2>&1").calls[0].name == ":"
    assert p("2>&1 limit") == p("limit 2>&1")       # `limit` alone, with its redirection
    with pytest.raises(ParseError, match="nice: missing the command to run"):
        p("nice 2>&1")
