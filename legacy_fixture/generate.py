"""INSERT ... SELECT statements that fill the mapped legacy tables inside PostgreSQL.

Every value derives from the row number and the seed (pg_temp.fx_rand), never from the
clock, so a build is deterministic. Naive timestamps are UTC wall-clock values.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg import sql

from legacy_fixture.scales import Scale
from legacy_fixture.teams import ACTION_TEAM_ID_BASE, SPORTSBOOKS, TEAMS
from legacy_fixture.universe import ACTION_GAME_ID_BASE, UniverseSize

STRATEGIES: tuple[str, ...] = (
    "sharp_action",
    "opposing_markets",
    "book_conflicts",
    "public_money_fade",
    "late_sharp_flip",
    "consensus_moneyline",
    "underdog_ml_value",
    "line_movement",
)
SOURCE_BOOK_TYPES: tuple[str, ...] = ("VSIN-circa", "VSIN-draftkings", "SBD")
SPLIT_TYPES: tuple[str, ...] = ("moneyline", "spread", "total")
SBR_MARKETS: tuple[str, ...] = ("money-line", "pointspread", "totals")


def array(values: Sequence[Any]) -> sql.Composable:
    """An SQL ARRAY[...] of literals (NULL included)."""
    return sql.SQL("ARRAY[{}]").format(sql.SQL(", ").join(sql.Literal(v) for v in values))


def run(conn: psycopg.Connection, template: str, **params: Any) -> None:
    values = {k: v if isinstance(v, sql.Composable) else sql.Literal(v) for k, v in params.items()}
    conn.execute(sql.SQL(template).format(**values))


def teams(conn: psycopg.Connection) -> None:
    rows = []
    for i, t in enumerate(TEAMS):
        values = (
            i + 1,
            ACTION_TEAM_ID_BASE + i,
            t.full_name,
            t.nickname,
            f"{t.abbr} {t.nickname}",
            t.location,
            t.abbr,
            f"https://static.sprtactn.co/teamlogos/mlb/100/{t.abbr.lower()}.png",
            t.primary,
            t.secondary,
            t.league,
            t.division,
            t.slug,
        )
        rows.append(
            sql.SQL(
                "({}, timestamptz '2024-02-15 12:00:00+00' + {} * interval '1 minute',"
                " timestamptz '2025-03-20 09:00:00+00' + {} * interval '1 minute')"
            ).format(sql.SQL(", ").join(sql.Literal(v) for v in values), sql.Literal(i), sql.Literal(i))
        )
    conn.execute(
        sql.SQL(
            "INSERT INTO action.dim_teams (id, team_id, full_name, display_name, short_name,"
            " location, abbr, logo, primary_color, secondary_color, conference_type,"
            " division_type, url_slug, created_at, updated_at) VALUES {}"
        ).format(sql.SQL(", ").join(rows))
    )


def games(conn: psycopg.Connection) -> None:
    run(
        conn,
        """
        INSERT INTO public.games (id, sportsbookreview_game_id, mlb_stats_api_game_id,
            action_network_game_id, home_team, away_team, game_date, game_datetime,
            game_status, home_score, away_score, winning_team, venue_name, venue_id, season,
            season_type, game_type, weather_condition, temperature, wind_speed,
            wind_direction, humidity, data_quality, mlb_correlation_confidence,
            has_mlb_enrichment, created_at, updated_at)
        SELECT u.pidx + 1,
               'sbr-' || to_char(u.game_date, 'YYYYMMDD') || '-' || u.away_team || '-'
                   || u.home_team || '-' || u.game_number,
               CASE WHEN u.has_pk THEN u.mlb_pk::text END,
               CASE WHEN u.has_pk THEN {action_base} + u.g END,
               u.home_team, u.away_team, u.game_date, u.start_utc, u.status,
               u.home_score, u.away_score,
               CASE WHEN u.status = 'final' THEN
                   CASE WHEN u.home_score > u.away_score THEN u.home_team ELSE u.away_team END
               END,
               u.venue, u.venue_id, u.season, 'regular', 'regular', u.weather, u.temperature,
               u.wind_speed, u.wind_direction, u.humidity,
               CASE WHEN u.has_pk THEN 'HIGH' ELSE 'MEDIUM' END,
               CASE WHEN u.has_pk
                    THEN round((0.85 + 0.15 * pg_temp.fx_rand(u.g, 18))::numeric, 4) END,
               u.has_pk,
               u.start_utc - interval '2 days',
               CASE WHEN u.status = 'final' THEN u.start_utc + interval '3 hours 30 minutes'
                    ELSE u.start_utc - interval '1 hour' END
          FROM pg_temp.fx_games u
         WHERE u.pidx IS NOT NULL
         ORDER BY u.pidx
        """,
        action_base=ACTION_GAME_ID_BASE,
    )
    run(
        conn,
        """
        INSERT INTO splits.games (id, game_id, home_team, away_team, game_datetime, status,
            home_score, away_score, weather_conditions, venue, created_at, updated_at)
        SELECT to_char(u.game_date, 'YYYYMMDD') || '-' || u.away_team || '@' || u.home_team
                   || '-' || u.game_number,
               u.mlb_pk::text, u.home_team, u.away_team, u.start_utc AT TIME ZONE 'UTC',
               CASE WHEN u.conflict = 'status' THEN 'scheduled' ELSE u.status END,
               CASE WHEN u.conflict = 'status' THEN NULL
                    WHEN u.conflict = 'score' THEN u.away_score ELSE u.home_score END,
               CASE WHEN u.conflict = 'status' THEN NULL
                    WHEN u.conflict = 'score' THEN u.home_score ELSE u.away_score END,
               u.weather,
               CASE WHEN u.conflict = 'venue' THEN u.home_location || ' Ballpark'
                    ELSE u.venue END,
               (u.start_utc - interval '1 day') AT TIME ZONE 'UTC',
               CASE WHEN u.status = 'final' AND u.conflict IS DISTINCT FROM 'status'
                    THEN (u.start_utc + interval '3 hours 45 minutes') AT TIME ZONE 'UTC'
                    ELSE (u.start_utc - interval '1 day') AT TIME ZONE 'UTC' END
          FROM pg_temp.fx_games u
         WHERE u.sidx IS NOT NULL
         ORDER BY u.sidx
        """,
    )


def game_outcomes(conn: psycopg.Connection) -> None:
    run(
        conn,
        """
        INSERT INTO public.game_outcomes (id, game_id, home_team, away_team, home_score,
            away_score, over, home_win, home_cover_spread, total_line, home_spread_line,
            game_date, created_at, updated_at)
        SELECT u.oidx + 1, u.mlb_pk::text, u.home_team, u.away_team, u.home_score,
               u.away_score, (u.home_score + u.away_score) > u.total_base,
               u.home_score > u.away_score, (u.home_score - u.away_score + s.hsl) > 0,
               u.total_base::double precision, s.hsl::double precision, u.start_utc,
               u.start_utc + interval '4 hours', u.start_utc + interval '4 hours'
          FROM pg_temp.fx_games u
          CROSS JOIN LATERAL (SELECT CASE WHEN u.p_home >= 0.5 THEN -1.5 ELSE 1.5 END
                                     AS hsl) AS s
         WHERE u.oidx IS NOT NULL
         ORDER BY u.oidx
        """,
    )


# The rows of one betting-line table: n -> (public game, book, snapshot). Within one game
# the rows cycle through the six books, one snapshot an hour back from the first pitch.
_LINE_ROWS = """
    r AS (
        SELECT n, (n * {games}) / {rows} AS pidx
          FROM generate_series({first}::bigint, {first} + {count} - 1) AS n OFFSET 0
    ), x AS (
        SELECT r.n, u.g, u.pidx, u.start_utc, u.status, u.home_score, u.away_score,
               u.home_team, u.away_team, u.p_home, u.total_base,
               r.n - (r.pidx * {rows} + {games} - 1) / {games} AS k
          FROM r JOIN pg_temp.fx_games u ON u.pidx = r.pidx OFFSET 0
    ), y AS (
        SELECT x.*, (x.k % 6)::int AS bi, (x.k / 6)::int AS snap, x.g * 8 + x.k % 6 AS gb,
               100 + floor(pg_temp.fx_rand(x.n, 23) * 4900)::int AS hb,
               100 + floor(pg_temp.fx_rand(x.n, 24) * 4900)::int AS ab,
               round((20 + 60 * pg_temp.fx_rand(x.n, 25))::numeric, 2) AS hm,
               x.start_utc - (x.k / 6 + 1) * interval '1 hour'
                   - floor(pg_temp.fx_rand(x.n, 27) * 3000) * interval '1 second' AS ts,
               pg_temp.fx_pick(ARRAY['HIGH', 'HIGH', 'HIGH', 'MEDIUM', 'MEDIUM', 'LOW'],
                               pg_temp.fx_rand(x.n, 28)) AS dq
          FROM x OFFSET 0
    ), z AS (
        SELECT y.*, ({books})[y.bi + 1] AS book,
               round(100.0 * y.hb / (y.hb + y.ab), 2) AS hbp,
               least(12, y.snap) / 12.0 AS drift
          FROM y OFFSET 0
    )
"""


def _line_params(size: UniverseSize, rows: int, first: int, count: int) -> dict[str, Any]:
    return {
        "games": size.public_games,
        "rows": rows,
        "first": first,
        "count": count,
        "books": array(SPORTSBOOKS),
    }


_LINE_TAIL = """
               'SPORTSBOOKREVIEW', q.dq, q.ts + interval '20 seconds',
               CASE WHEN q.status = 'final' THEN q.start_utc + interval '4 hours'
                    ELSE q.ts + interval '20 seconds' END,
               q.start_utc, q.home_team, q.away_team
          FROM q
        """


def _insert_lines(
    conn: psycopg.Connection, size: UniverseSize, rows: int, qualname: str, columns: str, select: str
) -> None:
    """A line table (moneyline, spreads, totals): INSERT INTO `qualname` (id, game_id,
    sportsbook, `columns`, then the columns every line table ends with) WITH the shared line
    rows (_LINE_ROWS), then `select`: the table's own CTEs and its columns up to profit and
    loss, then _LINE_TAIL (source, data_quality, created_at, updated_at, game_datetime,
    home_team, away_team)."""
    insert = (
        "INSERT INTO {table} (id, game_id, sportsbook, " + columns + ", source, data_quality, created_at, updated_at,"
        " game_datetime, home_team, away_team)"
    )
    run(
        conn,
        insert + " WITH " + _LINE_ROWS + select + _LINE_TAIL,
        table=sql.Identifier(*qualname.split(".")),
        **_line_params(size, rows, 0, rows),
    )


_MONEYLINE_COLUMNS = """
    home_ml, away_ml, odds_timestamp, opening_home_ml, opening_away_ml, closing_home_ml, closing_away_ml,
    home_bets_count, away_bets_count, home_bets_percentage, away_bets_percentage, home_money_percentage,
    away_money_percentage, sharp_action, reverse_line_movement, steam_move, winning_side, profit_loss"""
_MONEYLINE_SELECT = """, p AS (
            SELECT z.*,
                   least(0.78, greatest(0.22, z.p_home
                       + (pg_temp.fx_rand(z.gb, 21) - 0.5) * 0.04)) AS p_open,
                   least(0.78, greatest(0.22, z.p_home
                       + (pg_temp.fx_rand(z.gb, 21) - 0.5) * 0.04
                       + (pg_temp.fx_rand(z.gb, 22) - 0.5) * 0.06)) AS p_close
              FROM z OFFSET 0
        ), q AS (
            SELECT p.*, p.p_close + (p.p_open - p.p_close) * p.drift AS p_now,
                   pg_temp.fx_american(p.p_close + 0.0225) AS close_home,
                   pg_temp.fx_american(1.0 - p.p_close + 0.0225) AS close_away
              FROM p OFFSET 0
        )
        SELECT q.n + 1, q.pidx + 1, q.book,
               pg_temp.fx_american(q.p_now + 0.0225),
               pg_temp.fx_american(1.0 - q.p_now + 0.0225), q.ts,
               pg_temp.fx_american(q.p_open + 0.0225),
               pg_temp.fx_american(1.0 - q.p_open + 0.0225),
               q.close_home, q.close_away, q.hb, q.ab, q.hbp, 100 - q.hbp, q.hm, 100 - q.hm,
               CASE WHEN q.hm - q.hbp > 10 THEN 'home' WHEN q.hm - q.hbp < -10 THEN 'away' END,
               pg_temp.fx_rand(q.n, 29) < 0.08, pg_temp.fx_rand(q.n, 30) < 0.04,
               CASE WHEN q.status = 'final' THEN
                   CASE WHEN q.home_score > q.away_score THEN 'home' ELSE 'away' END END,
               CASE WHEN q.status <> 'final' THEN NULL
                    WHEN q.home_score < q.away_score THEN -100.00
                    WHEN q.close_home > 0 THEN q.close_home::numeric
                    ELSE round(10000.0 / -q.close_home, 2) END,
"""


def moneyline(conn: psycopg.Connection, size: UniverseSize, rows: int) -> None:
    _insert_lines(conn, size, rows, "mlb_betting.moneyline", _MONEYLINE_COLUMNS, _MONEYLINE_SELECT)


_SPREADS_COLUMNS = """
    home_spread, away_spread, home_spread_price, away_spread_price, odds_timestamp, opening_home_spread,
    opening_away_spread, opening_home_spread_price, opening_away_spread_price, closing_home_spread,
    closing_away_spread, closing_home_spread_price, closing_away_spread_price, home_bets_count,
    away_bets_count, home_bets_percentage, away_bets_percentage, home_money_percentage,
    away_money_percentage, sharp_action, reverse_line_movement, steam_move, winning_side, profit_loss,
    home_cover, margin_of_victory"""
_SPREADS_SELECT = """, p AS (
            SELECT z.*,
                   CASE WHEN z.p_home >= 0.5 THEN -1.5 ELSE 1.5 END::numeric(3, 1) AS hs,
                   0.5 + (pg_temp.fx_rand(z.gb, 31) - 0.5) * 0.16 AS q_open,
                   0.5 + (pg_temp.fx_rand(z.gb, 31) - 0.5) * 0.16
                       + (pg_temp.fx_rand(z.gb, 32) - 0.5) * 0.06 AS q_close
              FROM z OFFSET 0
        ), q AS (
            SELECT p.*, p.q_close + (p.q_open - p.q_close) * p.drift AS q_now,
                   pg_temp.fx_american(p.q_close + 0.0225) AS close_home,
                   CASE WHEN p.status = 'final'
                        THEN (p.home_score - p.away_score + p.hs) > 0 END AS cover
              FROM p OFFSET 0
        )
        SELECT q.n + 1, q.pidx + 1, q.book, q.hs, -q.hs,
               pg_temp.fx_american(q.q_now + 0.0225),
               pg_temp.fx_american(1.0 - q.q_now + 0.0225), q.ts, q.hs, -q.hs,
               pg_temp.fx_american(q.q_open + 0.0225),
               pg_temp.fx_american(1.0 - q.q_open + 0.0225), q.hs, -q.hs, q.close_home,
               pg_temp.fx_american(1.0 - q.q_close + 0.0225),
               q.hb, q.ab, q.hbp, 100 - q.hbp, q.hm, 100 - q.hm,
               CASE WHEN q.hm - q.hbp > 10 THEN 'home' WHEN q.hm - q.hbp < -10 THEN 'away' END,
               pg_temp.fx_rand(q.n, 29) < 0.08, pg_temp.fx_rand(q.n, 30) < 0.04,
               CASE WHEN q.cover THEN 'home' WHEN NOT q.cover THEN 'away' END,
               CASE WHEN q.status <> 'final' THEN NULL
                    WHEN NOT q.cover THEN -100.00
                    WHEN q.close_home > 0 THEN q.close_home::numeric
                    ELSE round(10000.0 / -q.close_home, 2) END,
               q.cover,
               CASE WHEN q.status = 'final' THEN q.home_score - q.away_score END,
"""


def spreads(conn: psycopg.Connection, size: UniverseSize, rows: int) -> None:
    _insert_lines(conn, size, rows, "mlb_betting.spreads", _SPREADS_COLUMNS, _SPREADS_SELECT)


_TOTALS_COLUMNS = """
    total_line, over_price, under_price, odds_timestamp, opening_total, opening_over_price,
    opening_under_price, closing_total, closing_over_price, closing_under_price, over_bets_count,
    under_bets_count, over_bets_percentage, under_bets_percentage, over_money_percentage,
    under_money_percentage, sharp_action, reverse_line_movement, steam_move, winning_side, profit_loss,
    final_total, went_over"""
_TOTALS_SELECT = """, p AS (
            SELECT z.*,
                   (z.total_base + 0.5 * (floor(pg_temp.fx_rand(z.gb, 41) * 3) - 1))
                       ::numeric(3, 1) AS line_close,
                   0.5 + (pg_temp.fx_rand(z.gb, 42) - 0.5) * 0.08 AS o_open,
                   0.5 + (pg_temp.fx_rand(z.gb, 42) - 0.5) * 0.08
                       + (pg_temp.fx_rand(z.gb, 43) - 0.5) * 0.04 AS o_close,
                   CASE WHEN z.status = 'final' THEN z.home_score + z.away_score END AS ft
              FROM z OFFSET 0
        ), q AS (
            SELECT p.*, p.o_close + (p.o_open - p.o_close) * p.drift AS o_now,
                   pg_temp.fx_american(p.o_close + 0.0225) AS close_over
              FROM p OFFSET 0
        )
        SELECT q.n + 1, q.pidx + 1, q.book,
               CASE WHEN q.snap < 4 THEN q.line_close ELSE q.total_base END,
               pg_temp.fx_american(q.o_now + 0.0225),
               pg_temp.fx_american(1.0 - q.o_now + 0.0225), q.ts, q.total_base,
               pg_temp.fx_american(q.o_open + 0.0225),
               pg_temp.fx_american(1.0 - q.o_open + 0.0225), q.line_close, q.close_over,
               pg_temp.fx_american(1.0 - q.o_close + 0.0225),
               q.hb, q.ab, q.hbp, 100 - q.hbp, q.hm, 100 - q.hm,
               CASE WHEN q.hm - q.hbp > 10 THEN 'over' WHEN q.hm - q.hbp < -10 THEN 'under' END,
               pg_temp.fx_rand(q.n, 29) < 0.08, pg_temp.fx_rand(q.n, 30) < 0.04,
               CASE WHEN q.ft > q.line_close THEN 'over' WHEN q.ft < q.line_close THEN 'under'
                    WHEN q.ft = q.line_close THEN 'push' END,
               CASE WHEN q.ft IS NULL THEN NULL
                    WHEN q.ft < q.line_close THEN -100.00
                    WHEN q.ft = q.line_close THEN 0.00
                    WHEN q.close_over > 0 THEN q.close_over::numeric
                    ELSE round(10000.0 / -q.close_over, 2) END,
               q.ft, q.ft > q.line_close,
"""


def totals(conn: psycopg.Connection, size: UniverseSize, rows: int) -> None:
    _insert_lines(conn, size, rows, "mlb_betting.totals", _TOTALS_COLUMNS, _TOTALS_SELECT)


def raw_splits(conn: psycopg.Connection, size: UniverseSize, rows: int) -> None:
    """VSIN (DraftKings, Circa) and SBD (no book) splits, a snapshot every 15 minutes."""
    run(
        conn,
        """
        INSERT INTO splits.raw_mlb_betting_splits (id, game_id, home_team, away_team,
            game_datetime, split_type, last_updated, source, book, home_or_over_bets,
            home_or_over_bets_percentage, home_or_over_stake_percentage, away_or_under_bets,
            away_or_under_bets_percentage, away_or_under_stake_percentage, split_value,
            sharp_action, outcome, created_at, updated_at)
        WITH r AS (
            SELECT n, (n * {games}) / {rows} AS sidx
              FROM generate_series(0::bigint, {rows} - 1) AS n OFFSET 0
        ), x AS (
            SELECT r.n, u.g, u.mlb_pk, u.home_team, u.away_team, u.start_utc, u.status,
                   u.p_home, u.total_base,
                   r.n - (r.sidx * {rows} + {games} - 1) / {games} AS k
              FROM r JOIN pg_temp.fx_games u ON u.sidx = r.sidx OFFSET 0
        ), y AS (
            SELECT x.*, (x.k % 3)::int AS ti, ((x.k / 3) % 3)::int AS ci,
                   (x.start_utc AT TIME ZONE 'UTC') - (x.k / 9 + 1) * interval '15 minutes'
                       - floor(pg_temp.fx_rand(x.n, 51) * 600) * interval '1 second' AS lu,
                   50 + floor(pg_temp.fx_rand(x.n, 52) * 3000)::int AS hb,
                   50 + floor(pg_temp.fx_rand(x.n, 53) * 3000)::int AS ab,
                   round((15 + 70 * pg_temp.fx_rand(x.n, 54))::numeric, 2) AS hsp
              FROM x OFFSET 0
        ), z AS (
            SELECT y.*, round(100.0 * y.hb / (y.hb + y.ab), 2) AS hbp,
                   ({split_types})[y.ti + 1] AS split_type
              FROM y OFFSET 0
        ), s AS (
            SELECT z.*,
                   CASE WHEN z.hsp - z.hbp >= 10
                        THEN CASE WHEN z.ti = 2 THEN 'over' ELSE 'home' END
                        WHEN z.hsp - z.hbp <= -10
                        THEN CASE WHEN z.ti = 2 THEN 'under' ELSE 'away' END END AS sharp
              FROM z OFFSET 0
        )
        SELECT s.n + 1, s.mlb_pk::text, s.home_team, s.away_team,
               s.start_utc AT TIME ZONE 'UTC', s.split_type, s.lu,
               ({sources})[s.ci + 1], ({books})[s.ci + 1],
               s.hb, s.hbp::double precision, s.hsp::double precision,
               s.ab, (100 - s.hbp)::double precision, (100 - s.hsp)::double precision,
               CASE s.ti
                   WHEN 0 THEN json_build_object(
                       'home', pg_temp.fx_american(s.p_home + 0.0225),
                       'away', pg_temp.fx_american(1.0 - s.p_home + 0.0225))::text
                   WHEN 1 THEN CASE WHEN s.p_home >= 0.5 THEN '-1.5' ELSE '+1.5' END
                   ELSE s.total_base::text END,
               s.sharp,
               CASE WHEN s.status = 'final' AND s.sharp IS NOT NULL THEN
                   CASE WHEN pg_temp.fx_rand(s.n, 55) < 0.53 THEN 'win' ELSE 'loss' END END,
               s.lu + interval '5 seconds', s.lu + interval '5 seconds'
          FROM s
        """,
        games=size.splits_games,
        rows=rows,
        **_split_sources(),
    )


_ROWS_OVER_GAMES = """r AS (
            SELECT n, (n * {games}) / {rows} AS ridx
              FROM generate_series(0::bigint, {rows} - 1) AS n OFFSET 0
        )"""
"""CTE r: row numbers n = 0 .. rows - 1, each with the index (ridx) of its game, spread evenly."""


def _split_sources() -> dict[str, Any]:
    """The split types, and the sources with their books (VSIN has two: DraftKings, Circa)."""
    return {
        "split_types": array(SPLIT_TYPES),
        "sources": array(("VSIN", "VSIN", "SBD")),
        "books": array(("DraftKings", "Circa", None)),
    }


def betting_recommendations(conn: psycopg.Connection, size: UniverseSize, rows: int) -> None:
    run(
        conn,
        """
        INSERT INTO clean.betting_recommendations (id, game_id, home_team, away_team,
            game_datetime, market_type, source, book, recommended_side, line_value,
            confidence_score, differential, stake_percentage, bet_percentage,
            minutes_before_game, signal_strength, consensus_boost, last_updated, created_at)
        WITH """
        + _ROWS_OVER_GAMES
        + """, x AS (
            SELECT r.n, u.g, u.mlb_pk, u.home_team, u.away_team, u.start_utc, u.p_home,
                   u.total_base, (r.n % 3)::int AS mi,
                   floor(pg_temp.fx_rand(r.n, 61) * 3)::int AS ci,
                   pg_temp.fx_rand(r.n, 62) < 0.5 AS first_side,
                   15 + floor(pg_temp.fx_rand(r.n, 63) * 705)::int AS mins,
                   round((10 + 80 * pg_temp.fx_rand(r.n, 64))::numeric, 2) AS bet_pct,
                   round((10 + 80 * pg_temp.fx_rand(r.n, 65))::numeric, 2) AS stake_pct
              FROM r JOIN pg_temp.fx_games u ON u.ridx = r.ridx OFFSET 0
        )
        SELECT x.n + 1, x.mlb_pk::text, x.home_team, x.away_team,
               x.start_utc AT TIME ZONE 'UTC', ({split_types})[x.mi + 1],
               ({sources})[x.ci + 1], ({books})[x.ci + 1],
               CASE WHEN x.mi = 2 THEN CASE WHEN x.first_side THEN 'OVER' ELSE 'UNDER' END
                    WHEN x.first_side THEN x.home_team ELSE x.away_team END,
               CASE x.mi
                   WHEN 0 THEN CASE WHEN x.first_side
                       THEN pg_temp.fx_american(x.p_home + 0.0225)
                       ELSE pg_temp.fx_american(1.0 - x.p_home + 0.0225) END::text
                   WHEN 1 THEN CASE WHEN (x.p_home >= 0.5) = x.first_side
                       THEN '-1.5' ELSE '+1.5' END
                   ELSE x.total_base::text END,
               round((0.5 + 0.5 * pg_temp.fx_rand(x.n, 66))::numeric, 3)::double precision,
               abs(x.stake_pct - x.bet_pct)::double precision,
               x.stake_pct::double precision, x.bet_pct::double precision, x.mins,
               CASE WHEN abs(x.stake_pct - x.bet_pct) >= 25 THEN 'STRONG'
                    WHEN abs(x.stake_pct - x.bet_pct) >= 12 THEN 'MODERATE'
                    ELSE 'WEAK' END,
               round((0.15 * pg_temp.fx_rand(x.n, 67))::numeric, 3)::double precision,
               (x.start_utc AT TIME ZONE 'UTC') - x.mins * interval '1 minute',
               (x.start_utc AT TIME ZONE 'UTC') - x.mins * interval '1 minute'
          FROM x
         ORDER BY x.n
        """,
        games=size.pk_games,
        rows=rows,
        **_split_sources(),
    )


def pre_game_recommendations(conn: psycopg.Connection, size: UniverseSize, rows: int) -> None:
    run(
        conn,
        """
        INSERT INTO tracking.pre_game_recommendations (recommendation_id, game_pk,
            home_team, away_team, game_datetime, recommendation, bet_type, confidence_level,
            signal_source, signal_strength, recommended_at, email_sent, game_completed,
            bet_won, actual_outcome, profit_loss, created_at, updated_at,
            strategy_source_id, auto_integrated)
        WITH """
        + _ROWS_OVER_GAMES
        + """, x AS (
            SELECT r.n, u.g, u.mlb_pk, u.home_team, u.away_team, u.start_utc, u.status,
                   u.home_score, u.away_score, u.p_home, u.total_base,
                   (r.n % 3)::int AS bi, pg_temp.fx_rand(r.n, 71) < 0.5 AS first_side,
                   30 + floor(pg_temp.fx_rand(r.n, 72) * 600)::int AS mins,
                   CASE WHEN u.p_home >= 0.5 THEN -1.5 ELSE 1.5 END AS hsl
              FROM r JOIN pg_temp.fx_games u ON u.ridx = r.ridx OFFSET 0
        ), y AS (
            SELECT x.*, ({split_types})[x.bi + 1] AS bet_type,
                   CASE WHEN x.bi = 2 THEN CASE WHEN x.first_side THEN 'OVER' ELSE 'UNDER' END
                        WHEN x.first_side THEN x.home_team ELSE x.away_team END AS side,
                   CASE WHEN x.status <> 'final' THEN NULL
                        WHEN x.bi = 0 THEN (x.home_score > x.away_score) = x.first_side
                        WHEN x.bi = 1
                        THEN ((x.home_score - x.away_score + x.hsl) > 0) = x.first_side
                        WHEN x.home_score + x.away_score = x.total_base THEN NULL
                        ELSE ((x.home_score + x.away_score) > x.total_base) = x.first_side
                   END AS won,
                   ({signals})[1 + floor(pg_temp.fx_rand(x.n, 73) * 5)::int] AS signal,
                   pg_temp.fx_rand(x.n, 74) < 0.7 AS integrated
              FROM x OFFSET 0
        )
        SELECT 'pgr_' || y.mlb_pk || '_' || lpad(y.n::text, 7, '0'), y.mlb_pk::text,
               y.home_team, y.away_team, y.start_utc,
               'BET ' || y.side || ' ' || upper(y.bet_type) || CASE y.bi
                   WHEN 1 THEN CASE WHEN (y.hsl < 0) = y.first_side THEN ' -1.5' ELSE ' +1.5' END
                   WHEN 2 THEN ' ' || y.total_base ELSE '' END,
               y.bet_type,
               ({confidence})[1 + floor(pg_temp.fx_rand(y.n, 75) * 3)::int],
               y.signal,
               round((25 * pg_temp.fx_rand(y.n, 76))::numeric, 4)::double precision,
               y.start_utc - y.mins * interval '1 minute',
               pg_temp.fx_rand(y.n, 77) < 0.9,
               y.status = 'final', y.won,
               CASE WHEN y.status = 'final'
                    THEN y.away_team || ' ' || y.away_score || ' @ ' || y.home_team || ' '
                         || y.home_score END,
               CASE WHEN y.status <> 'final' THEN NULL WHEN y.won IS NULL THEN 0
                    WHEN y.won THEN 90.91 ELSE -100 END::double precision,
               y.start_utc - y.mins * interval '1 minute',
               CASE WHEN y.status = 'final' THEN y.start_utc + interval '4 hours'
                    ELSE y.start_utc - y.mins * interval '1 minute' END,
               CASE WHEN y.integrated
                    THEN 'VSIN-circa_' || y.bet_type || '_' || lower(y.signal) END,
               y.integrated
          FROM y
         ORDER BY y.n
        """,
        games=size.pk_games,
        rows=rows,
        split_types=array(SPLIT_TYPES),
        signals=array(("SHARP_ACTION", "OPPOSING_MARKETS", "STEAM_MOVE", "BOOK_CONFLICTS", "PUBLIC_FADE")),
        confidence=array(("LOW", "MODERATE", "HIGH")),
    )


def strategy_performance(conn: psycopg.Connection, rows: int, awkward: bool) -> None:
    """One row per (strategy, source/book, split type) per backtest day, newest last.

    wins = round(win_rate * total_bets) exactly (win_rate is wins / total_bets rounded to
    4 decimals, total_bets < 1000). With awkward=True wins is NULL on the oldest tenth of
    the rows (ids 1 .. rows/10, the oldest backtest dates): the column was added later.
    """
    combos = len(STRATEGIES) * len(SOURCE_BOOK_TYPES) * len(SPLIT_TYPES)
    days = -(-rows // combos)
    run(
        conn,
        """
        INSERT INTO backtesting.strategy_performance (id, strategy_name, source_book_type,
            split_type, backtest_date, win_rate, roi_per_100, total_bets, total_profit_loss,
            sharpe_ratio, max_drawdown, kelly_criterion, confidence_level, last_updated,
            created_at, wins)
        WITH x AS (
            SELECT n, (n % {combos})::int AS c, (n / {combos})::int AS day,
                   20 + floor(pg_temp.fx_rand(n, 81) * 480)::int AS bets
              FROM generate_series(0::bigint, {rows} - 1) AS n OFFSET 0
        ), y AS (
            SELECT x.*, floor(x.bets * (0.42 + 0.18 * pg_temp.fx_rand(x.n, 82)))::int AS w,
                   date '2025-09-28' - ({days} - 1 - x.day) AS d
              FROM x OFFSET 0
        ), z AS (
            SELECT y.*, round(y.w::numeric / y.bets, 4) AS wr FROM y OFFSET 0
        )
        SELECT z.n + 1, ({strategies})[z.c / 9 + 1], ({book_types})[(z.c / 3) % 3 + 1],
               ({split_types})[z.c % 3 + 1], z.d, z.wr,
               round((z.wr * 1.909 - 1) * 100, 2), z.bets,
               round((z.wr * 1.909 - 1) * z.bets * 100, 2),
               round((pg_temp.fx_rand(z.n, 83) * 3 - 1)::numeric, 4),
               round((pg_temp.fx_rand(z.n, 84) * 0.5)::numeric, 4),
               round((pg_temp.fx_rand(z.n, 85) * 0.2 - 0.05)::numeric, 4),
               CASE WHEN z.bets >= 100 THEN 'HIGH' WHEN z.bets >= 50 THEN 'MODERATE'
                    ELSE 'LOW' END,
               (z.d + time '06:00') AT TIME ZONE 'UTC',
               (z.d + time '06:00') AT TIME ZONE 'UTC',
               CASE WHEN {awkward} AND z.n < {rows} / 10 THEN NULL ELSE z.w END
          FROM z
         ORDER BY z.n
        """,
        combos=combos,
        rows=rows,
        days=days,
        awkward=awkward,
        strategies=array(STRATEGIES),
        book_types=array(SOURCE_BOOK_TYPES),
        split_types=array(SPLIT_TYPES),
    )


def timing_performance(conn: psycopg.Connection, rows: int) -> None:
    run(
        conn,
        """
        INSERT INTO timing_analysis.timing_bucket_performance (id, timing_bucket, source,
            book, split_type, strategy_name, analysis_start_date, analysis_end_date,
            total_bets, wins, losses, pushes, total_units_wagered, total_profit_loss,
            avg_odds_at_recommendation, avg_closing_odds, created_at, updated_at)
        WITH x AS (
            SELECT n, (n % 4)::int AS b, floor(pg_temp.fx_rand(n, 91) * 3)::int AS ci,
                   5 + floor(pg_temp.fx_rand(n, 92) * 395)::int AS bets,
                   date '2024-04-01' + (n / 4 % 540)::int AS d0,
                   7 + floor(pg_temp.fx_rand(n, 93) * 24)::int AS span
              FROM generate_series(0::bigint, {rows} - 1) AS n OFFSET 0
        ), y AS (
            SELECT x.*, floor(x.bets * (0.4 + 0.2 * pg_temp.fx_rand(x.n, 94)))::int AS w,
                   floor(x.bets * 0.03 * pg_temp.fx_rand(x.n, 95))::int AS p,
                   round((x.bets * (0.8 + 0.4 * pg_temp.fx_rand(x.n, 96)))::numeric, 2) AS units
              FROM x OFFSET 0
        )
        SELECT y.n + 1, ({buckets})[y.b + 1], ({sources})[y.ci + 1], ({books})[y.ci + 1],
               ({split_types})[1 + floor(pg_temp.fx_rand(y.n, 97) * 3)::int],
               ({strategies})[1 + floor(pg_temp.fx_rand(y.n, 98) * 8)::int],
               y.d0, y.d0 + y.span, y.bets, y.w, y.bets - y.w - y.p, y.p, y.units,
               round((y.units * (pg_temp.fx_rand(y.n, 99) * 0.4 - 0.2))::numeric, 2),
               round((-160 + 120 * pg_temp.fx_rand(y.n, 100))::numeric, 2),
               round((-160 + 120 * pg_temp.fx_rand(y.n, 101))::numeric, 2),
               (y.d0 + y.span + time '08:00') AT TIME ZONE 'UTC',
               (y.d0 + y.span + time '08:00') AT TIME ZONE 'UTC'
                   + floor(pg_temp.fx_rand(y.n, 102) * 72) * interval '1 hour'
          FROM y
         ORDER BY y.n
        """,
        rows=rows,
        buckets=array(("0-2h", "2-6h", "6-24h", "24h+")),
        sources=array(("VSIN", "VSIN", "SBD")),
        books=array(("circa", "draftkings", None)),
        split_types=array(SPLIT_TYPES),
        strategies=array(STRATEGIES),
    )


def orchestrator_triggers(conn: psycopg.Connection, rows: int) -> None:
    """Status is the legacy upper-case vocabulary (COMPLETED / FAILED / PENDING);
    changes_made carries the strategy_name the consolidated table wants."""
    run(
        conn,
        """
        INSERT INTO backtesting.orchestrator_update_triggers (id, trigger_type,
            trigger_reason, old_config_version, new_config_version, triggered_at,
            changes_made, strategies_affected, performance_impact, status, error_message)
        WITH x AS (
            SELECT n, ({strategies})[1 + floor(pg_temp.fx_rand(n, 111) * 8)::int] AS strat,
                   ({types})[1 + floor(pg_temp.fx_rand(n, 112) * 4)::int] AS ttype,
                   pg_temp.fx_rand(n, 113) AS sr,
                   timestamptz '2024-04-01 09:00:00+00' + n * interval '7 hours' AS ts
              FROM generate_series(0::bigint, {rows} - 1) AS n OFFSET 0
        )
        SELECT x.n + 1, x.ttype,
               CASE x.ttype
                   WHEN 'PERFORMANCE_UPDATE' THEN 'Backtesting ROI moved for ' || x.strat
                   WHEN 'THRESHOLD_ADJUSTMENT' THEN 'Threshold recalibrated for ' || x.strat
                   WHEN 'STRATEGY_DISABLED' THEN x.strat || ' fell below break-even'
                   ELSE 'Scheduled refresh' END,
               'v' || to_char(x.ts - interval '7 hours', 'YYYYMMDD.HH24'),
               'v' || to_char(x.ts, 'YYYYMMDD.HH24'), x.ts,
               jsonb_build_object('strategy_name', x.strat, 'threshold_delta',
                   round((pg_temp.fx_rand(x.n, 114) * 4 - 2)::numeric, 2),
                   'enabled', x.ttype <> 'STRATEGY_DISABLED'),
               1 + floor(pg_temp.fx_rand(x.n, 115) * 12)::int,
               jsonb_build_object('roi_before', round((pg_temp.fx_rand(x.n, 116) * 20 - 5)
                   ::numeric, 2), 'roi_after', round((pg_temp.fx_rand(x.n, 117) * 20 - 5)
                   ::numeric, 2)),
               CASE WHEN x.sr < 0.9 THEN 'COMPLETED' WHEN x.sr < 0.95 THEN 'FAILED'
                    ELSE 'PENDING' END,
               CASE WHEN x.sr >= 0.9 AND x.sr < 0.95
                    THEN 'timeout while reloading strategy configuration' END
          FROM x
         ORDER BY x.n
        """,
        rows=rows,
        strategies=array(STRATEGIES),
        types=array(("PERFORMANCE_UPDATE", "THRESHOLD_ADJUSTMENT", "STRATEGY_DISABLED", "SCHEDULED_REFRESH")),
    )


def sbr(conn: psycopg.Connection, size: UniverseSize, parsed_rows: int) -> None:
    """One odds page per game day and market; parsed games spread evenly over the public
    games (three markets each).

    status: pages 'processed' / 'failed' / 'new'; parsed games 'processed' / 'new'.
    game_data holds game_date (YYYY-MM-DD), game_time, home_team, away_team.
    """
    run(
        conn,
        """
        INSERT INTO public.sbr_raw_html (id, source_url, html_content, scraped_at, status)
        WITH days AS (
            SELECT day_index, min(game_date) AS d,
                   string_agg('<tr class="game"><td class="away">' || away_team
                              || '</td><td class="home">' || home_team || '</td></tr>', ''
                              ORDER BY start_utc, g) AS rows_html
              FROM pg_temp.fx_games GROUP BY day_index OFFSET 0
        ), p AS (
            SELECT days.*, m.k, ({markets})[m.k + 1] AS market, days.day_index * 3 + m.k AS pn
              FROM days CROSS JOIN generate_series(0, 2) AS m(k) OFFSET 0
        )
        SELECT p.pn + 1,
               'https://www.sportsbookreview.com/betting-odds/mlb-baseball/' || p.market
                   || '/?date=' || to_char(p.d, 'YYYY-MM-DD'),
               '<html><head><title>MLB ' || p.market || ' odds ' || to_char(p.d, 'YYYY-MM-DD')
                   || '</title></head><body><table class="odds" data-market="' || p.market
                   || '">' || p.rows_html || '</table></body></html>',
               (p.d + time '10:00') AT TIME ZONE 'UTC' + p.k * interval '1 minute',
               CASE WHEN pg_temp.fx_rand(p.pn, 121) < 0.9 THEN 'processed'
                    WHEN pg_temp.fx_rand(p.pn, 121) < 0.94 THEN 'failed' ELSE 'new' END
          FROM p
         ORDER BY p.pn
        """,
        markets=array(SBR_MARKETS),
    )
    run(
        conn,
        """
        INSERT INTO public.sbr_parsed_games (id, raw_html_id, game_data, parsed_at, status)
        WITH x AS (
            SELECT m, u.*, (m % 3)::int AS k
              FROM generate_series(0::bigint, {rows} - 1) AS m
              JOIN pg_temp.fx_games u ON u.pidx = (m / 3) * {games} / (({rows} + 2) / 3) OFFSET 0
        )
        SELECT x.m + 1, x.day_index * 3 + x.k + 1,
               jsonb_build_object(
                   'sbr_game_id', 'sbr-' || to_char(x.game_date, 'YYYYMMDD') || '-'
                       || x.away_team || '-' || x.home_team || '-' || x.game_number,
                   'game_date', to_char(x.game_date, 'YYYY-MM-DD'),
                   'game_time', to_char(date '2000-01-01' + x.local_time, 'FMHH12:MI AM'),
                   'home_team', x.home_team, 'away_team', x.away_team,
                   'market', ({markets})[x.k + 1],
                   'odds', jsonb_build_array(
                       jsonb_build_object('book', 'DraftKings',
                           'home', pg_temp.fx_american(x.p_home + 0.0225),
                           'away', pg_temp.fx_american(1.0 - x.p_home + 0.0225)),
                       jsonb_build_object('book', 'FanDuel',
                           'home', pg_temp.fx_american(x.p_home + 0.02),
                           'away', pg_temp.fx_american(1.0 - x.p_home + 0.025)))),
               (x.game_date + time '10:00') AT TIME ZONE 'UTC' + x.k * interval '1 minute'
                   + interval '2 minutes',
               CASE WHEN pg_temp.fx_rand(x.m, 122) < 0.85 THEN 'processed' ELSE 'new' END
          FROM x
         ORDER BY x.m
        """,
        rows=min(parsed_rows, 3 * size.public_games),
        games=size.public_games,
        markets=array(SBR_MARKETS),
    )


def load_mapped(conn: psycopg.Connection, scale: Scale, size: UniverseSize, awkward: bool) -> None:
    teams(conn)
    games(conn)
    game_outcomes(conn)
    moneyline(conn, size, scale.lines_per_market)
    spreads(conn, size, scale.lines_per_market)
    totals(conn, size, scale.lines_per_market)
    raw_splits(conn, size, scale.raw_splits)
    betting_recommendations(conn, size, scale.betting_recommendations)
    pre_game_recommendations(conn, size, scale.pre_game_recommendations)
    strategy_performance(conn, scale.strategy_performance, awkward)
    timing_performance(conn, scale.timing_performance)
    orchestrator_triggers(conn, scale.orchestrator_triggers)
    sbr(conn, size, scale.sbr_parsed_games)
