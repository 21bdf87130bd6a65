# ruff: noqa: UP031, UP032 -- the application builds SQL with % and .format: the shapes refs must read
"""The daily report: yesterday's games, lines and how the picks did."""

from mlb_app.db.connection import execute

DAILY = """
WITH games AS (                                  -- a CTE named like a legacy table: DECOY
    SELECT id, home_team, away_team FROM core_betting.games WHERE game_date = %(day)s
),
lines AS (
    SELECT game_id, home_odds FROM mlb_betting.moneyline  -- REF(sql) mlb_betting.moneyline
)
SELECT games.*, lines.home_odds, o.home_score
FROM games
JOIN lines ON lines.game_id = games.id
LEFT JOIN public.game_outcomes o ON o.game_id = games.id  -- REF(sql) public.game_outcomes
/* totals come from mlb_betting.totals in the weekly report */  -- DECOY
"""

TOTALS_BY_TEAM = (
    "SELECT t.name, avg(x.total) "
    "FROM MLB_BETTING.TOTALS x "  # REF(sql) mlb_betting.totals
    'JOIN "action"."dim_teams" t ON t.id = x.team_id '  # REF(sql) action.dim_teams
    "GROUP BY t.name"
)


def daily(day: str) -> list[tuple]:
    return execute(DAILY, {"day": day})


def totals_by_team() -> list[tuple]:
    return execute(TOTALS_BY_TEAM)


def legacy_games(season: int) -> list[tuple]:
    return execute("SELECT * FROM {} WHERE season = %s".format("public.games"), (season,))  # REF(name) public.games


def recent(limit: int) -> list[tuple]:
    return execute("SELECT * FROM %s ORDER BY id DESC LIMIT %d" % ("Splits.Games", limit))  # REF(name) splits.games
