"""One Python string expression as text: literal parts, placeholders for run-time parts,
and the source line of every part.

A string expression is a literal (plain, triple-quoted, implicitly concatenated), an
f-string, a `+` chain holding a string, `"..." % x` or `"...".format(...)`. Each run-time
part becomes a found.Placeholder, with what pybindings knows of its value.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from bisect import bisect_right
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from data_copy.refs.found import Placeholder
from data_copy.refs.pybindings import Bindings, unparse

FORMAT_FIELD = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*|\d*)(?:\.[A-Za-z_]\w*|\[[^\]{}]*\])*(?:![rsa])?(?::[^{}]*)?\}")
PERCENT_FIELD = re.compile(r"%(?:\(([A-Za-z_]\w*)\))?[-#0 +]*\d*(?:\.\d+)?[sdifr]")
LINES = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")


@dataclass
class SqlText:
    """One string expression: text with placeholders, and where each part came from."""

    text: str
    placeholders: list[Placeholder]
    starts: list[int] = field(default_factory=list)  # text offsets where a part begins
    lines: list[tuple[int, bool]] = field(default_factory=list)  # (source line, newlines exact)

    def line_of(self, offset: int) -> int:
        i = max(bisect_right(self.starts, offset) - 1, 0)
        line, exact = self.lines[i]
        return line + (self.text.count("\n", self.starts[i], offset) if exact else 0)


class Builder:
    def __init__(self, lines: list[str], bindings: Bindings) -> None:
        self.lines = lines  # the module's source lines, with their line ends
        self.bindings = bindings
        self.parts: list[tuple[str, int, bool]] = []
        self.placeholders: list[Placeholder] = []

    def placeholder(self, node: ast.AST, line: int, source: str | None = None) -> None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):  # f"{'splits'}.games"
            self.parts.append((node.value, line, False))
            return
        shown = source if source is not None else unparse(node)
        p = self.bindings.placeholder(len(self.placeholders), "{" + shown + "}", node)
        self.placeholders.append(p)
        self.parts.append((p.token, line, True))

    def literal(self, node: ast.AST) -> None:
        """A Constant or JoinedStr: one part per source token (implicit concatenation)."""
        segment = _segment(self.lines, node)
        first = getattr(node, "lineno", 1)
        pieces = list(_string_tokens(segment)) if segment else []
        if not pieces:
            self._from_node(node, first)
            return
        for raw, offset in pieces:
            try:
                value = ast.parse(raw.strip(), mode="eval").body
            except SyntaxError:
                continue
            self._from_node(value, first + offset, raw)

    def _from_node(self, node: ast.AST, line: int, raw: str | None = None) -> None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            self.parts.append((node.value, line, raw is None or raw.count("\n") == node.value.count("\n")))
        elif isinstance(node, ast.JoinedStr):
            constant = "".join(str(v.value) for v in node.values if isinstance(v, ast.Constant))
            exact = raw is None or raw.count("\n") == constant.count("\n")
            newlines = 0
            for value in node.values:
                here = line + newlines if exact else line
                if isinstance(value, ast.Constant):
                    self.parts.append((str(value.value), here, exact))
                    newlines += str(value.value).count("\n")
                elif isinstance(value, ast.FormattedValue):
                    self.placeholder(value.value, here)

    def build(self) -> SqlText:
        text, starts, lines = "", [], []
        for piece, line, exact in self.parts:
            starts.append(len(text))
            lines.append((line, exact))
            text += piece
        if not starts:
            starts, lines = [0], [(1, False)]
        return SqlText(text, self.placeholders, starts, lines)


def _segment(lines: list[str], node: ast.AST) -> str | None:
    """The source text of `node` (ast.get_source_segment splits the whole source per call)."""
    start, end = getattr(node, "lineno", None), getattr(node, "end_lineno", None)
    first, last = getattr(node, "col_offset", None), getattr(node, "end_col_offset", None)
    if start is None or end is None or first is None or last is None:
        return None
    start, end, first, last = int(start), int(end), int(first), int(last)
    if start == end:
        return lines[start - 1].encode()[first:last].decode(errors="replace")
    head = lines[start - 1].encode()[first:].decode(errors="replace")
    tail = lines[end - 1].encode()[:last].decode(errors="replace")
    return head + "".join(lines[start : end - 1]) + tail


def _string_tokens(segment: str) -> Iterator[tuple[str, int]]:
    """(raw string token, its line offset in `segment`) for each literal in `segment`."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(segment).readline))
    except (tokenize.TokenError, SyntaxError):
        return
    lines = segment.splitlines(keepends=True)

    def cut(start: tuple[int, int], end: tuple[int, int]) -> str:
        if start[0] == end[0]:
            return lines[start[0] - 1][start[1] : end[1]]
        middle = "".join(lines[start[0] : end[0] - 1])
        return lines[start[0] - 1][start[1] :] + middle + lines[end[0] - 1][: end[1]]

    fstring_start = getattr(tokenize, "FSTRING_START", None)
    fstring_end = getattr(tokenize, "FSTRING_END", None)
    depth, opened = 0, (0, 0)
    for token in tokens:
        if fstring_start is not None and token.type == fstring_start:
            if depth == 0:
                opened = token.start
            depth += 1
        elif fstring_end is not None and token.type == fstring_end:
            depth -= 1
            if depth == 0:
                yield cut(opened, token.end), opened[0] - 1
        elif token.type == tokenize.STRING and depth == 0:
            yield token.string, token.start[0] - 1


def rewrite(built: SqlText, pattern: re.Pattern[str], repl: Callable[[re.Match[str]], str]) -> SqlText:
    """Apply `pattern` -> repl to each part of `built` separately, keeping the line map."""
    pieces: list[str] = []
    for i, start in enumerate(built.starts):
        end = built.starts[i + 1] if i + 1 < len(built.starts) else len(built.text)
        pieces.append(pattern.sub(repl, built.text[start:end]))
    text, starts = "", []
    for piece in pieces:
        starts.append(len(text))
        text += piece
    return SqlText(text, built.placeholders, starts, built.lines)


def percent(built: SqlText, node: ast.BinOp, bindings: Bindings) -> SqlText:
    """`"... %s ..." % value`: each conversion is a run-time part."""
    values = node.right.elts if isinstance(node.right, ast.Tuple) else [node.right]
    counter = iter(range(10_000))

    def repl(match: re.Match[str]) -> str:
        i = next(counter)
        key = match.group(1)
        value = values[i] if not key and i < len(values) else None
        source = key if key else unparse(values[i]) if i < len(values) else "?"
        p = bindings.placeholder(len(built.placeholders), "%(" + source + ")", value)
        built.placeholders.append(p)
        return p.token

    return rewrite(built, PERCENT_FIELD, repl)


def template(built: SqlText, call: ast.Call | None, bindings: Bindings) -> SqlText:
    """`{}` / `{name}` fields of a template (str.format, psycopg sql.SQL, later use)."""
    args = list(call.args) if call else []
    kwargs = {k.arg: k.value for k in call.keywords if k.arg} if call else {}
    counter = iter(range(10_000))

    def repl(match: re.Match[str]) -> str:
        key = match.group(1)
        value: ast.AST | None
        if key == "":
            i = next(counter)
            value = args[i] if i < len(args) else None
        elif key.isdigit():
            value = args[int(key)] if int(key) < len(args) else None
        else:
            value = kwargs.get(key)
        source = unparse(value) if value is not None else key
        p = bindings.placeholder(len(built.placeholders), "{" + source + "}", value)
        built.placeholders.append(p)
        return p.token

    return rewrite(built, FORMAT_FIELD, repl)
