"""The data types shared by WorldGen's training data, its evaluation and its pipeline.

A *frame* is one simulation step of ``C`` cameras (in a fixed camera order) at ``H x W`` pixels:

* :class:`SkeletonFrame`: what the Gaussian skeleton rendered at the step's ego pose (the
  generator's condition), with the poses it was rendered at;
* :class:`ContextFrame`: a real (logged) or already generated frame that the generator continues
  from (priming with the log's frames before an episode starts, or its own past output);
* :class:`FrameGenerator`: anything that turns a stream of skeleton frames into images: the
  WorldGen pipeline, and the baselines it is measured against (skeleton alone, copy-last-frame).

Units: poses are ``[4, 4]`` float64 rigid transforms (``world_from_ego``: ego frame to world, metres;
``ego_from_cam``: camera frame, OpenCV axes x right / y down / z forward, to ego), intrinsics
``[C, 3, 3]`` float64 pinhole matrices in pixels at ``H x W``, depth in metres along the camera z
axis (0 where nothing was rendered), alpha in [0, 1] (the skeleton's accumulated opacity, its
*coverage*), times in seconds of the log.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class FramePoses:
    """Where a frame's cameras were.

    Attributes:
        cameras: camera names, length ``C``, in the order of every image array of the frame.
        world_from_ego: ``[4, 4]`` ego pose of the step.
        ego_from_cam: ``[C, 4, 4]`` camera mounting per camera.
        intrinsics: ``[C, 3, 3]`` pinhole matrices at the frame's ``H x W``.
        time: log time of the step [s].
    """

    cameras: tuple[str, ...]
    world_from_ego: np.ndarray
    ego_from_cam: np.ndarray
    intrinsics: np.ndarray
    time: float


@dataclass(frozen=True)
class SkeletonFrame:
    """The skeleton's render of one step: the generator's condition.

    Attributes:
        rgb: ``[C, H, W, 3]`` uint8.
        depth: ``[C, H, W]`` float32 [m], 0 where empty.
        alpha: ``[C, H, W]`` float32 coverage in [0, 1].
        poses: the poses it was rendered at.
    """

    rgb: np.ndarray
    depth: np.ndarray
    alpha: np.ndarray
    poses: FramePoses


@dataclass(frozen=True)
class ContextFrame:
    """A frame the generator continues from.

    Attributes:
        images: ``[C, H, W, 3]`` uint8 (real logged images, or generated ones).
        poses: where they were taken.
        skeleton: the skeleton's render at the same poses, where there is one.
    """

    images: np.ndarray
    poses: FramePoses
    skeleton: SkeletonFrame | None = None


class FrameGenerator(Protocol):
    """Turns a stream of skeleton frames into camera images, one step at a time.

    ``reset(context)`` starts a new rollout from zero or more context frames (oldest first; all of
    the rollout's frames have the context's cameras and size); ``generate(frame)`` returns the
    step's images ``[C, H, W, 3]`` uint8 and remembers them as the newest past frame.
    """

    name: str

    def reset(self, context: Sequence[ContextFrame]) -> None: ...

    def generate(self, frame: SkeletonFrame) -> np.ndarray: ...


def check_frame(frame: SkeletonFrame) -> tuple[int, int, int]:
    """Check that a skeleton frame's arrays agree; returns ``(C, H, W)``.

    Raises:
        ValueError: naming the array whose shape or dtype is wrong.
    """
    c = len(frame.poses.cameras)
    rgb = frame.rgb
    if rgb.ndim != 4 or rgb.shape[0] != c or rgb.shape[-1] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"rgb must be uint8 [C={c}, H, W, 3], got {frame.rgb.dtype} {frame.rgb.shape}")
    hw = frame.rgb.shape[1:3]
    for name in ("depth", "alpha"):
        arr = getattr(frame, name)
        if arr.shape != (c, *hw):
            raise ValueError(f"{name} must be [C={c}, {hw[0]}, {hw[1]}], got {arr.shape}")
    if frame.poses.ego_from_cam.shape != (c, 4, 4) or frame.poses.intrinsics.shape != (c, 3, 3):
        raise ValueError(
            f"poses need ego_from_cam [C, 4, 4] and intrinsics [C, 3, 3] for C={c}, got "
            f"{frame.poses.ego_from_cam.shape} and {frame.poses.intrinsics.shape}"
        )
    return c, int(hw[0]), int(hw[1])
