"""PropertyValue <-> plain Python values, and each resource's fields (defaults, ForceNew).

Names are the Pulumi SDK's camelCase property names (pulumi_postgresql 3.18.2); the
defaults are the upstream schema's `Default:` values, which the bridged provider's Check
fills into the inputs (so they also appear in the state).
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pulumi.provider.experimental.property_value import Computed, PropertyValue


class Unknown:
    """A value not known yet (preview of a resource that depends on one being created)."""

    def __repr__(self) -> str:
        return "<unknown>"


UNKNOWN = Unknown()


def to_py(value: PropertyValue) -> Any:
    """Plain Python (str, float, bool, None, list, dict, UNKNOWN); secrets are unwrapped."""
    raw = value.value
    if isinstance(raw, Computed):
        return UNKNOWN
    if isinstance(raw, Mapping):
        return {k: to_py(v) for k, v in raw.items()}
    if isinstance(raw, tuple | list):
        return [to_py(v) for v in raw]
    return raw


def map_to_py(values: Mapping[str, PropertyValue]) -> dict[str, Any]:
    return {k: to_py(v) for k, v in values.items()}


def from_py(value: Any, secret: bool = False) -> PropertyValue:
    if value is UNKNOWN:
        return PropertyValue.computed()
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return PropertyValue(value, is_secret=secret)
    if isinstance(value, int | float):
        return PropertyValue(float(value), is_secret=secret)
    if isinstance(value, Mapping):
        return PropertyValue({k: from_py(v) for k, v in value.items()}, is_secret=secret)
    if isinstance(value, list | tuple | set | frozenset):
        return PropertyValue([from_py(v) for v in value], is_secret=secret)
    raise TypeError(f"cannot represent {type(value).__name__} as a property value")


def map_from_py(values: Mapping[str, Any], secrets: tuple[str, ...] = ()) -> dict[str, PropertyValue]:
    return {k: from_py(v, secret=k in secrets) for k, v in values.items()}


@dataclass(frozen=True)
class Fields:
    """One resource type's fields as the diff sees them."""

    defaults: dict[str, Any]  # applied in Check when the input is absent
    force_new: tuple[str, ...]  # a change replaces the resource
    sets: tuple[str, ...] = ()  # compared as sets (TypeSet upstream)
    optional_zero: dict[str, Any] = field(default_factory=dict)  # absent == this value
    secrets: tuple[str, ...] = ()

    def with_defaults(self, inputs: dict[str, Any]) -> dict[str, Any]:
        out = dict(inputs)
        for key, default in self.defaults.items():
            if out.get(key) is None:
                out[key] = list(default) if isinstance(default, list) else default
        return out

    def normalised(self, key: str, value: Any) -> Any:
        if value is None:
            value = self.optional_zero.get(key, self.defaults.get(key))
        if value is UNKNOWN:
            return value
        if key in self.sets:
            return frozenset(value or ())
        if isinstance(value, float) and value.is_integer():
            return int(value)
        return value


def sorted_set(values: Any) -> list[str]:
    """A TypeSet's members in a stable order (upstream orders them by hash)."""
    return sorted({str(v) for v in values or ()})
