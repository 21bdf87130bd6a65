"""A Python module, read through its AST: its SQL texts and its table names in strings.

SQL: every string expression (pystrings) that reads as SQL. Run-time parts are
placeholders: a registry call (`registry.get_table('games')`, or a name only ever bound to
one) is a table known to be right; string literals the part is known to hold (pybindings)
are read as table names in a table position; any other part in a table position makes
the SQL `dynamic`.

Names (kind `name`): a string literal whose whole content is a qualified table name
(`'splits.games'`, `"SPLITS.GAMES"`, `'"splits"."games"'`, `'db.splits.games'`), wherever it
is: a constant, a class attribute, a return value, a list or tuple entry, an option's
default, a comparison. The rule is the shape: nothing but the name (blanks around it
aside). A string with any other word or sign in it is prose ("Recommendations saved to:
tracking.pre_game_recommendations") or SQL (read by the parser). A single word ("games")
is a name only where SQL puts it in a table position, or where a table-named holder keeps
it: a variable, attribute, parameter, keyword argument or dict key called `table`,
`table_name`, `*_table`, `tables` ... (`table_name = "game_outcomes"`, `label = "games"` is not).

Prose is never read: docstrings and bare string statements, the arguments of print /
logging / warnings / exceptions / click.echo, `help=` / `description=` ..., assert
messages, and module paths (`getLogger`, `import_module`, `mock.patch`).

Also found: `get_table('legacy_...')` (the registry's names for the legacy tables),
psycopg `sql.Identifier('schema', 'table')`, and SQLAlchemy `Table('name', metadata,
schema=...)` / `__tablename__` + `__table_args__`.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from data_copy.refs import names, targets
from data_copy.refs.pybindings import Bindings, get_table_arg
from data_copy.refs.pystrings import FORMAT_FIELD, LINES, Builder, SqlText, percent, template

_PROSE_CALLS = frozenset(
    {"print", "debug", "info", "warning", "warn", "error", "exception", "critical", "log", "echo", "secho", "fail"}
    | {"msg", "success", "trace", "notice"}
)
_PROSE_KEYWORDS = frozenset({"help", "description", "msg", "message", "epilog", "short_help"})
_MODULE_CALLS = frozenset({"getLogger", "import_module", "patch", "object", "__import__", "find_spec"})
_TABLE_FIRST_CALLS = frozenset({"Table", "to_sql", "read_sql_table", "has_table"})
_TABLE_HOLDER = re.compile(r"(?:\w+_)?tables?(?:_?names?)?$")  # table, table_name, source_table, tables
_CONTAINERS = (ast.Tuple, ast.List, ast.Set, ast.BinOp, ast.IfExp, ast.Starred, ast.Dict)


@dataclass(frozen=True)
class DirectRef:
    """A reference found outside SQL text: a name in a string, sql.Identifier, SQLAlchemy..."""

    line: int
    qualified: str
    written: str
    how: str
    other_database: str | None = None


def _call_name(node: ast.Call) -> str:
    func = node.func
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


def _is_string(node: ast.AST) -> bool:
    return isinstance(node, ast.JoinedStr) or (isinstance(node, ast.Constant) and isinstance(node.value, str))


def _flatten_add(node: ast.AST) -> list[ast.AST]:
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _flatten_add(node.left) + _flatten_add(node.right)
    return [node]


def _const(node: ast.AST | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _sql_template(node: ast.AST) -> ast.AST | None:
    """The string of `psycopg.sql.SQL("...")`."""
    if isinstance(node, ast.Call) and _call_name(node) == "SQL" and len(node.args) == 1 and _is_string(node.args[0]):
        return node.args[0]
    return None


class PythonFile:
    """Walks one module's AST and yields its SQL texts and direct references."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.lines = LINES.findall(source)  # line ends as ast counts them (not \f, \x1c...)
        self.tree = ast.parse(source)
        self.parents: dict[int, ast.AST] = {}
        for parent in ast.walk(self.tree):
            for child in ast.iter_child_nodes(parent):
                self.parents[id(child)] = parent
        self.bindings = Bindings(self.tree)
        self.done: set[int] = set()

    # -- prose

    def _is_prose(self, node: ast.AST) -> bool:
        parent = self.parents.get(id(node))
        if isinstance(parent, ast.Expr):
            return True  # a docstring or a bare string statement
        if isinstance(parent, ast.keyword) and parent.arg in _PROSE_KEYWORDS:
            return True
        if isinstance(parent, ast.Call) and node in parent.args:
            name = _call_name(parent)
            if name in _PROSE_CALLS or name.endswith(("Error", "Exception", "Warning")):
                return True
        if isinstance(parent, ast.Assert) and parent.msg is node:
            return True
        return False

    def _in_prose(self, node: ast.AST) -> bool:
        """Prose, or inside a tuple / list / `%` ... that is."""
        top = node
        while isinstance(self.parents.get(id(top)), _CONTAINERS):
            top = self.parents[id(top)]
        return self._is_prose(top)

    # -- SQL texts

    def sql_texts(self) -> Iterator[tuple[int, SqlText]]:
        """(first line, text) for every string expression, in source order."""
        found: list[tuple[int, int, SqlText]] = []
        for node in ast.walk(self.tree):
            if id(node) in self.done:
                continue
            built = self._build(node)
            if built is not None:
                found.append((getattr(node, "lineno", 1), getattr(node, "col_offset", 0), built))
        for line, _, text in sorted(found, key=lambda f: (f[0], f[1])):
            yield line, text

    def _mark(self, node: ast.AST) -> None:
        for sub in ast.walk(node):
            if _is_string(sub) or isinstance(sub, ast.BinOp):
                self.done.add(id(sub))

    def _build(self, node: ast.AST) -> SqlText | None:
        builder = Builder(self.lines, self.bindings)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            operands = _flatten_add(node)
            if not any(_is_string(o) for o in operands):
                return None
            self._mark(node)
            for operand in operands:
                if _is_string(operand):
                    builder.literal(operand)
                else:
                    builder.placeholder(operand, getattr(operand, "lineno", node.lineno))
            return None if self._is_prose(node) else builder.build()
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod) and _is_string(node.left):
            self._mark(node.left)
            if self._is_prose(node):
                return None
            builder.literal(node.left)
            return percent(builder.build(), node, self.bindings)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format":
            receiver: ast.AST = _sql_template(node.func.value) or node.func.value
            if _is_string(receiver):
                self._mark(receiver)
                if self._is_prose(node):
                    return None
                builder.literal(receiver)
                return template(builder.build(), node, self.bindings)
            return None
        if _is_string(node):
            self._mark(node)
            if self._is_prose(node):
                return None
            builder.literal(node)
            built = builder.build()
            return template(built, None, self.bindings) if FORMAT_FIELD.search(built.text) else built
        return None

    # -- names in strings

    def _not_a_name_here(self, node: ast.Constant) -> bool:
        parent = self.parents.get(id(node))
        if isinstance(parent, ast.JoinedStr | ast.FormattedValue):
            return True  # a piece of an f-string
        if isinstance(parent, ast.BinOp) and isinstance(parent.op, ast.Add):
            return True  # a piece of SQL text built with +
        if isinstance(parent, ast.Call) and _call_name(parent) in _MODULE_CALLS:
            return True
        return self._in_prose(node)

    def _holder(self, node: ast.AST) -> str | None:
        """The name `node` is assigned to, passed as or the default of, if any."""
        parent = self.parents.get(id(node))
        if isinstance(parent, ast.List | ast.Tuple | ast.Set):
            node, parent = parent, self.parents.get(id(parent))
        if isinstance(parent, ast.Assign) and len(parent.targets) == 1:
            target: ast.AST = parent.targets[0]
        elif isinstance(parent, ast.AnnAssign):
            target = parent.target
        elif isinstance(parent, ast.keyword):
            return parent.arg
        elif isinstance(parent, ast.Dict):
            key = next((k for k, v in zip(parent.keys, parent.values, strict=True) if v is node), None)
            return _const(key)
        elif isinstance(parent, ast.arguments):
            pairs = [
                *zip(reversed(parent.args), reversed(parent.defaults), strict=False),
                *zip(parent.kwonlyargs, parent.kw_defaults, strict=True),
            ]
            return next((a.arg for a, d in pairs if d is node), None)
        else:
            return None
        return target.attr if isinstance(target, ast.Attribute) else target.id if isinstance(target, ast.Name) else None

    def _names_in(self, node: ast.AST) -> list[str]:
        """The values of a string that may be a table name (see the module doc)."""
        if isinstance(node, ast.Constant):
            if not isinstance(node.value, str) or self._not_a_name_here(node):
                return []
            if "." in node.value:
                return [node.value]
            holder = self._holder(node)
            return [node.value] if holder and _TABLE_HOLDER.match(holder.lower()) else []
        if isinstance(node, ast.JoinedStr | ast.BinOp) and self._composed_name(node):
            return [lit.value for lit in self.bindings.literals(node) or ()]
        return []

    def name_refs(self, search_path: Sequence[str], database: str | None) -> Iterator[DirectRef]:
        """Strings that are nothing but a legacy table name (see the module doc): qualified,
        or a single word held by a table-named variable, option or key."""
        for node in ast.walk(self.tree):
            for value in self._names_in(node):
                name = names.parse(value)
                resolved = names.resolve_name(name, search_path, database) if name else None
                if resolved is not None:
                    line = getattr(node, "lineno", 1)
                    yield DirectRef(line, resolved.qualified, repr(value), "string", resolved.other_database)

    def _composed_name(self, node: ast.JoinedStr | ast.BinOp) -> bool:
        """A whole f-string or `+` of strings, not a piece of a larger one, nor prose."""
        if isinstance(node, ast.BinOp) and not isinstance(node.op, ast.Add):
            return False
        parent = self.parents.get(id(node))
        if isinstance(parent, ast.BinOp | ast.JoinedStr | ast.FormattedValue):
            return False
        return not self._in_prose(node)

    # -- references outside SQL text

    def direct_refs(self, search_path: tuple[str, ...]) -> Iterator[DirectRef]:
        legacy_names = targets.legacy_registry_names()
        replacements = targets.replacements()
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Call):
                logical = get_table_arg(node)
                if logical in legacy_names:
                    yield DirectRef(node.lineno, legacy_names[logical], f"get_table('{logical}')", "registry")
                    continue
                for ref in _call_refs(node, search_path):
                    if ref.qualified in replacements:
                        yield ref
            elif isinstance(node, ast.ClassDef):
                orm = _orm_class(node, search_path)
                if orm is not None and orm.qualified in replacements:
                    yield orm


def _call_refs(node: ast.Call, search_path: Sequence[str]) -> Iterator[DirectRef]:
    """Table names a call's arguments give (psycopg, SQLAlchemy, pandas, Alembic)."""
    name = _call_name(node)
    consts = [_const(a) for a in node.args]
    schema_kw = next((k.value for k in node.keywords if k.arg == "schema"), None)
    schema = _const(schema_kw)
    if name == "Identifier" and len(consts) == 2 and None not in consts:
        yield DirectRef(node.lineno, f"{consts[0]}.{consts[1]}", f"Identifier{tuple(consts)}", "identifier")
    elif name == "ForeignKey" and consts and consts[0] and consts[0].count(".") in (1, 2):
        *table, _column = consts[0].split(".")
        qualified = targets.resolve(table[0] if len(table) == 2 else None, table[-1], search_path)
        if qualified:
            yield DirectRef(node.lineno, qualified, f"ForeignKey({consts[0]!r})", "sqlalchemy")
    elif name in _TABLE_FIRST_CALLS and consts and consts[0] and (len(node.args) >= 2 or schema is not None):
        qualified = targets.resolve(schema, consts[0], search_path)
        if qualified and (schema is not None or schema_kw is None):
            yield DirectRef(node.lineno, qualified, f"{name}('{consts[0]}', schema={schema!r})", "sqlalchemy")
    elif schema is not None:
        for const in dict.fromkeys(c for c in consts if c):
            yield DirectRef(
                node.lineno, f"{schema}.{const}", f"{name}(..., '{const}', schema={schema!r})", "schema keyword"
            )


def _orm_class(node: ast.ClassDef, search_path: Sequence[str]) -> DirectRef | None:
    name: str | None = None
    schema: str | None = None
    line = node.lineno
    for stmt in node.body:
        if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name)):
            continue
        target = stmt.targets[0].id
        if target == "__tablename__" and _const(stmt.value):
            name, line = _const(stmt.value), stmt.lineno
        elif target == "__table_args__":
            value = stmt.value
            if isinstance(value, ast.Tuple) and value.elts:
                value = value.elts[-1]
            if isinstance(value, ast.Dict):
                for key, item in zip(value.keys, value.values, strict=True):
                    if key is not None and _const(key) == "schema":
                        schema = _const(item)
    if name is None:
        return None
    qualified = targets.resolve(schema, name, search_path)
    if qualified is None:
        return None
    return DirectRef(line, qualified, f"__tablename__ = '{name}'", "sqlalchemy")
