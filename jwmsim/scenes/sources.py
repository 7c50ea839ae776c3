"""Scene sources: where the Gaussian scene a simulation renders comes from, in one registry.

Each entry of :data:`SCENE_SOURCES` is a :class:`SceneSource`: ``build(segment, settings, progress)
-> (GaussianScene, report)``. Built in:

* ``lidar``: the **lidar skeleton** of the log (:mod:`jwmsim.gaussians.lidar_skeleton`), seconds;
* ``fit``: per-scene optimisation (:func:`jwmsim.gaussians.fit.fit_scene`), minutes on a CPU;
* ``worldrec`` (**the default**, :data:`DEFAULT_SCENE_SOURCE`): the trained WorldRec network's
  feed-forward reconstruction, pruned, then refined by per-scene fitting within a time budget
  (default 60 s) and scored on held-out frames (:mod:`jwmsim.scenes.worldrec_source`).

Anything else given where a source is expected is the path of a saved scene file.

:func:`scene_for_log` serves a registered source from a cache under ``$JWMSIM_CACHE/scenes``
(default ``~/.cache/jwmsim/scenes``), keyed by the log's :class:`~jwmsim.logs.identity.LogIdentity`
(name, dataroot and a digest of its tables and sensor files), the segment's window and cameras, and
the method, its version and its settings; entries are written atomically, and an unreadable entry
is rebuilt with a warning. A source's report (held-out scores, time per stage) is kept beside the
cached scene as ``<entry>.report.json`` with its contact sheet ``<entry>.contact.png``
(:func:`jwmsim.scenes.quality.write_report`). Every scene built here records its provenance in
its metadata (the log's identity, the method and its version); a scene file whose recorded log
differs from the log it is asked to render, or that records none, is refused with
:class:`SceneMismatchError` unless ``force=True`` (``--force-scene`` on the command line).

A new source is an entry of the ``jwmsim.scene_sources`` entry-point group (or, at run time,
``SCENE_SOURCES.add(name, obj)``).
"""

from __future__ import annotations

import hashlib
import os
import time
import warnings
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from jwmsim.errors import CheckpointError, ConfigError, SceneMismatchError
from jwmsim.logs.identity import LogIdentity, log_identity
from jwmsim.registry import ENTRY_POINT_GROUPS, Registry

if TYPE_CHECKING:
    from jwmsim.gaussians.scene import GaussianScene
    from jwmsim.logs.segment import LogSegment


@dataclass(frozen=True)
class SourceSettings:
    """Settings a scene source may use (each ignores what does not apply to it).

    Attributes:
        device: torch device name the build runs on (``"cpu"``, ``"cuda"``, ``"cuda:N"``).
        steps: optimisation steps: of ``fit`` (None: its default), or a cap on the refinement that
            follows ``worldrec``'s prediction (``--refine``; None: the budget alone decides).
        image_hw: ``(height, width)`` of the images it fits and evaluates at [px] (None: default).
        seed: random seed.
        budget: wall-clock budget of a ``worldrec`` build [s] (None: its default, 60 s; 0: no
            refinement).
        holdout_every: ``worldrec`` holds out every n-th frame and scores the scene on them (0: none).
    """

    device: str = "cpu"
    steps: int | None = None
    image_hw: tuple[int, int] | None = None
    seed: int = 0
    budget: float | None = None
    holdout_every: int = 8

    def token(self) -> str:
        """The part of the cache key that depends on the settings (the device does not change the
        scene, so it is left out)."""
        return (
            f"steps={self.steps}|hw={self.image_hw}|seed={self.seed}|budget={self.budget}"
            f"|holdout={self.holdout_every}"
        )


class SceneSource(Protocol):
    """A way to build a Gaussian scene from a log."""

    version: str  # changes whenever the scenes it builds change (part of the cache key)
    needs_lidar: bool  # the segment must carry its lidar sweeps
    description: str  # one line, for ``--help``
    # Optional: ``options`` (tuple of str), the ``jwmsim reconstruct`` options it reads beyond
    # --size / --seed / --device (others are refused for it); ``check(settings)``, its own checks of
    # the settings (ConfigError); ``preview(segment) -> str | None``, a fall-back it will take.

    def build(
        self, segment: LogSegment, settings: SourceSettings, progress: bool
    ) -> tuple[GaussianScene, dict[str, Any]]:
        """The scene of ``segment`` and a JSON-able report (timings, held-out scores ...)."""
        ...


def _check_source(item: object) -> None:
    missing = [a for a in ("version", "needs_lidar", "description", "build") if not hasattr(item, a)]
    if missing:
        raise TypeError(f"{item!r} is not a scene source: it has no {missing}")


SCENE_SOURCES: Registry[SceneSource] = Registry(
    "scene source", ENTRY_POINT_GROUPS["scene source"], _check_source
)
DEFAULT_SCENE_SOURCE = "worldrec"  # what the environment, the replay and the viewer render


@dataclass(frozen=True)
class LidarSource:
    """The lidar skeleton: coloured lidar points on a voxel grid, one Gaussian per voxel."""

    needs_lidar: bool = True
    description: str = "lidar skeleton (coloured lidar points, seconds)"
    options: tuple[str, ...] = ()

    @property
    def version(self) -> str:
        from jwmsim.gaussians.lidar_skeleton import BUILDER_VERSION  # imported late: it needs torch

        return BUILDER_VERSION

    def build(
        self, segment: LogSegment, settings: SourceSettings, progress: bool
    ) -> tuple[GaussianScene, dict[str, Any]]:
        from jwmsim.gaussians.lidar_skeleton import lidar_skeleton

        t0 = time.perf_counter()
        scene = lidar_skeleton(segment, progress=progress)
        return scene, {"build_seconds": round(time.perf_counter() - t0, 3)}


@dataclass(frozen=True)
class FitSource:
    """Per-scene 3DGS optimisation from lidar points (or random points when the log has none)."""

    version: str = "fit-default-v2"
    needs_lidar: bool = True
    description: str = "per-scene Gaussian fitting (minutes on a CPU)"
    options: tuple[str, ...] = ("steps",)

    def build(
        self, segment: LogSegment, settings: SourceSettings, progress: bool
    ) -> tuple[GaussianScene, dict[str, Any]]:
        from jwmsim.gaussians.fit import FitConfig, fit_scene

        cfg = FitConfig()
        over: dict[str, Any] = {"seed": settings.seed, "device": settings.device}
        if settings.steps is not None:
            over["steps"] = settings.steps
        if settings.image_hw is not None:
            over["image_hw"] = settings.image_hw
        cfg = FitConfig(**{**asdict(cfg), **over})
        scene, report = fit_scene(segment, cfg, progress=progress)
        return scene, report.to_dict()


def check_source_options(name: str, given: Mapping[str, object], settings: SourceSettings) -> None:
    """Refuse the options in ``given`` (option name -> value the user set) that scene source
    ``name`` does not read, naming the sources that do; then run the source's own checks."""
    source = SCENE_SOURCES.get(name)
    takes = tuple(getattr(source, "options", ()))
    for option in given:
        if option not in takes:
            readers = [
                n for n in SCENE_SOURCES.names() if option in getattr(SCENE_SOURCES.get(n), "options", ())
            ]
            flag = "--" + option.replace("_", "-")
            raise ConfigError(
                f"{flag} is not an option of --method {name}",
                hint=f"{flag} is for --method {' / '.join(readers)}" if readers else f"drop {flag}",
            )
    check = getattr(source, "check", None)
    if check is not None:
        check(settings)


def source_preview(name: str, segment: LogSegment) -> str | None:
    """The fall-back scene source ``name`` will take on ``segment`` (None: none), said before a build."""
    preview = getattr(SCENE_SOURCES.get(name), "preview", None)
    return preview(segment) if preview is not None else None


# The built-in sources; each is an entry of the ``jwmsim.scene_sources`` entry-point group
# (pyproject.toml), as a plugin's source would be (``worldrec``: :mod:`jwmsim.scenes.worldrec_source`).
LIDAR_SOURCE = LidarSource()
FIT_SOURCE = FitSource()


def cache_root() -> Path:
    """``$JWMSIM_CACHE/scenes`` or ``~/.cache/jwmsim/scenes``."""
    env = os.environ.get("JWMSIM_CACHE")
    return (Path(env).expanduser() if env else Path.home() / ".cache" / "jwmsim") / "scenes"


def scene_cache_path(
    segment: LogSegment, method: str = DEFAULT_SCENE_SOURCE, settings: SourceSettings | None = None
) -> Path:
    """Cache file of the ``method`` scene of ``segment`` (see the module docstring for the key)."""
    source = SCENE_SOURCES.get(method)
    ident = log_identity(segment)
    key = "|".join(
        [
            ident.name,
            ident.dataroot,
            ident.digest,
            str(segment.start_us),
            f"{segment.duration:.3f}",
            ",".join(sorted(segment.cameras)),
            method,
            source.version,
            (settings or SourceSettings()).token(),
        ]
    )
    digest = hashlib.sha1(key.encode()).hexdigest()[:12]
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in segment.name)
    return cache_root() / f"{safe}-{method}-{digest}.safetensors"


def provenance(ident: LogIdentity, method: str, version: str, report: Mapping[str, Any]) -> dict[str, str]:
    """Metadata recording where a scene came from."""
    meta = {**ident.as_metadata(), "method": method, "method_version": version}
    for key in ("build_seconds", "fit_seconds", "heldout_psnr", "init", "init_reason"):
        if key in report:
            meta[key] = str(report[key])
    return meta


def build_scene(
    segment: LogSegment,
    method: str,
    settings: SourceSettings | None = None,
    progress: bool = True,
) -> tuple[GaussianScene, dict[str, Any]]:
    """Build the ``method`` scene of ``segment`` (no cache), stamped with its provenance."""
    from jwmsim.gaussians.scene import GaussianScene

    source = SCENE_SOURCES.get(method)
    settings = settings or SourceSettings()
    scene, report = source.build(segment, settings, progress)
    meta = {**scene.metadata, **provenance(log_identity(segment), method, source.version, report)}
    return GaussianScene(scene.background, scene.actors, scene.sky, meta), report


def scene_for_log(
    segment: LogSegment,
    source: str | os.PathLike[str] = DEFAULT_SCENE_SOURCE,
    progress: bool = True,
    *,
    settings: SourceSettings | None = None,
    force: bool = False,
) -> GaussianScene:
    """The scene to render for ``segment``: a registered source (built once, then cached) or the
    path of a saved scene file (checked against the log unless ``force``).

    Raises:
        CheckpointError: the file is missing or not a readable scene.
        SceneMismatchError: the file was built from another log (or records none).
    """
    from jwmsim.gaussians.scene import GaussianScene

    name = str(source)
    if name not in SCENE_SOURCES:
        path = Path(source)
        if not path.is_file():
            raise CheckpointError(
                f"Gaussian scene {path} does not exist",
                hint=f"pass the path of a saved GaussianScene, or one of {SCENE_SOURCES.names()}",
            )
        scene = GaussianScene.load(path)
        check_scene_matches(scene, segment, where=str(path), force=force)
        return scene
    path = scene_cache_path(segment, name, settings)
    if path.is_file():
        try:
            return GaussianScene.load(path)
        except CheckpointError as err:
            warnings.warn(
                f"cached scene {path} is unreadable ({err.message}); rebuilding it",
                RuntimeWarning,
                stacklevel=2,
            )
            path.unlink(missing_ok=True)
    scene, report = build_scene(segment, name, settings, progress)
    path.parent.mkdir(parents=True, exist_ok=True)
    scene.save(path)
    if "quality" in report or "stages_seconds" in report:
        from jwmsim.scenes.quality import write_report

        sheet = report.pop("contact_sheet", None)
        write_report({"method": name, "scene": str(path), **report}, path, sheet)
    return scene


def check_scene_matches(scene: GaussianScene, segment: LogSegment, where: str, force: bool = False) -> None:
    """Refuse ``scene`` (from ``where``, for messages) unless it records ``segment``'s log.

    Raises:
        SceneMismatchError: it records another log, or none (unless ``force``).
    """
    if force:
        return
    recorded = scene.metadata.get("log_digest")
    ident = log_identity(segment)
    hint = (
        "build a scene for this log (jwmsim reconstruct LOG --out FILE, or use --scene lidar), "
        "or pass --force-scene (force_scene=True) to render it anyway"
    )
    if not recorded:
        raise SceneMismatchError(
            f"scene {where} does not record the log it was built from, so it cannot be checked against "
            f"log {ident.name!r} ({ident.dataroot or 'in memory'})",
            hint=hint,
        )
    if recorded != ident.digest:
        built = scene.metadata.get("log", "?")
        root = scene.metadata.get("log_dataroot", "?")
        raise SceneMismatchError(
            f"scene {where} was built from log {built!r} ({root}, digest {recorded}), not from log "
            f"{ident.name!r} ({ident.dataroot or 'in memory'}, digest {ident.digest}): its tables or "
            "sensor files differ",
            hint=hint,
        )
