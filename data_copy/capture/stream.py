"""Change capture: a logical replication slot (test_decoding) read over plain SQL.

When the server runs with wal_level=logical, the first `run` creates the slot BEFORE its
first chunk: every transaction that commits after the slot's consistent point is in the
slot, and every one before it is visible to the copy's snapshots. Later runs read only
what the slot holds since their last position (`pull`), keep the keys of the mapped
legacy tables' changed rows in `migration_capture_changes` (parsed server-side, see
capture/decoding.py), and apply them by key (sync/change_apply.py).

Positions, all in our state (public.migration_capture*):
- `pulled_lsn`: the slot has been read up to here into the buffer. It is written in the
  SAME transaction as the buffered keys; the slot is advanced to it only after that
  commits. A crash in between leaves the slot behind: the next pull skips transactions
  that committed at or before `pulled_lsn`, so nothing is lost or buffered twice.
- per mapping Part, the position its buffered keys were applied up to, written in the
  SAME transaction as the applied rows (the settle transaction).

Our own writes carry a replication origin (`origin_name`), so the slot's output leaves
them out (`only-local`) and `foreign_writes` can tell the application's writes to the new
tables from ours.
"""

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from catalog.mappings import MAPPINGS
from data_copy.capture import decoding, replica_identity, slot
from data_copy.capture.change_lines import Table
from data_copy.capture.wal_flush import Flusher
from data_copy.errors import first_line
from data_copy.mapping_sql.projection import parts
from data_copy.settings import Settings
from data_copy.state import schema
from data_copy.state.schema import CAPTURE, CAPTURE_CHANGES, CAPTURE_POSITIONS, STATE

MARK_LOCK_TIMEOUT = "10ms"  # the marker slot's record is written before it waits: never wait for it

BATCH_CHANGES = 200_000  # rows of slot output per batch outside a settle transaction


@dataclass
class Capture:
    slot: str
    created: bool = False  # this run created the slot
    origin: bool = False  # this session's writes carry our replication origin
    tables: dict[str, str] = field(default_factory=dict)  # legacy table -> key column
    unkeyable: dict[str, str] = field(default_factory=dict)  # legacy table -> why its deletes have no key
    leading: set[str] = field(default_factory=set)  # legacy tables whose key is printed first (change_lines.py)
    printed: list[Table] = field(default_factory=list)  # the tables as the slot prints them (_printed)
    modes: dict[str, str] = field(default_factory=dict)  # mapping -> how it was synced
    applied: dict[str, int] = field(default_factory=dict)  # mapping -> changed keys applied
    unmarked: str = ""  # why `mark` could not log a running-xacts record (said once)
    flusher: Flusher | None = field(default=None, repr=False)  # flushes before each slot read


def _record_new_slot(conn: psycopg.Connection, name: str, lsn: str) -> None:
    """The slot's consistent point becomes the position of every Part not copied yet (their
    first copy reads after it); Parts copied before have none: their next sync scans."""
    names = [p.name for m in MAPPINGS for p in parts(m)]
    with conn.transaction():
        conn.execute(sql.SQL("DELETE FROM {} WHERE slot = %s").format(CAPTURE_POSITIONS), (name,))
        conn.execute(sql.SQL("DELETE FROM {} WHERE slot = %s").format(CAPTURE_CHANGES), (name,))
        conn.execute(
            sql.SQL(
                "INSERT INTO {} (slot, created_lsn, pulled_lsn) VALUES (%s, %s, %s) ON CONFLICT (slot)"
                " DO UPDATE SET created_lsn = EXCLUDED.created_lsn, pulled_lsn = EXCLUDED.pulled_lsn,"
                " created_at = now()"
            ).format(CAPTURE),
            (name, lsn, lsn),
        )
        conn.execute(
            sql.SQL(
                "INSERT INTO {} (slot, part, lsn) SELECT %s, p, %s FROM unnest(CAST(%s AS text[])) AS p"
                " WHERE NOT EXISTS (SELECT 1 FROM {} AS st WHERE st.part = p)"
            ).format(CAPTURE_POSITIONS, STATE),
            (name, lsn, names),
        )


def _keyable(conn: psycopg.Connection) -> tuple[dict[str, str], dict[str, str]]:
    """Legacy tables whose DELETEs print the mapping's key (replica identity: a primary key
    or index holding it, or FULL), and those whose don't (legacy stays untouched: no ALTER)."""
    keyed: dict[str, str] = {}
    unkeyable: dict[str, str] = {}
    for m in MAPPINGS:
        for part in parts(m):
            row = conn.execute(
                "SELECT c.relreplident, EXISTS (SELECT 1 FROM pg_index i JOIN pg_attribute a"
                " ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)"
                " WHERE i.indrelid = c.oid AND a.attname = %s"
                " AND (i.indisprimary AND c.relreplident = 'd' OR i.indisreplident AND c.relreplident = 'i'))"
                " FROM pg_class c WHERE c.oid = to_regclass(%s)",
                (part.source_key, part.source_table),
            ).fetchone()
            if row is None:
                continue  # a missing source: the mapping reports it
            keyed[part.source_table] = part.source_key  # inserts and updates print the new row
            if not (row[0] == "f" or row[1]):
                unkeyable[part.source_table] = f"its deletes carry no {part.source_key} (no primary key on it)"
    return keyed, unkeyable


def _leading(conn: psycopg.Connection, tables: dict[str, str]) -> set[str]:
    """Tables whose key is their first column, an integer printed as it is, and whose old
    key (when test_decoding prints one) is that column alone: their changes' keys are read
    by position at the start of the line (decoding.LEADING_KEYS), not by a scan of every
    token of a wide row (12 s for 100,000 changes of the bench's tables, against 1.2 s to
    decode them)."""
    found = set()
    for table, key in tables.items():
        row = conn.execute(
            "SELECT a.attname = %(k)s AND quote_ident(a.attname) = a.attname"
            " AND format_type(a.atttypid, NULL) IN ('smallint', 'integer', 'bigint')"
            " AND (c.relreplident = 'n'"
            "  OR c.relreplident = 'd' AND coalesce((SELECT i.indnatts = 1 AND i.indkey[0] = a.attnum"
            "   FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary), true)"
            "  OR c.relreplident = 'i' AND coalesce((SELECT i.indnatts = 1 AND i.indkey[0] = a.attnum"
            "   FROM pg_index i WHERE i.indrelid = c.oid AND i.indisreplident), false))"
            " FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid"
            " WHERE c.oid = to_regclass(%(t)s) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum LIMIT 1",
            {"k": key, "t": table},
        ).fetchone()
        if row and row[0]:
            found.add(table)
    return found


def start(
    conn: psycopg.Connection, settings: Settings, note: Callable[[str], None], carry_back: tuple[str, ...] = ()
) -> Capture | None:
    """The run's capture, the slot created first if missing; None (said once, via `note`)
    when the server cannot capture: the run then scans, as without it. `carry_back`: the
    mappings whose new table's changes are read too (phase 2 both ways: sync/both_ways.py)."""
    schema.ensure(conn)
    level = slot.wal_level(conn)
    if level != "logical":
        note(f"change capture off: the server runs with wal_level={level} (logical needed); re-sync scans")
        return None
    name = slot.name_for(conn, settings)
    cap = Capture(name)
    decoding.decoding_memory(conn)
    row = slot.slot_row(conn, name)
    state = conn.execute(sql.SQL("SELECT pulled_lsn FROM {} WHERE slot = %s").format(CAPTURE), (name,)).fetchone()
    if row is None:
        try:
            _record_new_slot(conn, name, slot.create_slot(conn, name))
        except psycopg.Error as error:
            why = first_line(error)
            note(f"change capture off: cannot create replication slot {name} ({why}); re-sync scans")
            return None
        cap.created = True
    elif state is None:  # killed between creating the slot and recording it: no chunk ran since
        _record_new_slot(conn, name, str(row[1]))
        cap.created = True
    cap.origin = slot.setup_origin(conn, slot.origin_name(name))
    if not cap.origin:
        note(
            f"change capture: data_copy's writes carry no replication origin {slot.origin_name(name)} (it needs"
            " superuser, or is still held by an ending session): the slot's output includes them (slower)"
        )
    for line in replica_identity.apply(conn, settings.replica_identity_full):  # before the keys are judged
        note(f"change capture: {line}")
    cap.tables, cap.unkeyable = _keyable(conn)
    for m in MAPPINGS:
        if m.name in carry_back and m.invertible:  # the application's writes, to go back into legacy
            cap.tables[m.target] = parts(m)[0].target_key
    cap.leading = _leading(conn, cap.tables)
    for table, why in cap.unkeyable.items():
        note(f"change capture: {table}: {why}: a run after a change there finds deleted rows by one anti-join")
    return cap


def _printed(conn: psycopg.Connection, cap: Capture) -> list[Table]:
    """The mapped legacy tables as the slot prints them."""
    names = list(cap.tables.items())
    quoted = conn.execute(
        "SELECT 'table ' || quote_ident(split_part(t, '.', 1)) || '.' || quote_ident(substr(t, strpos(t, '.') + 1))"
        " || ': ', quote_ident(k) FROM unnest(CAST(%s AS text[]), CAST(%s AS text[])) WITH ORDINALITY AS n (t, k, i)"
        " ORDER BY i",
        ([t for t, _ in names], [k for _, k in names]),
    ).fetchall()
    return [
        Table(t, key, prefix, printed_key, t in cap.leading)
        for (t, key), (prefix, printed_key) in zip(names, quoted, strict=True)
    ]


def pull(conn: psycopg.Connection, cap: Capture, limit: int | None = None) -> bool:
    """Reads the slot into the buffer (in the caller's transaction, or its own); True when
    `limit` cut it short. Transactions at or before `pulled_lsn` are skipped."""
    with conn.transaction():
        conn.execute("SELECT 1")  # the snapshot (a settle's: REPEATABLE READ) is taken, then
        cap.flusher = cap.flusher or Flusher(conn)
        cap.flusher.flush()  # every commit it sees is flushed, so decoded (capture/wal_flush.py)
        row = conn.execute("SELECT pg_current_wal_flush_lsn()").fetchone()
        assert row is not None
        upto = row[0]
        cap.printed = cap.printed or _printed(conn, cap)
        seen, last = decoding.buffer(conn, cap.slot, CAPTURE, cap.printed, upto, limit)
        cut = limit is not None and seen >= limit
        new = last if cut else upto
        if new is not None:
            conn.execute(
                sql.SQL(
                    "UPDATE {} SET pulled_lsn = CAST(%s AS pg_lsn) WHERE slot = %s AND pulled_lsn < CAST(%s AS pg_lsn)"
                ).format(CAPTURE),
                (str(new), cap.slot, str(new)),
            )
    return cut


def advance(conn: psycopg.Connection, cap: Capture) -> None:
    """Moves the slot to the recorded `pulled_lsn` (outside any transaction: only after the
    buffer holding everything before it has committed)."""
    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        return
    conn.execute(
        sql.SQL(
            "SELECT pg_replication_slot_advance(s.slot_name, c.pulled_lsn) FROM pg_replication_slots s"
            " JOIN {} c ON c.slot = s.slot_name WHERE s.slot_name = %s AND s.confirmed_flush_lsn < c.pulled_lsn"
        ).format(CAPTURE),
        (cap.slot,),
    )


def mark(conn: psycopg.Connection, cap: Capture) -> str:
    """Logs a running-xacts record at the head of the WAL; '' or why it could not.

    Each peek and each advance decodes from the slot's restart_lsn, which moves only to a
    running-xacts record that a decode has passed and an advance then confirmed: without
    one (the bgwriter logs one per 15 s of activity) every read re-decodes our own bulk
    WAL. PostgreSQL 16 has pg_log_standby_snapshot(); before it, creating a logical slot
    logs one (ReplicationSlotReserveWal) BEFORE it waits for the transactions running: a
    temporary marker slot, created with a lock_timeout so short that it never waits on the
    application (55P03: the record is logged all the same), then dropped (on an error the
    server drops a temporary slot itself). The capture's own slot and state are untouched."""
    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        return "inside a transaction"
    if conn.info.server_version >= 160000:
        try:
            conn.execute("SELECT pg_log_standby_snapshot()")
            return ""
        except psycopg.Error:  # superuser only, by default: the marker slot below
            pass
    marker = f"data_copy_mark_{hashlib.md5(cap.slot.encode()).hexdigest()[:8]}_{conn.info.backend_pid}"
    try:
        with conn.transaction():
            conn.execute("SELECT set_config('lock_timeout', %s, true)", (MARK_LOCK_TIMEOUT,))
            # the expected lock timeout is no news for the server log (a superuser may say so)
            conn.execute(
                "SELECT set_config('log_min_messages', 'fatal', true) FROM pg_roles"
                " WHERE rolname = current_user AND rolsuper"
            )
            conn.execute("SELECT pg_create_logical_replication_slot(%s, %s, true)", (marker, slot.PLUGIN))
            conn.execute("SELECT pg_drop_replication_slot(%s)", (marker,))
    except psycopg.errors.LockNotAvailable:  # it waited for a running transaction: logged before
        pass
    except psycopg.Error as error:
        return first_line(error)
    return ""


def attach(conn: psycopg.Connection, cap: Capture) -> bool:
    """A second session of this run writes under our second origin: False if it cannot."""
    return slot.setup_origin(conn, slot.second_origin_name(cap.slot))


def marked(conn: psycopg.Connection, cap: Capture, note: Callable[[str], None]) -> None:
    """`mark`, its failure said once per run (the reads then only cost more)."""
    why = mark(conn, cap)
    if why and not cap.unmarked:
        cap.unmarked = why
        note(f"change capture: cannot log a running-xacts record ({why}): each slot read re-decodes more WAL (slower)")


def catch_up(conn: psycopg.Connection, cap: Capture) -> None:
    """Brings the buffer near the head in bounded batches, each committed, then advanced."""
    while True:
        cut = pull(conn, cap, BATCH_CHANGES)
        advance(conn, cap)
        if not cut:
            return


def position(conn: psycopg.Connection, cap: Capture, part_name: str) -> str | None:
    row = conn.execute(
        sql.SQL("SELECT lsn FROM {} WHERE slot = %s AND part = %s").format(CAPTURE_POSITIONS), (cap.slot, part_name)
    ).fetchone()
    return str(row[0]) if row else None


def record(conn: psycopg.Connection, cap: Capture, part_name: str, lsn: str) -> None:
    conn.execute(
        sql.SQL(
            "INSERT INTO {} (slot, part, lsn) VALUES (%s, %s, %s) ON CONFLICT (slot, part)"
            " DO UPDATE SET lsn = greatest({}.lsn, EXCLUDED.lsn)"
        ).format(CAPTURE_POSITIONS, CAPTURE_POSITIONS),
        (cap.slot, part_name, lsn),
    )


def finish(conn: psycopg.Connection, cap: Capture) -> None:
    """End of a run: the slot advanced, buffered keys every Part has applied forgotten."""
    advance(conn, cap)
    conn.execute(
        sql.SQL("DELETE FROM {} WHERE slot = %s AND lsn <= (SELECT min(lsn) FROM {} WHERE slot = %s)").format(
            CAPTURE_CHANGES, CAPTURE_POSITIONS
        ),
        (cap.slot, cap.slot),
    )
    if cap.origin:
        slot.reset_origin(conn)
        cap.origin = False


def close(cap: Capture) -> None:
    """The run's end, whatever it was: the flusher's session closed."""
    if cap.flusher is not None:
        cap.flusher.close()


def by_mapping(cap: Capture | None) -> dict[str, dict]:
    if cap is None:
        return {}
    return {m: {"mode": mode, "keys": cap.applied.get(m, 0)} for m, mode in cap.modes.items()}


def summary(cap: Capture) -> str:
    """One line: how the run's mappings were re-synced."""
    keyed = [m for m, mode in cap.modes.items() if mode.startswith("capture")]
    scanned = [f"{m} {mode[5:]}" for m, mode in cap.modes.items() if mode.startswith("scan")]
    reconciled = [m for m, mode in cap.modes.items() if mode.startswith("capture,")]
    text = f"change capture (slot {cap.slot}): {len(keyed)} mapping(s) by key, {sum(cap.applied.values())} key(s)"
    if reconciled:
        text += f" (then a full reconcile: {', '.join(reconciled)})"
    return text + (f"; scanned: {', '.join(scanned)}" if scanned else "")
