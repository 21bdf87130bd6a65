"""What the environment throws at us, as one-line DataCopyErrors (cli.main prints them).

psycopg's errors, a missing `pulumi`, a usage mistake on the command line: each becomes a
DataCopyError with its documented exit code. Anything else is a bug and says so.
"""

import psycopg

from data_copy.errors import (
    ConnectionLost,
    DatabaseBusy,
    DataCopyError,
    PermissionDenied,
    StatementTimedOut,
    first_line,
)


def _detail(error: psycopg.Error) -> str:
    diag = getattr(error, "diag", None)
    detail = getattr(diag, "message_detail", None) if diag is not None else None
    return f" ({detail})" if detail else ""


def translate(error: BaseException) -> DataCopyError | None:
    """The DataCopyError for an environmental failure, or None when it is a bug."""
    if isinstance(error, DataCopyError):
        return error
    if isinstance(error, psycopg.errors.InsufficientPrivilege):
        return PermissionDenied(f"permission denied: {first_line(error)}")
    if isinstance(error, psycopg.errors.LockNotAvailable):
        return DatabaseBusy(
            f"a table is locked by another session: {first_line(error)}",
            fix="run again when the application's long transaction is over, or raise consolidation:lockTimeout",
        )
    if isinstance(error, psycopg.errors.SerializationFailure | psycopg.errors.DeadlockDetected):
        return DatabaseBusy(
            f"the application's writes kept conflicting with ours: {first_line(error)}",
            fix="run the same command again (committed work is kept), preferably when the application is quieter",
        )
    if isinstance(error, psycopg.errors.ReadOnlySqlTransaction):
        return ConnectionLost(
            f"the server is read-only: {first_line(error)}", fix="connect to the primary, not a standby"
        )
    if isinstance(error, psycopg.errors.QueryCanceled):
        return StatementTimedOut(f"a statement was cancelled: {first_line(error)}")
    if isinstance(error, psycopg.errors.AdminShutdown | psycopg.errors.CrashShutdown):
        return ConnectionLost(f"the database server shut down: {first_line(error)}")
    if isinstance(error, psycopg.OperationalError | psycopg.InterfaceError):
        return ConnectionLost(f"lost the connection to the database: {first_line(error)}")
    if isinstance(error, psycopg.errors.DiskFull | psycopg.errors.OutOfMemory | psycopg.errors.TooManyConnections):
        return ConnectionLost(f"the database server cannot go on: {first_line(error)}")
    return None


def bug_line(error: BaseException) -> str:
    what = first_line(error)
    if isinstance(error, psycopg.Error):
        what += _detail(error)
    return (
        f"error: internal error {type(error).__name__}: {what} "
        "(this is a bug in data_copy: please report it with the trace above; committed work is kept)"
    )
