"""`make demo`: the main job on an embedded default (a local PostgreSQL with a realistic legacy DB)."""
