"""Records: the typed rows built-in commands pass along a pipeline.

A stream item is a Record, a line of text (str), or a single value (a
number, a Size, ...). ``plain()`` is the one way an item becomes text for
pipes, files and external programs.
"""

from __future__ import annotations

import datetime as _dt
import json

from nlsh.lang.values import Duration, Size


class Partial(str):
    """A piece of text with no line ending after it (``echo -n``)."""


class Heading(str):
    """A line a stand-in prints around its records, as the GNU tool does
    (``ls``'s ``DIR:`` and ``total 8``): text tools and programs read it as a
    line; commands that work on records (where, get, count …) pass over it."""


class Record(dict):
    """A row of named, typed fields. ``primary`` names the field that stands
    for the whole row when printed plainly (a file list prints its paths);
    ``line``, where given, is that plain text instead (``ls docs`` prints
    ``api.md`` as GNU ls does, while its records name ``docs/api.md``)."""

    __slots__ = ("line", "primary")

    def __init__(self, data: object = (), primary: str | None = None, *, line: str | None = None,
                 **fields: object) -> None:
        super().__init__(data, **fields)
        self.primary = primary
        self.line = line


def plain_value(value: object) -> str:
    """A field value as plain text: sizes in bytes, times in ISO form."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Size):
        return str(int(value))
    if isinstance(value, Duration):
        return str(value)
    if isinstance(value, _dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, float):
        return f"{value:g}"
    if value is None:
        return ""
    return str(value)


def plain(item: object) -> str:
    """One item as one line of plain text (no trailing newline)."""
    if isinstance(item, Record):
        if item.line is not None:
            return item.line
        if item.primary is not None and item.primary in item:
            return plain_value(item[item.primary])
        return "\t".join(plain_value(v) for v in item.values())
    return plain_value(item)


def plain_line(item: object) -> str:
    """One item as output text: its line and a newline (none after a Partial)."""
    text = plain(item)
    return text if isinstance(item, Partial) else text + "\n"


def json_value(value: object) -> object:
    if isinstance(value, Record):
        return {k: json_value(v) for k, v in value.items()}
    if isinstance(value, (Size, int, float, str, bool)) or value is None:
        return int(value) if isinstance(value, Size) else value
    if isinstance(value, _dt.datetime):
        return value.isoformat()
    return str(value)


def to_json(item: object) -> str:
    return json.dumps(json_value(item), ensure_ascii=False)


def as_record(item: object) -> Record:
    """Lines and values flowing into a record command become one-field records."""
    if isinstance(item, Record):
        return item
    if isinstance(item, str):
        return Record(line=item, primary="line")
    return Record(value=item, primary="value")
