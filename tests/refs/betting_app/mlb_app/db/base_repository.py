# ruff: noqa: UP031, UP032 -- the application builds SQL with % and .format: the shapes refs must read
"""Repositories: one class per table, the table named by `table_name`."""

from typing import Any

from mlb_app.db.connection import execute


class BaseRepository:
    table_name: str
    key: str = "id"

    def get(self, key: Any) -> list[tuple]:
        return execute(f"SELECT * FROM {self.table_name} WHERE {self.key} = %s", (key,))  # DYN

    def count(self) -> int:
        rows = execute("SELECT count(*) FROM " + self.table_name)  # DYN
        return int(rows[0][0])

    def delete_older_than(self, days: int) -> None:
        execute(
            "DELETE FROM {} WHERE created_at < now() - %s * interval '1 day'".format(self.table_name),  # DYN
            (days,),
        )
