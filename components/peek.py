"""The stack's short, read-only look at the database (preview reads a few facts: the
recorded phase, the latest validations, who owns the consolidated schemas)."""

import psycopg

from stack_settings import Connection, conninfo

CONNECT_TIMEOUT_S = 5


def read_only(connection: Connection, password: str | None, application_name: str) -> psycopg.Connection:
    """A connection that cannot write and gives up quickly (a preview must not hang)."""
    return psycopg.connect(
        conninfo(
            connection,
            password,
            connect_timeout=CONNECT_TIMEOUT_S,
            application_name=application_name,
            options="-c default_transaction_read_only=on -c statement_timeout=10s",
        )
    )
