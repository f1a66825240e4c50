"""The layout the architecture promises (ARCHITECTURE.md): no import circle
across folders, and no core module that imports a face."""

from __future__ import annotations

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_no_import_circle_across_folders_and_no_core_module_imports_a_face():
    p = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "check_imports.py")],
                       capture_output=True, text=True, check=False)
    assert p.returncode == 0, p.stdout
    assert p.stdout.strip() == "0 problems"


def test_the_check_finds_a_circle_and_a_face(tmp_path):
    """The check itself fails on what it is there to catch."""
    pkg = tmp_path / "pkg"
    (pkg / "low").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "low" / "__init__.py").write_text("")
    (pkg / "low" / "a.py").write_text("def f():\n    from pkg import b\n")
    (pkg / "b.py").write_text("from pkg.low import a\n")
    (pkg / "core.py").write_text("from pkg import render\n")
    (pkg / "render.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg import core\n")
    p = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "check_imports.py"), str(pkg)],
                       capture_output=True, text=True, check=False)
    assert p.returncode == 1
    assert p.stdout.splitlines() == ["import circle across 2 folders: pkg.b, pkg.low.a",
                                     "core module pkg.core imports a face: pkg.render", "2 problems"]


def test_architecture_md_names_every_module_it_describes():
    """ARCHITECTURE.md stays true: each module it names exists."""
    import re
    with open(os.path.join(ROOT, "ARCHITECTURE.md"), encoding="utf-8") as f:
        text = f.read()
    named = set(re.findall(r"`(nlsh(?:/[a-z_]+)+\.py)`", text))
    assert len(named) >= 15
    missing = [m for m in sorted(named) if not os.path.exists(os.path.join(ROOT, m))]
    assert not missing


def test_commands_and_the_kernel_import_nothing_above_them():
    """The layers of ARCHITECTURE.md: commands and the kernel reach the gate,
    the policy, scripts, the planner and the session only through their scope."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("check_imports", os.path.join(ROOT, "scripts", "check_imports.py"))
    check = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(check)
    known = check.modules(os.path.join(ROOT, "nlsh"))
    above = ("nlsh.gate", "nlsh.policy", "nlsh.monitor", "nlsh.scripts", "nlsh.session", "nlsh.wiring",
             "nlsh.planner", "nlsh.preflight", "nlsh.router")
    wrong = {m: sorted(d for d in check.imports(path, m, known) if d.startswith(above))
             for m, path in known.items() if m.startswith(("nlsh.commands", "nlsh.kernel", "nlsh.resources"))}
    assert {m: d for m, d in wrong.items() if d} == {}


def test_every_package_is_installed_by_a_plain_pip_install():
    """``pip install .`` (and pipx) copies only the packages pyproject.toml names."""
    from nlsh.paths import read_toml
    listed = set(read_toml(os.path.join(ROOT, "pyproject.toml"))["tool"]["setuptools"]["packages"])
    found = {os.path.relpath(d, ROOT).replace(os.sep, ".") for d, _, files in os.walk(os.path.join(ROOT, "nlsh"))
             if any(f.endswith(".py") for f in files)}
    assert "nlsh.kernel" in found and found <= listed, f"missing from [tool.setuptools] packages: {sorted(found - listed)}"
