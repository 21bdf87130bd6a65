"""Which new table our records describe: its OID, in `public.migration_targets`.

Every record of ours about a new table (the ownership baseline, the first-copy
transactions, the watermark, chunk checksums, dirty keys, capture positions, conflicts)
is kept per mapping Part. A table dropped and created again under the same name (`pulumi
destroy` + `up`, a DROP by hand, a restore from a dump) gets a new OID: the records then
describe a table that is gone. The gate (state/consistency.py) compares the recorded OID
with the live one before anything is written. An OID survives what keeps the table itself
(ALTER, TRUNCATE, VACUUM FULL, CREATE DATABASE ... TEMPLATE, pg_upgrade).

A table is recorded once it exists: by the run that creates it (`stamp`, before its first
chunk), or by the gate that first sees it (a database kept by an older data_copy is
adopted so, as it is).
"""

import psycopg
from psycopg import sql

from catalog.mappings import MAPPINGS
from data_copy.core import planner
from data_copy.core.ident import ident
from data_copy.mapping_sql.projection import parts
from data_copy.state import schema
from data_copy.state.schema import PER_PART, REJECTS, TARGETS

# new table -> the names its records are kept under (its Parts; rejects also the mapping's)
PARTS: dict[str, tuple[str, ...]] = {m.target: tuple(p.name for p in parts(m)) for m in MAPPINGS}
_MAPPING: dict[str, str] = {m.target: m.name for m in MAPPINGS}


def live(conn: psycopg.Connection) -> dict[str, int | None]:
    """Every new table's OID now (None when it does not exist)."""
    names = sorted(PARTS)
    rows = conn.execute(
        "SELECT t, c.oid FROM unnest(CAST(%s AS text[])) AS t LEFT JOIN (pg_class c JOIN pg_namespace n"
        " ON n.oid = c.relnamespace) ON n.nspname = split_part(t, '.', 1) AND c.relname = split_part(t, '.', 2)"
        " AND c.relkind IN ('r', 'p')",
        (names,),
    )
    return {t: (int(oid) if oid is not None else None) for t, oid in rows}


def recorded(conn: psycopg.Connection) -> dict[str, int]:
    """new table -> the OID our records were kept for."""
    return {t: int(oid) for t, oid in conn.execute(sql.SQL("SELECT target, relid FROM {}").format(TARGETS))}


def stamp(conn: psycopg.Connection, now: dict[str, int | None] | None = None) -> None:
    """Records the OID of every existing new table (as `now` found them) not recorded yet
    (never overwrites one: a different OID is the gate's to judge)."""
    found = {t: oid for t, oid in (live(conn) if now is None else now).items() if oid is not None}
    if found:
        conn.execute(
            sql.SQL(
                "INSERT INTO {} (target, relid) SELECT * FROM unnest(CAST(%s AS text[]), CAST(%s AS oid[]))"
                " ON CONFLICT (target) DO NOTHING"
            ).format(TARGETS),
            (list(found), list(found.values())),
        )


def forget(conn: psycopg.Connection, targets: list[str]) -> None:
    """Drops every record of ours about `targets` (and their OIDs), in one transaction: the
    next run copies them from scratch."""
    names = [n for t in targets for n in PARTS[t]]
    with conn.transaction():
        for table in PER_PART:
            conn.execute(sql.SQL("DELETE FROM {} WHERE part = ANY(%s)").format(table), (names,))
        conn.execute(
            sql.SQL("DELETE FROM {} WHERE mapping = ANY(%s)").format(REJECTS),
            (names + [_MAPPING[t] for t in targets],),
        )
        conn.execute(sql.SQL("DELETE FROM {} WHERE target = ANY(%s)").format(TARGETS), (targets,))


def held(conn: psycopg.Connection) -> dict[str, set[str]]:
    """new table -> which of our records about it exist: 'recorded' (baseline rows),
    'xacts' (first-copy transactions), 'copied' (a watermark), 'checksums' (chunks holding
    target rows), 'other' (dirty keys, conflicts). Index probes only: one per Part and table."""
    pairs = [(t, n) for t, names in PARTS.items() for n in names]
    probes = {
        "recorded": (schema.OWNED,),
        "xacts": (schema.XACTS,),
        "copied": (schema.STATE,),
        "other": (schema.DIRTY, schema.CONFLICTS),
    }
    # a scalar subquery with LIMIT 1, not EXISTS: the planner may turn a correlated EXISTS into
    # one hashed scan of the whole table (2,778 rows of migration_owned_rows at the small
    # fixture, every row of it in phase 2), where this is one index probe per Part
    probe = "bool_or(coalesce((SELECT TRUE FROM {} AS r WHERE r.part = x.part{} LIMIT 1), FALSE))"
    columns = [sql.SQL(probe).format(table, sql.SQL("")) for tables in probes.values() for table in tables]
    columns.append(sql.SQL(probe).format(schema.CHUNKS, sql.SQL(" AND r.target_count > 0")))
    with planner.probes(conn):
        rows = conn.execute(
            sql.SQL(
                "SELECT x.target, {} FROM unnest(CAST(%s AS text[]), CAST(%s AS text[])) AS x(target, part)"
                " GROUP BY x.target"
            ).format(sql.SQL(", ").join(columns)),
            ([t for t, _ in pairs], [n for _, n in pairs]),
        ).fetchall()
    kinds = ["recorded", "xacts", "copied", "other", "other", "checksums"]
    found: dict[str, set[str]] = {}
    for target, *flags in rows:
        found[target] = {kind for kind, flag in zip(kinds, flags, strict=True) if flag}
    return found


def empty(conn: psycopg.Connection, targets: list[str]) -> set[str]:
    """Which of the (existing) `targets` hold no row: one row read at most from each."""
    if not targets:
        return set()
    query = sql.SQL(" UNION ALL ").join(
        sql.SQL("SELECT {}, EXISTS (SELECT 1 FROM {})").format(sql.Literal(t), ident(t)) for t in targets
    )
    return {t for t, has_rows in conn.execute(query) if not has_rows}
