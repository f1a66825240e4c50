"""The shell's variables. As in nlsh every variable is in the environment of
the programs it runs (bash's exported ones); a name made read-only
(``readonly``, ``declare -r``) refuses a new value and ``unset``, as in bash."""

from __future__ import annotations

from collections.abc import Iterable

from nlsh.kernel.context import CommandError


class Variables(dict):
    """NAME -> value, with the names that are read-only."""

    def __init__(self, values: Iterable = (), readonly: Iterable[str] = ()) -> None:
        super().__init__(values)
        self.readonly = set(readonly)

    def __setitem__(self, name: str, value: str) -> None:
        if name in self.readonly:
            raise CommandError(f"{name}: readonly variable")
        super().__setitem__(name, value)

    def __delitem__(self, name: str) -> None:
        self._may_unset(name)
        super().__delitem__(name)

    def pop(self, name: str, *default):
        self._may_unset(name)
        return super().pop(name, *default)

    def update(self, *args, **kwargs) -> None:
        for name, value in dict(*args, **kwargs).items():
            self[name] = value

    def setdefault(self, name: str, value: str = "") -> str:
        if name not in self:
            self[name] = value
        return self[name]

    def restore(self, name: str, value: str | None) -> None:
        """Put back what a function's ``local`` hid (the function's own read-only name goes with it)."""
        self.readonly.discard(name)
        if value is None:
            super().pop(name, None)
        else:
            super().__setitem__(name, value)

    def copy(self) -> Variables:
        """A subshell's own variables (read-only names stay read-only there)."""
        return Variables(self, self.readonly)

    def _may_unset(self, name: str) -> None:
        if name in self.readonly:
            raise CommandError(f"{name}: cannot unset: readonly variable")
