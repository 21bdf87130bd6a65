"""Writes the day's recommendations."""

import logging
from pathlib import Path

from mlb_app.db.connection import execute
from mlb_app.processors.base import BaseProcessor

logger = logging.getLogger(__name__)
RECOMMENDATIONS = "tracking.pre_game_recommendations"  # REF(name) tracking.pre_game_recommendations


class RecommendationProcessor(BaseProcessor):
    name = "recommendations"

    def required_tables(self) -> list[str]:
        return [RECOMMENDATIONS, "Clean.Betting_Recommendations"]  # REF(name) clean.betting_recommendations

    def save(self, picks: list[dict], out: Path) -> None:
        for pick in picks:
            execute(
                f"INSERT INTO {RECOMMENDATIONS} (game_id, pick, confidence) VALUES (%s, %s, %s)",
                (pick["game_id"], pick["pick"], pick["confidence"]),
            )
        out.write_text("\n".join(p["game_id"] for p in picks))
        print(f"Recommendations saved to: {RECOMMENDATIONS}")
        print("Recommendations saved to: tracking.pre_game_recommendations")  # DECOY
        status = "Recommendations saved to: tracking.pre_game_recommendations"  # DECOY
        logger.info(status)
        summary = f"{len(picks)} picks -> tracking.pre_game_recommendations"  # DECOY
        logger.debug(summary)
