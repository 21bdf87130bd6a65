"""The four consolidated schemas and the nine legacy ones they replace (the user's guide)."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Schema:
    name: str
    purpose: str


SCHEMAS: tuple[Schema, ...] = (
    Schema("raw_data", "All external data ingestion and raw storage"),
    Schema("core_betting", "Clean, processed betting data and core business entities"),
    Schema("analytics", "Derived analytics, signals, and strategy outputs"),
    Schema("operational", "System operations, monitoring, and validation"),
)
SCHEMA_NAMES: tuple[str, ...] = tuple(s.name for s in SCHEMAS)

# Legacy schemas in the guide's order. `public` is never dropped (phase 3 drops only the
# migrated tables in it); the others are dropped once phase 3 has left them empty.
LEGACY_SCHEMAS: tuple[str, ...] = (
    "public",
    "splits",
    "mlb_betting",
    "backtesting",
    "tracking",
    "timing_analysis",
    "clean",
    "action",
    "validation",
)
NEVER_DROPPED_SCHEMAS: frozenset[str] = frozenset({"public"})

# Where the guide's unqualified objects live: migration_log and the two permission
# functions are called without a schema in the guide, so they go on the default search_path.
UNQUALIFIED_SCHEMA = "public"
MIGRATION_LOG_TABLE = "migration_log"
# The database's own phase history: written by data_copy, read by the stack's preview.
PHASE_EVENTS_TABLE = "migration_phase_events"

# The newest finished validation per mapping, read by `data_copy status` and by the stack's
# `validation` output: written once here ({log} is the migration_log table's identifier).
LATEST_VALIDATIONS_SQL = (
    "SELECT DISTINCT ON (mapping) mapping, status, source_count, target_count,"
    " source_checksum, target_checksum, completed_at, error_message FROM {log}"
    " WHERE step = 'validate' AND completed_at IS NOT NULL AND mapping IS NOT NULL"
    " ORDER BY mapping, completed_at DESC, id DESC"
)
