"""The consolidated side's empty starting point, identical before every timed copy.

Every timed copy (the baseline and each ``data_copy run``) starts from the same state:
the four schemas and the owner role exist, no consolidated table and no data_copy journal
exist. Resetting drops the schemas (CASCADE), the journal tables data_copy keeps in
``public`` (every ``public`` table the legacy catalog does not list) and change capture's
replication slot, then bootstraps again.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from catalog.legacy import LEGACY_TABLES
from catalog.schemas import SCHEMA_NAMES, UNQUALIFIED_SCHEMA
from data_copy.settings import Settings


def bootstrap(dsn: str, settings: Settings) -> None:
    """Schemas + owner role, without Pulumi (data_copy.api.bootstrap_structure)."""
    from data_copy.api import bootstrap_structure

    bootstrap_structure(dsn, settings)


def _legacy_public_names() -> set[str]:
    return {t.name for t in LEGACY_TABLES if t.schema == UNQUALIFIED_SCHEMA}


def reset(dsn: str, settings: Settings) -> None:
    """Drop everything a copy created, then bootstrap the empty structure again."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        # change capture's slot too: left behind, the next run would decode the WAL of
        # every copy since (data_copy's own writes included) before its first chunk
        conn.execute(
            "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots"
            " WHERE database = current_database() AND NOT active"
        )
        with conn.transaction():
            for schema in SCHEMA_NAMES:
                conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
            rows = conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = %s",
                (UNQUALIFIED_SCHEMA,),
            ).fetchall()
            legacy = _legacy_public_names()
            for (name,) in rows:
                if name not in legacy:
                    conn.execute(
                        sql.SQL("DROP TABLE IF EXISTS {} CASCADE").format(sql.Identifier(UNQUALIFIED_SCHEMA, name))
                    )
    bootstrap(dsn, settings)


def checkpoint(dsn: str) -> None:
    """Flush dirty buffers so one timed step does not pay for the previous one's writes."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CHECKPOINT")
