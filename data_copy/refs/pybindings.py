"""What a Python expression may hold, read from the module alone: a registry table, or
one of a few string literals.

Every binding of a name in the module counts, whatever its scope (`x = ...` anywhere,
`self.x = ...`, a class attribute, a `@property` or a function returning something):
- a registry table when every binding is the same `get_table('...')` call;
- string literals when every binding is a string literal (or `a if c else b` of them);
- otherwise unknown. A parameter, loop or `with` target, import, `+=`, unpacking, or a
  field of a dataclass / pydantic model (an annotated class attribute in a decorated
  class or a model's subclass: instances get other values) makes a name unknown, so that
  SQL built from it stays `dynamic` rather than be read with a guessed value.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from data_copy.refs import names
from data_copy.refs.found import Literal, Placeholder

_MODEL_BASES = frozenset({"BaseModel", "BaseSettings", "NamedTuple", "TypedDict", "Struct", "Model"})
_DEPTH = 6
_MAX_VALUES = 16


def unparse(node: ast.AST) -> str:
    try:
        return ast.unparse(node)
    except Exception:  # noqa: BLE001 - only for keys and the report
        return "?"


def get_table_arg(node: ast.AST) -> str | None:
    """`x.get_table('games')` -> 'games'."""
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "get_table"
        and node.args
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    ):
        return node.args[0].value
    return None


def _returns(function: ast.FunctionDef | ast.AsyncFunctionDef) -> Iterator[ast.AST | None]:
    """The values `function` returns (None for a bare return, a yield or falling off the end)."""
    stack: list[ast.AST] = list(function.body)
    returned = False
    while stack:
        node = stack.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef):
            continue
        if isinstance(node, ast.Return):
            returned = True
            yield node.value
        elif isinstance(node, ast.Yield | ast.YieldFrom):
            yield None
        stack.extend(ast.iter_child_nodes(node))
    if not returned or not _ends(function.body):
        yield None


def _ends(body: list[ast.stmt]) -> bool:
    """Does `body` always end in a return or raise (so it never falls off the end)?"""
    last = body[-1] if body else None
    if isinstance(last, ast.If):
        return _ends(last.body) and _ends(last.orelse)
    return isinstance(last, ast.Return | ast.Raise)


def _decorated_as(function: ast.FunctionDef | ast.AsyncFunctionDef, suffix: str) -> bool:
    return any(unparse(d).endswith(suffix) for d in function.decorator_list)


def _is_model(cls: ast.ClassDef) -> bool:
    bases = {unparse(b).rsplit(".", 1)[-1] for b in cls.bases}
    return bool(cls.decorator_list) or bool(bases & _MODEL_BASES)


class Bindings:
    def __init__(self, tree: ast.Module) -> None:
        self.values: dict[str, list[ast.AST | None]] = {}
        self._handled: set[int] = set()
        self._visit(tree.body, None)
        self._poison(tree)

    # -- collecting

    def _bind(self, key: str, value: ast.AST | None) -> None:
        self.values.setdefault(key, []).append(value)

    def _target(self, target: ast.AST, value: ast.AST | None, cls: ast.ClassDef | None, field: bool) -> None:
        self._handled.add(id(target))
        if isinstance(target, ast.Name) and cls is not None:
            for key in (f"self.{target.id}", f"cls.{target.id}", f"{cls.name}.{target.id}"):
                self._bind(key, None if field else value)
        elif isinstance(target, ast.Name | ast.Attribute):
            self._bind(unparse(target), value)

    def _visit(self, body: list[ast.stmt], cls: ast.ClassDef | None) -> None:
        for stmt in body:
            if isinstance(stmt, ast.ClassDef):
                self._visit(stmt.body, stmt)
                continue
            if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
                self._function(stmt, cls)
                continue
            if isinstance(stmt, ast.Assign):
                for target in stmt.targets:
                    self._target(target, stmt.value, cls, False)
            elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
                self._target(stmt.target, stmt.value, cls, cls is not None and _is_model(cls))
            for child in ast.iter_child_nodes(stmt):  # if / for / with / try bodies: same scope
                if isinstance(child, ast.stmt):
                    self._visit([child], cls)
            for field in ("body", "orelse", "finalbody", "handlers", "cases"):
                for sub in getattr(stmt, field, []) or []:
                    if isinstance(sub, ast.ExceptHandler | ast.match_case):
                        self._visit(sub.body, cls)

    def _function(self, function: ast.FunctionDef | ast.AsyncFunctionDef, cls: ast.ClassDef | None) -> None:
        returned = list(_returns(function))
        if cls is None:
            keys = [f"{function.name}()"]
        elif _decorated_as(function, "property"):
            keys = [f"self.{function.name}", f"cls.{function.name}"]
        else:
            keys = [f"self.{function.name}()", f"cls.{function.name}()", f"{cls.name}.{function.name}()"]
        for key in keys:
            for value in returned:
                self._bind(key, value)
        if cls is None:
            self._bind(function.name, None)  # a module's function: the name is bound to it
        self._visit(function.body, None)  # its body: locals and self.x = ... of a method

    def _poison(self, tree: ast.Module) -> None:
        """Every other way of binding a name makes it unknown."""
        for node in ast.walk(tree):
            if isinstance(node, ast.Name | ast.Attribute) and isinstance(node.ctx, ast.Store):
                if id(node) not in self._handled:
                    self._bind(unparse(node), None)
            elif isinstance(node, ast.arg):
                self._bind(node.arg, None)
            elif isinstance(node, ast.alias):
                self._bind(node.asname or node.name.split(".")[0], None)
            elif isinstance(node, ast.Global | ast.Nonlocal):
                for name in node.names:
                    self._bind(name, None)

    # -- reading

    def _key(self, node: ast.AST) -> str | None:
        if isinstance(node, ast.Name | ast.Attribute):
            return unparse(node)
        if isinstance(node, ast.Call) and not node.args and not node.keywords:
            return f"{unparse(node.func)}()"
        return None

    def registry(self, node: ast.AST, depth: int = 0) -> str | None:
        """The registry's logical name when `node` is a get_table call or bound only to one."""
        direct = get_table_arg(node)
        key = self._key(node)
        if direct is not None or key is None or depth > _DEPTH or key not in self.values:
            return direct
        found = {self.registry(v, depth + 1) if v is not None else None for v in self.values[key]}
        return found.pop() if len(found) == 1 and None not in found else None

    def literals(self, node: ast.AST, depth: int = 0) -> tuple[Literal, ...] | None:
        """The string literals `node` may hold, or None when it may hold anything else."""
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return (Literal(node.value, node.lineno, node.col_offset),)
        if isinstance(node, ast.IfExp):
            body, orelse = self.literals(node.body, depth), self.literals(node.orelse, depth)
            return body + orelse if body is not None and orelse is not None else None
        if isinstance(node, ast.JoinedStr | ast.BinOp):
            return self._composed(node, depth)
        if isinstance(node, ast.Call) and unparse(node.func).endswith("Identifier") and node.args:
            parts = [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
            if len(parts) == len(node.args) and not node.keywords:  # psycopg quotes each part
                quoted = ".".join('"' + p.replace('"', '""') + '"' for p in parts)
                return (Literal(quoted, node.lineno, node.col_offset),)
            return None
        key = self._key(node)
        if key is None or depth > _DEPTH or key not in self.values:
            return None
        found: list[Literal] = []
        for value in self.values[key]:
            more = self.literals(value, depth + 1) if value is not None else None
            if more is None:
                return None
            found.extend(more)
        return tuple(dict.fromkeys(found))

    def _composed(self, node: ast.JoinedStr | ast.BinOp, depth: int) -> tuple[Literal, ...] | None:
        """`f"{SCHEMA}.games"`, `SCHEMA + ".games"`: every value, when every part is known."""
        if isinstance(node, ast.BinOp):
            if not isinstance(node.op, ast.Add):
                return None
            parts: list[ast.AST] = [node.left, node.right]
        else:
            parts = list(node.values)
        values = [""]
        for part in parts:
            if isinstance(part, ast.FormattedValue):
                if part.format_spec is not None or part.conversion not in (-1, 115):  # plain or !s
                    return None
                part = part.value
            known = self.literals(part, depth + 1) if depth <= _DEPTH else None
            if known is None or len(values) * len(known) > _MAX_VALUES:
                return None
            values = [v + k.value for v in values for k in known]
        line, col = getattr(node, "lineno", 1), getattr(node, "col_offset", 0)
        return tuple(Literal(v, line, col) for v in dict.fromkeys(values))

    def placeholder(self, index: int, source: str, node: ast.AST | None) -> Placeholder:
        """The placeholder for a run-time part holding `node` (None: not known at all)."""
        if node is None:
            return Placeholder(index, source)
        literals = self.literals(node)
        names_only = literals is not None and all(names.parse(lit.value) is not None for lit in literals)
        return Placeholder(index, source, self.registry(node), literals if literals and names_only else ())
