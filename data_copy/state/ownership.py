"""Which rows of a new table data_copy wrote: a baseline of (key, hashes) per mapping Part.

`public.migration_owned_rows` holds, for every target row data_copy wrote, its key, the
hash of the mapped columns as written (which is the hash of the legacy row's projection at
that sync) and the hash of the unmapped ones (`u`: what only the application writes, such
as data_quality; a row changed only there is the application's, never deleted by us).
Every statement that writes a target row records it IN THE SAME STATEMENT (a
data-modifying CTE), so the baseline and the table cannot disagree after a kill -9: the
transaction either committed both or neither.

Three sides then tell every key's story (S = legacy projection now, T = new table now,
B = baseline): a T row equal to B is ours and untouched; a T row not in B, or different
from B, was written by someone else (the application); a B key missing from T was deleted
by someone else; an S row different from B changed in legacy since the last sync
(state/classification.py classifies keys so).

Every UPDATE and DELETE data_copy issues on a new table carries `guard()`: it touches a
row only while that row still equals its baseline, re-checked on the locked row version
(READ COMMITTED re-evaluates the condition on the newest version; REPEATABLE READ raises a
serialization failure and the step is retried). An application write is therefore never
overwritten or deleted, however the two interleave.

The first copy of a part (an empty table, before the database was ever switched to phase 2)
records no row: it records its chunk transactions' ids in `migration_owned_xacts`, in the
same transaction as the chunk. A row whose `xmin` is one of them was written by that chunk
and changed by nobody since (any UPDATE makes a new row version with the writer's xmin;
freezing keeps the raw xmin), so it is in the baseline as it is: the baseline is the
recorded rows plus those (`baseline`), and a recorded row of the same key wins. That costs
the first copy nothing per row (it was 2-3x the hand-written INSERT). `switch` turns them
into recorded rows (`materialize`) before the application may write, and so does a run
once they are `XACT_AGE_LIMIT` transactions old (xmin is 32 bits: it repeats after 2^32).
"""

import psycopg
from psycopg import sql

from catalog.mappings import MAPPINGS
from data_copy.core.ident import ident
from data_copy.mapping_sql.projection import Part, parts
from data_copy.mapping_sql.row_hash import source_hash, target_hash, unmapped_columns, unmapped_hash
from data_copy.state.schema import OWNED, XACTS

XACT_AGE_LIMIT = 1_000_000_000  # xids: far below 2^32, where a 32-bit xmin could repeat
SAMPLES = 5
_NOTHING = sql.SQL("")
_TRUE = sql.SQL("TRUE")


def target_key_text(part: Part, alias: str = "t") -> sql.Composed:
    return sql.SQL("CAST({} AS text)").format(sql.Identifier(alias, part.target_key))


def source_key_text(part: Part) -> sql.Composed:
    return sql.SQL("CAST({} AS text)").format(part.key_expr())


def _first_copied(part: Part, alias: str) -> sql.Composed:
    """The row version was written by one of the part's first-copy chunks (see the module doc).
    Their ids as one array, read once (an InitPlan): a per-row hashed subplan cost 1.5x
    (5M rows: 0.37 against 0.25 s)."""
    return sql.SQL("{a}.xmin = ANY (ARRAY(SELECT xid(x.x) FROM {x} AS x WHERE x.part = {p}))").format(
        a=sql.Identifier(alias), x=XACTS, p=sql.Literal(part.name)
    )


def _recorded(part: Part, key: sql.Composable, alias: str | None = None) -> sql.Composed:
    """A recorded baseline row for `key` (as the new table's row `alias` is, when given:
    its row hash and its unmapped hash)."""
    same = (
        _NOTHING
        if alias is None
        else sql.SQL(" AND o.h = {} AND o.u = {}").format(target_hash(part, alias), unmapped_hash(part, alias))
    )
    return sql.SQL("EXISTS (SELECT 1 FROM {o} AS o WHERE o.part = {p} AND o.k = {k}{same})").format(
        o=OWNED, p=sql.Literal(part.name), k=key, same=same
    )


def guard(part: Part, alias: str = "t") -> sql.Composed:
    """True only for a target row data_copy wrote and nobody changed since: recorded with
    this content (its unmapped columns too: a row the application changed only there is
    its own), or written by a first-copy chunk and its key recorded by nothing later."""
    k = target_key_text(part, alias)
    return sql.SQL("({recorded} OR ({first} AND NOT {any_recorded}))").format(
        recorded=_recorded(part, k, alias),
        first=_first_copied(part, alias),
        any_recorded=_recorded(part, k),
    )


def baseline(part: Part, target_cond: sql.Composable = _TRUE, key_cond: sql.Composable = _TRUE) -> sql.Composed:
    """SELECT k, h, u of the part's baseline: the recorded rows, and the first-copied rows of
    the new table that no recorded row overrides (their hashes are what they hold now).
    `key_cond` (over the key text `k`) limits the recorded rows, `target_cond` (over the new
    table's row `t`) the first-copied ones."""
    first = part.select_target(
        sql.SQL("{} AS k, {} AS h, {} AS u").format(target_key_text(part), target_hash(part), unmapped_hash(part))
    )
    # the EXISTS is a one-time filter: without first-copy transactions the table is not read
    return sql.SQL(
        "SELECT k, h, u FROM {o} WHERE part = {p} AND ({kc})"
        " UNION ALL ({first} AND ({tc}) AND EXISTS (SELECT 1 FROM {x} WHERE part = {p}) AND {fc} AND NOT {rec})"
    ).format(
        o=OWNED,
        p=sql.Literal(part.name),
        kc=key_cond,
        x=XACTS,
        first=first,
        tc=target_cond,
        fc=_first_copied(part, "t"),
        rec=_recorded(part, target_key_text(part)),
    )


def departed(part: Part, target_cond: sql.Composable = _TRUE, key_cond: sql.Composable = _TRUE) -> sql.Composed:
    """SELECT k: the keys (of `target_cond` over the new table's row t, `key_cond` over the
    recorded key text k) whose row is not its baseline's: changed, deleted, or never written
    by data_copy. `baseline` joined to the table, which is read once: a first-copied row
    that no recorded row overrides is its own baseline (as `baseline` reads it a second time)."""
    rows = part.select_target(
        sql.SQL("{} AS k, {} AS h, {} AS u, {} AS f").format(
            target_key_text(part), target_hash(part), unmapped_hash(part), _first_copied(part, "t")
        )
    )
    return sql.SQL(
        "SELECT coalesce(t.k, o.k) AS k FROM ({rows} AND ({tc})) AS t"
        " FULL JOIN (SELECT k, h, u FROM {o} WHERE part = {p} AND ({kc})) AS o ON o.k = t.k"
        " WHERE CASE WHEN t.k IS NULL THEN true WHEN o.k IS NULL THEN NOT t.f"
        " ELSE t.h <> o.h OR t.u IS DISTINCT FROM o.u END"
    ).format(rows=rows, tc=target_cond, o=OWNED, p=sql.Literal(part.name), kc=key_cond)


def has_first_copied(conn: psycopg.Connection, part: Part) -> bool:
    row = conn.execute(
        sql.SQL("SELECT EXISTS (SELECT 1 FROM {} WHERE part = %s)").format(XACTS), (part.name,)
    ).fetchone()
    return bool(row and row[0])


def has_baseline(conn: psycopg.Connection, part: Part) -> bool:
    """Any baseline record of the part: a recorded row or a first-copy transaction."""
    row = conn.execute(
        sql.SQL("SELECT EXISTS (SELECT 1 FROM {} WHERE part = %s) OR EXISTS (SELECT 1 FROM {} WHERE part = %s)").format(
            OWNED, XACTS
        ),
        (part.name, part.name),
    ).fetchone()
    return bool(row and row[0])


def record_first_copy(conn: psycopg.Connection, part: Part) -> None:
    """Inside a first-copy chunk's (top-level) transaction: its rows are the baseline as written."""
    conn.execute(
        sql.SQL("INSERT INTO {} (part, x) VALUES (%s, pg_current_xact_id()) ON CONFLICT DO NOTHING").format(XACTS),
        (part.name,),
    )


def materialize(conn: psycopg.Connection, part: Part) -> int:
    """The part's first-copied rows become recorded rows (a recorded row of the same key
    wins), and its first-copy transactions are forgotten; rows recorded. In one transaction."""
    if not has_first_copied(conn, part):
        return 0
    with conn.transaction():
        n = conn.execute(
            sql.SQL("INSERT INTO {o} (part, k, h, u) {first} ON CONFLICT (part, k) DO NOTHING").format(
                o=OWNED,
                first=sql.SQL("{} AND {}").format(
                    part.select_target(
                        sql.SQL("{}, {}, {}, {}").format(
                            sql.Literal(part.name), target_key_text(part), target_hash(part), unmapped_hash(part)
                        )
                    ),
                    _first_copied(part, "t"),
                ),
            )
        ).rowcount
        conn.execute(sql.SQL("DELETE FROM {} WHERE part = %s").format(XACTS), (part.name,))
    return max(n, 0)


def materialize_all(conn: psycopg.Connection, only: set[str] | None = None) -> int:
    """`materialize` for every part (or the parts named in `only`); rows recorded."""
    return sum(materialize(conn, part) for m in MAPPINGS for part in parts(m) if only is None or part.name in only)


def aged_parts(conn: psycopg.Connection) -> set[str]:
    """Parts with a first-copy transaction `XACT_AGE_LIMIT` or more xids old."""
    rows = conn.execute(
        sql.SQL(
            "SELECT DISTINCT part FROM {} WHERE CAST(CAST(pg_snapshot_xmax(pg_current_snapshot()) AS text) AS numeric)"
            " - CAST(CAST(x AS text) AS numeric) >= %s ORDER BY part"
        ).format(XACTS),
        (XACT_AGE_LIMIT,),
    )
    return {r[0] for r in rows}


def unowned(conn: psycopg.Connection, part: Part) -> int:
    """Rows of the new table that are not in the baseline as they are, plus recorded keys
    the table lost: 0 when the part's rows are all data_copy's, untouched. One scan of the
    table, where a row's key text and hash are computed only if it is not first-copied (a
    first copy's 5M-row table: 0.55 s against 1.25 s), and one index probe per recorded key."""
    # a recorded key's row of the new table is found by its index: the key text cast back
    # to the column's type, in a scalar subquery (one probe per recorded key; as a join,
    # with the sessions' enable_nestloop off, it hashed the whole table: 3.0 s at 5M rows)
    key_type = sql.SQL(part.target.column(part.target_key).type)  # catalog text, not input
    first = _first_copied(part, "t")
    overridden = part.select_target(
        sql.SQL("{} AND (o.h IS DISTINCT FROM {} OR o.u IS DISTINCT FROM {})").format(
            first, target_hash(part), unmapped_hash(part)
        )
    )
    query = sql.SQL(
        # rows written since the first copy: each must be recorded with its content
        "SELECT (SELECT count(*) FROM {t} AS t WHERE ({tw}) AND NOT {first} AND NOT {same}),"
        # recorded keys whose row is gone, or first-copied and with other content
        " (SELECT count(*) FROM {o} AS o WHERE o.part = {p}"
        " AND coalesce(({overridden} AND t.{tk} = CAST(o.k AS {ty})), TRUE))"
    ).format(
        t=ident(part.target.qualified),
        tw=part.target_where,
        first=first,
        same=_recorded(part, target_key_text(part), "t"),
        o=OWNED,
        p=sql.Literal(part.name),
        overridden=overridden,
        tk=sql.Identifier(part.target_key),
        ty=key_type,
    )
    row = conn.execute(query).fetchone()
    assert row is not None
    return int(row[0]) + int(row[1])


def source_filter(part: Part, phase: int) -> sql.Composed:
    """Legacy rows worth writing: those that differ from the baseline. Phase 1 (a mirror)
    also re-writes rows missing from the new table; phase 2 never re-inserts a row the
    application deleted (its key is in the baseline but not in the table)."""
    in_target = sql.SQL("EXISTS (SELECT 1 FROM {t} AS t2 WHERE t2.{tk} = {key})").format(
        t=ident(part.target.qualified), tk=sql.Identifier(part.target_key), key=part.key_expr()
    )
    if phase == 1:
        skip = sql.SQL("o.h = {h} AND {present}").format(h=source_hash(part), present=in_target)
    else:
        skip = sql.SQL("o.h = {h} OR NOT {present}").format(h=source_hash(part), present=in_target)
    return sql.SQL("NOT EXISTS (SELECT 1 FROM {o} AS o WHERE o.part = {p} AND o.k = {k} AND ({skip}))").format(
        o=OWNED, p=sql.Literal(part.name), k=source_key_text(part), skip=skip
    )


def recording(part: Part, write: sql.Composable, first: bool = False, also: sql.Composable = _NOTHING) -> sql.Composed:
    """`write` (an INSERT/UPDATE on the target aliased t, without RETURNING) that also
    records every row it wrote in the baseline, in the same statement. `first`: the part
    was never copied and its table is empty, so its baseline is too (a plain INSERT, 2-3x
    faster than ON CONFLICT). `also`: more CTEs over w (dirty_keys.marking)."""
    upsert = sql.SQL("") if first else sql.SQL(" ON CONFLICT (part, k) DO UPDATE SET h = EXCLUDED.h, u = EXCLUDED.u")
    return sql.SQL(
        "WITH w AS ({write} RETURNING {k} AS k, {h} AS h, {u} AS u){also}"
        " INSERT INTO {o} (part, k, h, u) SELECT {p}, k, h, u FROM w WHERE k IS NOT NULL{upsert}"
    ).format(
        write=write,
        k=target_key_text(part),
        h=target_hash(part),
        u=unmapped_hash(part),
        also=also,
        o=OWNED,
        p=sql.Literal(part.name),
        upsert=upsert,
    )


def forgetting(part: Part, delete: sql.Composable, also: sql.Composable = _NOTHING) -> sql.Composed:
    """`delete` (a DELETE on the target aliased t, without RETURNING) that also removes the
    deleted rows from the baseline, in the same statement. `also`: more CTEs over d."""
    return sql.SQL(
        "WITH d AS ({delete} RETURNING {k} AS k){also} DELETE FROM {o} AS o USING d WHERE o.part = {p} AND o.k = d.k"
    ).format(delete=delete, k=target_key_text(part), also=also, o=OWNED, p=sql.Literal(part.name))


def owned_totals(conn: psycopg.Connection, part: Part) -> tuple[int, str]:
    """(rows, checksum) of the baseline in part_check's checksum format."""
    row = conn.execute(
        sql.SQL("SELECT count(*), coalesce(sum(h), 0)::text FROM ({}) AS o").format(baseline(part))
    ).fetchone()
    assert row is not None
    return int(row[0]), str(row[1])


def unmapped_differs(conn: psycopg.Connection, part: Part) -> bool:
    """Whether the new table's unmapped columns are not the baseline's (the sums of the
    unmapped hashes, one pass over each): someone changed a row only there, which the row
    hashes of `owned_totals` cannot show."""
    if not unmapped_columns(part):
        return False
    row = conn.execute(
        sql.SQL("SELECT (SELECT coalesce(sum(u), 0) FROM ({}) AS o) IS DISTINCT FROM ({})").format(
            baseline(part), part.select_target(sql.SQL("coalesce(sum({}), 0)").format(unmapped_hash(part)))
        )
    ).fetchone()
    return bool(row and row[0])


def adopt_unmapped(conn: psycopg.Connection, part: Part, unknown_only: bool = False) -> int:
    """The part's recorded rows take the unmapped hash their row has now (a rollback: legacy
    has no place for those columns, so phase 1 keeps them as they are; `unknown_only`: only
    records without one, state/hash_form.py); records changed."""
    p, u = sql.Literal(part.name), unmapped_hash(part)
    if not unmapped_columns(part):
        if not unknown_only:
            return 0
        statement = sql.SQL("UPDATE {} SET u = {} WHERE part = {} AND u IS NULL").format(OWNED, u, p)
    else:
        rows = part.select_target(sql.SQL("{} AS k, {} AS u").format(target_key_text(part), u))
        if unknown_only:  # the rows of those records only, by the new table's key
            rows = sql.SQL(
                "{} AND t.{} IN (SELECT CAST(r.k AS {}) FROM {} AS r WHERE r.part = {} AND r.u IS NULL)"
            ).format(
                rows,
                sql.Identifier(part.target_key),
                sql.SQL(part.target.column(part.target_key).type),  # catalog text, not input
                OWNED,
                p,
            )
        stale = sql.SQL("o.u IS NULL") if unknown_only else sql.SQL("o.u IS DISTINCT FROM x.u")
        statement = sql.SQL("UPDATE {} AS o SET u = x.u FROM ({}) AS x WHERE o.part = {} AND o.k = x.k AND {}").format(
            OWNED, rows, p, stale
        )
    return max(conn.execute(statement).rowcount, 0)
