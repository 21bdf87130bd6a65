"""add_activity(): what the live application writes to the legacy tables after a copy.

Updates first (existing rows only), then inserts:

- updates: about `fraction` of the rows of every mapped table, chosen by a seeded hash,
  get a changed value and, where the table has one, a bumped updated_at / last_updated
  (now()). orchestrator_update_triggers, sbr_raw_html and sbr_parsed_games have no such
  column: only their status changes.
- inserts: the newest `fraction` of public.games are replayed as new games (new ids and
  gamePks, dates moved past every existing game), together with everything that belongs
  to them: their splits.games twins, outcomes, betting lines, raw splits, both kinds of
  recommendations, and sbr pages / parsed games; strategy_performance,
  timing_bucket_performance and orchestrator_update_triggers get their newest `fraction`
  of rows replayed later in time. action.dim_teams gets no new rows (30 clubs).
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

from legacy_fixture import ddl, sqlfx
from legacy_fixture import spec as catalog
from legacy_fixture.build import _session_settings


def _count(conn: psycopg.Connection, qualname: str) -> int:
    schema, name = qualname.split(".")
    row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(schema, name))).fetchone()
    return int(row[0]) if row else 0


def _params(**params: Any) -> dict[str, sql.Composable]:
    return {k: v if isinstance(v, sql.Composable) else sql.Literal(v) for k, v in params.items()}


def _exec(conn: psycopg.Connection, template: str, **params: Any) -> int:
    cur = conn.execute(sql.SQL(template).format(**_params(**params)))
    return max(cur.rowcount, 0)


# ---------------------------------------------------------------------------- updates

# table -> (key column, SET clause). The SET clauses change a value and bump the row's
# own change timestamp where the table has one.
_UPDATES: dict[str, tuple[str, str]] = {
    "action.dim_teams": ("id", "logo = replace(logo, '/100/', '/200/'), updated_at = now()"),
    "public.games": ("id", "temperature = coalesce(temperature, 70) + 1, updated_at = now()"),
    "splits.games": (
        "id",
        "weather_conditions = CASE WHEN weather_conditions = 'Clear' THEN 'Cloudy'"
        " ELSE 'Clear' END, updated_at = now() AT TIME ZONE 'UTC'",
    ),
    "public.game_outcomes": (
        "id",
        "total_line = total_line + 0.5, over = (home_score + away_score) > total_line + 0.5, updated_at = now()",
    ),
    "mlb_betting.moneyline": (
        "id",
        "reverse_line_movement = NOT coalesce(reverse_line_movement, false), updated_at = now()",
    ),
    "mlb_betting.spreads": (
        "id",
        "reverse_line_movement = NOT coalesce(reverse_line_movement, false), updated_at = now()",
    ),
    "mlb_betting.totals": (
        "id",
        "reverse_line_movement = NOT coalesce(reverse_line_movement, false), updated_at = now()",
    ),
    "splits.raw_mlb_betting_splits": (
        "id",
        "home_or_over_bets = home_or_over_bets + 1, updated_at = now() AT TIME ZONE 'UTC'",
    ),
    "clean.betting_recommendations": (
        "id",
        "confidence_score = round((CASE WHEN confidence_score >= 0.99"
        " THEN confidence_score - 0.01 ELSE confidence_score + 0.01 END)::numeric, 3)"
        "::double precision, last_updated = now() AT TIME ZONE 'UTC'",
    ),
    "tracking.pre_game_recommendations": (
        "recommendation_id",
        "email_sent = NOT coalesce(email_sent, false), updated_at = now()",
    ),
    "backtesting.strategy_performance": (
        "id",
        "sharpe_ratio = round(coalesce(sharpe_ratio, 0) + 0.01, 4), last_updated = now()",
    ),
    "timing_analysis.timing_bucket_performance": (
        "id",
        "total_profit_loss = total_profit_loss + 1.00, updated_at = now()",
    ),
    "backtesting.orchestrator_update_triggers": (
        "id",
        "status = CASE WHEN status = 'PENDING' THEN 'COMPLETED' ELSE status END,"
        " strategies_affected = coalesce(strategies_affected, 0) + 1",
    ),
    "public.sbr_raw_html": ("id", "status = CASE WHEN status = 'processed' THEN 'new' ELSE 'processed' END"),
    "public.sbr_parsed_games": ("id", "status = CASE WHEN status = 'processed' THEN 'new' ELSE 'processed' END"),
}


def _update(conn: psycopg.Connection, qualname: str, rows: int) -> int:
    key, assignments = _UPDATES[qualname]
    schema, name = qualname.split(".")
    return _exec(
        conn,
        "UPDATE {tab} SET " + assignments + " WHERE {key} IN (SELECT {key} FROM {tab}"
        " WHERE {key} IS NOT NULL ORDER BY hashtextextended({key}::text, {salt}) LIMIT {rows})",
        tab=sql.Identifier(schema, name),
        key=sql.Identifier(key),
        salt=sql.Literal(hash_salt(qualname)),
        rows=rows,
    )


def hash_salt(qualname: str) -> int:
    return sum(ord(ch) * (i + 1) for i, ch in enumerate(qualname))


# ---------------------------------------------------------------------------- inserts


def _copy(
    conn: psycopg.Connection,
    qualname: str,
    source: str,
    overrides: dict[str, str],
    omit: tuple[str, ...] = (),
    **params: Any,
) -> int:
    """INSERT INTO qualname SELECT <its columns> <source>: columns come from alias t
    unless overridden by an SQL expression; `omit` columns take their defaults.

    `source` is formatted with `params` (write literal braces as {{ }}); the override
    expressions are used verbatim."""
    table = catalog.spec(qualname)
    names: list[sql.Composable] = []
    items: list[sql.Composable] = []
    for column in table.columns:
        if column.generated or column.name in omit:
            continue
        names.append(sql.Identifier(column.name))
        override = overrides.get(column.name)
        items.append(sql.SQL(override) if override else sql.SQL("t.{}").format(sql.Identifier(column.name)))
    statement = sql.SQL("INSERT INTO {} ({}) SELECT {} ").format(
        sql.Identifier(table.schema, table.name),
        sql.SQL(", ").join(names),
        sql.SQL(", ").join(items),
    ) + sql.SQL(source).format(**_params(**params))
    return max(conn.execute(statement).rowcount, 0)


_NOW_UTC = "now() AT TIME ZONE 'UTC'"
_SHIFT = "m.shift_days * interval '1 day'"


def _replay_games(conn: psycopg.Connection, games: int) -> dict[str, int]:
    conn.execute("DROP TABLE IF EXISTS pg_temp.fx_act_games")
    _exec(
        conn,
        """
        CREATE TEMP TABLE fx_act_games AS
        WITH bounds AS (
            SELECT greatest((SELECT max(game_date) FROM public.games),
                            (SELECT max(game_datetime::date) FROM splits.games)) AS max_date,
                   (SELECT coalesce(max(id), 0) FROM public.games) AS max_id,
                   greatest(
                       (SELECT max(mlb_stats_api_game_id::bigint) FROM public.games
                         WHERE mlb_stats_api_game_id ~ '^[0-9]+$'
                           AND length(mlb_stats_api_game_id) < 19),
                       (SELECT max(game_id::bigint) FROM splits.games
                         WHERE game_id ~ '^[0-9]+$' AND length(game_id) < 19),
                       0) AS max_pk
        ), src AS (
            SELECT p.id, p.mlb_stats_api_game_id, p.game_date, p.game_datetime
              FROM public.games p ORDER BY p.game_datetime DESC, p.id DESC LIMIT {games}
        ), numbered AS (
            SELECT src.*, row_number() OVER w AS rn,
                   count(src.mlb_stats_api_game_id) OVER w AS pk_rn
              FROM src WINDOW w AS (ORDER BY src.game_datetime, src.id)
        )
        SELECT n.id AS src_id, n.mlb_stats_api_game_id AS src_pk, b.max_id + n.rn AS new_id,
               CASE WHEN n.mlb_stats_api_game_id IS NOT NULL
                    THEN (b.max_pk + n.pk_rn)::text END AS new_pk,
               (b.max_date - (SELECT min(game_date) FROM numbered) + 1)::int AS shift_days
          FROM numbered n CROSS JOIN bounds b
        """,
        games=games,
    )
    out: dict[str, int] = {}
    out["public.games"] = _copy(
        conn,
        "public.games",
        "FROM public.games t JOIN pg_temp.fx_act_games m ON m.src_id = t.id",
        {
            "id": "m.new_id",
            "sportsbookreview_game_id": "'sbr-' || to_char(t.game_date + m.shift_days,"
            " 'YYYYMMDD') || '-' || t.away_team || '-' || t.home_team || '-' || m.new_id",
            "mlb_stats_api_game_id": "m.new_pk",
            "action_network_game_id": "t.action_network_game_id + 1000000",
            "game_date": "t.game_date + m.shift_days",
            "game_datetime": "t.game_datetime + " + _SHIFT,
            "created_at": "now()",
            "updated_at": "now()",
        },
    )
    out["splits.games"] = _copy(
        conn,
        "splits.games",
        "FROM splits.games t JOIN pg_temp.fx_act_games m ON m.src_pk = t.game_id"
        " JOIN public.games p ON p.id = m.src_id",
        {
            "id": "to_char(p.game_date + m.shift_days, 'YYYYMMDD') || '-' || t.away_team"
            " || '@' || t.home_team || '-' || coalesce(nullif(split_part(t.id, '-', 3), ''),"
            " '1') || CASE WHEN t.id ~ '^[0-9]{8}-' THEN '' ELSE '-' || m.new_pk END",
            "game_id": "m.new_pk",
            "game_datetime": "t.game_datetime + " + _SHIFT,
            "status": "p.game_status",
            "home_score": "p.home_score",
            "away_score": "p.away_score",
            "venue": "p.venue_name",
            "created_at": _NOW_UTC,
            "updated_at": _NOW_UTC,
        },
    )
    out["public.game_outcomes"] = _copy(
        conn,
        "public.game_outcomes",
        "FROM public.game_outcomes t JOIN pg_temp.fx_act_games m ON m.src_pk = t.game_id"
        " WHERE m.new_pk IS NOT NULL ORDER BY t.id",
        {
            "game_id": "m.new_pk",
            "game_date": "t.game_date + " + _SHIFT,
            "created_at": "now()",
            "updated_at": "now()",
        },
        omit=("id",),
    )
    for market in ("moneyline", "spreads", "totals"):
        qualname = f"mlb_betting.{market}"
        out[qualname] = _copy(
            conn,
            qualname,
            "FROM {tab} t JOIN pg_temp.fx_act_games m ON m.src_id = t.game_id ORDER BY t.id",
            {
                "game_id": "m.new_id",
                "odds_timestamp": "t.odds_timestamp + " + _SHIFT,
                "game_datetime": "t.game_datetime + " + _SHIFT,
                "created_at": "now()",
                "updated_at": "now()",
            },
            omit=("id",),
            tab=sql.Identifier("mlb_betting", market),
        )
    out["splits.raw_mlb_betting_splits"] = _copy(
        conn,
        "splits.raw_mlb_betting_splits",
        "FROM splits.raw_mlb_betting_splits t JOIN pg_temp.fx_act_games m"
        " ON m.src_pk = t.game_id WHERE m.new_pk IS NOT NULL",
        {
            "id": "(SELECT coalesce(max(id), 0) FROM splits.raw_mlb_betting_splits)"
            " + row_number() OVER (ORDER BY t.id, t.last_updated)",
            "game_id": "m.new_pk",
            "game_datetime": "t.game_datetime + " + _SHIFT,
            "last_updated": "t.last_updated + " + _SHIFT,
            "created_at": _NOW_UTC,
            "updated_at": _NOW_UTC,
        },
    )
    out["clean.betting_recommendations"] = _copy(
        conn,
        "clean.betting_recommendations",
        "FROM clean.betting_recommendations t JOIN pg_temp.fx_act_games m"
        " ON m.src_pk = t.game_id WHERE m.new_pk IS NOT NULL",
        {
            "id": "(SELECT coalesce(max(id), 0) FROM clean.betting_recommendations)"
            " + row_number() OVER (ORDER BY t.id)",
            "game_id": "m.new_pk",
            "game_datetime": "t.game_datetime + " + _SHIFT,
            "last_updated": "t.last_updated + " + _SHIFT,
            "created_at": _NOW_UTC,
        },
    )
    out["tracking.pre_game_recommendations"] = _copy(
        conn,
        "tracking.pre_game_recommendations",
        "FROM tracking.pre_game_recommendations t JOIN pg_temp.fx_act_games m"
        " ON m.src_pk = t.game_pk WHERE m.new_pk IS NOT NULL",
        {
            "recommendation_id": "'pgr_' || m.new_pk || '_' || lpad((row_number() OVER"
            " (ORDER BY t.recommendation_id))::text, 7, '0')",
            "game_pk": "m.new_pk",
            "game_datetime": "t.game_datetime + " + _SHIFT,
            "recommended_at": "t.recommended_at + " + _SHIFT,
            "created_at": "now()",
            "updated_at": "now()",
        },
    )
    conn.execute("DROP TABLE pg_temp.fx_act_games")
    return out


def _replay_sbr(conn: psycopg.Connection, pages: int) -> dict[str, int]:
    conn.execute("DROP TABLE IF EXISTS pg_temp.fx_act_pages")
    _exec(
        conn,
        """
        CREATE TEMP TABLE fx_act_pages AS
        WITH dated AS (
            SELECT id, coalesce(substring(source_url FROM 'date=([0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}})')
                                    ::date, scraped_at::date) AS page_date
              FROM public.sbr_raw_html
        ), src AS (
            SELECT * FROM dated ORDER BY id DESC LIMIT {pages}
        )
        SELECT src.id AS src_id, src.page_date,
               (SELECT max(id) FROM public.sbr_raw_html)
                   + row_number() OVER (ORDER BY src.id) AS new_id,
               ((SELECT max(page_date) FROM dated) - (SELECT min(page_date) FROM src) + 1)::int
                   AS shift_days
          FROM src
        """,
        pages=pages,
    )
    out: dict[str, int] = {}
    new_date = "to_char(m.page_date + m.shift_days, 'YYYY-MM-DD')"
    out["public.sbr_raw_html"] = _copy(
        conn,
        "public.sbr_raw_html",
        "FROM public.sbr_raw_html t JOIN pg_temp.fx_act_pages m ON m.src_id = t.id",
        {
            "id": "m.new_id",
            "source_url": "CASE WHEN t.source_url ~ 'date=[0-9-]+' THEN regexp_replace("
            "t.source_url, 'date=[0-9-]+', 'date=' || " + new_date + ") ELSE t.source_url"
            " || '#replay-' || m.new_id END",
            "html_content": "replace(t.html_content, to_char(m.page_date, 'YYYY-MM-DD'), " + new_date + ")",
            "scraped_at": "t.scraped_at + " + _SHIFT,
            "status": "'new'",
        },
    )
    out["public.sbr_parsed_games"] = _copy(
        conn,
        "public.sbr_parsed_games",
        "FROM public.sbr_parsed_games t JOIN pg_temp.fx_act_pages m ON m.src_id = t.raw_html_id",
        {
            "id": "(SELECT coalesce(max(id), 0) FROM public.sbr_parsed_games) + row_number() OVER (ORDER BY t.id)",
            "raw_html_id": "m.new_id",
            "game_data": "CASE WHEN t.game_data->>'game_date' ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$'"
            " THEN t.game_data || jsonb_build_object('game_date', to_char("
            "(t.game_data->>'game_date')::date + m.shift_days, 'YYYY-MM-DD'))"
            " ELSE t.game_data END",
            "parsed_at": "t.parsed_at + " + _SHIFT,
            "status": "'new'",
        },
    )
    conn.execute("DROP TABLE pg_temp.fx_act_pages")
    return out


def _replay_newest(
    conn: psycopg.Connection,
    qualname: str,
    shift: tuple[str, str, sql.Composable],
    overrides: dict[str, str],
    rows: int,
) -> int:
    """Copy the `rows` newest rows (by id; new ids from the default), shifted by m.shift:
    shift = (newest, oldest, step): max(newest) of the table - min(oldest) of those rows + step,
    so the copies start just after the table's newest row."""
    newest, oldest, step = shift
    return _copy(
        conn,
        qualname,
        """
        FROM (SELECT * FROM {table} ORDER BY id DESC LIMIT {rows}) AS t
        CROSS JOIN (SELECT (SELECT max({newest}) FROM {table}) - min(s.{oldest}) + {step} AS shift
                      FROM (SELECT {oldest} FROM {table} ORDER BY id DESC LIMIT {rows}) AS s) AS m
        ORDER BY t.id
        """,
        overrides,
        omit=("id",),
        rows=rows,
        table=sql.Identifier(*qualname.split(".")),
        newest=sql.Identifier(newest),
        oldest=sql.Identifier(oldest),
        step=step,
    )


def _replay_latest(conn: psycopg.Connection, rows: dict[str, int]) -> dict[str, int]:
    out: dict[str, int] = {}
    out["backtesting.strategy_performance"] = _copy(
        conn,
        "backtesting.strategy_performance",
        """
        FROM (SELECT * FROM backtesting.strategy_performance
               ORDER BY backtest_date DESC, id DESC LIMIT {rows}) AS t
        CROSS JOIN (SELECT max(backtest_date) AS newest FROM backtesting.strategy_performance)
            AS b
        CROSS JOIN LATERAL (SELECT b.newest - min(backtest_date) + 1 AS shift_days
            FROM (SELECT backtest_date FROM backtesting.strategy_performance
                   ORDER BY backtest_date DESC, id DESC LIMIT {rows}) AS s) AS m
        ORDER BY t.id
        """,
        {
            "backtest_date": "t.backtest_date + m.shift_days",
            "last_updated": "now()",
            "created_at": "now()",
        },
        omit=("id",),
        rows=rows["backtesting.strategy_performance"],
    )
    out["timing_analysis.timing_bucket_performance"] = _replay_newest(
        conn,
        "timing_analysis.timing_bucket_performance",
        ("analysis_end_date", "analysis_start_date", sql.SQL("1")),
        {
            "analysis_start_date": "t.analysis_start_date + m.shift",
            "analysis_end_date": "t.analysis_end_date + m.shift",
            "created_at": "now()",
            "updated_at": "now()",
        },
        rows["timing_analysis.timing_bucket_performance"],
    )
    out["backtesting.orchestrator_update_triggers"] = _replay_newest(
        conn,
        "backtesting.orchestrator_update_triggers",
        ("triggered_at", "triggered_at", sql.SQL("interval '1 hour'")),
        {"triggered_at": "t.triggered_at + m.shift"},
        rows["backtesting.orchestrator_update_triggers"],
    )
    return out


def add_activity(conn: psycopg.Connection, fraction: float = 0.01, seed: int = 7) -> dict[str, int]:
    """Insert and update about `fraction` of every mapped legacy table, as the app would.

    Returns {"<schema>.<table>.inserted": n, "<schema>.<table>.updated": n} for every
    mapped table (split with key.rsplit(".", 1)). Runs in one transaction.
    """
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    mapped = [t.qualname for t in catalog.mapped_tables()]
    with conn.transaction():
        _session_settings(conn)
        sqlfx.install(conn, seed)
        sizes = {name: _count(conn, name) for name in mapped}
        wanted = {name: max(1, round(fraction * n)) for name, n in sizes.items()}
        result: dict[str, int] = {}
        for name in mapped:
            result[f"{name}.updated"] = _update(conn, name, wanted[name]) if sizes[name] else 0
        inserted: dict[str, int] = {name: 0 for name in mapped}
        if sizes["public.games"]:
            inserted.update(_replay_games(conn, wanted["public.games"]))
        if sizes["public.sbr_raw_html"]:
            inserted.update(_replay_sbr(conn, wanted["public.sbr_raw_html"]))
        inserted.update(_replay_latest(conn, wanted))
        for name in mapped:
            result[f"{name}.inserted"] = inserted[name]
        ddl.sync_sequences(conn)
        sqlfx.uninstall(conn)
    return dict(sorted(result.items()))
