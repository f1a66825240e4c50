"""Where the parts are put together: the registry of built-in commands and
installed plugins that a shell, the planner and the tools start from. The
only module that imports both the plugin host and the built-in commands, so
neither needs the other."""

from __future__ import annotations

from nlsh import commands
from nlsh.plugins import PluginHost
from nlsh.registry import Registry


def default_registry(plugins: bool = True) -> Registry:
    """The built-in commands, plus the installed plugins' (loaded on demand)."""
    registry = Registry()
    host = PluginHost(registry)
    registry.host = host
    host.register_builtins(commands)
    if plugins:
        host.discover()
    return registry
