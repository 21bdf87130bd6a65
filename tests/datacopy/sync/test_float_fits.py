"""A double precision legacy value that must fit numeric(p,s) (mapping_sql/projection.py):
the one-conversion test gives exactly the three-conversion one's answer on a real
PostgreSQL, for the values where they could part: near the limit on either side of the
band, with more decimals than the scale, tiny and huge exponents, NaN, the infinities."""

from __future__ import annotations

import psycopg
from psycopg import sql

from data_copy.mapping_sql.projection import _float_fits_numeric, _type_fits

VALUES = [
    "0", "-0", "0.1", "0.125", "1.005", "12.345", "12.3456", "-12.3456", "99.999", "99.9995", "99.99999999999",
    "99.999999999999", "99.9999999999999", "99.99999999999999", "100", "100.000000000001", "100.00000000000001",
    "1e-7", "1.5e-3", "5e-324", "1e20", "-1e20", "123456789012345678", "999999.995", "999999.99", "1000000",
    "0.30000000000000004", "NaN", "Infinity", "-Infinity",
]  # fmt: skip


def test_the_float_test_agrees_with_the_exact_one_at_every_edge(fresh_dsn: str) -> None:
    with psycopg.connect(fresh_dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE s (x double precision)")
        conn.execute("INSERT INTO s SELECT CAST(v AS double precision) FROM unnest(CAST(%s AS text[])) AS v", (VALUES,))
        conn.execute("INSERT INTO s SELECT x * f FROM s, unnest(ARRAY[0.999999999999999, 1.000000000000001]) AS f")
        checked = 0
        for precision, scale in ((5, 3), (8, 2), (3, 1), (12, 2), (5, 4)):
            limit = 10 ** (precision - scale)
            exact = _type_fits(sql.Identifier("s", "x"), "numeric", f"numeric({precision},{scale})")
            assert exact is not None  # the general (three-conversion) form, as any other source gets
            fast = _float_fits_numeric(sql.Identifier("s", "x"), limit, scale)
            rows = conn.execute(sql.SQL("SELECT x::text, ({}), ({}) FROM s").format(exact, fast)).fetchall()
            differ = [(x, e, f) for x, e, f in rows if e is not f]
            assert not differ, (precision, scale, differ)
            checked += len(rows)
            # both tests let some values through and keep some out
            assert {e for _, e, _ in rows} == {True, False}
        assert checked == 5 * 3 * len(VALUES)
