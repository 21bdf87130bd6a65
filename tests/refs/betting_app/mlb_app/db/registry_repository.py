"""The new way: every table comes from the registry."""

from mlb_app.db.connection import execute
from table_registry import get_table_registry

registry = get_table_registry()


class RegistryGameRepository:
    def __init__(self) -> None:
        self.table = registry.get_table("games")

    def all(self) -> list[tuple]:
        return execute(f"SELECT * FROM {self.table}")

    def outcomes(self) -> list[tuple]:
        outcomes = registry.get_table("game_outcomes")
        return execute(f"SELECT * FROM {outcomes} o JOIN {self.table} g ON g.id = o.game_id")
