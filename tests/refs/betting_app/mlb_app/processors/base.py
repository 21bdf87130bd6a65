"""Processors turn collected rows into features; each names the tables it needs."""

import abc
import logging

logger = logging.getLogger(__name__)


class BaseProcessor(abc.ABC):
    name = "base"

    @abc.abstractmethod
    def required_tables(self) -> list[str]:
        """The tables this processor reads, e.g. ['splits.raw_mlb_betting_splits']."""  # DECOY

    def check(self, existing: set[str]) -> None:
        missing = [t for t in self.required_tables() if t not in existing]
        if missing:
            raise RuntimeError(f"{self.name}: missing tables {missing}")
        logger.info("%s: tables present (splits.games, public.games)", self.name)  # DECOY
