"""Opening the database: one clear error for every way it can fail, session settings set."""

import psycopg

from data_copy.errors import BadDsn, ConnectionFailed, first_line
from data_copy.settings import Settings


def connect(dsn: str, settings: Settings) -> psycopg.Connection:
    try:
        psycopg.conninfo.conninfo_to_dict(dsn)
    except psycopg.ProgrammingError as error:
        raise BadDsn(f"invalid connection string: {first_line(error)}") from None
    try:
        conn = psycopg.connect(dsn, autocommit=True, connect_timeout=10, application_name="data_copy")
    except psycopg.OperationalError as error:
        detail = first_line(error) if str(error).strip() else "connection failed"
        raise ConnectionFailed(f"cannot connect to the database: {detail}") from None
    for name, value in (
        ("lock_timeout", settings.lock_timeout),
        ("statement_timeout", settings.statement_timeout),
        ("TimeZone", settings.legacy_timezone),
        # Every statement here reads whole tables. The projections' many fit conditions
        # make the planner expect a handful of rows and pick nested loops that rescan the
        # game lookup per row (1 s instead of 10 ms for 5,000 recommendations).
        ("enable_nestloop", "off"),
        # The row-hash expressions over 30 columns make the JIT compile for seconds what
        # runs in a fraction of that (the phase-2 three-way check: 4 s, 3 s of it JIT).
        ("jit", "off"),
    ):
        try:
            conn.execute("SELECT set_config(%s, %s, false)", (name, value))
        except psycopg.Error as error:
            conn.close()
            raise BadDsn(
                f"bad setting {name}={value!r}: {first_line(error)}",
                fix="fix the value in the stack config (consolidation:*)",
            ) from None
    return conn
