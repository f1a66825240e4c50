"""nlsh's trash: what ``rm`` removes (and what planned steps overwrite) is
moved here, with its original path and time, so it can be restored."""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid

from nlsh.kernel.context import CommandError
from nlsh.paths import data_dir, ensure

KEEP_CAP = 64 << 20     # bytes: a file overwritten that is bigger than this is not kept


class Trash:
    def __init__(self, root: str | None = None) -> None:
        self.root = root or os.path.join(data_dir(), "trash")
        self._kept: set = set()

    def put(self, paths: list[str], action: str, cwd: str, *, copy: bool = False) -> str | None:
        """Move ``paths`` (absolute) into one new entry (``copy``: copy them, the
        originals stay); its id. Missing paths are skipped."""
        paths = [p for p in paths if os.path.lexists(p)]
        if not paths:
            return None
        entry_id = time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
        entry = os.path.join(ensure(self.root), entry_id)
        os.makedirs(os.path.join(entry, "items"))
        items = []
        try:
            for i, p in enumerate(paths):
                stored = os.path.join(entry, "items", str(i))
                kind = "dir" if os.path.isdir(p) and not os.path.islink(p) else "file"
                (shutil.copy2 if copy else shutil.move)(p, stored)
                items.append({"original": p, "stored": stored, "type": kind})
        finally:
            with open(os.path.join(entry, "entry.json"), "w") as f:
                json.dump({"id": entry_id, "time": time.time(), "action": action, "cwd": cwd,
                           "items": items}, f)
        return entry_id

    def keep(self, path: str, action: str, cwd: str, once: object = None) -> str | None:
        """Before ``path`` (a file, absolute) is overwritten: a copy of it into a new
        entry, so that ``undo`` brings the old content back; its id. Nothing is kept
        for an empty file, a folder, or a file over KEEP_CAP bytes; with ``once``
        (the line being run), a path is kept once per line, its first content."""
        try:
            st = os.stat(path)
        except OSError:
            return None
        key = (once, os.path.realpath(path))
        if not os.path.isfile(path) or st.st_size == 0 or st.st_size > KEEP_CAP or key in self._kept:
            return None
        entry_id = self.put([path], f"overwritten by {action}", cwd, copy=True)
        if once is not None:
            self._kept.add(key)
        return entry_id

    def entries(self) -> list[dict]:
        out = []
        try:
            names = os.listdir(self.root)
        except OSError:
            return []
        for n in names:
            try:
                with open(os.path.join(self.root, n, "entry.json")) as f:
                    out.append(json.load(f))
            except (OSError, ValueError):
                continue
        return sorted(out, key=lambda e: e["time"])

    def get(self, entry_id: str) -> dict:
        for e in self.entries():
            if e["id"] == entry_id or e["id"].endswith(entry_id):
                return e
        raise CommandError(f"no trash entry {entry_id!r} ('trash list' shows them)")

    def restore(self, entry_id: str, force: bool = False) -> list[str]:
        """Put an entry's items back. A path that exists again is never overwritten
        unless ``force``, and then what is there goes to the trash first."""
        entry = self.get(entry_id)
        merged = [i for i in entry["items"] if i["type"] == "dir" and os.path.isdir(i["original"])
                  and not os.path.islink(i["original"])]
        clashes = [i["original"] for i in entry["items"] if os.path.lexists(i["original"]) and i not in merged]
        if clashes and not force:
            newer = [c for c in clashes if os.lstat(c).st_mtime > entry["time"]]
            what = "was changed after it was deleted" if newer else "exists again"
            raise CommandError(f"{clashes[0]} {what}; 'trash restore {entry['id']} --force' replaces it "
                               "(the current one goes to the trash)")
        if clashes:
            self.put(clashes, f"replaced by trash restore {entry['id']}", entry["cwd"])
        restored = []
        for item in entry["items"]:
            os.makedirs(os.path.dirname(item["original"]) or "/", exist_ok=True)
            if item in merged:          # made again meanwhile (nlsh's own ~/.cache/nlsh): the two are merged
                _merge(item["stored"], item["original"], self, entry["cwd"])
            else:
                shutil.move(item["stored"], item["original"])
            restored.append(item["original"])
        shutil.rmtree(os.path.join(self.root, entry["id"]), ignore_errors=True)
        return restored

    def empty(self, older_than: float | None = None) -> int:
        """Delete entries for good (only those older than ``older_than`` seconds); how many."""
        n = 0
        now = time.time()
        for e in self.entries():
            if older_than is None or now - e["time"] > older_than:
                shutil.rmtree(os.path.join(self.root, e["id"]), ignore_errors=True)
                n += 1
        return n

    def size(self, entry: dict) -> int:
        total = 0
        for d, _, files in os.walk(os.path.join(self.root, entry["id"], "items")):
            for f in files:
                try:
                    total += os.lstat(os.path.join(d, f)).st_size
                except OSError:
                    pass
        return total


def keep_overwritten(shell, path: str, action: str) -> None:
    """Before ``path`` is overwritten by ``action``: its content into the trash
    (once per line: the content it had before the line), so ``undo`` restores it."""
    trash = getattr(shell, "trash", None)
    if trash is None or not os.path.isfile(path):
        return
    try:
        trash.keep(path, action, shell.cwd, once=getattr(shell, "line_serial", None))
    except OSError as e:
        raise CommandError(f"{path}: not overwritten, as its old content cannot be kept in the trash "
                           f"({e.strerror or e})") from None


def _merge(stored: str, target: str, trash: Trash, cwd: str) -> None:
    """Put the folder ``stored`` back where ``target`` now exists: what is only in
    ``stored`` moves in; a file in both is the restored one (the newer goes to the
    trash); folders in both merge."""
    for name in os.listdir(stored):
        src, dst = os.path.join(stored, name), os.path.join(target, name)
        if os.path.isdir(src) and not os.path.islink(src) and os.path.isdir(dst) and not os.path.islink(dst):
            _merge(src, dst, trash, cwd)
            continue
        if os.path.lexists(dst):
            trash.put([dst], f"replaced by restoring {target}", cwd)
        shutil.move(src, dst)
