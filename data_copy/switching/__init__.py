"""Phase 1 <-> 2: the switch, the shared id space, the carry-back of the application's rows.
Imports state and below."""
