"""Function and DO bodies: SQL bodies are parsed as SQL; PL/pgSQL ones statement by statement.

sqlglot does not parse PL/pgSQL, so its tokenizer finds where each embedded SQL statement
starts (SELECT, WITH, INSERT, UPDATE, DELETE, MERGE, TRUNCATE, PERFORM) and where it ends
(`;`, the `)` closing an enclosing expression, or THEN / LOOP), and that piece is parsed.
`SELECT ... INTO var` targets are variables there, not tables. EXECUTE of a constant string
scans the string; EXECUTE of anything else is dynamic.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlglot.errors import SqlglotError
from sqlglot.tokens import Token, TokenType

from data_copy.refs.sqlscan import Dynamic, Scanner, ScanResult, Unparsed
from data_copy.refs.sqlshape import DML_STARTS, tokenize

if TYPE_CHECKING:
    from collections.abc import Sequence

_ENDS = {"THEN", "LOOP"}


def _merge(into: ScanResult, other: ScanResult) -> None:
    into.refs.extend(other.refs)
    into.dynamic.extend(other.dynamic)
    into.unparsed.extend(other.unparsed)
    into.statements += other.statements


def scan_body(scanner: Scanner, body: str, language: str, base: int) -> None:
    path = scanner.result.search_path
    if language == "sql":
        _merge(scanner.result, Scanner(path).scan(body, base))
    elif language == "plpgsql":
        _merge(scanner.result, scan_plpgsql(body, path, base))


def scan_do(scanner: Scanner, stmt: str, base: int) -> None:
    try:
        tokens = tokenize(stmt)
    except SqlglotError:
        return
    language = "plpgsql"
    for i, token in enumerate(tokens):
        if token.text.upper() == "LANGUAGE" and i + 1 < len(tokens):
            language = tokens[i + 1].text.lower()
    for token in tokens:
        if token.token_type in (TokenType.HEREDOC_STRING, TokenType.STRING):
            offset = stmt.find(token.text, token.start)
            scan_body(scanner, token.text, language, base + max(offset, 0))
            return


def _segment_end(tokens: Sequence[Token], start: int) -> int:
    """Index one past the last token of the SQL statement starting at tokens[start]."""
    depth = 0
    for k in range(start + 1, len(tokens)):
        kind = tokens[k].token_type
        if kind == TokenType.L_PAREN:
            depth += 1
        elif kind == TokenType.R_PAREN:
            if depth == 0:
                return k
            depth -= 1
        elif depth == 0 and (kind == TokenType.SEMICOLON or tokens[k].text.upper() in _ENDS):
            return k
    return len(tokens)


def _without_returning_into(tokens: Sequence[Token], start: int, end: int) -> int:
    """`... RETURNING id INTO v`: the end of the SQL part (before INTO), else `end`."""
    returning = next((k for k in range(start, end) if tokens[k].text.upper() == "RETURNING"), None)
    if returning is None:
        return end
    return next((k for k in range(returning, end) if tokens[k].token_type == TokenType.INTO), end)


def scan_plpgsql(body: str, search_path: Sequence[str], base: int) -> ScanResult:
    result = ScanResult(search_path=tuple(search_path))
    try:
        tokens = tokenize(body)
    except SqlglotError:
        result.unparsed.append(Unparsed(base, "cannot tokenize the PL/pgSQL body", ()))
        return result
    i = 0
    while i < len(tokens):
        token = tokens[i]
        word = token.text.upper()
        if word == "EXECUTE":
            _execute(result, body, tokens[i + 1] if i + 1 < len(tokens) else None, base + token.start, base)
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
        sub = Scanner(result.search_path, into_is_variable=True)
        sub.result.search_path = result.search_path
        _merge(result, sub.scan(text, base + token.start))
        i = max(end, i + 1)
    return result


def _execute(result: ScanResult, body: str, rest: Token | None, at: int, base: int) -> None:
    """EXECUTE <rest>: the tokenizer keeps the rest of the statement as one token."""
    if rest is None:
        return
    offset = max(body.find(rest.text, rest.start), 0)
    try:
        parts = tokenize(rest.text)
    except SqlglotError:
        parts = []
    constant = (
        bool(parts)
        and parts[0].token_type in (TokenType.STRING, TokenType.HEREDOC_STRING)
        and (len(parts) == 1 or parts[1].text.upper() in ("INTO", "USING"))
    )
    if constant:
        _merge(result, Scanner(result.search_path, into_is_variable=True).scan(parts[0].text, base + offset + 1))
    else:
        result.dynamic.append(Dynamic(at, "PL/pgSQL EXECUTE of a string built at run time"))
