"""The build check: a llama.cpp library that dies on this CPU is found in a
child process, and the shell gets a one-line error instead of dying."""

from __future__ import annotations

import os

import pytest

from nlsh.paths import cache_dir
from nlsh.planner import cpucheck
from nlsh.planner.models import file_identity
from nlsh.planner.planner import Planner, PlanningError
from nlsh.wiring import default_registry

pytestmark = pytest.mark.fresh_cache     # these tests look at the build checks themselves

SIGILL = "import os, signal\nos.kill(os.getpid(), signal.SIGILL)\n"


def stamps() -> list[str]:
    d = os.path.join(cache_dir(), "build-checks")
    return os.listdir(d) if os.path.isdir(d) else []


def test_the_installed_build_passes_once_and_is_remembered(model_path, monkeypatch):
    cpucheck.check(model_path, file_identity(model_path), 0)
    assert len(stamps()) == 1
    monkeypatch.setattr(cpucheck, "PROBE", SIGILL)      # a remembered pass runs no child again
    cpucheck.check(model_path, file_identity(model_path), 0)


def test_a_cache_that_cannot_be_written_only_means_checking_again(model_path, monkeypatch, tmp_path):
    (tmp_path / "home").write_text("a file where nlsh's folders would go\n")
    monkeypatch.setenv("NLSH_HOME", str(tmp_path / "home"))
    cpucheck.check(model_path, file_identity(model_path), 0)     # passes; nothing remembered
    monkeypatch.setattr(cpucheck, "PROBE", SIGILL)
    with pytest.raises(cpucheck.UnsafeBuild):
        cpucheck.check(model_path, file_identity(model_path), 0)


def test_a_build_that_traps_is_a_clear_error_and_not_remembered(model_path, monkeypatch):
    monkeypatch.setattr(cpucheck, "PROBE", SIGILL)
    with pytest.raises(cpucheck.UnsafeBuild, match=r"SIGILL.*GGML_NATIVE=OFF"):
        cpucheck.check(model_path, file_identity(model_path), 0)
    assert stamps() == []


def test_planning_with_a_build_that_traps_says_how_to_rebuild(model_path, monkeypatch, work):
    monkeypatch.setattr(cpucheck, "PROBE", SIGILL)
    monkeypatch.setenv("NLSH_MODEL", model_path)
    p = Planner.create(default_registry())
    with pytest.raises(PlanningError) as e:
        p.plan("list the files", str(work))
    assert "not allow (SIGILL)" in e.value.message and "\n" not in e.value.message
    assert p.backend.llm is None                        # nothing was loaded in this process


def test_other_failures_are_left_to_the_load(tmp_path, monkeypatch):
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF" + b"\0" * 1000)
    cpucheck.check(str(bad), file_identity(str(bad)), 0)     # the child fails normally: no verdict
    assert stamps() == []
