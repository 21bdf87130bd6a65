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


class ReferencesRemain(DataCopyError):
    exit_code = 1
    fix = "replace each one listed above with its registry call (get_table_registry().get_table(...))"
