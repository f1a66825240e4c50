"""``[batch]`` in config.toml: memory_floor (a size), on ("local" or "ray"), ray_address."""

from __future__ import annotations

from nlsh.lang.values import Size

SETTINGS = ("memory_floor", "on", "ray_address")
BACKENDS = ("local", "ray")
DEFAULT_FLOOR = 1_000_000_000


def settings() -> dict:
    """The ``[batch]`` table, checked; ValueError with a one-line reason if it is wrong."""
    from nlsh.paths import read_config
    table = read_config().get("batch", {})
    if not isinstance(table, dict):
        raise ValueError("config.toml: batch must be a table ([batch])")  # noqa: TRY004 (a config mistake)
    for key, value in table.items():
        if key not in SETTINGS:
            raise ValueError(f"config.toml: [batch] has no setting {key!r} (there are {', '.join(SETTINGS)})")
        if not isinstance(value, str):
            raise ValueError(f"config.toml: [batch] {key} = {value!r} is not a string")  # noqa: TRY004
    if table.get("on", "local") not in BACKENDS:
        raise ValueError(f"config.toml: [batch] on = {table['on']!r}: one of {', '.join(BACKENDS)}")
    if "memory_floor" in table:
        try:
            table = dict(table, memory_floor=Size.parse(table["memory_floor"]))
        except ValueError as e:
            raise ValueError(f"config.toml: [batch] memory_floor: {e}") from None
    return table


_warned: list[str] = []


def setting(key: str):
    """One ``[batch]`` setting, or None. A config.toml that is wrong is said once, in a
    line on stderr, and its ``[batch]`` settings are left out (the defaults hold)."""
    import sys
    try:
        return settings().get(key)
    except ValueError as e:
        if not _warned:
            _warned.append(str(e))
            sys.stderr.write(f"nlsh: {e}; the [batch] defaults hold\n")
        return None


def memory_floor() -> int:
    """Free memory below which batch jobs are paused: ``memory_floor``, else 1 GB or a tenth of the memory."""
    floor = setting("memory_floor")
    if floor is not None:
        return int(floor)
    import psutil
    return min(DEFAULT_FLOOR, psutil.virtual_memory().total // 10)
