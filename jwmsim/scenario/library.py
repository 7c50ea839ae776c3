"""The scenario library shipped with jwmsim (the repository's ``scenarios/``; package data in a
wheel, see :mod:`jwmsim.resources`), by name: ``cut_in``, ``real/pandaset_pedestrian_crossing``.

:func:`jwmsim.scenario.load_scenario` falls back to a library scenario when it is given a name
(``cut_in`` or ``cut_in.yaml``) that is not an existing file, so ``jwmsim replay cut_in`` works
from any folder and from an installed wheel.
"""

from __future__ import annotations

from pathlib import Path

from jwmsim.resources import shipped_path

SUFFIX = ".yaml"


def library_dir() -> Path:
    """The folder of the shipped scenarios (it may be missing in a broken install)."""
    return shipped_path("scenarios")


def library_names() -> list[str]:
    """Names of the shipped scenarios: paths below :func:`library_dir` without ``.yaml``, sorted."""
    root = library_dir()
    if not root.is_dir():
        return []
    return sorted(p.relative_to(root).with_suffix("").as_posix() for p in root.rglob(f"*{SUFFIX}"))


def find_library_scenario(name: str) -> Path | None:
    """The file of library scenario ``name`` (with or without ``.yaml``), or None."""
    key = name[: -len(SUFFIX)] if name.endswith(SUFFIX) else name
    if key not in library_names():
        return None
    return library_dir() / f"{key}{SUFFIX}"
