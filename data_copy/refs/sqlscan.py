"""Table references in SQL text, found with a real parser (sqlglot, postgres dialect).

`scan(text, search_path)` splits the text into statements with sqlglot's tokenizer (so
comments, string literals and dollar quotes are never read as SQL), parses each one and
walks its tree: only table positions count, so CTE names, aliases, column names and words
in comments are never references. Unqualified names resolve through the search path
(`SET search_path` statements in the text change it for what follows); database-qualified
names are checked against the database (names.py).

Routines (`CREATE [OR REPLACE] FUNCTION / PROCEDURE ... AS $$...$$`, in any option order)
and `DO $$...$$` are read from their tokens (plpgsql.py says where the SQL is): SQL bodies
as SQL, PL/pgSQL bodies piece by piece, signatures for row types of legacy tables.

A statement sqlglot accepts but PostgreSQL would not (dialect.py: `INSERT OR REPLACE`,
DuckDB's `QUALIFY` ...), one that does not parse, and a name qualified by another
database are `unparsed`, with the legacy tables they name (fallback.py for the ones that
do not parse). Run-time parts arrive as placeholders (placeholders.py).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.tokenizer_core import Token, TokenType

from data_copy.refs import dialect, fallback, names, placeholders, plpgsql, targets
from data_copy.refs.found import Dynamic, Placeholder, ScanResult, TableRef, Unparsed
from data_copy.refs.sqlshape import FRAGMENT_STARTS, JOIN_WORDS, looks_like_sql, may_be_sql, split_statements, tokenize

logging.getLogger("sqlglot").setLevel(logging.ERROR)  # "falling back to Command" is expected

_SET_SEARCH_PATH = re.compile(r"\s*SET\s+(?:SESSION\s+|LOCAL\s+)?search_path\s*(?:TO|=)\s*(.+?)\s*$", re.I | re.S)
_CHUNK = re.compile(r"[^;]*(?:;[ \t]*(?:--[^\n]*)?(?:\n|$)|;|$)")  # statements, when tokenizing fails
_DML_STARTS = {"SELECT", "WITH", "INSERT", "UPDATE", "DELETE", "MERGE", "REPLACE"}
_EXPLAINED = re.compile(r"\b(?:SELECT|WITH|INSERT|UPDATE|DELETE|MERGE|VALUES|TABLE|EXECUTE)\b", re.I)


def ident_name(node: exp.Expr | None) -> str | None:
    """An identifier as PostgreSQL reads it: unquoted folds to lower case, quoted is exact."""
    if not isinstance(node, exp.Identifier):
        return None
    text = str(node.this)
    return text if node.quoted else text.lower()


def _start(node: exp.Expr) -> int | None:
    parts = (node.args.get("catalog"), node.args.get("db"), node.this) if isinstance(node, exp.Table) else (node,)
    for part in parts:
        if isinstance(part, exp.Expression) and "start" in part.meta:
            return int(part.meta["start"])
    return None


# --------------------------------------------------------------------------- CTE scope


def _is_cte_name(table: exp.Table, name: str) -> bool:
    """True when `name` (unqualified) means a CTE visible at `table`: a WITH of an enclosing
    query; inside a CTE's own definition only the earlier ones (or all, if RECURSIVE)."""
    child: exp.Expr = table
    node = table.parent
    while node is not None:
        with_ = node.args.get("with_") or node.args.get("with")
        if isinstance(with_, exp.With):
            ctes = list(with_.expressions)
            cte_names = [ident_name(c.args["alias"].this) if c.args.get("alias") else None for c in ctes]
            if isinstance(child, exp.With) or child in ctes:
                # we came up through the WITH itself: find which CTE we are in
                inside = next((i for i, c in enumerate(ctes) if _contains(c, table)), None)
                visible = cte_names if with_.args.get("recursive") or inside is None else cte_names[:inside]
            else:
                visible = cte_names
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


def _contains(ancestor: exp.Expr, node: exp.Expr) -> bool:
    current: exp.Expr | None = node
    while current is not None:
        if current is ancestor:
            return True
        current = current.parent
    return False


# ------------------------------------------------------------------------------- scan


class Scanner:
    """Scans one text; PL/pgSQL pieces use a scanner of their own with into_is_variable."""

    def __init__(
        self,
        search_path: Sequence[str],
        placeholders: Sequence[Placeholder] = (),
        *,
        database: str | None = None,
        require_sql_start: bool = False,
        into_is_variable: bool = False,
    ) -> None:
        self.result = ScanResult(search_path=tuple(search_path))
        self.placeholders = {p.index: p for p in placeholders}
        self.database = database
        self.require_sql_start = require_sql_start
        self.into_is_variable = into_is_variable

    def _child(self, *, into_is_variable: bool = False) -> Scanner:
        return Scanner(self.result.search_path, database=self.database, into_is_variable=into_is_variable)

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
        routine = plpgsql.routine(text, tokens) if tokens[0].token_type == TokenType.CREATE else None
        if routine is not None:
            self.result.statements += 1
            self._routine(routine, base)
            return
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

    def scan_body(self, body: str, language: str, base: int) -> None:
        """A routine's or DO block's body, at `base` in the scanned text."""
        if language == "sql":
            self.result.merge(self._child().scan(body, base))
        elif language == "plpgsql":
            self._plpgsql(body, base)

    # -- the tree

    def _set_search_path(self, stmt: str) -> None:
        found = _SET_SEARCH_PATH.match(stmt)
        if found:
            path = targets.parse_search_path(found.group(1))
            if path and path != ("default",):
                self.result.search_path = path

    def walk(self, tree: exp.Expr, base: int, stmt: str) -> None:
        if isinstance(tree, exp.Set):
            self._set_search_path(stmt)
            return
        if isinstance(tree, exp.Command):
            self._command(tree, base, stmt)
            return
        unsafe = placeholders.unsafe(tree, stmt, self.placeholders) if self.placeholders else []
        if unsafe:
            known = [(self.placeholders[i].source, where) for i, where, _ in unsafe if i in self.placeholders]
            shown = ", ".join(f"{source} as {where}" for source, where in known)
            first = next((at for _, _, at in unsafe if at is not None), 0)
            self.result.dynamic.append(Dynamic(base + int(first), f"built at run time: {shown}"))
        before = len(self.result.refs)
        for node in tree.walk():
            if isinstance(node, exp.Table):
                self._table(node, base)
            elif isinstance(node, exp.Cast) and _is_regclass(node.args.get("to")):
                self._regclass(node.this, base, stmt)
            elif isinstance(node, exp.Anonymous) and str(node.this).lower() == "to_regclass" and node.expressions:
                self._regclass(node.expressions[0], base, stmt)
        reason = dialect.foreign(tree)
        if reason is not None and len(self.result.refs) > before:
            found = tuple(self.result.refs[before:])
            del self.result.refs[before:]
            self.result.unparsed.append(Unparsed(found[0].offset, reason, found))

    def _add(self, ref: TableRef) -> None:
        """A reference; one into another database is unparsed SQL instead (names.py)."""
        if ref.other_database is None:
            self.result.refs.append(ref)
            return
        reason = names.other_database_reason(ref.written, ref.other_database, self.database)
        self.result.unparsed.append(Unparsed(ref.offset, reason, (ref,)))

    def _table(self, table: exp.Table, base: int) -> None:
        if not isinstance(table.this, exp.Identifier) or isinstance(table.parent, exp.UserDefinedFunction):
            return
        if self.into_is_variable and isinstance(table.parent, exp.Into):
            return
        if isinstance(table.parent, exp.Create) and table.parent.kind in ("FUNCTION", "PROCEDURE"):
            return
        name = ident_name(table.this)
        schema = ident_name(table.args.get("db"))
        catalog = ident_name(table.args.get("catalog"))
        if not name or name == "_refs_fragment_":
            return
        offset = base + (_start(table) or 0)
        if any(placeholders.PATTERN.search(p) for p in (name, schema, catalog) if p):
            self._interpolated(table, offset)
            return
        if schema is None and not _is_dml_target(table) and _is_cte_name(table, name):
            return
        resolved = names.resolve(catalog, schema, name, self.result.search_path, self.database)
        if resolved is not None:
            written = placeholders.written(table)
            self._add(TableRef(offset, resolved.qualified, written, other_database=resolved.other_database))

    def _interpolated(self, table: exp.Table, offset: int) -> None:
        """A table position filled at run time with literals known from the code."""
        for name, literal in placeholders.expand(table, self.placeholders) or ():
            resolved = names.resolve_name(name, self.result.search_path, self.database)
            if resolved is not None:
                written = repr(name.written)
                self._add(
                    TableRef(
                        offset, resolved.qualified, written, "interpolated", "name", literal, resolved.other_database
                    )
                )

    def _regclass(self, literal: exp.Expr, base: int, stmt: str) -> None:
        if not (isinstance(literal, exp.Literal) and literal.is_string):
            return
        name = names.parse(literal.this)
        resolved = names.resolve_name(name, self.result.search_path, self.database) if name else None
        if resolved is not None:
            where = base + max(stmt.find(literal.this), 0)
            self._add(
                TableRef(
                    where, resolved.qualified, repr(literal.this), "regclass", "sql", None, resolved.other_database
                )
            )

    # -- routines and PL/pgSQL

    def _routine(self, routine: plpgsql.Routine, base: int) -> None:
        for ref in fallback.table_names(
            routine.signature, base, self.result.search_path, self.database, "signature", unqualified=False
        ):
            self._add(ref)
        saved = self.result.search_path
        own = targets.parse_search_path(routine.search_path) if routine.search_path else ()
        if own:
            self.result.search_path = own
        self.scan_body(routine.body, routine.language, base + routine.offset)
        self.result.search_path = saved

    def _plpgsql(self, body: str, base: int) -> None:
        try:
            found = list(plpgsql.pieces(body))
        except SqlglotError:
            self.result.unparsed.append(Unparsed(base, "cannot tokenize the PL/pgSQL body", ()))
            return
        for piece in found:
            if piece.kind == "dynamic":
                self.result.dynamic.append(Dynamic(base + piece.offset, piece.text))
            elif piece.kind == "type":
                name = names.parse(piece.text)
                resolved = names.resolve_name(name, self.result.search_path, self.database) if name else None
                if resolved is not None:
                    self._add(
                        TableRef(
                            base + piece.offset,
                            resolved.qualified,
                            piece.text,
                            "rowtype",
                            "sql",
                            None,
                            resolved.other_database,
                        )
                    )
            else:
                self.result.merge(self._child(into_is_variable=True).scan(piece.text, base + piece.offset))

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
            block = plpgsql.do_block(rest)
            if block is not None:
                self.scan_body(block[0], block[2], rest_base + block[1])
            return
        explained = _EXPLAINED.search(rest) if keyword == "EXPLAIN" else None
        if explained is not None:  # EXPLAIN [ANALYZE ...] <statement>: the statement
            self.scan(rest[explained.start() :], rest_base + explained.start())
            return
        for ref in self._fallback(rest, rest_base, "command"):
            self._add(ref)
        self._command_placeholders(rest, rest_base)

    def _command_placeholders(self, rest: str, base: int) -> None:
        """Run-time parts of a statement kept as text (VACUUM {t}, LOCK TABLE {t} ...): any
        of them may be a table. Known literals are read as names; the rest is dynamic."""
        unknown: list[str] = []
        for i in sorted(placeholders.ids(rest)):
            p = self.placeholders.get(i)
            if p is None or p.table is not None:
                continue
            if not p.candidates:
                unknown.append(p.source)
            for literal in p.candidates:
                name = names.parse(literal.value)
                resolved = names.resolve_name(name, self.result.search_path, self.database) if name else None
                if resolved is not None:
                    written = repr(literal.value)
                    other = resolved.other_database
                    self._add(TableRef(base, resolved.qualified, written, "interpolated", "name", literal, other))
        if unknown:
            at = base + min(m.start() for m in placeholders.PATTERN.finditer(rest))
            self.result.dynamic.append(
                Dynamic(at, f"built at run time: {', '.join(unknown)} in a statement kept as text")
            )

    def _fallback(self, stmt: str, base: int, how: str) -> list[TableRef]:
        try:
            tokens = tokenize(stmt)
        except SqlglotError:
            return []
        return fallback.table_names(tokens, base, self.result.search_path, self.database, how)

    # -- failures

    def _failed(self, stmt: str, offset: int, reason: str) -> None:
        if placeholders.ids(stmt):
            ids = sorted(i for i in placeholders.ids(stmt) if i in self.placeholders)
            shown = ", ".join(self.placeholders[i].source for i in ids)
            self.result.dynamic.append(Dynamic(offset, f"built at run time ({shown}), not parseable"))
            return
        mentions = self._fallback(stmt, offset, "unparsed")
        if mentions:
            self.result.unparsed.append(Unparsed(offset, f"PostgreSQL cannot parse it: {reason}", tuple(mentions)))

    def _starts_like_sql(self, text: str) -> bool:
        word = re.match(r"\s*([A-Za-z]+)", text)
        return word is not None and word.group(1).upper() in _DML_STARTS


def _is_regclass(to: exp.Expr | None) -> bool:
    return to is not None and "regclass" in to.sql(dialect="postgres").lower()


def _first_line(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return " ".join(text[0].split())[:160] if text else type(error).__name__


def scan(
    text: str,
    search_path: Sequence[str] = targets.DEFAULT_SEARCH_PATH,
    placeholders: Sequence[Placeholder] = (),
    *,
    database: str | None = None,
    require_sql_start: bool = False,
) -> ScanResult:
    """Every mapped legacy table `text` references (see the module doc)."""
    scanner = Scanner(search_path, placeholders, database=database, require_sql_start=require_sql_start)
    return scanner.scan(text)


def scan_body(body: str, language: str, search_path: Sequence[str], database: str | None = None) -> ScanResult:
    """A routine body as the database keeps it (refs/db.py)."""
    scanner = Scanner(search_path, database=database)
    scanner.scan_body(body, language, 0)
    return scanner.result
