"""Grades yesterday's recommendations against the outcomes."""

import logging

from mlb_app.db.connection import execute
from mlb_app.processors.base import BaseProcessor

logger = logging.getLogger(__name__)


class OutcomeProcessor(BaseProcessor):
    name = "outcomes"

    def required_tables(self) -> list[str]:
        return [
            '"public"."game_outcomes"',  # REF(name) public.game_outcomes
            "TRACKING.PRE_GAME_RECOMMENDATIONS",  # REF(name) tracking.pre_game_recommendations
        ]

    def run(self) -> int:
        rows = execute(
            """
            UPDATE tracking.pre_game_recommendations r  -- REF(sql) tracking.pre_game_recommendations
            SET won = (o.home_score > o.away_score) = (r.pick = 'home')
            FROM public.game_outcomes o  -- REF(sql) public.game_outcomes
            WHERE o.game_id = r.game_id AND r.won IS NULL
            RETURNING r.id
            """
        )
        logger.info("graded %d recommendations in tracking.pre_game_recommendations", len(rows))  # DECOY
        return len(rows)
