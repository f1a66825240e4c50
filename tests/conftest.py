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
MODEL_TIMEOUT = 1200    # seconds for a test of the real model (the rest: pyproject's 300)


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


@pytest.hookimpl(tryfirst=True)     # before xdist reads the groups
def pytest_collection_modifyitems(items):
    """Tests of the real model run one after another on one xdist worker
    (``--dist loadgroup``): two models evaluating at once on a 2-core machine
    slow each other down many times over. Their time limit is longer than the
    others': the first of them builds the prompt prefix, which took 200 s to
    over 300 s on a slow 2-core host (13 tokens a second)."""
    for item in items:
        if "model_path" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.xdist_group("model"))
            item.add_marker(pytest.mark.timeout(MODEL_TIMEOUT))


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory):
    """share(home): give ``home`` the prompt states and build checks that the other
    tests of the model saved.

    With a fresh cache the first plan evaluates the whole prompt prefix (about a
    minute on a 2-core AVX2 CPU); shared, one test pays that and the others load the
    saved state, as a user's next nlsh process does. A test marked ``fresh_cache``
    keeps its own."""
    shared = tmp_path_factory.mktemp("model-cache")

    def share(home) -> None:
        cache = home / "cache"
        cache.mkdir(parents=True, exist_ok=True)
        for name in ("prompt-states", "build-checks"):
            (shared / name).mkdir(exist_ok=True)
            if not (cache / name).exists():
                (cache / name).symlink_to(shared / name)
    return share


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
def nlsh_home(tmp_path, monkeypatch, request):
    """Every test gets its own NLSH_HOME so history and data never leak (only the
    model's caches are shared, see ``model_cache``)."""
    home = tmp_path / "nlsh-home"
    monkeypatch.setenv("NLSH_HOME", str(home))
    monkeypatch.setenv("NLSH_SERVE", "0")      # each test loads its model itself; tests/test_serve.py turns it on
    if "model_path" in request.fixturenames and request.node.get_closest_marker("fresh_cache") is None:
        request.getfixturevalue("model_cache")(home)
    yield home
    from nlsh.paths import runtime_path
    run = runtime_path()                        # a long NLSH_HOME puts the model service's folder in /tmp
    if run.startswith("/tmp/nlsh-") and os.path.isdir(run):
        import shutil
        shutil.rmtree(run, ignore_errors=True)


@pytest.fixture
def job_records():
    """earlier(shape, cwd, wall, peak, n=3): finished runs of ``shape`` in the store
    of this test's NLSH_HOME, as finished jobs leave them (for estimates)."""
    from nlsh.store import Store

    def earlier(shape: str, cwd: str, wall: float, peak: int = 0, n: int = 3) -> None:
        store = Store()
        for i in range(n):
            store.insert("jobs", {"job": i + 1, "command": shape, "cwd": cwd, "state": "done", "status": 0,
                                  "started": 1000.0, "ended": 1000.0 + wall, "cpu_user": 0.0, "cpu_system": 0.0,
                                  "peak_rss": peak, "shape": shape, "input_bytes": 0})
        store.close()
    return earlier


@pytest.fixture
def put_files():
    """``make_files`` for a test module (``from conftest import`` may find plugins/conftest.py)."""
    return make_files


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


@pytest.fixture
def like_bash(sh, work):
    """Assert that ``line`` prints in nlsh's in-process shell exactly what
    ``bash -c line`` prints in the same folder (bash is the reference)."""
    def check(line: str) -> None:
        want = subprocess.run(["bash", "-c", line], capture_output=True, text=True, check=True, cwd=work).stdout
        r = sh(line)
        assert (r.out, r.err) == (want, "")
    return check
