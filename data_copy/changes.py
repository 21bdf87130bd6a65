"""test_decoding's output, decoded inside PostgreSQL into (commit lsn, xid, table, key).

A slot output row looks like `table splits.games: UPDATE: old-key: id[integer]:5 new-tuple:
id[integer]:7 home_team[character varying]:'NYY' ...`. Every `name[type]:value` token is
matched left to right (`TOKEN`): a quoted value is consumed whole ('' inside it is a quote),
so text that looks like a token inside a value is never read as one. Every token naming the
table's key column is a key the change touched: for an UPDATE that changed the key, both the
old and the new one; for a DELETE, the replica identity's key. A change that prints no key
(a DELETE on a table without a primary key prints `(no-tuple-data)`) is kept with a NULL
key: its mapping is then scanned. Only the keys are stored, never row contents, and nothing
passes through Python.
"""

import re
from collections.abc import Collection, Mapping

import psycopg
from psycopg import sql

CHANGES = sql.Identifier("public", "migration_capture_changes")
# name (quoted identifier or plain), [type] (array types end in []), value (quoted or bare)
TOKEN = r"""("(?:[^"]|"")*"|[^\s\["]+)\[[^\]]*(?:\[\])*\]:('(?:[^']|'')*'|\S*)"""
OPTIONS = ("skip-empty-xacts", "1", "only-local", "1")  # only-local: our origin's writes left out
XID_WRAP = 4294967296

DDL = sql.SQL(
    "CREATE TABLE IF NOT EXISTS {t} (slot text NOT NULL, lsn pg_lsn NOT NULL, xid xid8 NOT NULL,"
    " tbl text NOT NULL, k text);"
    " CREATE INDEX IF NOT EXISTS migration_capture_changes_slot_tbl_lsn ON {t} (slot, tbl, lsn)"
).format(t=CHANGES)


def leading_pattern(key: str) -> str:
    """The keys of a change whose table prints `key` (a plain name, an integer) first: after
    the table prefix, `INSERT: key[type]:1`, `DELETE: key[type]:1` (a DELETE without a key
    prints `(no-tuple-data)`), `UPDATE: key[type]:1`, or for an UPDATE that changed it
    `UPDATE: old-key: key[type]:1 new-tuple: key[type]:2`. Anchored: nothing in a value can
    match."""
    token = re.escape(key) + r"\[[^]]*\]:(-?[0-9]+)"
    return rf"^(?:INSERT|UPDATE|DELETE): (?:old-key: {token} new-tuple: )?{token}"


def _printed_names(tables: Mapping[str, str], leading: Collection[str] = ()) -> sql.Composable:
    """VALUES (table, key column, the prefix test_decoding prints for the table, key as
    printed, the anchored pattern of its keys or NULL)."""
    rows = []
    for table, key in tables.items():
        schema, name = table.split(".", 1)
        rows.append(
            sql.SQL(
                "({}, {}, 'table ' || quote_ident({}) || '.' || quote_ident({}) || ': ', quote_ident({}), {})"
            ).format(
                sql.Literal(table),
                sql.Literal(key),
                sql.Literal(schema),
                sql.Literal(name),
                sql.Literal(key),
                sql.Literal(leading_pattern(key) if table in leading else None),
            )
        )
    return sql.SQL(", ").join(rows)


def _peek(slot: str, upto: object, limit: int | None) -> sql.Composable:
    return sql.SQL("SELECT lsn, xid, data FROM pg_logical_slot_peek_changes({}, CAST({} AS pg_lsn), {}, {})").format(
        sql.Literal(slot),
        sql.Literal(str(upto)),
        sql.Literal(limit),
        sql.SQL(", ").join(sql.Literal(o) for o in OPTIONS),
    )


def buffer(
    conn: psycopg.Connection,
    slot: str,
    state: sql.Identifier,
    tables: Mapping[str, str],
    upto: object,
    limit: int | None,
    leading: Collection[str] = (),
) -> tuple[int, str | None]:
    """Peeks the slot up to `upto` (at most `limit` output rows, whole transactions) and
    stores the keys of changes to `tables` committed after the state's pulled_lsn.
    Returns (output rows seen, commit lsn of the last transaction seen).

    The slot gives 32-bit xids; their epoch comes from this transaction's own xid, which is
    newer than every decoded one (they all committed before `upto` was read). Not from the
    snapshot: in a REPEATABLE READ settle its xmax is older than transactions that started
    after it and committed before `upto`, and those must count as not visible."""
    full_xid = sql.SQL(
        "CAST(CAST(ref.base + CAST(CAST(r.xid AS text) AS numeric)"
        " - CASE WHEN ref.base + CAST(CAST(r.xid AS text) AS numeric) > ref.x THEN {w} ELSE 0 END AS text) AS xid8)"
    ).format(w=sql.Literal(XID_WRAP))
    values = _printed_names(tables, leading) if tables else sql.SQL("(NULL, NULL, NULL, NULL, NULL)")
    query = sql.SQL(
        "WITH c AS MATERIALIZED ({peek}),"
        " commits AS (SELECT xid, max(lsn) AS lsn FROM c WHERE starts_with(data, 'COMMIT') GROUP BY xid),"
        " ref AS (SELECT x, x - mod(x, {w}) AS base FROM (SELECT CAST(CAST(pg_current_xact_id()"
        " AS text) AS numeric) AS x) AS r0),"
        " tabs (tbl, keycol, prefix, printed, pattern) AS (VALUES {values}),"
        " r AS (SELECT commits.lsn, c.xid, tabs.tbl, tabs.prefix, tabs.printed, tabs.pattern, c.data"
        " FROM c JOIN commits USING (xid)"
        " JOIN tabs ON starts_with(c.data, tabs.prefix)"
        " WHERE commits.lsn > (SELECT pulled_lsn FROM {state} WHERE slot = {slot})),"
        " ins AS (INSERT INTO {changes} (slot, lsn, xid, tbl, k)"
        " SELECT {slot}, r.lsn, {full_xid}, r.tbl, kv.k FROM r CROSS JOIN ref LEFT JOIN LATERAL ("
        " SELECT CASE WHEN starts_with(m[2], '''') THEN replace(substr(m[2], 2, length(m[2]) - 2), '''''', '''')"
        " WHEN m[2] = 'null' THEN NULL ELSE m[2] END AS k"
        " FROM regexp_matches(r.data, {token}, 'g') AS m WHERE r.pattern IS NULL AND m[1] = r.printed"
        " UNION ALL SELECT k FROM regexp_match(substr(r.data, length(r.prefix) + 1), r.pattern) AS f,"
        " unnest(ARRAY[f[1], f[2]]) AS k WHERE r.pattern IS NOT NULL AND k IS NOT NULL) AS kv ON true RETURNING 1)"
        " SELECT (SELECT count(*) FROM c), (SELECT max(lsn) FROM commits), (SELECT count(*) FROM ins)"
    ).format(
        peek=_peek(slot, upto, limit),
        w=sql.Literal(XID_WRAP),
        values=values,
        state=state,
        slot=sql.Literal(slot),
        changes=CHANGES,
        full_xid=full_xid,
        token=sql.Literal(TOKEN),
    )
    row = conn.execute(query).fetchone()
    assert row is not None
    return int(row[0]), (None if row[1] is None else str(row[1]))


def count_by_table(conn: psycopg.Connection, slot: str, tables: list[str]) -> dict[str, int]:
    """Changed rows per table in the slot (without our origin's), for `tables`, peeked."""
    if not tables:
        return {}
    row = conn.execute("SELECT pg_current_wal_flush_lsn()").fetchone()
    assert row is not None
    query = sql.SQL(
        "SELECT tabs.tbl, count(*) FROM ({peek}) AS c JOIN (VALUES {values}) AS tabs (tbl, keycol, prefix, printed,"
        " pattern)"
        " ON starts_with(c.data, tabs.prefix) GROUP BY tabs.tbl"
    ).format(peek=_peek(slot, row[0], None), values=_printed_names({t: "id" for t in tables}))
    return {tbl: int(n) for tbl, n in conn.execute(query)}
