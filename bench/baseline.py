"""The baseline: the SQL script a careful person would write by hand, timed statement by statement.

One ``INSERT INTO new (cols) SELECT ... FROM legacy`` per mapping, in foreign-key order,
into the same empty consolidated tables data_copy's DDL creates, with the same column
lists (the mapping's renames, derived columns and game id lookups, explicit casts where
the types differ). The games merge is a plain INSERT of public.games, the identity
sequence moved past its ids, then the splits.games rows that match no public game (by
MLB id, else by teams and start time). No reject filtering, no ON CONFLICT, no
validation: what a one-off script does. Then the same post-load work data_copy does:
secondary indexes, foreign keys and identity sequences.

``python -m bench --print-baseline-sql`` prints exactly the script that is timed, for an
independent run with ``psql -f`` and ``\\timing``.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

import psycopg
from psycopg import sql

from catalog.legacy import legacy_table
from catalog.mappings import Mapping, copy_order
from catalog.tables import TABLES, Table, table
from data_copy.mapping_sql.indexes import index_sql

SOURCE = "s"


@dataclass(frozen=True)
class Statement:
    label: str
    phase: str  # "insert", "sequence" (between the two games inserts) or "finish"
    query: sql.Composable


@dataclass(frozen=True)
class Timing:
    label: str
    phase: str
    seconds: float
    rows: int


def _ident(qualified: str) -> sql.Identifier:
    return sql.Identifier(*qualified.split("."))


def _col(name: str, alias: str = SOURCE) -> sql.Identifier:
    return sql.Identifier(alias, name)


def _value(legacy_source: str, legacy_col: str, target: Table, target_col: str) -> sql.Composable:
    """The legacy column, cast explicitly when the target's type differs."""
    source_type = legacy_table(legacy_source).column(legacy_col).type
    target_type = target.column(target_col).type
    if source_type == target_type:
        return _col(legacy_col)
    return sql.SQL("CAST({} AS {})").format(_col(legacy_col), sql.SQL(target_type))


def _derived(template: str, target: Table, target_col: str) -> sql.Composable:
    names = set(re.findall(r"{(\w+)}", template))
    expr = sql.SQL(template).format(**{n: _col(n) for n in names})
    return sql.SQL("CAST({} AS {})").format(expr, sql.SQL(target.column(target_col).type))


def _insert(
    target: Table,
    source: str,
    columns: list[str],
    exprs: list[sql.Composable],
    joins: sql.Composable | None = None,
    where: sql.Composable | None = None,
) -> sql.Composable:
    query = sql.SQL("INSERT INTO {t} ({cols}) SELECT {exprs} FROM {s} AS {a}{joins}").format(
        t=_ident(target.qualified),
        cols=sql.SQL(", ").join(sql.Identifier(c) for c in columns),
        exprs=sql.SQL(", ").join(exprs),
        s=_ident(source),
        a=sql.Identifier(SOURCE),
        joins=joins if joins is not None else sql.SQL(""),
    )
    if where is not None:
        query = sql.SQL("{} WHERE {}").format(query, where)
    return query


def _simple(m: Mapping) -> Statement:
    target = table(m.target)
    columns: list[str] = []
    exprs: list[sql.Composable] = []
    for target_col, legacy_col in m.column_pairs():
        columns.append(target_col)
        exprs.append(_value(m.source, legacy_col, target, target_col))
    for target_col, template in m.derived.items():
        columns.append(target_col)
        exprs.append(_derived(template, target, target_col))
    joins: list[sql.Composable] = []
    for i, (target_col, legacy_col) in enumerate(m.game_refs.items()):
        alias = sql.Identifier(f"g{i}")
        # one unified game per MLB id (min(id) if the id were ever repeated)
        joins.append(
            sql.SQL(
                " LEFT JOIN (SELECT mlb_stats_api_game_id, min(id) AS id"
                " FROM core_betting.games GROUP BY mlb_stats_api_game_id) AS {a}"
                " ON {a}.mlb_stats_api_game_id = CAST({c} AS text)"
            ).format(a=alias, c=_col(legacy_col))
        )
        columns.append(target_col)
        exprs.append(sql.SQL("{}.id").format(alias))
    return Statement(m.name, "insert", _insert(target, m.source, columns, exprs, sql.SQL("").join(joins)))


def _setval(t: Table, column: str) -> sql.Composable:
    return sql.SQL("SELECT setval(pg_get_serial_sequence({t}, {c}), greatest((SELECT max({ci}) FROM {ti}), 1))").format(
        t=sql.Literal(t.qualified),
        c=sql.Literal(column),
        ci=sql.Identifier(column),
        ti=_ident(t.qualified),
    )


def _games(m: Mapping) -> list[Statement]:
    merge = m.merge
    assert merge is not None
    target = table(m.target)
    first = _simple(m)
    secondary = legacy_table(merge.source)
    columns: list[str] = []
    exprs: list[sql.Composable] = []
    for c in secondary.columns:
        target_col = merge.renames.get(c.name, c.name)
        columns.append(target_col)
        exprs.append(_value(merge.source, c.name, target, target_col))
    for target_col, template in merge.derived.items():
        columns.append(target_col)
        exprs.append(_derived(template, target, target_col))
    primary = legacy_table(m.source)

    def same(p_col: str, s_col: str) -> sql.Composable:
        return sql.SQL("p.{} = CAST({} AS {})").format(
            sql.Identifier(p_col), _col(s_col), sql.SQL(primary.column(p_col).type)
        )

    p_id, s_id = merge.match_on_id
    where = sql.SQL(
        "NOT EXISTS (SELECT 1 FROM {p} AS p WHERE {by_id}) AND NOT EXISTS (SELECT 1 FROM {p} AS p WHERE {by_fields})"
    ).format(
        p=_ident(m.source),
        by_id=same(p_id, s_id),
        by_fields=sql.SQL(" AND ").join(same(p, s) for p, s in merge.match_on_fields),
    )
    identity = [c.name for c in target.columns if c.identity]
    statements = [Statement(f"{m.name}/public", "insert", first.query)]
    statements += [Statement(f"{m.name}/sequence", "sequence", _setval(target, c)) for c in identity]
    statements.append(
        Statement(
            f"{m.name}/splits_only",
            "insert",
            _insert(target, merge.source, columns, exprs, where=where),
        )
    )
    return statements


def _foreign_keys(t: Table) -> list[sql.Composable]:
    return [
        sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {} ({})").format(
            _ident(t.qualified),
            sql.Identifier("_".join([t.name, *fk.columns, "fkey"])[:63]),
            sql.SQL(", ").join(sql.Identifier(c) for c in fk.columns),
            _ident(fk.references),
            sql.SQL(", ").join(sql.Identifier(c) for c in fk.ref_columns),
        )
        for fk in t.foreign_keys
    ]


def statements() -> list[Statement]:
    """The whole script: the inserts in foreign-key order, then indexes, keys, sequences."""
    result: list[Statement] = []
    for m in copy_order():
        result += _games(m) if m.merge else [_simple(m)]
    for t in TABLES:
        for i, query in enumerate(index_sql(t)):
            result.append(Statement(f"{t.qualified}/index{i}", "finish", query))
        for i, query in enumerate(_foreign_keys(t)):
            result.append(Statement(f"{t.qualified}/fk{i}", "finish", query))
        for c in t.columns:
            if c.identity:
                result.append(Statement(f"{t.qualified}/sequence", "finish", _setval(t, c.name)))
    return result


def script(legacy_timezone: str) -> str:
    """The baseline as a psql script."""
    lines = [
        "-- bench baseline: the hand-written per-mapping script (python -m bench).",
        "-- Run on a database with the legacy data and the empty consolidated tables",
        "-- (data_copy.mapping_sql.target_tables.create_tables), e.g. psql -v ON_ERROR_STOP=1 -f baseline.sql",
        "\\timing on",
        sql.SQL("SET TimeZone = {};").format(sql.Literal(legacy_timezone)).as_string(),
    ]
    for statement in statements():
        lines.append(f"-- {statement.phase}: {statement.label}")
        lines.append(statement.query.as_string() + ";")
    return "\n".join(lines) + "\n"


def run(dsn: str, legacy_timezone: str) -> list[Timing]:
    """Run the script statement by statement (autocommit, as psql does), timing each."""
    timings: list[Timing] = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("SET TimeZone = {}").format(sql.Literal(legacy_timezone)))
        for statement in statements():
            start = time.perf_counter()
            cur = conn.execute(statement.query)
            elapsed = time.perf_counter() - start
            rows = max(cur.rowcount, 0) if statement.phase == "insert" else 0
            timings.append(Timing(statement.label, statement.phase, elapsed, rows))
    return timings
