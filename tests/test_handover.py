"""Text stand-ins between programs and files run as the GNU program they stand
for (nlsh.kernel.handover): seen from outside by GNU's own error message
(``grep: nope: …``, where nlsh says ``nlsh: grep: nope: …``), and not where the
stand-in's records, checks or trash are needed."""

from __future__ import annotations

import os
import subprocess
import sys

from nlsh.kernel.handover import gnu


def run(line: str, cwd) -> subprocess.CompletedProcess:
    """``nlsh -c LINE`` with its stdout a pipe, as a script or another program reads it."""
    return subprocess.run([sys.executable, "-m", "nlsh", "-c", line], cwd=cwd, capture_output=True, text=True,
                          timeout=60, check=False, env={**os.environ, "LC_ALL": "C"})


def test_a_text_pipeline_between_files_and_programs_runs_gnus_programs(tmp_path):
    (tmp_path / "log").write_text("b error\na ok\nc error\n")
    p = run("grep error log nope | sort -r | head -n 1", tmp_path)
    assert p.stdout == "log:c error\n"
    assert p.stderr == "grep: nope: No such file or directory\n"        # GNU grep's own words
    p = run("grep -c error log > n; cat n; wc -l < log | cat; tr a-z A-Z < log | cut -c1-3", tmp_path)
    assert p.stdout == "2\n3\nB E\nA O\nC E\n"


def test_stand_ins_stay_where_records_checks_or_nlsh_output_are_needed(tmp_path):
    (tmp_path / "f").write_text("a\n")
    # the first stage reads the line's own input (records, a block's input): the stand-in
    p = run("ls | grep -c f; ls | sort size | grep f", tmp_path)
    assert p.stdout == "1\nf\n"
    # sed -i keeps a trash copy and is judged as a write: never handed over
    p = run("cat f | sed -i s/a/b/ nope", tmp_path)
    assert "nlsh: sed: nope:" in p.stderr
    # a record command after it reads the stand-in's lines; the last stage to a $(…) stays nlsh's
    p = run("x=$(grep -c a f nope 2>&1); echo \"$x\"", tmp_path)
    assert p.stdout.startswith("nlsh: grep: nope:")


def test_only_gnus_programs_are_taken():
    assert gnu("grep") and gnu("sort")
    assert not gnu("nlsh-no-such-program")


def test_stat_into_a_pipe_is_gnus_stat_and_a_record_command_still_gets_records(tmp_path):
    (tmp_path / "f").write_text("hi\n")
    gnu_out = subprocess.run(["stat", "f"], cwd=tmp_path, capture_output=True, text=True, check=False).stdout
    assert run("stat f | cat", tmp_path).stdout == gnu_out
    assert run("stat f | get size", tmp_path).stdout == "3\n"
