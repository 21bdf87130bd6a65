"""Benchmarks of data_copy against a hand-written SQL script (`python -m bench`).

For each scale: a fresh database with the legacy fixture, then, in one run, the raw
per-mapping ``INSERT INTO new SELECT ... FROM legacy`` baseline, ``data_copy run`` with
count and with checksum validation (a subprocess, for its peak RSS), ``validate`` against
plain ``count(*)``, a re-sync after 1 % new legacy rows, and a concurrent writer's insert
latency during a copy versus on an idle database. Results: one table on the terminal,
``bench/results.json`` and ``bench/RESULTS.md``.
"""
