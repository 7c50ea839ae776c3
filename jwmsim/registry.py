"""Named registries, extended by entry points.

Every kind of extension (planners, render paths, scene sources, behaviours, metrics) has one
:class:`Registry`. A registry knows its items from two places:

* **entry points** of its group (:data:`ENTRY_POINT_GROUPS`), declared in a package's
  ``pyproject.toml``. jwmsim declares its own entries exactly as a third-party plugin does::

      [project.entry-points."jwmsim.planners"]
      idm = "jwmsim_agents.idm_planner:IDMPlanner"

  An entry is imported only when its name is first asked for (:meth:`Registry.get`), so listing
  names costs no import and a plugin that fails to import breaks only itself;
* :meth:`Registry.add` / :meth:`Registry.register` at run time (tests, notebooks).

Names are unique: a name taken twice (by two distributions, or by an entry point and a run-time
registration) is an error that names both origins.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import metadata
from typing import Generic, TypeVar

from jwmsim.errors import ConfigError, JwmsimError

T = TypeVar("T")

#: entry-point group of each kind of extension (``[project.entry-points."<group>"]``)
ENTRY_POINT_GROUPS: dict[str, str] = {
    "planner": "jwmsim.planners",
    "render path": "jwmsim.render_paths",
    "scene source": "jwmsim.scene_sources",
    "behaviour": "jwmsim.behaviours",
    "metric": "jwmsim.metrics",
}


class DuplicateNameError(JwmsimError, ValueError):
    """Something was registered twice under the same name."""


class PluginLoadError(JwmsimError):
    """An entry point could not be imported, or did not give what its group expects."""


@dataclass(frozen=True)
class Origin:
    """Where a registered name comes from.

    Attributes:
        name: the registered name.
        source: ``"entry point"`` or ``"runtime"``.
        distribution: the installed distribution that declares the entry point (None: run time).
        target: ``module:attr`` of the entry point, or the module of a run-time item.
    """

    name: str
    source: str
    distribution: str | None
    target: str

    def describe(self) -> str:
        where = f"{self.distribution} " if self.distribution else ""
        return f"{where}({self.source}: {self.target})"


def _entry_points(group: str) -> list[metadata.EntryPoint]:
    return sorted(metadata.entry_points(group=group), key=lambda ep: ep.name)


def _distribution_name(ep: metadata.EntryPoint) -> str | None:
    dist = getattr(ep, "dist", None)
    return None if dist is None else dist.metadata["Name"]


class Registry(Generic[T]):
    """A name -> item table that refuses duplicate names and loads entry points lazily.

    Args:
        kind: what the items are, for messages (``"behaviour"``, ``"metric"``...).
        group: entry-point group to read (None: run-time registrations only).
        check: called on each item loaded from an entry point; raises ``TypeError`` (with a
            message) when the item is not what the group expects.
    """

    def __init__(self, kind: str, group: str | None = None, check: Callable[[object], None] | None = None):
        self.kind = kind
        self.group = group
        self._check = check
        self._items: dict[str, T] = {}
        self._origins: dict[str, Origin] = {}
        self._declared: dict[str, metadata.EntryPoint] | None = None

    # -- entry points -------------------------------------------------------------------------
    def _entries(self) -> dict[str, metadata.EntryPoint]:
        if self._declared is None:
            declared: dict[str, metadata.EntryPoint] = {}
            if self.group is not None:
                for ep in _entry_points(self.group):
                    if ep.name in declared and declared[ep.name].value != ep.value:
                        raise DuplicateNameError(
                            f"two entry points of {self.group!r} are named {ep.name!r}: "
                            f"{declared[ep.name].value} ({_distribution_name(declared[ep.name])}) and "
                            f"{ep.value} ({_distribution_name(ep)})",
                            hint="uninstall one of the two packages, or rename one entry",
                        )
                    declared[ep.name] = ep
            self._declared = declared
        return self._declared

    def refresh(self) -> None:
        """Forget the entry points read so far (after installing a plugin in this process)."""
        self._declared = None

    def _load(self, name: str) -> T:
        ep = self._entries()[name]
        try:
            item = ep.load()
            if self._check is not None:
                self._check(item)
        except Exception as err:
            raise PluginLoadError(
                f"the {self.kind} {name!r} ({ep.value}, from {_distribution_name(ep)}) failed to load: "
                f"{type(err).__name__}: {err}",
                hint="fix or uninstall the plugin that declares it; `jwmsim info --plugins` lists them",
            ) from err
        self._items[name] = item
        self._origins[name] = Origin(name, "entry point", _distribution_name(ep), ep.value)
        return item

    # -- registration -------------------------------------------------------------------------
    def add(self, name: str, item: T) -> T:
        """Register ``item`` under ``name`` at run time; a name taken already is refused."""
        if not isinstance(name, str) or not name:
            raise DuplicateNameError(f"{self.kind} name must be a non-empty string, got {name!r}")
        if name in self._items or name in self._entries():
            taken = self._origins.get(name)
            where = taken.describe() if taken else self._entries()[name].value
            raise DuplicateNameError(
                f"a {self.kind} named {name!r} is already registered ({where})",
                hint=f"pick another name; taken: {self.names()}",
            )
        self._items[name] = item
        module = getattr(item, "__module__", None) or type(item).__module__
        self._origins[name] = Origin(name, "runtime", None, str(module))
        return item

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator form of :meth:`add`."""

        def deco(item: T) -> T:
            return self.add(name, item)

        return deco

    def remove(self, name: str) -> None:
        """Forget a run-time registration (tests); entry points cannot be removed."""
        self._items.pop(name, None)
        self._origins.pop(name, None)

    # -- look-up ------------------------------------------------------------------------------
    def get(self, name: str) -> T:
        """The item named ``name``, importing its entry point on first use."""
        if name in self._items:
            return self._items[name]
        if name in self._entries():
            return self._load(name)
        raise ConfigError(f"unknown {self.kind} {name!r}", hint=f"choose one of {self.names()}")

    def origin(self, name: str) -> Origin:
        """Where ``name`` comes from (without importing it)."""
        if name in self._origins:
            return self._origins[name]
        if name in self._entries():
            ep = self._entries()[name]
            return Origin(name, "entry point", _distribution_name(ep), ep.value)
        raise ConfigError(f"unknown {self.kind} {name!r}", hint=f"choose one of {self.names()}")

    def load_all(self) -> dict[str, T | PluginLoadError]:
        """Every item by name; an entry point that fails to load gives its error instead."""
        out: dict[str, T | PluginLoadError] = {}
        for name in self.names():
            try:
                out[name] = self.get(name)
            except PluginLoadError as err:
                out[name] = err
        return out

    def names(self) -> list[str]:
        """Sorted names, from entry points and run-time registrations (imports nothing)."""
        return sorted(set(self._items) | set(self._entries()))

    def __contains__(self, name: object) -> bool:
        return name in self._items or name in self._entries()

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())


def format_load_error(err: BaseException) -> str:
    """One line for a plugin's load error (the cause's type and message)."""
    cause = err.__cause__ or err
    return "".join(traceback.format_exception_only(type(cause), cause)).strip()


__all__ = [
    "ENTRY_POINT_GROUPS",
    "DuplicateNameError",
    "Origin",
    "PluginLoadError",
    "Registry",
    "format_load_error",
]
