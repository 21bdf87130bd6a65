"""One-off: backfill the splits of a season (psycopg's sql module)."""

import sys

import psycopg
from psycopg import sql

SOURCE = sql.Identifier("splits", "raw_mlb_betting_splits")  # REF(name) splits.raw_mlb_betting_splits


def backfill(conn: psycopg.Connection, season: int) -> None:
    conn.execute(
        sql.SQL("INSERT INTO {} SELECT * FROM {} WHERE season = %s").format(
            sql.Identifier("raw_data", "raw_mlb_betting_splits"), SOURCE
        ),
        (season,),
    )
    conn.execute(
        sql.SQL("DELETE FROM {} WHERE season = %s").format(
            sql.Identifier("Splits", "Games")  # DECOY (quoted: another table)
        ),
        (season,),
    )


def backfill_table(conn: psycopg.Connection, table: str) -> None:
    conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(*table.split("."))))  # DYN


if __name__ == "__main__":
    with psycopg.connect(sys.argv[1]) as connection:
        backfill(connection, int(sys.argv[2]))
