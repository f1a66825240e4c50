"""The model service's settings: ``[serve]`` in config.toml, ``NLSH_SERVE``."""

from __future__ import annotations

import os

SOCKET = "model.sock"      # in nlsh.paths.runtime_dir()
LOCK = "serve.lock"        # held by the daemon for its life (its pid inside)
SETTINGS = {"keep_alive": (int, float), "max_queue": int, "parallel": int, "enabled": bool, "rates": dict}


def settings() -> dict:
    """``[serve]`` of config.toml: keep_alive (seconds), max_queue, parallel (answers
    decoded together at most), enabled (false: every nlsh loads the model itself).
    ``NLSH_SERVE=0`` also turns it off."""
    from nlsh.planner.models import ModelError, config
    try:
        table = config().get("serve", {})
    except ModelError as e:
        raise ValueError(str(e)) from None
    if not isinstance(table, dict):
        raise ValueError("config.toml: serve must be a table ([serve])")  # noqa: TRY004 (a config mistake)
    for key, value in table.items():
        if key not in SETTINGS:
            raise ValueError(f"config.toml: [serve] has no setting {key!r} (there are {', '.join(SETTINGS)})")
        if isinstance(value, bool) and SETTINGS[key] is not bool or not isinstance(value, SETTINGS[key]):
            raise ValueError(f"config.toml: [serve] {key} = {value!r} is not a "
                             f"{ {'enabled': 'boolean', 'rates': 'table'}.get(key, 'number') }")
    if not 1 <= table.get("parallel", 1) <= 16:
        raise ValueError(f"config.toml: [serve] parallel = {table['parallel']!r}: from 1 to 16")
    from nlsh.service.scheduler import CLASSES
    for cls, rate in table.get("rates", {}).items():
        if cls not in CLASSES:
            raise ValueError(f"config.toml: [serve.rates] {cls}: not a class (there are {', '.join(CLASSES)})")
        if isinstance(rate, bool) or not isinstance(rate, int) or rate <= 0:
            raise ValueError(f"config.toml: [serve.rates] {cls} = {rate!r}: a positive number of tokens a minute")
    return table


def enabled() -> bool:
    """Do shells use the daemon? (``NLSH_SERVE=0`` or ``enabled = false``: each loads the model itself.)"""
    if os.environ.get("NLSH_SERVE", "").lower() in ("0", "off", "no", "false"):
        return False
    try:
        return bool(settings().get("enabled", True))
    except ValueError:
        return True
