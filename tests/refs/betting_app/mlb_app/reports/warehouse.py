"""Cross-checks against the warehouse copy; names qualified by their database."""

from mlb_app.db.connection import execute

WAREHOUSE_SPLITS = "mlb_betting.splits.raw_mlb_betting_splits"  # REF(name) splits.raw_mlb_betting_splits
ARCHIVE_GAMES = "archive_db.splits.games"  # REF(unparsed) splits.games


def compare() -> list[tuple]:
    return execute(
        """
        SELECT count(*) FROM mlb_betting.splits.raw_mlb_betting_splits  -- REF(sql) splits.raw_mlb_betting_splits
        UNION ALL
        SELECT count(*) FROM "mlb_betting"."public"."game_outcomes"  -- REF(sql) public.game_outcomes
        """
    )


def archive() -> list[tuple]:
    return execute("SELECT count(*) FROM archive_db.public.games")  # REF(unparsed) public.games


def new_tables() -> list[tuple]:
    return execute("SELECT count(*) FROM mlb_betting.core_betting.games")
