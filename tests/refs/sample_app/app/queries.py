"""Queries the application still runs against the legacy tables.

Nothing in this docstring counts: SELECT * FROM splits.games is prose here.
"""

import psycopg
from psycopg import sql

# a plain literal, qualified
GAMES = "SELECT * FROM splits.games WHERE game_date = %s"  # REF splits.games

# unqualified: public is the default search path
OUTCOMES = "select home_score, away_score from game_outcomes where game_id = %(id)s"  # REF public.game_outcomes

# triple-quoted, multi-line, with a CTE named like a legacy table, aliases named like
# legacy tables, column names like legacy tables and a legacy name in an SQL comment
REPORT = """
WITH games AS (                      -- the CTE: not public.games
    SELECT g.id, g.home_team AS totals
    FROM core_betting.games AS g     -- a new table
)
SELECT games.id, moneyline.moneyline, spreads
FROM games
JOIN mlb_betting.moneyline AS moneyline ON moneyline.game_id = games.id  -- REF mlb_betting.moneyline
JOIN raw_data.raw_mlb_betting_splits AS spreads ON spreads.game_id = games.id
/* mlb_betting.totals is not read here */
"""

# quoted identifiers and mixed case
QUOTED = 'SELECT count(*) FROM "mlb_betting"."spreads"'  # REF mlb_betting.spreads
MIXED = "SELECT * FROM MLB_Betting.Totals t JOIN Action.Dim_Teams d ON d.id = t.team_id"  # REF mlb_betting.totals REF action.dim_teams
# a quoted mixed-case name is another table in PostgreSQL: not a legacy one
OTHER = 'SELECT * FROM "Splits"."Games"'

# implicit concatenation over lines
CONCAT = (
    "SELECT r.* "
    "FROM clean.betting_recommendations r "  # REF clean.betting_recommendations
    "WHERE r.created_at > now() - interval '1 day'"
)

# the CTE's own body reads the legacy table of the same name (a plain WITH sees no CTE yet)
SHADOW = """
WITH games AS (
    SELECT * FROM games  -- REF public.games
)
SELECT * FROM games
"""

# writes
WRITES = """
INSERT INTO tracking.pre_game_recommendations (game_id, pick)  -- REF tracking.pre_game_recommendations
VALUES (%s, %s);
UPDATE backtesting.strategy_performance SET roi = %s WHERE id = %s;  -- REF backtesting.strategy_performance
DELETE FROM backtesting.orchestrator_update_triggers WHERE fired_at < now();  -- REF backtesting.orchestrator_update_triggers
"""


def timing(conn: psycopg.Connection) -> list:
    # a subquery, a regclass literal and a new table under a legacy-looking alias
    return conn.execute(
        """SELECT b.*, (SELECT count(*) FROM timing_analysis.timing_bucket_performance) AS n  -- REF timing_analysis.timing_bucket_performance
        FROM analytics.timing_analysis_results AS timing_bucket_performance
        JOIN core_betting.teams AS dim_teams ON true
        WHERE 'public.sbr_raw_html'::regclass IS NOT NULL""",  # REF public.sbr_raw_html
    ).fetchall()


def parsed(conn: psycopg.Connection) -> None:
    conn.execute("SET search_path TO splits, public")
    conn.execute("SELECT * FROM raw_mlb_betting_splits")  # REF splits.raw_mlb_betting_splits
    conn.execute(sql.SQL("SELECT 1 FROM {}").format(sql.Identifier("public", "sbr_parsed_games")))  # REF public.sbr_parsed_games (a literal sql.Identifier: known, not dynamic)


# a parenthesised UNION and a join fragment appended to a query elsewhere
UNION = "(SELECT id FROM public.games) UNION (SELECT id FROM core_betting.games)"  # REF public.games
JOIN_TOTALS = "LEFT JOIN mlb_betting.totals t ON t.game_id = g.id"  # REF mlb_betting.totals
