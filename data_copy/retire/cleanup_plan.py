"""What phase 3's cleanup would drop now, read from the live catalog (changes nothing).

    plan_cleanup(conn, settings) -> CleanupPlan

`cleanup --dry-run` prints its lines; cleanup itself plans again under its locks.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

import psycopg

from catalog.mappings import MAPPED_SOURCES, MAPPING_OF_SOURCE
from catalog.schemas import LEGACY_SCHEMAS, NEVER_DROPPED_SCHEMAS
from data_copy.retire import live_catalog
from data_copy.settings import Settings


@dataclass(frozen=True)
class CleanupPlan:
    tables: tuple[str, ...] = ()  # migrated legacy tables ("schema.table") that exist
    views: tuple[str, ...] = ()  # views in the schemas that stay (public) that depend on them
    schemas: tuple[str, ...] = ()  # legacy schemas dropped with everything left in them
    schema_tables: tuple[str, ...] = ()  # unmapped tables going with their schema
    schema_objects: tuple[str, ...] = ()  # other objects going with their schema ("view splits.v")
    holding: tuple[str, ...] = ()  # schema_tables that hold rows
    disposable: tuple[str, ...] = ()  # those of them listed in settings.disposable_tables
    kept: tuple[str, ...] = ()  # unmapped tables of `public`, which stay
    kept_schema_names: tuple[str, ...] = ()  # "public.name" the backup restores: relations, indexes, sequences
    mapping_of: dict[str, str] = field(default_factory=dict)  # legacy table -> mapping name

    @property
    def dropped_tables(self) -> tuple[str, ...]:
        """Every table whose rows go (and are in the backup)."""
        return self.tables + self.schema_tables

    @property
    def dropped_relations(self) -> list[str]:
        """The tables and views dropped one by one (the schemas go whole)."""
        return [*self.tables, *self.views]

    @property
    def empty(self) -> bool:
        return not (self.tables or self.views or self.schemas)

    def inside(self, schema: str) -> list[str]:
        """What goes with `schema`: its unmapped tables, then its other objects."""
        tables = [t for t in self.schema_tables if t.startswith(schema + ".")]
        return tables + [o for o in self.schema_objects if re.search(rf"\b{re.escape(schema)}\.", o)]

    def lines(self) -> list[str]:
        """What will happen, one line per object (for `--dry-run` and `pulumi preview`)."""
        if self.empty:
            return ["nothing to drop: no migrated legacy table and no legacy schema left"]
        out = []
        for t in self.tables:
            target = MAPPING_OF_SOURCE[t].target if t in MAPPING_OF_SOURCE else "?"
            out.append(f"drop table {t} (migrated to {target})")
        out += [f"drop view {v} (depends on dropped tables)" for v in self.views]
        for s in self.schemas:
            inside = [t for t in self.schema_tables if t.startswith(s + ".")]
            others = [o for o in self.schema_objects if re.search(rf"\b{re.escape(s)}\.", o)]
            what = [f"{t} ({self._state(t)})" for t in inside] + others
            out.append(f"drop schema {s}" + (f" with {', '.join(what)}" if what else " (empty)"))
        stays = ", ".join(self.kept) if self.kept else "no unmapped tables"
        out.append(f"keep schema {', '.join(sorted(NEVER_DROPPED_SCHEMAS))} ({stays}; migration_log)")
        return out

    def _state(self, table: str) -> str:
        if table in self.disposable:
            return "holds rows, disposable"
        return "holds rows: cleanup refuses" if table in self.holding else "empty"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def plan_cleanup(conn: psycopg.Connection, settings: Settings) -> CleanupPlan:
    """What cleanup would drop now (guards not applied: see guards.check). Changes nothing."""
    present = set(live_catalog.existing_tables(conn, LEGACY_SCHEMAS))
    tables = tuple(t for t in MAPPED_SOURCES if t in present)
    schemas = tuple(live_catalog.existing_schemas(conn, live_catalog.droppable_schemas()))
    schema_tables = tuple(live_catalog.unmapped_tables(conn, schemas))
    holding = tuple(t for t in schema_tables if live_catalog.limited_count(conn, t, 1))
    views = tuple(live_catalog.views_depending(conn, tables, schemas))
    in_kept = [r for r in (*tables, *views) if r.partition(".")[0] not in schemas]
    return CleanupPlan(
        tables=tables,
        views=views,
        schemas=schemas,
        schema_tables=schema_tables,
        schema_objects=tuple(live_catalog.schema_objects(conn, list(schemas))) if schemas else (),
        holding=holding,
        disposable=tuple(t for t in holding if t in settings.disposable_tables),
        kept=tuple(live_catalog.unmapped_tables(conn, live_catalog.kept_legacy_schemas())),
        kept_schema_names=tuple(live_catalog.kept_schema_names(conn, in_kept)),
        mapping_of={s: MAPPING_OF_SOURCE[s].name for s in tables},
    )
