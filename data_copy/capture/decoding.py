"""test_decoding's output, decoded inside PostgreSQL into (commit lsn, xid, table, key).

A slot output row looks like `table splits.games: UPDATE: old-key: id[integer]:5 new-tuple:
id[integer]:7 home_team[character varying]:'NYY' ...`. Every `name[type]:value` token is
matched left to right (`TOKEN`): a quoted value is consumed whole ('' inside it is a quote),
so text that looks like a token inside a value is never read as one. Every token naming the
table's key column is a key the change touched: for an UPDATE that changed the key, both the
old and the new one; for a DELETE, the replica identity's key. A change that prints no key
(a DELETE on a table without a primary key prints `(no-tuple-data)`) is kept with a NULL
key: its mapping is then scanned. A table that prints its integer key first has its keys
read by position instead (`LEADING_KEYS`). Only the keys are stored, never row contents,
and nothing passes through Python.
"""

from collections.abc import Collection, Mapping

import psycopg
from psycopg import sql

from data_copy.state.schema import CAPTURE_CHANGES

# name (quoted identifier or plain), [type] (array types end in []), value (quoted or bare)
TOKEN = r"""("(?:[^"]|"")*"|[^\s\["]+)\[[^\]]*(?:\[\])*\]:('(?:[^']|'')*'|\S*)"""
OPTIONS = ("skip-empty-xacts", "1", "only-local", "1")  # only-local: our origin's writes left out
XID_WRAP = 4294967296
# of a leading-key table's line, the characters kept after its prefix: its first five words
# (`UPDATE: old-key: key[bigint]:-9223372036854775808 new-tuple: key[bigint]:...`, a key
# name of at most 63 characters) fit in 230
LEADING_CHARS = 512
# the reorder buffer of our peeks and advances: the application's large transactions spill
# to disk past the server default (64MB); raised for our session only, never lowered
DECODING_WORK_MEM_KB = 262144


# The keys of a leading-key table's change, from `r.rest` (its line after the table prefix,
# `r.printed` its key column as printed, a plain name of an integer column that comes
# first): `INSERT: key[type]:1 ...`, `UPDATE: key[type]:1 ...`, `DELETE: key[type]:1` (or
# `DELETE: (no-tuple-data)`, no key), and for an UPDATE that changed the key `UPDATE:
# old-key: key[type]:1 new-tuple: key[type]:2 ...`. Read by position, the words split at
# spaces: those before the first value hold none (a plain name, an integer type), so
# nothing inside a value is ever read as a key. split_part and ltrim, not a regular
# expression: about 1 µs a change where regexp_match takes 13.
LEADING_KEYS = sql.SQL(
    "SELECT w.v FROM (SELECT split_part(r.rest, ' ', 1) AS op, split_part(r.rest, ' ', 2) AS w2) AS o,"
    " unnest(CASE WHEN o.w2 = 'old-key:' AND split_part(r.rest, ' ', 4) = 'new-tuple:'"
    " THEN ARRAY[split_part(r.rest, ' ', 3), split_part(r.rest, ' ', 5)] ELSE ARRAY[o.w2] END) AS tok,"
    " LATERAL (SELECT substr(tok, strpos(tok, ']:') + 2) AS v) AS w,"
    " LATERAL (SELECT CASE WHEN starts_with(w.v, '-') THEN substr(w.v, 2) ELSE w.v END AS digits) AS d"
    " WHERE o.op IN ('INSERT:', 'UPDATE:', 'DELETE:') AND starts_with(tok, r.printed || '[')"
    " AND strpos(tok, ']:') > 0 AND d.digits <> '' AND ltrim(d.digits, '0123456789') = ''"
)


def _head_length(tables: Collection[str]) -> int:
    """A length every table's printed prefix reaches (`table schema.name: `; quoting a name
    only adds characters): lines meet their table by a hash of that many first characters,
    then by the whole prefix, not by comparing every line with every prefix."""
    return min((len("table ") + len(t) + len(": ") for t in tables), default=1)


def _printed_names(tables: Mapping[str, str], leading: Collection[str] = ()) -> sql.Composed:
    """VALUES (table, key column, the prefix test_decoding prints for the table, key as
    printed, whether its keys are read by position)."""
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
                sql.Literal(table in leading),
            )
        )
    return sql.SQL(", ").join(rows)


def _peek(slot: str, upto: object, limit: int | None) -> sql.Composed:
    return sql.SQL("SELECT lsn, xid, data FROM pg_logical_slot_peek_changes({}, CAST({} AS pg_lsn), {}, {})").format(
        sql.Literal(slot),
        sql.Literal(str(upto)),
        sql.Literal(limit),
        sql.SQL(", ").join(sql.Literal(o) for o in OPTIONS),
    )


def decoding_memory(conn: psycopg.Connection) -> None:
    """logical_decoding_work_mem raised to DECODING_WORK_MEM_KB for this session (its peeks
    and advances, which decode too)."""
    conn.execute(
        "SELECT set_config('logical_decoding_work_mem', %s, false) FROM pg_settings"
        " WHERE name = 'logical_decoding_work_mem' AND CAST(setting AS bigint) < %s",
        (f"{DECODING_WORK_MEM_KB}kB", DECODING_WORK_MEM_KB),
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
    values = _printed_names(tables, leading) if tables else sql.SQL("(NULL, NULL, NULL, NULL, false)")
    # c keeps of each line only what the keys are read from: the line after its table's
    # prefix (of a leading-key table, its first LEADING_CHARS characters), and for the
    # other lines (BEGIN, COMMIT, tables not mapped) no text at all
    query = sql.SQL(
        "WITH tabs (tbl, keycol, prefix, printed, by_position) AS (VALUES {values}),"
        " c AS MATERIALIZED (SELECT p.lsn, p.xid, starts_with(p.data, 'COMMIT') AS is_commit, t.tbl, t.printed,"
        " t.by_position, CASE WHEN t.by_position THEN left(substr(p.data, length(t.prefix) + 1), {chars})"
        " ELSE substr(p.data, length(t.prefix) + 1) END AS rest"
        " FROM ({peek}) AS p LEFT JOIN tabs AS t ON left(p.data, {head}) = left(t.prefix, {head})"
        " AND starts_with(p.data, t.prefix)),"
        " commits AS (SELECT xid, max(lsn) AS lsn FROM c WHERE is_commit GROUP BY xid),"
        " ref AS (SELECT x, x - mod(x, {w}) AS base FROM (SELECT CAST(CAST(pg_current_xact_id()"
        " AS text) AS numeric) AS x) AS r0),"
        " r AS (SELECT commits.lsn, c.xid, c.tbl, c.printed, c.by_position, c.rest FROM c JOIN commits USING (xid)"
        " WHERE c.tbl IS NOT NULL AND commits.lsn > (SELECT pulled_lsn FROM {state} WHERE slot = {slot})),"
        " ins AS (INSERT INTO {changes} (slot, lsn, xid, tbl, k)"
        " SELECT {slot}, r.lsn, {full_xid}, r.tbl, kv.k FROM r CROSS JOIN ref LEFT JOIN LATERAL ("
        " SELECT CASE WHEN starts_with(m[2], '''') THEN replace(substr(m[2], 2, length(m[2]) - 2), '''''', '''')"
        " WHEN m[2] = 'null' THEN NULL ELSE m[2] END AS k"
        " FROM regexp_matches(r.rest, {token}, 'g') AS m WHERE NOT r.by_position AND m[1] = r.printed"
        " UNION ALL SELECT k FROM ({leading_keys}) AS lk (k) WHERE r.by_position) AS kv ON true RETURNING 1)"
        " SELECT (SELECT count(*) FROM c), (SELECT max(lsn) FROM commits), (SELECT count(*) FROM ins)"
    ).format(
        values=values,
        chars=sql.Literal(LEADING_CHARS),
        peek=_peek(slot, upto, limit),
        head=sql.Literal(_head_length(tables)),
        w=sql.Literal(XID_WRAP),
        state=state,
        slot=sql.Literal(slot),
        changes=CAPTURE_CHANGES,
        full_xid=full_xid,
        token=sql.Literal(TOKEN),
        leading_keys=LEADING_KEYS,
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
