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


def runtime_dir() -> str:
    """The model service's socket and lock (``runtime_path()``), made with mode 0700."""
    path = runtime_path()
    os.makedirs(path, mode=0o700, exist_ok=True)
    st = os.stat(path)
    if st.st_uid != os.getuid() or st.st_mode & 0o077:
        os.chmod(path, 0o700)                   # raises where it is someone else's: never share a socket
    return path


def runtime_path() -> str:
    """Where the model service's socket lives: ``$XDG_RUNTIME_DIR/nlsh``, else
    ``/tmp/nlsh-UID`` (``$NLSH_HOME/run`` under NLSH_HOME); a path too long for a
    Unix socket is replaced by a short one under /tmp named after it."""
    home = os.environ.get("NLSH_HOME")
    if home:
        path = os.path.join(home, "run")
    elif os.environ.get("XDG_RUNTIME_DIR"):
        path = os.path.join(os.environ["XDG_RUNTIME_DIR"], "nlsh")
    else:
        path = f"/tmp/nlsh-{os.getuid()}"
    if len(path) > 80:                          # sun_path holds 108 bytes, the socket's name included
        import hashlib
        path = f"/tmp/nlsh-{os.getuid()}-{hashlib.sha256(path.encode()).hexdigest()[:12]}"
    return path


def scratch_home(prefix: str) -> None:
    """For benchmarks: history, data and configuration in a new temporary folder
    (removed at exit), the user's caches kept, so that the model is not assembled
    again (1.1 GB) on every run. Nothing changes where ``NLSH_HOME`` is set."""
    if os.environ.get("NLSH_HOME"):
        return
    import atexit
    import shutil
    import tempfile
    home = tempfile.mkdtemp(prefix=prefix)
    os.environ.update(XDG_DATA_HOME=os.path.join(home, "data"), XDG_CONFIG_HOME=os.path.join(home, "config"))
    atexit.register(shutil.rmtree, home, True)


def inside(path: str, folder: str) -> bool:
    """``path`` is ``folder`` or somewhere under it (both absolute, normalised)."""
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def ensure(path: str) -> str:
    os.makedirs(path, exist_ok=True)
    return path


def read_toml(path: str) -> dict:
    """A TOML file's table; ValueError("cannot read PATH: why") if it cannot be read or parsed."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except OSError as e:
        raise ValueError(f"cannot read {path}: {e.strerror or e}") from None
    except ValueError as e:                     # tomllib.TOMLDecodeError
        raise ValueError(f"cannot read {path}: {e}") from None


def read_config() -> dict:
    """config.toml ({} if there is none); ValueError("cannot read PATH: why") if it cannot be read."""
    path = os.path.join(config_dir(), "config.toml")
    return read_toml(path) if os.path.exists(path) else {}


def current_umask() -> int:
    """The process's mask, read without changing it where Linux says it (os.umask alone
    sets a new one, which a thread creating a file meanwhile would get)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o077)
    os.umask(mask)
    return mask
