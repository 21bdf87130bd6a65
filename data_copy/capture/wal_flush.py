"""A side session whose commits flush the WAL: what a slot read needs before it reads.

A transaction committed with synchronous_commit=off is visible before its commit record is
flushed, and a slot decodes flushed WAL only: a settle would see such a row but not its
change, and its validation find it stale (or an incremental one pass over it). A
transaction that commits on another session with synchronous_commit=local flushes all the
WAL before its own commit record, which comes after every commit already visible. It must
write WAL (a commit that wrote none is not flushed): an empty transactional message
(three lines of slot output, no table's).
"""

import psycopg


class Flusher:
    """One session, opened with `conn`'s parameters at the first flush, closed by close()."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self._conninfo = psycopg.conninfo.make_conninfo(conn.info.dsn, password=conn.info.password)
        self._session: psycopg.Connection | None = None

    def flush(self) -> None:
        """Every commit visible to a snapshot taken before this call is flushed after it."""
        if self._session is None or self._session.closed:
            self._session = psycopg.connect(self._conninfo, application_name="data_copy flush")
        with self._session.transaction():
            self._session.execute(
                "SELECT set_config('synchronous_commit', 'local', true), pg_logical_emit_message(true, 'data_copy', '')"
            )

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None
