"""A few rows in every unmapped legacy table: data a whole-schema drop would destroy.

Each column gets a value from a generic rule for its type, unless the table's entry in
OVERRIDES gives an SQL expression over the row number `n` (0-based) that fits its CHECKs,
keys and meaning. The expressions are fixed text in this module; identifiers are
composed with psycopg.sql.Identifier.
"""

from __future__ import annotations

import re

import psycopg
from psycopg import sql

from legacy_fixture import spec as catalog
from legacy_fixture.spec import Column, TableSpec

_TS = "(timestamptz '2025-04-01 12:00:00+00' + n * interval '6 hours')"
_STRATEGY = (
    "pg_temp.fx_pick(ARRAY['sharp_action', 'opposing_markets', 'book_conflicts',"
    " 'public_money_fade', 'late_sharp_flip', 'consensus_moneyline'], pg_temp.fx_rand(n, 901))"
)
_BOOK_TYPE = "pg_temp.fx_pick(ARRAY['VSIN-circa', 'VSIN-draftkings', 'SBD'], pg_temp.fx_rand(n, 902))"
_SPLIT = "pg_temp.fx_pick(ARRAY['moneyline', 'spread', 'total'], pg_temp.fx_rand(n, 903))"
_BUCKET = "pg_temp.fx_pick(ARRAY['0-2h', '2-6h', '6-24h', '24h+'], pg_temp.fx_rand(n, 904))"
_TEAM = (
    "pg_temp.fx_pick(ARRAY['NYY', 'BOS', 'LAD', 'SF', 'CHC', 'STL', 'HOU', 'ATL', 'SEA',"
    " 'TB'], pg_temp.fx_rand(n, {salt}))"
)
_RATE4 = "round((0.42 + 0.16 * pg_temp.fx_rand(n, 905))::numeric, 4)"
_PCT2 = "round((42 + 16 * pg_temp.fx_rand(n, 906))::numeric, 2)"
_ROI2 = "round((pg_temp.fx_rand(n, 907) * 30 - 5)::numeric, 2)"

OVERRIDES: dict[str, dict[str, str]] = {
    "backtesting.alert_history": {
        "id": "'alert_' || lpad(n::text, 6, '0')",
        "alert_type": "pg_temp.fx_pick(ARRAY['PERFORMANCE_DECLINE', 'THRESHOLD_BREACH',"
        " 'DATA_FRESHNESS', 'STRATEGY_DISABLED'], pg_temp.fx_rand(n, 1))",
        "severity": "pg_temp.fx_pick(ARRAY['LOW', 'MEDIUM', 'HIGH', 'CRITICAL'], pg_temp.fx_rand(n, 2))",
        "title": "'Strategy alert #' || n",
        "message": "'ROI dropped below the configured floor over the last 7 days'",
        "strategy_name": _STRATEGY,
        "source_book_type": _BOOK_TYPE,
        "data": "json_build_object('roi_7d', " + _ROI2 + ", 'win_rate_7d', " + _RATE4 + ")",
        "escalation_level": "floor(pg_temp.fx_rand(n, 3) * 3)::int",
        "action_description": "'Review the strategy threshold'",
        "action_taken": "CASE WHEN n % 2 = 0 THEN 'threshold raised' END",
    },
    "backtesting.configuration_performance": {
        "configuration_version": "'v2025.' || lpad(n::text, 4, '0')",
        "signals_generated": "50 + n * 3",
        "recommendations_made": "20 + n",
        "bets_placed": "10 + n",
        "bets_won": "5 + n / 2",
        "total_profit_loss": _ROI2,
        "avg_confidence_score": "round((0.5 + 0.4 * pg_temp.fx_rand(n, 4))::numeric, 2)",
        "period_end": _TS + " + interval '7 days'",
    },
    "backtesting.run_history": {
        "id": "'run_' || to_char(" + _TS + ", 'YYYYMMDD_HH24MI')",
        "run_date": f"({_TS} AT TIME ZONE 'UTC')::date",
        "run_type": "pg_temp.fx_pick(ARRAY['DAILY', 'WEEKLY', 'MANUAL'], pg_temp.fx_rand(n, 5))",
        "start_time": f"({_TS} AT TIME ZONE 'UTC')",
        "end_time": f"({_TS} AT TIME ZONE 'UTC') + interval '93 seconds'",
        "execution_time_seconds": "93.0",
        "status": "CASE WHEN n % 9 = 4 THEN 'FAILED' ELSE 'SUCCESS' END",
        "error_message": "CASE WHEN n % 9 = 4 THEN 'game outcomes are stale' END",
        "error_details": "CASE WHEN n % 9 = 4 THEN json_build_object('stale_hours', 30) END",
        "config_snapshot": "json_build_object('min_bets', 10, 'lookback_days', 30)",
    },
    "backtesting.strategy_alerts": {
        "strategy_name": _STRATEGY,
        "alert_level": "pg_temp.fx_pick(ARRAY['INFO', 'WARNING', 'CRITICAL'], pg_temp.fx_rand(n, 6))",
        "message": "'Win rate trending down'",
        "current_roi": _ROI2,
        "current_win_rate": _RATE4,
        "performance_trend": "pg_temp.fx_pick(ARRAY['DECLINING', 'STABLE', 'IMPROVING'], pg_temp.fx_rand(n, 7))",
        "recommended_action": "'Raise the minimum differential'",
        "configuration_version": "'v2025.' || lpad(n::text, 4, '0')",
        "acknowledged_by": "CASE WHEN n % 3 = 0 THEN 'ops' END",
    },
    "backtesting.strategy_config_cache": {
        "source": "(ARRAY['VSIN', 'SBD', 'ACTION'])[n % 3 + 1]",
        "strategy_type": "'strategy_type_' || (n / 3)",
        "config_json": "json_build_object('min_differential', 10 + n % 7)::text",
        "expires_at": _TS + " + interval '15 minutes'",
    },
    "backtesting.strategy_config_history": {
        "config_version": "'cfg-' || lpad(n::text, 5, '0')",
        "config_data": "jsonb_build_object('strategies', 12, 'min_bets', 10 + n % 5)",
        "snapshot_reason": "'SCHEDULED_UPDATE'",
        "total_strategies": "12",
        "enabled_strategies": "8 + n % 4",
        "avg_roi": _ROI2,
        "avg_win_rate": _RATE4,
        "performance_summary": "jsonb_build_object('profitable', 5 + n % 3)",
        "strategy_breakdown": "jsonb_build_object('moneyline', 4, 'spread', 4, 'total', 4)",
    },
    "backtesting.strategy_lifecycle_events": {
        "strategy_name": _STRATEGY,
        "event_type": "pg_temp.fx_pick(ARRAY['ENABLED', 'DISABLED', 'THRESHOLD_CHANGED'], pg_temp.fx_rand(n, 8))",
        "event_reason": "'automatic evaluation'",
        "previous_status": "'ACTIVE'",
        "new_status": "'ACTIVE'",
        "roi_at_event": _ROI2,
        "win_rate_at_event": _RATE4,
        "configuration_version": "'cfg-' || lpad(n::text, 5, '0')",
    },
    "backtesting.threshold_history": {
        "id": "'th_' || lpad(n::text, 6, '0')",
        "strategy_name": _STRATEGY,
        "threshold_type": "pg_temp.fx_pick(ARRAY['min_differential', 'min_bets'], pg_temp.fx_rand(n, 9))",
        "old_value": "10.0",
        "new_value": "12.5",
        "change_percent": "25.0",
        "change_reason": "'ROI below target'",
        "previous_performance": "json_build_object('roi', " + _ROI2 + ")",
        "performance_after_change": "json_build_object('roi', " + _ROI2 + ")",
        "applied_by": "'backtesting-service'",
        "file_modified": "'config/thresholds.json'",
    },
    "backtesting.threshold_recommendations": {
        "strategy_name": _STRATEGY,
        "recommended_threshold": "round((8 + 10 * pg_temp.fx_rand(n, 10))::numeric, 2)",
        "confidence_level": "pg_temp.fx_pick(ARRAY['LOW', 'MODERATE', 'HIGH'], pg_temp.fx_rand(n, 11))",
        "justification": "'30-day ROI supports a higher differential'",
        "approved_by": "CASE WHEN n % 2 = 0 THEN 'analyst' END",
        "approved_at": "CASE WHEN n % 2 = 0 THEN " + _TS + " + interval '1 day' END",
    },
    "timing_analysis.comprehensive_analyses": {
        "analysis_name": "'timing sweep ' || lpad(n::text, 4, '0')",
        "total_games_analyzed": "200 + n",
        "total_recommendations": "150 + n",
        "overall_total_bets": "100 + n",
        "overall_wins": "(100 + n) / 2",
        "overall_losses": "(100 + n) / 2 - 3",
        "overall_pushes": "2",
        "overall_total_units_wagered": "(100 + n)::numeric",
        "overall_total_profit_loss": _ROI2,
        "overall_avg_odds_at_recommendation": "-112.50",
        "overall_avg_closing_odds": "-115.25",
        "best_bucket": _BUCKET,
        "best_source": "'VSIN'",
        "best_strategy": _STRATEGY,
        "trends": "jsonb_build_object('direction', 'flat')",
    },
    "timing_analysis.recommendation_history": {
        "game_id": "(716000 + n * 7)::text",
        "home_team": _TEAM.format(salt=12),
        "away_team": _TEAM.format(salt=13),
        "game_datetime": _TS + " + interval '5 hours'",
        "recommendation_datetime": _TS,
        "hours_until_game": "round((pg_temp.fx_rand(n, 14) * 30)::numeric, 3)",
        "source": "'VSIN'",
        "book": "'circa'",
        "split_type": _SPLIT,
        "strategy_name": _STRATEGY,
        "recommended_side": "pg_temp.fx_pick(ARRAY['home', 'away', 'over', 'under'], pg_temp.fx_rand(n, 15))",
        "odds_at_recommendation": "-110.00",
        "closing_odds": "-118.00",
        "outcome": "pg_temp.fx_pick(ARRAY['win', 'loss', 'push', NULL], pg_temp.fx_rand(n, 16))",
        "actual_profit_loss": "round((pg_temp.fx_rand(n, 17) * 190 - 100)::numeric, 2)",
        "units_wagered": "1.00",
    },
    "timing_analysis.timing_recommendations_cache": {
        "timing_bucket": _BUCKET,
        "source": "'VSIN'",
        "book": "'draftkings'",
        "split_type": _SPLIT,
        "strategy_name": _STRATEGY,
        "recommendation": "'Bet in the final two hours'",
        "confidence": "pg_temp.fx_pick(ARRAY['LOW', 'MODERATE', 'HIGH'], pg_temp.fx_rand(n, 18))",
        "expected_win_rate": "round((50 + 10 * pg_temp.fx_rand(n, 19))::numeric, 3)",
        "expected_roi": "round((pg_temp.fx_rand(n, 20) * 12)::numeric, 3)",
        "risk_factors": "jsonb_build_array('small sample')",
        "historical_total_bets": "30 + n",
        "historical_win_rate": "round((50 + 10 * pg_temp.fx_rand(n, 21))::numeric, 3)",
        "historical_roi": "round((pg_temp.fx_rand(n, 22) * 12)::numeric, 3)",
        "expires_at": _TS + " + interval '1 hour'",
    },
    "tracking.active_high_roi_strategies": {
        "strategy_id": "'strat_' || lpad(n::text, 4, '0')",
        "source_book_type": _BOOK_TYPE,
        "split_type": _SPLIT,
        "strategy_variant": _STRATEGY,
        "total_bets": "40 + n",
        "win_rate": _PCT2,
        "roi_per_100_unit": _ROI2,
        "confidence_level": "'HIGH'",
        "min_threshold": "10.00",
        "high_threshold": "20.00",
        "avg_odds": "-108.40",
        "integration_status": "pg_temp.fx_pick(ARRAY['PENDING', 'ACTIVE', 'PAUSED'], pg_temp.fx_rand(n, 23))",
    },
    "tracking.active_strategy_configs": {
        "strategy_id": "'strat_' || lpad(n::text, 4, '0')",
        "configuration": "jsonb_build_object('min_differential', 10 + n % 5, 'books',"
        " jsonb_build_array('circa', 'draftkings'))",
    },
    "tracking.strategy_integration_log": {
        "strategy_id": "'strat_' || lpad(n::text, 4, '0')",
        "action": "pg_temp.fx_pick(ARRAY['INTEGRATED', 'UPDATED', 'REMOVED'], pg_temp.fx_rand(n, 24))",
        "roi_per_100_unit": _ROI2,
        "total_bets": "40 + n",
        "min_threshold": "10.00",
        "high_threshold": "20.00",
        "notes": "'auto-integration from backtesting'",
    },
    "tracking.strategy_performance_cache": {
        "source_book_type": _BOOK_TYPE,
        "split_type": _SPLIT,
        "strategy_variant": _STRATEGY,
        "total_bets": "40 + n",
        "wins": "20 + n / 2",
        "win_rate": _PCT2,
        "roi_per_100_unit": _ROI2,
        "confidence_level": "'MODERATE'",
        "avg_odds": "-109.10",
    },
}

# Tables whose keys cap how many rows they can take.
ROW_CAPS: dict[str, int] = {"backtesting.strategy_config_cache": 24}

_VARCHAR = re.compile(r"^(?:character varying|character)\((\d+)\)$")
_NUMERIC = re.compile(r"^numeric\((\d+),(\d+)\)$")


def _generic(column: Column, position: int) -> sql.Composable:
    """A value that fits the column's type, for a column no override covers."""
    salt = sql.Literal(500 + position)
    rand = sql.SQL("pg_temp.fx_rand(n, {})").format(salt)
    label = sql.Literal(f"{column.name}_")
    t = column.type
    if column.sequence is not None:
        return sql.SQL("n + 1")
    if t in ("integer", "bigint", "smallint"):
        return sql.SQL("floor({} * 100)::int").format(rand)
    if m := _NUMERIC.match(t):
        precision, scale = int(m.group(1)), int(m.group(2))
        top = sql.Literal(10 ** min(2, precision - scale) - 1)
        return sql.SQL("round(({} * {})::numeric, {})").format(rand, top, sql.Literal(scale))
    if t == "numeric" or t == "double precision":
        return sql.SQL("round(({} * 100)::numeric, 2)").format(rand)
    if t == "boolean":
        return sql.SQL("{} < 0.5").format(rand)
    if t == "date":
        return sql.SQL(f"({_TS})::date")
    if t == "time without time zone":
        return sql.SQL("time '19:05'")
    if t == "timestamp with time zone":
        return sql.SQL(_TS)
    if t == "timestamp without time zone":
        return sql.SQL(f"({_TS} AT TIME ZONE 'UTC')")
    if t in ("json", "jsonb"):
        return sql.SQL("json_build_object('row', n)::{}").format(sql.SQL(t))
    if m := _VARCHAR.match(t):
        return sql.SQL("left({} || n, {})").format(label, sql.Literal(int(m.group(1))))
    if t in ("text", "character varying"):
        return sql.SQL("{} || n").format(label)
    raise ValueError(f"no generic value for a {t} column ({column.name})")


def fill(conn: psycopg.Connection, table: TableSpec, rows: int) -> None:
    overrides = OVERRIDES.get(table.qualname, {})
    rows = min(rows, ROW_CAPS.get(table.qualname, rows))
    names: list[sql.Composable] = []
    values: list[sql.Composable] = []
    for position, column in enumerate(table.columns):
        if column.generated:
            continue
        names.append(sql.Identifier(column.name))
        override = overrides.get(column.name)
        values.append(sql.SQL(override) if override else _generic(column, position))
    conn.execute(
        sql.SQL("INSERT INTO {} ({}) SELECT {} FROM generate_series(0::bigint, {} - 1) AS n ORDER BY n").format(
            sql.Identifier(table.schema, table.name),
            sql.SQL(", ").join(names),
            sql.SQL(", ").join(values),
            sql.Literal(rows),
        )
    )


def fact_games(conn: psycopg.Connection, rows: int) -> None:
    """Action Network's own game table: the first games of the schedule."""
    conn.execute(
        sql.SQL(
            """
            INSERT INTO action.fact_games (id, id_action, id_mlbstatsapi,
                dim_home_team_actionid, dim_away_team_actionid, dim_date, dim_time,
                dim_datetime, game_status, venue_name, season, season_type, game_number,
                weather_conditions, temperature, wind_speed, wind_direction, created_at,
                updated_at)
            SELECT row_number() OVER (ORDER BY u.start_utc, u.g), 230000 + u.g,
                   CASE WHEN u.has_pk THEN u.mlb_pk END, u.home_team_id, u.away_team_id,
                   u.game_date, u.local_time, u.start_utc, u.status, u.venue, u.season,
                   'regular', u.game_number, u.weather, u.temperature, u.wind_speed,
                   u.wind_direction, u.start_utc - interval '3 days',
                   u.start_utc + interval '4 hours'
              FROM pg_temp.fx_games u
             WHERE u.g < {rows} OR u.dh_of < {rows}
             ORDER BY u.start_utc, u.g
            """
        ).format(rows=sql.Literal(rows))
    )


def load_unmapped(conn: psycopg.Connection, rows: int) -> None:
    for table in catalog.unmapped_tables():
        if table.qualname == "action.fact_games":
            fact_games(conn, rows)
        else:
            fill(conn, table, rows)
