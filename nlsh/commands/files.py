"""File commands (find has its own module): ls, cd, pwd, cat, head, tail, stat, du, df, mkdir,
cp, mv, rm, touch, ln, chmod, tree."""

from __future__ import annotations

import datetime as dt
import math
import os
import shutil
import stat as st
from collections.abc import Iterator

from nlsh.commands.gnu import human, kilobytes, long_lines, total_line, user_name
from nlsh.kernel.context import Args, CommandError, Context, os_reason, whole_lines
from nlsh.lang.signature import Param
from nlsh.lang.values import Size
from nlsh.paths import current_umask, inside
from nlsh.records import Heading, Partial, Record
from nlsh.registry import Example, Touched, command
from nlsh.trash import keep_overwritten

PATHS = Param("paths", "path", variadic=True, metavar="PATH")


def file_type(mode: int) -> str:
    if st.S_ISLNK(mode):
        return "symlink"
    if st.S_ISDIR(mode):
        return "dir"
    if st.S_ISREG(mode):
        return "file"
    return "other"


def mtime_of(s: os.stat_result) -> dt.datetime:
    return dt.datetime.fromtimestamp(s.st_mtime).replace(microsecond=0)


def _entry(name: str, s: os.stat_result, long: bool) -> Record:
    r = Record(name=name, type=file_type(s.st_mode), size=Size(s.st_size), modified=mtime_of(s),
               primary="name")
    if long:
        r["mode"] = st.filemode(s.st_mode)
        r["owner"] = user_name(s.st_uid)
    return r


def _lstat(ctx: Context, shown: str, status: int = 1) -> os.stat_result | None:
    try:
        return os.lstat(ctx.path(shown))
    except OSError as e:
        ctx.warn(f"cannot access '{shown}': {os_reason(e)}", status=status)
        return None


def _children(ctx: Context, shown: str, hidden: bool, dots: bool = False) -> list[tuple[str, str]]:
    """(display name, absolute path) of a directory's entries, sorted (with
    ``.`` and ``..`` where ``dots``, as ``ls -a``)."""
    full = ctx.path(shown)
    try:
        names = sorted(os.listdir(full) + ([".", ".."] if dots else []))
    except OSError as e:
        ctx.warn(f"cannot open directory '{shown}': {os_reason(e)}")
        return []
    out = []
    for n in names:
        if not hidden and n.startswith("."):
            continue
        display = n if shown in (".", "") else os.path.join(shown, n)
        out.append((display, os.path.join(full, n)))
    return out


@command("ls", "List directory contents as records (name, type, size, modified).",
         params=[Param("all", "flag", ("-a", "--all"), "include hidden entries, . and .. too",
                       overrides=("almost_all",)),
                 Param("almost_all", "flag", ("-A", "--almost-all"), "include hidden entries but . and ..",
                       overrides=("all",)),
                 Param("long", "flag", ("-l", "--long"), "add mode and owner"),
                 Param("recursive", "flag", ("-R", "--recursive"), "list subdirectories too"),
                 Param("directory", "flag", ("-d", "--directory"), "list directories themselves"),
                 Param("by_size", "flag", ("-S",), "largest first", overrides=("by_time",)),
                 Param("by_time", "flag", ("-t",), "newest first", overrides=("by_size",)),
                 Param("reverse", "flag", ("-r", "--reverse"), "reverse the order"),
                 Param("human", "flag", ("-h", "--human-readable"), "with -l: sizes as 4.0K, 16M"),
                 Param("one", "flag", ("-1",), "accepted for habit: output is one entry per line"),
                 PATHS],
         output="records", category="files",
         examples=[Example("list the files here", "ls", "a.txt\nb.txt", {"a.txt": "a", "b.txt": "bb"}),
                   Example("show hidden files too", "ls -A", ".h\na.txt", {"a.txt": "", ".h": ""}),
                   Example("list everything under src", "ls -R src", "src:\na.py\nlib\n\nsrc/lib:\nb.py",
                           {"src/a.py": "", "src/lib/b.py": ""}),
                   Example("files bigger than 1 kB, biggest first",
                           "ls | where size > 1kB | sort size -r | get name", "big\nmid",
                           {"big": "x" * 3000, "mid": "x" * 2000, "small": "x"}),
                   Example("the files here, largest first", "ls -S", "big\nmid\nsmall",
                           {"big": "x" * 3000, "mid": "x" * 2000, "small": "x"})], program=True)
def ls(ctx: Context, a: Args) -> Iterator[object]:
    """As GNU ls: the files named (and directories, with -d) first, then each
    directory's entries, under a ``DIR:`` heading when there is more than one
    listing; both in the order -S, -t and -r ask for; with -l GNU's long lines
    and ``total``. Records name paths (``docs/api.md``); their text is what GNU
    prints (``api.md``)."""
    named, dirs = [], []
    for shown in a.paths or ["."]:
        s = _lstat(ctx, shown, status=2)        # a name given that is not there: GNU's "serious trouble"
        if s is not None and st.S_ISLNK(s.st_mode) and not (a.long or a.directory):
            try:                # a link named on the line is followed to a folder, as GNU ls does without -l
                s = target if st.S_ISDIR((target := os.stat(ctx.path(shown))).st_mode) else s
            except OSError:
                pass
        if s is not None:
            (dirs if st.S_ISDIR(s.st_mode) and not a.directory else named).append((shown, ctx.path(shown), s))
    files = _ordered(sorted(named, key=lambda e: e[0]), a)
    # GNU sizes the named files' columns with the folders named beside them too
    yield from _block(files, a, "", total=False, basenames=False, widen=[(d, f, s) for d, f, s in dirs])
    headed = bool(named) or len(dirs) > 1 or a.recursive
    first = not files
    for shown, _, _ in _ordered(sorted(dirs, key=lambda e: e[0]), a):
        yield from _listing(ctx, shown, a, headed, first)
        first = False


def _ordered(entries: list[tuple[str, str, os.stat_result]], a: Args) -> list[tuple[str, str, os.stat_result]]:
    """``entries`` (in name order) as -S (largest first), -t (newest first) and -r put them."""
    if a.by_size:
        entries.sort(key=lambda e: -e[2].st_size)     # stable: ties stay in name order, as GNU
    elif a.by_time:
        entries.sort(key=lambda e: -e[2].st_mtime_ns)
    if a.reverse:
        entries.reverse()
    return entries


def _listing(ctx: Context, shown: str, a: Args, headed: bool, first: bool, path: str | None = None) -> Iterator[object]:
    """One directory's entries (under its heading: ``path``, as GNU names it,
    ``./docs`` under ``.``), then with -R each subdirectory's, as GNU."""
    path = shown if path is None else path
    entries = []
    for display, full in _children(ctx, shown, a.all or a.almost_all, dots=a.all):
        ctx.check()
        try:
            entries.append((display, full, os.lstat(full)))
        except OSError as e:
            ctx.warn(f"cannot access '{display}': {os_reason(e)}")
    entries = _ordered(entries, a)
    heading = ("" if first else "\n") + (f"{path}:\n" if headed else "")
    yield from _block(entries, a, heading, total=True, basenames=True)
    if a.recursive:
        for display, _, s in entries:
            if st.S_ISDIR(s.st_mode) and os.path.basename(display) not in (".", ".."):
                yield from _listing(ctx, display, a, True, False, os.path.join(path, os.path.basename(display)))


def _block(entries: list[tuple[str, str, os.stat_result]], a: Args, heading: str, total: bool,
           basenames: bool, widen: list[tuple[str, str, os.stat_result]] = ()) -> Iterator[object]:
    """The records of one listing, after its heading lines (``DIR:``, -l's ``total``);
    -l's columns as wide as these entries and ``widen`` need."""
    names = [os.path.basename(d) if basenames else d for d, _, _ in entries]
    lines = long_lines([(n, full, s) for n, (_, full, s) in zip(names, entries)] + list(widen),
                       a.human)[:len(entries)] if a.long else names
    if a.long and total:
        heading += total_line(entries, a.human) + "\n"
    for line in heading.removesuffix("\n").split("\n") if heading else ():
        yield Heading(line)
    for i, (display, _, s) in enumerate(entries):
        r = _entry(display, s, a.long)
        r.line = lines[i]
        yield r


@command("cd", "Change the working directory (cd - returns to the previous one).",
         params=[Param("dir", "path", metavar="DIR")], output="text", category="files",
         shell_state=True,
         examples=[Example("go into the docs folder", "cd docs", None, {"docs/x": ""}),
                   Example("go to my home directory", "cd ~")])
def cd(ctx: Context, a: Args) -> Iterator[str]:
    """``cd -`` says where it went, as in bash."""
    shell = ctx.shell
    target = a.dir if a.dir is not None else shell.env.get("HOME", os.path.expanduser("~"))
    if target == "-":
        target = shell.env.get("OLDPWD")
        if not target:
            raise CommandError("OLDPWD not set")
        _enter(ctx, target)
        yield ctx.shell.cwd
        return
    _enter(ctx, target)


def _enter(ctx: Context, target: str) -> None:
    """Make ``target`` the working directory, or say why not."""
    full = ctx.path(target)
    if not os.path.exists(full):
        raise CommandError(f"{target}: No such file or directory")
    if not os.path.isdir(full):
        raise CommandError(f"{target}: Not a directory")
    if not os.access(full, os.X_OK):
        raise CommandError(f"{target}: Permission denied")
    ctx.shell.set_cwd(full)


def _stack(ctx: Context) -> Iterator[str]:
    home = ctx.shell.env.get("HOME", "")
    for d in [ctx.cwd, *ctx.shell.dirs]:
        yield "~" + d[len(home):] if home and (d == home or d.startswith(home + "/")) else d


@command("pushd", "Go to DIR, keeping the directory you leave on a stack (popd returns); "
         "without DIR, swap the top two.",
         params=[Param("dir", "path", metavar="DIR")], output="text", category="files", shell_state=True,
         planned=False, examples=[Example("work in docs for a while", "pushd docs", None, {"docs/x": ""})])
def pushd(ctx: Context, a: Args) -> Iterator[str]:
    here = ctx.cwd
    if a.dir is None:
        if not ctx.shell.dirs:
            raise CommandError("no other directory")
        _enter(ctx, ctx.shell.dirs.pop(0))
    else:
        _enter(ctx, a.dir)
    ctx.shell.dirs.insert(0, here)
    yield " ".join(_stack(ctx))


@command("popd", "Return to the directory on top of pushd's stack.",
         output="text", category="files", shell_state=True, planned=False,
         examples=[Example("go back to where pushd left", "pushd docs && popd", None, {"docs/x": ""})])
def popd(ctx: Context, a: Args) -> Iterator[str]:
    if not ctx.shell.dirs:
        raise CommandError("directory stack empty")
    _enter(ctx, ctx.shell.dirs[0])
    ctx.shell.dirs.pop(0)
    yield " ".join(_stack(ctx))


@command("dirs", "Show pushd's stack of directories, the working one first.",
         output="text", category="files", planned=False,
         examples=[Example("which directories are on the stack", "dirs")])
def dirs(ctx: Context, a: Args) -> Iterator[str]:
    yield " ".join(_stack(ctx))


@command("pwd", "Print the working directory.", output="text", category="files",
         examples=[Example("where am I", "pwd")], program=True)
def pwd(ctx: Context, a: Args) -> Iterator[str]:
    yield ctx.cwd


@command("cat", "Print files (or the input) as text lines.",
         params=[Param("number", "flag", ("-n", "--number"), "number the lines"), PATHS],
         input="text", output="text", category="files",
         examples=[Example("show notes.txt", "cat notes.txt", "hello\nworld", {"notes.txt": "hello\nworld\n"}),
                   Example("show a.txt with line numbers", "cat -n a.txt", "     1\tx\n     2\ty",
                           {"a.txt": "x\ny\n"})], program=True)
def cat(ctx: Context, a: Args) -> Iterator[str]:
    n = 0
    for _, lines in ctx.read_lines(a.paths, exact=True, whole=a.number):   # a last line with no newline keeps none
        for line in lines:
            n += 1
            yield (type(line))(f"{n:6d}\t{line}") if a.number else line


def _headers(a: Args) -> bool:
    return len(a.paths) > 1


@command("head", "The first N lines of files, or the first N items of the input.",
         params=[Param("n", "count", ("-n", "--lines"), "how many (default 10)", metavar="N", default=10),
                 PATHS],
         input="any", output="any", category="files", number_flag="n",
         examples=[Example("first 2 lines of log.txt", "head -n 2 log.txt", "a\nb", {"log.txt": "a\nb\nc\n"}),
                   Example("the first line of each file", "head -1 a b", "==> a <==\n1\n\n==> b <==\n2",
                           {"a": "1\n", "b": "2\n"})], program=True)
def head(ctx: Context, a: Args) -> Iterator[object]:
    if not a.paths:
        yield from _first(ctx.items(exact=True), a.n)
        return
    first = True
    for name, lines in ctx.read_lines(a.paths, exact=True):
        if _headers(a):
            yield from ([] if first else [""]) + [f"==> {name} <=="]
        first = False
        yield from _first(lines, a.n)


def _first(items: Iterator[object], n: int) -> Iterator[object]:
    """The first ``n`` lines or items; the pieces of a long line (Partials) pass
    on as they come and count once, when the line ends."""
    done = 0
    if n <= 0:
        return
    for item in items:
        yield item
        if not isinstance(item, Partial):
            done += 1
            if done >= n:
                return


def _last(items: Iterator[object], n: int) -> list[object]:
    """The last ``n`` lines or items, a long line's pieces joined into one (a last
    line with no newline stays a Partial)."""
    import collections
    return list(collections.deque(whole_lines(items, last_partial=True), maxlen=max(n, 0)))


def _file_tail(ctx: Context, path: str, n: int) -> list[str] | None:
    """The last ``n`` lines of a regular file, read from its end backwards in
    blocks (as GNU tail does, so a big file costs what its last lines do); a
    last line with no newline is a Partial. None if it cannot be read."""
    if n <= 0:
        return []
    try:
        f = open(path, "rb")        # noqa: SIM115 (closed below)
    except OSError:
        return None                 # read_lines reports it
    with f:
        pos = f.seek(0, os.SEEK_END)
        blocks: list[bytes] = []
        newlines = 0
        while pos > 0 and newlines <= n:
            ctx.check()
            step = min(1 << 16, pos)
            pos -= step
            f.seek(pos)
            blocks.append(f.read(step))
            newlines += blocks[-1].count(b"\n")
    lines = b"".join(reversed(blocks)).decode("utf-8", "surrogateescape").split("\n")
    ends = lines[-1] == ""
    if ends:
        lines.pop()
    if pos > 0:
        lines.pop(0)                # the piece before the first newline read may be part of a line
    last: list[str] = lines[-n:]
    if last and not ends:
        last[-1] = Partial(last[-1])
    return last


@command("tail", "The last N lines of files or items of the input; -f follows a growing file.",
         params=[Param("n", "count", ("-n", "--lines"), "how many (default 10)", metavar="N", default=10),
                 Param("follow", "flag", ("-f", "--follow"), "keep printing what is appended"),
                 PATHS],
         input="any", output="any", category="files", number_flag="n",
         examples=[Example("last 2 lines of log.txt", "tail -n 2 log.txt", "b\nc", {"log.txt": "a\nb\nc\n"})],
         program=True)
def tail(ctx: Context, a: Args) -> Iterator[object]:
    if not a.paths:
        yield from _last(ctx.items(exact=True), a.n)
        return
    first = True
    for path in a.paths:
        full = ctx.path(path)
        found = _file_tail(ctx, full, a.n) if os.path.isfile(full) else None
        parts = [(path, found)] if found is not None else \
            [(name, _last(lines, a.n)) for name, lines in ctx.read_lines([path], exact=True)]
        for name, last in parts:
            if _headers(a):
                yield from ([] if first else [""]) + [f"==> {name} <=="]
            first = False
            yield from last
    if a.follow and len(a.paths) == 1:
        yield from _follow(ctx, ctx.path(a.paths[0]))


def _follow(ctx: Context, path: str) -> Iterator[str]:
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        f.seek(0, os.SEEK_END)
        partial = ""
        while not ctx.cancel.wait(0.2):
            chunk = f.read()
            if not chunk:
                continue
            partial += chunk
            *done, partial = partial.split("\n")
            yield from done
    ctx.check()


@command("stat", "File status as records: size, mode, owner, times, inode.",
         params=[Param("paths", "path", variadic=True, required=True, metavar="PATH")],
         output="records", category="files",
         examples=[Example("size of a.txt in bytes", "stat a.txt | get size", "3", {"a.txt": "abc"})],
         program=True)
def stat(ctx: Context, a: Args) -> Iterator[Record]:
    for p in a.paths:
        s = _lstat(ctx, p)
        if s is None:
            continue
        yield Record(name=p, type=file_type(s.st_mode), size=Size(s.st_size),
                     mode=f"{st.S_IMODE(s.st_mode):04o}", perms=st.filemode(s.st_mode),
                     owner=user_name(s.st_uid), links=s.st_nlink, inode=s.st_ino,
                     modified=mtime_of(s),
                     accessed=dt.datetime.fromtimestamp(s.st_atime).replace(microsecond=0),
                     changed=dt.datetime.fromtimestamp(s.st_ctime).replace(microsecond=0))


def _tree_size(ctx: Context, full: str) -> int:
    total = 0
    try:
        s = os.lstat(full)
    except OSError:
        return 0
    total += s.st_size if not st.S_ISDIR(s.st_mode) else 0
    if st.S_ISDIR(s.st_mode):
        try:
            entries = os.listdir(full)
        except OSError as e:
            ctx.warn(f"cannot read directory '{full}': {os_reason(e)}")
            return total
        for n in entries:
            ctx.check()
            total += _tree_size(ctx, os.path.join(full, n))
    return total


@command("du", "Disk usage: the total size of the files under each directory.",
         params=[Param("summarize", "flag", ("-s", "--summarize"), "one total per argument"),
                 Param("all", "flag", ("-a", "--all"), "list files too"),
                 Param("depth", "int", ("-d", "--max-depth"), "list directories N levels deep",
                       metavar="N"),
                 Param("human", "flag", ("-h", "--human-readable"), "sizes as 4.0K, 16M"),
                 PATHS],
         output="records", category="files",
         examples=[Example("how big is the docs folder", "du -s docs | get size", "10",
                           {"docs/a": "12345", "docs/b/c": "67890"})], program=True)
def du(ctx: Context, a: Args) -> Iterator[Record]:
    """Records of apparent sizes in bytes; their text is GNU's: the disk used, in
    1K blocks (``-h``: 4.0K, 16M), each file counted once however many links
    it has."""
    if a.summarize and a.all:
        raise CommandError("cannot both summarize and show all entries")
    if a.summarize and a.depth:
        raise CommandError(f"summarizing conflicts with --max-depth={a.depth}")
    depth_limit = 0 if a.summarize else (a.depth if a.depth is not None else math.inf)
    seen: set[tuple[int, int]] = set()
    for root in a.paths or ["."]:
        full = ctx.path(root)
        if not os.path.lexists(full):
            ctx.warn(f"cannot access '{root}': No such file or directory")
            continue
        yield from _du(ctx, root, full, 0, depth_limit, a, seen, [0, 0])


def _du(ctx: Context, shown: str, full: str, depth: int, limit: float, a: Args,
        seen: set[tuple[int, int]], totals: list[int]) -> Iterator[Record]:
    """Records for entries at most ``limit`` deep, children first; the last
    record is always ``shown`` with its total, which is also added to
    ``totals`` (bytes, 512-byte blocks)."""
    s = os.lstat(full)
    if (s.st_dev, s.st_ino) in seen:      # another link to what was counted: GNU neither counts nor lists it
        return
    seen.add((s.st_dev, s.st_ino))
    blocks = s.st_blocks
    size = s.st_size if not st.S_ISDIR(s.st_mode) else 0
    if st.S_ISDIR(s.st_mode):
        try:
            names = sorted(os.listdir(full))
        except OSError as e:
            ctx.warn(f"cannot read directory '{shown}': {os_reason(e)}")
            names = []
        for n in names:
            ctx.check()
            child, child_full = os.path.join(shown, n), os.path.join(full, n)
            if not os.path.lexists(child_full):
                continue
            mine = [0, 0]
            shown_too = depth + 1 <= limit and (a.all or os.path.isdir(child_full) and not os.path.islink(child_full))
            for r in _du(ctx, child, child_full, depth + 1, limit, a, seen, mine):
                if r["path"] != child or shown_too:     # what is inside was chosen below
                    yield r
            size += mine[0]
            blocks += mine[1]
    totals[0] += size
    totals[1] += blocks
    used = human(blocks * 512) if a.human else str(kilobytes(blocks))
    yield Record(size=Size(size), path=shown, line=f"{used}\t{shown}")


@command("df", "Free and used space of mounted file systems.",
         params=[PATHS], output="records", category="files",
         examples=[Example("how much disk space is free", "df")], program=True)
def df(ctx: Context, a: Args) -> Iterator[Record]:
    mounts = _mounts()
    targets = [ctx.path(p) for p in a.paths] if a.paths else None
    seen = set()
    for device, mount in mounts:
        if targets is not None:
            continue
        if mount in seen:
            continue
        seen.add(mount)
        rec = _df_record(device, mount)
        if rec is not None and rec["size"] > 0:
            yield rec
    for t in targets or []:
        if not os.path.exists(t):
            ctx.warn(f"{t}: No such file or directory")
            continue
        mount = max((m for _, m in mounts if t == m or t.startswith(m.rstrip("/") + "/")),
                    key=len, default="/")
        device = next((d for d, m in mounts if m == mount), "?")
        rec = _df_record(device, mount)
        if rec is not None:
            yield rec


def _mounts() -> list[tuple[str, str]]:
    try:
        with open("/proc/mounts") as f:
            return [(line.split()[0], line.split()[1].replace("\\040", " ")) for line in f]
    except OSError:
        return [("/", "/")]


def _df_record(device: str, mount: str) -> Record | None:
    try:
        v = os.statvfs(mount)
    except OSError:
        return None
    size, free = v.f_blocks * v.f_frsize, v.f_bavail * v.f_frsize
    used = size - v.f_bfree * v.f_frsize
    pct = round(100 * used / (used + free)) if used + free else 0
    return Record(filesystem=device, size=Size(size), used=Size(used), available=Size(free),
                  use=f"{pct}%", mount=mount)


@command("mkdir", "Create directories (-p: parents too, no error if present).",
         params=[Param("parents", "flag", ("-p", "--parents"), "make parents as needed"),
                 Param("paths", "path", variadic=True, required=True, metavar="DIR", creates=True)],
         output="none", effects=("write",), category="files",
         examples=[Example("make a folder called backup", "mkdir backup", "backup", check="ls -d backup")],
         program=True)
def mkdir(ctx: Context, a: Args) -> None:
    for p in a.paths:
        try:
            if a.parents:
                os.makedirs(ctx.path(p), exist_ok=True)
            else:
                os.mkdir(ctx.path(p))
        except OSError as e:
            ctx.warn(f"cannot create directory '{p}': {os_reason(e)}")


def _dest(ctx: Context, sources: list[str], dest: str) -> tuple[str, bool]:
    full = ctx.path(dest)
    is_dir = os.path.isdir(full)
    if len(sources) > 1 and not is_dir:
        raise CommandError(f"target '{dest}' is not a directory")
    return full, is_dir


@command("cp", "Copy files (-r: directories too).",
         params=[Param("recursive", "flag", ("-r", "-R", "--recursive"), "copy directories"),
                 Param("no_clobber", "flag", ("-n", "--no-clobber"), "never overwrite"),
                 Param("force", "flag", ("-f", "--force"), "accepted for compatibility"),
                 Param("preserve", "flag", ("-p", "--preserve"), "keep mode and times"),
                 Param("archive", "flag", ("-a", "--archive"), "-r and -p, symbolic links as links"),
                 Param("sources", "path", variadic=True, required=True, metavar="SRC"),
                 Param("dest", "path", required=True, metavar="DEST", creates=True)],
         output="none", effects=("write",), category="files",
         examples=[Example("copy a.txt to b.txt", "cp a.txt b.txt", "hi", {"a.txt": "hi\n"}, check="cat b.txt"),
                   Example("make a backup folder and copy all text files into it", "mkdir backup; cp *.txt backup",
                           "a.txt\nb.txt", {"a.txt": "", "b.txt": ""}, check="ls backup")])
def cp(ctx: Context, a: Args) -> None:
    dest, into = _dest(ctx, a.sources, a.dest)
    recursive, preserve = a.recursive or a.archive, a.preserve or a.archive

    def copy_file(src: str, dst: str) -> None:
        _copy_file(src, dst, preserve)

    for src in a.sources:
        ctx.check()
        full = ctx.path(src)
        target = os.path.join(dest, os.path.basename(full.rstrip("/"))) if into else dest
        try:
            if os.path.isdir(full) and not os.path.islink(full):
                if not recursive:
                    ctx.warn(f"-r not specified; omitting directory '{src}'")
                    continue
                if inside(os.path.abspath(target), os.path.abspath(full)):
                    ctx.warn(f"cannot copy '{src}' into itself")
                    continue
                shutil.copytree(full, target, symlinks=True, dirs_exist_ok=True, copy_function=copy_file)
            elif not os.path.lexists(full):
                ctx.warn(f"cannot stat '{src}': No such file or directory")
            elif a.no_clobber and os.path.lexists(target):
                continue
            elif os.path.exists(target) and os.path.samefile(full, target):
                ctx.warn(f"'{src}' and '{a.dest}' are the same file")
            else:
                _protect(ctx, target)
                if os.path.islink(full) and recursive:        # -r, -a: a link is copied as a link
                    shutil.copy2(full, target, follow_symlinks=False)
                else:
                    copy_file(full, target)
        except OSError as e:
            ctx.warn(f"cannot copy '{src}': {os_reason(e)}")


def _copy_file(src: str, dst: str, preserve: bool) -> None:
    """One file as GNU cp copies it: an existing target keeps its mode and only its
    bytes change (so ``cp f /dev/null`` never re-modes the device), a new one gets the
    source's mode less the umask; ``preserve`` (-p) keeps the mode and times."""
    if preserve:
        shutil.copy2(src, dst)
        return
    existed = os.path.exists(dst)
    shutil.copyfile(src, dst)
    if not existed:
        os.chmod(dst, st.S_IMODE(os.stat(src).st_mode) & ~current_umask())


def _protect(ctx: Context, target: str) -> None:
    """What is about to be overwritten: a copy goes to the trash first (``undo``)."""
    keep_overwritten(ctx.shell, target, ctx.name)


@command("mv", "Move or rename files and directories.",
         params=[Param("no_clobber", "flag", ("-n", "--no-clobber"), "never overwrite"),
                 Param("force", "flag", ("-f", "--force"), "accepted for compatibility"),
                 Param("sources", "path", variadic=True, required=True, metavar="SRC"),
                 Param("dest", "path", required=True, metavar="DEST", creates=True)],
         output="none", effects=("write",), category="files",
         touches=lambda call, shell: Touched(moves=tuple(call.get("sources") or ())),
         examples=[Example("rename draft.md to final.md", "mv draft.md final.md", "final.md",
                           {"draft.md": "x"}, check="ls")])
def mv(ctx: Context, a: Args) -> None:
    dest, into = _dest(ctx, a.sources, a.dest)
    for src in a.sources:
        ctx.check()
        full = ctx.path(src)
        target = os.path.join(dest, os.path.basename(full.rstrip("/"))) if into else dest
        if not os.path.lexists(full):
            ctx.warn(f"cannot stat '{src}': No such file or directory")
            continue
        if os.path.isdir(full) and inside(os.path.abspath(target), os.path.abspath(full)):
            ctx.warn(f"cannot move '{src}' into itself")
            continue
        if a.no_clobber and os.path.lexists(target):
            continue
        try:
            if os.path.lexists(target) and not os.path.isdir(target):
                _protect(ctx, target)
            shutil.move(full, target)
        except (OSError, shutil.Error) as e:
            ctx.warn(f"cannot move '{src}': {os_reason(e) if isinstance(e, OSError) else e}")


@command("rm", "Remove files (-r: directories too) into nlsh's trash ('undo' restores). Paths may come from the input.",
         params=[Param("recursive", "flag", ("-r", "-R", "--recursive"), "remove directories"),
                 Param("force", "flag", ("-f", "--force"), "ignore missing files"),
                 Param("paths", "path", variadic=True, metavar="PATH")],
         input="any", output="none", effects=("delete",), category="files",
         examples=[Example("delete the file a.log", "rm a.log", "b.txt", {"a.log": "", "b.txt": ""}, check="ls"),
                   Example("clear out every .tmp file in the tree", "find . -name '*.tmp' | rm",
                           "./keep", {"x.tmp": "", "d/y.tmp": "", "keep": ""}, check="find . -type f")])
def rm(ctx: Context, a: Args) -> None:
    paths = list(a.paths) if a.paths else [str(v) for v in ctx.lines()] if ctx.input is not None else []
    if not paths and not a.force:
        raise CommandError("missing operand")
    doomed = []
    for p in paths:
        ctx.check()
        full = ctx.path(p)
        if protected(ctx, full) or p in (".", ".."):
            ctx.warn(f"refusing to remove '{p}'")
            continue
        if not os.path.lexists(full):
            if not a.force:
                ctx.warn(f"cannot remove '{p}': No such file or directory")
            continue
        if os.path.isdir(full) and not os.path.islink(full) and not a.recursive:
            ctx.warn(f"cannot remove '{p}': Is a directory")
            continue
        if not os.access(os.path.dirname(full) or "/", os.W_OK):
            ctx.warn(f"cannot remove '{p}': Permission denied")
            continue
        doomed.append(full)
    to_trash(ctx, doomed, "rm " + " ".join(paths))


def protected(ctx: Context, full: str) -> bool:
    """/ and the home directory are never removed (the policy denies it too)."""
    home = os.path.realpath(ctx.env.get("HOME", os.path.expanduser("~")))
    return os.path.realpath(full) in ("/", home)


def to_trash(ctx: Context, paths: list[str], action: str) -> None:
    """Remove ``paths`` (absolute) into the trash, where ``undo`` finds them."""
    try:
        ctx.shell.trash.put(paths, action, ctx.cwd)
    except OSError as e:
        ctx.warn(f"cannot move to the trash: {os_reason(e)}")


@command("touch", "Create empty files or update their modification time.",
         params=[Param("no_create", "flag", ("-c", "--no-create"), "do not create missing files"),
                 Param("paths", "path", variadic=True, required=True, metavar="FILE", creates=True)],
         output="none", effects=("write",), category="files",
         examples=[Example("create an empty file called notes.txt", "touch notes.txt", "notes.txt", check="ls")],
         program=True)
def touch(ctx: Context, a: Args) -> None:
    for p in a.paths:
        full = ctx.path(p)
        try:
            if os.path.exists(full):
                os.utime(full)
            elif not a.no_create:
                open(full, "a").close()
        except OSError as e:
            ctx.warn(f"cannot touch '{p}': {os_reason(e)}")


@command("ln", "Make links (-s: symbolic).",
         params=[Param("symbolic", "flag", ("-s", "--symbolic"), "make a symbolic link"),
                 Param("force", "flag", ("-f", "--force"), "replace an existing link"),
                 Param("target", "path", required=True, metavar="TARGET"),
                 Param("link", "path", metavar="LINK", creates=True)],
         output="none", effects=("write",), category="files",
         touches=lambda call, shell: Touched(writes=(call.get("link"),) if call.get("link") is not None else ()),
         examples=[Example("link latest to v2 symbolically", "ln -s v2 latest", "symlink", {"v2": ""},
                           check="ls latest | get type")])
def ln(ctx: Context, a: Args) -> None:
    link = ctx.path(a.link if a.link else os.path.basename(a.target.rstrip("/")))
    if os.path.isdir(link) and not os.path.islink(link):
        link = os.path.join(link, os.path.basename(a.target.rstrip("/")))
    try:
        if a.force and os.path.lexists(link):
            _protect(ctx, link)
            os.unlink(link)
        if a.symbolic:
            os.symlink(a.target, link)
        else:
            os.link(ctx.path(a.target), link)
    except OSError as e:
        raise CommandError(f"cannot link '{a.link or a.target}': {os_reason(e)}") from None


_WHO = {"u": 0o4700, "g": 0o2070, "o": 0o1007, "a": 0o7777}
_PERM = {"r": 0o444, "w": 0o222, "x": 0o111, "s": 0o6000, "t": 0o1000}


def chmod_mode(spec: str, current: int, is_dir: bool) -> int:
    """Apply an octal (``755``) or symbolic (``u+x,go-w``, ``+x``) mode."""
    if spec and all(c in "01234567" for c in spec):
        return int(spec, 8)
    mode = current
    for clause in spec.split(","):
        i = 0
        who = 0
        while i < len(clause) and clause[i] in _WHO:
            who |= _WHO[clause[i]]
            i += 1
        if not who:
            who = 0o7777
        if i >= len(clause) or clause[i] not in "+-=":
            raise ValueError(f"invalid mode: {spec!r}")
        while i < len(clause) and clause[i] in "+-=":
            op = clause[i]
            i += 1
            bits = 0
            while i < len(clause) and clause[i] in "rwxXst":
                c = clause[i]
                bits |= _PERM["x"] if c == "X" and (is_dir or current & 0o111) else _PERM.get(c, 0)
                i += 1
            bits &= who
            if op == "+":
                mode |= bits
            elif op == "-":
                mode &= ~bits
            else:
                mode = (mode & ~who) | bits
        if i != len(clause):
            raise ValueError(f"invalid mode: {spec!r}")
    return mode


@command("chmod", "Change permissions: octal (755) or symbolic (u+x, go-w, +x).",
         params=[Param("recursive", "flag", ("-R", "--recursive"), "change files below too"),
                 Param("mode", "str", required=True, metavar="MODE"),
                 Param("paths", "path", variadic=True, required=True, metavar="PATH")],
         output="none", effects=("write",), category="files",
         touches=lambda call, shell: Touched(trees=tuple(call.get("paths") or ()) if call.get("recursive") else ()),
         examples=[Example("make run.sh executable", "chmod +x run.sh", "0755", {"run.sh": "echo"},
                           check="stat run.sh | get mode")])
def chmod(ctx: Context, a: Args) -> None:
    try:
        chmod_mode(a.mode, 0o644, False)
    except ValueError as e:
        raise CommandError(str(e)) from None
    for p in a.paths:
        full = ctx.path(p)
        if not os.path.lexists(full):
            ctx.warn(f"cannot access '{p}': No such file or directory")
            continue
        targets = [full]
        if a.recursive and os.path.isdir(full):
            for d, dirs, files in os.walk(full):
                targets += [os.path.join(d, n) for n in dirs + files]
        for t in targets:
            ctx.check()
            try:
                s = os.lstat(t)
                if st.S_ISLNK(s.st_mode):
                    continue
                os.chmod(t, chmod_mode(a.mode, st.S_IMODE(s.st_mode), st.S_ISDIR(s.st_mode)))
            except OSError as e:
                ctx.warn(f"changing permissions of '{t}': {os_reason(e)}")


@command("tree", "Show a directory tree.",
         params=[Param("all", "flag", ("-a",), "include hidden entries"),
                 Param("dirs", "flag", ("-d",), "directories only"),
                 Param("level", "int", ("-L",), "descend at most N levels", metavar="N"),
                 Param("path", "path", metavar="DIR")],
         output="text", category="files",
         examples=[Example("show the tree of src", "tree src", "src\n├── a\n└── lib\n    └── b",
                           {"src/a": "", "src/lib/b": ""})])
def tree(ctx: Context, a: Args) -> Iterator[str]:
    root = a.path or "."
    if not os.path.isdir(ctx.path(root)):
        raise CommandError(f"{root}: not a directory")
    yield root
    counts = [0, 0]

    def walk(shown: str, prefix: str, depth: int) -> Iterator[str]:
        entries = [(d, f) for d, f in _children(ctx, shown, a.all)
                   if not a.dirs or os.path.isdir(f)]
        for i, (display, full) in enumerate(entries):
            ctx.check()
            last = i == len(entries) - 1
            yield f"{prefix}{'└── ' if last else '├── '}{os.path.basename(display)}"
            is_dir = os.path.isdir(full) and not os.path.islink(full)
            counts[0 if is_dir else 1] += 1
            if is_dir and (a.level is None or depth + 1 < a.level):
                yield from walk(display, prefix + ("    " if last else "│   "), depth + 1)

    yield from walk(root, "", 0)


COMMANDS = [ls, cd, pushd, popd, dirs, pwd, cat, head, tail, stat, du, df, mkdir, cp, mv, rm, touch, ln, chmod, tree]
