"""Mistakes a small model makes in a line that is otherwise right, mended before
the plan is shown (the user sees and confirms the mended line).

Only one so far, the commonest in the research (../shared/research/baseline.md):
``find DIR -name A -o -name B -exec CMD {} +``, where GNU find (and nlsh's) runs
CMD only on B's matches, as ``-o`` binds looser than the implied ``-a`` before
the action. Everyone who writes it means ``\\( -name A -o -name B \\) -exec …``.
"""

from __future__ import annotations

import dataclasses

from nlsh.commands.find import ACTIONS
from nlsh.lang import ParseError, Plan, parse, text
from nlsh.registry import Registry

_JOINERS = ("or", "and", "not", "open", "close", "paths", "maxdepth", "mindepth")


def mended(plan: Plan, registry: Registry) -> Plan:
    """``plan`` with every top-level find's ungrouped alternatives before an action grouped."""
    changed = False
    chains = []
    for chain in plan.chains:
        pipelines = []
        for pipeline in chain.pipelines:
            calls = []
            for call in pipeline.calls:
                args = grouped(call.args) if call.name == "find" and not call.external else None
                changed |= args is not None
                calls.append(dataclasses.replace(call, args=args) if args is not None else call)
            pipelines.append(dataclasses.replace(pipeline, calls=tuple(calls)))
        chains.append(dataclasses.replace(chain, pipelines=tuple(pipelines)))
    if not changed:
        return plan
    # parsed again from its text, so that every part (the words a program would get) agrees
    try:
        return parse(text(dataclasses.replace(plan, chains=tuple(chains)), registry.signature), registry)
    except ParseError:
        return plan                 # a text nlsh cannot read back: the line as the model wrote it


def _family(kind: str) -> str:
    return "name" if kind in ("name", "iname", "path", "ipath", "wholename", "regex", "iregex") else kind


def _test_at(items: list, i: int) -> int | None:
    """Where the single test ending at ``i`` starts (``! -name A`` from its ``!``), or None."""
    if not 0 <= i < len(items) or items[i][0] in _JOINERS or items[i][0] in ACTIONS:
        return None
    return i - 1 if i > 0 and items[i - 1][0] == "not" else i


def grouped(args: tuple) -> tuple | None:
    """find's ``(name, value)`` items with ``T1 -o T2 … -o Tn ACTION`` made
    ``( T1 -o … -o Tn ) ACTION``, when every alternative is one test of one kind (names,
    types, sizes…); None when
    there is nothing to mend (grouped already, no action, an action in an alternative)."""
    items = list(args)
    kinds = [k for k, _ in items]
    ors = [i for i, k in enumerate(kinds) if k == "or"]
    acts = [i for i, k in enumerate(kinds) if k in ACTIONS]
    if not ors or not acts or "open" in kinds or acts[0] < ors[-1]:
        return None
    start = _test_at(items, ors[0] - 1)
    if start is None:
        return None
    alike = {_family(kinds[ors[0] - 1])}
    for before, after in zip(ors, ors[1:] + [None]):
        end = before + 1 + (kinds[before + 1:before + 2] == ["not"])
        if _test_at(items, end) is None or (after is not None and end != after - 1):
            return None
        alike.add(_family(kinds[end]))
    if len(alike) > 1:              # -name A -type f -o -name B: which tests were meant together is not clear
        return None
    return tuple(items[:start] + [("open", True)] + items[start:end + 1] + [("close", True)] + items[end + 1:])
