"""migration_log (the guide's table, unqualified in public) and the rejects of each run."""

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql

from catalog.schemas import LATEST_VALIDATIONS_SQL, MIGRATION_LOG_TABLE, UNQUALIFIED_SCHEMA

LOG = sql.Identifier(UNQUALIFIED_SCHEMA, MIGRATION_LOG_TABLE)
REJECTS = sql.Identifier(UNQUALIFIED_SCHEMA, "migration_rejects")
STATE = sql.Identifier(UNQUALIFIED_SCHEMA, "migration_state")

_DDL = [
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
    sql.SQL(
        """CREATE TABLE IF NOT EXISTS {} (
        run_id uuid NOT NULL,
        mapping varchar(100) NOT NULL,
        legacy_key text,
        reason text NOT NULL,
        recorded_at timestamptz NOT NULL DEFAULT now())"""
    ).format(REJECTS),
    sql.SQL(
        """CREATE TABLE IF NOT EXISTS {} (
        part varchar(100) PRIMARY KEY,
        max_key bigint,
        changed_since timestamptz,
        updated_at timestamptz NOT NULL DEFAULT now())"""
    ).format(STATE),
]


def ensure(conn: psycopg.Connection) -> None:
    with conn.transaction():
        for statement in _DDL:
            conn.execute(statement)


@dataclass
class Entry:
    id: int
    started: datetime


class Journal:
    """Writes one migration_log row per step; each row is committed on its own."""

    def __init__(self, conn: psycopg.Connection, phase: str, run_id: uuid.UUID | None = None) -> None:
        self.conn = conn
        self.phase = phase
        self.run_id = run_id or uuid.uuid4()

    def start(
        self,
        step: str,
        mapping: str | None = None,
        source: str | None = None,
        destination: str | None = None,
    ) -> Entry:
        row = self.conn.execute(
            sql.SQL(
                "INSERT INTO {} (run_id, migration_phase, step, mapping, table_source,"
                " table_destination, status) VALUES (%s, %s, %s, %s, %s, %s, 'running')"
                " RETURNING id, started_at"
            ).format(LOG),
            (self.run_id, self.phase, step, mapping, source, destination),
        ).fetchone()
        assert row is not None
        return Entry(row[0], row[1])

    def finish(self, entry: Entry, status: str, **fields: Any) -> None:
        if "details" in fields and fields["details"] is not None:
            fields["details"] = json.dumps(fields["details"], default=str)
        assignments = [
            sql.SQL("status = %s"),
            sql.SQL("completed_at = clock_timestamp()"),
            sql.SQL("duration_ms = (extract(epoch FROM clock_timestamp() - started_at) * 1000)::bigint"),
        ]
        values: list[Any] = [status]
        for name, value in fields.items():
            assignments.append(sql.SQL("{} = %s").format(sql.Identifier(name)))
            values.append(value)
        self.conn.execute(
            sql.SQL("UPDATE {} SET {} WHERE id = %s").format(LOG, sql.SQL(", ").join(assignments)),
            [*values, entry.id],
        )


def latest_validations(conn: psycopg.Connection) -> list[tuple]:
    """The newest validation row per mapping."""
    exists = conn.execute("SELECT to_regclass('public.migration_log')").fetchone()
    if not exists or exists[0] is None:
        return []
    return conn.execute(sql.SQL(LATEST_VALIDATIONS_SQL).format(log=LOG)).fetchall()
