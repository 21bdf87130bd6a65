"""Settings for the collectors and the repositories.

The splits collector used to write splits.raw_mlb_betting_splits directly.  # DECOY
"""

import os
from dataclasses import dataclass

DATABASE_URL = os.environ.get("DATABASE_URL", "postgresql://localhost/mlb_betting")

# the tables the nightly jobs read
DEFAULT_SPLITS_TABLE = "splits.raw_mlb_betting_splits"  # REF(name) splits.raw_mlb_betting_splits
OUTCOMES_TABLE = "public.game_outcomes"  # REF(name) public.game_outcomes
TEAMS_TABLE = "ACTION.DIM_TEAMS"  # REF(name) action.dim_teams
NEW_GAMES_TABLE = "core_betting.games"

TABLE_ALIASES = {
    "splits": "splits.raw_mlb_betting_splits",  # REF(name) splits.raw_mlb_betting_splits
    "moneyline": "Mlb_Betting.Moneyline",  # REF(name) mlb_betting.moneyline
    "spreads": '"mlb_betting"."spreads"',  # REF(name) mlb_betting.spreads
    "games": "core_betting.games",
}


@dataclass
class CollectorSettings:
    batch_size: int = 500
    target_table: str = "splits.raw_mlb_betting_splits"  # REF(name) splits.raw_mlb_betting_splits
    description: str = "Rows land in splits.raw_mlb_betting_splits"  # DECOY
