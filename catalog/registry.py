"""Logical table names the application asks the registry for (the guide's table_registry).

Each entry: logical name -> the consolidated table, and the legacy table(s) it replaces.
Phase 1 resolves a logical name to its (first) legacy table, phases 2 and 3 to the new
one; `legacy_<name>` always resolves to the legacy table(s), for the guide's rollback plan.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class RegistryEntry:
    logical: str
    table: str  # schema.table in the consolidated design
    legacy: tuple[str, ...] = ()  # schema.table sources, first = what phase 1 reads


REGISTRY: tuple[RegistryEntry, ...] = (
    # raw_data
    RegistryEntry("sbr_raw_html", "raw_data.sbr_raw_html", ("public.sbr_raw_html",)),
    RegistryEntry("sbr_parsed_games", "raw_data.sbr_parsed_games", ("public.sbr_parsed_games",)),
    RegistryEntry(
        "raw_betting_splits",
        "raw_data.raw_mlb_betting_splits",
        ("splits.raw_mlb_betting_splits",),
    ),
    RegistryEntry("mlb_api_responses", "raw_data.mlb_api_responses"),
    RegistryEntry("odds_api_responses", "raw_data.odds_api_responses"),
    RegistryEntry("vsin_raw_data", "raw_data.vsin_raw_data"),
    RegistryEntry("parsing_status_logs", "raw_data.parsing_status_logs"),
    # core_betting
    RegistryEntry("games", "core_betting.games", ("public.games", "splits.games")),
    RegistryEntry("game_outcomes", "core_betting.game_outcomes", ("public.game_outcomes",)),
    RegistryEntry("teams", "core_betting.teams", ("action.dim_teams",)),
    RegistryEntry("moneyline", "core_betting.betting_lines_moneyline", ("mlb_betting.moneyline",)),
    RegistryEntry("spreads", "core_betting.betting_lines_spreads", ("mlb_betting.spreads",)),
    RegistryEntry("totals", "core_betting.betting_lines_totals", ("mlb_betting.totals",)),
    RegistryEntry("betting_splits", "core_betting.betting_splits"),
    RegistryEntry("sharp_action_indicators", "core_betting.sharp_action_indicators"),
    RegistryEntry("line_movements", "core_betting.line_movements"),
    RegistryEntry("steam_moves", "core_betting.steam_moves"),
    # analytics
    RegistryEntry("strategy_signals", "analytics.strategy_signals"),
    RegistryEntry(
        "betting_recommendations",
        "analytics.betting_recommendations",
        ("clean.betting_recommendations",),
    ),
    RegistryEntry(
        "timing_analysis_results",
        "analytics.timing_analysis_results",
        ("timing_analysis.timing_bucket_performance",),
    ),
    RegistryEntry("cross_market_analysis", "analytics.cross_market_analysis"),
    RegistryEntry("confidence_scores", "analytics.confidence_scores"),
    RegistryEntry("roi_calculations", "analytics.roi_calculations"),
    RegistryEntry("performance_metrics", "analytics.performance_metrics"),
    # operational
    RegistryEntry(
        "strategy_performance",
        "operational.strategy_performance",
        ("backtesting.strategy_performance",),
    ),
    RegistryEntry(
        "pre_game_recommendations",
        "operational.pre_game_recommendations",
        ("tracking.pre_game_recommendations",),
    ),
    RegistryEntry(
        "orchestrator_update_triggers",
        "operational.orchestrator_update_triggers",
        ("backtesting.orchestrator_update_triggers",),
    ),
    RegistryEntry("system_health_checks", "operational.system_health_checks"),
    RegistryEntry("data_quality_metrics", "operational.data_quality_metrics"),
    RegistryEntry("pipeline_execution_logs", "operational.pipeline_execution_logs"),
    RegistryEntry("alert_configurations", "operational.alert_configurations"),
    RegistryEntry("recommendation_tracking", "operational.recommendation_tracking"),
)

LEGACY_PREFIX = "legacy_"


def _legacy_names(entry: RegistryEntry) -> dict[str, str]:
    """legacy_<logical> for the first source; legacy_<schema>_<table> for further ones."""
    names: dict[str, str] = {}
    for i, source in enumerate(entry.legacy):
        key = LEGACY_PREFIX + (entry.logical if i == 0 else source.replace(".", "_"))
        names[key] = source
    return names


def table_registry(phase: int) -> dict[str, str]:
    """Logical name -> schema.table the application must use in `phase` (1, 2 or 3)."""
    registry: dict[str, str] = {}
    for entry in REGISTRY:
        use_legacy = phase == 1 and entry.legacy
        registry[entry.logical] = entry.legacy[0] if use_legacy else entry.table
    for entry in REGISTRY:
        registry.update(_legacy_names(entry))
    return registry
