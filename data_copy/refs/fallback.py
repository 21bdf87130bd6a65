"""Table names in SQL the parser cannot read (another dialect, a cut or broken statement),
and in statements sqlglot keeps as plain text (LOCK, VACUUM, CREATE TRIGGER ...).

It reads sqlglot's tokens, so comments and string literals are never read: a name is
- a qualified name anywhere (`schema.table`, `db.schema.table`, parts quoted or not), not
  part of a longer dotted chain (`t.col`, `schema.table.col` are columns);
- an unqualified name right after FROM, JOIN, INTO, UPDATE, TABLE or ONLY, unless the
  statement names a CTE so (`WITH games AS (...)`), resolved through the search path.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlglot.tokenizer_core import Token, TokenType

from data_copy.refs import names
from data_copy.refs.found import TableRef

_TABLE_BEFORE = frozenset({"FROM", "JOIN", "INTO", "UPDATE", "TABLE", "ONLY"})
_NAME_TOKENS = frozenset({TokenType.VAR, TokenType.IDENTIFIER})


def _part(token: Token) -> str | None:
    """An identifier token as PostgreSQL reads it (keywords can be names after a dot)."""
    if token.token_type == TokenType.IDENTIFIER:  # "Quoted"
        return token.text
    if token.token_type == TokenType.VAR or token.text.isidentifier():
        return token.text.lower()
    return None


def _shown(token: Token) -> str:
    return f'"{token.text}"' if token.token_type == TokenType.IDENTIFIER else token.text


def _cte_names(tokens: Sequence[Token]) -> set[str]:
    """Names declared `name AS (` after WITH or a comma: CTEs, not tables."""
    found: set[str] = set()
    for i in range(1, len(tokens) - 2):
        before, name, alias, paren = tokens[i - 1], tokens[i], tokens[i + 1], tokens[i + 2]
        if before.token_type not in (TokenType.WITH, TokenType.COMMA) and before.text.upper() != "RECURSIVE":
            continue
        if alias.token_type == TokenType.ALIAS and paren.token_type == TokenType.L_PAREN:
            part = _part(name)
            if part:
                found.add(part)
    return found


def _chain(tokens: Sequence[Token], i: int) -> int:
    """Index one past the dotted chain starting at tokens[i] (a.b.c -> 5 tokens)."""
    j = i + 1
    while j + 1 < len(tokens) and tokens[j].token_type == TokenType.DOT and _part(tokens[j + 1]) is not None:
        j += 2
    return j


def table_names(
    tokens: Sequence[Token],
    base: int,
    search_path: Sequence[str],
    database: str | None,
    how: str,
    *,
    unqualified: bool = True,
) -> list[TableRef]:
    """The mapped legacy tables `tokens` name (see the module doc), each at base + its offset."""
    ctes = _cte_names(tokens) if unqualified else set()
    found: list[TableRef] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if _part(token) is None or (i > 0 and tokens[i - 1].token_type == TokenType.DOT):
            i += 1
            continue
        end = _chain(tokens, i)
        parts = [_part(tokens[k]) for k in range(i, end, 2)]
        after_keyword = i > 0 and tokens[i - 1].text.upper() in _TABLE_BEFORE
        resolved: names.Resolved | None = None
        if len(parts) in (2, 3):
            catalog = parts[0] if len(parts) == 3 else None
            resolved = names.resolve(catalog, parts[-2], str(parts[-1]), search_path, database)
        elif len(parts) == 1 and unqualified and after_keyword and token.token_type in _NAME_TOKENS:
            if parts[0] not in ctes:
                resolved = names.resolve(None, None, str(parts[0]), search_path, database)
        if resolved is not None:
            written = ".".join(_shown(tokens[k]) for k in range(i, end, 2))
            found.append(
                TableRef(
                    base + token.start,
                    resolved.qualified,
                    written,
                    how,
                    other_database=resolved.other_database,
                )
            )
        i = end
    return found
