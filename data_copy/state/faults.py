"""A failure of our own tables, told apart from the owners' data.

PostgreSQL names the table (and constraint) that refused a row (psycopg's
`error.diag.schema_name`, `table_name`, `constraint_name`). Only the new table's own
constraints make a legacy row a reject; a refusal by one of our tables (public.migration_*)
is our bookkeeping failing, never the owners' bad data: it stops the command as a
StateInconsistent (exit 13), one line naming the table, and nothing lands in
migration_rejects.
"""

import re

import psycopg

from catalog.schemas import UNQUALIFIED_SCHEMA
from data_copy.errors import StateInconsistent, first_line
from data_copy.state import schema

FIX = (
    "data_copy's tables public.migration_* were changed by hand or only partly restored: put them back as they"
    " were; in phase 1 `python -m data_copy reset ... --yes` starts over (legacy untouched)"
)
_NAMED = re.compile(r'relation "(?:public\.)?(migration_[a-z_]+)" does not exist')


def _table(error: BaseException) -> tuple[str | None, str | None]:
    diag = getattr(error, "diag", None)
    return getattr(diag, "schema_name", None), getattr(diag, "table_name", None)


def our_table(error: BaseException) -> str | None:
    """`public.migration_x` when `error` is about one of our tables (it refused a row, or is
    gone), else None."""
    schema_name, table_name = _table(error)
    if table_name in schema.NAMES and schema_name in (None, UNQUALIFIED_SCHEMA):
        return f"{UNQUALIFIED_SCHEMA}.{table_name}"
    if isinstance(error, psycopg.errors.UndefinedTable):
        found = _NAMED.search(first_line(error))
        if found and found.group(1) in schema.NAMES:
            return f"{UNQUALIFIED_SCHEMA}.{found.group(1)}"
    return None


def state_error(error: BaseException) -> StateInconsistent | None:
    """The StateInconsistent for a failure of one of our tables, or None."""
    table = our_table(error)
    if table is None:
        return None
    if isinstance(error, psycopg.errors.UndefinedTable):
        return StateInconsistent(f"{table} went missing while data_copy was using it ({first_line(error)})", fix=FIX)
    return StateInconsistent(
        f"data_copy's own table {table} refused a write: {first_line(error)}"
        " (our bookkeeping, not the owners' data: nothing of that statement was written or rejected)",
        fix=FIX,
    )


def refused_by(error: BaseException, target: str) -> bool:
    """True when `error` (a row error of a write to the new table `target`) is the new
    table's own refusal (or names no table: a legacy value that does not convert), so the
    row is a reject. Raises StateInconsistent when one of our tables refused; False for any
    other table (the caller re-raises: not a reject either)."""
    state = state_error(error)
    if state is not None:
        raise state from error
    schema_name, table_name = _table(error)
    return table_name is None or f"{schema_name}.{table_name}" == target
