"""The import graph of the cvm package, and its cycles.

    python scripts/import_graph.py [src]

Edges are the imports of ``cvm`` modules, split into module-level imports and imports inside
functions (which can hide a cycle from Python but not from a reader). ``if TYPE_CHECKING:``
blocks are left out. Cycles are the strongly connected components (Tarjan) of the graph of
modules, with and without the function-level edges, and of the graph of top-level packages
(``cvm.value``, ``cvm.data`` …). tests/test_architecture.py asserts there are none.
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path


def module_files(root: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every ``.py`` under ``root`` (a ``src`` folder)."""
    mods = {}
    for path in root.rglob("*.py"):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        mods[".".join(parts)] = path
    return mods


def import_edges(root: Path) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """(module-level edges, function-level edges) between cvm modules under ``root``."""
    mods = module_files(root)

    def resolve(name: str) -> str | None:
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name or None

    top: dict[str, set[str]] = defaultdict(set)
    inner: dict[str, set[str]] = defaultdict(set)
    for module, path in mods.items():
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]

        def visit(node: ast.AST, in_function: bool) -> None:
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                    continue
                nested = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
                if isinstance(child, ast.Import):
                    targets = [alias.name for alias in child.names]
                elif isinstance(child, ast.ImportFrom):
                    base = child.module or ""
                    if child.level:
                        parts = package.split(".")
                        parts = parts[: len(parts) - child.level + 1]
                        base = ".".join(parts + ([base] if base else []))
                    targets = [f"{base}.{alias.name}" for alias in child.names] + [base]
                else:
                    targets = []
                for target in targets:
                    found = resolve(target) if target.startswith("cvm") else None
                    if found and found != module:
                        (inner if nested else top)[module].add(found)
                visit(child, nested)

        visit(ast.parse(path.read_text(encoding="utf-8")), False)
    return top, inner


def cycles(graph: dict[str, set[str]], key=lambda name: name) -> list[list[str]]:
    """Strongly connected components with more than one member, after mapping nodes by ``key``."""
    grouped: dict[str, set[str]] = defaultdict(set)
    for a, targets in graph.items():
        for b in targets:
            if key(a) != key(b):
                grouped[key(a)].add(key(b))
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    sys.setrecursionlimit(10_000)

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in grouped[v]:
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in list(grouped):
        if v not in index:
            connect(v)
    return found


def package_of(module: str) -> str:
    """``cvm.value.clv`` -> ``cvm.value``: the layer a module belongs to."""
    return ".".join(module.split(".")[:2])


def main(root: Path) -> int:
    top, inner = import_edges(root)
    both: dict[str, set[str]] = defaultdict(set)
    for edges in (top, inner):
        for a, targets in edges.items():
            both[a] |= targets
    print(f"modules {len(module_files(root))}, module-level edges {sum(map(len, top.values()))}, "
          f"function-level edges {sum(map(len, inner.values()))}")
    print("cycles (module level, modules):", cycles(top))
    print("cycles (incl. function level, modules):", cycles(both))
    print("cycles (incl. function level, packages):", cycles(both, package_of))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "src")))
