"""Where nlsh keeps its files. ``NLSH_HOME`` puts them all under one folder."""

from __future__ import annotations

import os


def _base(xdg: str, fallback: str, sub: str) -> str:
    home = os.environ.get("NLSH_HOME")
    if home:
        return os.path.join(home, sub)
    root = os.environ.get(xdg) or os.path.join(os.path.expanduser("~"), fallback)
    return os.path.join(root, "nlsh")


def data_dir() -> str:
    """History, the SQLite store, the trash."""
    return _base("XDG_DATA_HOME", ".local/share", "data")


def config_dir() -> str:
    """config.toml, policy rules, the plugins folder."""
    return _base("XDG_CONFIG_HOME", ".config", "config")


def cache_dir() -> str:
    """Assembled model files and saved prompt states."""
    return _base("XDG_CACHE_HOME", ".cache", "cache")


def ensure(path: str) -> str:
    os.makedirs(path, exist_ok=True)
    return path
