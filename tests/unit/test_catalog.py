"""catalog/ is the one source: what is written once there, and derived everywhere else."""

import json
from importlib import resources

from catalog.legacy import LEGACY_TABLES
from catalog.mappings import MAPPED_SOURCES, MAPPING_OF_SOURCE, MAPPINGS
from catalog.registry import REGISTRY, legacy_names
from catalog.tables import TABLES
from components.stack import legacy_drop
from data_copy.mapping_sql.projection import parts


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


def test_the_consolidated_catalogs_mapped_from_is_mappings() -> None:
    exported = json.loads(resources.files("catalog").joinpath("data/consolidated_catalog.json").read_text())["tables"]
    from_json = {f"{e['schema']}.{e['table']}": tuple(e["mapped_from"]) for e in exported if e.get("mapped_from")}
    assert from_json == {m.target: m.sources for m in MAPPINGS}


def test_the_tables_are_the_design_with_only_the_noted_changes() -> None:
    """catalog/tables.py reads the user's design; every column the design has is kept with
    its type (but the sportsbook ids the guide has no table for), and a table that adds
    columns or relaxes a NOT NULL says why in its notes."""
    exported = json.loads(resources.files("catalog").joinpath("data/consolidated_catalog.json").read_text())["tables"]
    design = {f"{e['schema']}.{e['table']}": e for e in exported}
    for t in TABLES:
        columns = {c["name"]: c for c in design[t.qualified]["columns"] if c["name"] != "sportsbook_id"}
        assert [c.name for c in t.columns][: len(columns)] == list(columns), t.qualified
        changed = [c.name for c in t.columns if c.name not in columns]
        changed += [c.name for c in t.columns if c.name in columns and c.nullable and not columns[c.name]["nullable"]]
        changed = [n for n in changed if not t.column(n).identity]
        assert all(c.type == columns[c.name]["type"] for c in t.columns if c.name in columns), t.qualified
        if changed:
            assert t.notes, (t.qualified, changed)
    # the guide's tables only: core_betting.sportsbooks and the extra operational ones are not built
    assert len(TABLES) == 32 and "core_betting.sportsbooks" not in {t.qualified for t in TABLES}


def test_every_parts_target_key_is_unique_in_its_table() -> None:
    # ownership.unowned finds a recorded key's row by a scalar subquery on it
    for m in MAPPINGS:
        for part in parts(m):
            assert (part.target_key,) in (part.target.primary_key, *part.target.unique), part.name


def test_the_parts_read_with_a_join_are_the_game_lookups_and_the_merge() -> None:
    """planner.keyed allows nested loops only over parts read without a join (a nested loop
    rescanned a game lookup per row)."""
    joined = {p.name for m in MAPPINGS for p in parts(m) if p.joined}
    assert joined == {"games/public", "game_outcomes", "betting_recommendations"}, joined
