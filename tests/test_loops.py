"""``for NAME in WORDS; do …; done``, ``while``/``until`` loops, ``if … fi`` and
``${name%suffix}``-style expansions, as in bash; a loop's body is checked by
the policy for every word it takes."""

from __future__ import annotations

import io
import os
import pwd
import shutil
import socket

import pytest

from nlsh.lang import ParseError, parse, text
from nlsh.policy import Rules, assess, decide, dry_run
from nlsh.session import Shell, run_script_lines
from nlsh.wiring import default_registry

REG = default_registry()


@pytest.mark.parametrize("line,out", [
    ('for f in *.txt; do echo "[$f]"; done', "[a.txt]\n[b.txt]\n"),
    ("for f in a b c; do echo -n $f; done; echo", "abc\n"),
    ("for f in 3 1 2; do echo $f; done | sort", "1\n2\n3\n"),
    ("for f in 1 2; do for g in a b; do echo $f$g; done; done", "1a\n1b\n2a\n2b\n"),
    ("for n in $(echo 1 2); do echo n$n; done > o.txt && cat o.txt", "n1\nn2\n"),
    ("for f in; do echo never; done; echo after", "after\n"),
    ("for f in a b; do false; done; echo $?", "1\n"),
    ("for f in a b; do echo $f; done; echo last=$f", "a\nb\nlast=b\n"),
    ("nice -n 5 for f in a b; do echo $f; done", "a\nb\n"),                 # a modifier before a loop
])
def test_loops_run_their_body_per_word(sh, line, out):
    r = sh(line, {"a.txt": "", "b.txt": ""})
    assert (r.out, r.err) == (out, "")


@pytest.mark.parametrize("line,out", [
    ("if test -e a.txt; then echo yes; fi", "yes\n"),
    ("if test -e c.txt; then echo yes; else echo no; fi", "no\n"),
    ("if false; then echo 1; elif test -e b.txt; then echo 2; else echo 3; fi", "2\n"),
    ("if false; then echo 1; elif false; then echo 2; fi; echo status=$?", "status=0\n"),
    ("if true; then false; fi; echo status=$?", "status=1\n"),
    ("if echo cond; then echo body; fi", "cond\nbody\n"),
    ("if [ -d sub ]; then echo dir; fi", "dir\n"),
    ("for f in a.txt c.txt; do if test -e $f; then echo has $f; else echo no $f; fi; done",
     "has a.txt\nno c.txt\n"),
    ("if true; then echo b; echo a; fi | sort", "a\nb\n"),
    ("if true; then echo x; fi > o.txt; cat o.txt", "x\n"),
    ("while test ! -e made; do touch made; echo round; done; ls made", "round\nmade\n"),
    ("until test -e made; do touch made; echo round; done; echo $?", "round\n0\n"),
    ("while false; do echo never; done; echo after", "after\n"),
])
def test_if_while_and_until_as_in_bash(sh, line, out):
    r = sh(line, {"a.txt": "", "b.txt": "", "sub/x": ""})
    assert (r.out, r.err) == (out, "")


def test_assignments_as_in_bash(sh):
    assert parse("x=5 y='a b'", REG) == parse("export x=5 y='a b'", REG)
    assert text(parse("LC_ALL=C X='a b' sort f", REG), REG.signature) == "LC_ALL=C X='a b' sort f"
    assert parse("echo x=5", REG).calls[0].name == "echo"
    r = sh("x=5; n='a b'; echo $x $n; X=one printenv X; echo \"[$X]\"")
    assert (r.out, r.err) == ("5 a b\none\n[]\n", "")


def test_a_variable_set_for_one_command_as_in_bash(sh):
    # a built-in and a function see it while they run; it is gone afterwards; each sees the one before
    r = sh('f() { echo "f: $X"; X=changed; }; X=before; X=for-f f; echo "after: $X"; '
           'A=1 B=$A printenv B; echo "[$A]"; X=5 echo "$X"; '
           'printf "  a b  \\n" | { IFS= read -r line; echo "[$line]"; }')
    assert (r.out, r.err) == ("f: for-f\nafter: before\n1\n[]\nbefore\n[  a b  ]\n", "")
    r = sh("readonly R=1; R=2 printenv R; echo $?")
    assert r.out == "1\n" and "R: readonly variable" in r.err
    with pytest.raises(ParseError, match="array cannot be set for one command"):
        parse("a[1]=x ls", REG)
    with pytest.raises(ParseError, match="syntax error near 'do'"):
        parse("X=1 for i in 1; do echo; done", REG)


@pytest.mark.parametrize("line,out", [
    ('IFS=, read a b <<< "1,2,3,"; echo "[$a][$b]"', "[1][2,3,]"),
    ('IFS=, read a b <<< "1,2,"; echo "[$a][$b]"', "[1][2]"),
    ('IFS=, read a b <<< "1,,2"; echo "[$a][$b]"', "[1][,2]"),
    ('IFS=", " read a b c <<< " x , y  z ,"; echo "[$a][$b][$c]"', "[x][y][z]"),
    ('read a b <<< "  p   q  r  "; echo "[$a][$b]"', "[p][q  r]"),
    ('IFS=: read -a f <<< "a::b:"; echo ${#f[@]} "${f[1]}" "${f[2]}"', "3  b"),
    ('set -- a b c; IFS=-; echo "$*"; x=(1 2); echo "${x[*]}"; IFS=; echo "$*"', "a-b-c\n1-2\nabc"),
    # an unquoted $(…) splits on $IFS
    ("IFS=$'\\n'; for w in $(printf 'a b\\nc d\\n'); do echo \"[$w]\"; done", "[a b]\n[c d]"),
    ("IFS=:; echo $(printf 'a:b::c:')", "a b  c"),
    ("echo pre$(echo ' 1  2 ')post", "pre 1 2 post"),
])
def test_ifs_splits_what_read_reads_and_joins_star_as_in_bash(sh, line, out):
    r = sh(line)
    assert (r.out, r.err) == (out + "\n", "")


@pytest.mark.parametrize("line,out", [
    ("echo $'tab\\there' x$'\\n'y", "tab\there x\ny"),
    ("printf '%s|' $'it\\'s' $'\\x41\\u00e9' $'a\\\\b' $'\\101\\cA' | od -An -c | tr -s ' '",
     " i t ' s | A 303 251 | a \\ b | A 001 |"),
    ('echo "$\'not-c\\n\'"', "$'not-c\\n'"),               # inside double quotes it is as written
])
def test_ansi_c_quotes_as_in_bash(sh, line, out):
    r = sh(line)
    assert (r.out, r.err) == (out + "\n", "")


def test_ansi_c_quotes_print_and_read_back():
    for line in ["echo $'a\\tb' x", "IFS=$'\\n' read x", "cat <<< $'l1\\nl2'"]:
        assert text(parse(line, REG), REG.signature) == line
    assert text(parse("echo $'it\\'s'", REG), REG.signature) == "echo 'it'\\''s'"
    with pytest.raises(ParseError, match="unterminated"):
        parse("echo $'abc", REG)


@pytest.mark.parametrize("line,out", [
    # the input ended before the line did: the status is 1, what was read is set
    ("printf 'a\\nb' | while read l; do echo \"[$l]\"; done", "[a]"),
    ("printf 'a\\nb' | while read -r l || [[ -n $l ]]; do echo \"<$l>\"; done", "<a>\n<b>"),
    ("{ printf x; echo y; } | { read v; echo \"v=$v\"; }", "v=xy"),
    # -d: another character ends the line; what follows it is read next
    ("printf 'k1=v1;k2=v2;' | while IFS='=' read -r -d ';' k v; do echo \"$k -> $v\"; done", "k1 -> v1\nk2 -> v2"),
    ("printf 'one two\\n' | { read -d ' ' w; echo \"w=$w st=$?\"; }", "w=one st=0"),
    ("echo abc | { read -d x w; echo \"w=$w st=$?\"; }", "w=abc st=1"),
    ("find . -name '*.txt' -print0 | sort -z | while IFS= read -r -d '' f; do echo \"<$f>\"; done",
     "<./a b.txt>\n<./c.txt>"),
    ("find . -name '*.txt' -print0 | xargs -0 -n1 echo | sort", "./a b.txt\n./c.txt"),
])
def test_read_as_in_bash(sh, line, out):
    r = sh(line, {"a b.txt": "", "c.txt": ""})
    assert (r.out, r.err) == (out + "\n", "")


def test_printf_v_sets_a_variable(sh):
    r = sh("printf -v n '%03d-%s' 7 x; echo \"[$n]\"; printf -v 'a b' x")
    assert r.out == "[007-x]\n" and "'a b': not a variable name" in r.err


def test_assignments_on_one_line_are_made_in_turn_as_in_bash(sh):
    r = sh("a=1 b=$a; echo \"[$b]\"; export p=2 q=$((p+1)); echo $q; f() { local x=5 y=$x; echo $y; }; f; "
           "arr=(3 1 2); IFS=$'\\n' sorted=($(sort <<<\"${arr[*]}\")); unset IFS; echo \"${sorted[@]}\"; "
           "set -x; m=1 n=$m; set +x")
    assert r.out == "[1]\n3\n5\n1 2 3\n"
    assert "+ export m=1 n=1\n" in r.err


def test_an_assigned_value_is_one_word_as_in_bash(sh):
    r = sh('x=$(printf "a  b"); y=*.txt; z=$(printf "1  2") printenv z; echo "$x|$y"', {"a.txt": ""})
    assert (r.out, r.err) == ("1  2\na  b|*.txt\n", "")


@pytest.mark.parametrize("line,out", [
    ('cat names.txt | while read n; do echo "- $n"; done', "- ann\n- bob smith\n"),
    ('while read first rest; do echo "$rest|$first"; done < names.txt', "|ann\nsmith|bob\n"),
    ('cat names.txt | while read; do echo "[$REPLY]"; done', "[ann]\n[bob smith]\n"),
    ("seq 5 | while read a; do read b; echo $a$b; done", "12\n34\n5\n"),       # at the end b is emptied
    ("ls | while read f; do wc -c $f; done", "14 names.txt\n"),                  # records read as lines
    ("echo x | read v; echo $v; read w < names.txt; echo $w", "x\nann\n"),
    ("read nothing; echo $?", "1\n"),                                            # no input: status 1
    ("for w in go stop go; do if test $w = stop; then break; fi; echo $w; done", "go\n"),
    ("for w in a skip b; do if test $w = skip; then continue; fi; echo $w; done", "a\nb\n"),
    ("for a in 1 2; do for b in x y; do if test $b = y; then continue 2; fi; echo $a$b; done; echo never; done",
     "1x\n2x\n"),
    ("yes | while read y; do echo $y; break; done; echo after", "y\nafter\n"),
    ("while true; do echo once; break 9; done", "once\n"),
])
def test_read_break_and_continue_as_in_bash(sh, line, out):
    r = sh(line, {"names.txt": "ann\nbob smith\n"})
    assert (r.out, r.err) == (out, "")


def test_break_outside_a_loop_is_an_error_and_the_line_goes_on(sh):
    r = sh("break; echo after; continue 0; for x in a; do break 0; done; echo x | read 1x")
    assert r.out == "after\n"
    assert r.err == ("nlsh: break: only meaningful in a for, while or until loop\n"
                     "nlsh: continue: only meaningful in a for, while or until loop\n"
                     "nlsh: break: 0: loop count out of range\n"
                     "nlsh: read: '1x': not a variable name\n")



@pytest.mark.parametrize("line,out,status", [
    ("while true; do echo a; exit 3; done; echo never", "a\n", 3),
    ("f() { for i in 1 2; do echo $i; exit 4; done; }; f; echo never", "1\n", 4),
    ("set -e; for i in 1 2; do echo $i; false; done; echo never", "1\n", 1),
    ("{ echo a; exit 2; echo b; }; echo never", "a\n", 2),
    ("for i in 1 2; do (exit 5); echo $?; done", "5\n5\n", 0),
])
def test_exit_inside_a_loop_or_block_ends_the_shell_as_in_bash(sh, line, out, status):
    """`exit` in a loop's body once left the loop going round for ever."""
    r = sh(line)
    assert (r.out, r.status) == (out, status)


def test_break_with_a_word_ends_the_script_as_in_bash_never_spins(sh):
    """bash: `break $x` with a non-number is fatal (status 128); it once went round
    `while true` for ever."""
    r = sh("x=oops; while true; do echo hi; break $x; done; echo never")
    assert (r.out, r.err, r.status) == ("hi\n", "nlsh: break: oops: numeric argument required\n", 128)
    r = sh("for i in 1 2; do echo $i; break 0; done; echo after")
    assert (r.out, r.err) == ("1\nafter\n", "nlsh: break: 0: loop count out of range\n")


@pytest.mark.parametrize("script,out", [
    ("if [[ 0 -eq 1 ]]\nthen\n  echo if\nelse\n  echo else\nfi\n", "else\n"),
    ("n=3\nfor ((a=1; a <= n; a++))\ndo\n  echo $a\ndone\n", "1\n2\n3\n"),
    ("while (( n < 2 ))\ndo\n  (( n++ ))\ndone\necho $n\n", "2\n"),
])
def test_then_or_do_on_the_line_after_brackets_as_in_bash(sh, script, out):
    """A line ending in ]] or )) is a whole condition; `then`/`do` may come next
    (it was a traceback)."""
    r = sh(script.rstrip("\n"))
    assert (r.status, r.out, r.err) == (0, out, "")

@pytest.mark.parametrize("line,out", [
    ("(cd sub && pwd | count); pwd | count", "1\n1\n"),
    ("(x=5; cd sub; alias l=ls; echo in $x); echo \"out [$x]\"; pwd | count; which l", "in 5\nout []\n1\n"),
    ("(exit 3); echo status $?", "status 3\n"),
    ("(echo a; echo b;) | sort -r > o.txt; cat o.txt", "b\na\n"),
    ("seq 3 | (read a; read b; echo $b)", "2\n"),
    ("for i in 1 2; do (echo $i) ; done; (for j in x; do echo $j; done)", "1\n2\nx\n"),
    ("echo '(x)' \\(y\\)", "(x) (y)\n"),
])
def test_subshells_as_in_bash(sh, line, out):
    r = sh(line, {"sub/f": ""})
    assert r.out == out


@pytest.mark.parametrize("line,out", [
    ("{ echo a; echo b; } > o.txt; cat o.txt", "a\nb\n"),
    ("{ cd sub; }; pwd | count; echo { } x", "1\n{ } x\n"),
    ("{ echo b; echo a; } | sort; for i in 1; do { echo in; }; done", "a\nb\nin\n"),
])
def test_groups_as_in_bash(sh, line, out):
    assert sh(line, {"sub/f": ""}).out == out


@pytest.mark.parametrize("line,out", [
    ("for f in a.c b.h c.x d.C; do case $f in *.c|*.C) echo C $f;; *.h) echo H $f;; *) ;; esac; done",
     "C a.c\nH b.h\nC d.C\n"),
    ("case nothing in x) echo no;; esac; echo $?; case x in x) false;; esac; echo $?", "0\n1\n"),
    ("case abc in\n  a*)\n    echo starts-a\n    ;;\n  *)\n    echo other\nesac", "starts-a\n"),  # over lines
    ("v='a  b'; case $v in 'a  b') echo one-word;; esac; case $(echo q) in (q) echo sub;; esac", "one-word\nsub\n"),
    ("case x in x) case y in [xy]) echo inner;; esac;; esac | sort; (case z in ?) echo paren;; esac)",
     "inner\nparen\n"),
    ("seq 2 | case x in x) cat;; esac > o.txt; cat o.txt", "1\n2\n"),
    ("for w in a stop b; do case $w in stop) break;; esac; echo $w; done", "a\n"),
])
def test_case_as_in_bash(sh, line, out):
    r = sh(line)
    assert (r.out, r.err) == (out, "")


@pytest.mark.parametrize("line,out", [
    ('greet() { echo "hello $1 ($#)"; }; greet world; greet a b', "hello world (1)\nhello a (2)\n"),
    ('f() { for a in "$@"; do echo "[$a]"; done; echo $*; }; f "a b" c', "[a b]\n[c]\na b c\n"),
    ("f() { echo before; return 3; echo after; }; f; echo $?", "before\n3\n"),
    ("f() { for i in 1 2 3; do if test $i = 2; then return 7; fi; echo $i; done; }; f; echo $?", "1\n7\n"),
    ("x=out; f() { local x=in y=$(printf 'a  b'); echo $x \"$y\"; x=changed; }; f; echo $x [$y]",
     "in a  b\nout []\n"),
    ("function g { echo g-$1; }; g 1; function h() { echo h; }; h; k() (cd sub; pwd | count); k; pwd | count",
     "g-1\nh\n1\n1\n"),
    ("up() { tr a-z A-Z; }; echo hi | up | cat", "HI\n"),
    ("count_to() { echo $1; if test $1 -lt 3; then count_to $(( $1 + 1 )); fi; }; count_to 1", "1\n2\n3\n"),
    ("f() { echo in-f; }\nf; type f; f() { echo again; }; f", "in-f\nf: shell function\nagain\n"),
    ("f()\n{\n  echo $1-$2\n}\nf a b; : ignored words; echo $?", "a-b\n0\n"),
    ("f() { while test $# -gt 0; do echo $1; shift; done; shift 5; echo $?; }; f a 'b c'", "a\nb c\n1\n"),
    # a definition's redirections belong to every call, not to the definition
    ("f() { cat; } <<EOF; echo before; f; f\n1\nEOF", "before\n1\n1\n"),
    ("g() { echo $1; } >> g.out; g a; g b; cat g.out", "a\nb\n"),
])
def test_functions_as_in_bash(sh, line, out):
    r = sh(line, {"sub/x": ""})
    assert (r.out, r.err) == (out, "")


def test_command_runs_the_real_thing_and_says_what_a_name_is(sh, work):
    r = sh("echo() { command echo \"[$*]\"; }; echo a b; ls() { command ls -1 \"$@\" | count; }; ls sub; "
           "alias ll='ls -l'; command -v ll echo bash; echo $?; command -v nosuchthing; echo $?; command -V echo",
           {"sub/x": "", "sub/y": ""})
    assert r.out.splitlines() == ["[a b]", "2", "alias ll='ls -l'", "echo", shutil.which("bash"), "[0]", "[1]",
                                  "echo: shell function"]
    assert sh("command").err.startswith("nlsh: command:")
    shell = _shell(work)
    assert text(shell.parse("f() { command bash --version; }").calls[0].get("body"), REG.signature) == \
        "{ command bash --version; }"
    refused = decide(shell.parse("ls() { command rm -rf $1; }; ls ~"), shell, Rules(), planned=False)
    assert refused.action == "deny" and "never allowed" in refused.reason
    shell.shutdown()


def test_set_e_ends_the_script_at_a_failure_outside_conditions(sh):
    r = sh("set -e\necho one\nif false; then echo no; fi\nwhile false; do :; done\nfalse || echo handled\n"
           "false && echo no\nx=$(false; echo sub); echo $x\n(false; echo not-in-subshell) || echo subshell-failed\n"
           "f() { false; echo not-in-f; }\nf\necho never")
    assert (r.out, r.status) == ("one\nhandled\nsub\nnot-in-subshell\n", 1)     # as bash
    r = sh("set -e; set +e; false; echo goes-on; set -o errexit; ls nothing-here; echo never")
    assert (r.out, r.status) == ("goes-on\n", 2)     # ls: 2 for a name that is not there, as GNU ls
    r = sh("set -e\n(false; echo not-in-job) &\nwait\necho a-job-ends-alone")      # the job, not the shell
    assert (r.out, r.status) == ("a-job-ends-alone\n", 0)


def test_set_pipefail_positional_words_and_mistakes(sh):
    r = sh("set -o pipefail; false | cat; echo $?; set +o pipefail; false | cat; echo $?; "
           "set -- a 'b c'; echo $# $2; set --; echo $#; set -o | grep pipefail")
    assert r.out == "1\n0\n2 b c\n0\npipefail    off\n"
    r = sh("export NLSH_T=7; set | grep NLSH_T=; set -e -o")
    assert (r.out, r.err) == ("NLSH_T=7\n", "nlsh: set: -o: an option name is needed (set -o pipefail)\n")
    r = sh("set -k; echo $?; set -o nosuch; set x 'y z'; echo $# $2; set -euo")
    assert r.err == ("nlsh: set: -k: -k is not an option nlsh has (it has -e, -u, -x, -C, -f and -o pipefail; + "
                     "turns one off)\n"
                     "nlsh: set: -o nosuch: not an option nlsh has (it has errexit, noclobber, noglob, nounset, "
                     "pipefail, xtrace)\n"
                     "nlsh: set: -euo: an option name is needed (set -euo pipefail)\n")
    assert r.out == "1\n2 y z\n"


def test_set_euo_pipefail_the_strict_start_of_a_script(sh):
    r = sh("set -euo pipefail; set -o; echo ${unset_here:-default}; false | cat; echo never")
    assert r.out == ("errexit     on\nnoclobber   off\nnoglob      off\nnounset     on\npipefail    on\n"
                     "xtrace      off\ndefault\n")
    assert r.status == 1


def test_set_u_an_unset_variable_ends_the_script(sh, nlsh):
    script = "set -u\necho ${1:-none} $# \"$@\"\n(echo $gone; echo not-in-subshell)\necho $? left\necho $gone\necho never"
    r = sh(script)
    assert r.out == "none 0\n1 left\n"          # a subshell it ends has status 1, a script 1, as bash
    assert r.err == "nlsh: echo: gone: unbound variable (set -u)\n" * 2 and r.status == 1
    r = nlsh("-c", script)
    assert (r.out, r.status) == ("none 0\n1 left\n", 127)    # bash -c ends with 127
    r = sh("set -u; f() { local x; echo $x; }; f; echo never")
    assert (r.out, r.status) == ("", 1)          # local x gives x no value, as in bash
    r = sh("set -u; set +u; echo [$gone]")
    assert (r.out, r.status) == ("[]\n", 0)


def test_set_x_prints_each_command_as_it_runs(sh):
    r = sh("set -x\nx='a b'\necho \"$x\" $x | wc -l\nf() { ls -a $1 > /dev/null; }\nf .\n"
           "for i in 1; do bash -c 'exit 0' $i; done\nset +x\necho quiet")
    assert r.err == ("+ export x='a b'\n+ echo 'a b' a b\n+ wc -l\n+ f .\n+ ls -a .\n"
                     "+ bash -c 'exit 0' 1\n+ set +x\n")
    assert r.out == "1\nquiet\n"


def test_function_mistakes(sh):
    r = sh("return; local x=1; f() { f; }; f; g() { break; }; for i in 1; do g; done")
    assert r.err == ("nlsh: return: can only return from a function\n"
                     "nlsh: local: can only be used in a function\n"
                     "nlsh: f: functions nested more than 100 deep (one calls itself without end?)\n"
                     "nlsh: break: only meaningful in a for, while or until loop\n")


def test_a_function_is_judged_where_it_is_called(work):
    shell = _shell(work)
    assert decide(parse("f() { rm -rf ~; }", REG), shell, Rules(), planned=True).action == "allow"   # defined only
    refused = decide(shell.parse("f() { rm -rf $1; }; f ~"), shell, Rules(), planned=False)
    assert refused.action == "deny" and "never allowed" in refused.reason
    shell.functions["g"] = shell.parse("g() { rm $1; }").calls[0].get("body")
    assert decide(shell.parse("g a.txt"), shell, Rules(), planned=True).action == "ask"
    shell.shutdown()


def test_a_subshell_in_the_background_leaves_the_shell_where_it_is(work):
    (work / "sub").mkdir()
    shell = _shell(work)
    run_script_lines(shell, ["(cd sub; export X=1; sleep 1; pwd) &", "sleep 0.3", "pwd; echo \"[$X]\"", "wait"])
    assert shell.out.getvalue().splitlines()[:2] == [str(work), "[]"]
    assert shell.cwd == str(work) and "X" not in shell.env
    shell.shutdown()


def test_a_while_loop_stops_at_ctrl_c_or_a_limit(sh):
    r = sh("limit --time 1s -- while true; do sleep 0.1; done")
    assert r.status == 137 and "time limit 1s exceeded" in r.err


@pytest.mark.parametrize("line,message", [
    ("if true; then echo", "if: missing '; fi'"),
    ("if true; echo; fi", "if: expected '; then' after the condition (if COMMANDS; then …; fi)"),
    ("if; then echo; fi", "if: expected CONDITION; before 'then'"),
    ("if true; then; fi", "if: expected COMMANDS; before 'fi'"),
    ("if true; then echo; else; fi", "else: expected COMMANDS; before 'fi'"),
    ("fi", "syntax error near 'fi' (no 'if' before it)"),
    ("echo; then echo", "syntax error near 'then' (no 'if' before it)"),
    ("while true; echo; done", "while: expected '; do' after the condition (while COMMANDS; do …; done)"),
    ("until true; do echo", "until: missing '; done'"),
    ("while true; do sleep 1 & done", "while: a background job (&) inside a loop is not supported"),
    ("if true; then echo; fi extra", "syntax error near 'extra' (after 'fi')"),
    # ( … ) and { …; }
    ("echo (x)", "unsupported character '(' here (quote it to use it literally; ( … ) starts a command)"),
    ("(echo", "( without its )"), ("( )", "empty ( )"),
    ("(sleep 1 &)", "a background job (&) inside ( … ) is not supported"),
    ("(echo) x", "syntax error near 'x' (after ')')"),
    ("}", "syntax error near '}' (no '{' before it)"), ("{ echo a }", "{: missing '; }'"),
    ("{ echo a; } x", "syntax error near 'x' (after '}')"), ("{ ; }", "{: expected COMMANDS; before '}'"),
    # case
    ("case x in a) echo;;", "case: missing 'esac'"),
    ("case x in a echo;; esac", "case: expected ')' after the pattern (case WORD in PATTERN|PATTERN) COMMANDS;; … esac)"),
    ("case x in ) echo;; esac", "case: expected a pattern (case WORD in PATTERN|PATTERN) COMMANDS;; … esac)"),
    ("case x in a) sleep 1 &;; esac", "case: a background job (&) inside a case is not supported"),
    ("case x", "case: expected case WORD in PATTERN|PATTERN) COMMANDS;; … esac"),
    ("echo a;; echo b", "syntax error near ';;' (it ends a branch of a case)"),
    ("esac", "syntax error near 'esac' (no 'case' before it)"),
])
def test_a_broken_block_names_what_is_wrong(line, message):
    with pytest.raises(ParseError) as e:
        parse(line, REG)
    assert e.value.message == message


def test_a_branch_or_loop_body_that_deletes_asks_first(work):
    shell = _shell(work)
    assert decide(parse("if test -e a; then rm a; fi", REG), shell, Rules(), planned=True).action == "ask"
    assert decide(parse("while false; do rm -r d; done", REG), shell, Rules(), planned=True).action == "ask"
    assert decide(parse("if true; then echo a; else echo b; fi", REG), shell, Rules(), planned=True).action == "allow"
    assert decide(parse("case $x in a) echo;; *) rm a;; esac", REG), shell, Rules(), planned=True).action == "ask"
    shell.shutdown()


def test_exit_in_a_loop_leaves_the_shell(sh):
    r = sh("for f in a b; do echo $f; exit 3; done\necho not-here")
    assert (r.status, r.out) == (3, "a\n")


def test_a_loop_renames_with_a_replacement(sh, work):
    r = sh('for f in pgm?.py; do mv -- "$f" "${f/pgm/pgm00}"; done && ls', {"pgm1.py": "1", "pgm2.py": "2"})
    assert r.out == "pgm001.py\npgm002.py\n" and r.status == 0


def test_a_slice_longer_than_the_value_is_an_error(sh):
    r = sh("export p=abc; echo ${p:2:-3}")
    assert r.status == 1 and "nlsh: echo: ${p:2:-3}: the length -3 ends before the offset" in r.err


def test_a_loop_renames_with_a_suffix_expansion(sh, work):
    r = sh('for f in *.mpg; do mv "$f" "${f%.mpg}.avi"; done && ls', {"a.mpg": "1", "b c.mpg": "2"})
    assert r.out == "a.avi\nb c.avi\n" and r.status == 0
    assert (work / "b c.avi").read_text() == "2"


@pytest.mark.parametrize("word,out", [
    ("${p%.*}", "dir/a.tar"), ("${p%%.*}", "dir/a"), ("${p#*/}", "a.tar.gz"), ("${p##*.}", "gz"),
    ("${p%.zip}", "dir/a.tar.gz"), ("${none:-fallback}", "fallback"), ("${p:-x}", "dir/a.tar.gz"),
    ('"${p%.gz}!"', "dir/a.tar!"),
    ("${p/a/X}", "dir/X.tar.gz"), ("${p//a/X}", "dir/X.tXr.gz"), ("${p/#dir/D}", "D/a.tar.gz"),
    ("${p/%gz/GZ}", "dir/a.tar.GZ"), ("${p/%/.bak}", "dir/a.tar.gz.bak"), ("${p/a}", "dir/.tar.gz"),
    ("${p//[.\\/]/_}", "dir_a_tar_gz"), ("${p//\\//-}", "dir-a.tar.gz"), ("${p/*./X.}", "X.gz"),
    ("${p^^}", "DIR/A.TAR.GZ"), ("${p^}", "Dir/a.tar.gz"), ("${q,,}", "abc"), ("${q,}", "aBC"),
    ("${#p}", "12"), ("${p:4}", "a.tar.gz"), ("${p:4:3}", "a.t"), ("${p: -2}", "gz"), ("${p:1:-3}", "ir/a.tar"),
    ("${none:-$q/x}", "ABC/x"), ("${none:-~}", "HOME"), ('${none:-"a  b"}', "a  b"), ("${none:-${q,,}}", "abc"),
    ("[${e-d}][${e:-d}][${none-d}]", "[][d][d]"), ("[${q:+set}][${e:+set}][${e+set}][${none+set}]", "[set][][set][]"),
    ("${none:=new} $none", "new new"), ("${e=kept}[$e]", "[]"), ("${e:=filled} $e", "filled filled"),
    ("${1:-one} ${#} ${?}", "one 0 0"), ("$((${#q} + 1))", "4"),
])
def test_expansions_as_bash_does_them(sh, word, out, monkeypatch):
    monkeypatch.setenv("HOME", "HOME")
    r = sh(f"export p=dir/a.tar.gz q=ABC e=; echo {word}")
    assert (r.err, r.out) == ("", out + "\n")


@pytest.mark.parametrize("expr,value", [
    ("1 + 2 * 3", 7), ("(1 + 2) * 3", 9), ("-2 ** 2", 4), ("2 ** 3 ** 2", 512), ("7 / -2", -3), ("-7 % 3", -1),
    ("7 > 3 ? 10 : 20", 10), ("0 ? 1 : 0 ? 2 : 3", 3), ("!0 + ~0", 0), ("1 << 4 | 1", 17), ("6 & 3 ^ 1", 3),
    ("0x1f + 010 + 2#101", 44), ("3 > 2 && 0 || 5", 1), ("n + $n + ${n}", 15), ("1, 2, n", 5), ("", 0),
    ("1 + $((2 + 3))", 6), ("$(($((n * 2)) - 1)) * 2", 18),
])
def test_arithmetic_as_bash_computes_it(sh, expr, value):
    assert sh(f"n=5; echo $(({expr}))").out == f"{value}\n"


def test_arithmetic_sets_variables(sh):
    r = sh("x=1; echo $((x++)) $x $((++x)) $((x += 10)) $((y = x * 2, y - 1)) $y; ((x--)); echo $x; "
           "((x == 12)) && echo twelve; ((x > 100)) || echo small; ((0)); echo $?; let a=1+1 'b = a << 2'; "
           "echo $a $b; let 0; echo $?; echo $((0 && (z = 1))) [$z]")
    assert r.out == "1 2 3 13 25 26\n12\ntwelve\nsmall\n1\n2 8\n1\n0 []\n"
    assert r.err == ""


def test_arithmetic_for_loops(sh):
    r = sh("for ((i = 0; i < 3; i++)); do echo $i; done; for ((j=0;j<9;j++)) do ((j == 1)) && continue; "
           "((j > 3)) && break; echo j$j; done; for ((;;)); do echo once; break; done\n"
           "for ((k = 3; k > 0; k--)); do\n  echo k$k\ndone | sort")
    assert r.out == "0\n1\n2\nj0\nj2\nj3\nonce\nk1\nk2\nk3\n" and r.status == 0


def test_a_variable_that_is_not_a_number_is_an_expression_as_in_bash(sh):
    r = sh("s=abc; a=5; t=a; e='2 + 3'; o=010; echo $((s + 1)) $((t + 1)) $((e * 2)) $((o)) $((-o))")
    assert r.out == "1 6 10 8 -8\n" and r.err == ""


@pytest.mark.parametrize("line,err", [
    ("((1 +))", "nlsh: bad arithmetic ((1 +)): the expression ends too soon\n"),
    ("echo $((1/0))", "nlsh: echo: $((1/0)): division by 0\n"),
    ("((x = 1 / 0)); echo [$x]", "nlsh: ((: x = 1 / 0: division by 0\n"),
    ("s='a b'; echo $((s + 1))", "nlsh: echo: $((s + 1)): s='a b': unexpected 'b'\n"),
    ("x=x; echo $((x + 1))", "nlsh: echo: $((x + 1)): x='x': variables refer to one another without end\n"),
    ("echo $(( $(ls) ))", "nlsh: bad arithmetic $(( $(ls) )): a $(…) is not allowed here: set a variable to it first\n"),
    ("for ((i=0; i<3)); do echo; done", "nlsh: for: expected (( INIT; CONDITION; STEP )), two ';' inside\n"),
    ("for ((i=0; i<3; i++)); echo; done", "nlsh: for: expected '; do' after (( … ))\n"),
    ("echo $((" + "(" * 80 + "1" + ")" * 80 + "))", "nlsh: bad arithmetic $((" + "(" * 80 + "1" + ")" * 80
     + ")): nested too deep\n"),
])
def test_arithmetic_mistakes(sh, line, err):
    r = sh(line)
    assert r.err == err
    assert r.status != 0 or line.endswith("[$x]")      # there echo runs after the failed ((…))


@pytest.mark.parametrize("line,out", [
    ("[[ -f a.txt ]] && echo file; [[ -f d ]] || echo not-file; [[ -d d && ! -f d ]] && echo dir", "file\nnot-file\ndir"),
    ("[[ -e nope ]]; echo $?; [[ -s a.txt && ! -s empty ]] && echo sizes; [[ -L link && -r a.txt ]] && echo link",
     "1\nsizes\nlink"),
    ("x=a.txt; [[ $x == *.txt ]] && echo glob; [[ $x == \"*.txt\" ]] || echo literal; [[ $x != *.md ]] && echo ne",
     "glob\nliteral\nne"),
    ("p='*.txt'; [[ a.txt == $p ]] && echo pattern-from-a-variable; [[ 'a b' == a\\ * ]] && echo escaped-blank",
     "pattern-from-a-variable\nescaped-blank"),
    (("[[ abc123 =~ ^[a-z]+([0-9]+)$ ]] && echo re; re='^a.c$'; [[ abc =~ $re ]] && echo re-var; "
     "[[ abc =~ \"a.c\" ]] || echo quoted-is-literal"), "re\nre-var\nquoted-is-literal"),
    ("n=5; [[ $n -gt 3 && $n -le 5 && n -eq 2+3 ]] && echo numbers; [[ b > a && a < b ]] && echo strings",
     "numbers\nstrings"),
    ("[[ -z '' && -n x && x ]] && echo words; [[ ( -f a.txt || -f nope ) && ! ( -e nope ) ]] && echo groups",
     "words\ngroups"),
    ("[[ a.txt -nt nope && a.txt -ef ./a.txt ]] && echo files; [[ '==' == '==' ]] && echo quoted-operator",
     "files\nquoted-operator"),
    ("[[ -f nope && -n $(echo ran >&2) ]]; echo $?; [[ -n $(echo hi) ]] && echo substituted", "1\nsubstituted"),
    ("x=1; [[ -v x && ! -v nope && -r a.txt && -w a.txt && ! -x a.txt ]] && echo access",
     "access"),
    ("for ((i = 0; i < 3; i++)); do [[ $i -lt 2 ]] && echo $i; done", "0\n1"),
    # no blank needed around < > && || ( ) inside [[ ]]
    (("[[ b<a ]] || echo not-before; [[ b>a ]] && echo after; x=5; [[ $x -gt 3&&$x -lt 9 ]] && echo in; "
      "[[ ''||! (1 == 2)&&(2 == 2)]] && echo joined"), "not-before\nafter\nin\njoined"),
    ("echo [[ x ]]; if [[ -d d ]]; then echo if; fi; while [[ $i != xx ]]; do i=${i}x; done; echo $i",
     "[[ x ]]\nif\nxx"),
])
def test_conditional_command_as_bash(sh, work, line, out):
    (work / "d").mkdir()
    (work / "link").symlink_to("a.txt")
    r = sh(line, {"a.txt": "x", "empty": ""})
    assert (r.out, r.err) == (out + "\n", "")


@pytest.mark.parametrize("line,err,status", [
    ("[[ ]]", ("nlsh: [[: an empty [[ ]] ([[ EXPRESSION ]]: -f FILE, STRING == PATTERN, A -lt B, … joined by "
              "&& || ! ( ))\n"), 2),
    ("[[ a == b", "nlsh: unterminated [[ (no ]] after it)\n", 2),
    ("[[ ( -f a ]]", "nlsh: [[: a '(' without its ')'\n", 2),
    ("[[ a -eq ]]", "nlsh: [[: -eq needs something after it\n", 2),
    ("[[ a =~ ( ]]", "nlsh: [[: =~ (: not a regular expression (missing ), unterminated subpattern at position 0)\n",
     2),
    ("[[ a == a$(ls) ]]", "nlsh: a $(…) in a [[ pattern is not supported: set a variable to it first\n", 2),
    ("nice [[ -d d ]]", "nlsh: syntax error near '[[' ([[ … ]] must start the command)\n", 2),
    ("[[ x -lt 1/0 ]]", "nlsh: [[: '1/0': division by 0\n", 2),
    ("[[ a&b ]]", "nlsh: unexpected '&' in [[ … ]] (&& and || join tests)\n", 2),
])
def test_conditional_mistakes(sh, line, err, status):
    r = sh(line)
    assert (r.err, r.status) == (err, status)


def test_trap_exit_runs_as_the_script_ends(nlsh, work):
    r = nlsh("-c", "tmp=$(mktemp -p .); trap 'rm -f \"$tmp\"; echo cleaned $?' EXIT; trap; ls $tmp | count")
    assert r.out.splitlines()[1:] == ["1", "cleaned 0"] and r.out.startswith("trap -- 'rm -f \"$tmp\"; echo cleaned $?' EXIT")
    assert list(work.iterdir()) == [] and r.status == 0
    for line, out, status in [("trap 'echo bye' EXIT; exit 3", "bye\n", 3),
                              ("set -e; trap 'echo bye $?' EXIT; false; echo never", "bye 1\n", 1),
                              ("trap 'echo a' EXIT; trap - EXIT; echo none", "none\n", 0),
                              ("trap 'exit 9' EXIT; true", "", 9),
                              ("trap later EXIT; later() { echo later ran; }", "later ran\n", 0),
                              ("(trap 'echo inner' EXIT); echo outer", "outer\n", 0)]:
        r = nlsh("-c", line)
        assert (r.out, r.err, r.status) == (out, "", status), line
    r = nlsh("-c", "trap 'echo cleanup' EXIT INT; echo body")
    assert (r.out, r.err) == ("body\ncleanup\n", ("nlsh: trap: INT: not trapped: nlsh traps only EXIT (which also runs "
                                                  "when set -e or exit ends a script; Ctrl-C cancels the running command)\n"))
    r = nlsh("-c", "trap 'echo (' EXIT")
    assert r.status == 2 and r.err.startswith("nlsh: trap: 'echo (': unsupported character")


def test_trap_lists_and_takes_dash_dash(nlsh):
    r = nlsh("-c", "trap -p; trap -- 'echo e' EXIT; trap -p; trap")
    assert (r.out, r.err) == ("trap -- 'echo e' EXIT\ntrap -- 'echo e' EXIT\ne\n", "")


@pytest.mark.parametrize("line,err", [
    ("let", "nlsh: let: missing EXPR\n"), ("exec", ""),
    (". ", "nlsh: .: missing FILE\n"), ("trap", ""),
])
def test_missing_words_are_one_line_errors(sh, line, err):
    assert sh(line).err == err


def test_eval_and_exec(sh):
    r = sh("cmd='echo hi | tr a-z A-Z'; eval \"$cmd\"; for v in a b; do eval \"n_$v=1\"; done; echo $n_a$n_b; "
           "echo piped | eval cat; x=$(exec echo sub); echo $x; eval 'rm -rf ~'; echo $?")
    assert r.out == "HI\n11\npiped\nsub\n126\n"
    assert r.err == f"nlsh: eval: rm -rf ~: refused: deleting {os.path.expanduser('~')} is never allowed\n"
    r = sh("f() { exec bash -c 'exit 4'; }\nf\necho never")
    assert (r.out, r.status) == ("", 4)


def test_a_subshell_in_a_subshell_changes_directory(sh, work):
    (work / "d").mkdir()
    r = sh("((cd d; pwd); pwd); ( (cd d) ); echo \"$( (cd d; pwd) )\"; pwd")
    assert r.out == f"{work}/d\n{work}\n{work}/d\n{work}\n"


def test_special_variables(sh):
    r = sh("echo $$; echo ${$}; echo $PPID; echo $RANDOM; echo $SECONDS; RANDOM=7; echo $RANDOM; "
           "echo $HOSTNAME $UID $EUID")
    pid, pid2, ppid, rand, seconds, seven, host, uid, euid = r.out.split()
    assert (int(pid), int(pid2), int(ppid)) == (os.getpid(), os.getpid(), os.getppid())
    assert 0 <= int(rand) < 32768 and 0 <= int(seconds) < 60 and seven == "7"
    assert (host, int(uid), int(euid)) == (socket.gethostname(), os.getuid(), os.geteuid())


def test_dollar_bang_is_the_last_background_job(sh):
    r = sh("echo [$!]\nbash -c 'exit 3' &\necho $!\nwait $!\necho $?")
    assert r.out.splitlines()[0] == "[]" and r.out.splitlines()[-2:] == ["%1", "3"]


def test_tilde_names_a_users_home(sh):
    root = pwd.getpwnam("root").pw_dir
    r = sh('echo ~root ~root/x ~"root" ~no_such_user_here a~b; x=1; echo ~$x')
    assert r.out == f"{root} {root}/x ~root ~no_such_user_here a~b\n~1\n"


@pytest.mark.parametrize("line,err,out", [
    ("echo ${none:?give a name}; echo after", "nlsh: echo: none: give a name\n", ""),     # the script ends
    ("echo ${none?}", "nlsh: echo: none: parameter not set\n", ""),
    ("x=; echo ${x:?}", "nlsh: echo: x: parameter null or not set\n", ""),
    ("echo ${1:=a}", "nlsh: ${1:=…}: only a named variable can be assigned this way\n", ""),
    ("echo ${x:-$(ls)}", "nlsh: a $(…) inside ${…} is not supported: set a variable to it first (d=$(…); ${x:-$d})\n",
     ""),
])
def test_expansion_operand_mistakes(sh, line, err, out):
    r = sh(line)
    assert (r.err, r.out, r.status) == (err, out, 2 if "$(" in line or "${1" in line else r.status)


@pytest.mark.parametrize("line", [
    'for f in *.txt; do mv "$f" "${f%.txt}.md"; done | sort > list',
    "for f in 1 2; do for g in a b; do echo $f$g; done; done",
    "echo ${x:-a b}x \"${y#*/}z\"",
    "echo ${x:-$HOME/a} ${x:=\"b c\"} ${x:+${y:-z}} ${x?gone} $$ ${#} $!x $$x ~root/a ~\"b\"",
    "for ((i = 0; i < 3; i++)); do ((n += i)); done; for ((;;)); do break; done; ((x)) > f && let y++",
    "[[ -f a && ! ( $x == *.t\"x\"t || $(ls) =~ ^(a|b)$ ) ]] && [[ '==' == \"]]\" && a < b ]] > f",
    "limit --time 5s -- for f in a; do for g in b; do echo $f$g; done; done",
    "if test -e a; then echo a; elif true; then echo b; elif false; then echo x; else echo c; fi > f",
    "if true; then if false; then echo; fi; else for f in a; do echo; done; fi",
    "while true; do echo; done | first 3; until false && true; do sleep 1; done",
    "(cd a && ls; (echo b)) > f; echo '(c)'",
    "{ echo a; { echo b; }; } | sort; echo '{' x",
    "case $f in *.txt|*.md) echo doc;; (esac) ;; *) case $x in y) echo; echo z;; esac;; esac > o",
    "(case x in x) echo;; esac; echo y) | sort",
    "f() { echo \"$1\" $# $@; return 2; }; f a | sort; g() (local x=1)",
])
def test_loops_print_back_as_they_parse(line):
    plan = parse(line, REG)
    assert parse(text(plan, REG.signature), REG) == plan


def test_for_is_a_plain_word_as_an_argument(sh):
    assert sh("echo for do done").out == "for do done\n"


def _shell(work) -> Shell:
    shell = Shell(out=io.StringIO(), err=io.StringIO())
    shell.cwd = str(work)
    return shell


def test_the_body_is_assessed_for_each_word(work):
    for name in ("a.tmp", "b.tmp", "keep.txt"):
        (work / name).write_text("x")
    shell = _shell(work)
    risk = assess(parse("for f in *.tmp; do rm $f; done", REG), shell)
    assert risk.summary() == "deletes 2 paths"
    assert dry_run(risk, str(work)) == ["would delete 2 files (2 B): a.tmp, b.tmp"]
    renames = assess(parse('for f in *.tmp; do mv "$f" "${f%.tmp}.bak"; done', REG), shell)
    assert dry_run(renames, str(work)) == ["would write 2 paths: a.bak, b.bak"]
    unknown = assess(parse("for f in $(cat list); do rm $f; done", REG), shell)
    assert dry_run(unknown, str(work)) == ["would delete ($f as the loop sets it)"]
    assert decide(parse("for f in a b; do echo $f; done", REG), shell, Rules(), planned=True).action == "allow"
    assert decide(parse("for f in a b; do rm $f; done", REG), shell, Rules(), planned=True).action == "ask"


def test_judging_a_line_assigns_nothing(work):
    (work / "a.tmp").write_text("x")
    shell = _shell(work)
    risk = assess(parse("rm ${target:=a.tmp}", REG), shell)
    assert dry_run(risk, str(work)) == ["would delete 1 file (1 B): a.tmp"]
    assert "target" not in shell.env        # ${x:=…} assigns when the line runs, not while it is judged
    shell.shutdown()


def test_dot_runs_a_script_in_this_shell(sh):
    r = sh("echo 'x=7' > settings; . settings; echo $x; type .; . nosuchfile", {})
    assert r.out == "7\n.: nlsh built-in\n"
    assert r.err.startswith("nlsh: .: cannot read ") and r.err.endswith("nosuchfile: No such file or directory\n")


def test_a_planned_loop_that_writes_is_refused_without_confirmation(work):
    (work / "a.txt").write_text("x")
    shell = _shell(work)
    shell.rules = Rules(typed="check")
    assert run_script_lines(shell, ['for f in *.txt; do mv "$f" "${f%.txt}.md"; done']) == 126
    assert (work / "a.txt").exists() and not (work / "a.md").exists()
    shell.shutdown()


@pytest.mark.parametrize("lines,same_as", [
    ("for f in a b; do\n  echo $f\ndone", "for f in a b; do echo $f; done"),
    ("echo a  # note\necho b\n", "echo a; echo b"),
    ("ls |\nwc -l", "ls | wc -l"),
    ("true &&\n\necho ok", "true && echo ok"),
    ("for f in a b\ndo\n  echo $f\ndone", "for f in a b; do echo $f; done"),
    ("if true\nthen\n  echo a\nelif false\nthen\n  echo b\nelse\n  echo c\nfi",
     "if true; then echo a; elif false; then echo b; else echo c; fi"),
    ("while true\ndo\n  echo then\ndone", "while true; do echo then; done"),
])
def test_a_newline_ends_a_command_where_bash_ends_one(lines, same_as):
    assert parse(lines, REG) == parse(same_as, REG)


def test_a_script_may_spread_a_loop_over_lines(sh):
    r = sh("for f in a b; do\n  echo got-$f\ndone\necho 'two\nlines'\nls |\nwc -l")
    assert r.out == "got-a\ngot-b\ntwo\nlines\n0\n" and r.status == 0


def test_explaining_a_loop_names_its_parts():
    from nlsh.policy import explain
    lines = explain(parse('for f in *.txt; do mv "$f" "${f%.txt}.md"; done', REG), REG)
    assert lines[0].endswith("(the variable: f; the words: *.txt; the commands: mv \"$f\" \"${f%.txt}.md\")")
    assert lines[1].startswith("mv \"$f\" \"${f%.txt}.md\": Move or rename")


def test_a_limit_before_a_loop_stops_the_whole_loop(sh):
    r = sh("limit --time 1s -- for f in a b; do sleep 5; echo never; done")
    assert r.status == 137 and "time limit 1s exceeded" in r.err and "never" not in r.out


def test_records_from_a_loop_body_stay_records(sh):
    r = sh("for d in a b; do ls $d; done | where size > 0 | get name", {"a/x": "data", "b/y": ""})
    assert (r.out, r.err) == ("a/x\n", "")


@pytest.mark.parametrize("line", [
    "echo 12345 > n.txt; read -n 4 x < n.txt; read -n 2 < n.txt; echo \"[$x][$REPLY]\"",
    "echo '  a b  ' | { read -n 4; echo \"[$REPLY]\"; }; echo abcxyz | { read -n 3; read r; echo $REPLY-$r; }",
    "echo 'a b c' > n.txt; read -n 5 A B C < n.txt; echo \"'$A' '$B' '$C'\"; read -N 4 A B < n.txt; echo \"'$A' '$B'\"",
    "printf 'a\\nb\\nc\\n' | { read -N 3 out; echo \"[$out]\"; }; echo foobar | { read -n 5 -d b; echo $REPLY; }",
    "echo 'one\\ two' | { read e; echo \"[$e]\"; }; echo 'one\\ two' | { read -r e; echo \"[$e]\"; }",
    "printf '%s\\n' 'a b\\' 'c d' | { read; echo \"[$REPLY]\"; }; printf '%s\\n' 'a b\\,c d' | { read; echo \"[$REPLY]\"; }",
    "echo ' a b \\' | { read a b; echo \"[$a][$b]\"; }; echo 'x\\ y z' | { read a b; echo \"[$a][$b]\"; }",
    "echo '  a b  ' | { read; echo \"[$REPLY]\"; }; echo '  a b  ' | { read v; echo \"[$v]\"; }",
    "echo hi | { read -rn1 var; echo var=$var; }; echo 'Aa b \\ a\\ b' | { read a b c; echo \"[$a][$b][$c]\"; }",
])
def test_read_n_N_and_backslashes_as_in_bash(like_bash, line):
    """read -n/-N and, without -r, backslash escapes and continued lines; bash is the reference."""
    like_bash(line)


def test_for_without_in_goes_over_the_positional_words_as_in_bash(sh):
    r = sh('set -- a "b c"; for i; do echo "[$i]"; done; f() { for x\ndo echo "<$x>"; done; }; f 1 2')
    assert (r.out, r.err) == ("[a]\n[b c]\n<1>\n<2>\n", "")


@pytest.mark.parametrize("line", [
    "v='[x'; echo ${v#\"[\"} ${v#[}",
    "v='a*b'; p='a*'; echo ${v#\"a*\"} ${v#\"$p\"} \"${v#$p}\" ${v#'a*'}",
    "v='a.b.c'; echo ${v%.*} ${v%%'.'*} ${v/'.'/-} ${v//./_}",
])
def test_quoted_parts_and_variables_in_a_pattern_as_in_bash(like_bash, line):
    """In ${v#PAT} quoted text matches itself and an unquoted $p is a pattern; bash is the reference."""
    like_bash(line)


@pytest.mark.parametrize("line,out", [
    ("true; ! false; echo $?; ! true; echo $?; ! false | cat; echo $?", "0\n1\n1\n"),
    ("if ! { false; }; then echo neg; fi; if ! [[ -e nowhere ]]; then echo missing; fi", "neg\nmissing\n"),
    ("set -e; true; ! true; echo survived", "survived\n"),          # set -e spares `! …`, as in bash
    ("f() { return 3; }; true && ! f && echo yes; while ! false; do echo once; break; done", "yes\nonce\n"),
])
def test_a_pipeline_turned_over_by_bang_as_in_bash(sh, line, out):
    r = sh(line)
    assert (r.out, r.err) == (out, "")


def test_a_script_line_starting_with_bang_is_negation_not_the_shell_escape(nlsh, work):
    """At the prompt `!cmd` hands the line to $SHELL; in a script `! cmd` is bash's negation."""
    r = nlsh(input="! false\necho $?\n! echo shown\necho $?\n")
    assert (r.out, r.status) == ("0\nshown\n1\n", 0), r.err


@pytest.mark.parametrize("line", [
    "a=(1 2 3 4 5 6); echo ${a[@]:(-4)} ${a[@]:1:2} ${a[@]: -2}",
    "x=abcdef; i=1; echo ${x:i+1:2} ${x:(-3)} ${x: -2} ${x:2} \"[${x:2:}]\" ${x:1:-1}",
    "set -- a b c d; echo ${@:2} ${@:1:2}",
])
def test_slices_take_arithmetic_as_in_bash(like_bash, line):
    like_bash(line)


def test_read_with_a_bad_count_or_timeout_is_a_one_line_error(sh):
    r = sh("read -n x v < /dev/null; echo $?; read -t -1 v < /dev/null; echo $?; read -N 2 v < /dev/null; echo $?")
    assert r.out == "1\n1\n1\n"         # bash: 1 for a bad timeout too
    assert r.err == "nlsh: read: x: invalid number\nnlsh: read: -1: invalid timeout specification\n"


@pytest.mark.parametrize(("line", "out"), [
    ("f() { rev; }; echo hi | f", "ih\n"),                                  # a program in a function
    ("printf 'a\\nb\\n' | { tr a-z A-Z; }", "A\nB\n"),                      # … in { }
    ("printf 'a\\nb\\n' | ( tr a-z A-Z )", "A\nB\n"),                       # … in ( )
    # a program that reads nothing leaves every line to the loop, as in bash
    ("printf 'x\\ny\\n' | while read f; do wc -c list; echo \"got $f\"; done", "2 list\ngot x\n2 list\ngot y\n"),
    # one that reads takes the rest: the loop has no round left
    ("printf 'x\\ny\\nz\\n' | while read f; do echo \"got $f\"; cat; done", "got x\ny\nz\n"),
    ("f() { date > /dev/null; cat; }; printf 'a\\nb\\n' | f", "a\nb\n"),
])
def test_a_blocks_input_reaches_the_programs_in_it_as_they_read_it(sh, line, out):
    assert sh(line, {"list": "l\n"}).out == out


@pytest.mark.parametrize(("line", "out"), [
    ("case a in a) echo A;& b) echo B;; c) echo C;; esac", "A\nB\n"),                 # ;& runs the next branch too
    ("case ab in a*) echo one;;& *b) echo two;;& x) echo x;; *) echo any;; esac", "one\ntwo\nany\n"),  # ;;& tests on
    ("x=b; case $x in a) echo A;; b) echo B;& c) echo C;& d) echo D;; e) echo E;; esac", "B\nC\nD\n"),
    ("case z in a) echo A;;& esac; echo st=$?", "st=0\n"),
])
def test_case_branches_fall_through_as_in_bash(sh, line, out):
    assert sh(line).out == out


@pytest.mark.parametrize(("line", "out"), [
    ("echo *.[[:punct:]] *.[[:punct:]E]", "foo.- e.E foo.-\n"),           # POSIX classes in brackets, as bash
    ("case a1 in [[:alpha:]][[:digit:]]) echo yes;; esac", "yes\n"),
    ("case a/b in a[[:punct:]]b) echo slash;; esac", "slash\n"),
    ("[[ x- == *[[:punct:]] ]] && echo p", "p\n"),
    ("echo *.zz; set -o noglob; echo *.zz; set +f; echo *.zz", "a.zz b.zz\n*.zz\na.zz b.zz\n"),   # set -f
    # a bracket spans quoted characters: [C\-D] is C, - or D; [\[z] is [ or z
    ("echo *.[D-F] *.[\\-D]; echo *.[[:punct\\:]]; echo e[\\.z]E", "e.E foo.-\nfoo.-\ne.E\n"),
    # in a value a backslash quotes the next character: *\*.zz is a * then .zz
    ("v='*\\*.zz'; printf '[%s]' $v; v='*\\b.zz'; printf '[%s]' $v; echo", "[*\\*.zz][b.zz]\n"),
    ("s='a\\b*'; [[ $s == 'a\\b*' ]] && echo lit; case $s in a\\\\b\\*) echo esc;; esac; echo ${s//\\\\/-}",
     "lit\nesc\na-b*\n"),
])
def test_wildcard_classes_and_noglob_as_in_bash(sh, line, out):
    assert sh(line, {"foo.-": "", "e.E": "", "a.zz": "", "b.zz": ""}).out == out


@pytest.mark.parametrize(("line", "out"), [
    ("pat='a*'; case abc in \"$pat\") echo lit;; $pat) echo glob;; esac", "glob\n"),   # quoted: itself
    ("case 'a*' in \"a*\") echo q;; esac", "q\n"),
    ("case ab in a\\*) echo esc;; a*) echo g;; esac", "g\n"),
    ("case '[x' in \"[\"*) echo br;; esac", "br\n"),
    ("case $(echo hi) in $(echo h)*) echo sub;; esac", "sub\n"),       # an unquoted value is a pattern
])
def test_case_patterns_quote_as_in_bash(sh, line, out):
    assert sh(line).out == out


@pytest.mark.parametrize(("line", "out"), [
    ("empty=''; echo ${empty:?is empty}; echo should not get here", ""),      # ${x?…} ends a script, as in bash
    ("echo ${unset?is unset}; echo should not get here", ""),
    ("x=1; echo ${x?no}; echo ok", "1\nok\n"),
    ("set -u; echo $zz; echo no", ""),
])
def test_a_missing_value_ends_the_script_with_bashs_status(sh, nlsh, line, out):
    r = sh(line)
    assert (r.out, r.status) == (out, 1 if not out else 0)                # a script: 1
    r = nlsh("-c", line)
    assert (r.out, r.status) == (out, 127 if not out else 0)              # -c text: 127, as bash -c


@pytest.mark.parametrize("line", [
    'base=16; echo $(( ${base}#a ))',                                   # the text goes in before it is read
    'zero=0; echo $(( ${zero}11 )) $(( ${zero}xAB ))',
    'foo=5 x=oo; echo $(( foo + f$x + 1 ))',
    'foo=bar; echo $(( x$foo = 42 )) $xbar; echo $(( x$foo[5] = 7 )) ${xbar[5]}; echo $(( x$foo++ )) $xbar',
    'e="2+3"; echo $(( $e*2 )) $(( e*2 ))',                              # 8 (text) and 10 (a name)
    'x=; set -- 4 5; echo $(( $x + 1 )) $(( $1$2 + 1 )) $(( ${#x} + ${u:-4} ))',
    'echo "${u-\\$}" "${u-\\(}" "${u-\\z}" "${u-\\"}" "${u-\\`}" "${u-\\\\}" "${u-\\e}" ${u-\\z}',   # "…\\z" keeps \\
])
def test_arithmetic_text_and_operand_backslashes_as_in_bash(like_bash, line):
    like_bash(line)


def test_read_n_counts_characters_after_backslashes_and_r_keeps_a_line_continuation(sh):
    r = sh("""echo 'a\\b\\c\\d\\e' | (read -n 4; echo "[$REPLY]"); printf 'ab\\\\\\ncd\\n' | (read -n 3; echo "[$REPLY]")
echo 'a\\
b' | (read -r; echo "[$REPLY]"); echo abc | (read -n 0 x; echo "[$x]"; read -t 0; echo $?)
read -a arr other <<< 'x y'; echo "${arr[1]}" "[${other-unset}]\"""")
    assert r.out == "[abcd]\n[abc]\n[a\\]\n[]\n0\ny [unset]\n"


@pytest.mark.parametrize("line", [
    "echo $((64#a))-$((64#Z)), $((64#@)) $((16#ff)) $((36#Zz)); [[ -64#a -eq -10 ]] && echo baseN",
    "echo -n $'\\001' $'\\377' $'\\xe9' $'\\u00e9' | od -A n -c; x=x; echo $\"foo $x\"",
    "x=abc; echo ${x%$'b'*} \"${x%$'b'*}\"; v=\"++--''\"; echo \"${v//['+-']}\"; y='a[[-]]b'; echo \"${y//['[]']}\"",
    "HOME=/h; [[ ~ == ~ ]] && [[ $HOME == ~ ]] && [[ ~/x == /h/x ]] && echo t; HOME='^a$'; [[ $HOME =~ ~ ]] && echo re",
    "echo -$()- \".$().\" -``-; set -- $(); echo $#",
    "set -- '' ''; IFS=; echo \"[${*:-minus}]\" \"[${@:-minus}]\"",
])
def test_small_bash_forms(like_bash, line):
    like_bash(line)


def test_break_outside_a_loop_goes_on_and_a_keyword_after_an_assignment_is_no_command(sh, nlsh):
    r = sh("f() { if break; then echo hi; fi; }; f; break; echo $?; return; echo $?")
    assert r.out == "hi\n0\n2\n" and r.err.count("only meaningful in a for, while or until loop") == 2
    r = nlsh(input="FOO=bar [[ a == a ]]\necho $?\nFOO=bar for\necho $?\nfor - in a; do :; done\necho $?\n")
    assert r.out == "127\n127\n1\n"
    r = nlsh(input="echo $((2#3))\necho $?\necho $((65#1))\n")
    assert r.out == "1\n" and "'3': value too great for base 2" in r.err and "65: invalid arithmetic base" in r.err


@pytest.mark.parametrize("line", [
    "echo $(x=a; case $x in [0-9]) echo number;; [a-z]) echo letter;; esac) \"$(case b in (a) echo A;; (b) echo B;; esac)\"",
    "g() { return 300; }; g; echo $?; k() { return -1; }; k; echo $?",
])
def test_case_inside_a_substitution_and_return_values(like_bash, line):
    like_bash(line)
