"""Setting variables: what ``NAME=VALUE``, ``NAME=(…)``, ``NAME[INDEX]=VALUE``
(``+=`` appends), ``export``, ``declare``, ``local`` and ``readonly`` do, as in bash."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from nlsh.kernel.context import CommandError, Context
from nlsh.kernel.expand import Pending, Run, arithmetic, element, expand_assignment, subscript
from nlsh.kernel.variables import Array, Assignment

if TYPE_CHECKING:
    from nlsh.lang.plan import Call


def assign(ctx: Context, items: list[Pending], *, readonly: bool = False, own: bool = False,
           kind: str = "", shape: str = "") -> None:
    """Set each of ``items`` in turn, each expanded when it is set; ``own``: the
    running function's (as ``local``); ``kind``: ``a`` or ``A`` makes them
    arrays (associative) as ``declare -a``/``-A``; ``shape``: the letters of
    ``declare -i``/``-l``/``-u`` that their values take from now on."""
    env = ctx.env
    for pending in items:
        item = pending.expand()
        name = item.name
        if own:
            hidden = ctx.frames[-1]
            if name not in hidden:
                hidden[name] = env.saved(name)
                env.kinds.pop(name, None)               # the function's own takes none of the outer one's kind
                if kind or item.value is not None or item.items is not None or item.index is not None:
                    env.fresh(name, Array((), kind == "A") if kind else "")
                else:
                    env.pop(name, None)                 # ``local x``: x has no value yet, as in bash
        if shape:
            had = env.kinds.get(name, "")
            had = had.replace("u", "") if "l" in shape else had.replace("l", "") if "u" in shape else had
            env.kinds[name] = "".join(sorted(set(had + shape)))
        if kind and name not in env.arrays:
            scalar = env.get(name)
            env.fresh(name, Array(() if scalar is None else {0 if kind == "a" else "0": scalar}, kind == "A"))
        if item.items is not None:
            _set_array(ctx, item, kind)
        elif item.index is not None:
            key = subscript(name, item.index, ctx.shell, expanded=True)
            old = element(name, item.index, ctx.shell, expanded=True) if item.append else None
            env.set_element(name, key, (old or "") + item.value)
        elif item.value is not None and item.append and "i" in env.kinds.get(name, ""):
            env[name] = f"{env.value(name) or 0}+({item.value})"       # n+=3 adds, as in bash
        elif item.value is not None:
            env[name] = (env.value(name) or "") + item.value if item.append else item.value
        if readonly:
            env.readonly.add(name)


def _set_array(ctx: Context, item: Assignment, kind: str) -> None:
    """``NAME=(…)`` and ``NAME+=(…)``: unkeyed values go after the last index
    (an associative array's values each need a ``[KEY]=``)."""
    env, name = ctx.env, item.name
    old = env.arrays.get(name)
    assoc = kind == "A" or old is not None and old.assoc
    if item.append and old is not None:
        array = old.copy()
    elif item.append and env.get(name) is not None:
        array = Array({"0" if assoc else 0: env[name]}, assoc)
    else:
        array = Array((), assoc)
    at = array.next_index if not assoc else 0
    for key, value in item.items:
        if assoc:
            if key is None:
                raise CommandError(f"{name}: an associative array's values need keys: {name}=([KEY]=VALUE …)")
            array[key] = value
            continue
        if key is not None:
            try:
                at = arithmetic(key, ctx.shell)
            except ValueError as e:
                raise CommandError(f"{name}[{key}]: {e}") from None
            if at < 0:
                raise CommandError(f"{name}[{key}]: bad array subscript")
        array[at] = value
        at += 1
    env.set_array(name, array)


@contextmanager
def prefixed(call: Call, shell, run: Run | None) -> Iterator[dict[str, str]]:
    """``NAME=VALUE COMMAND``: the call's variables set, left to right (each
    sees the ones before), for as long as the block lasts, then put back as
    they were, as bash does for a built-in or a function; yields them."""
    env = shell.env
    saved: dict[str, object] = {}
    values: dict[str, str] = {}
    try:
        for word in call.env:
            item = expand_assignment(word, shell, run)
            old = env.saved(item.name)
            env[item.name] = (env.value(item.name) or "") + item.value if item.append else item.value
            saved.setdefault(item.name, old)
            values[item.name] = env.value(item.name)
        yield values
    finally:
        for name, old in saved.items():
            env.restore(name, old)
