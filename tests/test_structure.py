"""The code's shape: no import cycle, no module importing a layer above it, small modules, nothing heavy at import.

Imports are read from the source (every ``import`` and ``from ... import``, inside functions
too: a lazy import is still a dependency), so a cycle hidden behind a function-level import
is found as well.
"""

from __future__ import annotations

import ast
import collections
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"

# Each top-level unit of bench (a module or a package) and its layer: a unit may import its own
# modules and units of lower layers only. Leaves first; the command line last.
LAYERS: dict[str, int] = {
    "errors": 0,
    "orders": 1, "registry": 1, "options": 1, "measures": 1, "progress": 1, "latency": 1, "lazy_import": 1, "device": 1, "waits": 1,
    "lock_holder": 1,
    "store": 2, "ranking": 2, "server_waits": 2,
    "trec": 3, "partial": 3, "config": 3, "models": 3,
    "collection": 4, "stages": 4, "backends": 4,
    "evaluate": 5, "work": 5,
    "rerankers": 6, "engines": 6,
    "first_stage": 7,  # a dense first stage encodes with the bi-encoder family's code
    "results": 8,
    "report": 9,
    "experiment": 10,
    "pyterrier": 11,  # a front end for PyTerrier users, like cli.py for the shell
    "reproduce": 12, "reproduce_requests": 12,
    "commands": 13,
    "cli": 14,
    "__main__": 15, "bench": 15,
}
MAX_LINES = 320  # "none much over 300"
COMPILED = {"bench.first_stage.bm25.kernel"}  # numba kernels: a module that is its compiled code, imported only when a query runs
# modules whose classes subclass an optional extra's (a pt.Transformer): imported only by users of that extra
EXTRA_BOUND = {"bench.pyterrier.transformer", "bench.pyterrier.pipelines", "bench.pyterrier.data"}


def _modules() -> dict[str, Path]:
    out = {}
    for path in BENCH.rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    edges: dict[str, set[str]] = collections.defaultdict(set)
    for name, path in modules.items():
        package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.ImportFrom):
                base = ".".join(package[: len(package) - node.level + 1] + ([node.module] if node.module else [])) if node.level else node.module or ""
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            for target in targets:
                while target not in modules and "." in target:
                    target = target.rsplit(".", 1)[0]
                if target in modules and target != name:
                    edges[name].add(target)
    return edges


def _unit(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "bench"


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in list(_modules()):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycle():
    assert _cycles(_graph()) == []


def test_the_cycle_finder_finds_a_cycle():
    """The check above could fail: a planted cycle is found."""
    edges = {"bench.a": {"bench.b"}, "bench.b": {"bench.c"}, "bench.c": {"bench.a"}}
    index_modules = _modules
    try:
        globals()["_modules"] = lambda: {"bench.a": Path("a"), "bench.b": Path("b"), "bench.c": Path("c")}
        assert _cycles(edges) == [["bench.a", "bench.b", "bench.c"]]
    finally:
        globals()["_modules"] = index_modules


def test_every_unit_has_a_layer_and_imports_only_below_it():
    edges = _graph()
    units = {_unit(m) for m in _modules()}
    assert units <= set(LAYERS), f"give these a layer: {sorted(units - set(LAYERS))}"
    upward = sorted(f"{a} -> {b}" for a, targets in edges.items() for b in targets
                    if _unit(a) != _unit(b) and LAYERS[_unit(b)] >= LAYERS[_unit(a)])
    assert upward == []


def test_config_imports_no_plugin():
    plugins = {"rerankers", "first_stage", "engines", "collection", "report", "backends", "evaluate"}
    assert {_unit(m) for m in _graph()["bench.config"]} & plugins == set()


def test_no_module_is_much_over_300_lines():
    sizes = {str(p.relative_to(ROOT)): len(p.read_text(encoding="utf-8").splitlines()) for p in BENCH.rglob("*.py")}
    assert {p: n for p, n in sizes.items() if n > MAX_LINES} == {}


def test_importing_every_module_loads_nothing_heavy():
    """No work at import time: importing all of bench pulls in none of torch, transformers, ranx, pandas, ray, ir_datasets."""
    code = (
        "import importlib, json, sys\n"
        f"for name in {sorted(m for m in _modules() if not m.endswith('__main__') and m not in COMPILED | EXTRA_BOUND)!r}:\n"
        "    importlib.import_module(name)\n"
        "heavy = ('torch', 'transformers', 'ranx', 'pandas', 'ray', 'ir_datasets', 'matplotlib', 'numba', 'ir_measures')\n"
        "print(json.dumps(sorted(m for m in heavy if m in sys.modules)))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout) == []
