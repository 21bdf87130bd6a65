"""Finds SQL built as a Python string: what reaches `execute()` or `sql.SQL()` must be a
literal (or psycopg.sql composition), never an f-string, `%`, `.format`, `.join` or `+`
over strings. A pure AST walk: no module is imported or run.

A variable counts as string-built when any assignment to it in the same function (or at
module level) is, so `query = f"..."; conn.execute(query)` is found too.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

# callables whose first argument is SQL text
SQL_SINKS = frozenset({"execute", "executemany", "SQL", "copy", "run"})  # run: the stand-in's Session.run


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    sink: str
    how: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.how} passed to {self.sink}()"


def _is_text(node: ast.expr) -> bool:
    return isinstance(node, ast.JoinedStr) or (isinstance(node, ast.Constant) and isinstance(node.value, str))


def _how(node: ast.expr, tainted: set[str]) -> str | None:
    """Why `node` is SQL built as a string, or None if it is not."""
    if isinstance(node, ast.JoinedStr) and any(isinstance(v, ast.FormattedValue) for v in node.values):
        return "an f-string"
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod) and _is_text(node.left):
        return "a %-formatted string"
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        if _is_text(node.left) or _is_text(node.right):
            return "a string concatenation"
        return _how(node.left, tainted) or _how(node.right, tainted)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and _is_text(node.func.value):
        if node.func.attr in ("format", "join", "replace", "format_map"):
            return f"a str.{node.func.attr}() result"
    if isinstance(node, ast.Name) and node.id in tainted:
        return f"variable {node.id!r} built as a string"
    if isinstance(node, ast.IfExp):
        return _how(node.body, tainted) or _how(node.orelse, tainted)
    return None


def _sink(call: ast.Call) -> str | None:
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
    return name if name in SQL_SINKS and call.args else None


def _scopes(tree: ast.Module) -> list[ast.AST]:
    return [tree, *(n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)))]


def _own_nodes(scope: ast.AST) -> list[ast.AST]:
    """The nodes of `scope` that are not inside a nested function."""
    found: list[ast.AST] = []
    stack = list(ast.iter_child_nodes(scope))
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue
        found.append(node)
        stack.extend(ast.iter_child_nodes(node))
    return found


def check_source(text: str, path: str = "<string>") -> list[Finding]:
    tree = ast.parse(text, filename=path)
    findings: list[Finding] = []
    for scope in _scopes(tree):
        nodes = _own_nodes(scope)
        tainted: set[str] = set()
        for _ in range(3):  # assignments from assignments: a fixed point in a few passes
            for node in nodes:
                if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)) and node.value is not None:
                    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                    value_how = _how(node.value, tainted)
                    if isinstance(node, ast.AugAssign) and isinstance(node.op, ast.Add) and _is_text(node.value):
                        value_how = value_how or "a string concatenation"
                    if value_how:
                        tainted.update(t.id for t in targets if isinstance(t, ast.Name))
        for node in nodes:
            if isinstance(node, ast.Call) and (sink := _sink(node)):
                how = _how(node.args[0], tainted)
                if how:
                    findings.append(Finding(path, node.lineno, sink, how))
    return sorted(findings, key=lambda f: (f.path, f.line))


def check_tree(root: Path, folders: tuple[str, ...]) -> list[Finding]:
    findings: list[Finding] = []
    for folder in folders:
        for path in sorted((root / folder).rglob("*.py")):
            findings.extend(check_source(path.read_text(), str(path.relative_to(root))))
    return findings
