"""Shared by the shipped plugins' tests: a fresh virtual environment with the
plugins pip-installed into it, and a way to run that environment's nlsh."""

from __future__ import annotations

import os
import site
import subprocess
import sys
from dataclasses import dataclass

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))


@dataclass
class Result:
    status: int
    out: str
    err: str


@pytest.fixture(scope="session")
def plugin_venv(tmp_path_factory):
    """A new venv (seeing the installed nlsh and its dependencies) with the three
    shipped plugins installed by a real ``pip install``."""
    venv = tmp_path_factory.mktemp("plugin-venv")
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    py = str(venv / "bin" / "python")
    # --system-site-packages shows the base interpreter's packages; when the tests
    # themselves run in a venv, nlsh is installed in that one, so add its folders
    # (through site, so that an editable install's .pth files work there too).
    inner = subprocess.run([py, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                           capture_output=True, text=True, check=True).stdout.strip()
    outer = [d for d in site.getsitepackages() if os.path.isdir(d)]
    with open(os.path.join(inner, "nlsh-test-parent.pth"), "w") as f:
        f.write("import site; " + "; ".join(f"site.addsitedir({d!r})" for d in outer) + "\n")
    for name in ("nlsh-git", "nlsh-archive", "nlsh-http"):
        subprocess.run([py, "-m", "pip", "install", "-q", "--no-deps", os.path.join(HERE, name)], check=True)
    return py


@pytest.fixture
def nlsh_in_venv(plugin_venv, tmp_path):
    home = tmp_path / "home"
    work = tmp_path / "work"
    work.mkdir()

    def run(*args: str, cwd: str | None = None, env: dict | None = None, input: str | None = None) -> Result:
        p = subprocess.run([plugin_venv, "-m", "nlsh", *args], cwd=cwd or str(work), capture_output=True,
                           text=True, timeout=120, input=input, check=False,
                           env={**os.environ, "NLSH_HOME": str(home), **(env or {})})
        return Result(p.returncode, p.stdout, p.stderr)
    run.work = work
    return run
