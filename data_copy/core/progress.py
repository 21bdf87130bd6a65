"""How a long step reports progress: (label, done, total), as the CLI's progress bars take it."""

from collections.abc import Callable

Progress = Callable[[str, int, int], None]


def silent(label: str, done: int, total: int) -> None:
    """The progress of a caller that shows none."""
