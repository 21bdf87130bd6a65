"""catalog/ is the one source: what is written once there, and derived everywhere else."""

import json
from importlib import resources

from catalog.legacy import LEGACY_TABLES
from catalog.mappings import MAPPED_SOURCES, MAPPING_OF_SOURCE, MAPPINGS
from catalog.registry import REGISTRY, legacy_names
from components.stack import legacy_drop


def test_the_legacy_catalogs_mapped_to_is_mappings() -> None:
    """The user's exported catalog says which legacy table goes where; MAPPINGS says it
    again column by column: both must name the same tables (read from the JSON itself)."""
    exported = json.loads(resources.files("catalog").joinpath("data/legacy_catalog.json").read_text())["tables"]
    from_json = {f"{e['schema']}.{e['table']}": e["mapped_to"] for e in exported if e["mapped_to"]}
    from_mappings = {source: m.target for m in MAPPINGS for source in m.sources}
    assert from_json == from_mappings
    assert len(from_json) == 15  # 14 mappings, the games merge reads two tables
    assert {t.qualified: t.mapped_to for t in LEGACY_TABLES if t.mapped_to} == from_json


def test_registry_legacy_sources_are_the_mappings() -> None:
    by_logical = {e.logical: e for e in REGISTRY}
    for m in MAPPINGS:
        entry = by_logical[m.name]
        assert (entry.table, entry.legacy) == (m.target, m.sources)
    unmapped = [e for e in REGISTRY if e.table not in {m.target for m in MAPPINGS}]
    assert unmapped and all(e.legacy == () for e in unmapped)  # the guide's *New* tables
    assert sorted(legacy_names().values()) == sorted(MAPPED_SOURCES)


def test_what_phase_3_drops_is_every_mapped_source() -> None:
    assert legacy_drop(3)["tables"] == sorted(MAPPED_SOURCES)
    assert legacy_drop(1) == legacy_drop(2) == {"tables": [], "schemas": []}
    assert len(MAPPED_SOURCES) == len(set(MAPPED_SOURCES)) == 15
    assert all(source in MAPPING_OF_SOURCE[source].sources for source in MAPPED_SOURCES)
