"""SQL built at run time: reported as dynamic, with file and line."""


def by_schema(conn, schema: str):
    return conn.execute(f"SELECT * FROM {schema}.games").fetchall()  # DYN


def by_table(conn, table: str):
    return conn.execute("SELECT count(*) FROM " + table).fetchone()  # DYN


def by_percent(conn, table: str):
    return conn.execute("DELETE FROM %s WHERE id = 1" % table)  # DYN


def by_format(conn, table: str):
    return conn.execute("SELECT * FROM {} LIMIT 5".format(table))  # DYN


def values_only(conn, game_id: int, limit: int):
    # run-time values, static tables: a reference, not dynamic
    return conn.execute(f"SELECT * FROM splits.games WHERE id = {game_id} LIMIT {limit}")  # REF splits.games


def where_clause(conn, cond: str):
    # a whole condition could hold a subquery on any table
    return conn.execute(
        f"""SELECT * FROM core_betting.games
        WHERE {cond}"""  # DYN
    )
