"""The package's import graph: no cycle, whether or not imports inside functions are counted.

Layers import one way: formula -> design -> engines -> results -> inference -> plots/report -> cli (families
and errors below them all).  An import inside a function hides a cycle from Python but not from a reader:
the graph here counts it.  Imports under `if TYPE_CHECKING:` are type hints only and are left out.
"""

from __future__ import annotations

import ast
from functools import lru_cache
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "bayesmixed"


def module_files() -> dict[str, tuple[Path, bool]]:
    """Module name -> (file, is a package's __init__)."""
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        modules[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return modules


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    hidden = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            hidden.update(id(inner) for statement in node.body for inner in ast.walk(statement))
    return hidden


def _targets(module: str, is_package: bool, node: ast.Import | ast.ImportFrom, modules: dict) -> list[str]:
    """The package modules an import statement loads (`from pkg import name` is pkg.name when that is a module)."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        if node.module == "__future__":
            return []
        base = module.split(".") if is_package else module.split(".")[:-1]
        if node.level:
            base = base[: len(base) - (node.level - 1)]
            prefix = ".".join(base + ([node.module] if node.module else []))
        else:
            prefix = node.module or ""
        names = [f"{prefix}.{alias.name}" if f"{prefix}.{alias.name}" in modules else prefix for alias in node.names]
    found = []
    for name in names:
        while name not in modules and "." in name:
            name = name.rsplit(".", 1)[0]
        if name in modules and name != module:
            found.append(name)
    return found


@lru_cache(maxsize=2)
def import_graph(top_level_only: bool) -> dict[str, set[str]]:
    modules = module_files()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for module, (path, is_package) in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        hidden = _type_checking_nodes(tree)
        nodes = tree.body if top_level_only else [node for node in ast.walk(tree) if id(node) not in hidden]
        for node in nodes:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                graph[module].update(_targets(module, is_package, node, modules))
    return graph


def cycles(graph: dict[str, set[str]]) -> set[frozenset[str]]:
    """Strongly connected components with more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: set[frozenset[str]] = set()
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.add(frozenset(component))
    return found


def test_cycle_finder_finds_a_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == {frozenset({"a", "b", "c"})}


def test_relative_imports_resolve_to_modules():
    graph = import_graph(top_level_only=True)
    assert "bayesmixed.families.base" in graph["bayesmixed.families.negbin"]
    assert "bayesmixed.engines.glmm.deviance" in graph["bayesmixed.engines.glmm.result"]


def test_no_cycle_among_top_level_imports():
    assert cycles(import_graph(top_level_only=True)) == set()


def test_no_cycle_through_function_level_imports():
    found = cycles(import_graph(top_level_only=False))
    assert not found, "import cycle(s): " + "; ".join(" <-> ".join(sorted(c)) for c in found)


def test_families_sit_below_engines_and_results():
    """The families know nothing of the engines or the fit objects that use them."""
    graph = import_graph(top_level_only=False)
    reachable, frontier = set(), ["bayesmixed.families"]
    while frontier:
        for target in graph[frontier.pop()]:
            if target not in reachable:
                reachable.add(target)
                frontier.append(target)
    assert "bayesmixed.families.negbin" in reachable
    assert not any(name.startswith(("bayesmixed.engines", "bayesmixed.results", "bayesmixed.design")) for name in reachable)


def test_results_import_no_engine():
    """Fit objects call back into their engine through what the engine handed them (LmmFit.engine,
    GlmmFit.refit_problem), so results/ imports no engines module, not even inside a function."""
    graph = import_graph(top_level_only=False)
    reached = {(module, target) for module, targets in graph.items() if module.startswith("bayesmixed.results")
               for target in targets if target.startswith("bayesmixed.engines")}
    assert not reached, reached
