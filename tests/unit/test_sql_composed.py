"""SQL is composed with psycopg.sql, never built as a Python string (DESIGN invariant 5).

The check (tests/unit/sql_strings.py) walks the AST of every module of data_copy/,
components/ and provider_standin/; the snippets below prove it finds each way of building
SQL as a string, and lets composition through.
"""

from pathlib import Path

import pytest
from sql_strings import check_source, check_tree

REPO_ROOT = Path(__file__).resolve().parents[2]
CHECKED = ("data_copy", "components", "provider_standin")


def test_no_module_builds_sql_as_a_string() -> None:
    findings = check_tree(REPO_ROOT, CHECKED)
    assert [str(f) for f in findings] == []
    # and it did read them: every checked folder has modules that execute SQL
    for folder in CHECKED:
        assert any("execute(" in p.read_text() for p in (REPO_ROOT / folder).rglob("*.py")), folder


BAD = {
    "f-string into execute": 'conn.execute(f"DROP TABLE {name}")',
    "f-string into sql.SQL": 'conn.execute(sql.SQL(f"SELECT * FROM {t}"))',
    "% into execute": 'cur.execute("SELECT * FROM %s" % table)',
    ".format into execute": 'conn.execute("DELETE FROM {}".format(table))',
    ".format into sql.SQL": 'q = sql.SQL("SELECT {}".format(col))',
    "+ into execute": 'conn.execute("SELECT * FROM " + table)',
    "+ on the right": 'conn.execute(prefix + " WHERE id = 1")',
    "join into sql.SQL": 'sql.SQL(", ".join(names))',
    "through a variable": 'def f(conn, t):\n    query = f"TRUNCATE {t}"\n    conn.execute(query)',
    "through +=": 'def f(conn, t):\n    q = "SELECT 1 FROM x"\n    q += " WHERE a = " + t\n    conn.execute(q)',
    "through two variables": 'def f(c, t):\n    a = "DROP " + t\n    b = a\n    c.execute(b)',
    "in a conditional": 'conn.execute(f"DROP {t}" if drop else "SELECT 1")',
    "executemany": 'cur.executemany(f"INSERT INTO {t} VALUES (%s)", rows)',
}


@pytest.mark.parametrize("snippet", list(BAD.values()), ids=list(BAD))
def test_the_check_finds_string_built_sql(snippet: str) -> None:
    findings = check_source(snippet)
    assert len(findings) == 1, findings


GOOD = {
    "literal": 'conn.execute("SELECT 1 WHERE a = %s", (a,))',
    "implicit concatenation of literals": 'conn.execute("SELECT 1" " FROM x")',
    "composed": 'conn.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(s, t)))',
    "composed join": 'sql.SQL(", ").join(sql.Identifier(c) for c in cols)',
    "composed +": 'conn.execute(sql.SQL("SELECT 1") + sql.SQL(" FROM x"))',
    "constant template": 'TEMPLATE = "SELECT {}"\nconn.execute(sql.SQL(TEMPLATE).format(x))',
    "f-string into an Identifier": 'sql.Identifier(f"duplicate_keys_{n}")',
    "f-string elsewhere in the function": 'def f(c):\n    msg = f"{c}"\n    c.execute("SELECT 1")\n    print(msg)',
    "a variable of the same name in another function": (
        'def f(t):\n    q = f"{t}"\n    return q\ndef g(c):\n    q = "SELECT 1"\n    c.execute(q)'
    ),
}


@pytest.mark.parametrize("snippet", list(GOOD.values()), ids=list(GOOD))
def test_the_check_lets_composed_sql_through(snippet: str) -> None:
    assert check_source(snippet) == []


def test_a_finding_names_file_line_and_how(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "bad.py").write_text('import x\n\n\ndef f(conn, t):\n    conn.execute(f"DROP {t}")\n')
    (tmp_path / "pkg" / "good.py").write_text('def f(conn):\n    conn.execute("SELECT 1")\n')
    findings = check_tree(tmp_path, ("pkg",))
    assert [str(f) for f in findings] == ["pkg/bad.py:5: an f-string passed to execute()"]
