"""The nlsh program: -c, scripts on stdin, --version/--help, external programs."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import psutil
import pytest

from nlsh import __version__


def test_version_and_help(nlsh):
    r = nlsh("--version")
    assert r.status == 0 and r.out.strip() == f"nlsh {__version__}"
    r = nlsh("--help")
    assert r.status == 0 and "-c, --command LINE" in r.out


def test_bad_option_is_a_clear_error(nlsh):
    r = nlsh("--frobnicate")
    assert r.status == 2 and "No such option: --frobnicate" in r.err
    assert "Traceback" not in r.err


def test_a_python_without_nlshs_dependencies_says_so_in_one_line(tmp_path):
    """nlsh found on PYTHONPATH by a Python it was not installed into (-S: no site-packages)."""
    import os
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    r = subprocess.run([sys.executable, "-S", "-m", "nlsh", "-c", "echo hi"], capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": root}, cwd=tmp_path, timeout=60, check=False)
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr.startswith(f"nlsh: this Python ({sys.executable}) lacks ") and len(r.stderr.splitlines()) == 1


def test_a_python_without_psutil_says_so_before_running_anything(tmp_path):
    """psutil is imported late, on the job sampler's thread: missing, it was a
    traceback from that thread after the line had run, and status 0."""
    code = ("import sys; sys.modules['psutil'] = None; from nlsh.main import main; "
            "sys.exit(main(['-c', 'echo ran']))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                       timeout=60, check=False)
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr.startswith(f"nlsh: this Python ({sys.executable}) lacks psutil, ")
    assert len(r.stderr.splitlines()) == 1


def test_dash_c_exit_status(nlsh):
    assert nlsh("-c", "true").status == 0
    assert nlsh("-c", "false").status == 1
    assert nlsh("-c", "exit 7").status == 7
    assert nlsh("-c", "sh -c 'exit 5'").status == 5
    assert nlsh("-c", "nosuchcommand").status == 127


def test_stdin_script(nlsh):
    r = nlsh(input="echo one\n# comment\n\necho two | tr a-z A-Z\nexit 3\necho never\n")
    assert r.out.splitlines() == ["one", "TWO"]
    assert r.status == 3


def test_read_takes_one_line_of_the_shells_input_at_a_time(nlsh):
    r = nlsh("-c", "read a; read b c; echo $a/$b/$c; read d; echo $?; sort", input="one\ntwo three\n")
    assert (r.out, r.err, r.status) == ("one/two/three\n1\n", "", 0)


def test_stdin_flows_into_dash_c(nlsh):
    r = nlsh("-c", "sort | uniq -c", input="b\na\nb\n")
    assert r.out.splitlines() == ["      1 a", "      2 b"]


def test_json_output(nlsh, work):
    (work / "a.txt").write_text("abc")
    r = nlsh("--json", "-c", "ls")
    assert r.out.startswith('{"name": "a.txt", "type": "file", "size": 3, "modified": "')


def test_pipes_between_builtins_and_programs(nlsh, work):
    (work / "f").write_text("c\na\nb\n")
    assert nlsh("-c", "cat f | sort | head -n 2").out.split() == ["a", "b"]
    assert nlsh("-c", "sort f | tr a-z A-Z").out.split() == ["A", "B", "C"]
    assert nlsh("-c", "ls | wc -l").out.strip() == "1"
    assert nlsh("-c", "printf 'x\\ny\\n' | cat | wc -l").out.strip() == "2"
    assert nlsh("-c", "seq 1 5 | sum").out.strip() == "15"


def test_broken_pipe_into_head(nlsh):
    r = nlsh("-c", "yes | head -n 3")
    assert r.status == 0 and r.out.split() == ["y", "y", "y"]
    r = nlsh("-c", "seq 1 1000000 | first 2")
    assert r.status == 0 and r.out.split() == ["1", "2"]


@pytest.mark.parametrize("line, status, out, err", [
    ("yes | true", 0, "", ""),                                   # built-ins that read no input
    ("yes | echo hi", 0, "hi", ""),
    ("yes | cd .", 0, "", ""),
    ("yes | head -n 1 < f", 0, "from f", ""),                    # input from a file instead
    ("yes | head -n 1 < missing", 1, "", "nlsh: head: missing: No such file or directory"),
    ("yes | sort > no/such/dir", 1, "", "nlsh: sort: no/such/dir: No such file or directory"),
])
def test_a_program_piped_into_a_stage_that_does_not_read_it_stops(nlsh, work, line, status, out, err):
    (work / "f").write_text("from f\n")
    r = nlsh("-c", line, timeout=30)                             # `yes` stops on SIGPIPE, as in bash
    assert (r.status, r.out.strip(), r.err.strip()) == (status, out, err)


def test_an_unknown_backend_is_refused(nlsh):
    r = nlsh("--backend", "nope", "-c", "ls")
    assert r.status == 2 and "'nope' is not a backend: use auto (the model service), llama (in this process) or openai (a server)" in r.err
    assert r.out == ""


def test_a_broken_config_file_is_named_and_models_use_rewrites_only_the_model(nlsh, work):
    cfg = work / "home" / "config"
    cfg.mkdir(parents=True)
    env = {"NLSH_HOME": str(work / "home")}
    for text, why in (("model = ", "cannot read {}: Invalid value (at line 1, column 9)"),
                      ("model = 3", "{}: model must be a name or a path in quotes")):
        (cfg / "config.toml").write_text(text + "\n")
        r = nlsh("-c", "? list the files", env=env)
        assert r.status == 1 and why.format(cfg / "config.toml") in r.err and "Traceback" not in r.err
        r = nlsh("models", "use", "qwen2.5-coder-0.5b", env=env)           # not rewritten while broken
        assert r.status == 1 and (cfg / "config.toml").read_text() == text + "\n"
    (cfg / "config.toml").write_text('# mine\nmodel="old"\n[extra]\nmodel = "keep"\n')
    r = nlsh("models", "use", "qwen2.5-coder-0.5b", env=env)
    assert r.status == 0 and r.out == "nlsh: now planning with qwen2.5-coder-0.5b\n"
    assert (cfg / "config.toml").read_text() == 'model = "qwen2.5-coder-0.5b"\n# mine\n[extra]\nmodel = "keep"\n'
    assert "* qwen2.5-coder-0.5b" in nlsh("models", "list", env=env).out
    (work / "file").write_text("")
    r = nlsh("models", "use", "qwen2.5-coder-0.5b", env={"NLSH_HOME": str(work / "file")})
    assert r.status == 1
    assert r.err == f"nlsh: cannot save the choice in {work / 'file' / 'config' / 'config.toml'}: Not a directory\n"


def test_output_into_closed_pipe(work):
    p = subprocess.run(f"{sys.executable} -m nlsh -c 'find /usr' | head -n 1", shell=True, cwd=work,
                       capture_output=True, text=True, timeout=60, check=False)
    assert p.stdout.strip() == "/usr"
    assert "Traceback" not in p.stderr


def test_bang_goes_to_system_shell(nlsh):
    r = nlsh("-c", "! echo $((1+2)) | tr 3 x", env={"SHELL": "/bin/sh"})
    assert r.out.strip() == "x"


def test_background_job_output_and_notice(nlsh):
    r = nlsh(input="sleep 0.2 && echo later &\necho now\nsleep 1\necho end\n")
    assert r.out.splitlines() == ["now", "later", "end"]
    assert r.err.splitlines() == ["[1] started", "[1] Done         sleep 200ms && echo later"]


def test_ctrl_c_cancels_builtin_and_children(work):
    # As a terminal would deliver it: with SIGINT at its default, whatever this test runner inherited.
    p = subprocess.Popen([sys.executable, "-m", "nlsh", "-c", "sleep 30 | cat"], cwd=work,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # noqa: PLW1509
    time.sleep(1.0)
    children = psutil.Process(p.pid).children(recursive=True)
    p.send_signal(signal.SIGINT)
    p.wait(timeout=10)
    assert p.returncode == 130
    time.sleep(0.5)
    assert not [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]


def test_output_goes_to_stderr_with_greater_ampersand_2(nlsh):
    r = nlsh("-c", "echo oops >&2; sh -c 'echo prog' 1>&2; echo fine")
    assert r.out == "fine\n"
    assert r.err == "oops\nprog\n"
    r = nlsh("-c", "echo kept >&2 2> err.txt; cat err.txt")     # left to right, as in bash
    assert r.out == "" and r.err == "kept\n"
    r = nlsh("-c", "echo kept 2> err.txt >&2; cat err.txt")
    assert r.out == "kept\n" and r.err == ""
