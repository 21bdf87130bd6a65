"""Phase 2 conflicts: keys changed on both sides since the last sync, never resolved silently.

Each run in phase 2 lists every conflict key in `public.migration_conflicts` (first and last
seen, by which run, under which policy) and in the report. A key that no longer conflicts
(the application or legacy made the two sides equal again, or a rollback carried the new
version back) gets `resolved_at`. The policy (catalog/phases.py, stack key
consolidation:conflictPolicy) says which version stays; the only one is keep-new: the new
table, the system of record from phase 2, keeps its version and the legacy one is reported.
"""

import psycopg
from psycopg import sql

from data_copy.mapping_sql.projection import Part
from data_copy.state import classification, schema
from data_copy.state.schema import CONFLICTS


def record(
    conn: psycopg.Connection,
    part: Part,
    run_id: object,
    policy: str,
    keys: classification.Keys = classification.ALL_KEYS,
) -> int:
    """Lists the part's current conflicts (among `keys`: the others' stay as they were);
    returns how many are open."""
    kinds = sql.SQL(", ").join(sql.Literal(k) for k in classification.CONFLICTS)
    run = sql.Literal(str(run_id))
    p = sql.Literal(part.name)
    upsert = sql.SQL(
        "INSERT INTO {c} (part, k, kind, policy, first_run, last_run)"
        " SELECT {p}, label, kind, {policy}, {run}, {run} FROM ({rows}) AS x WHERE kind IN ({kinds})"
        " ON CONFLICT (part, k, kind) DO UPDATE SET last_run = EXCLUDED.last_run, last_seen = now(),"
        " policy = EXCLUDED.policy, resolved_at = NULL"
    ).format(
        c=CONFLICTS, p=p, policy=sql.Literal(policy), run=run, rows=classification.classified(part, keys), kinds=kinds
    )
    resolve = sql.SQL(
        "UPDATE {c} SET resolved_at = now() WHERE part = {p} AND resolved_at IS NULL AND last_run <> {run}"
        " AND ({among})"
    ).format(c=CONFLICTS, p=p, run=run, among=keys.text)
    with conn.transaction():
        conn.execute(upsert)
        conn.execute(resolve)
    row = conn.execute(
        sql.SQL("SELECT count(*) FROM {} WHERE part = %s AND resolved_at IS NULL").format(CONFLICTS), (part.name,)
    ).fetchone()
    return int(row[0]) if row else 0


def open_keys(part: Part) -> sql.Composed:
    """SELECT the key texts of the part's open conflicts: a sync looks at them again, in
    both directions, whatever its changes were (a conflict can end as a one-sided change
    whose own change a sync has already read)."""
    return sql.SQL("SELECT k FROM {} WHERE part = {} AND resolved_at IS NULL").format(CONFLICTS, sql.Literal(part.name))


def any_open(conn: psycopg.Connection, part: Part) -> bool:
    row = conn.execute(
        sql.SQL("SELECT EXISTS (SELECT 1 FROM {} WHERE part = %s AND resolved_at IS NULL)").format(CONFLICTS),
        (part.name,),
    ).fetchone()
    return bool(row and row[0])


def open_conflicts(conn: psycopg.Connection) -> list[tuple[str, str, str, str]]:
    """(part, key, kind, policy) of every open conflict."""
    if not schema.exists(conn, CONFLICTS):
        return []
    return conn.execute(
        sql.SQL("SELECT part, k, kind, policy FROM {} WHERE resolved_at IS NULL ORDER BY 1, 2").format(CONFLICTS)
    ).fetchall()
