"""Backtests: replays strategies over past games.

Example:
    SELECT * FROM backtesting.strategy_performance WHERE roi > 0.05   # DECOY (a docstring)
"""

from mlb_app.db.connection import execute


class BacktestService:
    """Runs a strategy and records how it did."""

    def record(self, strategy: str, roi: float) -> None:
        execute(
            """
            INSERT INTO backtesting.strategy_performance (strategy, roi)  -- REF(sql) backtesting.strategy_performance
            VALUES (%s, %s)
            ON CONFLICT (strategy) DO UPDATE SET roi = excluded.roi
            """,
            (strategy, roi),
        )

    def fire(self, strategy: str) -> None:
        execute(
            "DELETE FROM Backtesting.Orchestrator_Update_Triggers "  # REF(sql) backtesting.orchestrator_update_triggers
            "WHERE strategy = %s",
            (strategy,),
        )

    def summary(self) -> list[tuple]:
        # SELECT * FROM backtesting.strategy_performance  (a comment) DECOY
        return execute("SELECT strategy, roi FROM analytics.strategy_summary")
