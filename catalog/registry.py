"""Logical table names the application asks the registry for (the guide's table_registry).

Each entry: logical name -> the consolidated table, and the legacy table(s) it replaces.
Phase 1 resolves a logical name to its (first) legacy table, phases 2 and 3 to the new
one (in phase 2 a table the stack sends back, consolidation:legacyTables, to legacy again);
`legacy_<name>` always resolves to the legacy table(s), for the guide's rollback plan.
"""

from dataclasses import dataclass

from catalog.mappings import MAPPINGS_BY_TARGET


@dataclass(frozen=True)
class RegistryEntry:
    logical: str
    table: str  # schema.table in the consolidated design
    legacy: tuple[str, ...] = ()  # schema.table sources, first = what phase 1 reads


# (logical name, consolidated table): the guide's tables, by schema. The legacy sources
# of a mapped one are its mapping's (catalog/mappings.py), never written here again.
_TABLES: tuple[tuple[str, str], ...] = (
    # raw_data
    ("sbr_raw_html", "raw_data.sbr_raw_html"),
    ("sbr_parsed_games", "raw_data.sbr_parsed_games"),
    ("raw_betting_splits", "raw_data.raw_mlb_betting_splits"),
    ("mlb_api_responses", "raw_data.mlb_api_responses"),
    ("odds_api_responses", "raw_data.odds_api_responses"),
    ("vsin_raw_data", "raw_data.vsin_raw_data"),
    ("parsing_status_logs", "raw_data.parsing_status_logs"),
    # core_betting
    ("games", "core_betting.games"),
    ("game_outcomes", "core_betting.game_outcomes"),
    ("teams", "core_betting.teams"),
    ("moneyline", "core_betting.betting_lines_moneyline"),
    ("spreads", "core_betting.betting_lines_spreads"),
    ("totals", "core_betting.betting_lines_totals"),
    ("betting_splits", "core_betting.betting_splits"),
    ("sharp_action_indicators", "core_betting.sharp_action_indicators"),
    ("line_movements", "core_betting.line_movements"),
    ("steam_moves", "core_betting.steam_moves"),
    # analytics
    ("strategy_signals", "analytics.strategy_signals"),
    ("betting_recommendations", "analytics.betting_recommendations"),
    ("timing_analysis_results", "analytics.timing_analysis_results"),
    ("cross_market_analysis", "analytics.cross_market_analysis"),
    ("confidence_scores", "analytics.confidence_scores"),
    ("roi_calculations", "analytics.roi_calculations"),
    ("performance_metrics", "analytics.performance_metrics"),
    # operational
    ("strategy_performance", "operational.strategy_performance"),
    ("pre_game_recommendations", "operational.pre_game_recommendations"),
    ("orchestrator_update_triggers", "operational.orchestrator_update_triggers"),
    ("system_health_checks", "operational.system_health_checks"),
    ("data_quality_metrics", "operational.data_quality_metrics"),
    ("pipeline_execution_logs", "operational.pipeline_execution_logs"),
    ("alert_configurations", "operational.alert_configurations"),
    ("recommendation_tracking", "operational.recommendation_tracking"),
)


def _entry(logical: str, table: str) -> RegistryEntry:
    mapping = MAPPINGS_BY_TARGET.get(table)
    if mapping is None:
        return RegistryEntry(logical, table)
    if mapping.name != logical:  # pragma: no cover - a catalog mistake, caught at import
        raise ValueError(f"{table}: registry name {logical!r} but mapping name {mapping.name!r}")
    return RegistryEntry(logical, table, mapping.sources)


REGISTRY: tuple[RegistryEntry, ...] = tuple(_entry(logical, table) for logical, table in _TABLES)

LEGACY_PREFIX = "legacy_"


def _legacy_names(entry: RegistryEntry) -> dict[str, str]:
    """legacy_<logical> for the first source; legacy_<schema>_<table> for further ones."""
    names: dict[str, str] = {}
    for i, source in enumerate(entry.legacy):
        key = LEGACY_PREFIX + (entry.logical if i == 0 else source.replace(".", "_"))
        names[key] = source
    return names


def legacy_names() -> dict[str, str]:
    """Every `legacy_*` name -> the legacy table it always resolves to, in registry order."""
    names: dict[str, str] = {}
    for entry in REGISTRY:
        names.update(_legacy_names(entry))
    return names


def table_registry(phase: int, back_to_legacy: tuple[str, ...] = ()) -> dict[str, str]:
    """Logical name -> schema.table the application must use in `phase` (1, 2 or 3); in
    phase 2 the names of `back_to_legacy` resolve to their legacy table again (one table's
    rollback, while phase 2 syncs it both ways)."""
    registry: dict[str, str] = {}
    for entry in REGISTRY:
        use_legacy = (phase == 1 or (phase == 2 and entry.logical in back_to_legacy)) and entry.legacy
        registry[entry.logical] = entry.legacy[0] if use_legacy else entry.table
    registry.update(legacy_names())
    return registry
