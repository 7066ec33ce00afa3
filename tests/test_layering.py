"""Layering: imports flow one way, importing the package is light, workloads live inside it.

Configs and data at the bottom, engines above, the facade above, apps (CLI, sweeps, plots) on
top. The module-level import graph of ``eie_sim`` must be acyclic; ``import eie_sim`` and
``import eie_sim.config`` must load no engine, SimPy, matplotlib or Dask.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "eie_sim"
HEAVY = ("simpy", "matplotlib", "dask")


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _top_level_imports(path: Path) -> set[str]:
    """eie_sim modules imported at module level (function-level imports are lazy: not edges)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        else:
            continue
        for name in names:
            if name in MODULES and name != "eie_sim":
                out.add(name)
    return out


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_module_level_imports_have_no_circle():
    graph = {name: _top_level_imports(path) for name, path in MODULES.items()}
    cycle = _find_cycle(graph)
    assert cycle is None, "import circle: " + " -> ".join(cycle)


def test_the_cycle_finder_finds_a_circle():
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _find_cycle({"a": {"b"}, "b": set()}) is None


def test_configs_import_no_engine():
    imported = _top_level_imports(MODULES["eie_sim.config"])
    assert not any(name.startswith("eie_sim.engines") for name in imported)


def test_counter_catalogues_are_leaf_modules():
    from eie_sim import registry

    for acc in registry.ACCELERATORS.values():
        imported = _top_level_imports(MODULES[acc.counters])
        assert all(name.endswith(".counters") for name in imported), (acc.name, imported)


@pytest.mark.parametrize("statement", ["import eie_sim", "import eie_sim.config",
                                       "import eie_sim.registry; eie_sim.registry.all_counters()",
                                       "from eie_sim.energy import load_table; load_table('7nm')"])
def test_importing_the_package_loads_nothing_heavy(statement):
    code = (f"{statement}\nimport sys\n"
            f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_importing_the_package_loads_no_engine_module():
    code = ("import eie_sim, sys\n"
            "print(sorted(m for m in sys.modules if m.startswith('eie_sim.engines.')\n"
            "             and not m.endswith(('.counters', '.record'))\n"
            "             and m.count('.') > 2))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_there_is_no_top_level_workloads_package(tmp_path):
    out = subprocess.run([sys.executable, "-c", "import workloads"], capture_output=True,
                         text=True, cwd=tmp_path)
    assert out.returncode != 0 and "No module named 'workloads'" in out.stderr
    assert (PACKAGE / "workloads" / "__init__.py").is_file()
