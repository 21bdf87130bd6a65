"""One base error and specific subclasses, each carrying the fix (as Alembic's util/exc.py).

Anything a user or the environment can cause ends as one line `error: <what> (<fix>)` and
a non-zero exit code that says which kind of failure it was (EXIT_CODES, in the README).
"""

# The documented exit codes of `python -m data_copy` (README, "Exit codes").
OK = 0
NOT_VALIDATED = 1  # a mapping does not validate (counts, checksums, rejects, structure)
USAGE = 2  # bad command line, connection string or setting
REFUSED = 3  # cleanup refused by a guard (nothing dropped)
RESTORE = 4  # restore failed or its check differs
DATABASE = 5  # database unreachable, connection lost, statement timed out
BUSY = 6  # another data_copy command holds this database, or a table is locked
DRIFT = 7  # the live legacy schema differs from the catalog
PRIVILEGE = 8  # the login role lacks a privilege
SETUP = 9  # environment not ready: stack, pulumi, deployed schemas, legacy tables
PHASE = 10  # the stack's deployed phase and the database's recorded phase disagree
FOREIGN_ROWS = 11  # phase 1: a new table holds rows data_copy did not write (kept)
TRANSITION_REFUSED = 12  # switch, rollback or reset refused (nothing changed)
STATE = 13  # data_copy's own bookkeeping (public.migration_*) disagrees with itself or the new tables
BUG = 70  # an internal error: a bug in data_copy (the trace is printed)
INTERRUPTED = 130  # Ctrl-C / SIGTERM

EXIT_CODES = {
    OK: "success",
    NOT_VALIDATED: "a mapping does not validate",
    USAGE: "bad command line, connection string or setting",
    REFUSED: "cleanup refused by a guard, nothing dropped",
    RESTORE: "restore failed or the restored data differs",
    DATABASE: "database unreachable, connection lost or statement timed out",
    BUSY: "another data_copy command is running on this database (or a table is locked)",
    DRIFT: "the live legacy schema differs from the catalog",
    PRIVILEGE: "the login role lacks a privilege",
    SETUP: "environment not ready (stack, pulumi, deployed schemas, legacy tables)",
    PHASE: "the stack's deployed phase disagrees with the database's recorded phase",
    FOREIGN_ROWS: "phase 1: a new table holds rows data_copy did not write (kept and named)",
    TRANSITION_REFUSED: "switch, rollback or reset refused, nothing changed",
    STATE: "data_copy's own bookkeeping is damaged or disagrees with the new tables (nothing written)",
    BUG: "internal error (a bug; the trace is printed)",
    INTERRUPTED: "interrupted (Ctrl-C); committed work is kept, a re-run continues",
}


class DataCopyError(Exception):
    """The base: a one-line message, its fix and its exit code.

    A subclass declares both in its class statement (`class X(DataCopyError, code=SETUP,
    fix="..."): ...`); a raise may give a more specific fix.
    """

    fix: str = ""
    exit_code: int = USAGE

    def __init_subclass__(cls, code: int | None = None, fix: str | None = None, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if code is not None:
            cls.exit_code = code
        if fix is not None:
            cls.fix = fix

    def __init__(self, message: str, fix: str | None = None) -> None:
        super().__init__(message)
        if fix is not None:
            self.fix = fix

    def line(self) -> str:
        text = " ".join(str(self).split())  # one line, whatever the message held
        return f"error: {text}" + (f" ({self.fix})" if self.fix else "")


def first_line(error: BaseException) -> str:
    """The first line of what went wrong: the server's primary message for a PostgreSQL
    error (psycopg's diag.message_primary), else the first line of str(error), else the
    error's class name."""
    primary = getattr(getattr(error, "diag", None), "message_primary", None)
    if primary:
        return str(primary).strip()
    text = str(error).strip()
    return text.splitlines()[0].strip() if text else type(error).__name__


# --------------------------------------------------------------------- usage (exit 2)


class BadArguments(DataCopyError, fix="pass exactly one of --stack NAME or --dsn DSN (or set PG* variables)"): ...


class UsageError(DataCopyError, fix="see `python -m data_copy --help` or `python -m data_copy COMMAND --help`"): ...


class BadDsn(DataCopyError, fix="use a libpq string like postgresql://user:pass@host:5432/dbname"): ...


# -------------------------------------------------------------- the database (exit 5, 6, 8)


class ConnectionFailed(
    DataCopyError, code=DATABASE, fix="check host, port, user, password and that the server is running"
): ...


class ConnectionLost(
    DataCopyError,
    code=DATABASE,
    fix="check that the server is running, then run the same command again: committed work is kept",
): ...


class StatementTimedOut(
    DataCopyError,
    code=DATABASE,
    fix="raise consolidation:statementTimeout, or run again when the database is less busy",
): ...


class DatabaseBusy(DataCopyError, code=BUSY): ...


class TableLocked(
    DataCopyError,
    code=BUSY,
    fix="end or wait out that session's transaction, then run the same command again"
    " (or raise consolidation:lockTimeout)",
):
    """A DDL step was refused by lock_timeout (55P03) at every attempt: nothing of it changed."""


class PermissionDenied(
    DataCopyError,
    code=PRIVILEGE,
    fix="connect as the database owner or a superuser (data_copy creates tables and reads every legacy table)",
): ...


# ------------------------------------------------------- the environment (exit 7, 9, 10)


class SchemaDrift(
    DataCopyError,
    code=DRIFT,
    fix="restore the legacy column as it was, or update catalog/data/legacy_catalog.json and the mapping",
): ...


class StackNotFound(
    DataCopyError, code=SETUP, fix="list stacks with `pulumi stack ls`, or create it with `pulumi stack init NAME`"
): ...


class PulumiMissing(
    DataCopyError, code=SETUP, fix="put the pulumi CLI on PATH (`make toolchain` prints its directory), or use --dsn"
): ...


class PhaseNotDeployed(DataCopyError, code=SETUP, fix="run `pulumi up` for this stack first"): ...


class BadStackConfig(
    DataCopyError,
    fix="fix it with `pulumi config set` / `pulumi config rm`; `pulumi preview` names the same problems",
):
    """The stack's consolidation:* config does not parse (exit 2, like a bad setting)."""


class LegacyTableMissing(DataCopyError, code=SETUP, fix="check that --dsn points at the legacy database"): ...


class PgToolMissing(
    DataCopyError,
    fix="install Debian's PostgreSQL client for the server's version (apt-get install postgresql-client-N)",
):
    """pg_dump / pg_restore of the server's version (or newer) is not installed."""


class PhaseMismatch(DataCopyError, code=PHASE):
    """The stack's deployed phase and the phase recorded in the database disagree."""


# ------------------------------------------------------------ the data (exit 1, 11)


class ValidationFailed(
    DataCopyError,
    code=NOT_VALIDATED,
    fix="see the report above and `SELECT * FROM migration_log WHERE status = 'failed'`",
): ...


class ReferencesRemain(
    DataCopyError,
    code=NOT_VALIDATED,
    fix="replace each one listed above with its registry call (get_table_registry().get_table(...))",
): ...


class ForeignRows(
    DataCopyError,
    code=FOREIGN_ROWS,
    fix="in phase 1 only data_copy writes the new tables: stop whatever wrote them; if the application"
    " has switched, run `python -m data_copy switch` (its rows are then kept and counted)",
):
    """Phase 1: a new table holds rows data_copy did not write (they are kept)."""


# ------------------------------------------------ refusals: transitions and phase 3 (12, 3, 4)


class SwitchRefused(DataCopyError, code=TRANSITION_REFUSED): ...


class RollbackRefused(DataCopyError, code=TRANSITION_REFUSED): ...


class ResetRefused(DataCopyError, code=TRANSITION_REFUSED): ...


class ResetNeedsYes(DataCopyError, fix="run it again with --yes to drop what is listed above"):
    """`reset` without --yes: it listed what it would drop and dropped nothing (exit 2)."""


# ------------------------------------------------------------ our bookkeeping (exit 13)


class StateInconsistent(DataCopyError, code=STATE):
    """Our own tables (public.migration_*) refused a write, went missing, or disagree with
    each other or with the new tables: never the owners' data, never a reject."""


class CleanupRefused(DataCopyError, code=REFUSED):
    """A guard refused phase 3's drops: nothing was dropped."""


class CleanupTimedOut(
    CleanupRefused, fix="raise consolidation:statementTimeout (the guards and the backup read every legacy table)"
): ...


class LegacyTablesBusy(
    CleanupRefused,
    fix="the application (or another session) still uses the legacy tables: stop it or wait, "
    "then cleanup again (or raise consolidation:lockTimeout)",
): ...


class BackupUnreadable(
    DataCopyError,
    fix="check that consolidation:backupDir is writable with room for the dump, then cleanup again",
):
    """The backup could not be written, or pg_restore cannot read it (a guard turns it into a refusal)."""


class BadDisposable(
    DataCopyError,
    fix="name an existing table of a legacy schema that no mapping copies, as schema.table"
    " (`cleanup --dry-run` lists them under the schemas it would drop)",
):
    """--disposable / consolidation:disposableTables names something that is not an unmapped legacy table."""


class RestoreFailed(DataCopyError, code=RESTORE): ...


# ------------------------------------------------------------------- Ctrl-C (exit 130)


class Interrupted(
    DataCopyError, code=INTERRUPTED, fix="run the same command again: it continues from what was committed"
):
    def line(self) -> str:
        text = " ".join(str(self).split())
        return f"interrupted: {text} ({self.fix})"
