"""Server-side profile of a timed step: the statements that took the time (pg_stat_statements).

The benchmark's cluster preloads pg_stat_statements (bench.cluster); on a cluster without
it (the smoke test's) profiling is simply off and every function here returns nothing.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

import psycopg

_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class StatementProfile:
    query: str  # normalised by pg_stat_statements, whitespace collapsed, shortened
    calls: int
    total_ms: float
    mean_ms: float
    rows: int
    shared_read_mb: float
    temp_written_mb: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def enable(dsn: str) -> bool:
    """CREATE EXTENSION pg_stat_statements if the server preloads it; True if usable."""
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            conn.execute("SELECT pg_stat_statements_reset()")
        return True
    except psycopg.Error:
        return False


def reset(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SELECT pg_stat_statements_reset()")


_INSERT_INTO = re.compile(r'^(?:WITH .*?\)\s*)?INSERT INTO "(\w+)"\."(\w+)"', re.DOTALL)
# the write of a copy or an apply: `WITH w AS (INSERT INTO target ...) INSERT INTO baseline`
_WRITE_CTE = re.compile(r'^WITH (?:w|d) AS \((?:WITH .*?\)\s*)?(INSERT INTO|DELETE FROM) "(\w+)"\."(\w+)"', re.DOTALL)
# change capture's statements, named by what they do (the slot read once counted as
# "validate: counts", the apply as "copy public.migration_owned_rows")
_CAPTURE = (
    ("PG_LOGICAL_SLOT_PEEK", "change capture: slot read"),
    ("FETCH FORWARD", "change capture: slot read"),  # the slot's cursor (keys_ cursors: below)
    ('COPY "MIGRATION_INCOMING"', "change capture: slot read"),
    ("MIGRATION_CAPTURE_CHANGES", "change capture: buffer"),
    ("PG_REPLICATION_SLOT_ADVANCE", "change capture: slot advance"),
    ("REPLICATION_SLOT(", "change capture: running-xacts mark"),
    ("MIGRATION_DIRTY_KEYS", "dirty keys"),
)


def category(query: str) -> str:
    """Where a statement's time goes: ``copy <table>`` (a copy's or an apply's write, with
    its baseline record), ``delete gone <table>``, change capture's steps, validate,
    indexes+keys, ddl, journal, other."""
    text = _SPACES.sub(" ", query).strip()
    upper = text.upper()
    write = _WRITE_CTE.match(text)
    if write:
        verb, schema, table = write.groups()
        return f"{'copy' if verb == 'INSERT INTO' else 'delete gone'} {schema}.{table}"
    if upper.startswith("CREATE TEMP TABLE") and '"GONE_KEYS_' in upper:
        return "delete gone: keys of the whole table"
    if upper.startswith("CREATE TEMP TABLE") and '"LOCATED_' in upper:
        return "apply: legacy rows located"
    if upper.startswith("FETCH FORWARD") and '"KEYS_' in upper:
        return "apply: keys read"
    for marker, label in _CAPTURE:
        if marker in upper and not (marker == "MIGRATION_DIRTY_KEYS" and "HASH_RECORD" in upper):
            return label
    match = _INSERT_INTO.match(text)
    if match:
        schema, table = match.groups()
        if table == "migration_rejects":
            return "rejects + duplicate legacy keys"
        if table in ("migration_log", "migration_state"):
            return "journal"
        return f"copy {schema}.{table}"
    if "HASHTEXTEXTENDED" in upper or "HASH_RECORD" in upper or upper.startswith("SELECT KIND"):
        return "validate: checksums"
    if upper.startswith(("CREATE INDEX", "CREATE UNIQUE INDEX")) or "FOREIGN KEY" in upper:
        return "indexes + foreign keys"
    if "SETVAL(" in upper:
        return "indexes + foreign keys"
    if upper.startswith("CREATE TABLE"):
        return "create tables"
    if upper.startswith("DELETE FROM") and "MIGRATION_" not in upper:
        return "reconcile deletes"
    if "COUNT(*)" in upper:
        return "validate: counts"
    if "MIGRATION_" in upper:
        return "journal"
    return "other"


def breakdown(dsn: str) -> dict[str, float]:
    """Server milliseconds per category (see :func:`category`) since the last reset."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        rows = conn.execute(
            """
            SELECT query, total_exec_time FROM pg_stat_statements
             WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
               AND query !~* 'pg_stat_statements'
            """
        ).fetchall()
    result: dict[str, float] = {}
    for query, total in rows:
        key = category(query)
        result[key] = result.get(key, 0.0) + float(total)
    return result


def total_ms(dsn: str) -> float:
    """Server time of every statement of this database since the last reset."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(
            """
            SELECT coalesce(sum(total_exec_time), 0) FROM pg_stat_statements
             WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
               AND query !~* 'pg_stat_statements'
            """
        ).fetchone()
    return float(row[0]) if row else 0.0


def top(dsn: str, limit: int = 8, width: int = 240) -> list[StatementProfile]:
    """The statements of this database with the most execution time since the last reset."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        rows = conn.execute(
            """
            SELECT query, calls, total_exec_time, mean_exec_time, rows,
                   (shared_blks_read * current_setting('block_size')::bigint) / 1048576.0,
                   (temp_blks_written * current_setting('block_size')::bigint) / 1048576.0
              FROM pg_stat_statements
             WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
               AND query !~* 'pg_stat_statements'
             ORDER BY total_exec_time DESC
             LIMIT %s
            """,
            (limit,),
        ).fetchall()
    result = []
    for query, calls, total, mean, nrows, read_mb, temp_mb in rows:
        text = _SPACES.sub(" ", query).strip()
        if len(text) > width:
            text = text[: width - 3] + "..."
        result.append(
            StatementProfile(
                text,
                int(calls),
                float(total),
                float(mean),
                int(nrows),
                float(read_mb),
                float(temp_mb),
            )
        )
    return result
