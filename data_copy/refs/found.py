"""What the readers of SQL text find: table references, SQL built at run time, SQL that
PostgreSQL cannot read. Shared by sqlscan (SQL), plpgsql's caller and pyscan (Python),
so that none of them imports another for its results.

Kinds, as `refs` reports them:
- `sql`: a legacy table in SQL text that PostgreSQL reads (a table position, a regclass
  literal, a routine's signature);
- `name`: a legacy table name in a string that is not SQL (a constant, a default, a tuple
  entry), or a string an f-string / `.format` / `%` puts in a table position;
- `dynamic`: SQL built at run time whose tables cannot be known from the text;
- `unparsed`: SQL PostgreSQL cannot run as written (another dialect, a name qualified by
  another database, a statement that does not parse), with the legacy tables it names.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from data_copy.refs import targets

KINDS: tuple[str, ...] = ("sql", "name", "dynamic", "unparsed")


@dataclass(frozen=True)
class Literal:
    """A Python string literal: its value and where it is written."""

    value: str
    line: int
    col: int


@dataclass(frozen=True)
class Placeholder:
    """Text standing for a run-time value (`{expr}` of an f-string, `%s` of `%`, ...).

    `table` is set when the value is known to be a registry table (a registry call);
    `candidates` when it is known to be one of these string literals (a constant, a
    property returning one, a literal argument)."""

    index: int
    source: str  # the Python expression, for the report
    table: str | None = None
    candidates: tuple[Literal, ...] = ()

    @property
    def token(self) -> str:
        return f"__refs_dyn{self.index}__"


PLACEHOLDER_PREFIX = "__refs_dyn"


@dataclass(frozen=True)
class TableRef:
    offset: int  # in the scanned text
    qualified: str  # "schema.table" as resolved
    written: str  # as written, e.g. '"Splits".games'
    how: str = "sql"  # sql | regclass | command | signature | rowtype | interpolated
    kind: str = "sql"  # sql | name
    literal: Literal | None = None  # a `name` found through a placeholder: the literal it came from
    other_database: str | None = None  # the catalog part, when it names another database


@dataclass(frozen=True)
class Dynamic:
    offset: int
    reason: str


@dataclass(frozen=True)
class Unparsed:
    offset: int
    reason: str
    mentions: tuple[TableRef, ...]


@dataclass
class ScanResult:
    refs: list[TableRef] = field(default_factory=list)
    dynamic: list[Dynamic] = field(default_factory=list)
    unparsed: list[Unparsed] = field(default_factory=list)
    statements: int = 0
    search_path: tuple[str, ...] = targets.DEFAULT_SEARCH_PATH

    def merge(self, other: ScanResult) -> None:
        self.refs.extend(other.refs)
        self.dynamic.extend(other.dynamic)
        self.unparsed.extend(other.unparsed)
        self.statements += other.statements
