"""Shared plumbing below every engine: the connection, identifiers, lock-timeout retries, pacing,
error translation, reading the stack. Imports only errors and settings."""
