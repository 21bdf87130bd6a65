"""Change capture: the logical replication slot, our origins, and its output decoded into keys.
Imports state and below; never validation."""
