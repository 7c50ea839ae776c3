"""Named registries (metrics, reward terms, behaviours, triggers) that refuse duplicate names."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from jwmsim.errors import ConfigError, JwmsimError

T = TypeVar("T")


class DuplicateNameError(JwmsimError, ValueError):
    """Something was registered twice under the same name."""


class Registry(Generic[T]):
    """A name -> item table; ``register`` refuses a name already taken.

    Args:
        kind: what the items are, for messages (``"behaviour"``, ``"metric"``...).
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def add(self, name: str, item: T) -> T:
        if not isinstance(name, str) or not name:
            raise DuplicateNameError(f"{self.kind} name must be a non-empty string, got {name!r}")
        if name in self._items:
            raise DuplicateNameError(
                f"a {self.kind} named {name!r} is already registered",
                hint=f"pick another name; taken: {sorted(self._items)}",
            )
        self._items[name] = item
        return item

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator form of :meth:`add`."""

        def deco(item: T) -> T:
            return self.add(name, item)

        return deco

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            raise ConfigError(
                f"unknown {self.kind} {name!r}", hint=f"choose one of {sorted(self._items)}"
            ) from None

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def names(self) -> list[str]:
        return list(self._items)
