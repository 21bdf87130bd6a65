"""Table references in SQL text, found with a real parser (sqlglot, postgres dialect).

`scan(text, search_path)` splits the text into statements with sqlglot's tokenizer (so
comments, string literals and dollar quotes are never read as SQL), parses each one and
walks its tree: only table positions count, so CTE names, aliases, column names and words
in comments are never references. Unqualified names resolve through the search path
(`SET search_path` statements in the text change it for what follows). Function bodies
(`CREATE FUNCTION ... AS $$...$$`, `DO $$...$$`) are scanned too: SQL bodies as SQL,
PL/pgSQL bodies statement by statement (see plpgsql.py).

Text built at run time reaches here with placeholders (see `Placeholder`): a placeholder
in a table position, or anywhere it could stand for more than a value, makes the
statement "dynamic"; one inside a string literal or standing for a column or value does not.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.tokens import Token, TokenType

from data_copy.refs import targets
from data_copy.refs.sqlshape import (
    FRAGMENT_STARTS,
    JOIN_WORDS,
    looks_like_sql,
    may_be_sql,
    split_statements,
    tokenize,
)

logging.getLogger("sqlglot").setLevel(logging.ERROR)  # "falling back to Command" is expected

PLACEHOLDER_PREFIX = "__refs_dyn"
_PLACEHOLDER = re.compile(PLACEHOLDER_PREFIX + r"(\d+)__", re.IGNORECASE)

_SET_SEARCH_PATH = re.compile(r"\s*SET\s+(?:SESSION\s+|LOCAL\s+)?search_path\s*(?:TO|=)\s*(.+?)\s*$", re.I | re.S)
_CHUNK = re.compile(r"[^;]*(?:;[ \t]*(?:--[^\n]*)?(?:\n|$)|;|$)")  # statements, when tokenizing fails


@dataclass(frozen=True)
class Placeholder:
    """Text standing for a run-time value (`{expr}` of an f-string, `%s` of `%`, ...).

    `table` is set when the value is known to be a table name, e.g. a registry call."""

    index: int
    source: str  # the Python expression, for the report
    table: str | None = None

    @property
    def token(self) -> str:
        return f"{PLACEHOLDER_PREFIX}{self.index}__"


@dataclass(frozen=True)
class TableRef:
    offset: int  # in the scanned text
    qualified: str  # "schema.table" as resolved
    written: str  # as written, e.g. '"Splits".games'
    how: str = "sql"  # sql | regclass | command | body


@dataclass(frozen=True)
class Dynamic:
    offset: int
    reason: str


@dataclass(frozen=True)
class Unparsed:
    offset: int
    reason: str
    mentions: tuple[str, ...]


@dataclass
class ScanResult:
    refs: list[TableRef] = field(default_factory=list)
    dynamic: list[Dynamic] = field(default_factory=list)
    unparsed: list[Unparsed] = field(default_factory=list)
    statements: int = 0
    search_path: tuple[str, ...] = targets.DEFAULT_SEARCH_PATH


# ------------------------------------------------------------------------ identifiers


def ident_name(node: exp.Expression | None) -> str | None:
    """An identifier as PostgreSQL reads it: unquoted folds to lower case, quoted is exact."""
    if not isinstance(node, exp.Identifier):
        return None
    return node.this if node.quoted else node.this.lower()


def _written(table: exp.Table) -> str:
    parts = [p for p in (table.args.get("db"), table.this) if isinstance(p, exp.Identifier)]
    return ".".join(f'"{p.this}"' if p.quoted else p.this for p in parts)


def _start(node: exp.Expression) -> int | None:
    for part in (node.args.get("db"), node.this) if isinstance(node, exp.Table) else (node,):
        if isinstance(part, exp.Expression) and "start" in part.meta:
            return int(part.meta["start"])
    return None


def parse_qualified_text(text: str) -> tuple[str | None, str] | None:
    """'splits.games' / '"Splits".games' / 'games' (a regclass literal) -> (schema, name)."""
    try:
        table = exp.to_table(text, dialect="postgres")
    except SqlglotError:
        return None
    name = ident_name(table.this)
    return (ident_name(table.args.get("db")), name) if name else None


# --------------------------------------------------------------------------- CTE scope


def _is_cte_name(table: exp.Table, name: str) -> bool:
    """True when `name` (unqualified) means a CTE visible at `table`: a WITH of an enclosing
    query; inside a CTE's own definition only the earlier ones (or all, if RECURSIVE)."""
    child: exp.Expression = table
    node = table.parent
    while node is not None:
        with_ = node.args.get("with_") or node.args.get("with")
        if isinstance(with_, exp.With):
            ctes = list(with_.expressions)
            names = [ident_name(c.args["alias"].this) if c.args.get("alias") else None for c in ctes]
            if isinstance(child, exp.With) or child in ctes:
                # we came up through the WITH itself: find which CTE we are in
                inside = next((i for i, c in enumerate(ctes) if _contains(c, table)), None)
                visible = names if with_.args.get("recursive") or inside is None else names[:inside]
            else:
                visible = names
            if name in visible:
                return True
        child = node
        node = node.parent
    return False


def _is_dml_target(table: exp.Table) -> bool:
    """INSERT INTO / UPDATE / DELETE FROM / MERGE INTO a name: always a table, never a CTE."""
    parent = table.parent
    if isinstance(parent, exp.Schema) and parent.this is table:
        table, parent = parent, parent.parent  # type: ignore[assignment]
    return isinstance(parent, exp.Insert | exp.Update | exp.Delete | exp.Merge) and parent.this is table


def _contains(ancestor: exp.Expression, node: exp.Expression) -> bool:
    current: exp.Expression | None = node
    while current is not None:
        if current is ancestor:
            return True
        current = current.parent
    return False


# ------------------------------------------------------------------------ placeholders


def _placeholder_ids(text: str) -> set[int]:
    return {int(m.group(1)) for m in _PLACEHOLDER.finditer(text)}


_CONDITION_PARENTS = (exp.Where, exp.Having, exp.And, exp.Or, exp.Not, exp.Join)


def _unsafe_placeholders(
    tree: exp.Expression, stmt: str, placeholders: dict[int, Placeholder]
) -> list[tuple[int, str, int | None]]:
    """(placeholder id, where, offset) for each placeholder that may change which tables are read."""
    seen: set[int] = set()
    unsafe: list[tuple[int, str, int | None]] = []
    for node in tree.walk():
        if isinstance(node, exp.Literal) and node.is_string:
            seen |= _placeholder_ids(node.this)
            continue
        if not isinstance(node, exp.Identifier):
            continue
        ids = _placeholder_ids(node.this)
        if not ids:
            continue
        seen |= ids
        parent = node.parent
        at = node.meta.get("start")
        if isinstance(parent, exp.Table):
            for i in ids:
                if placeholders.get(i) is None or placeholders[i].table is None:
                    unsafe.append((i, "a table name", at))
        elif isinstance(parent, exp.Column):
            if isinstance(parent.parent, _CONDITION_PARENTS) and parent.args.get("this") is node:
                unsafe.extend((i, "a whole condition", at) for i in ids)
        else:
            unsafe.extend((i, "a clause", at) for i in ids)
    missing = (_placeholder_ids(stmt) & set(placeholders)) - seen
    unsafe.extend((i, "SQL text", None) for i in sorted(missing))
    return unsafe


# ------------------------------------------------------------------------------- scan


class Scanner:
    """Scans one text; `plpgsql` bodies use a scanner of their own with into_is_variable."""

    def __init__(
        self,
        search_path: Sequence[str],
        placeholders: Sequence[Placeholder] = (),
        *,
        require_sql_start: bool = False,
        into_is_variable: bool = False,
    ) -> None:
        self.result = ScanResult(search_path=tuple(search_path))
        self.placeholders = {p.index: p for p in placeholders}
        self.require_sql_start = require_sql_start
        self.into_is_variable = into_is_variable

    # -- entry points

    def scan(self, text: str, base: int = 0, *, split: bool = True) -> ScanResult:
        if self.require_sql_start and not may_be_sql(text):
            return self.result
        try:
            tokens = tokenize(text)
        except SqlglotError as error:
            if self.require_sql_start and not self._starts_like_sql(text):
                return self.result
            chunks = [(m.start(), m.group()) for m in _CHUNK.finditer(text) if m.group().strip()]
            if split and len(chunks) > 1:  # one bad statement (an open quote...) spoils only itself
                for offset, chunk in chunks:
                    self.scan(chunk, base + offset, split=False)
                return self.result
            reason = f"cannot tokenize: {_first_line(error)}"
            self.result.unparsed.append(Unparsed(base + len(text) - len(text.lstrip()), reason, ()))
            return self.result
        for statement in split_statements(tokens):
            self.scan_statement(text, statement, base)
        return self.result

    def scan_statement(self, text: str, tokens: list[Token], base: int) -> None:
        if self.require_sql_start and not looks_like_sql(tokens):
            return
        start, end = tokens[0].start, tokens[-1].end + 1
        stmt = text[start:end]
        kind = tokens[0].token_type
        prefix = FRAGMENT_STARTS.get(TokenType.JOIN if kind in JOIN_WORDS else kind, "")
        try:
            tree = sqlglot.parse_one(prefix + stmt, read="postgres")
        except SqlglotError as error:
            self._failed(stmt, base + start, _first_line(error))
            return
        if tree is None:
            return
        self.result.statements += 1
        self.walk(tree, base + start - len(prefix), stmt)

    # -- the tree

    def _set_search_path(self, stmt: str) -> None:
        found = _SET_SEARCH_PATH.match(stmt)
        if found:
            path = targets.parse_search_path(found.group(1))
            if path and path != ("default",):
                self.result.search_path = path

    def walk(self, tree: exp.Expression, base: int, stmt: str) -> None:
        if isinstance(tree, exp.Set):
            self._set_search_path(stmt)
            return
        if isinstance(tree, exp.Command):
            self._command(tree, base, stmt)
            return
        unsafe = _unsafe_placeholders(tree, stmt, self.placeholders) if self.placeholders else []
        if unsafe:
            known = [(self.placeholders[i].source, where) for i, where, _ in unsafe if i in self.placeholders]
            shown = ", ".join(f"{source} as {where}" for source, where in known)
            first = next((at for _, _, at in unsafe if at is not None), 0)
            self.result.dynamic.append(Dynamic(base + int(first), f"built at run time: {shown}"))
        for node in tree.walk():
            if isinstance(node, exp.Table):
                self._table(node, base)
            elif isinstance(node, exp.Cast) and _is_regclass(node.args.get("to")):
                self._regclass(node.this, base, stmt)
            elif isinstance(node, exp.Anonymous) and str(node.this).lower() == "to_regclass" and node.expressions:
                self._regclass(node.expressions[0], base, stmt)
            elif isinstance(node, exp.Create) and isinstance(node.expression, exp.Heredoc):
                self._body(node, base, stmt)

    def _table(self, table: exp.Table, base: int) -> None:
        if not isinstance(table.this, exp.Identifier) or isinstance(table.parent, exp.UserDefinedFunction):
            return
        if self.into_is_variable and isinstance(table.parent, exp.Into):
            return
        if isinstance(table.parent, exp.Create) and table.parent.kind in ("FUNCTION", "PROCEDURE"):
            return
        name = ident_name(table.this)
        schema = ident_name(table.args.get("db"))
        if not name or name == "_refs_fragment_":
            return
        if _PLACEHOLDER.search(name) or (schema and _PLACEHOLDER.search(schema)):
            return  # reported by _unsafe_placeholders (or a registry table: fine)
        if schema is None and not _is_dml_target(table) and _is_cte_name(table, name):
            return
        qualified = targets.resolve(schema, name, self.result.search_path)
        if qualified in targets.replacements():
            offset = _start(table)
            self.result.refs.append(TableRef(base + (offset or 0), qualified, _written(table)))

    def _regclass(self, literal: exp.Expression, base: int, stmt: str) -> None:
        if not (isinstance(literal, exp.Literal) and literal.is_string):
            return
        parsed = parse_qualified_text(literal.this)
        if parsed is None:
            return
        qualified = targets.resolve(parsed[0], parsed[1], self.result.search_path)
        if qualified in targets.replacements():
            where = stmt.find(literal.this)
            self.result.refs.append(TableRef(base + max(where, 0), qualified, repr(literal.this), "regclass"))

    def _body(self, create: exp.Create, base: int, stmt: str) -> None:
        from data_copy.refs import plpgsql

        body = create.expression.this
        language = next(
            (str(p.this).lower() for p in create.find_all(exp.LanguageProperty)),
            "sql",
        )
        offset = stmt.find(body)
        plpgsql.scan_body(self, body, language, base + max(offset, 0))

    def _command(self, command: exp.Command, base: int, stmt: str) -> None:
        """Statements sqlglot keeps as text: SET search_path, DO bodies, LOCK, ANALYZE..."""
        keyword = str(command.this).upper()
        match = re.match(r"\s*" + re.escape(keyword), stmt, re.I)
        cut = match.end() if match else 0
        rest, rest_base = stmt[cut:], base + cut
        if keyword == "SET":
            self._set_search_path(stmt)
            return
        if keyword == "DO":
            from data_copy.refs import plpgsql

            plpgsql.scan_do(self, rest, rest_base)
            return
        self._token_names(rest, rest_base, "command")

    def _token_names(self, stmt: str, base: int, how: str) -> list[str]:
        """Qualified names (`a.b`, `"A".b`) among a statement's tokens: comments and string
        literals are not tokens, so they are never read."""
        try:
            tokens = tokenize(stmt)
        except SqlglotError:
            return []
        found: list[str] = []
        for i in range(len(tokens) - 2):
            a, dot, b = tokens[i], tokens[i + 1], tokens[i + 2]
            if dot.token_type != TokenType.DOT or i + 3 < len(tokens) and tokens[i + 3].token_type == TokenType.DOT:
                continue
            if i > 0 and tokens[i - 1].token_type == TokenType.DOT:
                continue
            schema, name = _token_ident(a), _token_ident(b)
            if schema is None or name is None:
                continue
            qualified = f"{schema}.{name}"
            if qualified in targets.replacements():
                found.append(qualified)
                if how:
                    self.result.refs.append(TableRef(base + a.start, qualified, f"{a.text}.{b.text}", how))
        return found

    # -- failures

    def _failed(self, stmt: str, offset: int, reason: str) -> None:
        if _placeholder_ids(stmt):
            ids = sorted(i for i in _placeholder_ids(stmt) if i in self.placeholders)
            shown = ", ".join(self.placeholders[i].source for i in ids)
            self.result.dynamic.append(Dynamic(offset, f"built at run time ({shown}), not parseable"))
            return
        self._unparsed(stmt, offset, reason)

    def _unparsed(self, stmt: str, offset: int, reason: str) -> None:
        mentions = self._token_names(stmt, offset, "")
        if mentions:
            self.result.unparsed.append(Unparsed(offset, reason, tuple(dict.fromkeys(mentions))))

    def _starts_like_sql(self, text: str) -> bool:
        word = re.match(r"\s*([A-Za-z]+)", text)
        return bool(word) and word.group(1).upper() in {"SELECT", "WITH", "INSERT", "UPDATE", "DELETE", "MERGE"}


def _token_ident(token: Token) -> str | None:
    if token.token_type == TokenType.IDENTIFIER:  # "Quoted"
        return token.text
    if token.token_type == TokenType.VAR or token.text.isidentifier():
        return token.text.lower()
    return None


def _is_regclass(to: exp.Expression | None) -> bool:
    return to is not None and "regclass" in to.sql(dialect="postgres").lower()


def _first_line(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return " ".join(text[0].split())[:160] if text else type(error).__name__


def scan(
    text: str,
    search_path: Sequence[str] = targets.DEFAULT_SEARCH_PATH,
    placeholders: Sequence[Placeholder] = (),
    *,
    require_sql_start: bool = False,
) -> ScanResult:
    """Every mapped legacy table `text` references (see the module doc)."""
    return Scanner(search_path, placeholders, require_sql_start=require_sql_start).scan(text)
