"""Arrays as bash has them: a=(…), ${a[i]}, "${a[@]}", associative arrays,
mapfile, read -a, BASH_REMATCH and PIPESTATUS."""

from __future__ import annotations

import pytest


def test_an_array_keeps_its_words_and_gives_a_word_each(sh):
    r = sh('a=(one "two three" four); echo "${a[1]}" ${#a[@]} $a "${a[-1]}"; '
           'for x in "${a[@]}"; do echo "[$x]"; done; printf "<%s>" "${a[*]}"; echo')
    assert r.out == "two three 3 one four\n[one]\n[two three]\n[four]\n<one two three four>\n"


def test_elements_are_set_appended_and_unset_by_index(sh):
    r = sh("a=(x y); a+=(z); a[5]=w; echo ${a[@]}; echo ${!a[@]}; unset 'a[1]'; echo ${a[@]} ${#a[@]}; "
           "i=1; a[i+1]=Z; echo ${a[2]} ${a[$i+1]}")
    assert r.out == "x y z w\n0 1 2 5\nx z w 3\nZ Z\n"
    r = sh("s=abc; s+=def; a=(1 2); a+=3; echo $s ${a[@]}; s[1]=x; echo ${s[@]}")
    assert r.out == "abcdef 13 2\nabcdef x\n"       # a plain variable is element 0


def test_an_array_literal_spans_lines_and_expands_its_words(sh, work):
    (work / "b.txt").write_text("")
    (work / "a.txt").write_text("")
    r = sh("n=2\nfiles=(\n  *.txt   # every text file\n  {1..$n} 'q r'\n  [9]=last\n)\ndeclare -p files")
    assert r.out == 'declare -a files=([0]="a.txt" [1]="b.txt" [2]="{1..2}" [3]="q r" [9]="last")\n'
    r = sh("e=(); echo ${#e[@]} \"[${e[@]}]\"; set -- \"${e[@]}\"; echo $#")
    assert r.out == "0 []\n0\n"          # "${e[@]}" of an empty array is no word at all


def test_operations_apply_to_each_element(sh):
    r = sh("f=(a.txt b.txt c.md); echo ${f[@]%.txt}; echo ${f[@]^^}; echo ${f[@]/./_}; echo ${f[@]:1}; "
           "echo ${f[@]:1:1}; echo ${#f[0]}; echo ${f[@]:-none}; e=(); echo ${e[@]:-none}")
    assert r.out == "a b c.md\nA.TXT B.TXT C.MD\na_txt b_txt c_md\nb.txt c.md\nb.txt\n5\na.txt b.txt c.md\nnone\n"


def test_associative_arrays_take_keys(sh):
    r = sh('declare -A m=([x]=1 ["y z"]=2); m[w]=3; k="y z"; echo ${m[$k]} ${m[w]} ${#m[@]}; '
           'for key in "${!m[@]}"; do echo "$key=${m[$key]}"; done; unset "m[x]"; declare -p m')
    assert r.out == '2 3 3\nx=1\ny z=2\nw=3\ndeclare -A m=(["y z"]="2" ["w"]="3")\n'
    r = sh("declare -A m; m=(one two)")
    assert r.status == 1 and "m: an associative array's values need keys" in r.err


def test_arithmetic_reads_and_sets_elements(sh):
    r = sh("n=(3 4); ((n[0]++)); ((n[2] = n[0] * n[1])); echo ${n[@]} $((n[1] + 1)); "
           "for ((i = 0; i < 3; i++)); do sq[i]=$((i * i)); done; echo ${sq[@]}; echo $(( ${#n[@]} - 1 ))")
    assert r.out == "4 4 16 5\n0 1 4\n2\n"


def test_local_and_declare_arrays_belong_to_the_function(sh):
    r = sh("a=(out); f() { local a=(in side); local -A m=([k]=v); echo ${a[1]} ${m[k]}; }; f; "
           "echo ${a[@]} ${#m[@]}; g() { declare -a b=(1 2); }; g; echo ${#b[@]}")
    assert r.out == "side v\nout 0\n0\n"
    r = sh("a=(x y); (a[0]=z; echo ${a[@]}); echo ${a[@]}")     # a subshell changes its own copy
    assert r.out == "z y\nx y\n"


def test_mapfile_and_read_a_fill_arrays(sh):
    files = {"names.txt": "ann lee\nbob\ncy\n"}
    r = sh('mapfile -t L < names.txt; echo ${#L[@]} "${L[0]}"; readarray -s 1 -n 1 M < names.txt; '
           'printf "<%s>" "${M[@]}"; echo; read -a W < names.txt; echo ${W[1]} ${#W[@]}; '
           'cat names.txt | mapfile; echo ${#MAPFILE[@]}', files)
    assert r.out == "3 ann lee\n<bob\n>\nlee 2\n3\n"


def test_bash_rematch_and_pipestatus(sh):
    r = sh('if [[ v1.22.3 =~ ^v([0-9]+)\\.([0-9]+) ]]; then echo ${BASH_REMATCH[0]} ${BASH_REMATCH[2]}; fi; '
           '[[ x =~ y ]]; echo ${#BASH_REMATCH[@]}; false | true | (exit 3); echo ${PIPESTATUS[@]}')
    assert r.out == "v1.22 22\n0\n1 0 3\n"


def test_an_array_is_not_in_the_environment_of_programs(sh):
    r = sh("a=(x y); s=plain; env | grep -c '^a=' ; env | grep '^s='")
    assert r.out == "0\ns=plain\n"


def test_indirection_and_positional_slices(sh):
    r = sh("x=hi; ref=x; echo ${!ref}; a=(p q); ref='a[1]'; echo ${!ref}; set -- a b c d; echo ${@:2} ${@:2:1} ${#@}")
    assert r.out == "hi\nq\nb c d b 4\n"
    r = sh('my_a=1; my_c=(x y); my_b=2; other=3; echo ${!my_*}; for n in "${!my_@}"; do echo "[$n]"; done; '
           'IFS=,; echo "${!my_*}"')
    assert (r.out, r.err) == ("my_a my_b my_c\n[my_a]\n[my_b]\n[my_c]\nmy_a,my_b,my_c\n", "")


def test_an_indirection_takes_every_operation(sh):
    r = sh('x=hello; ref=x; echo "${!ref-no}" "${!ref:+alt}" "${!ref#he}" "${!ref^^}" ${#ref}; '
           'ref=u; echo "[${!ref-def}]" "${!ref:=set}" "$u"; '
           "a=(p q r); ref='a[@]'; printf '<%s>' \"${!ref}\" \"${!ref/q/Q}\"; echo; "
           'foo=42; hs=(foo bar); printf "[%s]" ${!hs+"${!hs}"}; echo')
    assert (r.out, r.err) == ("hello alt llo HELLO 1\n[def] set set\n<p><q><r><p><Q><r>\n[42]\n", "")
    r = sh('unset ref; echo "${!ref-x}"; echo after')
    assert r.out == "after\n" and r.err == "nlsh: echo: ${!ref}: '' is not a variable name\n"


def test_array_mistakes_give_one_line(sh):
    for line, message in [("echo (a b)", "unsupported character '('"),
                          ("a=(x", "unterminated array"),
                          ("a=(x) ls", "an array cannot be set for one command"),
                          ("a=(x); a[-5]=y", "a[-5]: bad array subscript"),     # setting it (reading gives nothing)
                          ("a=(x | y)", "syntax error near '|' in an array's ( … )"),
                          ("echo ${a[]}", "bad array subscript"),
                          ("readonly r=(1 2); r[0]=3", "r: readonly variable"),
                          ("declare -a -A q", "-a and -A"),
                          ("a=([]=x)", "empty [ ] before = in an array"),
                          ("a=([k]={x,y})", "[k]= takes one word"),
                          ("a=(x)y", "syntax error near 'y' (after an array's ')')"),
                          ("declare -A m; m=(v)", "m: an associative array's values need keys"),
                          ("a=(1); a[x+]=3", "a[x+]: the expression ends too soon"),
                          ("ref=1x; echo ${!ref}", "${!ref}: '1x' is not a variable name"),
                          ("unset 'a[1'", "'a[1': not a variable name"),
                          ("mapfile -t 1a < /dev/null", "'1a': not a variable name"),
                          ("f() { local; }; f", "a NAME is needed: local NAME[=VALUE]")]:
        r = sh(line)
        assert r.status != 0 and message in r.err and r.err.count("\n") == 1, (line, r.err)


def test_set_x_and_declare_p_show_arrays_as_bash_does(sh):
    r = sh("set -x; a=(1 'b c'); a[3]+=x; set +x; declare -p a; set | grep '^a='")
    assert r.err == "+ export a=(1 'b c')\n+ export a[3]+=x\n+ set +x\n"
    assert r.out == 'declare -a a=([0]="1" [1]="b c" [3]="x")\na=([0]="1" [1]="b c" [3]="x")\n'


@pytest.mark.parametrize("line", [
    'a=(1 "2 3"); echo "[${a[-1]}] [${a[-2]}] [${a[-5]}]" $((a[-5]))',     # before the first: nothing, no error
    'a=(x); a[9]=y; unset -v "a[-1]"; echo ${#a[@]} "${a[@]: -1}"; x=1; unset -v x; echo "[$x]"',
    'f() { echo f; }; unset -f f; type f >/dev/null 2>&1; echo $?',
    'array=(1 2 3); [[ -v array[1] ]]; echo $?; [[ -v array[4] ]]; echo $?; z=0; [[ -v array[z+2] ]]; echo $?',
    'a[0]=x; a[5]=y; for i in -1 -2 -6 -7; do [[ -v a[$i] ]]; echo "$i $?"; done',
    'e=(); [[ -v e ]]; echo $?; b[3]=x; [[ -v b ]]; echo $?; c=(1); [[ -v c ]]; echo $?',
])
def test_negative_indices_unset_flags_and_v_as_in_bash(like_bash, line):
    like_bash(line)


def test_an_array_slice_counts_indices_and_a_default_may_be_an_array(sh):
    r = sh("""(( b[33]=1 )); (( b[66]=2 )); (( b[99]=3 )); printf '[%s]' "${b[@]:15:2}" "${b[@]: -34}"; echo
a=(1 2 3 4); echo "(${a[*]: -5})" "(${a[*]: -2})"; x=abc; echo "[${x: -5}]"
d=('1 2' 3); printf '[%s]' "${u[@]:-${d[@]}}" "${d[@]:+x y}"; echo
i=(0 1); a[${i[1]}]=9; echo "${a[@]}"
""")
    assert r.out == "[1][2][2][3]\n() (3 4)\n[]\n[1 2][3][x y]\n1 9 3 4\n" and r.err == ""
    r = sh('a=(1 2 3); echo "${a[@]: 1: -1}"')
    assert r.status == 1 and "substring expression < 0" in r.err
