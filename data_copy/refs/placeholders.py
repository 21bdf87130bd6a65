"""Run-time parts of SQL text (found.Placeholder) inside a parsed statement.

A placeholder in a table position is safe when its value is known: a registry call (the
new way), or one of a few string literals (`candidates`: a constant, a property
returning one, a literal argument of `.format`). The literals are then read as table
names in that position, and each legacy one is a `name` finding at the literal's own
line. A placeholder standing for a whole condition, a clause or SQL text makes the
statement dynamic; one inside a string literal or standing for a value does not.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping

from sqlglot import exp

from data_copy.refs import names
from data_copy.refs.found import PLACEHOLDER_PREFIX, Literal, Placeholder

PATTERN = re.compile(PLACEHOLDER_PREFIX + r"(\d+)__", re.IGNORECASE)
_CONDITION_PARENTS = (exp.Where, exp.Having, exp.And, exp.Or, exp.Not, exp.Join)
_MAX_COMBINATIONS = 64


def ids(text: str) -> set[int]:
    return {int(m.group(1)) for m in PATTERN.finditer(text)}


def _known(placeholder: Placeholder | None) -> bool:
    return placeholder is not None and (placeholder.table is not None or bool(placeholder.candidates))


def unsafe(tree: exp.Expr, stmt: str, placeholders: Mapping[int, Placeholder]) -> list[tuple[int, str, int | None]]:
    """(placeholder id, where, offset) for each placeholder that may change which tables are read."""
    seen: set[int] = set()
    found: list[tuple[int, str, int | None]] = []
    for node in tree.walk():
        if isinstance(node, exp.Literal) and node.is_string:
            seen |= ids(node.this)
            continue
        if not isinstance(node, exp.Identifier):
            continue
        here = ids(node.this)
        if not here:
            continue
        seen |= here
        parent = node.parent
        at = node.meta.get("start")
        if isinstance(parent, exp.Table):
            found.extend((i, "a table name", at) for i in here if not _known(placeholders.get(i)))
        elif isinstance(parent, exp.Column):
            if isinstance(parent.parent, _CONDITION_PARENTS) and parent.args.get("this") is node:
                found.extend((i, "a whole condition", at) for i in here)
        else:
            found.extend((i, "a clause", at) for i in here)
    missing = (ids(stmt) & set(placeholders)) - seen
    found.extend((i, "SQL text", None) for i in sorted(missing))
    return found


def written(table: exp.Table) -> str:
    """A table's name as written: `"Splits".games`, `db.schema.t`."""
    parts = [table.args.get(k) for k in ("catalog", "db", "this")]
    return ".".join(f'"{p.this}"' if p.quoted else p.this for p in parts if isinstance(p, exp.Identifier))


def expand(table: exp.Table, placeholders: Mapping[int, Placeholder]) -> list[tuple[names.Name, Literal]] | None:
    """The names a table position holding placeholders may read, each with the literal that
    brought it in (the last placeholder's); None when a placeholder's value is not known
    as literals (a registry table, or not known at all)."""
    text = written(table)
    used = sorted(ids(text), key=lambda i: text.find(f"{PLACEHOLDER_PREFIX}{i}__"))
    choices: list[tuple[Literal, ...]] = []
    for i in used:
        p = placeholders.get(i)
        if p is None or not p.candidates:
            return None
        choices.append(p.candidates)
    found: list[tuple[names.Name, Literal]] = []
    for combination in itertools.islice(itertools.product(*choices), _MAX_COMBINATIONS):
        filled = text
        for i, literal in zip(used, combination, strict=True):
            filled = filled.replace(f"{PLACEHOLDER_PREFIX}{i}__", literal.value.strip())
        name = names.parse(filled)
        if name is not None and combination:
            found.append((name, combination[-1]))
    return found
