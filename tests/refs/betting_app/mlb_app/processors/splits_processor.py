"""Sharp action from the splits: public money against the line."""

from mlb_app.db.connection import execute
from mlb_app.processors.base import BaseProcessor


class SplitsProcessor(BaseProcessor):
    name = "splits"

    def required_tables(self) -> list[str]:
        return [
            "splits.raw_mlb_betting_splits",  # REF(name) splits.raw_mlb_betting_splits
            "splits.games",  # REF(name) splits.games
            "core_betting.teams",
        ]

    def run(self, day: str) -> list[tuple]:
        return execute(
            """
            SELECT s.game_id, s.source, s.home_pct - s.home_money_pct AS divergence
            FROM splits.raw_mlb_betting_splits s  -- REF(sql) splits.raw_mlb_betting_splits
            JOIN splits.games g ON g.id = s.game_id  -- REF(sql) splits.games
            WHERE g.game_date = %s
            """,
            (day,),
        )
