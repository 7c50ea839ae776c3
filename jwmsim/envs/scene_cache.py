"""The Gaussian scene a driving environment renders, cached per log.

``scene_for_log(segment, source)``:

* ``source`` is a path to a saved :class:`~jwmsim.gaussians.scene.GaussianScene` (``.safetensors``):
  that scene (e.g. a WorldRec reconstruction);
* ``source == "lidar"``: the **lidar skeleton** of the log (below), built on first use and cached
  under ``$JWMSIM_CACHE/scenes`` (default ``~/.cache/jwmsim/scenes``), keyed by the log's name,
  source, duration and the builder version, written atomically;
* ``source == "fit"``: a per-scene optimised scene (:func:`jwmsim.gaussians.fit.fit_scene` with its
  default :class:`~jwmsim.gaussians.fit.FitConfig`; minutes on a CPU), cached the same way.

The lidar skeleton is a learning-free stand-in until a trained reconstruction is available: every
lidar point is coloured from the camera frame nearest in time that sees it; points inside an
actor's box (box enlarged by 0.25 m) go to that actor, in its box frame, the rest to the
background (points on the ego's own body are dropped); each set is averaged on a voxel grid
(0.3 m background, 0.1 m actors) and every voxel
becomes one isotropic Gaussian (standard deviation 0.6 voxel, opacity 0.95). The sky is the default
gradient. It renders plausible views near the logged path, with holes where the lidar saw nothing.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from jwmsim.errors import CheckpointError
from jwmsim.gaussians.lidar_skeleton import BUILDER_VERSION, lidar_skeleton
from jwmsim.gaussians.scene import GaussianScene
from jwmsim.logs.segment import LogSegment

SOURCES = {"lidar": BUILDER_VERSION, "fit": "fit-default-v2"}


def cache_root() -> Path:
    """``$JWMSIM_CACHE/scenes`` or ``~/.cache/jwmsim/scenes``."""
    env = os.environ.get("JWMSIM_CACHE")
    return (Path(env).expanduser() if env else Path.home() / ".cache" / "jwmsim") / "scenes"


def scene_cache_path(segment: LogSegment, method: str = "lidar") -> Path:
    """Cache file of the ``method`` (``"lidar"`` / ``"fit"``) scene of ``segment``."""
    key = f"{segment.name}|{segment.source}|{segment.start_us}|{segment.duration:.3f}|{SOURCES[method]}"
    digest = hashlib.sha1(key.encode()).hexdigest()[:12]
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in segment.name)
    return cache_root() / f"{safe}-{method}-{digest}.safetensors"


def scene_for_log(
    segment: LogSegment, source: str | os.PathLike[str] = "lidar", progress: bool = True
) -> GaussianScene:
    """The scene to render for ``segment`` (see the module docstring)."""
    method = str(source)
    if method not in SOURCES:
        path = Path(source)
        if not path.is_file():
            raise CheckpointError(
                f"Gaussian scene {path} does not exist",
                hint=f"pass the path of a saved GaussianScene, or one of {sorted(SOURCES)}",
            )
        return GaussianScene.load(path)
    path = scene_cache_path(segment, method)
    if path.is_file():
        try:
            return GaussianScene.load(path)
        except Exception:  # a corrupt cache entry is rebuilt, not trusted
            path.unlink(missing_ok=True)
    if method == "fit":
        from jwmsim.gaussians.fit import fit_scene

        scene, _ = fit_scene(segment, progress=progress)
    else:
        scene = lidar_skeleton(segment, progress=progress)
    path.parent.mkdir(parents=True, exist_ok=True)
    scene.save(path)
    return scene
