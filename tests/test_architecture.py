"""The layers of cvm import each other in one direction only (issue 15: no import cycles).

The graph is read from the source with :mod:`ast` by scripts/import_graph.py (module-level imports
and imports inside functions, which hide a cycle from Python but not from a reader).
"""

from __future__ import annotations

import importlib.util
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPEC = importlib.util.spec_from_file_location("import_graph", ROOT / "scripts" / "import_graph.py")
graph = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(graph)


def _edges() -> dict[str, set[str]]:
    top, inner = graph.import_edges(ROOT / "src")
    both: dict[str, set[str]] = defaultdict(set)
    for edges in (top, inner):
        for a, targets in edges.items():
            both[a] |= targets
    return both


def test_the_graph_reader_finds_a_cycle(tmp_path):
    # a two-module package whose modules import each other, one of them inside a function
    pkg = tmp_path / "cvm"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from cvm.b import g\n")
    (pkg / "b.py").write_text("def g():\n    from cvm import a\n")
    top, inner = graph.import_edges(tmp_path)
    assert graph.cycles(top) == []
    assert graph.cycles({**top, **inner}) == [["cvm.a", "cvm.b"]]


def test_no_import_cycles_between_modules():
    assert graph.cycles(_edges()) == []


def test_no_import_cycles_between_layers():
    assert graph.cycles(_edges(), graph.package_of) == []
