"""declare/typeset, readonly, getopts, umask and builtin, as bash scripts use them."""

from __future__ import annotations

import os


def test_readonly_refuses_a_new_value_and_unset(sh):
    r = sh("readonly LIMIT=10; LIMIT=11; echo $LIMIT")
    assert r.out == "10\n" and "LIMIT: readonly variable" in r.err
    r = sh("readonly A=1; unset A; echo $A; A=$(echo 2) || echo failed")
    assert r.out == "1\nfailed\n" and "A: cannot unset: readonly variable" in r.err
    r = sh("readonly B=1; (B=2) ; echo $?; ((B++)); echo $B; for B in x; do :; done; echo $B")
    assert r.out == "1\n1\n1\n" and r.err.count("B: readonly variable") == 3
    r = sh("readonly C=1 D; readonly; readonly -p")
    assert r.out == 'declare -rx C="1"\n' * 2       # D has no value: read-only, not shown


def test_declare_sets_variables_a_functions_own_unless_g(sh):
    r = sh("x=out; f() { declare x=in y; typeset z=1; declare -g w=2; echo $x; }; f; echo $x ${y-unset} ${z-unset} $w")
    assert r.out == "in\nout unset unset 2\n"
    r = sh("declare -r k='a \"b\" $c'; declare -p k; k=2")
    assert r.out == 'declare -rx k="a \\"b\\" \\$c"\n' and "k: readonly variable" in r.err
    r = sh("declare v=$(printf 'a  b'); echo \"$v\"")       # one word, as an assignment
    assert r.out == "a  b\n"
    r = sh("f() { echo hi | head -n 1; }; g() (cd /); declare -F; declare -f; declare -f nope")
    assert r.out == "declare -f f\ndeclare -f g\nf() { echo hi | head -n 1; }\ng() (cd /)\n"
    assert r.err == "nlsh: declare: nope: not a function\n" and r.status == 1
    r = sh("declare -p HOME NOPE")
    assert r.out.startswith('declare -x HOME="') and r.err == "nlsh: declare: NOPE: not found\n"
    assert "'1x=2': not a variable name" in sh("declare 1x=2").err


def test_declare_says_what_nlsh_does_not_have(sh):
    r = sh("declare -n x")
    assert r.status == 1 and "variables are not in nlsh" in r.err and r.err.count("\n") == 1
    r = sh("declare -l -u x")
    assert r.status == 1 and "-l and -u" in r.err


def test_integer_and_case_variables_as_in_bash(sh):
    r = sh("declare -i n=2+3; echo $n; n+=4; echo $n; n='n*2'; echo $n; "
           "declare -l lo=HeLLo; echo $lo; declare -u up=abc; echo $up; declare -l up; up=XyZ; echo $up; "
           "read -r up <<< Mixed; echo $up; f() { local -i k=7*6; echo $k; }; f; "
           "declare -i a=('1+1' '2*3'); echo \"${a[@]}\"; a[5]=1+4; echo ${a[5]}; declare -p n lo")
    out = "5\n9\n18\nhello\nABC\nxyz\nmixed\n42\n2 6\n5\n" 'declare -ix n="18"\ndeclare -lx lo="hello"\n'
    assert (r.out, r.err) == (out, "")
    # a function's local takes no kind from outside, and its own kind goes when it returns
    r = sh("declare -i g=1; f() { local g=abc; echo $g; local -i n=3*3; echo $n; }; n=4*4; f; g=2+2; n=5*5; echo $g $n")
    assert (r.out, r.err) == ("abc\n9\n4 5*5\n", "")
    r = sh("declare -i n; n='1 +'; echo st=$?")
    assert r.out == "st=1\n" and r.err.startswith("nlsh: export: n: 1 +:") and r.err.count("\n") == 1


def test_getopts_reads_options_as_bash_does(sh):
    loop = 'while getopts "vo:" f; do echo "$f ${OPTARG-}"; done; echo "next $OPTIND"'
    r = sh(f"set -- -v -o out.txt -x rest; {loop}; shift $((OPTIND - 1)); echo $@")
    assert r.out == "v \no out.txt\n? \nnext 5\nrest\n" and r.err == "nlsh: getopts: illegal option -- x\n"
    r = sh(f"set -- -vofile -- -v; {loop}")
    assert r.out == "v \no file\nnext 3\n"
    r = sh('while getopts ":a:" f -a; do echo "$f $OPTARG"; done')        # quiet: : and the letter
    assert r.out == ": a\n" and r.err == ""
    r = sh('f() { local OPTIND; while getopts "n:" o; do echo $OPTARG; done; }; f -n 1; f -n2')
    assert r.out == "1\n2\n"
    assert "'x-y': not a variable name" in sh("getopts a x-y -a").err
    r = sh("OPTIND=two; getopts a o -a")
    assert r.status == 1 and "OPTIND='two' is not a number" in r.err


def test_umask_shows_and_sets_the_mask(sh, work):
    old = os.umask(0o022)
    try:
        r = sh("umask; umask -S; umask 077; umask; touch private; umask u=rwx,g=rx,o=; umask; umask 9")
        assert r.out == "0022\nu=rwx,g=rx,o=rx\n0077\n0027\n" and "9: not a mask" in r.err
        assert os.stat(os.path.join(str(work), "private")).st_mode & 0o777 == 0o600
        assert "a line of its own" in sh("(umask 000)").err
        r = sh("umask 022; umask g-rx,o-r; umask -S; umask a+rx; umask; umask u=rwx,g+w,q=x")
        assert r.out == "u=rwx,g=,o=x\n0022\n" and "q=x: not a mask" in r.err
    finally:
        os.umask(old)


def test_builtin_runs_the_built_in_not_a_function(sh):
    r = sh('echo() { builtin echo "[$*]"; }; echo a b')
    assert r.out == "[a b]\n"
    r = sh("builtin git status")
    assert r.status == 2 and "builtin: git: not a shell built-in" in r.err


def test_an_unquoted_empty_variable_is_no_word_as_in_bash(sh):
    r = sh("""flags=; printf '[%s]' a $flags b "$flags" $NOPE$NOPE ${NOPE%x}; echo""")
    assert r.out == "[a][b][]\n"
    r = sh("x=; for i in $x; do echo never; done; [ -z $x ] && echo z; sh -c 'echo $#' - $x a $x")
    assert r.out == "z\n1\n" and r.err == ""
    r = sh("x='a b'; printf '[%s]' $x \"$x\"; echo")     # unquoted, it splits on $IFS, as in bash
    assert r.out == "[a][b][a b]\n"


def test_a_here_document_may_feed_a_pipeline_that_goes_on_after_its_text(sh):
    r = sh("cat <<EOF |\n1\n2\nEOF\nsort -r\necho done")
    assert (r.out, r.status) == ("2\n1\ndone\n", 0)
    r = sh("cat <<EOF\nnot a pipe |\nEOF\necho after")     # a | inside the text is text
    assert r.out == "not a pipe |\nafter\n"


def test_return_of_an_empty_variable_returns_the_last_status(sh):
    r = sh("f() { false; return $none; }; f; echo $?; g() { true; return $none; }; g; echo $?")
    assert r.out == "1\n0\n"


def test_a_default_word_splits_as_bash_splits_it_and_its_quoted_parts_stay_whole(sh):
    r = sh("""printf '[%s]' 1 ${u:-"2 3" "4 5"} 6 ${u:-} ${u-''}; echo""")
    assert r.out == "[1][2 3][4 5][6][]\n"
    r = sh("""v='a b'; printf '[%s]' ${u:+x} ${v:+"p q" r} ${v%'b'}; echo""")
    assert r.out == "[p q][r][a]\n"
    r = sh("""set -- '1 2' '3 4'; printf '[%s]' X${u=x"$@"x}X; echo; echo "$u"; s="$@"; echo "$s" """)
    assert r.out == "[Xx1][2][3][4xX]\nx1 2 3 4x\n1 2 3 4\n"       # an assignment joins "$@" with spaces
    r = sh("""A='  a  '; printf '[%s]' ""$A"" 1 $A"" 2; echo""")       # "" is a word even beside an empty field
    assert r.out == "[][a][][1][a][][2]\n"


def test_a_tilde_after_braces_or_an_equals_sign_is_the_home_directory(sh):
    r = sh("HOME=/h/bob; echo ~{/src,x} {a~,~}/b; p=~/bin; echo $p opt=~; HOME=; [[ -n ~ ]] || echo empty")
    assert r.out == "/h/bob/src ~x a~/b /h/bob/b\n/h/bob/bin opt=/h/bob\nempty\n"
    assert sh("printf '[%s]' {X,,Y,}; echo").out == "[X][Y]\n"


def test_a_computed_command_word_finds_functions_and_the_shells_own_commands(sh):
    r = sh("""f() { echo "fn $1"; }; g=f; $g a; e=export; w='x y'; $e v=$w; echo $v
for i in 1 2 3; do echo $i; b=break; $b; done; r=return; h() { $r 7; }; h; echo $?; d=cd; $d /; pwd""")
    assert r.out == "fn a\nx\n1\n7\n/\n" and r.err == ""
    r = sh("c=nosuchthing; $c; echo $?")
    assert r.out == "127\n" and "nosuchthing: command not found" in r.err
