"""The shell's variables. As in nlsh every variable is in the environment of
the programs it runs (bash's exported ones); a name made read-only
(``readonly``, ``declare -r``) refuses a new value and ``unset``, as in bash.
Arrays (``a=(x y)``, ``declare -A m``) are variables too, kept apart: as in
bash no program sees them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from nlsh.kernel.context import CommandError


class Array(dict):
    """An array's elements: index -> value, or for an associative array
    (``assoc``) key -> value, in the order the keys were set."""

    def __init__(self, items: Iterable = (), assoc: bool = False) -> None:
        super().__init__(items)
        self.assoc = assoc

    def ordered(self) -> list[tuple[int | str, str]]:
        """(index, value) pairs: by index, or as set for an associative array."""
        return list(self.items()) if self.assoc else sorted(self.items())

    @property
    def next_index(self) -> int:
        """Where ``a+=(x)`` puts x: after the highest index."""
        return max(self, default=-1) + 1

    @property
    def first(self) -> int | str:
        """The element ``$a`` (no subscript) stands for: ``${a[0]}``."""
        return "0" if self.assoc else 0

    def copy(self) -> Array:
        return Array(self, self.assoc)


@dataclass
class Assignment:
    """One ``NAME=VALUE`` (``+=`` appends) after expansion: ``NAME[INDEX]=VALUE``
    sets one element, ``NAME=(…)`` a whole array (``items``: its values, with
    the ``[KEY]=`` written before some), ``NAME`` alone only declares."""
    name: str
    value: str | None = None
    index: str | None = None
    items: list[tuple[str | None, str]] | None = None
    append: bool = False

    def __str__(self) -> str:
        """Shell text, as ``set -x`` shows it: ``x='a b'``, ``a=(1 'b c')``."""
        import shlex
        target = self.name if self.index is None else f"{self.name}[{self.index}]"
        eq = "+=" if self.append else "="
        if self.items is not None:
            return f"{target}{eq}(" + " ".join((f"[{k}]=" if k is not None else "") + shlex.quote(v)
                                               for k, v in self.items) + ")"
        return target if self.value is None else f"{target}{eq}{shlex.quote(self.value)}"


class Variables(dict):
    """NAME -> value, with the names that are read-only, and the ones whose
    values take a shape (``kinds``, as ``declare`` gives them: ``i`` an integer,
    the value of its arithmetic; ``l``/``u`` lower/upper case)."""

    def __init__(self, values: Iterable = (), readonly: Iterable[str] = ()) -> None:
        super().__init__(values)
        self.readonly = set(readonly)
        self.arrays: dict[str, Array] = {}
        self.kinds: dict[str, str] = {}

    def __setitem__(self, name: str, value: str) -> None:
        """Set ``name``; an array's first element (``a=x`` is ``a[0]=x``, as in bash)."""
        self._may_set(name)
        value = self._shaped(name, value)
        array = self.arrays.get(name)
        if array is not None:
            array[array.first] = value
        else:
            super().__setitem__(name, value)

    def _shaped(self, name: str, value: str) -> str:
        """``value`` as ``name``'s kind makes it (``declare -i n; n=2+3`` holds 5)."""
        kind = self.kinds.get(name, "")
        if "i" in kind:
            from nlsh.lang import arith
            try:
                value = str(arith.evaluate(value, lambda n: self.value(n) or ""))
            except ValueError as e:
                raise CommandError(f"{name}: {value}: {e}") from None
        if "l" in kind:
            value = value.lower()
        elif "u" in kind:
            value = value.upper()
        return value

    def value(self, name: str) -> str | None:
        """``$name``: its value, an array's first element; None when unset."""
        array = self.arrays.get(name)
        return self.get(name) if array is None else array.get(array.first)

    def fresh(self, name: str, value: str | Array) -> None:
        """``name`` holds ``value`` alone, whatever it held (a function's ``local``)."""
        self._may_set(name)
        super().pop(name, None)
        self.arrays.pop(name, None)
        if isinstance(value, Array):
            self.set_array(name, value)
        else:
            super().__setitem__(name, self._shaped(name, value))

    def set_array(self, name: str, array: Array) -> None:
        self._may_set(name)
        if self.kinds.get(name):
            for key, value in array.items():
                array[key] = self._shaped(name, value)
        super().pop(name, None)
        self.arrays[name] = array

    def set_element(self, name: str, key: int | str, value: str) -> None:
        """``name[key]=value``; a plain variable becomes an array whose element 0 it is."""
        self._may_set(name)
        array = self.arrays.get(name)
        if array is None:
            scalar = super().pop(name, None)
            array = self.arrays[name] = Array({} if scalar is None else {0: scalar})
        array[key] = self._shaped(name, value)

    def unset_element(self, name: str, key: int | str) -> None:
        self._may_unset(name)
        array = self.arrays.get(name)
        if array is not None:
            array.pop(key, None)
        elif key == 0:
            super().pop(name, None)

    def __delitem__(self, name: str) -> None:
        self._may_unset(name)
        if self.arrays.pop(name, None) is None:
            super().__delitem__(name)

    def pop(self, name: str, *default):
        self._may_unset(name)
        array = self.arrays.pop(name, None)
        return super().pop(name, *default) if array is None else array

    def declared(self, name: str) -> bool:
        """Whether ``name`` is set, as a plain variable or an array."""
        return name in self or name in self.arrays

    def saved(self, name: str) -> tuple[str | Array | None, str]:
        """What ``name`` holds now and its kind, for ``restore`` (what a function's ``local`` hides)."""
        array = self.arrays.get(name)
        return (self.get(name) if array is None else array.copy()), self.kinds.get(name, "")

    def update(self, *args, **kwargs) -> None:
        for name, value in dict(*args, **kwargs).items():
            self[name] = value

    def setdefault(self, name: str, value: str = "") -> str:
        if name not in self:
            self[name] = value
        return self[name]

    def restore(self, name: str, saved: tuple[str | Array | None, str]) -> None:
        """Put back what a function's ``local`` hid (the function's own read-only name and kind go with it)."""
        value, kind = saved
        self.readonly.discard(name)
        super().pop(name, None)
        self.arrays.pop(name, None)
        if kind:
            self.kinds[name] = kind
        else:
            self.kinds.pop(name, None)
        if isinstance(value, Array):
            self.arrays[name] = value
        elif value is not None:
            super().__setitem__(name, value)

    def copy(self) -> Variables:
        """A subshell's own variables (read-only names stay read-only there)."""
        out = Variables(self, self.readonly)
        out.arrays = {name: array.copy() for name, array in self.arrays.items()}
        out.kinds = dict(self.kinds)
        return out

    def _may_set(self, name: str) -> None:
        if name in self.readonly:
            raise CommandError(f"{name}: readonly variable")

    def _may_unset(self, name: str) -> None:
        if name in self.readonly:
            raise CommandError(f"{name}: cannot unset: readonly variable")


def declaration(name: str, env: Variables) -> str:
    """``declare -x NAME="VALUE"`` as bash prints it (``-rx`` when read-only, ``-ix`` an integer);
    ``declare -a NAME=([0]="x" [1]="y")`` for an array (``-A``: associative)."""
    letters = env.kinds.get(name, "") + ("r" if name in env.readonly else "")
    array = env.arrays.get(name)
    if array is None:
        return f'declare -{letters}x {name}={_quoted(env[name])}'
    items = " ".join(f"[{_quoted(str(k)) if array.assoc else k}]={_quoted(v)}" for k, v in array.ordered())
    return f'declare -{"A" if array.assoc else "a"}{letters} {name}=({items})'


def _quoted(text: str) -> str:
    return '"' + "".join("\\" + c if c in '"\\$`' else c for c in text) + '"'
