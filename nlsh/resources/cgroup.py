"""Memory limits the kernel enforces: a cgroup per limited job.

cgroup v2 where this process may make cgroups below its own (root, or a
delegated subtree: ``systemd-run --user --scope -p Delegate=yes nlsh``); the
v1 memory hierarchy where it is writable (root on a v1 or hybrid host).
Elsewhere ``limit --mem`` falls back to polling the job's processes (psutil),
which a fast allocation can outrun between two looks.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable

ROOT = "/sys/fs/cgroup"
_found: tuple[str, str] | None = None      # (version, base directory), once looked for
_looked = False
_lock = threading.Lock()
_serial = 0


def _own(controller: str) -> str | None:
    """This process's cgroup path for a v1 ``controller``, or the v2 one for ""."""
    try:
        with open("/proc/self/cgroup") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    for line in lines:
        _, names, path = line.split(":", 2)
        if controller in names.split(",") if controller else names == "":
            return path
    return None


def _write(path: str, text: str) -> bool:
    try:
        with open(path, "w") as f:
            f.write(text)
        return True
    except OSError:
        return False


def _v2() -> str | None:
    own = _own("")
    if own is None or not os.path.exists(os.path.join(ROOT, "cgroup.controllers")):
        return None
    base = os.path.join(ROOT, own.lstrip("/"))
    try:
        with open(os.path.join(base, "cgroup.controllers")) as f:
            if "memory" not in f.read().split():
                return None
        with open(os.path.join(base, "cgroup.subtree_control")) as f:
            enabled = "memory" in f.read().split()
    except OSError:
        return None
    if not enabled and not _write(os.path.join(base, "cgroup.subtree_control"), "+memory"):
        # A cgroup with processes in it cannot hand controllers down ("no internal
        # processes"): this shell moves into a leaf of its own first.
        leaf = os.path.join(base, f"nlsh-{os.getpid()}")
        with contextlib.suppress(FileExistsError):
            try:
                os.mkdir(leaf)
            except OSError:
                return None
        if not _write(os.path.join(leaf, "cgroup.procs"), str(os.getpid())):
            return None
        if not _write(os.path.join(base, "cgroup.subtree_control"), "+memory"):
            return None
    return base


def _v1() -> str | None:
    own = _own("memory")
    base = os.path.join(ROOT, "memory", (own or "").lstrip("/"))
    if own is None or not os.path.exists(os.path.join(base, "memory.limit_in_bytes")):
        return None
    return base if os.access(base, os.W_OK) else None


def mechanism() -> tuple[str, str] | None:
    """("v2" or "v1", the cgroup new ones are made in), or None where none can be made."""
    global _found, _looked
    with _lock:
        if not _looked:
            _looked = True
            if os.environ.get("NLSH_CGROUPS", "").lower() not in ("0", "off", "no"):
                base = _v2()
                _found = ("v2", base) if base else None
                if _found is None:
                    base = _v1()
                    _found = ("v1", base) if base else None
        return _found


def describe() -> str:
    """What ``limit --mem`` uses here, in a line."""
    found = mechanism()
    if found is None:
        return ("memory: polled every 0.1 s (psutil): no cgroup can be made here; run nlsh in a delegated "
                "cgroup (systemd-run --user --scope -p Delegate=yes nlsh) for kernel-enforced limits")
    return f"memory: the kernel enforces it (cgroup {found[0]}, in {found[1]})"


class JobCgroup:
    """One job's cgroup: its programs join it as they start; removed when it ends."""

    def __init__(self, version: str, path: str) -> None:
        self.version, self.path = version, path

    def _read(self, name: str) -> str:
        try:
            with open(os.path.join(self.path, name)) as f:
                return f.read()
        except OSError:
            return ""

    def add(self, pid: int) -> None:
        _write(os.path.join(self.path, "cgroup.procs"), str(pid))

    def joiner(self) -> Callable[[], None]:
        """A function for a new child to call before it execs: it moves itself in
        (``0`` is the writer). Only system calls: it runs between fork and exec."""
        path = os.path.join(self.path, "cgroup.procs").encode()

        def join() -> None:
            fd = os.open(path, os.O_WRONLY)
            try:
                os.write(fd, b"0")
            finally:
                os.close(fd)
        return join

    def oom_killed(self) -> bool:
        """Did the kernel kill one of its programs for the limit?"""
        name = "memory.events" if self.version == "v2" else "memory.oom_control"
        for line in self._read(name).splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill" and value.strip().isdigit() and int(value) > 0:
                return True
        return False

    def peak(self) -> int:
        text = self._read("memory.peak" if self.version == "v2" else "memory.max_usage_in_bytes").strip()
        return int(text) if text.isdigit() else 0

    def remove(self) -> None:
        """Remove the cgroup once its programs are gone (an orphan still in it keeps it)."""
        with contextlib.suppress(OSError):
            os.rmdir(self.path)


def job_cgroup(limit: int) -> JobCgroup | None:
    """A new cgroup holding its members to ``limit`` bytes (swap included), or None."""
    global _serial
    found = mechanism()
    if found is None:
        return None
    version, base = found
    with _lock:
        _serial += 1
        path = os.path.join(base, f"nlsh-{os.getpid()}-job{_serial}")
    try:
        os.mkdir(path)
    except OSError:
        return None
    if version == "v2":
        ok = _write(os.path.join(path, "memory.max"), str(int(limit)))
        if os.path.exists(os.path.join(path, "memory.swap.max")):
            _write(os.path.join(path, "memory.swap.max"), "0")
    else:
        ok = _write(os.path.join(path, "memory.limit_in_bytes"), str(int(limit)))
        if os.path.exists(os.path.join(path, "memory.memsw.limit_in_bytes")):
            _write(os.path.join(path, "memory.memsw.limit_in_bytes"), str(int(limit)))
    if not ok:
        with contextlib.suppress(OSError):
            os.rmdir(path)
        return None
    return JobCgroup(version, path)
