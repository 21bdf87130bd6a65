"""SQL of another engine that sqlglot's postgres reader accepts anyway.

sqlglot parses leniently: `INSERT OR REPLACE INTO t ...` (SQLite, DuckDB) comes back as an
Insert although PostgreSQL rejects it. A statement with one of these constructs is
reported as `unparsed` (PostgreSQL cannot run it as written), with the tables it names.
"""

from __future__ import annotations

from sqlglot import exp


def foreign(tree: exp.Expr) -> str | None:
    """Why `tree` is not PostgreSQL (the first construct found), or None."""
    for node in tree.walk():
        reason = _construct(node)
        if reason is not None:
            return f"not PostgreSQL: {reason}"
    return None


def _construct(node: exp.Expr) -> str | None:
    if isinstance(node, exp.Insert):
        if node.args.get("alternative"):
            return f"INSERT OR {str(node.args['alternative']).upper()} (SQLite / DuckDB)"
        if node.args.get("by_name"):
            return "INSERT ... BY NAME (DuckDB)"
    elif isinstance(node, exp.Create):
        if node.args.get("replace") and str(node.args.get("kind") or "").upper() == "TABLE":
            return "CREATE OR REPLACE TABLE (DuckDB)"
    elif isinstance(node, exp.Pragma):
        return "PRAGMA (SQLite)"
    elif isinstance(node, exp.Qualify):
        return "QUALIFY (DuckDB)"
    elif isinstance(node, exp.Star) and (node.args.get("except_") or node.args.get("replace")):
        return "SELECT * EXCLUDE / REPLACE (DuckDB)"
    elif isinstance(node, exp.AutoIncrementColumnConstraint):
        return "AUTOINCREMENT (SQLite)"
    elif isinstance(node, exp.Describe):
        return "DESCRIBE (DuckDB)"
    elif isinstance(node, exp.Join) and str(node.args.get("kind") or "").upper() in ("ANTI", "SEMI", "ASOF"):
        return f"{str(node.args['kind']).upper()} JOIN (DuckDB)"
    elif isinstance(node, exp.Select) and isinstance(node.args.get("sample"), exp.TableSample):
        return "USING SAMPLE (DuckDB)"
    return None
