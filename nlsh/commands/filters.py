"""Record commands: where, select, get, count, first, last, sum."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from nlsh import regexes
from nlsh.kernel.context import Args, CommandError, Context
from nlsh.lang.signature import Param
from nlsh.lang.values import Duration, Size
from nlsh.records import Record
from nlsh.registry import Example, command

OPERATORS = ("==", "!=", "<", "<=", ">", ">=", "=~", "!~", "contains")


def _typed(value: object, text: str) -> object:
    """``text`` read as the same type as the field ``value`` it is compared with."""
    if isinstance(value, Size):
        return Size.parse(text)
    if isinstance(value, Duration):
        return Duration.parse(text)
    if isinstance(value, bool):
        return text.lower() in ("true", "yes", "1")
    if isinstance(value, (int, float)):
        try:
            return float(text)
        except ValueError:
            return Size.parse(text)
    if isinstance(value, dt.datetime):
        try:
            return dt.datetime.fromisoformat(text)
        except ValueError:
            return dt.datetime.now().replace(microsecond=0) - dt.timedelta(seconds=Duration.parse(text))
    return text


def _field(rec: Record, name: str) -> object:
    if name not in rec:
        raise CommandError(f"no field {name!r} (fields: {', '.join(rec)})")
    return rec[name]


@command("where", "Keep records whose field compares true: where size > 1MB, where name =~ '\\.py$'.",
         params=[Param("field", "str", required=True, metavar="FIELD"),
                 Param("op", "choice", required=True, choices=OPERATORS, metavar="OP"),
                 Param("value", "str", required=True, metavar="VALUE")],
         input="records", output="records", category="records", expression=True,
         examples=[Example("python files here", "ls | where name =~ '\\.py$' | get name", "a.py",
                           {"a.py": "", "b.txt": ""}),
                   Example("files larger than 2 kB", "ls | where size > 2kB | get name", "big",
                           {"big": "x" * 3000, "small": "x"}),
                   Example("only directories", "ls | where type == dir | get name", "d", {"d/x": "", "f": ""})])
def where(ctx: Context, a: Args) -> Iterator[Record]:
    rx = None
    if a.op in ("=~", "!~"):
        try:
            rx = regexes.compile(a.value)
        except regexes.error as e:
            raise CommandError(f"bad regex {a.value!r}: {e}") from None
    for rec in ctx.records():
        v = _field(rec, a.field)
        if rx is not None:
            ok = bool(rx.search(str(v))) == (a.op == "=~")
        elif a.op == "contains":
            ok = a.value in str(v)
        else:
            try:
                rhs = _typed(v, a.value)
            except ValueError as e:
                raise CommandError(f"cannot compare {a.field} with {a.value!r}: {e}") from None
            lhs = v if not isinstance(v, (int, float)) or isinstance(v, bool) else float(v)
            rhs = float(rhs) if isinstance(rhs, (int, float)) and not isinstance(rhs, bool) else rhs
            if isinstance(lhs, str):
                rhs = str(rhs)
            try:
                ok = {"==": lhs == rhs, "!=": lhs != rhs}.get(a.op) if a.op in ("==", "!=") else \
                    {"<": lhs < rhs, "<=": lhs <= rhs, ">": lhs > rhs, ">=": lhs >= rhs}[a.op]
            except TypeError:
                raise CommandError(f"cannot compare {a.field} with {a.value!r}") from None
        if ok:
            yield rec


@command("select", "Keep only the named fields of each record.",
         params=[Param("fields", "str", variadic=True, required=True, metavar="FIELD")],
         input="records", output="records", category="records",
         examples=[Example("names and sizes only", "ls | select name size", "a\t1", {"a": "x"})])
def select(ctx: Context, a: Args) -> Iterator[Record]:
    for rec in ctx.records():
        yield Record({f: _field(rec, f) for f in a.fields})


@command("get", "The values of one field, one per line.",
         params=[Param("field", "str", required=True, metavar="FIELD")],
         input="records", output="any", category="records",
         examples=[Example("just the names", "ls | get name", "a\nb", {"a": "", "b": ""})])
def get(ctx: Context, a: Args) -> Iterator[object]:
    for rec in ctx.records():
        yield _field(rec, a.field)


@command("count", "How many items (records or lines) came in.",
         input="any", output="any", category="records",
         examples=[Example("how many files are here", "ls | count", "2", {"a": "", "b": ""})])
def count(ctx: Context, a: Args) -> Iterator[int]:
    yield sum(1 for _ in ctx.entries())


@command("first", "The first N items (default 1).",
         params=[Param("n", "int", metavar="N", default=1)],
         input="any", output="any", category="records",
         examples=[Example("the biggest file", "ls | sort size -r | first | get name", "b",
                           {"a": "x", "b": "xx"})])
def first(ctx: Context, a: Args) -> Iterator[object]:
    if a.n <= 0:
        return
    for i, item in enumerate(ctx.entries()):
        yield item
        if i + 1 >= a.n:
            return


@command("last", "The last N items (default 1).",
         params=[Param("n", "int", metavar="N", default=1)],
         input="any", output="any", category="records",
         examples=[Example("the newest line", "cat log | last", "c", {"log": "a\nb\nc\n"})])
def last(ctx: Context, a: Args) -> Iterator[object]:
    import collections
    yield from collections.deque(ctx.entries(), maxlen=max(a.n, 0))


@command("sum", "Add up a field of the records (or numbers, one per line).",
         params=[Param("field", "str", metavar="FIELD")],
         input="any", output="any", category="records",
         examples=[Example("total size of the files here", "ls | sum size", "3", {"a": "x", "b": "xx"}),
                   Example("add up the numbers", "printf '1\\n2\\n3\\n' | sum", "6")])
def sum_(ctx: Context, a: Args) -> Iterator[object]:
    total: object = 0
    for item in ctx.entries():
        if a.field is not None:
            v = _field(item if isinstance(item, Record) else Record(line=item), a.field)
        elif isinstance(item, Record):
            v = item.get(item.primary) if item.primary else next(iter(item.values()), 0)
        else:
            v = item
        if isinstance(v, str):
            try:
                v = float(v) if "." in v else int(v)
            except ValueError:
                raise CommandError(f"not a number: {v!r}") from None
        if not isinstance(v, (int, float)):
            raise CommandError(f"cannot add {type(v).__name__} values")
        total = Size(total + v) if isinstance(v, Size) else total + v
    yield total


COMMANDS = [where, select, get, count, first, last, sum_]
