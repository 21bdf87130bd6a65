"""The refs modules import one another one way: no cycle, and no import inside a function
that would hide an arrow (sqlscan and plpgsql used to import each other, one lazily)."""

from __future__ import annotations

import ast
from pathlib import Path

REFS = Path(__file__).resolve().parents[2] / "data_copy" / "refs"


def _imports() -> tuple[dict[str, set[str]], list[tuple[str, str]]]:
    """module -> the refs modules it imports; (module, imported) for imports not at module level."""
    graph: dict[str, set[str]] = {}
    nested: list[tuple[str, str]] = []
    for path in sorted(REFS.glob("*.py")):
        tree = ast.parse(path.read_text())
        top = {id(node) for node in tree.body}
        graph[path.stem] = set()
        for node in ast.walk(tree):
            if not isinstance(node, ast.ImportFrom) or not node.module:
                continue
            if node.module == "data_copy.refs":
                found = {a.name for a in node.names}
            elif node.module.startswith("data_copy.refs."):
                found = {node.module.split(".")[2]}
            else:
                continue
            graph[path.stem] |= found
            nested += [(path.stem, name) for name in found if id(node) not in top]
    return graph, nested


def test_refs_imports_run_one_way() -> None:
    graph, nested = _imports()
    assert nested == []
    assert "sqlscan" in graph["code"] and "plpgsql" in graph["sqlscan"]  # the scan really is read
    done: set[str] = set()

    def visit(module: str, path: tuple[str, ...]) -> None:
        assert module not in path, f"import cycle: {' -> '.join((*path, module))}"
        if module in done:
            return
        for imported in sorted(graph.get(module, ())):
            visit(imported, (*path, module))
        done.add(module)

    for module in sorted(graph):
        visit(module, ())
