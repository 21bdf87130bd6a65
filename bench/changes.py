"""Issue 12's measurements past the copy: deletes in the re-sync's change mix, the keys a
change capture records, and validation after the re-sync, incremental against full.

legacy_fixture.add_activity inserts and updates about 1 % of every mapped table;
delete_some() adds deletes (DELETE_FRACTION of each leaf table: rows nothing references),
so the re-sync sees the issue's mix of inserts, updates and deletes.

Which keys an incremental validation re-hashes is what the change record holds
(migration_dirty_keys). With change capture, the re-sync leaves it holding every key it
applied. A re-sync that scanned legacy (no capture) validates in full and so leaves it
empty; record_changes() then records what capture would have: the keys of every target
row the re-sync wrote (their xmin is newer than the re-sync) and the deleted keys. The
result says which of the two it was (validate_incremental_emulated).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import psycopg
from psycopg import sql

from catalog.mappings import MAPPINGS
from data_copy import api
from data_copy.core.ident import ident
from data_copy.mapping_sql.projection import parts
from data_copy.settings import Settings
from data_copy.state.schema import DIRTY

DELETE_FRACTION = 0.002
LEAF_TABLES = (
    "splits.raw_mlb_betting_splits",
    "mlb_betting.moneyline",
    "mlb_betting.spreads",
    "mlb_betting.totals",
)
PACE = "200ms"  # the paced copy's target chunk duration


def delete_some(dsn: str) -> dict[str, list[int]]:
    """Deletes DELETE_FRACTION of each leaf legacy table (a fixed pseudo-random pick);
    returns the deleted keys per table."""
    deleted: dict[str, list[int]] = {}
    with psycopg.connect(dsn, autocommit=True) as conn:
        for name in LEAF_TABLES:
            t = ident(name)
            row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(t)).fetchone()
            n = max(1, round((row[0] if row else 0) * DELETE_FRACTION))
            deleted[name] = [
                r[0]
                for r in conn.execute(
                    sql.SQL(
                        "DELETE FROM {t} WHERE id IN (SELECT id FROM {t} WHERE id IS NOT NULL"
                        " ORDER BY hashint8(id::bigint) LIMIT {n}) RETURNING id"
                    ).format(t=t, n=sql.Literal(n))
                )
            ]
    return deleted


def current_xid(dsn: str) -> int:
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute("SELECT txid_current()").fetchone()
    return int(row[0]) if row else 0


def dirty_keys(dsn: str) -> int:
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(DIRTY)).fetchone()
    return int(row[0]) if row else 0


def record_changes(dsn: str, since_xid: int, deleted: dict[str, list[int]]) -> int:
    """What change capture records for the re-sync: every key it wrote or deleted."""
    recorded = 0
    with psycopg.connect(dsn, autocommit=True) as conn:
        for m in MAPPINGS:
            for part in parts(m):
                recorded += conn.execute(
                    sql.SQL(
                        "INSERT INTO {d} (part, k) SELECT {p}, CAST(t.{k} AS text) FROM {t} AS t"
                        " WHERE ({tw}) AND CAST(CAST(t.xmin AS text) AS bigint) >= {xid}"
                        " ON CONFLICT DO NOTHING"
                    ).format(
                        d=DIRTY,
                        p=sql.Literal(part.name),
                        k=sql.Identifier(part.target_key),
                        t=ident(part.target.qualified),
                        tw=part.target_where,
                        xid=sql.Literal(since_xid & 0xFFFFFFFF),
                    )
                ).rowcount
                keys = deleted.get(part.source_table, [])
                if keys:
                    recorded += conn.execute(
                        sql.SQL("INSERT INTO {} (part, k) SELECT %s, unnest(%s::text[]) ON CONFLICT DO NOTHING").format(
                            DIRTY
                        ),
                        (part.name, [str(k) for k in keys]),
                    ).rowcount
    return recorded


def time_validations(
    dsn: str, settings: Settings, since_xid: int, deleted: dict[str, list[int]], warm: Callable[[], object]
) -> tuple[float, float, float, int, bool, list[str]]:
    """(incremental s, full s, incremental s cold, keys re-hashed, emulated, failures) right
    after a re-sync. The first reader of the rows the re-sync wrote sets their hint bits
    (it dirties the pages it reads): the cold incremental validation, first, pays that
    alone. The two that are compared start from the same state: `warm` (a count of both
    sides, as before `validate_vs_count`) runs before each."""
    emulated = dirty_keys(dsn) == 0
    if emulated:
        record_changes(dsn, since_xid, deleted)
    keys = dirty_keys(dsn)
    cold_s, cold = _timed_validate(dsn, settings, incremental=True)
    warm()
    incremental_s, incremental = _timed_validate(dsn, settings, incremental=True)
    warm()
    full_s, full = _timed_validate(dsn, settings, incremental=False)
    failed = [f"{r.name} ({r.message})" for r in (*cold, *incremental, *full) if r.status != "passed"]
    return incremental_s, full_s, cold_s, keys, emulated, failed


def _timed_validate(dsn: str, settings: Settings, incremental: bool) -> tuple[float, list]:
    started = time.perf_counter()
    results = api.validate(dsn, settings, True, incremental=incremental)
    return time.perf_counter() - started, results
