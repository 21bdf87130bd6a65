"""One statement on its own autocommit connection: how tests read and poke a database."""

from __future__ import annotations

import psycopg
from psycopg import sql


def q(dsn: str, query: str | sql.Composable, *args: object, flushed: bool = False) -> list[tuple]:
    """The rows `query` returns ([] for a statement without any). `flushed`: committed is
    flushed (synchronous_commit on), so that a replication slot sees the change at once."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        if flushed:
            conn.execute("SET synchronous_commit = on")
        cur = conn.execute(query, args or None)  # type: ignore[call-overload]
        return cur.fetchall() if cur.description else []
