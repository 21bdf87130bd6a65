"""Applies captured legacy changes by key, inside a mapping's settle transaction.

For every key a change touched (insert, update, delete: the operation does not matter),
the current legacy row is re-read through the mapping's projection and upserted, or, when
the legacy row is gone, the target row is deleted, but only while it is still the row
data_copy wrote (ownership.guard, as in every delete of ours). Replay is idempotent and
order-free, so a key seen twice, or again after a crash, does no harm. In phase 2 the open
conflicts' keys are upserted too, in every sync (state/conflicts.py: the guard leaves a
key the application still holds as it is).

Only changes committed before this transaction's snapshot are applied (`visible_upto`): a
transaction that committed after it (or whose commit is flushed but not yet visible) is
left for the next sync, and the Part's recorded position stops before it.

A change that carries no key (a DELETE on a legacy table without a primary key or replica
identity, a TRUNCATE) is applied by deleting the target rows whose legacy row is gone (one
anti-join of the two tables' keys, `Copier.delete_gone`, guarded as every delete of ours).
So is any change to such a table: its UPDATE prints only the new row, so one that changed
the key leaves the old key's row behind, found the same way.

Falls back to today's scan (`Copier.copy`, then validation and reconcile) for:
- a Part with no recorded position (copied before the slot existed);
- the games merge, when either legacy table changed: a change in one row re-pairs others
  (its rows whose public game is gone are handed over first: sync/merge_moves.py).

A legacy row that is unchanged itself but resolves differently because a table it looks up
changed (a game lookup, a foreign key's parent: an orphan whose parent arrived) is not in
the slot; the scan would not re-read it either (its watermark is per row): the settle's
validation finds it and its reconcile (or the rejects it records) settles it, as before.
"""

import re
from contextlib import closing

import psycopg
from psycopg import sql

from catalog.legacy import LegacyTable, legacy_table
from catalog.mappings import Mapping
from catalog.tables import Table
from data_copy.capture import stream
from data_copy.capture.stream import Capture
from data_copy.core import planner
from data_copy.core.ident import ident
from data_copy.mapping_sql import key_sets
from data_copy.mapping_sql.key_sets import NUMERIC_KEY
from data_copy.mapping_sql.projection import INTEGER_TYPES, SOURCE, Part
from data_copy.state import conflicts
from data_copy.state.schema import CAPTURE, CAPTURE_CHANGES, DIRTY, REJECTS
from data_copy.sync import merge_moves
from data_copy.sync.copier import Copier


def visible_upto(conn: psycopg.Connection, cap: Capture, tables: list[str], pos: str | None) -> str:
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


def _moved(conn: psycopg.Connection, part: Part, pending: sql.Composable) -> bool:
    """On a table whose changes print only the new row: may an UPDATE have moved a row to
    another key? Only when an updated key is neither in the new table nor inserted by an
    earlier change (the old key's row is then found by the anti-join)."""
    updated = sql.SQL(
        "SELECT DISTINCT u.k FROM {c} AS u WHERE ({p}) AND u.op = 'U' AND u.k IS NOT NULL"
        " AND NOT EXISTS (SELECT 1 FROM {c} AS i WHERE ({p}) AND i.k = u.k AND i.op = 'I'"
        " AND (i.lsn, i.change_lsn) < (u.lsn, u.change_lsn))"
    ).format(c=CAPTURE_CHANGES, p=pending)
    target_type = _type(part.target, part.target_key)
    if target_type not in INTEGER_TYPES:  # the key's text against every row's
        key = sql.SQL("CAST(t.{} AS text) = u.k").format(sql.Identifier(part.target_key))
        row = conn.execute(
            sql.SQL("SELECT EXISTS (SELECT 1 FROM ({}) AS u WHERE NOT EXISTS (SELECT 1 FROM {} AS t WHERE {}))").format(
                updated, ident(part.target.qualified), key
            )
        ).fetchone()
        return bool(row and row[0])
    # by the new table's key index, a batch of keys at a time (as one statement with the
    # sessions' nested loops off, a hash of the whole new table: 1.4 s and 873 MB read for
    # the large splits at every sync with an update there and no delete)
    column = sql.Identifier("t", part.target_key)
    with planner.keyed(conn), closing(key_sets.batches(conn, updated)) as batches:  # closed on return
        for batch in batches:
            if not all(re.fullmatch(NUMERIC_KEY, k) for k in batch):
                return True  # a key no integer column holds
            row = conn.execute(
                sql.SQL("SELECT count(DISTINCT t.{}) FROM {} AS t WHERE {}").format(
                    sql.Identifier(part.target_key),
                    ident(part.target.qualified),
                    key_sets.among(column, [int(k) for k in batch], "bigint"),
                )
            ).fetchone()
            if row is None or int(row[0]) < len(batch):
                return True
    return False


def _type(table: LegacyTable | Table, column: str) -> str:
    return re.sub(r"\(.*\)", "", table.column(column).type)


def _changed_keys(
    pending: sql.Composable, type_: str | None = None, deleted: bool = False, also: sql.Composable | None = None
) -> sql.Composed:
    """SELECT the pending changes' distinct keys (as text, or cast to `type_`), and the key
    texts `also` selects; `deleted`: only the keys whose newest change deleted them (a
    DELETE, or an UPDATE that moved the row to another key), in commit order and in order
    within their transaction."""
    k = sql.SQL("k") if type_ is None else sql.SQL("CAST(k AS {})").format(sql.SQL(type_))
    keys = sql.SQL("SELECT DISTINCT k FROM {} WHERE ({}) AND k IS NOT NULL").format(CAPTURE_CHANGES, pending)
    if deleted:  # distinct already: one row per key
        keys = sql.SQL(
            "SELECT k FROM (SELECT DISTINCT ON (k) k, op FROM {} WHERE ({}) AND k IS NOT NULL"
            " ORDER BY k, lsn DESC, change_lsn DESC) AS newest WHERE op = 'D'"
        ).format(CAPTURE_CHANGES, pending)
    if also is not None:  # UNION keeps them distinct
        keys = sql.SQL("{} UNION {}").format(keys, also)
    return sql.SQL("SELECT {} FROM ({}) AS c").format(k, keys)


def _mark_changed(conn: psycopg.Connection, part: Part, pending: sql.Composable, rows: sql.Identifier | None) -> None:
    """Every key a change touched, written or not (a row that no longer fits is not), as
    dirty: the next incremental validation re-hashes exactly these (validation/chunks.py).
    With `rows` (a legacy table no index can look keys up in: key_sets.located_rows, read
    in this snapshot), where each key's row is now, or that it is gone, in the same
    statement, so that an incremental validation reads just those rows
    (validation/incremental.py); as a second UPDATE of the marks it cost 8.3 s of a 1M-key
    sync at large."""
    if rows is None:
        conn.execute(
            sql.SQL(
                "INSERT INTO {d} (part, k) SELECT DISTINCT %s, k FROM {c} WHERE ({p}) AND k IS NOT NULL"
                " ON CONFLICT (part, k) DO UPDATE SET marked_at = clock_timestamp(), tid = NULL, gone = NULL"
            ).format(d=DIRTY, c=CAPTURE_CHANGES, p=pending),
            (part.name,),
        )
        return
    # DISTINCT ON: a keyless table may hold one key twice, and a mark takes one place (the
    # first; the UPDATE ... FROM this replaces took any one). Its sort writes the marks in
    # key order: 4.5 s at 1M keys, against 9.6 s for a GROUP BY in hash order
    conn.execute(
        sql.SQL(
            "INSERT INTO {d} (part, k, tid, gone) SELECT DISTINCT ON (x.k) %s, x.k, r.c, r.c IS NULL"
            " FROM (SELECT DISTINCT k FROM {c} WHERE ({p}) AND k IS NOT NULL) AS x LEFT JOIN {r} AS r ON r.k = x.k"
            " ORDER BY x.k, r.c ON CONFLICT (part, k)"
            " DO UPDATE SET marked_at = clock_timestamp(), tid = EXCLUDED.tid, gone = EXCLUDED.gone"
        ).format(d=DIRTY, c=CAPTURE_CHANGES, p=pending, r=rows),
        (part.name,),
    )


def _apply_part(
    conn: psycopg.Connection,
    copier: Copier,
    part: Part,
    pending: sql.Composable,
    deletes: bool = True,
    also: sql.Composable | None = None,
) -> int:
    """Upserts the changed keys' legacy rows (and those of the keys `also` selects), records
    those that do not fit as rejects (a check that reads only these keys sees them so), and
    (with `deletes`) deletes the target rows of the keys a change deleted, while still
    data_copy's. The changed keys are recorded as dirty here, once, not again by each
    statement that writes them."""
    conn.execute(
        sql.SQL("DELETE FROM {} WHERE mapping = %s AND legacy_key IN (SELECT k FROM {} WHERE {})").format(
            REJECTS, CAPTURE_CHANGES, pending
        ),
        (part.name,),
    )
    source_type, target_type = (
        _type(legacy_table(part.source_table), part.source_key),
        _type(part.target, part.target_key),
    )
    source, target = sql.Identifier(SOURCE, part.source_key), sql.Identifier("t", part.target_key)
    written = 0
    with planner.keyed(conn):  # nested loops for the upserts only (planner.probing)
        if not key_sets.indexed(conn, part.source_table, part.source_key):  # one parallel pass over legacy
            keys, rows = key_sets.located_rows(
                conn, part.source_table, SOURCE, part.source_key, _changed_keys(pending, source_type, also=also)
            )
            _mark_changed(conn, part, pending, rows)
            # one upsert for all the keys (their legacy rows at the located ctids): by batch it
            # measured slower (splits at large: 2.1 s in one statement, 3.5 s in 10 batches;
            # in phase 2, 25.8 s in 11)
            with planner.probing(conn, not part.joined):
                written += copier.reconcile(part, keys=keys, deletes=False, marked=False).copied
                copier.reject_unfit(part, keys)
            if deletes:  # the stream says which keys are gone: no second pass over legacy to be sure
                # a batch at a time as constant arrays: the new table by its key index (with a
                # subquery, a scan of all of it: 2.5 s at large)
                for batch in key_sets.batches(conn, _changed_keys(pending, deleted=True)):
                    written += copier.delete_gone(
                        part,
                        target_keys=key_sets.among(target, batch, target_type),
                        keys=sql.SQL("FALSE"),
                        marked=False,
                    )
            return written
        _mark_changed(conn, part, pending, None)
        for batch in key_sets.batches(conn, _changed_keys(pending, also=also)):  # index lookups, a batch at a time
            batch_keys = key_sets.among(source, batch, source_type)
            with planner.probing(conn, not part.joined):
                written += copier.reconcile(
                    part,
                    keys=batch_keys,
                    target_keys=key_sets.among(target, batch, target_type),
                    deletes=False,
                    marked=False,
                ).copied
                copier.reject_unfit(part, batch_keys)
        if deletes:  # each key's legacy row looked up: a conflict key whose row is there stays
            for batch in key_sets.batches(conn, _changed_keys(pending, deleted=True, also=also)):
                written += copier.delete_gone(
                    part,
                    target_keys=key_sets.among(target, batch, target_type),
                    keys=key_sets.among(source, batch, source_type),
                    marked=False,
                )
    return written


def _moves(conn: psycopg.Connection, m: Mapping, part_list: list[Part]) -> int:
    """Before the merge's scan: its rows whose public game legacy deleted (sync/merge_moves.py)."""
    if not m.merge:
        return 0
    return sum(merge_moves.hand_over(conn, *part_list))


def sync(conn: psycopg.Connection, copier: Copier, cap: Capture | None, m: Mapping, part_list: list[Part]) -> int:
    """Brings `m`'s legacy changes over in the caller's (settle) transaction; rows written."""
    if cap is None:
        return _moves(conn, m, part_list) + sum(copier.copy(part).copied for part in part_list)
    stream.pull(conn, cap)  # the tail, up to now: what this snapshot may already see
    upto = visible_upto(conn, cap, list(m.sources), None)
    reason = _scan_reason(conn, cap, m, part_list, upto)
    written = _moves(conn, m, part_list) if reason else 0
    applied = 0
    for part in part_list:
        pos = stream.position(conn, cap, part.name) or "0/0"
        upto = visible_upto(conn, cap, list(m.sources), pos)
        pending = _pending([part.source_table], cap.slot, pos, upto)
        if reason:
            written += copier.copy(part).copied
        else:
            keys, keyless = _counts(conn, pending)
            applied += keys
            unkeyable = part.source_table in cap.unkeyable
            gone_by_anti_join = bool(keyless or (keys and unkeyable and _moved(conn, part, pending)))
            # phase 2: an open conflict whose application side went back to the baseline is
            # legacy's change alone, read from the stream while it conflicted (the guard
            # keeps every other conflict as it is); else the check's reconcile reads it all
            listed = conflicts.open_keys(part) if conflicts.any_open(conn, part) else None
            if keys or listed is not None:  # the anti-join below deletes the rows gone: one pass
                written += _apply_part(conn, copier, part, pending, deletes=not gone_by_anti_join, also=listed)
            if gone_by_anti_join:
                written += copier.delete_gone(part)
        stream.record(conn, cap, part.name, upto)
    cap.modes[m.name] = f"scan ({reason})" if reason else "capture"
    cap.applied[m.name] = applied
    return written
