"""Phase 3: the guards, the plan, the backup, the drops, the restore. Imports refs (what still
depends on legacy), validation, capture, state and below."""
