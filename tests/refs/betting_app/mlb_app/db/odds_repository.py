# ruff: noqa: UP031, UP032 -- the application builds SQL with % and .format: the shapes refs must read
"""Moneyline, spreads and totals, one repository each."""

from mlb_app.db.base_repository import BaseRepository
from mlb_app.db.connection import execute

MONEYLINE = "MLB_BETTING.MONEYLINE"  # REF(name) mlb_betting.moneyline
SPREADS = "Mlb_Betting.Spreads"  # REF(name) mlb_betting.spreads
TOTALS = '"mlb_betting"."totals"'  # REF(name) mlb_betting.totals


class MoneylineRepository(BaseRepository):
    table_name = MONEYLINE


def latest_lines(game_id: str) -> dict[str, list[tuple]]:
    return {
        "moneyline": execute(f"SELECT * FROM {MONEYLINE} WHERE game_id = %s", (game_id,)),
        "spreads": execute("SELECT * FROM {} WHERE game_id = %s".format(SPREADS), (game_id,)),
        "totals": execute("SELECT * FROM %s WHERE game_id = '%s'" % (TOTALS, game_id)),
    }


def sharp_moves() -> list[tuple]:
    return execute(
        """
        SELECT m.game_id, m.home_odds - lag(m.home_odds) OVER w AS move
        FROM Mlb_Betting.Moneyline m  -- REF(sql) mlb_betting.moneyline
        WINDOW w AS (PARTITION BY m.game_id ORDER BY m.updated_at)
        """
    )
