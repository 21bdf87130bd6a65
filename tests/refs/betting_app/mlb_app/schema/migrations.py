"""Start-up migrations, in order. Early ones created the legacy tables; later ones the new."""

MIGRATIONS = [
    (
        "0007_outcomes_index",
        "CREATE INDEX IF NOT EXISTS idx_go_game ON public.game_outcomes (game_id)",  # REF(sql) public.game_outcomes
    ),
    (
        "0008_strategy_roi",
        """ALTER TABLE backtesting.strategy_performance  -- REF(sql) backtesting.strategy_performance
           ADD COLUMN IF NOT EXISTS roi numeric""",
    ),
    (
        "0009_triggers",
        "TRUNCATE backtesting.orchestrator_update_triggers",  # REF(sql) backtesting.orchestrator_update_triggers
    ),
    (
        "0012_new_tables",
        """CREATE TABLE IF NOT EXISTS analytics.model_runs (
               id bigserial PRIMARY KEY,
               games_table text DEFAULT 'core_betting.games',
               created_at timestamptz DEFAULT now()
           )""",
    ),
    (
        "0013_comment",
        "COMMENT ON TABLE analytics.model_runs IS 'replaces splits.games based runs'",  # DECOY
    ),
]
