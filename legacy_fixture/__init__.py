"""A realistic LEGACY database (the 9 schemas before consolidation), generated in PostgreSQL.

    build(conn, scale="tiny", seed=42, awkward=True, replace=False) -> {"schema.table": rows}
    build_with_rows(conn, rows_sql): the empty legacy schemas (keys included) + the given rows
    add_activity(conn, fraction=0.01, seed=7) -> {"schema.table.inserted": n, ...updated}
    inject_bad_rows(conn) -> {"schema.table": [{"key": ..., "problem": ...}, ...]}
    awkward_counts(conn) -> {"case": count}: the awkward-but-migratable cases present
    SCALES: tiny, small, demo, medium, large

The schema comes from catalog/data/legacy_catalog.json; the data from INSERT ... SELECT
over generate_series, deterministic for a seed.
"""

from legacy_fixture.activity import add_activity
from legacy_fixture.awkward import awkward_counts
from legacy_fixture.bad_rows import inject_bad_rows
from legacy_fixture.build import LegacyFixtureError, build, build_with_rows, row_counts
from legacy_fixture.scales import SCALES, Scale
from legacy_fixture.spec import LEGACY_SCHEMAS

__all__ = [
    "LEGACY_SCHEMAS",
    "SCALES",
    "LegacyFixtureError",
    "Scale",
    "add_activity",
    "awkward_counts",
    "build",
    "build_with_rows",
    "inject_bad_rows",
    "row_counts",
]
