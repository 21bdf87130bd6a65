"""The legacy database as the user's catalog describes it (catalog/data/legacy_catalog.json).

Read once at import from the packaged JSON, exactly as exported; nothing else reads it.
"""

import json
from dataclasses import dataclass
from importlib import resources

from catalog.relation import Relation


@dataclass(frozen=True)
class LegacyColumn:
    name: str
    type: str
    nullable: bool
    default: str | None


@dataclass(frozen=True)
class LegacyTable(Relation[LegacyColumn]):
    schema: str
    name: str
    kind: str  # "table" or "view"
    columns: tuple[LegacyColumn, ...]
    primary_key: tuple[str, ...]
    mapped_to: str | None
    raw: dict  # the catalog entry as exported (checks, indexes, foreign keys as SQL text)


def _primary_key(entry: dict) -> tuple[str, ...]:
    for text in entry["primary_key"]:
        inner = text[text.index("(") + 1 : text.rindex(")")]
        return tuple(c.strip() for c in inner.split(","))
    return ()


def _load() -> tuple[LegacyTable, ...]:
    text = resources.files("catalog").joinpath("data/legacy_catalog.json").read_text()
    return tuple(
        LegacyTable(
            schema=e["schema"],
            name=e["table"],
            kind=e["kind"],
            columns=tuple(LegacyColumn(c["name"], c["type"], c["nullable"], c["default"]) for c in e["columns"]),
            primary_key=_primary_key(e),
            mapped_to=e["mapped_to"],
            raw=e,
        )
        for e in json.loads(text)["tables"]
    )


LEGACY_TABLES: tuple[LegacyTable, ...] = _load()
LEGACY_BY_NAME: dict[str, LegacyTable] = {t.qualified: t for t in LEGACY_TABLES}


def legacy_table(qualified: str) -> LegacyTable:
    return LEGACY_BY_NAME[qualified]
