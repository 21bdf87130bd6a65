"""The guide's new way: the registry and the new tables. Nothing to report."""

from table_registry import get_table_registry

registry = get_table_registry()
table_name = registry.get_table("raw_betting_splits")
query = f"SELECT * FROM {table_name}"
games = f"SELECT * FROM {registry.get_table('games')} g JOIN core_betting.teams t ON t.id = g.home_team_id"
NEW = "SELECT * FROM core_betting.betting_lines_totals JOIN analytics.betting_recommendations USING (game_id)"


class Repository:
    def __init__(self, registry) -> None:
        self.table = registry.get_table("moneyline")

    def latest(self) -> str:
        return f"SELECT * FROM {self.table} ORDER BY updated_at DESC LIMIT 1"
