"""The WorldGen evaluation set: clips of towns never trained on (seeds 900-904) and of the real
log's held-out last second, each with the log's frames before it as context.

Per town and per skeleton scene (``lidar``, ``worldrec``), at log time ``EVAL_T0``:

* ``shift-0m`` .. ``shift-3m``: the ego shifted exactly 0, 1, 2, 3 m sideways (to its left, or its
  right where the left is blocked) for the whole clip, actors as logged;
* ``lane-change``: a lane change to the left (or right) lane, the town's lane width, driven in
  closed loop for ``LANE_CHANGE_S`` seconds: the simulator's bicycle model under a pure-pursuit
  and speed controller (:mod:`jwmsim.worldgen.training.lane_change`), rendered step by step;
* ``actors-moved``: the logged ego pose with actors moved along / off their tracks and vehicles
  inserted.

Plus ``rollout-60s``: a 60 s log of town 900 (seed policy: evaluation seeds only), the ego weaving up
to 1.5 m off the logged path, for the drift curve and memory over a minute; and ``real-heldout``:
the real log's frames 50-59 rendered from a scene built on frames 0-49, with real frames 42-49 as
context. Clips go to ``<root>/eval/clip-<source>-<condition>-<scene>.npz``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from jwmsim.errors import ConfigError
from jwmsim.progress import progress_bar
from jwmsim.worldgen.training.dataset import STEP_S, Clip, save_clip, split_dir
from jwmsim.worldgen.training.lane_change import closed_loop_lane_change
from jwmsim.worldgen.training.perturb import EgoOffsets, PerturbConfig
from jwmsim.worldgen.training.town_clips import ClipSpec, TownClipMaker, prepare_town_log

EVAL_SHIFTS = (0.0, 1.0, 2.0, 3.0)  # [m]
EVAL_T0 = 1.0  # [s] log time of an eval clip's first step
CONTEXT_STEPS = 4  # log frames before a clip given as context
LANE_CHANGE_S = 2.5  # [s]
ROLLOUT_SEED = 900
MOVED = PerturbConfig(p_logged=0.0, p_move_actor=0.5, p_insert=1.0)


@dataclass(frozen=True)
class EvalSetConfig:
    """What :func:`write_eval_set` writes.

    Attributes:
        root: data root (clips under ``<root>/eval``, town logs under ``<root>/towns``).
        towns: evaluation town seeds (900-904 only).
        real_log: the real log's dataroot (None: no real-log clip).
        log_duration: seconds of each eval town log [s].
        rollout_seconds: length of the drift rollout [s] (0: none).
        scenes: skeleton scene sources.
        spec: clip size (``steps`` of the shift / actor clips).
    """

    root: Path
    towns: tuple[int, ...] = (900, 901, 902, 903, 904)
    real_log: Path | None = None
    log_duration: float = 4.1  # [s]
    rollout_seconds: float = 60.0  # [s]
    scenes: tuple[str, ...] = ("lidar", "worldrec")
    spec: ClipSpec = ClipSpec()

    def __post_init__(self) -> None:
        from jwmsim.worldrec.training.data import EVAL_SEEDS

        bad = [s for s in self.towns if s not in EVAL_SEEDS]
        if bad:
            raise ConfigError(
                f"towns {bad} are not evaluation towns",
                hint=f"the evaluation set uses seeds {EVAL_SEEDS.start}-{EVAL_SEEDS.stop - 1} only",
            )
        need = EVAL_T0 + LANE_CHANGE_S + 0.1
        if self.log_duration < need:
            raise ConfigError(f"--log-duration must be at least {need:.1f} s for the lane change clip")


def eval_clip_name(source: str, condition: str, scene: str) -> str:
    return f"clip-{source}-{condition}-{scene}.npz"


def _clear_shift(maker: TownClipMaker, d: float, t0: float, steps: int) -> EgoOffsets | None:
    """A constant shift of ``|d|`` m, left if the ego is clear there, else right; None if neither."""
    times = t0 + STEP_S * np.arange(steps)
    log_poses = [maker.segment.ego_pose_at(float(t)) for t in times]
    for sign in (1.0, -1.0):
        off = EgoOffsets(np.full(steps, sign * d, np.float32), np.zeros(steps, np.float32), "constant")
        if maker.ego_is_clear(off, times, log_poses):
            return off
    return None


def _lane_change(maker: TownClipMaker, t0: float, steps: int) -> EgoOffsets | None:
    times = t0 + STEP_S * np.arange(steps)
    log_poses = [maker.segment.ego_pose_at(float(t)) for t in times]
    width = float(maker.town.lane_widths.get(maker.town.ego_lane, 3.5))
    seg = maker.segment
    for sign in (1.0, -1.0):
        off = closed_loop_lane_change(seg.ego_pose_at, seg.ego_speed_at, t0, steps, sign * width, STEP_S)
        if maker.ego_is_clear(off, times, log_poses):
            return off
    return None


def town_eval_clips(cfg: EvalSetConfig, seed: int, bar: tqdm) -> list[Path]:
    """The shift, lane-change and actors-moved clips of eval town ``seed``."""
    source = f"town-{seed:06d}"
    folder = split_dir(cfg.root, "eval")
    maker = TownClipMaker(prepare_town_log(cfg.root, seed, cfg.log_duration), source, cfg.spec)
    lc_spec = ClipSpec(int(round(LANE_CHANGE_S / STEP_S)) + 1, cfg.spec.cameras, cfg.spec.image_hw)
    lc_maker = TownClipMaker(maker.dataroot, source, lc_spec)
    written = []
    for scene in cfg.scenes:
        jobs: list[tuple[str, TownClipMaker, EgoOffsets | None, PerturbConfig]] = []
        for d in EVAL_SHIFTS:
            jobs.append(
                (
                    f"shift-{d:g}m",
                    maker,
                    _clear_shift(maker, d, EVAL_T0, cfg.spec.steps),
                    PerturbConfig(p_logged=1.0),
                )
            )
        jobs.append(
            (
                "lane-change",
                lc_maker,
                _lane_change(lc_maker, EVAL_T0, lc_spec.steps),
                PerturbConfig(p_logged=1.0),
            )
        )
        z = np.zeros(cfg.spec.steps, np.float32)
        jobs.append(("actors-moved", maker, EgoOffsets(z, z.copy(), "constant"), MOVED))
        for condition, mk, off, pcfg in jobs:
            path = folder / eval_clip_name(source, condition, scene)
            bar.update(1)
            if path.is_file():
                continue
            if off is None:
                bar.write(f"{source}: no clear ego path for {condition}; skipped")
                continue
            rng = np.random.default_rng([seed, len(condition), 5])
            clip = mk.make(
                rng, scene, EVAL_T0, pcfg, offsets=off, context_steps=CONTEXT_STEPS, condition=condition
            )
            written.append(save_clip(clip, path))
    return written


def rollout_offsets(maker: TownClipMaker, steps: int, t0: float) -> EgoOffsets:
    """The drift rollout's weave ``d(t) = a (1 - cos(2 pi t / 20 s)) / 2``, ``a`` the largest of
    1.5, 0.75, 0 m that keeps the ego clear of the logged actors throughout."""
    times = t0 + STEP_S * np.arange(steps)
    log_poses = [maker.segment.ego_pose_at(float(t)) for t in times]
    for amp in (1.5, 0.75):
        d = amp * 0.5 * (1.0 - np.cos(2 * np.pi * (times - t0) / 20.0))
        rate = np.gradient(d, STEP_S)
        speeds = np.array([maker.segment.ego_speed_at(float(t)) for t in times])
        yaw = np.arctan2(rate, np.maximum(speeds, 1.0))
        off = EgoOffsets(d.astype(np.float32), yaw.astype(np.float32), "weave")
        if maker.ego_is_clear(off, times, log_poses):
            return off
    z = np.zeros(steps, np.float32)
    return EgoOffsets(z, z.copy(), "logged")


def rollout_clip(cfg: EvalSetConfig) -> Path | None:
    """The drift rollout: a ``rollout_seconds`` log of town 900, every frame after the first
    ``CONTEXT_STEPS`` (which are its context)."""
    if cfg.rollout_seconds <= 0:
        return None
    source = f"town-{ROLLOUT_SEED:06d}"
    path = split_dir(cfg.root, "eval") / eval_clip_name(source, f"rollout-{cfg.rollout_seconds:g}s", "lidar")
    if path.is_file():
        return path
    dataroot = prepare_town_log(cfg.root, ROLLOUT_SEED, cfg.rollout_seconds)
    t0 = CONTEXT_STEPS * STEP_S
    steps = int(round(cfg.rollout_seconds / STEP_S)) - CONTEXT_STEPS  # the log's frames after the context
    spec = ClipSpec(steps, cfg.spec.cameras, cfg.spec.image_hw)
    maker = TownClipMaker(dataroot, source, spec)
    off = rollout_offsets(maker, steps, t0)
    clip = maker.make(
        np.random.default_rng(0),
        "lidar",
        t0,
        PerturbConfig(p_logged=1.0),
        offsets=off,
        context_steps=CONTEXT_STEPS,
        condition=f"rollout-{cfg.rollout_seconds:g}s",
    )
    return save_clip(clip, path)


def real_heldout_clip(cfg: EvalSetConfig, scene: str) -> Path:
    """Frames 50-59 of the real log from the scene of frames 0-49, real frames 42-49 as context."""
    from jwmsim.worldgen.training.real_clips import HELDOUT_FIRST, RealClipMaker

    assert cfg.real_log is not None
    path = split_dir(cfg.root, "eval") / eval_clip_name("pandaset-002", "real-heldout", scene)
    if path.is_file():
        return path
    maker = RealClipMaker(Path(cfg.real_log), spec=ClipSpec(10, cfg.spec.cameras, cfg.spec.image_hw))
    clip: Clip = maker.make(
        scene, HELDOUT_FIRST - 1, HELDOUT_FIRST, train=False, context_steps=8, condition="real-heldout"
    )
    return save_clip(clip, path)


def write_eval_set(cfg: EvalSetConfig) -> list[Path]:
    """Write every missing evaluation clip (see the module docstring); returns the clip paths."""
    import torch

    torch.set_num_threads(1)
    paths: list[Path] = []
    per_town = len(cfg.scenes) * (len(EVAL_SHIFTS) + 2)
    with progress_bar(total=per_town * len(cfg.towns), desc="worldgen eval clips", unit="clip") as bar:
        if cfg.real_log is not None:
            paths += [real_heldout_clip(cfg, s) for s in cfg.scenes]
        for seed in cfg.towns:
            paths += town_eval_clips(cfg, seed, bar)
    rollout = rollout_clip(cfg)
    if rollout is not None:
        paths.append(rollout)
    return paths
