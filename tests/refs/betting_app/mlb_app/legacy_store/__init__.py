"""The local stores used before PostgreSQL: a DuckDB cache and a SQLite file."""
