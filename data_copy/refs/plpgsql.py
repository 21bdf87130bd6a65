"""Where the SQL is inside routines and PL/pgSQL: token work only, no scanning.

- `routine`: a CREATE [OR REPLACE] FUNCTION / PROCEDURE statement, read from its tokens
  (sqlglot keeps many of them as plain Commands: RETURNS trigger, SETOF, COST ...): its
  body, the body's language (quoted or not, any case), its own `SET search_path`, and
  the signature's tokens (argument and return types can be a table's row type).
- `do_block`: a DO statement's body and language.
- `pieces`: the SQL a PL/pgSQL body runs. sqlglot does not parse PL/pgSQL, so its tokenizer
  finds where each embedded statement starts (SELECT, WITH, INSERT, UPDATE, DELETE,
  MERGE, TRUNCATE, PERFORM) and where it ends (`;`, the `)` closing an enclosing
  expression, or THEN / LOOP outside a CASE). `RETURNING ... INTO var` is cut before INTO.
  EXECUTE of a constant string is a piece; EXECUTE of anything else is dynamic.
  `schema.table%ROWTYPE` / `schema.table.col%TYPE` declarations name the table too.

sqlscan composes these with its scanner; nothing here imports it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from sqlglot.errors import SqlglotError
from sqlglot.tokenizer_core import Token, TokenType

from data_copy.refs.sqlshape import DML_STARTS, tokenize

_ENDS = {"THEN", "LOOP"}
_BODY_TOKENS = (TokenType.HEREDOC_STRING, TokenType.STRING)


@dataclass(frozen=True)
class Routine:
    body: str
    offset: int  # of the body in the statement's text
    language: str
    search_path: str | None  # the routine's own SET search_path, as written
    signature: list[Token]  # the tokens before the body, the routine's own name left out


@dataclass(frozen=True)
class Piece:
    """One statement of a PL/pgSQL body: `kind` sql (text to scan), dynamic, or type."""

    kind: str
    offset: int  # in the body
    text: str


def _language(tokens: Sequence[Token]) -> str:
    for i, token in enumerate(tokens[:-1]):
        if token.text.upper() == "LANGUAGE":
            return tokens[i + 1].text.strip("'\"").lower()
    return "sql"


def _search_path(tokens: Sequence[Token]) -> str | None:
    """`SET search_path TO a, b` / `= 'a, b'` among a routine's options."""
    for i in range(len(tokens) - 2):
        if tokens[i].token_type != TokenType.SET or tokens[i + 1].text.lower() != "search_path":
            continue
        values: list[str] = []
        for token in tokens[i + 3 :]:
            if token.token_type == TokenType.COMMA:
                continue
            if token.token_type not in (TokenType.VAR, TokenType.IDENTIFIER, TokenType.STRING):
                break
            if values and token.text.upper() in ("AS", "LANGUAGE", "SECURITY", "COST", "SET"):
                break
            values.append(f'"{token.text}"' if token.token_type == TokenType.IDENTIFIER else token.text)
        return ", ".join(values) or None
    return None


def routine(text: str, tokens: Sequence[Token]) -> Routine | None:
    """The routine a CREATE statement's tokens define (None: not a routine, or no body)."""
    words = [t.text.upper() for t in tokens[:4]]
    if not words or words[0] != "CREATE":
        return None
    at = 3 if words[1:3] == ["OR", "REPLACE"] else 1
    if len(words) <= at or words[at] not in ("FUNCTION", "PROCEDURE"):
        return None
    body_at = next(
        (
            k
            for k in range(at + 1, len(tokens))
            if tokens[k].token_type in _BODY_TOKENS and tokens[k - 1].token_type == TokenType.ALIAS
        ),
        None,
    )
    if body_at is None:
        return None  # BEGIN ATOMIC ... END, or C's 'obj_file', 'symbol'
    body = tokens[body_at]
    offset = text.find(body.text, tokens[body_at - 1].end + 1)
    name_end = next((k for k in range(at + 1, len(tokens)) if tokens[k].token_type == TokenType.L_PAREN), at + 1)
    signature = [t for k, t in enumerate(tokens) if k >= name_end and k != body_at]
    return Routine(body.text, max(offset, 0), _language(tokens), _search_path(tokens), signature)


def do_block(stmt: str) -> tuple[str, int, str] | None:
    """(body, offset in `stmt`, language) of the text after DO."""
    try:
        tokens = tokenize(stmt)
    except SqlglotError:
        return None
    language = "plpgsql"
    for i, token in enumerate(tokens[:-1]):
        if token.text.upper() == "LANGUAGE":
            language = tokens[i + 1].text.strip("'\"").lower()
    for token in tokens:
        if token.token_type in _BODY_TOKENS:
            offset = stmt.find(token.text, token.start)
            return token.text, max(offset, 0), language
    return None


def _segment_end(tokens: Sequence[Token], start: int) -> int:
    """Index one past the last token of the SQL statement starting at tokens[start]."""
    depth = cases = 0
    for k in range(start + 1, len(tokens)):
        kind, word = tokens[k].token_type, tokens[k].text.upper()
        if kind == TokenType.L_PAREN:
            depth += 1
        elif kind == TokenType.R_PAREN:
            if depth == 0:
                return k
            depth -= 1
        elif kind == TokenType.CASE:
            cases += 1
        elif kind == TokenType.END and cases:
            cases -= 1
        elif depth == 0 and (kind == TokenType.SEMICOLON or (word in _ENDS and not cases)):
            return k
    return len(tokens)


def _without_returning_into(tokens: Sequence[Token], start: int, end: int) -> int:
    """`... RETURNING id INTO v`: the end of the SQL part (before INTO), else `end`."""
    returning = next((k for k in range(start, end) if tokens[k].text.upper() == "RETURNING"), None)
    if returning is None:
        return end
    return next((k for k in range(returning, end) if tokens[k].token_type == TokenType.INTO), end)


def _execute(body: str, execute: Token, rest: Token | None) -> Piece:
    """EXECUTE <rest>: the tokenizer keeps the rest of the statement as one token."""
    if rest is None:
        return Piece("dynamic", execute.start, "")
    offset = max(body.find(rest.text, execute.end + 1), 0)
    try:
        parts = tokenize(rest.text)
    except SqlglotError:
        parts = []
    if (
        parts
        and parts[0].token_type in _BODY_TOKENS
        and (len(parts) == 1 or parts[1].text.upper() in ("INTO", "USING"))
    ):
        inner = rest.text.find(parts[0].text)
        return Piece("sql", offset + max(inner, 0), parts[0].text)
    return Piece("dynamic", execute.start, "PL/pgSQL EXECUTE of a string built at run time")


def _declarations(body: str, tokens: Sequence[Token]) -> Iterator[tuple[Token, int]]:
    """The tokens, with DECLARE's first declaration (kept by the tokenizer as one string)
    tokenized again; each with its offset in `body`."""
    for i, token in enumerate(tokens):
        if token.text.upper() == "DECLARE" and token.token_type == TokenType.COMMAND:
            yield token, token.start
            rest = tokens[i + 1] if i + 1 < len(tokens) else None
            if rest is not None and rest.token_type == TokenType.STRING:
                at = max(body.find(rest.text, token.end + 1), 0)
                try:
                    yield from ((t, at + t.start) for t in tokenize(rest.text))
                except SqlglotError:
                    pass
            continue
        if i > 0 and tokens[i - 1].text.upper() == "DECLARE" and tokens[i - 1].token_type == TokenType.COMMAND:
            continue
        yield token, token.start


def _types(body: str, tokens: Sequence[Token]) -> Iterator[Piece]:
    """`a.b%ROWTYPE`, `a.b.c%TYPE`: the dotted name before the `%`."""
    flat = list(_declarations(body, tokens))
    for k in range(1, len(flat) - 1):
        if flat[k][0].token_type != TokenType.MOD or flat[k + 1][0].text.upper() not in ("ROWTYPE", "TYPE"):
            continue
        first = k - 1
        while first >= 2 and flat[first - 1][0].token_type == TokenType.DOT:
            first -= 2
        chain = [flat[j] for j in range(first, k, 2)]
        if flat[k + 1][0].text.upper() == "TYPE":
            chain = chain[:-1]  # the column
        if len(chain) >= 2:
            written = ".".join(f'"{t.text}"' if t.token_type == TokenType.IDENTIFIER else t.text for t, _ in chain)
            yield Piece("type", chain[0][1], written)


def pieces(body: str) -> Iterator[Piece]:
    """The SQL of a PL/pgSQL body (see the module doc); raises SqlglotError if it cannot be
    tokenized."""
    tokens = tokenize(body)
    yield from _types(body, tokens)
    i = 0
    while i < len(tokens):
        token = tokens[i]
        word = token.text.upper()
        if word == "EXECUTE":
            yield _execute(body, token, tokens[i + 1] if i + 1 < len(tokens) else None)
            i += 2
            continue
        if token.token_type not in DML_STARTS and word != "PERFORM":
            i += 1
            continue
        end = _segment_end(tokens, i)
        stop = _without_returning_into(tokens, i, end)
        text = body[token.start : tokens[stop - 1].end + 1]
        if word == "PERFORM":
            text = "SELECT " + text[len("PERFORM") :]
        yield Piece("sql", token.start, text)
        i = max(end, i + 1)
