"""The DuckDB cache: still written by the notebook exports."""

import duckdb

CACHE = duckdb.connect("cache.duckdb")


def cache_game(game: dict) -> None:
    CACHE.execute(
        "INSERT OR REPLACE INTO splits.games (id, game_date, home_team) VALUES (?, ?, ?)",  # REF(unparsed) splits.games
        [game["id"], game["date"], game["home"]],
    )


def cache_totals() -> None:
    CACHE.execute(
        """
        -- refreshed nightly from mlb_betting.totals: DECOY (a comment)
        CREATE OR REPLACE TABLE Mlb_Betting.Totals AS  -- REF(unparsed) mlb_betting.totals
        SELECT * FROM read_parquet('exports/mlb_betting.totals.parquet')
        """
    )


def latest_splits() -> list[tuple]:
    return CACHE.execute(
        """
        SELECT * EXCLUDE (raw_json)
        FROM "splits"."raw_mlb_betting_splits"  -- REF(unparsed) splits.raw_mlb_betting_splits
        QUALIFY row_number() OVER (PARTITION BY game_id ORDER BY collected_at DESC) = 1
        """
    ).fetchall()


def attached() -> list[tuple]:
    CACHE.execute("ATTACH 'postgres:dbname=mlb_betting' AS pg (TYPE postgres)")
    return CACHE.execute("SELECT * FROM pg.public.games LIMIT 5").fetchall()  # REF(unparsed) public.games
