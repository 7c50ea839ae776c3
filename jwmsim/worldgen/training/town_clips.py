"""Clips from procedural towns: the skeleton of the town's logged drive rendered off that drive,
against the oracle's true images at exactly the same ego and actor poses.

A town's log is written with the current town generator (:func:`prepare_town_log`); a log written
by another generator version is refused, because the oracle (:func:`Town.generate`) would then draw
a different town than the log's skeleton. The oracle renders at the log's size (320 x 180) and is
area-resized to the clip's size, as the log's own images are.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import cv2
import numpy as np

from jwmsim.errors import ConfigError, LogFormatError
from jwmsim.geometry import SE3
from jwmsim.worldgen.training.dataset import DEFAULT_CAMERAS, DEFAULT_HW, DEFAULT_STEPS, STEP_S, Clip
from jwmsim.worldgen.training.perturb import (
    LOGGED,
    ActorMove,
    EgoOffsets,
    InsertedActor,
    PerturbConfig,
    asset_paint,
    ego_hits_actor,
    footprint_corners,
    sample_actor_moves,
    sample_ego_offsets,
    sample_inserted,
)
from jwmsim.worldgen.training.skeleton_render import SkeletonPainter, scaled_asset

LOG_HW = (180, 320)  # [px] image size of the town logs written here (the oracle renders at a log's size)


@dataclass(frozen=True)
class ClipSpec:
    """Size of the clips: ``steps`` frames at ``STEP_S`` apart, ``cameras``, ``image_hw`` [px]."""

    steps: int = DEFAULT_STEPS
    cameras: tuple[str, ...] = DEFAULT_CAMERAS
    image_hw: tuple[int, int] = DEFAULT_HW

    def __post_init__(self) -> None:
        if self.steps < 1 or not self.cameras or min(self.image_hw) < 8:
            raise ConfigError(
                f"bad clip size: {self.steps} steps, cameras {self.cameras}, {self.image_hw} px"
            )


def town_log_dir(root: Path, seed: int, duration: float) -> Path:
    """``<root>/towns/town-<seed>-<duration>s``: a town log written by :func:`prepare_town_log`."""
    return Path(root) / "towns" / f"town-{seed:06d}-{duration:g}s"


def prepare_town_log(root: Path, seed: int, duration: float) -> Path:
    """Write town ``seed``'s ``duration`` s log (320 x 180, six cameras, lidar) with the current
    generator unless present; returns its dataroot."""
    from jwmsim.logs.procedural import LogConfig, TownConfig, write_town_log
    from jwmsim.logs.procedural.town import Town

    path = town_log_dir(root, seed, duration)
    if not (path / "v1.0-mini" / "scene.json").is_file():
        town = Town.generate(seed, TownConfig(duration=max(duration, TownConfig().duration)))
        cfg = LogConfig(duration=duration, width=LOG_HW[1], height=LOG_HW[0], workers=1)
        write_town_log(town, path, cfg, progress=False, overwrite=path.exists())
    return path


def town_of_log(dataroot: Path):  # noqa: ANN201 (Town: imported late, it pulls in embree)
    """The :class:`~jwmsim.logs.procedural.town.Town` a log was written from, regenerated from the
    log's ``extras/generator.json``.

    Raises:
        LogFormatError: the log records no generator, or another generator version than this one's.
    """
    from jwmsim.logs.procedural import GENERATOR_VERSION, TownConfig
    from jwmsim.logs.procedural.town import Town

    f = Path(dataroot) / "extras" / "generator.json"
    if not f.is_file():
        raise LogFormatError(
            f"{dataroot} is not a procedural town log (no {f.name})", hint="write it with prepare"
        )
    info = json.loads(f.read_text())
    if info.get("generator") != GENERATOR_VERSION:
        raise LogFormatError(
            f"town log {dataroot} was written by generator {info.get('generator')!r}; this jwmsim draws "
            f"towns with {GENERATOR_VERSION!r}, so its oracle would not match the log",
            hint="delete the log and let prepare write it again",
        )
    cfg = info.get("town_config", {})
    cfg = {k: tuple(v) if isinstance(v, list) else v for k, v in cfg.items()}
    return Town.generate(int(info["seed"]), TownConfig(**cfg))


@dataclass
class TownClipMaker:
    """Makes clips of one town log (the segment, the town and its scenes are loaded once).

    Attributes:
        dataroot: the town's log (written by :func:`prepare_town_log`).
        source: the clips' ``source`` name (``town-000100``).
        spec: clip size.
    """

    dataroot: Path
    source: str
    spec: ClipSpec = ClipSpec()
    _painters: dict[str, SkeletonPainter] = field(default_factory=dict)

    @cached_property
    def segment(self):  # noqa: ANN201 (LogSegment)
        from jwmsim.logs.nuscenes import load_nuscenes_log

        return load_nuscenes_log(self.dataroot)

    @cached_property
    def town(self):  # noqa: ANN201 (Town)
        return town_of_log(self.dataroot)

    @cached_property
    def rig(self) -> dict:
        """The oracle's cameras at the log's own image size (its images are area-resized from it)."""
        from jwmsim.logs.procedural import nuscenes_like_rig

        h, w = self.segment.native_size(self.spec.cameras[0])
        return nuscenes_like_rig(w, h)

    def painter(self, scene_name: str) -> SkeletonPainter:
        """The skeleton painter of scene source ``scene_name`` (built once, cached on disk)."""
        if scene_name not in self._painters:
            from jwmsim.scenes.sources import SourceSettings, scene_for_log

            # feed-forward scenes (budget 0): the skeleton WorldGen was prepared with so far
            scene = scene_for_log(self.segment, scene_name, progress=False, settings=SourceSettings(budget=0))
            cams = [self.segment.cameras[c] for c in self.spec.cameras]
            self._painters[scene_name] = SkeletonPainter(scene, cams, self.spec.image_hw)
        return self._painters[scene_name]

    def start_times(self, margin_steps: int = 0) -> np.ndarray:
        """Log times [s] where a clip of ``spec.steps`` steps (after ``margin_steps`` earlier
        frames) fits in the log."""
        times = np.array([f.time for f in self.segment.frames[self.spec.cameras[0]]])
        last = len(times) - self.spec.steps
        return times[margin_steps : last + 1]

    def make(
        self,
        rng: np.random.Generator,
        scene_name: str,
        t0: float,
        cfg: PerturbConfig = LOGGED,
        offsets: EgoOffsets | None = None,
        context_steps: int = 0,
        condition: str = "",
    ) -> Clip:
        """One clip starting at log time ``t0`` [s] rendered with scene ``scene_name``: ego offsets
        ``offsets`` (or sampled from ``cfg``), actors moved / inserted as ``cfg`` says; with
        ``context_steps``, the log's images of that many frames before ``t0``."""
        seg, spec = self.segment, self.spec
        times = t0 + STEP_S * np.arange(spec.steps)
        log_poses = [seg.ego_pose_at(float(t)) for t in times]
        if offsets is None:
            offsets = self._sample_offsets(rng, times, log_poses, cfg)
        poses = [offsets.pose(p, k) for k, p in enumerate(log_poses)]
        perturb_actors = cfg.p_logged < 1.0 and offsets.label != "logged"
        moves = sample_actor_moves(rng, seg.tracks, float(t0), cfg) if perturb_actors else {}
        inserted: list[InsertedActor] = []
        if perturb_actors:
            t0f = float(t0)
            ego_xy = np.array([p.translation[:2] for p in poses])
            actor_xy = [tr.pose_at(t0f).translation[:2] for tr in seg.tracks.values() if tr.is_present(t0f)]
            occupied = np.array([*actor_xy, *ego_xy])
            inserted = sample_inserted(rng, self.town.lanes, poses[0], times, occupied, cfg)
        painter = self.painter(scene_name)
        extra = {ins.actor_id: scaled_asset(ins.kind, ins.size_lwh) for ins in inserted}
        models = _inserted_models(inserted)
        sizes = self.sizes
        target, rgb, depth, alpha = [], [], [], []
        for k, (t, ego) in enumerate(zip(times, poses, strict=True)):
            actor_poses = self._actor_poses(float(t), moves, ego)
            for ins in inserted:
                actor_poses[ins.actor_id] = ins.poses[k]
            target.append(self._oracle(ego, actor_poses, models))
            sk = painter.render(ego, actor_poses, sizes, extra)
            rgb.append(sk[0])
            depth.append(sk[1])
            alpha.append(sk[2])
        ctx = self._context(float(t0), context_steps)
        h, w = spec.image_hw
        cams = [seg.cameras[c] for c in spec.cameras]
        return Clip(
            cameras=tuple(spec.cameras),
            target=np.stack(target),
            skel_rgb=np.stack(rgb),
            skel_depth=np.stack(depth).astype(np.float16),
            skel_alpha=(np.stack(alpha) * 255.0 + 0.5).astype(np.uint8),
            world_from_ego=np.stack([p.matrix for p in poses]),
            log_world_from_ego=np.stack([p.matrix for p in log_poses]),
            ego_from_cam=np.stack([c.ego_from_cam.matrix for c in cams]),
            intrinsics=np.stack([c.intrinsics.resized(w, h).matrix for c in cams]),
            times=np.asarray(times, np.float64),
            shift_m=offsets.shift_m.astype(np.float32),
            yaw_rad=offsets.yaw_rad.astype(np.float32),
            source=self.source,
            kind="town",
            scene=scene_name,
            condition=condition or offsets.label,
            **ctx,
            scene_version=painter.scene_version,
        )

    def _sample_offsets(
        self, rng: np.random.Generator, times: np.ndarray, log_poses: Sequence[SE3], cfg: PerturbConfig
    ) -> EgoOffsets:
        """Sample offsets until the moved ego stays on the drivable area and clear of the logged
        actors at every step (else the logged pose)."""
        speed = self.segment.ego_speed_at(float(times[0]))
        for _ in range(8):
            off = sample_ego_offsets(rng, len(times), speed, cfg, STEP_S)
            if self.ego_is_clear(off, times, log_poses):
                return off
        z = np.zeros(len(times), np.float32)
        return EgoOffsets(z, z.copy(), "logged")

    def ego_is_clear(self, off: EgoOffsets, times: np.ndarray, log_poses: Sequence[SE3]) -> bool:
        """Whether the ego's footprint at ``off`` stays on the drivable area and off the logged actors."""
        poses = [off.pose(p, k) for k, p in enumerate(log_poses)]
        corners = np.concatenate(
            [footprint_corners(p, margin=0.2) for p in poses]
        )  # the whole car on the road
        if not self.segment.on_drivable_area(corners).all():
            return False
        for t, ego in zip(times, poses, strict=True):
            actors = {
                a: tr.pose_at(float(t)) for a, tr in self.segment.tracks.items() if tr.is_present(float(t))
            }
            if ego_hits_actor(ego, actors, self.sizes):
                return False
        return True

    @cached_property
    def sizes(self) -> dict[str, tuple[float, float, float]]:
        """Box size (length, width, height) [m] of every logged actor."""
        return {
            aid: (tr.size_wlh[1], tr.size_wlh[0], tr.size_wlh[2]) for aid, tr in self.segment.tracks.items()
        }

    def _actor_poses(self, t: float, moves: dict[str, ActorMove], ego: SE3) -> dict[str, SE3]:
        """Logged actors at ``t`` (instance tokens), moved by ``moves``; a move that would put the
        actor onto the ego keeps the logged pose."""
        out = {}
        for aid, tr in self.segment.tracks.items():
            if not tr.is_present(t):
                continue
            pose = tr.pose_at(t)
            mv = moves.get(aid)
            if mv is not None:
                moved = mv.pose(tr, t)
                if moved is not None and not ego_hits_actor(ego, {aid: moved}, self.sizes, margin=1.0):
                    pose = moved
            out[aid] = pose
        return out

    def _oracle(self, ego: SE3, actor_poses: dict[str, SE3], models: dict) -> np.ndarray:
        """``[C, H, W, 3]`` uint8 true images, rendered at the log's size and area-resized."""
        from jwmsim.logs.procedural.render import actor_geometry, render_camera

        dynamic, ids = actor_geometry(self.town, actor_poses, models)
        h, w = self.spec.image_hw
        out = []
        for c in self.spec.cameras:
            rgb = render_camera(self.town, dynamic, ids, self.rig[c], ego).rgb
            out.append(cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA))
        return np.stack(out)

    def _context(self, t0: float, steps: int) -> dict[str, np.ndarray]:
        """The log's images (and poses, times) of up to ``steps`` frames before ``t0``."""
        if steps <= 0:
            return {}
        seg, spec = self.segment, self.spec
        cam0 = spec.cameras[0]
        idx0 = seg.nearest_frame(cam0, t0)
        idx = list(range(max(0, idx0 - steps), idx0))
        if not idx:
            return {}
        imgs = np.stack([np.stack([seg.image(c, i, spec.image_hw) for c in spec.cameras]) for i in idx])
        t = np.array([seg.frames[cam0][i].time for i in idx], np.float64)
        wfe = np.stack([seg.ego_pose_at(float(x)).matrix for x in t])
        return {"context": imgs, "context_world_from_ego": wfe, "context_times": t}


def _inserted_models(inserted: Sequence[InsertedActor]) -> dict:
    from jwmsim.logs.procedural.meshes import vehicle

    return {
        ins.actor_id: vehicle(np.random.default_rng(ins.mesh_seed), ins.kind, color=asset_paint(ins.kind))
        for ins in inserted
    }
