"""nlsh-archive: create, list and extract zip and tar.gz archives."""

from __future__ import annotations

import datetime as dt
import os
import tarfile
import zipfile
from collections.abc import Iterator

from nlsh.hookspecs import hookimpl
from nlsh.kernel.context import CommandError
from nlsh.lang.signature import Param
from nlsh.lang.values import Size
from nlsh.records import Record
from nlsh.registry import Example, command


def _kind(path: str) -> str:
    p = path.lower()
    if p.endswith(".zip"):
        return "zip"
    if p.endswith((".tar.gz", ".tgz")):
        return "tar.gz"
    raise CommandError(f"{path}: unknown archive type (use .zip, .tar.gz or .tgz)")


@command("archive-create", "Pack files and folders into a .zip or .tar.gz archive.",
         params=[Param("archive", "path", required=True, metavar="ARCHIVE"),
                 Param("paths", "path", variadic=True, required=True, metavar="PATH")],
         output="text", effects=("read", "write"), category="archive",
         examples=[Example("zip up the docs folder", "archive-create docs.zip docs"),
                   Example("make a tarball of src", "archive-create src.tar.gz src")])
def archive_create(ctx, a) -> Iterator[str]:
    target = ctx.path(a.archive)
    kind = _kind(a.archive)
    if os.path.exists(target):
        raise CommandError(f"{a.archive} already exists")
    count = 0
    if kind == "zip":
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as z:
            for p in a.paths:
                full = ctx.path(p)
                if not os.path.exists(full):
                    ctx.warn(f"{p}: No such file or directory")
                    continue
                for d, dirs, files in os.walk(full) if os.path.isdir(full) else [(os.path.dirname(full), [], [os.path.basename(full)])]:
                    dirs.sort()
                    for f in sorted(files):
                        ctx.check()
                        src = os.path.join(d, f)
                        z.write(src, os.path.relpath(src, ctx.cwd))
                        count += 1
    else:
        with tarfile.open(target, "w:gz") as t:
            for p in a.paths:
                full = ctx.path(p)
                if not os.path.exists(full):
                    ctx.warn(f"{p}: No such file or directory")
                    continue
                t.add(full, arcname=os.path.relpath(full, ctx.cwd))
                count += sum(len(f) for _, _, f in os.walk(full)) if os.path.isdir(full) else 1
    yield f"created {a.archive} ({count} files)"


@command("archive-list", "The members of a .zip or .tar.gz archive as records.",
         params=[Param("archive", "path", required=True, metavar="ARCHIVE")],
         output="records", category="archive",
         examples=[Example("what is in backup.zip", "archive-list backup.zip")])
def archive_list(ctx, a) -> Iterator[Record]:
    path = ctx.path(a.archive)
    if not os.path.exists(path):
        raise CommandError(f"{a.archive}: No such file or directory")
    try:
        if _kind(a.archive) == "zip":
            with zipfile.ZipFile(path) as z:
                for i in z.infolist():
                    yield Record(name=i.filename, size=Size(i.file_size),
                                 modified=dt.datetime(*i.date_time), primary="name")
        else:
            with tarfile.open(path, "r:gz") as t:
                for m in t.getmembers():
                    yield Record(name=m.name, size=Size(m.size),
                                 modified=dt.datetime.fromtimestamp(m.mtime), primary="name")
    except (zipfile.BadZipFile, tarfile.TarError, OSError) as e:
        raise CommandError(f"{a.archive}: not a readable archive ({e})") from None


def _safe(dest: str, name: str) -> str:
    target = os.path.realpath(os.path.join(dest, name))
    if not (target == dest or target.startswith(dest.rstrip("/") + "/")):
        raise CommandError(f"refusing to extract {name!r}: it points outside {dest}")
    return target


@command("archive-extract", "Unpack a .zip or .tar.gz archive (into -C DIR, default here); never outside it.",
         params=[Param("dir", "path", ("-C", "--directory"), "where to unpack", metavar="DIR"),
                 Param("archive", "path", required=True, metavar="ARCHIVE")],
         output="text", effects=("read", "write"), category="archive",
         examples=[Example("unpack release.tar.gz into build", "archive-extract -C build release.tar.gz")])
def archive_extract(ctx, a) -> Iterator[str]:
    path = ctx.path(a.archive)
    dest = os.path.realpath(ctx.path(a.dir or "."))
    os.makedirs(dest, exist_ok=True)
    try:
        if _kind(a.archive) == "zip":
            with zipfile.ZipFile(path) as z:
                names = z.namelist()
                for n in names:
                    _safe(dest, n)
                z.extractall(dest)
        else:
            with tarfile.open(path, "r:gz") as t:
                members = t.getmembers()
                for m in members:
                    _safe(dest, m.name)
                    if m.issym() or m.islnk():
                        _safe(dest, os.path.join(os.path.dirname(m.name), m.linkname))
                names = [m.name for m in members]
                t.extractall(dest, members=members)
    except FileNotFoundError:
        raise CommandError(f"{a.archive}: No such file or directory") from None
    except (zipfile.BadZipFile, tarfile.TarError) as e:
        raise CommandError(f"{a.archive}: not a readable archive ({e})") from None
    yield f"extracted {len(names)} entries into {os.path.relpath(dest, ctx.cwd)}"


@hookimpl
def register_commands(register) -> None:
    for cmd in (archive_create, archive_list, archive_extract):
        register(cmd)
