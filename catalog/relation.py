"""What the legacy and the consolidated catalogs' tables have in common: a qualified name
and columns looked up by name."""

from collections.abc import Sequence
from typing import Generic, Protocol, TypeVar


class _Named(Protocol):
    @property
    def name(self) -> str: ...


ColumnT = TypeVar("ColumnT", bound=_Named)


class Relation(Generic[ColumnT]):
    """Mixed into the catalogs' frozen table dataclasses (which define these fields)."""

    schema: str
    name: str
    columns: Sequence[ColumnT]

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"

    def column(self, name: str) -> ColumnT:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(f"{self.qualified} has no column {name}")
