"""Words, not SQL: none of this is a reference.

The old code read splits.games and mlb_betting.moneyline directly.
"""

import logging

log = logging.getLogger(__name__)


def report(count: int) -> None:
    # we used to SELECT * FROM public.games here
    log.info("Select the rows from splits.games: %d", count)
    print("Delete old rows from mlb_betting.totals")
    message = "With splits.games gone, the report reads the new table"
    label = "games"
    labels = {"help": "Select the games from splits.games", "title": "Drop the legacy tables"}
    column = "moneyline"
    if count < 0:
        raise ValueError("Update tracking.pre_game_recommendations first")
    """A bare string statement: SELECT * FROM public.game_outcomes"""
    print(message, label, labels, column)
