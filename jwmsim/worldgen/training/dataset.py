"""WorldGen clips on disk: skeleton renders and true images at the same (often perturbed) poses.

A clip is one ``.npz`` file of ``T`` consecutive simulation steps (10 Hz) of ``C`` cameras at
``H x W`` (defaults: 8 steps, the replay's three front cameras, 112 x 200). Keys:

* ``cameras`` ``[C]`` str;
* ``target`` uint8 ``[T, C, H, W, 3]``: the true images at the clip's poses (the oracle in towns,
  the logged frames on the real log);
* ``skel_rgb`` uint8 ``[T, C, H, W, 3]``, ``skel_depth`` float16 ``[T, C, H, W]`` [m] (0 empty),
  ``skel_alpha`` uint8 ``[T, C, H, W]`` (alpha * 255): the skeleton's render at the same poses;
* ``world_from_ego`` float64 ``[T, 4, 4]`` (the perturbed pose), ``log_world_from_ego`` float64
  ``[T, 4, 4]`` (the logged pose), ``ego_from_cam`` float64 ``[C, 4, 4]``, ``intrinsics`` float64
  ``[C, 3, 3]`` at ``H x W``, ``times`` float64 ``[T]`` (log seconds), ``shift_m`` float32 ``[T]``
  (sideways, + to the left [m]), ``yaw_rad`` float32 ``[T]`` (+ to the left [rad]);
* ``source`` str (``town-000100``, ``pandaset-002``), ``kind`` str (``town`` | ``real``), ``scene``
  str (``lidar`` | ``worldrec``), ``scene_version`` str (the scene source's version that built
  the skeleton's scene, e.g. ``worldrec-v2-<weights digest>-<pruning>``; empty in clips written
  before it was recorded).

Evaluation clips may also hold the log's frames before the clip (what a generator is primed with):
``context`` uint8 ``[K, C, H, W, 3]``, ``context_world_from_ego`` float64 ``[K, 4, 4]`` and
``context_times`` float64 ``[K]``; and a ``condition`` str naming what was varied (``shift-2m``...).

Layout: ``<root>/train/clip-<source>-<k>.npz`` and ``<root>/eval/...``; the default root is
``$JWMSIM_CACHE/worldgen`` (``~/.cache/jwmsim/worldgen``). Clips are written atomically (a temp file
in the same folder, then ``os.replace``), so a listed clip is always complete.
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from jwmsim.atomic import atomic_path
from jwmsim.errors import ConfigError, LogFormatError
from jwmsim.worldgen.frames import ContextFrame, FramePoses, SkeletonFrame

DEFAULT_CAMERAS = ("CAM_FRONT_LEFT", "CAM_FRONT", "CAM_FRONT_RIGHT")
DEFAULT_STEPS = 8  # frames per clip
DEFAULT_HW = (112, 200)  # [px] height, width
STEP_S = 0.1  # [s] the simulator's step (10 Hz)
SPLITS = ("train", "eval")
KINDS = ("town", "real")
SCENES = ("lidar", "worldrec")


def default_root() -> Path:
    """``$JWMSIM_CACHE/worldgen`` (default ``~/.cache/jwmsim/worldgen``), outside git."""
    from jwmsim.logs.procedural.default_log import cache_dir

    return cache_dir() / "worldgen"


@dataclass(frozen=True)
class Clip:
    """One clip (see the module docstring for every array's shape, dtype and unit)."""

    cameras: tuple[str, ...]
    target: np.ndarray
    skel_rgb: np.ndarray
    skel_depth: np.ndarray
    skel_alpha: np.ndarray
    world_from_ego: np.ndarray
    log_world_from_ego: np.ndarray
    ego_from_cam: np.ndarray
    intrinsics: np.ndarray
    times: np.ndarray
    shift_m: np.ndarray
    yaw_rad: np.ndarray
    source: str
    kind: str
    scene: str
    condition: str = ""
    context: np.ndarray | None = None
    context_world_from_ego: np.ndarray | None = None
    context_times: np.ndarray | None = None
    scene_version: str = ""

    def __post_init__(self) -> None:
        problem = clip_problem(self)
        if problem is not None:
            raise ValueError(problem)

    @property
    def num_steps(self) -> int:
        return int(self.target.shape[0])

    @property
    def image_hw(self) -> tuple[int, int]:
        return int(self.target.shape[2]), int(self.target.shape[3])

    def poses(self, t: int) -> FramePoses:
        """The poses of step ``t``."""
        return FramePoses(
            self.cameras, self.world_from_ego[t], self.ego_from_cam, self.intrinsics, float(self.times[t])
        )

    def skeleton_frames(self) -> list[SkeletonFrame]:
        """The skeleton's render of every step: rgb uint8 ``[C, H, W, 3]``, depth float32 [m],
        alpha float32 in [0, 1]."""
        return [
            SkeletonFrame(
                rgb=self.skel_rgb[t],
                depth=self.skel_depth[t].astype(np.float32),
                alpha=self.skel_alpha[t].astype(np.float32) / 255.0,
                poses=self.poses(t),
            )
            for t in range(self.num_steps)
        ]

    def context_frames(self) -> list[ContextFrame]:
        """The true images of every step as context frames (with their skeleton renders)."""
        return [
            ContextFrame(images=self.target[t], poses=sk.poses, skeleton=sk)
            for t, sk in enumerate(self.skeleton_frames())
        ]

    def prior_context(self) -> list[ContextFrame]:
        """The log's frames before the clip (evaluation clips; empty when the clip has none)."""
        if self.context is None:
            return []
        assert self.context_world_from_ego is not None and self.context_times is not None
        return [
            ContextFrame(
                images=self.context[k],
                poses=FramePoses(
                    self.cameras,
                    self.context_world_from_ego[k],
                    self.ego_from_cam,
                    self.intrinsics,
                    float(self.context_times[k]),
                ),
            )
            for k in range(self.context.shape[0])
        ]


# name -> (dtype, shape as a function of T, C, H, W, K) for the array fields
def _specs(t: int, c: int, h: int, w: int, k: int) -> dict[str, tuple[type, tuple[int, ...]]]:
    return {
        "target": (np.uint8, (t, c, h, w, 3)),
        "skel_rgb": (np.uint8, (t, c, h, w, 3)),
        "skel_depth": (np.float16, (t, c, h, w)),
        "skel_alpha": (np.uint8, (t, c, h, w)),
        "world_from_ego": (np.float64, (t, 4, 4)),
        "log_world_from_ego": (np.float64, (t, 4, 4)),
        "ego_from_cam": (np.float64, (c, 4, 4)),
        "intrinsics": (np.float64, (c, 3, 3)),
        "times": (np.float64, (t,)),
        "shift_m": (np.float32, (t,)),
        "yaw_rad": (np.float32, (t,)),
        "context": (np.uint8, (k, c, h, w, 3)),
        "context_world_from_ego": (np.float64, (k, 4, 4)),
        "context_times": (np.float64, (k,)),
    }


_OPTIONAL = ("context", "context_world_from_ego", "context_times")
_STRINGS = ("source", "kind", "scene", "condition", "scene_version")
_DEFAULTED = ("condition", "scene_version")  # strings a clip may lack (written before they were)


def clip_problem(clip: Clip) -> str | None:
    """What is wrong with ``clip``'s arrays (a sentence), or None."""
    tgt = clip.target
    if not isinstance(tgt, np.ndarray) or tgt.ndim != 5:
        return f"target must be a [T, C, H, W, 3] array, got {getattr(tgt, 'shape', type(tgt).__name__)}"
    t, c, h, w = tgt.shape[:4]
    if t < 1 or c != len(clip.cameras) or c < 1:
        return f"target has {t} steps and {c} cameras; the clip names cameras {list(clip.cameras)}"
    ctx = clip.context
    have_ctx = [getattr(clip, n) is not None for n in _OPTIONAL]
    if any(have_ctx) and not all(have_ctx):
        return "context, context_world_from_ego and context_times come together"
    k = int(ctx.shape[0]) if isinstance(ctx, np.ndarray) and ctx.ndim >= 1 else 0
    for name, (dtype, shape) in _specs(t, c, h, w, k).items():
        arr = getattr(clip, name)
        if arr is None and name in _OPTIONAL:
            continue
        if not isinstance(arr, np.ndarray) or arr.dtype != dtype or arr.shape != shape:
            got = f"{arr.dtype} {arr.shape}" if isinstance(arr, np.ndarray) else type(arr).__name__
            return f"{name} must be {np.dtype(dtype).name} {shape}, got {got}"
    for name in ("world_from_ego", "log_world_from_ego", "ego_from_cam", "intrinsics", "times"):
        if not np.isfinite(getattr(clip, name)).all():
            return f"{name} holds non-finite values"
    if clip.kind not in KINDS:
        return f"kind must be one of {KINDS}, got {clip.kind!r}"
    if clip.scene not in SCENES:
        return f"scene must be one of {SCENES}, got {clip.scene!r}"
    if not clip.source:
        return "source is empty"
    return None


def clip_name(source: str, index: int) -> str:
    """``clip-<source>-<index>.npz`` (index zero-padded to 4 digits)."""
    return f"clip-{source}-{index:04d}.npz"


def split_dir(root: Path, split: str) -> Path:
    if split not in SPLITS:
        raise ConfigError(f"unknown clip split {split!r}", hint=f"use one of {list(SPLITS)}")
    return Path(root) / split


def save_clip(clip: Clip, path: Path) -> Path:
    """Write ``clip`` to ``path`` atomically (temp file in the same folder, then ``os.replace``)."""
    path = Path(path)
    arrays: dict[str, np.ndarray] = {"cameras": np.asarray(clip.cameras, dtype=str)}
    for f in fields(clip):
        value = getattr(clip, f.name)
        if f.name == "cameras" or value is None:
            continue
        arrays[f.name] = np.asarray(value, dtype=str) if f.name in _STRINGS else value
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, **arrays)
    return path


def load_clip(path: str | os.PathLike[str]) -> Clip:
    """Read a clip written by :func:`save_clip`.

    Raises:
        LogFormatError: the file is missing, not a readable ``.npz``, lacks a key, or holds an array
            of the wrong shape or dtype (the message names the file and the key).
    """
    path = Path(path)
    hint = "delete it and run `python -m jwmsim.worldgen.training.prepare` again (existing clips are kept)"
    if not path.is_file():
        raise LogFormatError(f"WorldGen clip {path} does not exist", hint="list clips with list_clips(root)")
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as err:
        raise LogFormatError(f"WorldGen clip {path} is not a readable .npz file ({err})", hint=hint) from err
    required = ["cameras", *(f.name for f in fields(Clip) if f.name not in (*_OPTIONAL, *_DEFAULTED))]
    missing = [k for k in required if k not in data]
    if missing:
        raise LogFormatError(f"WorldGen clip {path} lacks the keys {missing}", hint=hint)
    kwargs: dict[str, object] = {}
    for f in fields(Clip):
        if f.name not in data:
            continue
        value = data[f.name]
        if f.name == "cameras":
            kwargs[f.name] = tuple(str(c) for c in value.reshape(-1))
        elif f.name in _STRINGS:
            kwargs[f.name] = str(value)
        else:
            kwargs[f.name] = value
    try:
        return Clip(**kwargs)  # type: ignore[arg-type]
    except ValueError as err:
        raise LogFormatError(f"WorldGen clip {path} is malformed: {err}", hint=hint) from err


def list_clips(root: str | os.PathLike[str], split: str = "train") -> list[Path]:
    """The complete clips of ``split`` under ``root``, sorted by name (temp files are skipped)."""
    folder = split_dir(Path(root), split)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob("clip-*.npz") if p.is_file())
