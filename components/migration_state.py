"""The latest validation per mapping, read from public.migration_log (read-only).

data_copy writes migration_log (data_copy/journal.py: one row per step; a validation is a
row with step = 'validate'). The stack exports the newest finished validation of each
mapping as the `validation` output. This runs while the Pulumi program runs, so during
a preview too: when the table does not exist yet, the database cannot be reached or the
query fails, the answer is {} (and a warning says why), never an error.
"""

from collections.abc import Callable
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql

from catalog import MIGRATION_LOG_TABLE, UNQUALIFIED_SCHEMA
from catalog.schemas import LATEST_VALIDATIONS_SQL
from components.settings import Connection

CONNECT_TIMEOUT_S = 5
_QUERY = sql.SQL(LATEST_VALIDATIONS_SQL).format(log=sql.Identifier(UNQUALIFIED_SCHEMA, MIGRATION_LOG_TABLE))
_TABLE = f"{UNQUALIFIED_SCHEMA}.{MIGRATION_LOG_TABLE}"


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def read_latest_validations(
    connection: Connection,
    password: str | None,
    warn: Callable[[str], None] = lambda _msg: None,
) -> dict[str, dict[str, Any]]:
    """mapping -> {status, sourceCount, targetCount, sourceChecksum, targetChecksum,
    completedAt, error}; {} when there is nothing (or nothing reachable) to read."""
    try:
        with psycopg.connect(
            host=connection.host,
            port=connection.port,
            dbname=connection.database,
            user=connection.username,
            password=password or None,
            sslmode=connection.sslmode,
            connect_timeout=CONNECT_TIMEOUT_S,
            application_name="consolidation-stack-outputs",
            options="-c default_transaction_read_only=on -c statement_timeout=10s",
        ) as conn:
            exists = conn.execute("SELECT to_regclass(%s)", (_TABLE,)).fetchone()
            if exists is None or exists[0] is None:
                return {}
            rows = conn.execute(_QUERY).fetchall()
    except psycopg.Error as exc:
        warn(f"validation output left empty: cannot read {_TABLE}: {exc}".splitlines()[0])
        return {}
    return {
        mapping: {
            "status": status,
            "sourceCount": source_count,
            "targetCount": target_count,
            "sourceChecksum": source_checksum,
            "targetChecksum": target_checksum,
            "completedAt": _iso(completed_at),
            "error": error,
        }
        for (
            mapping,
            status,
            source_count,
            target_count,
            source_checksum,
            target_checksum,
            completed_at,
            error,
        ) in rows
    }
