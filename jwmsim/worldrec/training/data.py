"""Training data of WorldRec: procedural towns (logs + oracle views off the logged path) and the
real log, and the seed policy that keeps evaluation towns out of training.

Seeds: training towns come from :data:`TRAIN_SEEDS` (100-199); evaluation towns are
:data:`EVAL_SEEDS` (900-904); the built-in seed log's town (seed 3) is never trained on.
:func:`check_training_seed` enforces it wherever a town enters training. On the real log every
8th frame (index ``i % 8 == 4``, as :mod:`jwmsim.gaussians.fit` holds out) is never loaded for
training, neither its images nor its lidar sweep; and the real log is cut at frame 40
(:mod:`jwmsim.logs.real_log_split`): frames 40-59 are the out-of-sample log, never read by
training (:func:`make_source` asserts it).

Layout under the data root (outside git; default ``$JWMSIM_CACHE/worldrec``)::

    towns/town-000100/            nuScenes dataroot of the town's log (write_town_log)
    towns/town-000100/oracle.npz  true images of all cameras at poses shifted sideways
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from jwmsim.errors import ConfigError
from jwmsim.geometry import SE3
from jwmsim.logs.real_log_split import check_training_frames, training_part
from jwmsim.logs.segment import LogSegment
from jwmsim.worldrec.inputs import LogCache

TRAIN_SEEDS = range(100, 200)
EVAL_SEEDS = range(900, 905)
BUILTIN_SEED = 3
HOLDOUT_EVERY = 8


def check_training_seed(seed: int) -> None:
    """Refuse a town seed reserved for evaluation (or the built-in log's)."""
    if seed in EVAL_SEEDS or seed == BUILTIN_SEED or seed not in TRAIN_SEEDS:
        raise ConfigError(
            f"town seed {seed} may not be used for training",
            hint=f"training seeds are {TRAIN_SEEDS.start}-{TRAIN_SEEDS.stop - 1}; {EVAL_SEEDS.start}-"
            f"{EVAL_SEEDS.stop - 1} and {BUILTIN_SEED} (the built-in log) are kept for evaluation",
        )


def is_heldout(index: int, every: int = HOLDOUT_EVERY) -> bool:
    """Whether frame ``index`` of the real log is held out for evaluation (``i % 8 == 4``)."""
    return every > 0 and index % every == every // 2


def training_frames(num_frames: int, every: int = HOLDOUT_EVERY) -> list[int]:
    """Frame indices that training may read."""
    return [i for i in range(num_frames) if not is_heldout(i, every)]


def town_dir(root: Path, seed: int) -> Path:
    return Path(root) / "towns" / f"town-{seed:06d}"


def town_log_is_current(path: Path) -> bool:
    """Whether ``path`` holds a complete procedural town log written by the current town generator
    (:data:`jwmsim.logs.procedural.GENERATOR_VERSION`, recorded in ``extras/generator.json``). A log
    of an older generator no longer matches the oracle, which renders the current town."""
    import json

    from jwmsim.logs.procedural import GENERATOR_VERSION

    path = Path(path)
    meta = path / "extras" / "generator.json"
    if not (path / "v1.0-mini" / "scene.json").is_file() or not meta.is_file():
        return False
    try:
        return json.loads(meta.read_text()).get("generator") == GENERATOR_VERSION
    except (OSError, ValueError):
        return False


@dataclass(frozen=True)
class OracleViews:
    """True images off the logged path: ``images`` ``[M, C, H, W, 3]`` uint8 of all cameras at
    ``times`` ``[M]`` [s] with the ego at ``world_from_ego`` ``[M, 4, 4]`` (shifted ``shifts``
    ``[M]`` metres to its left)."""

    times: np.ndarray
    shifts: np.ndarray
    world_from_ego: np.ndarray
    images: np.ndarray


def render_oracle(
    seed: int,
    times: Sequence[float],
    shifts: Sequence[float],
    image_hw: tuple[int, int],
    render_hw: tuple[int, int] = (180, 320),
) -> OracleViews:
    """Oracle images of town ``seed``: all six cameras at the logged ego pose at each time,
    shifted sideways, rendered at ``render_hw`` and area-resized to ``image_hw`` (as log images are)."""
    from jwmsim.logs.procedural import Town, nuscenes_like_rig, render_ground_truth

    town = Town.generate(seed)
    rig = nuscenes_like_rig(render_hw[1], render_hw[0])
    h, w = image_hw
    imgs, poses = [], []
    for t, d in zip(times, shifts, strict=True):
        ego = town.ego_pose_at(float(t)) @ SE3.from_xy_yaw(0.0, float(d), 0.0)
        poses.append(ego.matrix)
        row = []
        for cam in rig.values():
            rgb = render_ground_truth(town, cam, ego, time=float(t)).rgb
            row.append(cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA))
        imgs.append(np.stack(row))
    return OracleViews(np.asarray(times, float), np.asarray(shifts, float), np.stack(poses), np.stack(imgs))


def prepare_town(
    root: Path,
    seed: int,
    duration: float,
    image_hw: tuple[int, int],
    oracle_views: int,
    max_shift: float = 3.0,
) -> Path:
    """Write town ``seed``'s log (320x180, ``duration`` s) and ``oracle_views`` shifted oracle
    pose sets (times evenly spread, shifts uniform in ``[-max_shift, max_shift]`` m) unless present."""
    from jwmsim.logs.procedural import LogConfig, write_town_log

    check_training_seed(seed)
    path = town_dir(root, seed)
    oracle = path / "oracle.npz"
    if not town_log_is_current(path):  # absent, incomplete or of an older generator: (re)write
        oracle.unlink(missing_ok=True)
        cfg = LogConfig(duration=duration, width=320, height=180, workers=1)
        write_town_log(seed, path, cfg, progress=False, overwrite=path.exists())
    if not oracle.is_file() and oracle_views > 0:
        rng = np.random.default_rng(seed)
        times = np.linspace(0.2, duration - 0.3, oracle_views)
        shifts = rng.uniform(-max_shift, max_shift, oracle_views)
        ov = render_oracle(seed, times, shifts, image_hw)
        tmp = path / "oracle.tmp.npz"
        np.savez(tmp, times=ov.times, shifts=ov.shifts, world_from_ego=ov.world_from_ego, images=ov.images)
        tmp.replace(oracle)
    return path


def load_oracle(path: Path, image_hw: tuple[int, int]) -> OracleViews | None:
    f = Path(path) / "oracle.npz"
    if not f.is_file():
        return None
    with np.load(f) as z:
        ov = OracleViews(z["times"], z["shifts"], z["world_from_ego"], z["images"])
    if tuple(ov.images.shape[2:4]) != tuple(image_hw):
        raise ConfigError(
            f"{f} holds {ov.images.shape[2:4]} images, the model wants {image_hw}", hint="delete it"
        )
    return ov


@dataclass(frozen=True)
class Source:
    """One log to train on: its cache, optional oracle views, and a weight for sampling."""

    name: str
    cache: LogCache
    oracle: OracleViews | None
    ego_from_cam: np.ndarray  # [C, 4, 4]


def make_source(
    name: str, segment: LogSegment, image_hw: tuple[int, int], oracle: OracleViews | None, real: bool
) -> Source:
    """A :class:`Source`; for the real log (``real``) the held-out frames are not loaded, and the
    shared real log is cut before frame 40 first (its frames 40-59 are never read).

    Raises:
        RealLogSplitError: the cache would hold a frame or sweep of the real log's frames 40-59.
    """
    segment = training_part(segment)
    n = min(len(segment.frames[c]) for c in segment.camera_names)
    frames = training_frames(n) if real else list(range(n))
    check_training_frames(segment.name, frames)
    cache = LogCache.from_segment(segment, image_hw, frames=frames)
    e2c = np.stack([segment.cameras[c].ego_from_cam.matrix for c in segment.camera_names])
    return Source(name, cache, oracle, e2c)


@dataclass(frozen=True)
class Target:
    """Views to render and compare: ``viewmats`` ``[T, 4, 4]`` (float64), ``ks`` ``[T, 3, 3]``,
    ``images`` ``[T, H, W, 3]`` float in [0, 1], all at ``time`` [s] (actors posed then)."""

    viewmats: torch.Tensor
    ks: torch.Tensor
    images: torch.Tensor
    time: float
    kind: str  # "frame" or "oracle"


@dataclass(frozen=True)
class Sample:
    """A training sample: context ``frames`` (cache indices), context ``cameras`` and targets."""

    source: Source
    frames: list[int]
    cameras: list[int]
    targets: list[Target]


def draw_sample(
    source: Source, rng: np.random.Generator, ctx_steps: int, ctx_stride: int, drop_camera_p: float
) -> Sample:
    """Context: ``ctx_steps`` frames ``ctx_stride`` apart (all cameras, sometimes one left out);
    targets: all cameras of one frame inside the window that is not a context frame, and (towns)
    one oracle pose set nearest the window's middle time, or else a second non-context frame."""
    cache = source.cache
    n = cache.num_frames
    span = (ctx_steps - 1) * ctx_stride
    if n < span + 2:
        raise ConfigError(f"log {cache.name} has {n} frames; a window needs {span + 2}")
    start = int(rng.integers(0, n - span))
    frames = [start + i * ctx_stride for i in range(ctx_steps)]
    cams = list(range(len(cache.cameras)))
    if rng.random() < drop_camera_p and len(cams) > 1:
        cams.pop(int(rng.integers(len(cams))))
    lo, hi = max(0, start - 1), min(n - 1, frames[-1] + 1)
    others = [i for i in range(lo, hi + 1) if i not in frames]
    targets = []
    picks = list(rng.choice(others, size=min(2, len(others)), replace=False)) if others else []
    if picks:
        targets.append(_frame_target(cache, int(picks[0])))
    ov = source.oracle
    mid_t = float(cache.times[0, frames[len(frames) // 2]])
    if ov is not None and len(ov.times):
        near = np.flatnonzero(np.abs(ov.times - mid_t) <= 0.5 + (span / 2) * 0.1)
        if len(near):
            j = int(rng.choice(near))
            targets.append(_oracle_target(source, j))
    if len(targets) < 2 and len(picks) > 1:
        targets.append(_frame_target(cache, int(picks[1])))
    return Sample(source, frames, cams, targets)


def _frame_target(cache: LogCache, f: int) -> Target:
    vm = torch.from_numpy(np.linalg.inv(cache.world_from_cam[:, f]))
    return Target(
        vm,
        torch.from_numpy(cache.ks).double(),
        torch.from_numpy(cache.images[:, f]).float() / 255.0,
        float(cache.times[0, f]),
        "frame",
    )


def _oracle_target(source: Source, j: int) -> Target:
    ov = source.oracle
    assert ov is not None
    wfc = ov.world_from_ego[j][None] @ source.ego_from_cam
    return Target(
        torch.from_numpy(np.linalg.inv(wfc)),
        torch.from_numpy(source.cache.ks).double(),
        torch.from_numpy(ov.images[j]).float() / 255.0,
        float(ov.times[j]),
        "oracle",
    )


def default_data_root() -> Path:
    """Where training and evaluation towns are generated and cached: ``$JWMSIM_CACHE/worldrec``
    (default ``~/.cache/jwmsim/worldrec``), outside git."""
    from jwmsim.logs.procedural.default_log import cache_dir

    return cache_dir() / "worldrec"


def default_real_log() -> Path:
    """The real log beside the repository: ``<repo>/../shared/data/pandaset-002-nusc``."""
    return Path(__file__).resolve().parents[4] / "shared" / "data" / "pandaset-002-nusc"
