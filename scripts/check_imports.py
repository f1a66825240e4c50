#!/usr/bin/env python3
"""The layout check: import circles and faces.

Fails (exit 1) on an import circle that spans more than one folder of the
package, and on a core module that imports a face (the modules that talk to
a person: the REPL, the renderer, the command line). Imports inside functions
count; imports under ``if TYPE_CHECKING:`` do not (they never run).

    python3 scripts/check_imports.py [PACKAGE_DIR]      # default: nlsh/ beside this script
"""

from __future__ import annotations

import ast
import os
import sys

FACES = ("repl", "render", "cli", "main", "__main__")


def modules(root: str) -> dict[str, str]:
    """Module name → file, for every .py file under ``root`` (a package folder)."""
    found = {}
    top = os.path.dirname(root)
    for folder, _, files in os.walk(root):
        for f in files:
            if f.endswith(".py"):
                path = os.path.join(folder, f)
                name = os.path.relpath(path, top)[:-3].replace(os.sep, ".")
                found[name.removesuffix(".__init__")] = path
    return found


def imports(path: str, name: str, known: dict[str, str]) -> set[str]:
    """The package's modules that ``name`` (at ``path``) imports when it runs."""
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read())
    typing_only = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            typing_only.update(id(n) for n in ast.walk(node))
    out = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = name.split(".")
                keep = len(parts) - node.level + (1 if path.endswith("__init__.py") else 0)
                base = ".".join(parts[:keep] + ([base] if base else []))
            out.add(base)
            out.update(f"{base}.{a.name}" for a in node.names)
    return {m for m in out if m in known and m != name}


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    counter = 0
    for start, edges_out in graph.items():
        if start in index:
            continue
        work = [(start, iter(sorted(edges_out)))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            v, edges = work[-1]
            w = next(edges, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    found.append(sorted(comp))
    return found


def problems(root: str) -> list[str]:
    known = modules(root)
    graph = {m: imports(p, m, known) for m, p in known.items()}
    out = []
    for comp in circles(graph):
        folders = {os.path.dirname(known[m]) for m in comp}
        if len(folders) > 1:
            out.append(f"import circle across {len(folders)} folders: {', '.join(comp)}")
    package = os.path.basename(root)
    faces = {f"{package}.{f}" for f in FACES}
    for m, deps in sorted(graph.items()):
        if m not in faces and deps & faces:
            out.append(f"core module {m} imports a face: {', '.join(sorted(deps & faces))}")
    return out


def main() -> int:
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                                 os.pardir, "nlsh")
    found = problems(os.path.abspath(root))
    for line in found:
        print(line)
    print(f"{len(found)} problem{'s' if len(found) != 1 else ''}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
