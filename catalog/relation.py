"""What the legacy and the consolidated catalogs' tables have in common: a qualified name
and columns looked up by name."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar


class _Named(Protocol):
    @property
    def name(self) -> str: ...


ColumnT = TypeVar("ColumnT", bound=_Named)


@dataclass(frozen=True)
class Relation(Generic[ColumnT]):
    """The base of the catalogs' frozen table dataclasses (which add `columns` and the rest)."""

    schema: str
    name: str
    columns: Sequence[ColumnT]  # declared here for the type checker; each subclass defines it

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"

    def column(self, name: str) -> ColumnT:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(f"{self.qualified} has no column {name}")
