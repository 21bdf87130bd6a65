"""test_decoding's output lines, parsed in Python: which table, which operation, which keys.

A change line looks like `table s.t: UPDATE: old-key: id[integer]:5 new-tuple: id[integer]:7
note[text]:'it''s' n[integer]:null`. Every `name[type]:value` token is matched left to
right (`TOKEN`): a quoted value is consumed whole ('' inside it is a quote), so text that
looks like a token inside a value is never read as one. A table whose integer key is its
first column has its keys read by position (`_leading_keys`), not by a scan of every token
of a wide row.

Parsed here rather than with regular expressions inside PostgreSQL: the medium fixture's
1 % change (49,983 output rows) took 2.15 s to buffer server-side, against 0.8 s to read
and parse here (bench/ANALYSIS.md).
"""

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass

# name (quoted identifier or plain), [type] (array types end in []), value (quoted or bare)
TOKEN = re.compile(r"""("(?:[^"]|"")*"|[^\s\["]+)\[[^\]]*(?:\[\])*\]:('(?:[^']|'')*'|\S*)""")
NEW_TUPLE = "new-tuple:"
OPS = {"INSERT": "I", "UPDATE": "U", "DELETE": "D", "TRUNCATE": "T"}


@dataclass(frozen=True)
class Table:
    """A mapped legacy table as the slot prints it (names quoted by the server's
    quote_ident, as test_decoding quotes them: keywords too)."""

    name: str  # schema.table, as the catalog names it
    key: str  # the mapping's key column
    prefix: str  # `table "s"."t": `
    printed_key: str  # the key column's name as printed
    leading: bool = False  # its integer key is its first column, printed as it is


@dataclass(frozen=True)
class Change:
    """One change to a mapped table: its keys (the old one first, for an UPDATE that changed
    the key; None for a DELETE that prints none; none for a TRUNCATE)."""

    table: str
    op: str  # I, U, D or T
    keys: tuple[str | None, ...]


def _value(printed: str) -> str | None:
    if printed.startswith("'"):
        return printed[1:-1].replace("''", "'")
    return None if printed == "null" else printed


def prefixes(tables: Collection[Table]) -> dict[str, Table]:
    """The prefix test_decoding prints for each table, to its table."""
    return {t.prefix: t for t in tables}


def table_of(line: str, by_prefix: Mapping[str, Table]) -> tuple[Table, str] | None:
    """(the mapped table, the rest of the line after its prefix), or None for any other line."""
    if not line.startswith("table "):
        return None
    end = line.find(": ", 6)
    if end > 0:
        table = by_prefix.get(line[: end + 2])
        if table is not None:
            return table, line[end + 2 :]
    for prefix, table in by_prefix.items():  # a quoted name holding ": " itself
        if line.startswith(prefix):
            return table, line[len(prefix) :]
    return None


def _leading_keys(t: Table, rest: str) -> tuple[str, ...] | None:
    """The keys of a leading-key table's change, read by position (no scan of the row), or
    None when the line is not in the expected shape (then the token scan reads it)."""
    words = rest.split(" ", 5)
    if len(words) < 2:
        return None
    tokens = [words[1]]
    if words[1] == "old-key:" and len(words) >= 5 and words[3] == NEW_TUPLE:
        tokens = [words[2], words[4]]
    keys = []
    for token in tokens:
        name, _, value = token.partition("]:")
        if not name.startswith(t.printed_key + "[") or not value.lstrip("-").isdigit():
            return None
        keys.append(value)
    return tuple(keys)


def parse(t: Table, rest: str) -> Change | None:
    """The change in `rest` (a line after its table's prefix); None for an operation this
    parser does not know (never one of INSERT, UPDATE, DELETE, TRUNCATE)."""
    op_word, _, body = rest.partition(": ")
    op = OPS.get(op_word)
    if op is None:
        return None
    if op == "T":
        return Change(t.name, op, ())
    if body.startswith("(no-tuple-data)"):
        return Change(t.name, op, (None,))
    if t.leading:
        keys = _leading_keys(t, rest)
        if keys is not None:
            return Change(t.name, op, keys)
    old: list[str | None] = []
    new: list[str | None] = []
    in_old = body.startswith("old-key:")
    last = 0
    for match in TOKEN.finditer(body):
        if in_old and NEW_TUPLE in body[last : match.start()]:
            in_old = False
        last = match.end()
        if match.group(1) == t.printed_key:
            (old if in_old else new).append(_value(match.group(2)))
    return Change(t.name, op, tuple(old + new) or (None,))
