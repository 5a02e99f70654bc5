"""Import graph of the cvm package: module-level and function-level edges, cycles between packages/modules."""
import ast, sys, os
from pathlib import Path
from collections import defaultdict
root = Path(sys.argv[1] if len(sys.argv) > 1 else "src")
mods = {}
for p in root.rglob("*.py"):
    rel = p.relative_to(root).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__": parts = parts[:-1]
    mods[".".join(parts)] = p
def resolve(name):
    while name and name not in mods:
        name = name.rpartition(".")[0]
    return name or None
edges = defaultdict(set); inner = defaultdict(set)
for m, p in mods.items():
    tree = ast.parse(p.read_text())
    pkg = m if p.name == "__init__.py" else m.rpartition(".")[0]
    def visit(node, depth, typeonly=False):
        for ch in ast.iter_child_nodes(node):
            if isinstance(ch, ast.If) and "TYPE_CHECKING" in ast.unparse(ch.test):
                continue
            d = depth + (1 if isinstance(ch, (ast.FunctionDef, ast.AsyncFunctionDef)) else 0)
            if isinstance(ch, (ast.Import, ast.ImportFrom)):
                targets = []
                if isinstance(ch, ast.Import):
                    targets = [a.name for a in ch.names]
                else:
                    base = ch.module or ""
                    if ch.level:
                        b = pkg.split(".")
                        b = b[: len(b) - ch.level + 1]
                        base = ".".join(b + ([base] if base else []))
                    targets = [base + "." + a.name for a in ch.names] + [base]
                for t in targets:
                    if not t.startswith("cvm"): continue
                    r = resolve(t)
                    if r and r != m:
                        (inner if d else edges)[m].add(r)
            visit(ch, d)
    visit(tree, 0)
def cycles(graph, key=lambda x: x):
    g = defaultdict(set)
    for a, bs in graph.items():
        for b in bs:
            ka, kb = key(a), key(b)
            if ka != kb: g[ka].add(kb)
    # Tarjan SCC
    index = {}; low = {}; st = []; on = set(); out = []; i = [0]
    sys.setrecursionlimit(10000)
    def sc(v):
        index[v] = low[v] = i[0]; i[0] += 1; st.append(v); on.add(v)
        for w in g[v]:
            if w not in index: sc(w); low[v] = min(low[v], low[w])
            elif w in on: low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = st.pop(); on.discard(w); comp.append(w)
                if w == v: break
            if len(comp) > 1: out.append(sorted(comp))
    for v in list(g):
        if v not in index: sc(v)
    return out
allg = defaultdict(set)
for d in (edges, inner):
    for a, bs in d.items(): allg[a] |= bs
layer = lambda m: ".".join(m.split(".")[:2])
print("modules", len(mods), "module-level edges", sum(map(len, edges.values())), "function-level edges", sum(map(len, inner.values())))
print("cycles (module level, modules):", cycles(edges))
print("cycles (incl. function level, modules):", cycles(allg))
print("cycles (incl. function level, packages):", cycles(allg, layer))
