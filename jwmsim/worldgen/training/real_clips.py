"""Clips from the real log: a skeleton built from the log's frames ``0..k`` only, rendered at the
logged poses of later frames, against the real images of those frames.

The real log's frames from :data:`TRAIN_FRAME_END` on (40-59 of PandaSet 002: its last two seconds)
are kept for evaluation: no training clip may have them as a target, a context frame or a scene
frame, which :func:`check_training_targets` and :meth:`RealClipMaker.make` enforce for every
training clip made here. The evaluation's held-out clip targets frames 50-59 (:data:`HELDOUT_FIRST`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from jwmsim.errors import ConfigError
from jwmsim.worldgen.training.dataset import Clip
from jwmsim.worldgen.training.skeleton_render import SkeletonPainter
from jwmsim.worldgen.training.town_clips import ClipSpec

HELDOUT_FIRST = 50  # first frame index of the real log's held-out evaluation second
TRAIN_FRAME_END = 40  # training may read the real log's frames 0..39 only (40-59: evaluation)
MAX_SCENE_FRAME = TRAIN_FRAME_END - 1  # training scenes are built from frames 0..k with k <= this


def check_training_targets(frames: Sequence[int]) -> None:
    """Refuse training frames of the real log's evaluation seconds (index >= 40)."""
    bad = [int(f) for f in frames if int(f) >= TRAIN_FRAME_END]
    if bad:
        raise ConfigError(
            f"real-log frames {bad} are kept for evaluation (frames >= {TRAIN_FRAME_END})",
            hint=f"training clips of the real log may only use frames < {TRAIN_FRAME_END}",
        )


@dataclass
class RealClipMaker:
    """Makes clips of the real log at ``dataroot`` (the log and its windowed scenes are loaded once)."""

    dataroot: Path
    source: str = "pandaset-002"
    spec: ClipSpec = ClipSpec()
    _painters: dict[tuple[str, int], SkeletonPainter] = field(default_factory=dict)

    @cached_property
    def segment(self):  # noqa: ANN201 (LogSegment)
        from jwmsim.logs.nuscenes import load_nuscenes_log

        return load_nuscenes_log(self.dataroot)

    @property
    def num_frames(self) -> int:
        return min(len(self.segment.frames[c]) for c in self.spec.cameras)

    def window(self, last: int):  # noqa: ANN201 (LogSegment)
        """The log's frames ``0..last`` of every camera (and the lidar sweeps up to then), not
        re-timed; checked to hold no later frame."""
        seg = self.segment
        t1 = max(seg.frames[c][last].time for c in seg.camera_names)
        win = seg.time_window(0.0, t1)
        for c in seg.camera_names:
            if len(win.frames[c]) > last + 1:
                raise ConfigError(f"window 0..{last} of {self.source} holds later frames of {c}")
        return win

    def painter(self, scene_name: str, last: int) -> SkeletonPainter:
        """Painter of the ``scene_name`` scene built from frames ``0..last`` (cached on disk)."""
        key = (scene_name, last)
        if key not in self._painters:
            from jwmsim.scenes.sources import SourceSettings, scene_for_log

            # feed-forward scenes (budget 0): the skeleton WorldGen was prepared with so far
            scene = scene_for_log(
                self.window(last), scene_name, progress=False, settings=SourceSettings(budget=0)
            )
            cams = [self.segment.cameras[c] for c in self.spec.cameras]
            self._painters = {key: SkeletonPainter(scene, cams, self.spec.image_hw)}  # keep one scene
        return self._painters[key]

    def make(
        self,
        scene_name: str,
        last: int,
        first_target: int,
        train: bool = True,
        context_steps: int = 0,
        condition: str = "",
    ) -> Clip:
        """Frames ``first_target ..`` (``spec.steps`` of them) rendered from the scene of frames
        ``0..last``, against their real images; ``train`` refuses held-out targets."""
        spec, seg = self.spec, self.segment
        frames = list(range(first_target, first_target + spec.steps))
        if frames[-1] >= self.num_frames:
            raise ConfigError(f"{self.source} has {self.num_frames} frames; clip needs frame {frames[-1]}")
        if train:
            check_training_targets(frames)
            if last > MAX_SCENE_FRAME:
                raise ConfigError(
                    f"training scenes of {self.source} end at frame <= {MAX_SCENE_FRAME}, got {last}"
                )
        cam0 = spec.cameras[0]
        painter = self.painter(scene_name, last)
        poses = [seg.frames[cam0][i].world_from_ego for i in frames]
        times = np.array([seg.frames[cam0][i].time for i in frames], np.float64)
        sizes = {a: (tr.size_wlh[1], tr.size_wlh[0], tr.size_wlh[2]) for a, tr in seg.tracks.items()}
        target, rgb, depth, alpha = [], [], [], []
        for i, ego, t in zip(frames, poses, times, strict=True):
            target.append(np.stack([seg.image(c, i, spec.image_hw) for c in spec.cameras]))
            actors = {a: tr.pose_at(float(t)) for a, tr in seg.tracks.items() if tr.is_present(float(t))}
            sk = painter.render(ego, actors, sizes)
            rgb.append(sk[0])
            depth.append(sk[1])
            alpha.append(sk[2])
        h, w = spec.image_hw
        cams = [seg.cameras[c] for c in spec.cameras]
        ctx: dict[str, np.ndarray] = {}
        prior = list(range(max(0, first_target - context_steps), first_target)) if context_steps > 0 else []
        if prior:
            if train:
                check_training_targets(prior)
            ctx = {
                "context": np.stack(
                    [np.stack([seg.image(c, i, spec.image_hw) for c in spec.cameras]) for i in prior]
                ),
                "context_world_from_ego": np.stack(
                    [seg.frames[cam0][i].world_from_ego.matrix for i in prior]
                ),
                "context_times": np.array([seg.frames[cam0][i].time for i in prior], np.float64),
            }
        zeros = np.zeros(spec.steps, np.float32)
        wfe = np.stack([p.matrix for p in poses])
        return Clip(
            cameras=tuple(spec.cameras),
            target=np.stack(target),
            skel_rgb=np.stack(rgb),
            skel_depth=np.stack(depth).astype(np.float16),
            skel_alpha=(np.stack(alpha) * 255.0 + 0.5).astype(np.uint8),
            world_from_ego=wfe,
            log_world_from_ego=wfe.copy(),
            ego_from_cam=np.stack([c.ego_from_cam.matrix for c in cams]),
            intrinsics=np.stack([c.intrinsics.resized(w, h).matrix for c in cams]),
            times=times,
            shift_m=zeros,
            yaw_rad=zeros.copy(),
            source=self.source,
            kind="real",
            scene=scene_name,
            condition=condition or f"scene-0-{last}",
            **ctx,
            scene_version=painter.scene_version,
        )
