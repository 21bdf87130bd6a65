"""How much legacy data to generate: row counts per scale."""

from __future__ import annotations

from dataclasses import dataclass

GAMES_PER_DAY = 15  # every team plays once a day (a round robin of the 30 teams)
DAYS_PER_SEASON = 185  # March 27 .. September 27
LAST_SEASON = 2025  # the newest generated season; every timestamp is before 2025-09-29


@dataclass(frozen=True)
class Scale:
    """Row counts of one fixture size. Counts not listed are derived from these."""

    name: str
    games: int  # real games played (before doubleheaders); both game tables draw from them
    doubleheaders: int  # extra second games, same teams and date (only with awkward=True)
    raw_splits: int  # splits.raw_mlb_betting_splits
    lines_per_market: int  # each of mlb_betting.moneyline / spreads / totals
    betting_recommendations: int  # clean.betting_recommendations
    pre_game_recommendations: int  # tracking.pre_game_recommendations
    strategy_performance: int  # backtesting.strategy_performance
    timing_performance: int  # timing_analysis.timing_bucket_performance
    orchestrator_triggers: int  # backtesting.orchestrator_update_triggers
    sbr_parsed_games: int  # public.sbr_parsed_games (capped at 3 per public game)
    unmapped_rows: int  # rows in each unmapped legacy table (some are capped by their keys)

    @property
    def days(self) -> int:
        return -(-self.games // GAMES_PER_DAY)

    @property
    def seasons(self) -> int:
        return -(-self.days // DAYS_PER_SEASON)

    @property
    def first_season(self) -> int:
        return LAST_SEASON - self.seasons + 1


SCALES: dict[str, Scale] = {
    s.name: s
    for s in (
        Scale("tiny", 150, 2, 900, 300, 300, 200, 288, 200, 200, 300, 12),
        Scale("small", 2_775, 3, 100_000, 40_000, 5_000, 3_000, 7_200, 2_000, 500, 5_000, 50),
        Scale("demo", 5_550, 4, 300_000, 120_000, 15_000, 8_000, 14_400, 4_000, 1_000, 10_000, 100),
        Scale(
            "medium",
            8_325,
            6,
            1_000_000,
            400_000,
            40_000,
            20_000,
            36_000,
            8_000,
            2_000,
            20_000,
            200,
        ),
        Scale(
            "large",
            13_875,
            10,
            5_000_000,
            1_000_000,
            100_000,
            50_000,
            72_000,
            16_000,
            5_000,
            40_000,
            500,
        ),
    )
}


def resolve(scale: str | Scale) -> Scale:
    if isinstance(scale, Scale):
        return scale
    try:
        return SCALES[scale]
    except KeyError:
        raise ValueError(f"unknown fixture scale {scale!r}: use one of {', '.join(SCALES)}") from None
