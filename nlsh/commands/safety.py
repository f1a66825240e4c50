"""Undo and the trash."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator

from nlsh.kernel.context import Args, CommandError, Context
from nlsh.lang.signature import Param
from nlsh.lang.values import Size
from nlsh.records import Record
from nlsh.registry import Example, Touched, command


@command("undo", "Restore what the last rm (or protected overwrite) moved to the trash.",
         output="text", effects=("write",), category="safety",
         examples=[Example("bring back what I just deleted", "undo")])
def undo(ctx: Context, a: Args) -> Iterator[str]:
    entries = ctx.shell.trash.entries()
    if not entries:
        raise CommandError("nothing to undo")
    last = entries[-1]
    # Undoing an overwrite replaces its own result; that result goes to the trash too.
    overwrite = last["action"].startswith("overwritten by")
    for path in ctx.shell.trash.restore(last["id"], force=overwrite):
        yield f"restored {os.path.relpath(path, ctx.cwd)}"


def _trash_touches(call, shell) -> Touched:
    """``trash empty`` cannot be undone, unless it keeps what is less than a day old."""
    if call.get("action") != "empty":
        return Touched()
    older = call.get("older")
    try:
        recent = older is None or float(older) < 86400
    except (TypeError, ValueError):
        recent = True
    return Touched(irreversible="trash empty removes for good what undo could bring back (--older 1d or more "
                                "does not ask)" if recent else "")


@command("trash", "The trash: trash list, trash restore ID [--force], trash empty [--older 30d].",
         params=[Param("action", "choice", required=True, choices=("list", "restore", "empty"),
                       metavar="list|restore|empty"),
                 Param("id", "str", metavar="ID"),
                 Param("force", "flag", ("-f", "--force"), "restore over a path that exists again"),
                 Param("older", "duration", ("--older",), "empty only entries older than this",
                       metavar="DURATION")],
         output="records", effects=("write", "delete"), category="safety", touches=_trash_touches,
         examples=[Example("what is in the trash", "trash list"),
                   Example("empty the trash of things older than a month", "trash empty --older 30d")])
def trash(ctx: Context, a: Args) -> Iterator[object]:
    t = ctx.shell.trash
    if a.action == "list":
        for e in t.entries():
            yield Record(id=e["id"], deleted=dt.datetime.fromtimestamp(e["time"]).replace(microsecond=0),
                         size=Size(t.size(e)), action=e["action"],
                         paths=", ".join(os.path.relpath(i["original"], ctx.cwd) for i in e["items"]))
    elif a.action == "restore":
        if not a.id:
            raise CommandError("restore needs an ID ('trash list' shows them)")
        for path in t.restore(a.id, force=a.force):
            yield f"restored {os.path.relpath(path, ctx.cwd)}"
    else:
        n = t.empty(float(a.older) if a.older is not None else None)
        yield f"removed {n} trash entr{'y' if n == 1 else 'ies'} for good"


COMMANDS = [undo, trash]
