"""Shared fixtures: an in-process shell and the real ``nlsh`` command."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from dataclasses import dataclass

import pytest

from nlsh.session import Shell, run_script_lines

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def make_files(root: str, files: dict) -> None:
    for rel, content in files.items():
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(content)


@dataclass
class Result:
    status: int
    out: str
    err: str


@pytest.fixture(scope="session")
def model_path():
    """The default model, assembled once into the user cache (as a real install does)."""
    from nlsh.planner.models import model_file, resolve
    saved = os.environ.pop("NLSH_HOME", None)
    try:
        return model_file(resolve())
    finally:
        if saved is not None:
            os.environ["NLSH_HOME"] = saved


@pytest.fixture(autouse=True)
def nlsh_home(tmp_path, monkeypatch):
    """Every test gets its own NLSH_HOME so history and data never leak."""
    home = tmp_path / "nlsh-home"
    monkeypatch.setenv("NLSH_HOME", str(home))
    return home


@pytest.fixture
def work(tmp_path):
    d = tmp_path / "work"
    d.mkdir()
    return d


@pytest.fixture
def sh(work):
    """Run lines in an in-process shell whose cwd is ``work``."""
    def run(line: str, files: dict | None = None) -> Result:
        make_files(str(work), files or {})
        out, err = io.StringIO(), io.StringIO()
        shell = Shell(out=out, err=err)
        shell.cwd = str(work)
        status = run_script_lines(shell, line.split("\n"))
        shell.shutdown()
        return Result(status, out.getvalue(), err.getvalue())
    return run


@pytest.fixture
def nlsh(work):
    """Run the real ``nlsh`` program: nlsh(*args, input=None) in ``work``."""
    def run(*args: str, input: str | None = None, cwd: str | None = None, timeout: float = 60,
            env: dict | None = None) -> Result:
        p = subprocess.run([sys.executable, "-m", "nlsh", *args], input=input, cwd=cwd or str(work),
                           capture_output=True, text=True, timeout=timeout, check=False,
                           env={**os.environ, **(env or {})})
        return Result(p.returncode, p.stdout, p.stderr)
    return run
