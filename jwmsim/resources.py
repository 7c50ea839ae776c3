"""Files shipped with jwmsim: the actor assets (and model weights) of ``assets/`` and the scenario
library of ``scenarios/``.

In a source checkout (or an editable install) they are the repository's top-level folders; a wheel
carries them as package data under ``jwmsim/_shipped/`` (``setup.py`` copies them there when the
wheel is built). :func:`shipped_dir` finds them in either place.
"""

from __future__ import annotations

from pathlib import Path

from jwmsim.errors import ConfigError

SHIPPED_FOLDERS = ("assets", "scenarios")  # top-level folders of the repository a wheel carries
PACKAGED_ROOT = Path(__file__).resolve().parent / "_shipped"  # inside an installed wheel
SOURCE_ROOT = Path(__file__).resolve().parents[1]  # the repository root of a source checkout


def shipped_candidates(name: str) -> tuple[Path, Path]:
    """Where the shipped folder ``name`` may be: ``(inside the package, in the source checkout)``."""
    if name not in SHIPPED_FOLDERS:
        raise ValueError(f"{name!r} is not a shipped folder; one of {SHIPPED_FOLDERS}")
    return PACKAGED_ROOT / name, SOURCE_ROOT / name


def shipped_path(name: str) -> Path:
    """The shipped folder ``name`` (see :data:`SHIPPED_FOLDERS`): the packaged copy when there is
    one, else the source checkout's; the source path when neither exists (so that messages name
    it, see :func:`shipped_dir` for a checked look-up)."""
    packaged, source = shipped_candidates(name)
    return packaged if packaged.is_dir() else source


def shipped_dir(name: str) -> Path:
    """Like :func:`shipped_path`, but the folder must exist.

    Raises:
        ConfigError: neither the package nor a source checkout holds it.
    """
    path = shipped_path(name)
    if not path.is_dir():
        packaged, source = shipped_candidates(name)
        raise ConfigError(
            f"jwmsim's shipped {name}/ folder is missing: neither {packaged} nor {source} exists",
            hint="install a wheel built with `pip wheel .` from the repository, or run from a checkout",
        )
    return path
