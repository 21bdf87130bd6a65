"""Deterministic pseudo-random helpers, as session-local SQL functions.

`pg_temp.fx_rand(n, salt)` maps a row number and a salt to a uniform double in [0, 1)
through hashint8extended (PostgreSQL's stable 64-bit hash, the one hash partitioning
relies on), keyed by the fixture's seed. The functions are plain SQL, so the planner
inlines them into the INSERT ... SELECT statements that generate the data.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

SEED_STRIDE = 1_000_003


def install(conn: psycopg.Connection, seed: int) -> None:
    conn.execute(
        sql.SQL(
            """
            CREATE OR REPLACE FUNCTION pg_temp.fx_rand(n bigint, salt bigint)
            RETURNS double precision LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
            $fx$ SELECT (hashint8extended(n, {key} + salt) & 2147483647)::double precision
                        / 2147483648.0 $fx$
            """
        ).format(key=sql.Literal(seed * SEED_STRIDE))
    )
    conn.execute(
        """
        CREATE OR REPLACE FUNCTION pg_temp.fx_pick(options text[], r double precision)
        RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
        $fx$ SELECT options[1 + floor(r * cardinality(options))::int] $fx$
        """
    )
    conn.execute(
        """
        CREATE OR REPLACE FUNCTION pg_temp.fx_american(p double precision)
        RETURNS integer LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
        $fx$ SELECT CASE WHEN p >= 0.5 THEN -round(100.0 * p / (1.0 - p))::int
                         ELSE round(100.0 * (1.0 - p) / p)::int END $fx$
        """
    )


def uninstall(conn: psycopg.Connection) -> None:
    conn.execute("DROP FUNCTION IF EXISTS pg_temp.fx_rand(bigint, bigint)")
    conn.execute("DROP FUNCTION IF EXISTS pg_temp.fx_pick(text[], double precision)")
    conn.execute("DROP FUNCTION IF EXISTS pg_temp.fx_american(double precision)")
