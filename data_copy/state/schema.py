"""Every table of ours, in one place: its name and its DDL (as pgroll's state/init.sql).

All of them live in `public` beside the guide's `migration_log`, none holds legacy data,
and phase 3 never drops one (retire/live_catalog.py reads NAMES). `ensure` creates them,
idempotently; the modules that read and write them take their names from here.

    migration_log                 the guide's journal: one row per step (state/journal.py)
    migration_rejects             legacy rows the new tables refused, with the reason
    migration_state               per Part: the re-sync's watermark
    migration_owned_rows          the ownership baseline: (key, row hash, unmapped hash) data_copy wrote
    migration_owned_xacts         the first copy's transactions (their rows are the baseline)
    migration_phase_events        the database's own phase history (state/phase_events.py)
    migration_conflicts           phase 2: keys changed on both sides (state/conflicts.py)
    migration_table_stats         legacy activity snapshots (state/legacy_activity.py)
    migration_switch_changes      the switch's change to legacy key defaults (switching/id_space.py)
    migration_rollback_lost       rows a rollback could not carry back, as JSON
    migration_capture             the change capture slot and how far it was read (capture/)
    migration_capture_positions   per Part: the slot position its changes are applied up to
    migration_capture_changes     decoded changes not yet applied: (lsn, xid, table, key, op)
    migration_replica_identity    legacy tables given REPLICA IDENTITY FULL, and what they had
    migration_chunk_hashes        full validation's per-chunk checksums (validation/chunks.py)
    migration_dirty_keys          keys written since the last full validation
    migration_targets             the new table each record describes: its OID (state/identity.py)
    migration_row_hash            the form the stored row hashes are in (state/hash_form.py)
"""

from dataclasses import dataclass

import psycopg
from psycopg import sql

from catalog.schemas import MIGRATION_LOG_TABLE, PHASE_EVENTS_TABLE, UNQUALIFIED_SCHEMA

_NAMES: list[str] = []


def _ours(name: str) -> sql.Identifier:
    _NAMES.append(name)
    return sql.Identifier(UNQUALIFIED_SCHEMA, name)


LOG = _ours(MIGRATION_LOG_TABLE)
REJECTS = _ours("migration_rejects")
STATE = _ours("migration_state")
OWNED = _ours("migration_owned_rows")
XACTS = _ours("migration_owned_xacts")
EVENTS = _ours(PHASE_EVENTS_TABLE)
CONFLICTS = _ours("migration_conflicts")
STATS = _ours("migration_table_stats")
SWITCH_CHANGES = _ours("migration_switch_changes")
LOST = _ours("migration_rollback_lost")
CAPTURE = _ours("migration_capture")
CAPTURE_POSITIONS = _ours("migration_capture_positions")
CAPTURE_CHANGES = _ours("migration_capture_changes")
REPLICA_IDENTITY = _ours("migration_replica_identity")
CHUNKS = _ours("migration_chunk_hashes")
DIRTY = _ours("migration_dirty_keys")
TARGETS = _ours("migration_targets")
HASH_FORM = _ours("migration_row_hash")


@dataclass(frozen=True)
class _Unless:
    """A statement that locks an existing table of ours (ALTER, CREATE INDEX), run only
    while `done` (a catalog read, no lock) is false: even as a no-op, IF NOT EXISTS waits
    for an autovacuum of the table until the server cancels it (deadlock_timeout, 1 s),
    which after a large sync cost every command a second."""

    statement: sql.Composed
    done: sql.Composed


def _added(table: sql.Identifier, columns: dict[str, str]) -> _Unless:
    """Columns a later version added to `table` ({name: type})."""
    return _Unless(
        sql.SQL("ALTER TABLE {} {}").format(
            table,
            sql.SQL(", ").join(
                sql.SQL("ADD COLUMN IF NOT EXISTS {} {}").format(sql.Identifier(c), sql.SQL(t))
                for c, t in columns.items()
            ),
        ),
        sql.SQL(
            "SELECT count(*) = {n} FROM pg_attribute WHERE attrelid = to_regclass({t})"
            " AND attname = ANY({names}) AND NOT attisdropped"
        ).format(n=sql.Literal(len(columns)), t=sql.Literal(table.as_string()), names=sql.Literal(list(columns))),
    )


def _index(name: str, table: sql.Identifier, columns: str, where: str = "") -> _Unless:
    partial = sql.SQL(" WHERE {}").format(sql.SQL(where)) if where else sql.SQL("")
    return _Unless(
        sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} ({}){}").format(
            sql.Identifier(name), table, sql.SQL(columns), partial
        ),
        sql.SQL("SELECT to_regclass({}) IS NOT NULL").format(
            sql.Literal(sql.Identifier(UNQUALIFIED_SCHEMA, name).as_string())
        ),
    )


_DDL: tuple[tuple[sql.Composed | _Unless, ...], ...] = (
    (
        sql.SQL(
            """CREATE TABLE IF NOT EXISTS {} (
            id bigserial PRIMARY KEY,
            run_id uuid NOT NULL,
            migration_phase varchar(20) NOT NULL,
            step varchar(40) NOT NULL,
            mapping varchar(100),
            table_source text,
            table_destination text,
            records_migrated bigint DEFAULT 0,
            source_count bigint,
            target_count bigint,
            source_checksum text,
            target_checksum text,
            status varchar(20) NOT NULL,
            error_message text,
            details jsonb,
            started_at timestamptz NOT NULL DEFAULT now(),
            completed_at timestamptz,
            duration_ms bigint)"""
        ).format(LOG),
    ),
    (
        sql.SQL(
            """CREATE TABLE IF NOT EXISTS {} (
            run_id uuid NOT NULL,
            mapping varchar(100) NOT NULL,
            legacy_key text,
            reason text NOT NULL,
            recorded_at timestamptz NOT NULL DEFAULT now())"""
        ).format(REJECTS),
    ),
    (
        sql.SQL(
            """CREATE TABLE IF NOT EXISTS {} (
            part varchar(100) PRIMARY KEY,
            max_key bigint,
            changed_since timestamptz,
            updated_at timestamptz NOT NULL DEFAULT now())"""
        ).format(STATE),
    ),
    (
        sql.SQL(
            """CREATE TABLE IF NOT EXISTS {} (
            part varchar(100) NOT NULL,
            k text NOT NULL,
            h bigint NOT NULL,
            PRIMARY KEY (part, k))"""
        ).format(OWNED),
        # the hash of the unmapped columns as written (row_hash.unmapped_hash); NULL only in
        # records older than it, which state/hash_form.py fills once (found by the index)
        _added(OWNED, {"u": "bigint"}),
        _index("migration_owned_rows_u_unknown", OWNED, "part", where="u IS NULL"),
    ),
    (
        sql.SQL(
            "CREATE TABLE IF NOT EXISTS {} (part varchar(100) NOT NULL, x xid8 NOT NULL, PRIMARY KEY (part, x))"
        ).format(XACTS),
    ),
    (
        sql.SQL(
            """CREATE TABLE IF NOT EXISTS {} (
            id bigserial PRIMARY KEY,
            phase smallint NOT NULL CHECK (phase IN (1, 2, 3)),
            event varchar(40) NOT NULL,
            run_id uuid NOT NULL,
            db_user name NOT NULL DEFAULT current_user,
            os_user text,
            client_host text,
            stack text,
            recorded_at timestamptz NOT NULL DEFAULT now())"""
        ).format(EVENTS),
    ),
    (
        sql.SQL(
            """CREATE TABLE IF NOT EXISTS {} (
            part varchar(100) NOT NULL,
            k text NOT NULL,
            kind varchar(40) NOT NULL,
            policy varchar(20) NOT NULL,
            first_run uuid NOT NULL,
            last_run uuid NOT NULL,
            first_seen timestamptz NOT NULL DEFAULT now(),
            last_seen timestamptz NOT NULL DEFAULT now(),
            resolved_at timestamptz,
            PRIMARY KEY (part, k, kind))"""
        ).format(CONFLICTS),
    ),
    (
        sql.SQL(
            """CREATE TABLE IF NOT EXISTS {} (
            id bigserial PRIMARY KEY,
            run_id uuid NOT NULL,
            verb varchar(20) NOT NULL,
            moment varchar(5) NOT NULL CHECK (moment IN ('start', 'end')),
            taken_at timestamptz NOT NULL DEFAULT clock_timestamp(),
            counters jsonb NOT NULL)"""
        ).format(STATS),
    ),
    (
        sql.SQL(
            """CREATE TABLE IF NOT EXISTS {} (
            legacy_table text NOT NULL,
            legacy_column text NOT NULL,
            original_default text NOT NULL,
            legacy_sequence text NOT NULL,
            shared_sequence text NOT NULL,
            granted_to text[] NOT NULL DEFAULT '{{}}',
            run_id uuid NOT NULL,
            applied_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (legacy_table, legacy_column))"""
        ).format(SWITCH_CHANGES),
    ),
    (
        sql.SQL(
            """CREATE TABLE IF NOT EXISTS {} (
            run_id uuid NOT NULL,
            mapping varchar(100) NOT NULL,
            target text NOT NULL,
            k text,
            reason text NOT NULL,
            row_data jsonb,
            saved_at timestamptz NOT NULL DEFAULT now())"""
        ).format(LOST),
    ),
    (
        sql.SQL(
            "CREATE TABLE IF NOT EXISTS {} (slot text PRIMARY KEY, created_lsn pg_lsn NOT NULL,"
            " pulled_lsn pg_lsn NOT NULL, created_at timestamptz NOT NULL DEFAULT now())"
        ).format(CAPTURE),
    ),
    (
        sql.SQL(
            "CREATE TABLE IF NOT EXISTS {} (slot text NOT NULL, part varchar(100) NOT NULL,"
            " lsn pg_lsn NOT NULL, PRIMARY KEY (slot, part))"
        ).format(CAPTURE_POSITIONS),
    ),
    (
        sql.SQL(
            "CREATE TABLE IF NOT EXISTS {} (slot text NOT NULL, lsn pg_lsn NOT NULL, xid xid8 NOT NULL,"
            " tbl text NOT NULL, k text)"
        ).format(CAPTURE_CHANGES),
        # the operation, and the change's own lsn (its order inside its transaction)
        _added(CAPTURE_CHANGES, {"op": '"char"', "change_lsn": "pg_lsn"}),
        _index("migration_capture_changes_slot_tbl_lsn", CAPTURE_CHANGES, "slot, tbl, lsn"),
    ),
    (
        sql.SQL(
            'CREATE TABLE IF NOT EXISTS {} (tbl text PRIMARY KEY, original "char" NOT NULL, index_name text,'
            " applied_at timestamptz NOT NULL DEFAULT now())"
        ).format(REPLICA_IDENTITY),
    ),
    (
        sql.SQL(
            """CREATE TABLE IF NOT EXISTS {} (
            part varchar(100) NOT NULL,
            lo bigint NOT NULL,
            hi bigint NOT NULL,
            source_count bigint NOT NULL,
            source_hash numeric NOT NULL,
            target_count bigint NOT NULL,
            target_hash numeric NOT NULL,
            validated_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (part, lo))"""
        ).format(CHUNKS),
    ),
    (
        sql.SQL(
            """CREATE TABLE IF NOT EXISTS {} (
            part varchar(100) NOT NULL,
            k text NOT NULL,
            marked_at timestamptz NOT NULL DEFAULT clock_timestamp(),
            PRIMARY KEY (part, k))"""
        ).format(DIRTY),
        # where the key's legacy row was when last applied (a table without a key index:
        # validation/incremental.py reads it there), or that it was gone
        _added(DIRTY, {"tid": "tid", "gone": "boolean"}),
    ),
    (
        sql.SQL(
            "CREATE TABLE IF NOT EXISTS {} (target text PRIMARY KEY, relid oid NOT NULL,"
            " recorded_at timestamptz NOT NULL DEFAULT now())"
        ).format(TARGETS),
    ),
    (
        sql.SQL(
            "CREATE TABLE IF NOT EXISTS {} (form smallint PRIMARY KEY, recorded_at timestamptz NOT NULL DEFAULT now())"
        ).format(HASH_FORM),
    ),
)

# per mapping Part (column `part`): what a new table's records are, cleared with it
PER_PART = (OWNED, XACTS, STATE, CHUNKS, DIRTY, CONFLICTS, CAPTURE_POSITIONS)

NAMES: frozenset[str] = frozenset(_NAMES)
"""Our tables' names (all in `public`): never legacy data."""


def ensure(conn: psycopg.Connection) -> None:
    """Creates every table of ours that does not exist yet, in one transaction (a savepoint
    inside one already open)."""
    with conn.transaction():
        for statements in _DDL:
            for statement in statements:
                if isinstance(statement, _Unless):
                    row = conn.execute(statement.done).fetchone()
                    if row and row[0]:
                        continue
                    statement = statement.statement
                conn.execute(statement)


def missing(conn: psycopg.Connection) -> frozenset[str]:
    """The names of our tables that do not exist (asked before `ensure` creates them: one
    that went missing is told apart from one never created by what the others hold)."""
    rows = conn.execute(
        "SELECT n FROM unnest(CAST(%s AS text[])) AS n WHERE NOT EXISTS (SELECT 1 FROM pg_class c"
        " JOIN pg_namespace s ON s.oid = c.relnamespace WHERE s.nspname = %s AND c.relname = n)",
        (sorted(NAMES), UNQUALIFIED_SCHEMA),
    )
    return frozenset(r[0] for r in rows)


def name(table: sql.Identifier) -> str:
    """`public.migration_x` of LOG, ... (for messages)."""
    return table.as_string().replace('"', "")  # our names are plain lower case: never quoted


def exists(conn: psycopg.Connection, table: sql.Identifier) -> bool:
    """Whether our `table` (LOG, ...) exists yet."""
    row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (table.as_string(),)).fetchone()
    return bool(row and row[0])
