"""The set of real games every legacy table draws from (session-local temp tables).

`fx_teams` holds the 30 clubs; `fx_games` one row per real game with its schedule, its
result and the awkward traits the two legacy game tables give it:

- cls: 'both' (in public.games and splits.games), 'public' (public.games only) or
  'splits' (splits.games only);
- has_pk: it has an MLB Stats API gamePk (public-only games may lack it);
- conflict: for some games in both tables, what splits.games says differently
  ('score': home and away score swapped, 'status': still 'scheduled' without scores,
  'venue': another venue name);
- doubleheaders: a second game (game_number 2, 18:40 local) of the same teams on the
  same date as its first game (13:05 local).

pidx / sidx / ridx / oidx number the games of public.games / splits.games / games with
a gamePk / finished games with a gamePk (0-based, chronological); generated rows are
spread over them by integer division, so every table is time-ordered.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg import sql

from legacy_fixture.scales import DAYS_PER_SEASON, GAMES_PER_DAY, Scale
from legacy_fixture.teams import ACTION_TEAM_ID_BASE, TEAMS, VENUE_ID_BASE

MLB_PK_BASE = 716_000  # gamePk = base + g
ACTION_GAME_ID_BASE = 230_000  # action_network_game_id = base + g


@dataclass(frozen=True)
class UniverseSize:
    public_games: int
    splits_games: int
    pk_games: int
    outcome_games: int
    days: int


def drop(conn: psycopg.Connection) -> None:
    for name in ("fx_games", "fx_sched", "fx_teams"):
        conn.execute(sql.SQL("DROP TABLE IF EXISTS pg_temp.{}").format(sql.Identifier(name)))


def create(conn: psycopg.Connection, scale: Scale, awkward: bool) -> UniverseSize:
    drop(conn)
    conn.execute(
        """
        CREATE TEMP TABLE fx_teams (
            t integer PRIMARY KEY, team_id integer, abbr text, location text,
            nickname text, tz text, venue text, venue_id integer)
        """
    )
    rows = [
        sql.SQL("({})").format(
            sql.SQL(", ").join(
                sql.Literal(v)
                for v in (
                    i,
                    ACTION_TEAM_ID_BASE + i,
                    t.abbr,
                    t.location,
                    t.nickname,
                    t.tz,
                    t.venue,
                    VENUE_ID_BASE + i,
                )
            )
        )
        for i, t in enumerate(TEAMS)
    ]
    conn.execute(sql.SQL("INSERT INTO fx_teams VALUES {}").format(sql.SQL(", ").join(rows)))
    params = {
        "games": sql.Literal(scale.games),
        "dh": sql.Literal(scale.doubleheaders if awkward else 0),
        "per_day": sql.Literal(GAMES_PER_DAY),
        "season_days": sql.Literal(DAYS_PER_SEASON),
        "first_season": sql.Literal(scale.first_season),
        "awkward": sql.Literal(awkward),
        "pk_base": sql.Literal(MLB_PK_BASE),
    }
    # A round robin per day (circle method over 29 + 1 teams): every club plays once.
    conn.execute(
        sql.SQL(
            """
            CREATE TEMP TABLE fx_sched AS
            SELECT g, g / {per_day} AS day_index, 1 AS game_number,
                   CASE WHEN pg_temp.fx_rand(g, 1) < 0.5 THEN a ELSE b END AS home_t,
                   CASE WHEN pg_temp.fx_rand(g, 1) < 0.5 THEN b ELSE a END AS away_t,
                   NULL::bigint AS dh_of
              FROM (SELECT g,
                           CASE WHEN g % {per_day} = 0 THEN (g / {per_day}) % 29
                                ELSE ((g / {per_day}) % 29 + g % {per_day}) % 29 END AS a,
                           CASE WHEN g % {per_day} = 0 THEN 29
                                ELSE ((g / {per_day}) % 29 - g % {per_day} + 29) % 29 END AS b
                      FROM generate_series(0::bigint, {games} - 1) AS g) AS rr
            """
        ).format(**params)
    )
    conn.execute(
        sql.SQL(
            """
            INSERT INTO fx_sched
            SELECT {games} + k, s.day_index, 2, s.home_t, s.away_t, s.g
              FROM generate_series(0::bigint, {dh} - 1) AS k
              JOIN fx_sched s ON s.g = ((2 * k + 1) * {games}) / (2 * greatest({dh}, 1))
            """
        ).format(**params)
    )
    conn.execute(
        sql.SQL(
            """
            CREATE TEMP TABLE fx_games AS
            WITH base AS (
                SELECT s.g, s.day_index, s.game_number, s.dh_of,
                       s.g IN (SELECT d.dh_of FROM fx_sched d WHERE d.dh_of IS NOT NULL) AS dh_base,
                       ht.abbr AS home_team, aw.abbr AS away_team,
                       ht.team_id AS home_team_id, aw.team_id AS away_team_id,
                       ht.tz, ht.venue, ht.venue_id, ht.location AS home_location,
                       ({first_season} + s.day_index / {season_days})::int AS season,
                       make_date(({first_season} + s.day_index / {season_days})::int, 3, 27)
                           + (s.day_index % {season_days})::int AS game_date,
                       floor(pg_temp.fx_rand(s.g, 8) * 11)::int AS hs0,
                       floor(pg_temp.fx_rand(s.g, 9) * 10)::int AS as0
                  FROM fx_sched s
                  JOIN fx_teams ht ON ht.t = s.home_t
                  JOIN fx_teams aw ON aw.t = s.away_t
            ), timed AS (
                SELECT b.*,
                       (CASE WHEN b.dh_base THEN '13:05'
                             WHEN b.game_number = 2 THEN '18:40'
                             ELSE pg_temp.fx_pick(ARRAY['13:05', '13:10', '16:05', '18:40',
                                  '19:05', '19:07', '19:10', '19:40', '20:10'],
                                  pg_temp.fx_rand(b.g, 2)) END)::time AS local_time,
                       CASE WHEN NOT {awkward} OR b.dh_base OR b.game_number = 2
                                 OR pg_temp.fx_rand(b.g, 3) < 0.85 THEN 'both'
                            WHEN pg_temp.fx_rand(b.g, 3) < 0.95 THEN 'public'
                            ELSE 'splits' END AS cls,
                       CASE WHEN b.dh_base OR b.game_number = 2
                                 OR pg_temp.fx_rand(b.g, 7) >= 0.015 THEN 'final'
                            ELSE 'postponed' END AS status
                  FROM base b
            ), games AS (
                SELECT t.g, t.day_index, t.game_number, t.dh_of, t.dh_base,
                       t.home_team, t.away_team, t.home_team_id, t.away_team_id, t.tz,
                       t.venue, t.venue_id, t.home_location, t.season, t.game_date,
                       t.local_time, t.cls, t.status,
                       (t.game_date + t.local_time) AT TIME ZONE t.tz AS start_utc,
                       (t.cls <> 'public' OR pg_temp.fx_rand(t.g, 4) < 0.5) AS has_pk,
                       {pk_base} + t.g AS mlb_pk,
                       CASE WHEN {awkward} AND t.cls = 'both' AND NOT t.dh_base
                                 AND t.game_number = 1 AND t.status = 'final'
                                 AND pg_temp.fx_rand(t.g, 5) < 0.05
                            THEN pg_temp.fx_pick(ARRAY['score', 'status', 'venue'],
                                                 pg_temp.fx_rand(t.g, 6)) END AS conflict,
                       CASE WHEN t.status <> 'final' THEN NULL
                            WHEN t.hs0 = t.as0 AND pg_temp.fx_rand(t.g, 10) < 0.5
                            THEN t.hs0 + 1 ELSE t.hs0 END AS home_score,
                       CASE WHEN t.status <> 'final' THEN NULL
                            WHEN t.hs0 = t.as0 AND pg_temp.fx_rand(t.g, 10) >= 0.5
                            THEN t.as0 + 1 ELSE t.as0 END AS away_score,
                       0.36 + 0.28 * pg_temp.fx_rand(t.g, 11) AS p_home,
                       (7.0 + 0.5 * floor(pg_temp.fx_rand(t.g, 12) * 9))::numeric(3, 1)
                           AS total_base,
                       pg_temp.fx_pick(ARRAY['Clear', 'Sunny', 'Partly Cloudy', 'Cloudy',
                           'Overcast', 'Drizzle', 'Roof Closed'], pg_temp.fx_rand(t.g, 13))
                           AS weather,
                       48 + floor(pg_temp.fx_rand(t.g, 14) * 45)::int AS temperature,
                       floor(pg_temp.fx_rand(t.g, 15) * 22)::int AS wind_speed,
                       pg_temp.fx_pick(ARRAY['In', 'Out', 'L to R', 'R to L', 'Calm'],
                           pg_temp.fx_rand(t.g, 16)) AS wind_direction,
                       25 + floor(pg_temp.fx_rand(t.g, 17) * 65)::int AS humidity
                  FROM timed t
            )
            SELECT g.*,
                   CASE WHEN g.cls <> 'splits' THEN row_number() OVER (
                       PARTITION BY g.cls <> 'splits' ORDER BY g.start_utc, g.g) - 1 END AS pidx,
                   CASE WHEN g.cls <> 'public' THEN row_number() OVER (
                       PARTITION BY g.cls <> 'public' ORDER BY g.start_utc, g.g) - 1 END AS sidx,
                   CASE WHEN g.has_pk THEN row_number() OVER (
                       PARTITION BY g.has_pk ORDER BY g.start_utc, g.g) - 1 END AS ridx,
                   CASE WHEN g.has_pk AND g.status = 'final' THEN row_number() OVER (
                       PARTITION BY g.has_pk AND g.status = 'final'
                       ORDER BY g.start_utc, g.g) - 1 END AS oidx
              FROM games g
            """
        ).format(**params)
    )
    for column in ("g", "pidx", "sidx", "ridx", "oidx"):
        conn.execute(sql.SQL("CREATE INDEX ON pg_temp.fx_games ({})").format(sql.Identifier(column)))
    conn.execute("ANALYZE pg_temp.fx_games")
    row = conn.execute(
        "SELECT count(pidx), count(sidx), count(ridx), count(oidx), max(day_index) + 1 FROM pg_temp.fx_games"
    ).fetchone()
    assert row is not None
    return UniverseSize(*(int(v) for v in row))
