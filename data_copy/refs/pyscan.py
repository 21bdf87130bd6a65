"""SQL inside Python: every string expression that reads as SQL, with its lines.

A string expression is a literal (plain, triple-quoted, implicitly concatenated), an
f-string, a `+` chain holding a string, `"..." % x` or `"...".format(...)`. Run-time parts
become placeholders (sqlscan.Placeholder): one holding a registry call
(`registry.get_table('games')`, or a name or attribute only ever assigned from one) is a table name
known to be right; any other one in a table position makes the SQL "dynamic".
Docstrings, bare string statements and the messages of print / logging / exceptions are
prose and are not read. Also found: `get_table('legacy_...')` (the registry's names for the
legacy tables), psycopg `sql.Identifier('schema', 'table')`, and SQLAlchemy
`Table('name', metadata, schema=...)` / `__tablename__` + `__table_args__`.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass, field

from data_copy.refs import targets
from data_copy.refs.sqlscan import Placeholder

_PROSE_CALLS = frozenset(
    {"print", "debug", "info", "warning", "warn", "error", "exception", "critical", "log", "echo", "secho", "fail"}
)
_PROSE_KEYWORDS = frozenset({"help", "description", "msg", "message", "epilog", "short_help"})
_FORMAT_FIELD = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*|\d*)(?:\.[A-Za-z_]\w*|\[[^\]{}]*\])*(?:![rsa])?(?::[^{}]*)?\}")
_LINES = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")
_PERCENT_FIELD = re.compile(r"%(?:\(([A-Za-z_]\w*)\))?[-#0 +]*\d*(?:\.\d+)?[sdifr]")


@dataclass
class SqlText:
    """One string expression: text with placeholders, and where each part came from."""

    text: str
    placeholders: list[Placeholder]
    starts: list[int] = field(default_factory=list)  # text offsets where a part begins
    lines: list[tuple[int, bool]] = field(default_factory=list)  # (source line, newlines exact)

    def line_of(self, offset: int) -> int:
        i = max(bisect_right(self.starts, offset) - 1, 0)
        line, exact = self.lines[i]
        return line + (self.text.count("\n", self.starts[i], offset) if exact else 0)


@dataclass(frozen=True)
class DirectRef:
    """A reference found outside SQL text (registry name, sql.Identifier, SQLAlchemy)."""

    line: int
    qualified: str
    written: str
    how: str


class _Builder:
    def __init__(self, lines: list[str], registry_names: dict[str, str]) -> None:
        self.lines = lines  # the module's source lines, with their line ends
        self.registry_names = registry_names  # variable -> logical name
        self.parts: list[tuple[str, int, bool]] = []
        self.placeholders: list[Placeholder] = []
        self.counter = 0

    def placeholder(self, node: ast.AST, line: int, source: str | None = None) -> None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):  # f"{'splits'}.games"
            self.parts.append((node.value, line, False))
            return
        table = _registry_logical(node, self.registry_names)
        shown = source if source is not None else _unparse(node)
        p = Placeholder(self.counter, "{" + shown + "}", table)
        self.counter += 1
        self.placeholders.append(p)
        self.parts.append((p.token, line, True))

    def literal(self, node: ast.AST) -> None:
        """A Constant or JoinedStr: one part per source token (implicit concatenation)."""
        segment = _segment(self.lines, node)
        first = getattr(node, "lineno", 1)
        pieces = list(_string_tokens(segment)) if segment else []
        if not pieces:
            self._from_node(node, first)
            return
        for raw, offset in pieces:
            try:
                value = ast.parse(raw.strip(), mode="eval").body
            except SyntaxError:
                value = None
            if value is None:
                continue
            self._from_node(value, first + offset, raw)

    def _from_node(self, node: ast.AST, line: int, raw: str | None = None) -> None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            self.parts.append((node.value, line, raw is None or raw.count("\n") == node.value.count("\n")))
        elif isinstance(node, ast.JoinedStr):
            constant = "".join(v.value for v in node.values if isinstance(v, ast.Constant))
            exact = raw is None or raw.count("\n") == constant.count("\n")
            newlines = 0
            for value in node.values:
                here = line + newlines if exact else line
                if isinstance(value, ast.Constant):
                    self.parts.append((str(value.value), here, exact))
                    newlines += str(value.value).count("\n")
                elif isinstance(value, ast.FormattedValue):
                    self.placeholder(value.value, here)

    def build(self) -> SqlText:
        text, starts, lines = "", [], []
        for piece, line, exact in self.parts:
            starts.append(len(text))
            lines.append((line, exact))
            text += piece
        if not starts:
            starts, lines = [0], [(1, False)]
        return SqlText(text, self.placeholders, starts, lines)


def _segment(lines: list[str], node: ast.AST) -> str | None:
    """The source text of `node` (ast.get_source_segment splits the whole source per call)."""
    start, end = getattr(node, "lineno", None), getattr(node, "end_lineno", None)
    first, last = getattr(node, "col_offset", None), getattr(node, "end_col_offset", None)
    if start is None or end is None or first is None or last is None:
        return None
    if start == end:
        return lines[start - 1].encode()[first:last].decode(errors="replace")
    head = lines[start - 1].encode()[first:].decode(errors="replace")
    tail = lines[end - 1].encode()[:last].decode(errors="replace")
    return head + "".join(lines[start : end - 1]) + tail


def _unparse(node: ast.AST) -> str:
    try:
        return ast.unparse(node)
    except Exception:  # noqa: BLE001 - only for the report
        return "?"


def _string_tokens(segment: str) -> Iterator[tuple[str, int]]:
    """(raw string token, its line offset in `segment`) for each literal in `segment`."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(segment).readline))
    except (tokenize.TokenError, SyntaxError):
        return
    lines = segment.splitlines(keepends=True)

    def cut(start: tuple[int, int], end: tuple[int, int]) -> str:
        if start[0] == end[0]:
            return lines[start[0] - 1][start[1] : end[1]]
        middle = "".join(lines[start[0] : end[0] - 1])
        return lines[start[0] - 1][start[1] :] + middle + lines[end[0] - 1][: end[1]]

    fstring_start = getattr(tokenize, "FSTRING_START", None)
    fstring_end = getattr(tokenize, "FSTRING_END", None)
    depth, opened = 0, (0, 0)
    for token in tokens:
        if fstring_start is not None and token.type == fstring_start:
            if depth == 0:
                opened = token.start
            depth += 1
        elif fstring_end is not None and token.type == fstring_end:
            depth -= 1
            if depth == 0:
                yield cut(opened, token.end), opened[0] - 1
        elif token.type == tokenize.STRING and depth == 0:
            yield token.string, token.start[0] - 1


def _registry_logical(node: ast.AST, registry_names: dict[str, str]) -> str | None:
    """The logical name when `node` is a registry call or a name bound only to one."""
    if isinstance(node, ast.Name | ast.Attribute):
        return registry_names.get(_unparse(node))
    return _get_table_arg(node)


def _get_table_arg(node: ast.AST) -> str | None:
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


def _call_name(node: ast.Call) -> str:
    func = node.func
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


def _is_string(node: ast.AST) -> bool:
    return isinstance(node, ast.JoinedStr) or (isinstance(node, ast.Constant) and isinstance(node.value, str))


def _flatten_add(node: ast.AST) -> list[ast.AST]:
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _flatten_add(node.left) + _flatten_add(node.right)
    return [node]


class PythonFile:
    """Walks one module's AST and yields its SQL texts and direct references."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.lines = _LINES.findall(source)  # line ends as ast counts them (not \f, \x1c...)
        self.tree = ast.parse(source)
        self.parents: dict[int, ast.AST] = {}
        for parent in ast.walk(self.tree):
            for child in ast.iter_child_nodes(parent):
                self.parents[id(child)] = parent
        self.registry_names = self._registry_variables()
        self.done: set[int] = set()

    def _registry_variables(self) -> dict[str, str]:
        bound: dict[str, set[str | None]] = {}
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Name | ast.Attribute):
                        bound.setdefault(_unparse(target), set()).add(_get_table_arg(node.value))
            elif isinstance(node, ast.AnnAssign | ast.AugAssign) and isinstance(node.target, ast.Name | ast.Attribute):
                value = node.value if isinstance(node, ast.AnnAssign) else None
                bound.setdefault(_unparse(node.target), set()).add(_get_table_arg(value) if value else None)
        return {name: next(iter(v)) for name, v in bound.items() if len(v) == 1 and None not in v}  # type: ignore[misc]

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
        builder = _Builder(self.lines, self.registry_names)
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
            return self._percent(builder.build(), node)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format":
            if _is_string(node.func.value):
                self._mark(node.func.value)
                if self._is_prose(node):
                    return None
                builder.literal(node.func.value)
                return self._template(builder.build(), node, builder)
            return None
        if _is_string(node):
            self._mark(node)
            if self._is_prose(node):
                return None
            builder.literal(node)
            built = builder.build()
            return self._template(built, None, builder) if _FORMAT_FIELD.search(built.text) else built
        return None

    def _percent(self, built: SqlText, node: ast.BinOp) -> SqlText:
        """`"... %s ..." % value`: each conversion is a run-time part."""
        values = node.right.elts if isinstance(node.right, ast.Tuple) else [node.right]
        counter = iter(range(10_000))

        def repl(match: re.Match[str]) -> str:
            i = next(counter)
            key = match.group(1)
            source = key if key else _unparse(values[i]) if i < len(values) else "?"
            value = values[i] if not key and i < len(values) else None
            table = _registry_logical(value, self.registry_names) if value is not None else None
            p = Placeholder(len(built.placeholders), "%(" + source + ")", table)
            built.placeholders.append(p)
            return p.token

        return _rewrite(built, _PERCENT_FIELD, repl)

    def _template(self, built: SqlText, call: ast.Call | None, builder: _Builder) -> SqlText:
        """`{}` / `{name}` fields of a template (str.format, psycopg sql.SQL, later use)."""
        args = list(call.args) if call else []
        kwargs = {k.arg: k.value for k in call.keywords if k.arg} if call else {}
        counter = iter(range(10_000))

        def repl(match: re.Match[str]) -> str:
            key = match.group(1)
            value: ast.AST | None
            if key == "":
                i = next(counter)
                value = args[i] if i < len(args) else None
            elif key.isdigit():
                value = args[int(key)] if int(key) < len(args) else None
            else:
                value = kwargs.get(key)
            source = _unparse(value) if value is not None else key
            table = _registry_logical(value, self.registry_names) if value is not None else None
            p = Placeholder(len(built.placeholders), "{" + source + "}", table)
            built.placeholders.append(p)
            return p.token

        return _rewrite(built, _FORMAT_FIELD, repl)

    # -- references outside SQL text

    def direct_refs(self, search_path: tuple[str, ...]) -> Iterator[DirectRef]:
        legacy_names = targets.legacy_registry_names()
        replacements = targets.replacements()
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Call):
                logical = _get_table_arg(node)
                if logical in legacy_names:
                    yield DirectRef(node.lineno, legacy_names[logical], f"get_table('{logical}')", "registry")
                    continue
                name = _call_name(node)
                consts = [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
                if name == "Identifier" and len(node.args) == 2 and len(consts) == 2:
                    qualified = f"{consts[0]}.{consts[1]}"
                    if qualified in replacements:
                        yield DirectRef(node.lineno, qualified, f"Identifier{tuple(consts)}", "identifier")
                elif name == "Table" and len(node.args) >= 2 and consts and consts[0] == _const(node.args[0]):
                    schema = next((_const(k.value) for k in node.keywords if k.arg == "schema"), None)
                    qualified = targets.resolve(schema, consts[0], search_path)
                    if qualified in replacements:
                        written = f"Table('{consts[0]}', schema={schema!r})"
                        yield DirectRef(node.lineno, qualified, written, "sqlalchemy")
            elif isinstance(node, ast.ClassDef):
                ref = _orm_class(node, search_path)
                if ref is not None and ref.qualified in replacements:
                    yield ref


def _const(node: ast.AST | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _orm_class(node: ast.ClassDef, search_path: tuple[str, ...]) -> DirectRef | None:
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


def _rewrite(built: SqlText, pattern: re.Pattern[str], repl: object) -> SqlText:
    """Apply `pattern` -> repl to each part of `built` separately, keeping the line map."""
    pieces: list[str] = []
    for i, start in enumerate(built.starts):
        end = built.starts[i + 1] if i + 1 < len(built.starts) else len(built.text)
        pieces.append(pattern.sub(repl, built.text[start:end]))  # type: ignore[arg-type]
    text, starts = "", []
    for piece in pieces:
        starts.append(len(text))
        text += piece
    return SqlText(text, built.placeholders, starts, built.lines)
