"""Game outcomes: scores and the winner, one row per game."""

from mlb_app.db.base_repository import BaseRepository
from mlb_app.db.connection import execute


class GameOutcomeRepository(BaseRepository):
    table_name = "public.game_outcomes"  # REF(name) public.game_outcomes
    key = "game_id"

    def latest(self, limit: int = 10) -> list[tuple]:
        return execute(f"SELECT * FROM {self.table_name} ORDER BY game_date DESC LIMIT %s", (limit,))

    def winners(self, season: int) -> list[tuple]:
        query = f"""
            SELECT o.game_id, CASE WHEN o.home_score > o.away_score THEN g.home_team ELSE g.away_team END
            FROM {self.table_name} o
            JOIN public.games g ON g.id = o.game_id  -- REF(sql) public.games
            WHERE extract(year FROM g.game_date) = %s
        """
        return execute(query, (season,))


class TeamRepository(BaseRepository):
    table_name = "Action.Dim_Teams"  # REF(name) action.dim_teams

    def by_abbreviation(self, abbr: str) -> list[tuple]:
        return execute(f"SELECT * FROM {self.table_name} WHERE abbreviation = %s", (abbr,))
