"""One connection pool for the whole application.

Every repository reads through here; see game_repository for public.game_outcomes.  # DECOY
"""

import logging

import psycopg
from psycopg_pool import ConnectionPool

from mlb_app.config import DATABASE_URL

logger = logging.getLogger(__name__)
_pool: ConnectionPool | None = None


def pool() -> ConnectionPool:
    global _pool
    if _pool is None:
        logger.info("opening pool for %s", DATABASE_URL)
        _pool = ConnectionPool(DATABASE_URL, min_size=1, max_size=4)
    return _pool


def execute(query: str, params: tuple | None = None) -> list[tuple]:
    with pool().connection() as conn:
        try:
            return conn.execute(query, params).fetchall()
        except psycopg.errors.UndefinedTable:
            logger.error("table missing: check splits.games and public.games")  # DECOY
            raise
