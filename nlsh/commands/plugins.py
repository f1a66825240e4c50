"""``plugins``: list, inspect, install, remove and trust plugins from inside the shell."""

from __future__ import annotations

from collections.abc import Iterator

from nlsh.kernel.context import Args, CommandError, Context
from nlsh.lang.signature import Param
from nlsh.records import Record
from nlsh.registry import Example, command


def plugin_rows(registry) -> list[Record]:
    host = registry.host
    host.load_all()
    rows = []
    for p in sorted(host.plugins.values(), key=lambda p: p.name):
        effects = sorted({e for es in p.effects.values() for e in es})
        rows.append(Record(name=p.name, version=p.version, status=p.status,
                           commands=", ".join(p.commands), effects=", ".join(effects),
                           error=p.error, origin=p.origin, primary=None))
    return rows


@command("plugins", "Plugins: plugins list | info NAME | install SPEC | uninstall NAME | grants | revoke NAME.",
         params=[Param("action", "choice", required=True,
                       choices=("list", "info", "install", "uninstall", "grants", "revoke"),
                       metavar="ACTION"),
                 Param("name", "str", metavar="NAME|SPEC")],
         output="records", effects=("read", "exec", "network"), category="shell",
         examples=[Example("which plugins are installed", "plugins list")])
def plugins(ctx: Context, a: Args) -> Iterator[object]:
    from nlsh import plugins as host_mod
    registry = ctx.shell.registry
    if a.action == "list":
        yield from plugin_rows(registry)
        return
    if a.action == "grants":
        for name, g in sorted(host_mod.load_grants().items()):
            yield Record(plugin=name, effects=", ".join(sorted(g.get("effects", []))))
        return
    if not a.name:
        raise CommandError(f"plugins {a.action} needs a NAME")
    if a.action == "info":
        rows = [r for r in plugin_rows(registry) if r["name"] == a.name]
        if not rows:
            raise CommandError(f"no plugin named {a.name}")
        yield rows[0]
        for c in registry.host.plugins[a.name].commands:
            cmd = registry.get(c)
            yield f"  {cmd.usage}  # {cmd.summary}"
    elif a.action == "revoke":
        grants = host_mod.load_grants()
        if grants.pop(a.name, None) is None:
            raise CommandError(f"plugin {a.name} has no grants")
        host_mod.save_grants(grants)
        yield f"revoked what {a.name} was granted"
    else:
        yield from install_or_uninstall(registry, a.action, a.name)


def install_or_uninstall(registry, action: str, spec: str) -> Iterator[str]:
    """pip install/uninstall inside nlsh's own Python; the new commands appear at once."""
    from nlsh import plugins as host_mod
    args = ["install", spec] if action == "install" else ["uninstall", "-y", spec]
    if host_mod.pip(*args) != 0:
        raise CommandError(f"pip could not {action} {spec}")
    host_mod.forget_manifest()
    import importlib
    importlib.invalidate_caches()
    before = set(registry.host.plugins)
    registry.host.rediscover()
    after = set(registry.host.plugins)
    for name in sorted(after - before):
        info = registry.host.plugins[name]
        yield f"installed plugin {name}: {', '.join(info.commands) or info.error}"
    for name in sorted(before - after):
        yield f"removed plugin {name}"


COMMANDS = [plugins]
