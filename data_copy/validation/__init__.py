"""Validation: counts and checksums per Part, by chunk and by key, in parallel, by phase, and a
mapping's result logged. Imports state and below; never capture."""
