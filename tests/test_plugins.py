"""Plugins: discovery, laziness, broken plugins, NLSH_PLUGINS, trust, hooks,
and the planner choosing a plugin's command."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess

import pytest

from nlsh.session import Shell, run_script_lines

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

GOOD = '''
from nlsh.hookspecs import hookimpl
from nlsh.lang.signature import Param
from nlsh.registry import Example, command

@command("shout", "Say it loudly.", params=[Param("words", "str", variadic=True)], output="text",
         examples=[Example("shout hello", "shout hello", "HELLO")])
def shout(ctx, a):
    yield " ".join(a.words).upper()

@command("stamp", "Write a stamp file.", params=[Param("path", "path", required=True)], output="none",
         effects=("write",))
def stamp(ctx, a):
    open(ctx.path(a.path), "w").write("stamped")

@hookimpl
def register_commands(register):
    register(shout)
    register(stamp)
'''

VETO = '''
from nlsh.hookspecs import hookimpl

@hookimpl
def before_run(plan, shell):
    if any(c.name == "touch" for c in plan.calls):
        return "no touching on Tuesdays"
'''


@pytest.fixture
def plugdir(nlsh_home):
    d = nlsh_home / "config" / "plugins"
    d.mkdir(parents=True)
    return d


def test_dropin_plugin_commands_work(nlsh, plugdir):
    (plugdir / "loud.py").write_text(GOOD)
    r = nlsh("-c", "shout hello there | tr A-Z a-z")
    assert r.status == 0 and r.out == "hello there\n"
    r = nlsh("-c", "help shout")
    assert "shout — Say it loudly." in r.out


def test_broken_plugin_is_skipped_with_one_line(nlsh, plugdir):
    (plugdir / "loud.py").write_text(GOOD)
    (plugdir / "broken.py").write_text("import no_such_module_anywhere\n")
    r = nlsh("-c", "shout ok")
    assert r.out == "OK\n"
    r = nlsh("plugins", "list")
    rows = {line.split("\t")[0]: line.split("\t") for line in r.out.splitlines()}
    assert rows["broken"][2] == "broken"
    assert "ModuleNotFoundError: No module named 'no_such_module_anywhere'" in rows["broken"][5]
    assert rows["loud"][2] == "ok" and rows["loud"][3] == "shout, stamp"


def test_nlsh_plugins_restricts(nlsh, plugdir):
    (plugdir / "loud.py").write_text(GOOD)
    assert nlsh("-c", "shout x", env={"NLSH_PLUGINS": "loud"}).out == "X\n"
    r = nlsh("-c", "shout x", env={"NLSH_PLUGINS": ""})
    assert r.status == 127 and "unknown command shout" in r.err


def test_grants_and_revocation(nlsh, plugdir, work):
    (plugdir / "loud.py").write_text(GOOD)
    r = nlsh("-c", "stamp s.txt")
    assert r.status == 126 and "plugin loud has not been granted write" in r.err
    assert not (work / "s.txt").exists()
    grants = plugdir.parent.parent / "data" / "plugin-grants.json"
    grants.parent.mkdir(parents=True, exist_ok=True)
    grants.write_text(json.dumps({"loud": {"effects": ["write"]}}))
    assert nlsh("-c", "stamp s.txt").status == 0 and (work / "s.txt").read_text() == "stamped"
    r = nlsh("-c", "plugins grants")
    assert r.out == "loud\twrite\n"
    assert nlsh("-c", "plugins revoke loud").status == 0
    assert nlsh("-c", "stamp t.txt").status == 126


def test_before_run_veto(nlsh, plugdir, work):
    (plugdir / "veto.py").write_text(VETO)
    r = nlsh("-c", "touch x; echo after")
    assert r.status == 126 and "refused by a plugin: no touching on Tuesdays" in r.err
    assert not (work / "x").exists()
    assert nlsh("-c", "echo fine").out == "fine\n"


def test_plugins_load_lazily(plugdir, work):
    (plugdir / "loud.py").write_text(GOOD)
    shell = Shell(out=io.StringIO(), err=io.StringIO())      # builds the manifest
    shell = Shell(out=io.StringIO(), err=io.StringIO())      # reads it
    host = shell.registry.host
    assert not host.plugins["loud"].loaded
    shell.cwd = str(work)
    run_script_lines(shell, ["shout lazy"])
    assert host.plugins["loud"].loaded and shell.out.getvalue() == "LAZY\n"


def test_new_plugin_reaches_the_planner_catalogue(plugdir, work):
    from nlsh.planner.grammar import grammar
    from nlsh.planner.prompt import catalogue
    shell = Shell(out=io.StringIO(), err=io.StringIO())
    assert "shout" not in catalogue(shell.registry, [])
    (plugdir / "loud.py").write_text(GOOD)
    shell.registry.host.rediscover()
    assert "shout [WORDS...]  # Say it loudly." in catalogue(shell.registry, [])
    assert '"shout"' in grammar(shell.registry)


def test_planner_chooses_a_plugin_command(plugdir, work, model_path, monkeypatch):
    subprocess.run(["git", "init", "-q"], cwd=work, check=True)
    (work / "f.txt").write_text("x")
    monkeypatch.setenv("NLSH_MODEL", model_path)
    from nlsh.planner.planner import Planner
    shell = Shell(out=io.StringIO(), err=io.StringIO())
    planner = Planner.create(shell.registry)
    planner.warm()
    shutil.copytree(os.path.join(ROOT, "plugins", "nlsh-git", "nlsh_git"), plugdir / "nlsh_git")
    shell.registry.host.rediscover()
    r = planner.plan("what changed in this git repo", str(work))
    assert r.text.startswith("git-status"), r.text
    # the plugin's commands come at the end of the catalogue: the start of the prompt is kept
    assert 0 < r.timings["prefix_eval_tokens"] < r.timings["prompt_tokens"] / 2


AFTER = '''
from nlsh.hookspecs import hookimpl

@hookimpl
def after_job(job):
    with open(job.shell.env["AFTER_LOG"], "a") as f:
        f.write(f"{job.text}\\t{job.state}\\t{job.status}\\n")
'''


def test_after_job_hook_sees_finished_jobs(nlsh, plugdir, work):
    (plugdir / "watcher.py").write_text(AFTER)
    log = work / "after.log"
    r = nlsh("-c", "echo hi; sh -c 'exit 3'", env={"AFTER_LOG": str(log)})
    assert r.status == 3
    assert log.read_text().splitlines() == ["echo hi\tdone\t0", "sh -c 'exit 3'\tfailed\t3"]
