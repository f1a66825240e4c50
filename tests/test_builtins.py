"""Built-in commands through the command language: behaviour, records and errors."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


def test_structured_pipeline(sh):
    files = {"big.bin": "x" * 3_000_000, "mid.bin": "x" * 1_500_000, "small": "x", "d/deep.bin": "x" * 2_000_000}
    r = sh("ls -R | where size > 1MB | sort size -r | first 5 | get name", files)
    assert r.out.split() == ["big.bin", "d/deep.bin", "mid.bin"]


def test_programs_after_one_that_already_exited(sh):
    # The first program's process group is gone by the time the next starts.
    for _ in range(5):
        r = sh("true | awk '{print}' | awk 'END {print NR}' | cat")
        assert (r.status, r.out, r.err) == (0, "0\n", "")


def test_where_regex_and_types(sh):
    files = {"a.py": "", "b.txt": "", "c.py": ""}
    assert sh("ls | where name =~ '\\.py$' | get name", files).out.split() == ["a.py", "c.py"]
    assert sh("ls | where name !~ py | count", files).out.strip() == "1"
    assert sh("ls | where modified > 1d | count", files).out.strip() == "3"


def test_where_unknown_field_is_one_line_error(sh):
    r = sh("ls | where colour == red", {"a": ""})
    assert r.status == 1
    assert r.err.startswith("nlsh: where: no field 'colour' (fields: name, type, size, modified)")
    assert len(r.err.splitlines()) == 1


def test_select_prints_tab_separated(sh):
    r = sh("ls | select name size", {"a": "xyz"})
    assert r.out == "a\t3\n"


def test_find_tests_combine(sh, work):
    files = {"src/a.py": "x" * 10, "src/b.py": "", "src/lib/c.py": "", "src/lib/d.txt": "", "top.py": ""}
    assert sh("find src -name '*.py' -type f", files).out.split() == ["src/a.py", "src/b.py", "src/lib/c.py"]
    assert sh("find . -maxdepth 1 -name '*.py'").out.split() == ["./top.py"]
    assert sh("find src -empty -type f").out.split() == ["src/b.py", "src/lib/c.py", "src/lib/d.txt"]
    assert sh("find src -size +0c").out.split() == ["src", "src/a.py", "src/lib"]
    os.utime(work / "src/a.py", (0, 0))
    assert sh("find src -type f -mtime +30").out.split() == ["src/a.py"]


def test_back_pressure_stops_producer_early(sh, work):
    r = sh("find / | first 3")
    assert r.status == 0
    assert len(r.out.splitlines()) == 3


def test_grep_variants(sh):
    files = {"a.txt": "Hello\nworld\nhello again\n", "d/b.txt": "nothing\nHELLO\n"}
    assert sh("grep -i hello a.txt", files).out.splitlines() == ["Hello", "hello again"]
    assert sh("grep -c hello a.txt").out.strip() == "1"
    assert sh("grep -n world a.txt").out.strip() == "2:world"
    assert sh("grep -v hello a.txt").out.splitlines() == ["Hello", "world"]
    assert sh("grep -ril hello .").out.splitlines() == ["./a.txt", "./d/b.txt"]     # as GNU names them
    assert sh("grep -ril hello").out.splitlines() == ["a.txt", "d/b.txt"]
    assert sh("grep -rn HELLO d").out.strip() == "d/b.txt:2:HELLO"
    r = sh("grep zebra a.txt")
    assert r.status == 1 and r.out == ""


def test_sort_uniq_wc_cut_tr_sed(sh):
    files = {"w.txt": "b\na\nb\nc\nb\n", "csv": "name,age\nann,31\nbob,5\n"}
    assert sh("sort w.txt | uniq -c | sort -rn | first", files).out.strip() == "3 b"
    assert sh("sort -u w.txt").out.split() == ["a", "b", "c"]
    assert sh("wc -l w.txt").out.strip() == "5 w.txt"
    assert sh("cat w.txt | wc -l").out.strip() == "5"
    assert sh("cut -d , -f 1 csv").out.split() == ["name", "ann", "bob"]
    assert sh("sort -t , -k 2 -n csv | first | cut -d , -f 1").out.strip() == "name"
    assert sh("echo Hello | tr A-Z a-z").out.strip() == "hello"
    assert sh("echo aaa  bbb | tr -s ' a'").out.strip() == "a bbb"
    assert sh("echo a-b-c | sed 's/-/+/g'").out.strip() == "a+b+c"
    assert sh("echo abc | sed -E 's/(b)(c)/\\2\\1/'").out.strip() == "acb"


def test_head_tail_on_records_and_files(sh):
    files = {"n": "".join(f"{i}\n" for i in range(1, 21))}
    assert sh("head -3 n", files).out.split() == ["1", "2", "3"]
    assert sh("tail -n 2 n").out.split() == ["19", "20"]
    assert sh("cat n | tail -1").out.strip() == "20"


@pytest.mark.parametrize("line,out", [
    # a last line with no newline: cat, head, tail, sed and tee pass it on as it is, as GNU's do
    ("printf 'a\\nb' | cat; echo -n '|'", "a\nb|"),
    ("cat np.txt z.txt; echo '|'", "x\nyz|\n"),
    ("cat -n np.txt; echo '|'", "     1\tx\n     2\ty|\n"),
    ("head -5 np.txt; tail -1 np.txt; echo '|'", "x\nyy|\n"),
    ("printf 'a\\nb' | head -5; printf 'a\\nb' | tail -1; echo '|'", "a\nbb|\n"),
    ("sed s/y/Y/ np.txt; printf 'a\\nb' | sed s/b/B/; echo '|'", "x\nYa\nB|\n"),
    ("printf 'a\\nb' | tee t.out > /dev/null; cat t.out; echo '|'", "a\nb|\n"),
    # grep, sort, uniq, cut and tr make whole lines of it, as GNU's do
    ("printf 'a\\nb' | grep b; printf 'b\\na' | sort; printf 'a' | uniq; printf 'ab' | cut -c1", "b\na\nb\na\na\n"),
    ("echo x | tr '\\n' ' '; printf 'a b' | tr ' ' _; echo '|'", "x a_b|\n"),
])
def test_a_last_line_without_a_newline(sh, line, out):
    r = sh(line, {"np.txt": "x\ny", "z.txt": "z"})
    assert (r.out, r.err) == (out, "")


def test_sum_keeps_sizes(sh):
    r = sh("ls | sum size", {"a": "x" * 1000, "b": "x" * 24})
    assert r.out.strip() == "1024"


def test_file_writes(sh, work):
    sh("mkdir -p a/b; touch a/b/f; cp -r a c; mv c/b/f c/b/g; ln -s a link", {})
    assert (work / "a/b/f").exists() and (work / "c/b/g").exists() and not (work / "c/b/f").exists()
    assert os.readlink(work / "link") == "a"
    r = sh("rm a")
    assert r.status == 1 and "Is a directory" in r.err
    assert sh("rm -r a c link").status == 0
    assert os.listdir(work) == []


def test_cp_into_itself_and_missing_source(sh, work):
    r = sh("cp -r d d/inner", {"d/x": "1"})
    assert r.status == 1 and "into itself" in r.err
    r = sh("cp nope dest")
    assert r.status == 1 and r.err.strip() == "nlsh: cp: cannot stat 'nope': No such file or directory"



def test_cp_modes_and_times_as_gnu_cp(sh, work):
    """An existing target keeps its mode (a device like /dev/null is only written, never
    re-moded: copying its mode, as a root cp once did, locked every other user out of it);
    a new one gets the source's; times are kept only with -p / -a. GNU cp in a twin folder
    is the reference."""
    import subprocess
    import time
    twin = work / "gnu"
    twin.mkdir()
    for d in (work, twin):
        (d / "a").write_text("hi\n")
        (d / "b").write_text("old\n")
        os.chmod(d / "a", 0o600)
        os.chmod(d / "b", 0o640)
        os.utime(d / "a", (1_000_000_000, 1_000_000_000))
    line = "cp a b; cp a c; cp -p a d; ln -s a l; cp l e; cp -r l f; cp -a a g"
    assert sh(line).status == 0
    subprocess.run(["bash", "-c", line], cwd=twin, check=True)
    recent = time.time() - 3600

    def shape(d):
        return {n: (os.lstat(d / n).st_mode, os.lstat(d / n).st_mtime > recent,
                    os.path.islink(d / n) or (d / n).read_text()) for n in "abcdefgl"}
    assert shape(work) == shape(twin)
    assert shape(work)["b"][:2] == (0o100640, True) and shape(work)["d"][1] is False

def test_rm_refuses_root_and_home(sh, monkeypatch, work):
    monkeypatch.setenv("HOME", str(work))
    r = sh("rm -rf /")
    assert r.status == 126 and r.err == "nlsh: refused: deleting / is never allowed\n"
    r = sh("rm -rf ~")
    assert r.status == 126 and "is never allowed" in r.err and work.exists()


def test_chmod_symbolic_and_octal(sh, work):
    sh("touch f; chmod 600 f", {})
    assert oct(os.stat(work / "f").st_mode & 0o777) == "0o600"
    sh("chmod u+x,g+r f")
    assert oct(os.stat(work / "f").st_mode & 0o777) == "0o740"
    r = sh("chmod q+z f")
    assert r.status == 1 and "invalid mode" in r.err


def test_tree_and_du(sh):
    files = {"p/a": "12345", "p/q/b": "123"}
    assert sh("tree p", files).out.splitlines() == ["p", "├── a", "└── q", "    └── b"]
    assert sh("du p | get size").out.split() == ["3", "8"]
    assert sh("du -s p | get size").out.split() == ["8"]


def test_cd_changes_cwd_and_back(sh, work):
    r = sh("cd sub; pwd; cd -; pwd", {"sub/x": ""})
    assert r.out.splitlines() == [str(work / "sub"), str(work), str(work)]      # cd - says where it went
    r = sh("cd nowhere")
    assert r.status == 1 and r.err.strip() == "nlsh: cd: nowhere: No such file or directory"


def test_pushd_popd_and_dirs(sh, work, monkeypatch):
    monkeypatch.setenv("HOME", str(work))
    r = sh("pushd a; pushd b; dirs; pwd; popd; popd; pwd; pushd a; pushd; pwd", {"a/b/x": ""})
    assert r.out.splitlines() == ["~/a ~", "~/a/b ~/a ~", "~/a/b ~/a ~", str(work / "a" / "b"), "~/a ~", "~",
                                  str(work), "~/a ~", "~ ~/a", str(work)]
    r = sh("popd; pushd; pushd nowhere")
    assert r.status == 1 and r.err.splitlines() == ["nlsh: popd: directory stack empty",
                                                    "nlsh: pushd: no other directory",
                                                    "nlsh: pushd: nowhere: No such file or directory"]


def test_variables_and_status(sh):
    r = sh("export NAME=world; echo \"hello $NAME\" ${NAME}s; false; echo $?")
    assert r.out.splitlines() == ["hello world worlds", "1"]


def test_aliases(sh):
    r = sh("alias hi='echo hello'\nhi there; alias")
    assert r.out.splitlines() == ["hello there", "alias hi='echo hello'"]


def test_printf_and_echo(sh):
    assert sh("printf '%s-%03d\\n' a 7 b 8").out.splitlines() == ["a-007", "b-008"]
    assert sh("echo -n no newline").out == "no newline"
    assert sh("echo -e 'a\\tb'").out == "a\tb\n"
    assert sh("echo a -n; echo --; echo -- -e -n").out == "a -n\n--\n-- -e -n\n"   # flags come first, as in bash


def test_tee_writes_and_passes_on(sh, work):
    r = sh("echo one | tee t.txt | tr a-z A-Z")
    assert r.out == "ONE\n" and (work / "t.txt").read_text() == "one\n"


def test_redirections(sh, work):
    sh("echo one > f; echo two >> f; ls nope 2> err", {})
    assert (work / "f").read_text() == "one\ntwo\n"
    assert "nope" in (work / "err").read_text()
    assert sh("sort < f").out.split() == ["one", "two"]
    r = sh("cat < missing")
    assert r.status == 1 and r.err.strip() == "nlsh: cat: missing: No such file or directory"


@pytest.mark.parametrize("line,out", [
    ("X=you; cat <<EOF\nhi $X $(echo there)\n  'q' \"d\" \\$X\nEOF", "hi you there\n  'q' \"d\" $X\n"),
    ("X=you; cat <<'EOF'\nhi $X\nEOF", "hi $X\n"),                                 # a quoted END: as written
    ("sort <<-END | head -n 1; echo next\n\tb\n\ta\n\tEND\necho last", "a\nnext\nlast\n"),
    ("wc -l <<EOF\nEOF", "0\n"),                                                     # no text: no lines
    ("cat <<$(a)\nhere\n$(a)\ncat <<'E O F'\n$y\nE O F\ncat <<${v}x\nq\n${v}x", "here\n$y\nq\n"),   # end words as written
    ("X='a  b'; cat <<< \"$X\"; tr a-z A-Z <<< word", "a  b\nWORD\n"),
    ("python3 -c 'import sys; print(len(sys.stdin.read()))' <<< abc", "4\n"),        # a program reads it too
])
def test_here_documents_and_here_strings(sh, line, out):
    r = sh(line)
    assert (r.out, r.err) == (out, "")


@pytest.mark.parametrize("line,err", [
    ("cat <<EOF\nno end", "nlsh: unterminated here-document (no line 'EOF' after it)"),
    ("cat <<", "nlsh: << needs the word that ends the here-document (<<EOF)"),
    ("cat <<<", "nlsh: <<< needs a word"),
])
def test_here_document_mistakes(sh, line, err):
    r = sh(line)
    assert r.status == 2 and r.err.strip() == err


def test_glob_expansion_and_no_match(sh):
    files = {"a.txt": "", "b.txt": "", ".hidden.txt": ""}
    assert sh("echo *.txt", files).out.strip() == "a.txt b.txt"
    assert sh("echo [ab].txt c[", files).out.strip() == "a.txt b.txt c["
    assert sh("[ -f a.txt ] && echo yes; [ -d a.txt ] || echo no", files).out.split() == ["yes", "no"]
    r = sh("ls *.nope")
    assert r.status == 1 and r.err.strip() == "nlsh: ls: no matches for wildcard '*.nope'"


@pytest.mark.parametrize("line,status,err", [
    ("nosuchcmd", 127, "nlsh: unknown command nosuchcmd"),
    ("cp --bogus a b", 2, "nlsh: cp: unknown flag --bogus"),
    ("cat missing.txt", 1, "nlsh: cat: missing.txt: No such file or directory"),
    ("first x", 2, "nlsh: first: bad value 'x' for N: expected an int"),
    ("limit --time forever -- ls", 2,
     "nlsh: limit: bad value 'forever' for --time: not a duration: 'forever' (try 500ms, 10s, 5m, 2h, 7d)"),
])
def test_bad_input_one_line_error(sh, line, status, err):
    r = sh(line)
    assert r.status == status
    assert r.err.strip() == err
    assert "Traceback" not in r.err


def test_permission_denied(sh, work):
    if os.geteuid() == 0:
        pytest.skip("root reads everything")
    sh("echo x > locked; chmod 000 locked", {})
    r = sh("cat locked")
    assert r.status == 1 and "Permission denied" in r.err


def test_help_lists_and_describes(sh):
    r = sh("help")
    assert "  find       Walk directories" in r.out
    r = sh("help grep")
    assert "usage: grep" in r.out and "-i, --ignore-case" in r.out
    r = sh("help gerp")
    assert r.status == 1 and "did you mean grep?" in r.err
    assert "usage: for NAME in [WORD...] ; do COMMANDS; done" in sh("help for").out


def test_which(sh):
    r = sh("which ls sh")
    assert r.out.splitlines()[0] == "ls: nlsh built-in"
    assert r.out.splitlines()[1].endswith("/sh")


def test_type_t_says_one_word(sh):
    r = sh("alias ll=ls; f() { :; }; type -t ll f cd sh no_such_program_here; echo $?")
    assert r.out == "alias\nfunction\nbuiltin\nfile\n1\n"


def test_read_p_shows_its_prompt_only_on_a_terminal(sh):
    r = sh("read -p 'name? ' n <<< bob; echo $n")
    assert (r.out, r.err) == ("bob\n", "")


def test_ps_and_free_are_records(sh):
    r = sh(f"ps | where pid == {os.getpid()} | get pid")
    assert r.out.strip() == str(os.getpid())
    assert sh("free | get type").out.split() == ["mem", "swap"]


def test_gnu_flags_a_builtin_lacks_run_the_program(sh):
    files = {"f": "a\nb\nc\n"}
    assert sh("sed -n 2p f", files).out == "b\n"
    assert sh("head -n -1 f", files).out == "a\nb\n"
    assert sh("tail -n +2 f", files).out == "b\nc\n"
    assert sh("cat f | tail -n +3", files).out == "c\n"
    assert sh("head -n 2 f | sed -n 2p", files).out == "b\n"


def test_ls_sorts_like_gnu_ls(sh, work):
    files = {"big": "x" * 300, "mid": "x" * 20, "small": "x"}
    assert sh("ls -S", files).out.split() == ["big", "mid", "small"]
    assert sh("ls -S -r", files).out.split() == ["small", "mid", "big"]
    for age, name in enumerate(("small", "big", "mid")):
        os.utime(work / name, (1_000_000 - age * 1000, 1_000_000 - age * 1000))
    assert sh("ls -t").out.split() == ["small", "big", "mid"]
    assert sh("ls -tr").out.split() == ["mid", "big", "small"]
    assert sh("ls -r").out.split() == ["small", "mid", "big"]
    assert sh("ls -1 -h -A").out.split() == ["big", "mid", "small"]
    # the files named are sorted the same way, and come before the directories named
    assert sh("ls -S small mid big").out.split() == ["big", "mid", "small"]
    assert sh("ls -Sr b* m* s*").out.split() == ["small", "mid", "big"]
    assert sh("ls -t mid big small").out.split() == ["small", "big", "mid"]
    assert sh("ls d small big", {"d/x": ""}).out == "big\nsmall\n\nd:\nx\n"        # GNU's sections


def test_caret_negates_a_bracket_as_in_bash(sh):
    files = {".hidden": "", "a1": "", "b2": ""}
    assert sh("echo .[^.]* [^a]*", files).out == ".hidden b2\n"
    assert sh("find . -name '[^.a]*'", files).out == "./b2\n"


def test_errors_follow_the_output_with_2_and_1(sh):
    files = {"f": "a\n"}
    # a cat reading files into sort is GNU's cat (nlsh.kernel.handover): its message, in sort's input
    assert sh("cat nope f 2>&1 | sort", files).out == "a\ncat: nope: No such file or directory\n"
    assert sh("cat nope f 2>&1 | count", files).out == "2\n"
    r = sh("sh -c 'echo oops >&2; echo fine' 2>&1 | sort")
    assert r.out == "fine\noops\n" and r.err == ""
    r = sh("cat nope f &> both.txt; sh -c 'echo late >&2' &>> both.txt; cat both.txt", files)
    assert r.out == "cat: nope: No such file or directory\na\nlate\n"
    r = sh("cat nope f 2> err.txt >&2; cat err.txt", files)
    assert r.out == "nlsh: cat: nope: No such file or directory\na\n" and r.err == ""


def test_redirections_apply_left_to_right_as_in_bash(sh, nlsh):
    files = {"f": "a\n"}
    # >&2 first: the output goes where errors went (the terminal's stderr), then the errors go to the file
    r = sh("cat nope f >&2 2> err.txt; cat err.txt", files)
    assert r.out == "nlsh: cat: nope: No such file or directory\n" and r.err == "a\n"
    r = nlsh("-c", "sh -c 'echo out; echo err >&2' >&2 2>/dev/null")
    assert r.out == "" and r.err == "out\n"
    # 2>&1 first: errors go where the output went (the pipe), then the output is dropped
    r = nlsh("-c", "sh -c 'echo out; echo err >&2' 2>&1 >/dev/null | tr a-z A-Z")
    assert r.out == "ERR\n" and r.err == ""
    assert sh("cat nope f 2>&1 >/dev/null | wc -l", files).out.strip() == "1"
    # 1> is >; a file a later redirect replaces is still made, empty, as in bash
    r = sh("echo hi 1> one.txt > two.txt; cat two.txt; wc -c < one.txt")
    assert r.out.split() == ["hi", "0"]
    assert sh("echo a 1> f1; echo b 1>> f1; cat f1").out == "a\nb\n"


def test_a_blocks_redirections_take_its_commands_errors(sh):
    quiet = "f() { echo out; echo err >&2; ls nope; }; "
    r = sh(quiet + "f 2>/dev/null")
    assert r.out == "out\n" and r.err == ""
    r = sh(quiet + "f 2>&1 >/dev/null | tr a-z A-Z")
    assert r.out == "ERR\nNLSH: LS: CANNOT ACCESS 'NOPE': NO SUCH FILE OR DIRECTORY\n" and r.err == ""
    r = sh("{ echo a; echo b >&2; echo c; } 2>&1 | cat")
    assert r.out == "a\nb\nc\n" and r.err == ""      # in the order written
    r = sh("for i in 1 2; do ls nope$i; done 2> err.txt; wc -l < err.txt")
    assert r.out == "2\n" and r.err == ""
    r = sh("if ls nope; then :; fi 2>/dev/null; while ls nope; do :; done 2>/dev/null; echo ok")
    assert r.out == "ok\n" and r.err == ""
    r = sh("{ { ls nope; } 2>&1; } 2>/dev/null | wc -l")     # the inner block's 2>&1 wins for its commands
    assert r.out.strip() == "1"


def test_help_says_which_builtins_hand_over_to_their_program(sh):
    assert "other flags run " in sh("help sed").out and sh("help sed").out.count("/sed instead") == 1
    assert "other flags" not in sh("help rm").out
    missing = sh("export PATH=/nowhere; help sed").out
    assert "other flags would run the program sed, which is not on PATH" in missing


def test_wc_counts_like_gnu_wc(sh):
    files = {"np": "abc", "two": "a b\nc\n"}
    assert sh("wc -c np; wc -l np; wc -w np", files).out == "3 np\n0 np\n1 np\n"
    assert sh("wc two np").out == "2 3 6 two\n0 1 3 np\n2 4 9 total\n"
    assert sh("echo -n ab | wc -c; echo ab | wc -c").out == "2\n3\n"


def test_wc_pads_its_columns_as_gnu_does(sh):
    files = {"a.txt": "one two\nthree\n", "b.txt": "x\n"}
    assert sh("printf 'a b\\n' | wc", files).out == "      1       2       4\n"   # a pipe: width 7
    assert sh("printf 'a b\\n' | wc -l").out == "1\n"                            # one count: no padding
    assert sh("wc -l a.txt").out == "2 a.txt\n"
    assert sh("wc a.txt b.txt").out == " 2  3 14 a.txt\n 1  1  2 b.txt\n 3  4 16 total\n"  # digits of 16 bytes


@pytest.mark.parametrize("line", [
    "exec 3> fd3.txt; echo hello >&3; echo world >&3; exec 3>&-; cat fd3.txt",
    "echo foo > l.txt; exec 6< l.txt; read line <&6; echo \"[$line]\"",
    "exec 3>&1; echo hi 1>&3",
    "exec 5> f.txt; echo hello >&5; exec 5>&-; echo world >&5; echo status=$?; cat f.txt",
    "exec 9> fd.txt; ( echo world >&9 ); cat fd.txt",
    "echo first > rw.txt; exec 8<> rw.txt; read line <&8; echo line=$line; echo second 1>&8; cat rw.txt",
    "exec 3> g.txt; sh -c 'echo program' >&3; printf 'x\\n' >&3; cat g.txt",
    "exec 20> dd.txt; echo hello20 >&20; cat dd.txt",
    "{ echo out; echo err >&2; } 3>&1 1>&2 2>&3 2>/dev/null",
    "exec {myfd}> named.txt; echo named-fd-contents >& $myfd; cat named.txt",
    ("printf 'l1\\nl2 w\\nl3\\n' > t.txt; exec 3< t.txt; read -u 3 a; read -u 3 b c; echo \"[$a] [$b] [$c]\"; cat <&3; "
    "read -u 7 x; echo st=$?"),
    "exec {fd}> f.txt; echo foo >&$fd; exec {fd}>&-; echo bar >&$fd; echo st=$?; cat f.txt",
    ("echo XX >| g.txt; set -o noclobber; echo YY > g.txt; echo st=$?; echo ZZ >| g.txt; set +C; echo W >> g.txt; "
    "cat g.txt"),
    # a program gets the descriptors the line or exec opened, at their numbers
    "exec 5> f.txt; sh -c 'echo to5 >&5'; exec 5>&-; cat f.txt; sh -c 'echo x >&4' 4>&1",
    "sh -c 'cat; cat <&3' <<EOF 3<<EOF3\nfd0\nEOF\nfd3\nEOF3\nread -u 4 -d 5 4<<<123456; echo $REPLY; cat 0<<<in",
    "sh -c 'cat <&3' 3<<EOF3 | sh -c 'cat; cat <&5' 5<<EOF5\nfd3\nEOF3\nfd5\nEOF5\necho ok",
    # 6>&5- moves 5 to 6; >&FILE sends the output and the errors to FILE; a redirection alone makes its file
    "exec 5> f.txt; echo a >&5; exec 6>&5-; echo b >&5; echo c >&6; exec 6>&-; cat f.txt",
    "sh -c 'echo out; echo err >&2' >&g.txt; cat g.txt; > g.txt; wc -c < g.txt; 2>&1; echo st=$?",
])
def test_descriptors_above_2_as_in_bash(line, tmp_path):
    """exec opens and closes them for the rest of the script; >&N, <&N and N>&M use them."""
    ours = subprocess.run([sys.executable, "-m", "nlsh", "-c", line], cwd=tmp_path, capture_output=True, text=True,
                          timeout=60, check=False)
    for name in ("fd3.txt", "f.txt", "fd.txt", "rw.txt", "g.txt", "dd.txt", "named.txt", "t.txt"):
        (tmp_path / name).unlink(missing_ok=True)
    theirs = subprocess.run(["bash", "-c", line], cwd=tmp_path, capture_output=True, text=True, check=False)
    assert (ours.stdout, ours.returncode) == (theirs.stdout, theirs.returncode)


def test_grep_reads_a_fifo_once(sh, work):
    """The built-in grep looks for a NUL in a regular file before reading it; a FIFO it reads once only."""
    import threading
    os.mkfifo(work / "p")

    def feed():
        with open(work / "p", "w") as f:
            f.write("a\nx1\nx2\n")
    t = threading.Thread(target=feed)
    t.start()
    r = sh("grep x p")
    t.join(timeout=10)
    assert (r.out, r.status) == ("x1\nx2\n", 0)


@pytest.mark.parametrize(("line", "err"), [
    ("exec >out.txt", ("nlsh: exec: only descriptors above 2 stay open after exec (exec 3>FILE, then >&3); "
                      "redirect the commands themselves for 0, 1 and 2\n")),
    ("exec {fd}>&-", "nlsh: exec: {fd}: $fd holds no descriptor\n"),
    ("echo hi >&7", "nlsh: echo: 7: bad file descriptor\n"),
    ("read -u 7 x", "nlsh: read: 7: invalid file descriptor: not open for reading\n"),
    ("echo a 3>&x", "nlsh: echo: 3>&x: a descriptor number or - is needed\n"),      # (>&x alone: to the file x)
])
def test_descriptor_mistakes_are_one_line_errors(sh, line, err):
    r = sh(line)
    assert (r.err, r.status) == (err, 1)


def test_shopt_nullglob_dotglob_and_failglob_as_in_bash(sh):
    files = {"a.txt": "", ".hidden": ""}
    r = sh("shopt -s nullglob; for f in *.nope; do echo never; done; echo x *.nope y; shopt -u nullglob failglob; "
           "echo *.nope; shopt -s dotglob; echo *; shopt -u dotglob; echo *; shopt nullglob; echo $?; "
           "shopt -q failglob; echo $?; shopt -p dotglob", files)
    assert r.out == "x y\n*.nope\n.hidden a.txt\na.txt\nnullglob       \toff\n1\n1\nshopt -u dotglob\n" and r.err == ""
    r = sh("echo *.nope; shopt -s extglob; echo $?", files)        # failglob is on from the start
    assert r.out == "1\n" and "no matches for wildcard '*.nope'" in r.err
    assert "extglob: not an option nlsh has (it has dotglob, failglob, nullglob)" in r.err


@pytest.mark.parametrize("args", [
    "-f f1", "-d d1", "-f d1", "-n", "", "-z ''", "! -f f1", "a = a", "a != a", "3 -lt 10", "'(' a ')'",
    "-f f1 -a -d d1", "-f f1 -a -d f1 -o a = a", "! a = b", "'(' -f f1 ')'", "-e nope -o ! -e nope", "x -eq 1",
    "-v HOME", "-v NOPE", "a b", "1 -gt", "= = =", "! =", "' 12 ' -eq 12", "abc \\< abd", "-L f1", "f1 -nt nope",
])
def test_test_and_bracket_answer_as_bash(args, tmp_path):
    """test and [ are built in (POSIX's reading by the number of words, then ! -a -o ( )), as bash's own."""
    line = f"touch f1; mkdir -p d1; test {args}; echo $?; [ {args} ]; echo $?"
    ours = subprocess.run([sys.executable, "-m", "nlsh", "-c", line], cwd=tmp_path, capture_output=True, text=True,
                          timeout=60, check=False)
    theirs = subprocess.run(["bash", "-c", line], cwd=tmp_path, capture_output=True, text=True, check=False)
    assert ours.stdout == theirs.stdout and ours.stderr.count("\n") == theirs.stderr.count("\n")


def test_a_bracket_needs_its_closing_bracket_and_test_is_not_a_program_here(sh):
    r = sh("[ -n x; echo $?; type test [")
    assert r.out == "2\ntest: nlsh built-in\n[: nlsh built-in\n" and r.err == "nlsh: [: missing ']'\n"
    r = sh("test a = b c d e; echo $?; test '(' a = a -a b; echo $?; test ! a -a; echo $?; test a = a -a; echo $?")
    assert r.out == "2\n2\n2\n2\n"
    assert r.err == ("nlsh: test: 'c': unexpected (test EXPRESSION: -f FILE, A = B, A -lt B …)\n"
                     "nlsh: test: ')' expected\nnlsh: test: a: unary operator expected\n"
                     "nlsh: test: argument expected\n")


def test_shopt_mistakes_are_one_line_errors(sh):
    r = sh("shopt -s -u nullglob; echo $?; shopt -q nullglob; echo $?")
    assert (r.out, r.err) == ("2\n1\n", "nlsh: shopt: -s and -u: one or the other\n")
