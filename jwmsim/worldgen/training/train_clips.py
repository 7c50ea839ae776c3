"""WorldGen's training clips as model tensors (reads the ``.npz`` clips with plain numpy).

A clip file holds ``T`` steps of ``C`` cameras (written by :mod:`jwmsim.worldgen.training.prepare`,
read by :mod:`jwmsim.worldgen.training.dataset`): ``target`` uint8 ``[T, C, H, W, 3]``, ``skel_rgb``
uint8 ``[T, C, H, W, 3]``, ``skel_depth`` float16 ``[T, C, H, W]`` [m], ``skel_alpha`` uint8
``[T, C, H, W]`` (alpha * 255), ``world_from_ego`` ``[T, 4, 4]``, ``ego_from_cam`` ``[C, 4, 4]``,
``intrinsics`` ``[C, 3, 3]``, ``source`` (``town-000100``), ``kind`` and more. Training refuses
clips of evaluation towns (seeds 900-904) and of the built-in log (seed 3).
"""

from __future__ import annotations

import re
import zipfile
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from jwmsim.errors import ConfigError, LogFormatError
from jwmsim.worldgen.conditioning import ego_motion, encode_condition, images_to_model, token_rays

REQUIRED = ("target", "skel_rgb", "skel_depth", "skel_alpha", "world_from_ego", "ego_from_cam", "intrinsics")


@dataclass(frozen=True)
class ClipTensors:
    """A run of frames of one clip, ready for the model.

    Attributes:
        x0: ``[F, C, 3, H, W]`` true images in [-1, 1].
        cond: ``[F, C, 5, H, W]`` skeleton condition.
        rays: ``[C, h, w, 3]`` token rays.
        motion: ``[F, 4]`` ego motion since the previous frame (zeros for the clip's first).
        source: the clip's source name.
    """

    x0: torch.Tensor
    cond: torch.Tensor
    rays: torch.Tensor
    motion: torch.Tensor
    source: str


def clip_arrays(path: Path) -> dict[str, np.ndarray]:
    """The arrays of one clip file, checked for the keys and shapes training needs.

    Raises:
        LogFormatError: the file is missing, unreadable, or lacks a key / has a wrong shape.
    """
    hint = "regenerate it with `python -m jwmsim.worldgen.training.prepare` or delete it"
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as err:
        raise LogFormatError(f"WorldGen clip {path} is unreadable ({err})", hint=hint) from err
    missing = [k for k in REQUIRED if k not in data]
    if missing:
        raise LogFormatError(f"WorldGen clip {path} lacks {missing}", hint=hint)
    t, c, h, w, three = data["target"].shape
    shapes = {
        "skel_rgb": (t, c, h, w, 3),
        "skel_depth": (t, c, h, w),
        "skel_alpha": (t, c, h, w),
        "world_from_ego": (t, 4, 4),
        "ego_from_cam": (c, 4, 4),
        "intrinsics": (c, 3, 3),
    }
    bad = {k: data[k].shape for k, s in shapes.items() if data[k].shape != s}
    if three != 3 or bad:
        raise LogFormatError(f"WorldGen clip {path} has inconsistent shapes {bad}", hint=hint)
    return data


def source_seed(source: str) -> int | None:
    """The town seed of a ``town-000123`` source name (None for other sources)."""
    m = re.fullmatch(r"town-0*(\d+)", source)
    return int(m.group(1)) if m else None


def check_training_clip(path: Path, data: dict[str, np.ndarray]) -> None:
    """Refuse a clip of an evaluation town or of the built-in log (raises ConfigError)."""
    from jwmsim.worldrec.training.data import check_training_seed

    source = str(data["source"]) if "source" in data else ""
    seed = source_seed(source)
    if seed is not None:
        try:
            check_training_seed(seed)
        except ConfigError as err:
            raise ConfigError(f"clip {path}: {err.message}", hint=err.hint) from None


def clip_tensors(
    data: dict[str, np.ndarray],
    start: int,
    frames: int,
    patch: int,
    depth_scale: float,
    crop: tuple[int, int, int, int] | None = None,
) -> ClipTensors:
    """Frames ``start .. start + frames - 1`` of a clip's arrays as model tensors.

    Args:
        crop: ``(top, left, height, width)`` [px] of a window of every image (None: whole images);
            the token rays follow the window (its intrinsics are shifted), so a model trained on
            windows runs on whole images.
    """
    sl = slice(start, start + frames)
    poses = data["world_from_ego"]
    previous = poses[start - 1] if start > 0 else None
    motion = ego_motion(poses[sl], previous)
    hw = tuple(data["target"].shape[2:4])
    ks = np.array(data["intrinsics"], dtype=np.float64)
    rows, cols = slice(None), slice(None)
    if crop is not None:
        top, left, ch, cw = crop
        if top < 0 or left < 0 or top + ch > hw[0] or left + cw > hw[1]:
            raise ConfigError(f"crop {crop} does not fit images of {hw}")
        rows, cols = slice(top, top + ch), slice(left, left + cw)
        ks[:, 0, 2] -= left
        ks[:, 1, 2] -= top
        hw = (ch, cw)
    return ClipTensors(
        x0=images_to_model(data["target"][sl, :, rows, cols]),
        cond=encode_condition(
            data["skel_rgb"][sl, :, rows, cols],
            data["skel_depth"][sl, :, rows, cols].astype(np.float32),
            data["skel_alpha"][sl, :, rows, cols].astype(np.float32) / 255.0,
            depth_scale,
        ),
        rays=token_rays(ks, data["ego_from_cam"], hw, patch),
        motion=motion,
        source=str(data.get("source", "")),
    )


class ClipSet:
    """The ``*.npz`` clips of a folder, read on demand and kept in memory (LRU, ``max_cached``).

    Args:
        folder: the training clips (``/work/data/worldgen/train``); new files are picked up by
            :meth:`refresh`.
        max_cached: clips kept in memory (a 3-camera 112x200 clip of 8 frames is about 5 MB).
    """

    def __init__(self, folder: Path, max_cached: int = 400) -> None:
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise ConfigError(
                f"WorldGen training clips folder {self.folder} does not exist",
                hint="write clips first (python -m jwmsim.worldgen.training.prepare --split train) "
                "or pass --data",
            )
        self.max_cached = max_cached
        self._cache: OrderedDict[Path, dict[str, np.ndarray]] = OrderedDict()
        self.paths: list[Path] = []
        self.refresh()

    def refresh(self) -> int:
        """Re-list the folder; returns the number of clips."""
        self.paths = sorted(p for p in self.folder.glob("*.npz") if p.is_file())
        if not self.paths:
            raise ConfigError(f"no .npz clips in {self.folder}", hint="generate training clips first")
        return len(self.paths)

    def __len__(self) -> int:
        return len(self.paths)

    def arrays(self, index: int) -> dict[str, np.ndarray]:
        path = self.paths[index]
        if path in self._cache:
            self._cache.move_to_end(path)
            return self._cache[path]
        data = clip_arrays(path)
        check_training_clip(path, data)
        self._cache[path] = data
        if len(self._cache) > self.max_cached:
            self._cache.popitem(last=False)
        return data

    def draw(
        self,
        rng: np.random.Generator,
        frames: int,
        patch: int,
        depth_scale: float,
        crop_hw: tuple[int, int] | None = None,
    ) -> ClipTensors:
        """A random run of ``frames`` consecutive frames of a random clip; with ``crop_hw``, a
        random window of that size (on the token grid: offsets are multiples of ``patch``)."""
        data = self.arrays(int(rng.integers(len(self.paths))))
        t, _, h, w = data["target"].shape[:4]
        if t < frames:
            raise ConfigError(f"clips have {t} frames, training wants {frames}", hint="lower clip_frames")
        start = int(rng.integers(t - frames + 1))
        crop = None
        if crop_hw is not None and tuple(crop_hw) != (h, w):
            ch, cw = min(crop_hw[0], h), min(crop_hw[1], w)
            top = patch * int(rng.integers((h - ch) // patch + 1))
            left = patch * int(rng.integers((w - cw) // patch + 1))
            crop = (top, left, ch, cw)
        return clip_tensors(data, start, frames, patch, depth_scale, crop)
