"""Applies captured legacy changes by key, inside a mapping's settle transaction.

For every key a change touched (insert, update, delete: the operation does not matter),
the current legacy row is re-read through the mapping's projection and upserted, or, when
the legacy row is gone, the target row is deleted, but only while it is still the row
data_copy wrote (ownership.guard, as in every delete of ours). Replay is idempotent and
order-free, so a key seen twice, or again after a crash, does no harm.

Only changes committed before this transaction's snapshot are applied (`_upto`): a
transaction that committed after it (or whose commit is flushed but not yet visible) is
left for the next sync, and the Part's recorded position stops before it.

A change that carries no key (a DELETE on a legacy table without a primary key or replica
identity, a TRUNCATE) is applied by deleting the target rows whose legacy row is gone (one
anti-join of the two tables' keys, `Copier.delete_gone`, guarded as every delete of ours).
So is any change to such a table: its UPDATE prints only the new row, so one that changed
the key leaves the old key's row behind, found the same way.

Falls back to today's scan (`Copier.copy`, then validation and reconcile) for:
- a Part with no recorded position (copied before the slot existed);
- the games merge, when either legacy table changed: a change in one row re-pairs others.

A legacy row that is unchanged itself but resolves differently because a table it looks up
changed (a game lookup, a foreign key's parent: an orphan whose parent arrived) is not in
the slot; the scan would not re-read it either (its watermark is per row): the settle's
validation finds it and its reconcile (or the rejects it records) settles it, as before.
"""

import re

import psycopg
from psycopg import sql

from catalog.legacy import LegacyTable, legacy_table
from catalog.mappings import Mapping
from catalog.tables import Table
from data_copy.capture import stream
from data_copy.capture.stream import Capture
from data_copy.mapping_sql import key_sets
from data_copy.mapping_sql.projection import SOURCE, Part
from data_copy.state.schema import CAPTURE, CAPTURE_CHANGES, DIRTY, REJECTS
from data_copy.sync.copier import Copier


def _upto(conn: psycopg.Connection, cap: Capture, tables: list[str], pos: str | None) -> str:
    """The position this snapshot can apply up to: pulled_lsn, or just before the first
    buffered change to `tables` whose transaction this snapshot does not see."""
    row = conn.execute(
        sql.SQL(
            "SELECT coalesce((SELECT min(lsn) - 1 FROM {c} WHERE slot = %(s)s AND tbl = ANY(%(t)s)"
            " AND lsn > CAST(coalesce(%(p)s, '0/0') AS pg_lsn)"
            " AND NOT pg_visible_in_snapshot(xid, pg_current_snapshot())),"
            " (SELECT pulled_lsn FROM {st} WHERE slot = %(s)s))"
        ).format(c=CAPTURE_CHANGES, st=CAPTURE),
        {"s": cap.slot, "t": tables, "p": pos},
    ).fetchone()
    assert row is not None
    return str(row[0])


def _pending(part_tables: list[str], slot: str, pos: str, upto: str) -> sql.Composed:
    return sql.SQL("slot = {} AND tbl = ANY({}) AND lsn > CAST({} AS pg_lsn) AND lsn <= CAST({} AS pg_lsn)").format(
        sql.Literal(slot), sql.Literal(part_tables), sql.Literal(pos), sql.Literal(upto)
    )


def _counts(conn: psycopg.Connection, where: sql.Composable) -> tuple[int, int]:
    """(distinct keys, changes without a key) pending."""
    row = conn.execute(
        sql.SQL("SELECT count(DISTINCT k), count(*) FILTER (WHERE k IS NULL) FROM {} WHERE {}").format(
            CAPTURE_CHANGES, where
        )
    ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def _scan_reason(conn: psycopg.Connection, cap: Capture, m: Mapping, part_list: list[Part], upto: str) -> str:
    if any(stream.position(conn, cap, p.name) is None for p in part_list):
        return "copied before the slot existed"
    for part in part_list:
        pos = stream.position(conn, cap, part.name) or "0/0"
        keys, keyless = _counts(conn, _pending([part.source_table], cap.slot, pos, upto))
        if (keys or keyless) and m.merge:
            return "a merge of two legacy tables changed (rows re-pair)"
    return ""


def _type(table: LegacyTable | Table, column: str) -> str:
    return re.sub(r"\(.*\)", "", table.column(column).type)


def _changed_keys(pending: sql.Composable, type_: str | None = None) -> sql.Composed:
    """SELECT the pending changes' distinct keys (as text, or cast to `type_`)."""
    k = sql.SQL("k") if type_ is None else sql.SQL("CAST(k AS {})").format(sql.SQL(type_))
    return sql.SQL("SELECT DISTINCT {} FROM {} WHERE ({}) AND k IS NOT NULL").format(k, CAPTURE_CHANGES, pending)


def _apply_part(
    conn: psycopg.Connection, copier: Copier, part: Part, pending: sql.Composable, deletes: bool = True
) -> int:
    """Upserts the changed keys' legacy rows and (with `deletes`) deletes those gone."""
    conn.execute(
        sql.SQL("DELETE FROM {} WHERE mapping = %s AND legacy_key IN (SELECT k FROM {} WHERE {})").format(
            REJECTS, CAPTURE_CHANGES, pending
        ),
        (part.name,),
    )
    # every key a change touched, written or not (a row that no longer fits is not): the
    # next incremental validation re-hashes exactly these (validation/chunks.py)
    conn.execute(
        sql.SQL(
            "INSERT INTO {d} (part, k) SELECT DISTINCT %s, k FROM {c} WHERE ({p}) AND k IS NOT NULL"
            " ON CONFLICT (part, k) DO UPDATE SET marked_at = clock_timestamp()"
        ).format(d=DIRTY, c=CAPTURE_CHANGES, p=pending),
        (part.name,),
    )
    source_type, target_type = (
        _type(legacy_table(part.source_table), part.source_key),
        _type(part.target, part.target_key),
    )
    source, target = sql.Identifier(SOURCE, part.source_key), sql.Identifier("t", part.target_key)
    if not key_sets.indexed(conn, part.source_table, part.source_key):  # one parallel pass over legacy
        return copier.reconcile(
            part,
            keys=key_sets.located(
                conn, part.source_table, SOURCE, part.source_key, _changed_keys(pending, source_type)
            ),
            target_keys=key_sets.among_all(target, _changed_keys(pending, target_type)),
            deletes=deletes,
        ).copied
    written = 0
    for batch in key_sets.batches(conn, _changed_keys(pending)):  # index lookups, a batch at a time
        written += copier.reconcile(
            part,
            keys=key_sets.among(source, batch, source_type),
            target_keys=key_sets.among(target, batch, target_type),
            deletes=deletes,
        ).copied
    return written


def sync(conn: psycopg.Connection, copier: Copier, cap: Capture | None, m: Mapping, part_list: list[Part]) -> int:
    """Brings `m`'s legacy changes over in the caller's (settle) transaction; rows written."""
    if cap is None:
        return sum(copier.copy(part).copied for part in part_list)
    stream.pull(conn, cap)  # the tail, up to now: what this snapshot may already see
    upto = _upto(conn, cap, list(m.sources), None)
    reason = _scan_reason(conn, cap, m, part_list, upto)
    written = applied = 0
    for part in part_list:
        pos = stream.position(conn, cap, part.name) or "0/0"
        upto = _upto(conn, cap, list(m.sources), pos)
        pending = _pending([part.source_table], cap.slot, pos, upto)
        if reason:
            written += copier.copy(part).copied
        else:
            keys, keyless = _counts(conn, pending)
            applied += keys
            gone_by_anti_join = bool(keyless or (keys and part.source_table in cap.unkeyable))
            if keys:  # the anti-join below deletes the rows gone: one pass over legacy, not two
                written += _apply_part(conn, copier, part, pending, deletes=not gone_by_anti_join)
            if gone_by_anti_join:
                written += copier.delete_gone(part)
        stream.record(conn, cap, part.name, upto)
    cap.modes[m.name] = f"scan ({reason})" if reason else "capture"
    cap.applied[m.name] = applied
    return written
