"""Table names as PostgreSQL reads them: parts, case, quotes, search path and database.

- An unquoted identifier folds to lower case; a quoted one ("Splits") keeps its case, so
  `SPLITS.GAMES` and `Splits.Games` name splits.games, and `"Splits"."Games"` another table.
- One part resolves through the search path (targets.resolve); two are schema.table;
  three are database.schema.table.
- The database part is checked against the database `refs` was given (--database, or
  the one --dsn / --stack connects to). PostgreSQL refuses a name qualified by another
  database ("cross-database references are not implemented"), so such a name is not a
  reference to this database's table: `resolve` says which database it names, and the
  callers list it as `unparsed` (SQL for another engine or database, to check by hand).
  When no database is known, every database part is taken to be ours.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from data_copy.refs import targets

_IDENT = r'(?:[A-Za-z_\u0080-\uffff][A-Za-z0-9_$\u0080-\uffff]*|"(?:[^"]|"")+")'
_NAME = re.compile(rf"\s*({_IDENT})(?:\.({_IDENT}))?(?:\.({_IDENT}))?\s*")


@dataclass(frozen=True)
class Name:
    """A table name as written, its parts folded as PostgreSQL folds them."""

    catalog: str | None
    schema: str | None
    table: str
    written: str

    @property
    def parts(self) -> int:
        return 1 + (self.schema is not None) + (self.catalog is not None)


@dataclass(frozen=True)
class Resolved:
    qualified: str  # a mapped legacy table, "schema.table"
    other_database: str | None = None  # set when the name's database part is not ours


def fold(part: str) -> str:
    """One identifier as PostgreSQL reads it."""
    if len(part) >= 2 and part[0] == part[-1] == '"':
        return part[1:-1].replace('""', '"')
    return part.lower()


def parse(text: str) -> Name | None:
    """`table`, `schema.table` or `db.schema.table` (parts quoted or not) and nothing else,
    surrounding blanks aside; None for any other text."""
    found = _NAME.fullmatch(text)
    if found is None:
        return None
    parts = [fold(p) for p in found.groups() if p is not None]
    catalog, schema = (parts[0], parts[1]) if len(parts) == 3 else (None, parts[0] if len(parts) == 2 else None)
    return Name(catalog, schema, parts[-1], text.strip())


def resolve(
    catalog: str | None, schema: str | None, table: str, search_path: Sequence[str], database: str | None
) -> Resolved | None:
    """The mapped legacy table a name means (see the module doc), or None."""
    qualified = targets.resolve(schema, table, search_path)
    if qualified not in targets.replacements():
        return None
    if catalog is not None and database is not None and catalog != database:
        return Resolved(qualified, catalog)
    return Resolved(qualified)


def resolve_name(name: Name, search_path: Sequence[str], database: str | None) -> Resolved | None:
    return resolve(name.catalog, name.schema, name.table, search_path, database)


def other_database_reason(written: str, catalog: str, database: str | None) -> str:
    return (
        f"{written} is qualified by database {catalog!r}, not {database!r}: PostgreSQL refuses"
        " cross-database references, so this is SQL for another database or engine"
    )
