"""Finding, loading and trusting plugins.

Plugins come from the entry-point group ``nlsh`` (pip-installed packages)
and from ``.py`` files or packages in the user plugins folder; ``NLSH_PLUGINS``
(comma-separated names; empty means none) restricts which load.

Start-up stays fast with many plugins installed: what each plugin provides
(its command names, whether it hooks every run) is kept in a manifest in the
cache, rebuilt when the installed packages or the plugins folder change. A
plugin is imported only when one of its commands is used, when the whole
catalogue is needed (planner, ``help``, completion), or at once if it hooks
every run (``before_run``/``after_job``). A plugin that fails to import or
register is skipped with a one-line warning and listed as broken.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import sys
import threading
from dataclasses import dataclass, field

import pluggy

from nlsh import hookspecs
from nlsh.paths import cache_dir, config_dir, ensure

GROUP = "nlsh"
MANIFEST_VERSION = 1


@dataclass
class PluginInfo:
    name: str
    origin: str               # "entry point DIST" or a file path
    target: str               # "module" or "module:attr" or a file path
    version: str = ""
    commands: list[str] = field(default_factory=list)
    effects: dict = field(default_factory=dict)    # command -> sorted effects
    hooks: list[str] = field(default_factory=list)
    status: str = "ok"        # "ok" or "broken"
    error: str = ""
    loaded: bool = False


def plugins_dir() -> str:
    return os.path.join(config_dir(), "plugins")


def _wanted() -> set[str] | None:
    value = os.environ.get("NLSH_PLUGINS")
    if value is None:
        return None
    return {v.strip() for v in value.split(",") if v.strip()}


def _fingerprint() -> list:
    # sys.path[0] is the script's folder or the working directory: no plugins come from there.
    dirs = [p for p in sys.path[1:] if p and os.path.isdir(p)] + [plugins_dir()]
    out = []
    for d in dirs:
        try:
            out.append([d, os.stat(d).st_mtime_ns])
        except OSError:
            out.append([d, 0])
    return [MANIFEST_VERSION, sys.executable, os.environ.get("NLSH_PLUGINS"), out]


def _discover() -> list[PluginInfo]:
    """Every plugin visible now (without importing any of them)."""
    from importlib.metadata import entry_points
    wanted = _wanted()
    found: list[PluginInfo] = []
    for ep in entry_points(group=GROUP):
        if wanted is not None and ep.name not in wanted:
            continue
        dist = getattr(ep, "dist", None)
        found.append(PluginInfo(ep.name, f"entry point {dist.name if dist else '?'}", ep.value,
                                dist.version if dist else ""))
    d = plugins_dir()
    try:
        names = sorted(os.listdir(d))
    except OSError:
        names = []
    for n in names:
        path = os.path.join(d, n)
        name = n.removesuffix(".py")
        if n.startswith(("_", ".")) or not (n.endswith(".py") or os.path.isfile(os.path.join(path, "__init__.py"))):
            continue
        if wanted is not None and name not in wanted:
            continue
        found.append(PluginInfo(name, path, path))
    return found


class PluginHost:
    """The plugin manager: built-ins first, then plugins, all through ``register_commands``."""

    def __init__(self, registry) -> None:
        self.registry = registry
        self.pm = pluggy.PluginManager("nlsh")
        self.pm.add_hookspecs(hookspecs)
        self.plugins: dict[str, PluginInfo] = {}
        self.warnings: list[str] = []
        self._lock = threading.RLock()
        self._by_command: dict[str, str] = {}

    # -- the manifest ---------------------------------------------------------
    def _manifest_path(self) -> str:
        return os.path.join(cache_dir(), "plugins.json")

    def discover(self) -> None:
        """Know which plugins exist and what they provide (manifest, or a fresh scan)."""
        fp = _fingerprint()
        try:
            with open(self._manifest_path()) as f:
                data = json.load(f)
            if data.get("fingerprint") == fp:
                for row in data["plugins"]:
                    info = PluginInfo(**row)
                    self.plugins[info.name] = info
                self._index()
                self._load_hooking()
                return
        except (OSError, ValueError, TypeError, KeyError):
            pass
        self.plugins = {p.name: p for p in _discover()}
        for name in list(self.plugins):
            self.load(name)
        self._save(fp)

    def rediscover(self) -> None:
        """After an install or removal: forget unloaded knowledge and scan again.
        Commands of a removed plugin stay until the shell restarts."""
        for name, info in list(self.plugins.items()):
            if not info.loaded:
                del self.plugins[name]
        found = {p.name: p for p in _discover()}
        for name in [n for n in self.plugins if n not in found]:
            del self.plugins[name]
        for name, info in found.items():
            if name not in self.plugins:
                self.plugins[name] = info
                self.load(name)
        self._index()
        self._save(_fingerprint())

    def _save(self, fp: list) -> None:
        rows = []
        for p in self.plugins.values():
            row = dict(vars(p))
            row["loaded"] = False
            rows.append(row)
        try:
            path = os.path.join(ensure(cache_dir()), "plugins.json")
            with open(path + ".tmp", "w") as f:
                json.dump({"fingerprint": fp, "plugins": rows}, f)
            os.replace(path + ".tmp", path)
        except OSError:
            pass

    def _index(self) -> None:
        self._by_command = {c: p.name for p in self.plugins.values() if p.status == "ok" for c in p.commands}

    def _load_hooking(self) -> None:
        for p in list(self.plugins.values()):
            if p.status == "ok" and p.hooks:
                self.load(p.name)

    # -- loading ------------------------------------------------------------
    def provides(self, command: str) -> str | None:
        return self._by_command.get(command)

    def command_names(self) -> list[str]:
        return sorted(self._by_command)

    def load(self, name: str) -> None:
        """Import one plugin and register its commands; a failure marks it broken."""
        with self._lock:
            info = self.plugins[name]
            if info.loaded:
                return
            try:
                module = self._import(info)
                before = set(self.registry.registered())
                added: list = []

                def register(cmd) -> None:
                    from nlsh.registry import Command
                    if not isinstance(cmd, Command):
                        raise TypeError(f"register() takes a Command, not {type(cmd).__name__}")
                    if cmd.name in before:
                        raise ValueError(f"command {cmd.name} already exists")
                    added.append(cmd)

                self.pm.register(module, name=name)
                impl = getattr(module, "register_commands", None)
                if impl is not None:
                    impl(register)
                for cmd in added:
                    self.registry.register(cmd)
                info.commands = [c.name for c in added]
                info.effects = {c.name: sorted(c.effects) for c in added}
                info.hooks = [h for h in ("before_run", "after_job") if hasattr(module, h)]
                info.status, info.error, info.loaded = "ok", "", True
            except Exception as e:  # noqa: BLE001  (a broken plugin must not break the shell)
                try:
                    self.pm.unregister(name=name)
                except (ValueError, KeyError):
                    pass
                info.status, info.error, info.loaded = "broken", f"{type(e).__name__}: {e}", True
                self.warnings.append(f"nlsh: plugin {name} skipped: {info.error}")
            self._index()

    def load_all(self) -> None:
        for name in list(self.plugins):
            if not self.plugins[name].loaded:
                self.load(name)

    def _import(self, info: PluginInfo):
        if info.origin.startswith("entry point"):
            module_name, _, attr = info.target.partition(":")
            module = importlib.import_module(module_name)
            return getattr(module, attr) if attr else module
        path = info.target
        init = os.path.join(path, "__init__.py") if os.path.isdir(path) else path
        spec = importlib.util.spec_from_file_location(
            f"nlsh_plugin_{info.name}", init,
            submodule_search_locations=[path] if os.path.isdir(path) else None)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        return module

    def register_builtins(self, commands) -> None:
        """The built-in commands (the module ``nlsh.commands``) come in through the same hook as any plugin."""
        self.pm.register(commands, name="builtins")
        commands.register_commands(self.registry.register)

    # -- hooks around execution ----------------------------------------------
    def veto(self, plan, shell) -> str | None:
        for reason in self.pm.hook.before_run(plan=plan, shell=shell):
            if reason:
                return str(reason)
        return None

    def after_job(self, job) -> None:
        try:
            self.pm.hook.after_job(job=job)
        except Exception as e:  # noqa: BLE001
            self.warnings.append(f"nlsh: a plugin's after_job failed: {type(e).__name__}: {e}")

    def plugin_of(self, command: str) -> str | None:
        return self._by_command.get(command)


# -- trust --------------------------------------------------------------------

def grants_path() -> str:
    from nlsh.paths import data_dir
    return os.path.join(data_dir(), "plugin-grants.json")


def load_grants() -> dict[str, dict]:
    try:
        with open(grants_path()) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def save_grants(grants: dict[str, dict]) -> None:
    path = grants_path()
    ensure(os.path.dirname(path))
    with open(path + ".tmp", "w") as f:
        json.dump(grants, f, indent=1)
    os.replace(path + ".tmp", path)


def pip(*args: str) -> int:
    """Run pip inside nlsh's own interpreter (so it works under pipx)."""
    import subprocess
    return subprocess.run([sys.executable, "-m", "pip", *args], check=False).returncode


def forget_manifest() -> None:
    try:
        os.unlink(os.path.join(cache_dir(), "plugins.json"))
    except OSError:
        pass
