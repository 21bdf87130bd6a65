"""The legacy catalog (catalog/data/legacy_catalog.json), read-only, parsed for DDL.

The JSON is the user's export of their legacy database: column types, defaults, CHECKs
and index definitions are SQL text taken verbatim from it. Identifiers (schemas, tables,
columns, sequences, referenced tables) are parsed out of it so that the DDL can compose
them with psycopg.sql.Identifier.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

# The nine legacy schemas and the catalog entries come from catalog/, their one source.
from catalog.legacy import LEGACY_TABLES
from catalog.relation import Relation
from catalog.schemas import LEGACY_SCHEMAS  # noqa: F401 - re-exported

_NEXTVAL = re.compile(r"^nextval\('(?P<seq>[^']+)'::regclass\)$")
_STRING_LITERAL = re.compile(r"'(?:[^']|'')*'")
_COLUMN_LIST = re.compile(r"^(?P<kind>PRIMARY KEY|UNIQUE) \((?P<cols>[^)]*)\)$")
_FOREIGN_KEY = re.compile(
    r"^FOREIGN KEY \((?P<cols>[^)]*)\) REFERENCES (?P<ref>[\w.]+)\((?P<refcols>[^)]*)\)"
    r"(?P<tail>.*)$"
)
_INDEX = re.compile(r"^(?P<method>\w+) (?P<body>\(.*\))$", re.DOTALL)


def _names(text: str) -> tuple[str, ...]:
    return tuple(part.strip().strip('"') for part in text.split(","))


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    nullable: bool
    default: str | None
    generated: bool  # the "default" is a GENERATED ALWAYS AS (...) STORED expression

    @property
    def sequence(self) -> str | None:
        """The sequence a serial default draws from, as written (maybe unqualified)."""
        if self.default is None:
            return None
        match = _NEXTVAL.match(self.default.strip())
        return match.group("seq") if match else None


@dataclass(frozen=True)
class ForeignKey:
    columns: tuple[str, ...]
    ref_schema: str
    ref_table: str
    ref_columns: tuple[str, ...]
    tail: str  # " ON DELETE CASCADE" etc., verbatim


@dataclass(frozen=True)
class Index:
    method: str
    body: str  # "(col, expr DESC)" verbatim
    columns: tuple[str, ...] | None  # plain column list when the body is just that


@dataclass(frozen=True)
class TableSpec(Relation[Column]):
    schema: str
    name: str
    kind: str  # "table" or "view"
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    unique: tuple[tuple[str, ...], ...]
    foreign_keys: tuple[ForeignKey, ...]
    checks: tuple[str, ...]
    indexes: tuple[Index, ...]
    mapped_to: str | None

    qualname = Relation.qualified

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def secondary_indexes(self) -> tuple[Index, ...]:
        """The catalog's indexes minus the ones that back the UNIQUE constraints.

        The export lists the index behind each UNIQUE constraint as a plain "btree (...)"
        entry (and omits the primary key's); a second identical entry is an explicit,
        redundant index the legacy DDL also created.
        """
        pending = [tuple(u) for u in self.unique]
        result: list[Index] = []
        for index in self.indexes:
            if index.columns is not None and index.columns in pending:
                pending.remove(index.columns)
                continue
            result.append(index)
        return tuple(result)


def _is_generated(default: str | None, column_names: set[str]) -> bool:
    if default is None:
        return False
    bare = _STRING_LITERAL.sub("''", default)
    words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", bare))
    return bool(words & column_names)


def _parse_column_list(fragment: str) -> tuple[str, tuple[str, ...]]:
    match = _COLUMN_LIST.match(fragment.strip())
    if not match:
        raise ValueError(f"unexpected key definition in the legacy catalog: {fragment!r}")
    return match.group("kind"), _names(match.group("cols"))


def _parse_foreign_key(fragment: str, schema: str, known: set[tuple[str, str]]) -> ForeignKey:
    match = _FOREIGN_KEY.match(fragment.strip())
    if not match:
        raise ValueError(f"unexpected foreign key in the legacy catalog: {fragment!r}")
    ref = match.group("ref")
    if "." in ref:
        ref_schema, ref_table = ref.split(".", 1)
    elif (schema, ref) in known:
        ref_schema, ref_table = schema, ref
    else:  # an unqualified name resolves through search_path: the application's is public
        ref_schema, ref_table = "public", ref
    return ForeignKey(
        columns=_names(match.group("cols")),
        ref_schema=ref_schema,
        ref_table=ref_table,
        ref_columns=_names(match.group("refcols")),
        tail=match.group("tail"),
    )


def _parse_index(fragment: str) -> Index:
    match = _INDEX.match(fragment.strip())
    if not match:
        raise ValueError(f"unexpected index definition in the legacy catalog: {fragment!r}")
    body = match.group("body")
    inner = body[1:-1]
    plain = all(re.fullmatch(r"[a-z_][a-z0-9_]*", p.strip()) for p in inner.split(","))
    return Index(match.group("method"), body, _names(inner) if plain else None)


@cache
def load_specs() -> tuple[TableSpec, ...]:
    """Every legacy table and view, in the catalog's order."""
    entries = [t.raw for t in LEGACY_TABLES]
    known = {(e["schema"], e["table"]) for e in entries}
    specs: list[TableSpec] = []
    for e in entries:
        names = {c["name"] for c in e["columns"]}
        columns = tuple(
            Column(
                name=c["name"],
                type=c["type"],
                nullable=bool(c["nullable"]),
                default=c["default"],
                generated=_is_generated(c["default"], names - {c["name"]}),
            )
            for c in e["columns"]
        )
        pk: tuple[str, ...] = ()
        for fragment in e.get("primary_key") or []:
            _, pk = _parse_column_list(fragment)
        unique = tuple(_parse_column_list(f)[1] for f in e.get("unique") or [])
        specs.append(
            TableSpec(
                schema=e["schema"],
                name=e["table"],
                kind=e["kind"],
                columns=columns,
                primary_key=pk,
                unique=unique,
                foreign_keys=tuple(_parse_foreign_key(f, e["schema"], known) for f in e.get("foreign_keys") or []),
                checks=tuple(e.get("checks") or []),
                indexes=tuple(_parse_index(f) for f in e.get("indexes") or []),
                mapped_to=e.get("mapped_to"),
            )
        )
    return tuple(specs)


def tables() -> tuple[TableSpec, ...]:
    return tuple(s for s in load_specs() if s.kind == "table")


def views() -> tuple[TableSpec, ...]:
    return tuple(s for s in load_specs() if s.kind == "view")


def spec(qualname: str) -> TableSpec:
    for s in load_specs():
        if s.qualname == qualname:
            return s
    raise KeyError(f"the legacy catalog has no {qualname}")


def mapped_tables() -> tuple[TableSpec, ...]:
    return tuple(s for s in tables() if s.mapped_to)


def unmapped_tables() -> tuple[TableSpec, ...]:
    return tuple(s for s in tables() if not s.mapped_to)
