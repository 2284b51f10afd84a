"""The package's shape: one-way imports, layers, explicit public names.

The import graph is read from the source (every ``import`` statement, including those
inside functions and under ``TYPE_CHECKING``), and importing ``a.b.c`` counts as
importing the packages ``a.b`` and ``a`` too, because Python runs their ``__init__``.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "analysis"
#: Stages and front ends: the library below them never imports them.
UPPER_LAYERS = ("analysis.study", "analysis.report", "analysis.cli")


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    targets = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(package[: len(package) - node.level + 1] + [node.module or ""]).strip(".") \
                if node.level else (node.module or "")
            targets.add(base)
            targets.update(f"{base}.{alias.name}" for alias in node.names)
    resolved = set()
    for target in targets:
        parts = target.split(".")
        for k in range(1, len(parts) + 1):  # the module and every package above it
            candidate = ".".join(parts[:k])
            if candidate in modules and candidate != name and not name.startswith(candidate + "."):
                resolved.add(candidate)
    return resolved


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_there_are_no_import_cycles():
    assert _cycles(_graph()) == []


def test_the_library_never_imports_stages_report_or_cli():
    offenders = {name: sorted(t for t in targets if t.startswith(UPPER_LAYERS))
                 for name, targets in _graph().items() if not name.startswith(UPPER_LAYERS + ("analysis.__main__",))}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_benchmarks_live_outside_the_package():
    graph = _graph()
    assert not any(t.startswith("benchmarks") for targets in graph.values() for t in targets)
    assert not any("bench" in name for name in graph)


def test_every_module_declares_its_public_names():
    missing = [name for name, path in _modules().items()
               if name != "analysis.__main__" and "__all__" not in path.read_text(encoding="utf-8")]
    assert missing == []


def test_the_cycle_check_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == [["a", "b", "c"]]
