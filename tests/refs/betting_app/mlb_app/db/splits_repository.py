"""Betting splits as collected from the books."""

from mlb_app.db.connection import execute


class SplitsRepository:
    """Reads and writes the raw splits (see the collector for how rows arrive)."""

    @property
    def table(self) -> str:
        return "splits.raw_mlb_betting_splits"  # REF(name) splits.raw_mlb_betting_splits

    @property
    def games_table(self) -> str:
        return "SPLITS.GAMES"  # REF(name) splits.games

    def for_game(self, game_id: str) -> list[tuple]:
        return execute(f"SELECT * FROM {self.table} WHERE game_id = %s", (game_id,))

    def insert(self, row: dict) -> None:
        execute(
            f"INSERT INTO {self.table} (game_id, source, home_pct, away_pct) VALUES (%s, %s, %s, %s)",
            (row["game_id"], row["source"], row["home_pct"], row["away_pct"]),
        )

    def games_with_splits(self) -> list[tuple]:
        return execute(
            f"""
            WITH splits AS (SELECT DISTINCT game_id FROM {self.table})  -- the CTE, a DECOY name
            SELECT g.* FROM {self.games_table} g JOIN splits s ON s.game_id = g.id
            """
        )
