"""The model service's API keys.

A key is shown once, when it is made; only its sha256 is stored
(``serve-keys.json`` in the config folder, mode 0600), with the endpoints it
may use (all when none are named) and a rate in generated tokens a minute."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import time

from nlsh.paths import config_dir, ensure


def _path() -> str:
    return os.path.join(config_dir(), "serve-keys.json")


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def load() -> list[dict]:
    try:
        with open(_path(), encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as e:
        raise ValueError(f"cannot read {_path()}: {e}") from None
    return data if isinstance(data, list) else []


def _write(entries: list[dict]) -> None:
    ensure(config_dir())
    tmp = f"{_path()}.{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(entries, f, indent=1)
    os.replace(tmp, _path())


def add(name: str, endpoints: list[str] | None = None, rate: int | None = None) -> str:
    """A new key named ``name``; the key itself (shown once)."""
    if not name or not name.replace("-", "").replace("_", "").isalnum():
        raise ValueError(f"key name {name!r}: use letters, digits, - and _")
    entries = load()
    if any(e["name"] == name for e in entries):
        raise ValueError(f"a key named {name!r} exists; revoke it first")
    for p in endpoints or []:
        if not p.startswith("/v1/"):
            raise ValueError(f"endpoint {p!r}: keys name API endpoints such as /v1/chat/completions")
    if rate is not None and rate <= 0:
        raise ValueError("--rate must be a positive number of tokens a minute")
    key = "nlsh-" + secrets.token_urlsafe(24)
    entries.append({"name": name, "sha256": _digest(key), "endpoints": endpoints or [], "rate": rate,
                    "created": int(time.time())})
    _write(entries)
    return key


def revoke(name: str) -> None:
    entries = load()
    kept = [e for e in entries if e["name"] != name]
    if len(kept) == len(entries):
        raise ValueError(f"no key named {name!r}")
    _write(kept)


class KeyRing:
    """The keys as the daemon checks them (read again when the file changes)."""

    def __init__(self) -> None:
        self._stamp: tuple | None = None
        self._entries: list[dict] = []

    def entries(self) -> list[dict]:
        try:
            st = os.stat(_path())
            stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        except OSError:
            stamp = None
        if stamp != self._stamp:
            try:
                self._entries = load()
            except ValueError:
                self._entries = []
            self._stamp = stamp
        return self._entries

    def check(self, key: str) -> dict | None:
        digest = _digest(key)
        for e in self.entries():
            if secrets.compare_digest(e.get("sha256", ""), digest):
                return e
        return None
