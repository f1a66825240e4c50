"""NL scripts: the format, locks, unattended runs, exit statuses, the examples."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from nlsh.scripts import ScriptError, lock_path, parse_script, read_lock

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(ROOT, "examples")


def write(path, text: str) -> str:
    path.write_text(text)
    return str(path)


def lock_entry(script_path: str, line: int, nl: str, plan: str) -> None:
    """A lock entry as `nlsh lock` writes it (for tests that must not load the model)."""
    from nlsh.scripts import Step
    key = Step(line, nl).key
    with open(lock_path(script_path), "a") as f:
        f.write(f"[line {line}] sha={key} model=test\nnl: {nl}\nplan: {plan}\n\n")


def test_format_parses_params_comments_background_and_error_mode():
    s = parse_script("#!/usr/bin/env nlsh\n# nls 1\n# a comment\nparam days = 7\nparam dir\n\n"
                     "find {dir} -mtime +{days}\non error continue\nsay hello &\nwait\n", "x.nls")
    assert s.params == {"days": "7", "dir": None}
    assert [(st.line, st.text, st.background, st.continue_on_error) for st in s.steps] == [
        (7, "find {dir} -mtime +{days}", False, False), (9, "say hello", True, True), (10, "wait", False, True)]


def test_a_command_over_several_lines_is_one_step():
    s = parse_script("for i in 1 2\ndo\n  echo $i  # each\ndone\nf() {\n  echo ${HOME}\n}\n"
                     "a=(x\n  y)\necho one \\\n  two &\necho last\n", "x.nls")
    assert [(st.line, st.text, st.background) for st in s.steps] == [
        (1, "for i in 1 2\ndo\n  echo $i  # each\ndone", False), (5, "f() {\n  echo ${HOME}\n}", False),
        (8, "a=(x\n  y)", False), (10, "echo one   two", True), (12, "echo last", False)]


def test_a_bash_style_script_runs_its_functions_loops_and_arrays(nlsh, work):
    path = write(work / "s.sh", '#!/usr/bin/env nlsh\ngreet() {\n  local who=${1:-world}\n  echo "hi $who"\n}\n'
                 'names=(ann "bo b")\nfor n in "${names[@]}"; do\n  greet "$n"\ndone\n'
                 'if [ -d . ]; then\n  echo dir \\\n    here\nfi\necho ${HOME:+home}\n')
    r = nlsh(path)
    assert (r.status, r.out, r.err) == (0, "hi ann\nhi bo b\ndir here\nhome\n", "")
    r = nlsh("run", write(work / "t.sh", "greet bob\ngreet() { echo hi; }\n"))
    assert r.status == 127 and "greet" in r.err         # called before it is defined, as in bash


@pytest.mark.parametrize("text,message", [
    ("param days = 1\necho {dyas}", "x.nls:2: unknown parameter {dyas} (did you mean days?)"),
    ("# nls 2\necho hi", "x.nls:1: this is an nls 2 script; this nlsh reads nls 1"),
    ("echo hi\nparam late = 1", "x.nls:2: parameters must be declared before the first step"),
    ("param 9x = 1", "x.nls:1: expected 'param NAME' or 'param NAME = DEFAULT'"),
    ("on error explode", "x.nls:1: expected 'on error continue' or 'on error stop'"),
    ("param a = 1\nparam a = 2", "x.nls:2: parameter a is declared twice"),
])
def test_bad_syntax_names_the_line(text, message):
    with pytest.raises(ScriptError) as e:
        parse_script(text, "x.nls")
    assert e.value.message == message


def test_params_override_unknown_and_missing(nlsh, work):
    path = write(work / "p.nls", "param name = world\nparam needed\necho hello {name} {needed}\n")
    r = nlsh("run", path, "--needed", "x", "--name", "you")
    assert r.out == "hello you x\n" and r.status == 0
    r = nlsh("run", path, "--param", "needed=y")
    assert r.out == "hello world y\n"
    r = nlsh("run", path)
    assert r.status == 2 and r.err.strip() == ("nlsh: p.nls: parameter needed has no default; "
                                               "give it with --param needed=VALUE")
    r = nlsh("run", path, "--nmae", "x", "--needed", "y")
    assert r.status == 2 and "unknown parameter nmae (did you mean name?)" in r.err


def test_run_reads_its_options_anywhere_and_gives_words_after_the_file_to_the_script(nlsh, work):
    """``nlsh run`` is read once, by one parser: options before or after the
    file, words after it are the script's $1 … (after ``--`` even ones with a
    dash), and a wrong one is one clear line with status 2."""
    nls = write(work / "p.nls", "param name = world\necho hello {name} $1\n")
    sh = write(work / "a.sh", 'echo "$#:$1:$2"\n')
    assert nlsh("run", "--dry-run", nls).out == "line 2 cmd   echo hello world $1    [read-only]\n"
    assert nlsh("run", "--name", "you", nls, "first").out == "hello you first\n"
    assert nlsh(sh, "a", "b").out == "2:a:b\n"
    assert nlsh("run", sh, "--", "-v", "x").out == "2:-v:x\n"
    r = nlsh("run", nls, "-x")
    assert (r.status, r.out) == (2, "")
    assert r.err == ("nlsh: run: '-x' is not an option (options: --param NAME=VALUE (or --NAME VALUE), --locked, "
                     "--replan, --dry-run, -y/--yes)\n")
    r = nlsh("run", "--yes")
    assert r.status == 2
    assert r.err == ("nlsh: run: which script? (nlsh run FILE [--param NAME=VALUE (or --NAME VALUE), --locked, "
                     "--replan, --dry-run, -y/--yes])\n")


def test_a_param_without_a_value_and_files_that_are_not_text_are_clear_errors(nlsh, work):
    path = write(work / "p.nls", "param dir = .\nls {dir}\n")
    for args in (["--param", "dir"], ["--param=dir"], ["-p", "dir"]):
        r = nlsh("run", path, *args)
        assert (r.status, r.err) == (2, "nlsh: --param needs NAME=VALUE (got 'dir')\n")
    (work / "bin.nls").write_bytes(b"ls\n\xff\xfe\n")
    r = nlsh("run", str(work / "bin.nls"))
    assert (r.status, r.err) == (1, f"nlsh: {work / 'bin.nls'}: not a text script (not UTF-8: byte 0xff at offset 3)\n")
    (work / "p.nls.lock").write_bytes(b"\xff")
    r = nlsh("run", path)
    assert (r.status, r.out) == (1, "")
    assert r.err == (f"nlsh: {path}.lock: the lock is not text (not UTF-8: byte 0xff at offset 0); "
                     "delete it and lock the script again\n")


def test_exit_status_is_the_failing_steps(nlsh, work):
    path = write(work / "f.nls", "echo one\nsh -c 'exit 3'\necho never\n")
    r = nlsh("run", path)
    assert r.status == 3 and r.out == "one\n"
    path = write(work / "g.nls", "on error continue\nsh -c 'exit 3'\necho still\n")
    r = nlsh("run", path)
    assert r.status == 0 and r.out == "still\n"


def test_background_steps_and_wait(nlsh, work):
    path = write(work / "bg.nls", "sleep 0.3 && echo late &\necho early\nwait\necho end\n")
    r = nlsh("run", path)
    assert r.out.splitlines() == ["early", "late", "end"]


def test_locked_script_runs_without_the_model(nlsh, work):
    path = write(work / "l.nls", "param who = ann\nsay hello to {who}\n")
    lock_entry(path, 2, "say hello to {who}", "echo hello {who}")
    r = nlsh("run", path, "--locked", "--who", "bob", env={"NLSH_MODEL": "/nonexistent/model.gguf"})
    assert r.status == 0, r.err
    assert r.out == "hello bob\n"


def imported(stderr: str) -> set[str]:
    """Module names from ``python -X importtime`` lines."""
    return {line.rsplit("|", 1)[1].strip() for line in stderr.splitlines() if line.startswith("import time:")}


def test_start_paths_import_nothing_heavy(nlsh, work):
    path = write(work / "l.nls", "say hello to everyone\n")
    lock_entry(path, 1, "say hello to everyone", "echo hello")
    for args in (("-c", "echo hi"), ("run", path, "--locked")):
        r = nlsh(*args, env={"PYTHONPROFILEIMPORTTIME": "1"})
        assert r.status == 0 and r.out == ("hi\n" if args[0] == "-c" else "hello\n"), r.err[-500:]
        mods = imported(r.err)
        assert "nlsh.session" in mods                            # the profile is there
        assert not mods & {"numpy", "llama_cpp", "rich", "prompt_toolkit"}, args


def test_stale_line_with_locked_refuses(nlsh, work):
    path = write(work / "s.nls", "say hello to everyone\n")
    lock_entry(path, 1, "say hello to everybody", "echo hello")
    r = nlsh("run", path, "--locked")
    assert r.status == 1
    assert r.err.strip() == ("nlsh: s.nls:1: not locked: 'say hello to everyone' "
                             "(run 'nlsh lock s.nls')")


def test_dry_run_prints_plans_and_runs_nothing(nlsh, work):
    (work / "old.txt").write_text("x")
    path = write(work / "d.nls", "remove the old file\nls | count\n")
    lock_entry(path, 1, "remove the old file", "rm old.txt")
    r = nlsh("run", path, "--dry-run")
    assert r.status == 0
    assert r.out.splitlines() == ["line 1 plan  rm old.txt    [deletes 1 path]", "line 2 cmd   ls | count    [read-only]"]
    assert (work / "old.txt").exists()


def test_unattended_refusal_runs_nothing(nlsh, work):
    (work / "keep.txt").write_text("x")
    path = write(work / "u.nls", "touch first.txt\nremove keep.txt\n")
    lock_entry(path, 2, "remove keep.txt", "rm keep.txt")
    r = nlsh("run", path)
    assert r.status == 126 and "nothing ran" in r.err
    assert not (work / "first.txt").exists() and (work / "keep.txt").exists()
    r = nlsh("run", path, "--yes")
    assert r.status == 0 and (work / "first.txt").exists() and not (work / "keep.txt").exists()


def test_denied_step_stops_the_whole_script(nlsh, work):
    path = write(work / "deny.nls", "touch made.txt\nrm -rf /\n")
    r = nlsh("run", path, "--yes")
    assert r.status == 126 and "deny.nls:2: refused, so nothing ran: deleting / is never allowed" in r.err
    assert not (work / "made.txt").exists()


def test_shebang_runs_the_script(work):
    path = work / "hi.nls"
    path.write_text("#!/usr/bin/env nlsh\n# nls 1\necho from a shebang\n")
    path.chmod(0o755)
    bindir = os.path.dirname(sys.executable)
    env = {**os.environ, "PATH": bindir + os.pathsep + os.environ.get("PATH", "")}
    if not shutil.which("nlsh", path=env["PATH"]):
        pytest.skip("nlsh is not installed as a command")
    p = subprocess.run([str(path)], cwd=work, capture_output=True, text=True, env=env, check=False, timeout=60)
    assert p.returncode == 0 and p.stdout == "from a shebang\n"


def test_history_save_writes_a_script(sh, work):
    from nlsh.history import History
    h = History()
    for line in ["ls", "count the python files", "history", "echo done"]:
        h.append(line)
    r = sh("history --save routine.nls 3")
    assert r.out.strip() == "saved 3 lines to routine.nls"
    text = (work / "routine.nls").read_text()
    assert text.splitlines()[-3:] == ["ls", "count the python files", "echo done"]
    assert parse_script(text).steps[1].text == "count the python files"
    assert sh("history --save routine.nls").status == 1


def test_source_in_the_shell(sh, work):
    (work / "s.nls").write_text("echo sourced\n")
    assert sh("source s.nls").out == "sourced\n"


def test_lock_creation_with_the_real_model(nlsh, work, model_path):
    (work / "notes.txt").write_text("a\nb\n")
    path = write(work / "m.nls", "# nls 1\nparam f = notes.txt\nshow the contents of {f}\necho done\n")
    r = nlsh("lock", path, env={"NLSH_MODEL": model_path}, timeout=300)
    assert r.status == 0, r.err
    entries = list(read_lock(lock_path(path)).values())
    assert len(entries) == 1 and entries[0].utterance == "show the contents of {f}"
    assert entries[0].model == os.path.splitext(os.path.basename(model_path))[0] or entries[0].model
    r = nlsh("run", path, "--locked", env={"NLSH_MODEL": "/nonexistent.gguf"})
    assert r.status == 0, r.err
    assert r.out.splitlines()[-1] == "done" and "a" in r.out.split()
    r = nlsh("run", path, "--replan", env={"NLSH_MODEL": model_path}, timeout=300)
    assert r.status == 0 and "planning (not locked)" in r.err


def test_example_cleanup_logs_runs_locked(nlsh, work):
    logs = work / "logs"
    logs.mkdir()
    for name in ("old1.log", "old2.log", "new.log", "notes.txt"):
        (logs / name).write_text(name)
    for name in ("old1.log", "old2.log", "notes.txt"):
        os.utime(logs / name, (1_000_000_000, 1_000_000_000))
    script = os.path.join(EXAMPLES, "cleanup-logs.nls")
    r = nlsh("run", script, "--locked", "--yes", "--dir", "logs", "--days", "30",
             env={"NLSH_MODEL": "/nonexistent.gguf"})
    assert r.status == 0, r.err
    assert sorted(os.listdir(logs)) == ["new.log", "notes.txt"]
    assert r.out.splitlines()[0] == "2"
    assert nlsh("-c", "undo").status == 0
    assert sorted(os.listdir(logs)) == ["new.log", "notes.txt", "old1.log", "old2.log"]


def test_example_project_report_runs_locked(nlsh, work):
    src = work / "proj"
    (src / "pkg").mkdir(parents=True)
    (src / "pkg" / "a.py").write_text("# TODO: fix\n" + "x = 1\n" * 50)
    (src / "b.py").write_text("y = 2\n")
    (src / "data.bin").write_text("z" * 5000)
    script = os.path.join(EXAMPLES, "project-report.nls")
    r = nlsh("run", script, "--locked", "--yes", "--src", "proj", env={"NLSH_MODEL": "/nonexistent.gguf"})
    assert r.status == 0, r.err
    lines = r.out.splitlines()
    assert lines[0] == "2"
    assert lines[1] == "proj/data.bin\t5000"
    assert lines[-1] == "proj/pkg/a.py"


NO_MODEL = {"NLSH_MODEL": "/nonexistent/model.gguf"}


@pytest.mark.parametrize("args,script,out,status", [
    ((), "set a 'b c'\necho \"[$2]\"\nlist the files here\necho \"st $?\"\n", "[b c]\nst 127\n", 0),
    ((), "echo a; nonexistent_cmd x; echo \"b $?\"\n", "a\nb 127\n", 0),
    ((), "set -e\necho a\nnonexistent_cmd\necho never\n", "a\n", 127),
    (("-c", "echo a\nshow the words of notes by length\necho \"st $?\""), None, "a\nst 127\n", 0),
])
def test_a_script_is_bash_s_never_a_request(nlsh, work, args, script, out, status):
    """A piped script, or -c lines, is read as bash reads it: a line that is no
    command fails with 127 as it runs (what comes before runs), never goes to the
    model (which here cannot even be loaded)."""
    r = nlsh(*args, input=script, env=NO_MODEL)
    assert (r.out, r.status) == (out, status), r.err
    assert "command not found" in r.err and "model" not in r.err and "plan" not in r.err


def test_a_bash_script_run_or_sourced_has_no_plain_language_steps(nlsh, work):
    """Outside FILE.nls (or the '# nls' header, or params) every line is a command."""
    path = write(work / "s.sh", "echo one\nshow me the files here\necho two\n")
    r = nlsh("run", path, env=NO_MODEL)
    assert r.status == 127 and r.out == "" and "s.sh:2: unknown command show" in r.err and "model" not in r.err


def test_run_help_lists_the_options_it_reads(nlsh):
    r = nlsh("run", "--help")
    assert r.status == 0
    for option in ("--param NAME=VALUE", "--locked", "--replan", "--dry-run", "-y/--yes"):
        assert option in " ".join(r.out.split()), option


def test_set_e_spares_a_block_that_failed_on_the_left_of_and_as_bash_does(nlsh):
    r = nlsh(input="set -e\n{ test no = yes && echo hi; }\necho status=$?\nf() { false && echo no; }\nf\necho never\n")
    assert (r.out, r.status) == ("status=1\n", 1)       # a function is not spared (bash)
