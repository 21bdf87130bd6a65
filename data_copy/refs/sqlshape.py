"""Is this text SQL? Statement boundaries and the shape of a statement's first tokens.

Python strings are SQL when they start, after comments, with a statement keyword (or a
FROM / JOIN fragment) followed by what PostgreSQL's grammar needs there; sqlglot's
tokenizer does the reading, so comments and string literals are never taken for SQL.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from sqlglot.dialects.postgres import Postgres
from sqlglot.tokenizer_core import Token, TokenType

_DIALECT = Postgres()

# the statements that read or write table rows (PL/pgSQL bodies embed these)
DML_STARTS = frozenset(
    {
        TokenType.SELECT,
        TokenType.WITH,
        TokenType.INSERT,
        TokenType.UPDATE,
        TokenType.DELETE,
        TokenType.MERGE,
        TokenType.TRUNCATE,
    }
)
STATEMENT_STARTS = DML_STARTS | frozenset(
    {
        TokenType.CREATE,
        TokenType.ALTER,
        TokenType.DROP,
        TokenType.COPY,
        TokenType.GRANT,
        TokenType.REVOKE,
        TokenType.COMMENT,
        TokenType.REFRESH,
        TokenType.SET,
        TokenType.TABLE,
        TokenType.VALUES,
        TokenType.COMMAND,  # CALL, DO, EXPLAIN, ANALYZE, VACUUM, LOCK ... as sqlglot names them
        TokenType.DESCRIBE,
        TokenType.LOCK,
        TokenType.ANALYZE,
        TokenType.REPLACE,  # SQLite / DuckDB's REPLACE INTO: read, then reported as not PostgreSQL
    }
)
JOIN_WORDS = frozenset({TokenType.LEFT, TokenType.RIGHT, TokenType.INNER, TokenType.FULL, TokenType.CROSS})
FRAGMENT_STARTS = {TokenType.FROM: "SELECT * ", TokenType.JOIN: "SELECT * FROM _refs_fragment_ "}


def tokenize(text: str) -> list[Token]:
    return list(_DIALECT.tokenize(text))


def split_statements(tokens: Sequence[Token]) -> Iterator[list[Token]]:
    current: list[Token] = []
    for token in tokens:
        if token.token_type == TokenType.SEMICOLON:
            if current:
                yield current
            current = []
        else:
            current.append(token)
    if current:
        yield current


def looks_like_sql(tokens: Sequence[Token]) -> bool:
    """A statement keyword first, and PostgreSQL's grammar right after it (so that prose
    such as "Delete old rows from ..." or "With that, ..." is not taken for SQL)."""
    if not tokens:
        return False
    first = tokens[0].token_type
    if first == TokenType.L_PAREN:  # (SELECT ...) UNION (SELECT ...)
        return len(tokens) > 2 and tokens[1].token_type in (TokenType.SELECT, TokenType.WITH)
    if first in FRAGMENT_STARTS:
        return len(tokens) > 1
    if first in JOIN_WORDS:  # LEFT JOIN ..., INNER JOIN ..., a fragment
        return any(t.token_type == TokenType.JOIN for t in tokens[1:3])
    if first not in STATEMENT_STARTS:
        return False
    if _is_title_case_prose(tokens):
        return False
    if first == TokenType.COMMAND and tokens[0].text.upper() not in {"CALL", "DO", "EXPLAIN", "VACUUM", "REFRESH"}:
        return False
    nxt = tokens[1].token_type if len(tokens) > 1 else None
    if first == TokenType.DELETE:
        return nxt == TokenType.FROM
    if first == TokenType.INSERT:  # INSERT INTO; SQLite / DuckDB's INSERT OR REPLACE INTO too
        return nxt == TokenType.INTO or (
            nxt == TokenType.OR and any(t.token_type == TokenType.INTO for t in tokens[2:4])
        )
    if first == TokenType.REPLACE:
        return nxt == TokenType.INTO
    if first == TokenType.UPDATE:
        return any(t.token_type == TokenType.SET for t in tokens[2:])
    if first == TokenType.WITH:
        return len(tokens) > 3 and (
            tokens[1].text.upper() == "RECURSIVE" or tokens[2].token_type in (TokenType.ALIAS, TokenType.L_PAREN)
        )
    if first == TokenType.SELECT:
        return nxt is not None
    return nxt is not None


_SQL_PUNCTUATION = frozenset("*=(),;<>")


def _is_title_case_prose(tokens: Sequence[Token]) -> bool:
    """'Select the games from splits.games': a sentence (the first word capitalised as in
    prose, no SQL punctuation anywhere) rather than SQL (`SELECT`, `select`, `Select a, b`)."""
    word = tokens[0].text
    if not (len(word) > 1 and word[0].isupper() and word[1:].islower()):
        return False
    return not any(t.text in _SQL_PUNCTUATION for t in tokens)


_SQL_START = re.compile(
    r"\s*(?:(?:--[^\n]*(?:\n|$)|/\*.*?\*/)\s*)*\(?\s*(?:select|with|insert|update|delete|merge|create|alter|drop"
    r"|truncate|copy|grant|revoke|comment|refresh|set|table|values|call|do|explain|analyze|vacuum|lock|from|join|replace"
    r"|left|right|inner|full|cross|describe)\b",
    re.IGNORECASE | re.DOTALL,
)


def may_be_sql(text: str) -> bool:
    """A cheap first look: does `text` start (after comments) with an SQL keyword?"""
    return _SQL_START.match(text) is not None
