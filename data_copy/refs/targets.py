"""What `refs` looks for, derived from catalog/ (the single source): every mapped legacy
table, the registry name the application should ask for instead and the new table.

Also the tables catalog/ knows per schema, so that an unqualified name resolves through a
search path the way PostgreSQL would resolve it against the legacy database.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from catalog.legacy import LEGACY_TABLES
from catalog.registry import REGISTRY, legacy_names
from catalog.schemas import UNQUALIFIED_SCHEMA
from catalog.tables import TABLES

DEFAULT_SEARCH_PATH: tuple[str, ...] = (UNQUALIFIED_SCHEMA,)


@dataclass(frozen=True)
class Replacement:
    legacy: str  # "schema.table", a mapped legacy table
    logical: str  # the registry's logical name
    new_table: str  # "schema.table" in the consolidated design

    @property
    def registry_call(self) -> str:
        return f"get_table_registry().get_table('{self.logical}')"


@cache
def replacements() -> dict[str, Replacement]:
    """Mapped legacy table ("schema.table") -> its replacement, in registry order."""
    found: dict[str, Replacement] = {}
    for entry in REGISTRY:
        for source in entry.legacy:
            found.setdefault(source, Replacement(source, entry.logical, entry.table))
    return found


@cache
def legacy_registry_names() -> dict[str, str]:
    """`legacy_<name>` registry names -> the legacy table they always resolve to."""
    return legacy_names()


@cache
def _known() -> dict[str, frozenset[str]]:
    """Schema -> the relations catalog/ knows in it (legacy tables and views, new tables)."""
    by_schema: dict[str, set[str]] = {}
    for t in LEGACY_TABLES:
        by_schema.setdefault(t.schema, set()).add(t.name)
    for n in TABLES:
        by_schema.setdefault(n.schema, set()).add(n.name)
    return {s: frozenset(names) for s, names in by_schema.items()}


def resolve(schema: str | None, name: str, search_path: Sequence[str]) -> str | None:
    """The "schema.table" a reference means: its own schema when qualified, else the first
    schema of `search_path` in which catalog/ knows a relation of that name (None if none)."""
    if schema:
        return f"{schema}.{name}"
    known = _known()
    for candidate in search_path:
        if name in known.get(candidate, ()):
            return f"{candidate}.{name}"
    return None


def parse_search_path(text: str) -> tuple[str, ...]:
    """ "splits, public" -> ("splits", "public"); quotes keep case, `$user` is skipped."""
    schemas: list[str] = []
    for raw in text.split(","):
        item = raw.strip()
        if not item or item.strip('"') == "$user":
            continue
        if len(item) >= 2 and item[0] == item[-1] == '"':
            schemas.append(item[1:-1].replace('""', '"'))
        elif len(item) >= 2 and item[0] == item[-1] == "'":
            schemas.append(item[1:-1])
        else:
            schemas.append(item.lower())
    return tuple(schemas)
