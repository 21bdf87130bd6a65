"""The first copy and the re-sync: the copier, the captured changes applied, the settle, the
second session, the index builds, and a whole run. Composes capture and validation."""
