"""The row hash: how validation and the ownership baseline both hash a row.

Each type's own hash function: no text conversion, and independent of session settings
such as TimeZone or DateStyle. Validation (validation/) and the ownership baseline
(state/ownership.py) hash and select rows exactly the same way, so this is their one place.

Two forms, numbered; hashes stored in the database name theirs (state/hash_form.py):

1. `hash_record_extended(ROW(c1, ..., cn), 0)`: the row built, then each value hashed.
2. (FORM) each column's hash function called on its value with the column's position as
   the seed (a value moved to another column changes the hash), NULL a constant of its
   position, the n hashes XOR-ed. No row is built: on the large bench tables 22-33 %
   cheaper than form 1 (bench/ANALYSIS.md). A type without a function here is hashed
   as a one-column record.
"""

from collections.abc import Sequence

from psycopg import sql

from data_copy.mapping_sql.projection import Part

FORM = 2
FORMS = (1, 2)

# base type -> its hash function, called as fn(value, seed) (the catalog's types, by name)
_FUNCTIONS = {
    "smallint": "hashint2extended",
    "integer": "hashint4extended",
    "bigint": "hashint8extended",
    "text": "hashtextextended",
    "character varying": "hashtextextended",
    "character": "hashbpcharextended",
    "numeric": "hash_numeric_extended",
    "double precision": "hashfloat8extended",
    "real": "hashfloat4extended",
    "timestamp without time zone": "timestamp_hash_extended",
    "jsonb": "jsonb_hash_extended",
    "uuid": "uuid_hash_extended",
}


def _mix(n: int) -> int:
    """splitmix64 of n, as a signed 64-bit integer: well-spread constants for the booleans."""
    z = (n * 0x9E3779B97F4A7C15) % 2**64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) % 2**64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) % 2**64
    z ^= z >> 31
    return z - 2**64 if z >= 2**63 else z


def _base(type_: str) -> str:
    return type_.split("(", 1)[0].strip()


def _column_hash(type_: str, value: sql.Composable, position: int) -> sql.Composable:
    seed = sql.Literal(position)
    base = _base(type_)
    if base == "boolean":  # two values: a constant each, no call
        return sql.SQL("CASE WHEN {v} THEN {t} WHEN NOT {v} THEN {f} ELSE {n} END").format(
            v=value, t=sql.Literal(_mix(2 * position)), f=sql.Literal(_mix(2 * position + 1)), n=sql.Literal(-position)
        )
    if base == "timestamp with time zone":  # the same microseconds as timestamp's, shifted by zero
        hashed = sql.SQL("timestamp_hash_extended({} AT TIME ZONE INTERVAL '00:00', {})").format(value, seed)
    elif base == "date":  # days since 2000-01-01, date's own representation
        hashed = sql.SQL("hashint4extended({} - DATE '2000-01-01', {})").format(value, seed)
    elif base in _FUNCTIONS:
        hashed = sql.SQL("{}({}, {})").format(sql.Identifier("pg_catalog", _FUNCTIONS[base]), value, seed)
    else:
        hashed = sql.SQL("hash_record_extended(ROW({}), {})").format(value, seed)
    return sql.SQL("coalesce({}, {})").format(hashed, sql.Literal(-position))


def row_hash(part: Part, values: Sequence[sql.Composable], form: int = FORM) -> sql.Composed:
    """The hash of one row of the part: `values` are its hashed columns' values, in order."""
    if form == 1:
        return sql.SQL("hash_record_extended(ROW({}), 0)").format(sql.SQL(", ").join(values))
    types = [part.target.column(c).type for c in part.hashed_columns()]
    return sql.SQL("({})").format(
        sql.SQL(" # ").join(_column_hash(t, v, i) for i, (t, v) in enumerate(zip(types, values, strict=True), 1))
    )


def source_hash(part: Part, form: int = FORM) -> sql.Composed:
    """The hash of what a legacy row becomes (the projection over `s`)."""
    return row_hash(part, part.exprs, form)


def target_hash(part: Part, alias: str = "t", form: int = FORM) -> sql.Composed:
    """The hash of a new table's row aliased `alias`."""
    return row_hash(part, [sql.Identifier(alias, c) for c in part.hashed_columns()], form)


def unmapped_columns(part: Part) -> list[str]:
    """The new table's columns the part does not write: what only the application adds."""
    hashed = set(part.hashed_columns())
    return [c.name for c in part.target.columns if c.name not in hashed]


def unmapped_hash(part: Part, alias: str = "t") -> sql.Composable:
    """The hash of a new table's row's unmapped columns (0 for a table without any): the
    baseline keeps it beside the row hash, so that a row the application changed only
    there is still the application's (state/ownership.py)."""
    columns = unmapped_columns(part)
    if not columns:
        return sql.SQL("CAST(0 AS bigint)")
    return sql.SQL("({})").format(
        sql.SQL(" # ").join(
            _column_hash(part.target.column(c).type, sql.Identifier(alias, c), i) for i, c in enumerate(columns, 1)
        )
    )
