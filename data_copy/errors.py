"""One base error and specific subclasses, each carrying the fix (as Alembic's util/exc.py).

Anything a user can cause ends as one line: `error: <what> (<fix>)` and a non-zero exit.
"""


class DataCopyError(Exception):
    fix: str = ""
    exit_code: int = 2

    def __init__(self, message: str, fix: str | None = None) -> None:
        super().__init__(message)
        if fix is not None:
            self.fix = fix

    def line(self) -> str:
        return f"error: {self}" + (f" ({self.fix})" if self.fix else "")


class BadArguments(DataCopyError):
    fix = "pass exactly one of --stack NAME or --dsn DSN (or set PG* variables)"


class BadDsn(DataCopyError):
    fix = "use a libpq string like postgresql://user:pass@host:5432/dbname"


class ConnectionFailed(DataCopyError):
    fix = "check host, port, user, password and that the server is running"


class StackNotFound(DataCopyError):
    fix = "list stacks with `pulumi stack ls`, or create it with `pulumi stack init NAME`"


class PhaseNotDeployed(DataCopyError):
    fix = "run `pulumi up` for this stack first"


class LegacyTableMissing(DataCopyError):
    fix = "check that --dsn points at the legacy database"


class ValidationFailed(DataCopyError):
    exit_code = 1
    fix = "see the report above and `SELECT * FROM migration_log WHERE status = 'failed'`"


class CleanupRefused(DataCopyError):
    exit_code = 3


class RestoreFailed(DataCopyError):
    exit_code = 4


class PhaseMismatch(DataCopyError):
    """The stack's deployed phase and the phase recorded in the database disagree."""

    exit_code = 5


class ForeignRows(DataCopyError):
    """Phase 1: a new table holds rows data_copy did not write (they are kept)."""

    exit_code = 6
    fix = (
        "in phase 1 only data_copy writes the new tables: stop whatever wrote them; if the application"
        " has switched, run `python -m data_copy switch` (its rows are then kept and counted)"
    )


class SwitchRefused(DataCopyError):
    exit_code = 7


class RollbackRefused(DataCopyError):
    exit_code = 8
