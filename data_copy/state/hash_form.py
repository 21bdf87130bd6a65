"""Which row hash form (mapping_sql/row_hash.py) the database's stored hashes are in, and
the upgrade of a database that stored them in an older one.

Stored hashes: the ownership baseline (`migration_owned_rows.h`), the last full
validation's chunk checksums (`migration_chunk_hashes`) and the validations' checksums in
migration_log. The upgrade runs once, in the state gate's transaction, before anything
reads a hash:
- each recorded baseline hash is recomputed in the new form from a side that still holds
  the recorded row: the new table's row when its old-form hash is the recorded one, else
  the legacy row's projection when its is; else both sides changed since, and the record
  gets a hash no row has (UNMATCHED), which classifies the key as changed on both sides,
  exactly as the old hash did. So no key changes class;
- the chunk checksums are dropped: the next validation reads every row;
- migration_log keeps its checksums: cleanup's guard compares a validation's checksum in
  the form it was computed in (retire/guards.py).
A database with none of these hashes yet just records the current form.

Baseline records older than the unmapped hash (`u`, row_hash.unmapped_hash) get it once,
in the same transaction: from the new table's row as it is then (an application change
made there before cannot be told apart any more), or, for a key the table lost, a hash no
row has (UNMATCHED), so that a row inserted again under it is the application's.
"""

from collections.abc import Callable

import psycopg
from psycopg import sql

from catalog.mappings import MAPPINGS
from data_copy.mapping_sql.projection import Part, parts
from data_copy.mapping_sql.row_hash import FORM, source_hash, target_hash
from data_copy.state import ownership
from data_copy.state.ownership import source_key_text, target_key_text
from data_copy.state.schema import CHUNKS, HASH_FORM, OWNED

UNMATCHED = -(2**63)  # a recorded hash no row's hash equals (1 in 2^64 that one does)


def stored(conn: psycopg.Connection) -> int | None:
    """The form the stored hashes are in; None when none is recorded yet."""
    row = conn.execute(sql.SQL("SELECT max(form) FROM {}").format(HASH_FORM)).fetchone()
    return int(row[0]) if row and row[0] is not None else None


def _holds_hashes(conn: psycopg.Connection) -> bool:
    row = conn.execute(
        sql.SQL("SELECT EXISTS (SELECT 1 FROM {}) OR EXISTS (SELECT 1 FROM {})").format(OWNED, CHUNKS)
    ).fetchone()
    return bool(row and row[0])


_NEW_ROWS = sql.Identifier("migration_rehash_new")
_LEGACY_ROWS = sql.Identifier("migration_rehash_legacy")


def _rehash_part(conn: psycopg.Connection, part: Part, old: int) -> int:
    """The part's recorded hashes, from form `old` to FORM; returns the records changed.
    Both forms are computed for the rows of recorded keys only: the new table's found by
    key, legacy's only for the keys whose new-table row is not the recorded one (one
    UPDATE joining whole tables, with the hashes in the join, took 165 s for 258,645
    records on the large bench database, 125 s of it one part's plan)."""
    p = sql.Literal(part.name)
    key_type = sql.SQL(part.target.column(part.target_key).type)  # catalog text, not input
    both = "{} AS k, {} AS old, {} AS new"
    new_rows = part.select_target(
        sql.SQL(both).format(target_key_text(part), target_hash(part, form=old), target_hash(part))
    )
    conn.execute(
        sql.SQL(
            "CREATE TEMP TABLE {} AS {} AND t.{} IN (SELECT CAST(o.k AS {}) FROM {} AS o WHERE o.part = {})"
        ).format(_NEW_ROWS, new_rows, sql.Identifier(part.target_key), key_type, OWNED, p)
    )
    unmatched = sql.SQL(
        "SELECT r.k FROM {o} AS r LEFT JOIN {n} AS t ON t.k = r.k AND t.old = r.h WHERE r.part = {p} AND t.k IS NULL"
    ).format(o=OWNED, n=_NEW_ROWS, p=p)
    legacy_rows = part.select(
        sql.SQL(both).format(source_key_text(part), source_hash(part, form=old), source_hash(part)),
        sql.SQL("{} IN ({})").format(source_key_text(part), unmatched),
    )
    conn.execute(sql.SQL("CREATE TEMP TABLE {} AS {}").format(_LEGACY_ROWS, legacy_rows))
    conn.execute(sql.SQL("ANALYZE {}, {}").format(_NEW_ROWS, _LEGACY_ROWS))
    changed = conn.execute(
        sql.SQL(
            "UPDATE {o} AS o SET h = coalesce(t.new, s.new, {unmatched}) FROM {o} AS r"
            " LEFT JOIN {n} AS t ON t.k = r.k AND t.old = r.h"
            " LEFT JOIN (SELECT k, old, min(new) AS new FROM {l} GROUP BY k, old) AS s ON s.k = r.k AND s.old = r.h"
            " WHERE r.part = {p} AND o.part = {p} AND o.k = r.k"
        ).format(o=OWNED, unmatched=sql.Literal(UNMATCHED), n=_NEW_ROWS, l=_LEGACY_ROWS, p=p)
    ).rowcount
    conn.execute(sql.SQL("DROP TABLE {}, {}").format(_NEW_ROWS, _LEGACY_ROWS))
    return changed


def _rehash_baseline(conn: psycopg.Connection, old: int) -> int:
    """Every part's recorded hashes, from form `old` to FORM; returns the records changed."""
    return sum(_rehash_part(conn, part, old) for m in MAPPINGS for part in parts(m))


def _record_unmapped(conn: psycopg.Connection, note: Callable[[str], None]) -> None:
    """Baseline records without an unmapped hash get one (see the module doc)."""
    row = conn.execute(sql.SQL("SELECT EXISTS (SELECT 1 FROM {} WHERE u IS NULL)").format(OWNED)).fetchone()
    if not (row and row[0]):  # by the partial index of those records: nothing read
        return
    filled = sum(ownership.adopt_unmapped(conn, part, unknown_only=True) for m in MAPPINGS for part in parts(m))
    lost = conn.execute(sql.SQL("UPDATE {} SET u = %s WHERE u IS NULL").format(OWNED), (UNMATCHED,)).rowcount
    note(
        f"ownership records given the hash of their unmapped columns: {filled:,} from their rows as they are,"
        f" {lost:,} whose row is gone"
    )


def upgrade(conn: psycopg.Connection, note: Callable[[str], None]) -> None:
    """Brings the stored hashes to FORM and every baseline record an unmapped hash (see the
    module doc); inside the caller's transaction."""
    _record_unmapped(conn, note)
    form = stored(conn)
    if form == FORM:
        return
    if form is None and not _holds_hashes(conn):  # nothing hashed yet: a new database
        conn.execute(sql.SQL("INSERT INTO {} (form) VALUES (%s)").format(HASH_FORM), (FORM,))
        return
    old = form or 1  # hashes stored before the form was recorded are form 1's
    records = _rehash_baseline(conn, old)
    conn.execute(sql.SQL("DELETE FROM {}").format(CHUNKS))
    conn.execute(sql.SQL("DELETE FROM {}").format(HASH_FORM))
    conn.execute(sql.SQL("INSERT INTO {} (form) VALUES (%s)").format(HASH_FORM), (FORM,))
    note(
        f"stored row hashes upgraded from form {old} to {FORM}: {records:,} ownership records rehashed,"
        " chunk checksums dropped (the next validation reads every row)"
    )
