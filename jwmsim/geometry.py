"""Rigid transforms, quaternions and pinhole cameras, with the frame conventions of jwmsim.

Frames (all right-handed, metres):

* **world** / global: the log's global frame (nuScenes ``ego_pose`` / ``sample_annotation``
  coordinates); z up.
* **ego**: the vehicle frame, nuScenes convention: x forward, y left, z up; origin at the
  rear-axle centre projected onto the ground.
* **camera**: OpenCV convention: x right, y down, z forward (optical axis).
* **box** (actor) frame: origin at the box centre, x along the actor's heading, y left, z up.

A pose ``T_a_b`` (written ``a_from_b`` in names) maps coordinates in frame *b* to frame *a*:
``p_a = T_a_b.apply(p_b)``. ``ego_pose`` is ``world_from_ego``; ``cam_to_ego`` is ``ego_from_cam``.

Quaternions are scalar-first ``(w, x, y, z)``, as nuScenes stores them; pyquaternion is used at
the boundary (reading nuScenes, slerp), numpy matrices inside.

Pixel convention: pixel centres at integer coordinates, ``u`` to the right, ``v`` down; a pixel
``(u, v)`` covers ``[u - 0.5, u + 0.5) x [v - 0.5, v + 0.5)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from pyquaternion import Quaternion

ArrayLike = np.ndarray | Sequence[float]


def quat_to_matrix(q_wxyz: ArrayLike) -> np.ndarray:
    """Rotation matrix from a quaternion.

    Args:
        q_wxyz: ``[..., 4]`` quaternion ``(w, x, y, z)``; normalised here.

    Returns:
        ``[..., 3, 3]`` rotation matrices.
    """
    q = np.asarray(q_wxyz, dtype=np.float64)
    norm = np.linalg.norm(q, axis=-1, keepdims=True)
    if np.any(norm < 1e-12):
        raise ValueError("quaternion of (near) zero norm cannot be a rotation")
    w, x, y, z = np.moveaxis(q / norm, -1, 0)
    return np.stack(
        [
            np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
            np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
            np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1),
        ],
        -2,
    )


def matrix_to_quat(rotation: np.ndarray) -> np.ndarray:
    """Quaternion ``(w, x, y, z)`` with ``w >= 0`` from a ``[3, 3]`` rotation matrix."""
    q = Quaternion(matrix=np.asarray(rotation, dtype=np.float64), atol=1e-6, rtol=1e-6)
    arr = np.array([q.w, q.x, q.y, q.z])
    return arr if arr[0] >= 0 else -arr


def yaw_to_matrix(yaw: float) -> np.ndarray:
    """``[3, 3]`` rotation about +z by ``yaw`` radians (counter-clockwise seen from above)."""
    c, s = np.cos(yaw), np.sin(yaw)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def wrap_angle(angle: np.ndarray | float) -> np.ndarray | float:
    """Wrap angles in radians to ``[-pi, pi)``."""
    return (np.asarray(angle) + np.pi) % (2 * np.pi) - np.pi


@dataclass(frozen=True)
class SE3:
    """A rigid transform ``b -> a`` (rotation then translation), immutable.

    Attributes:
        rotation: ``[3, 3]`` orthonormal matrix, det +1.
        translation: ``[3]`` metres.
    """

    rotation: np.ndarray = field(default_factory=lambda: np.eye(3))
    translation: np.ndarray = field(default_factory=lambda: np.zeros(3))

    def __post_init__(self) -> None:
        rot = np.asarray(self.rotation, dtype=np.float64).reshape(3, 3)
        trans = np.asarray(self.translation, dtype=np.float64).reshape(3)
        if not (np.all(np.isfinite(rot)) and np.all(np.isfinite(trans))):
            raise ValueError("SE3 with non-finite rotation or translation")
        rot.setflags(write=False)
        trans.setflags(write=False)
        object.__setattr__(self, "rotation", rot)
        object.__setattr__(self, "translation", trans)

    # --- constructors -------------------------------------------------------------------------
    @classmethod
    def identity(cls) -> SE3:
        return cls()

    @classmethod
    def from_matrix(cls, matrix: np.ndarray) -> SE3:
        """From a ``[4, 4]`` homogeneous matrix."""
        m = np.asarray(matrix, dtype=np.float64)
        if m.shape != (4, 4):
            raise ValueError(f"expected a 4x4 matrix, got shape {m.shape}")
        return cls(m[:3, :3], m[:3, 3])

    @classmethod
    def from_quat(cls, q_wxyz: ArrayLike, translation: ArrayLike) -> SE3:
        """From a nuScenes-style ``rotation`` (w, x, y, z) and ``translation`` [m]."""
        return cls(quat_to_matrix(q_wxyz), np.asarray(translation, dtype=np.float64))

    @classmethod
    def from_xy_yaw(cls, x: float, y: float, yaw: float, z: float = 0.0) -> SE3:
        """A planar pose: position ``(x, y, z)`` [m] and heading ``yaw`` [rad] about +z."""
        return cls(yaw_to_matrix(yaw), np.array([x, y, z], dtype=np.float64))

    # --- accessors ----------------------------------------------------------------------------
    @property
    def matrix(self) -> np.ndarray:
        """``[4, 4]`` homogeneous matrix."""
        m = np.eye(4)
        m[:3, :3] = self.rotation
        m[:3, 3] = self.translation
        return m

    @property
    def quat(self) -> np.ndarray:
        """``[4]`` quaternion (w, x, y, z), ``w >= 0``."""
        return matrix_to_quat(self.rotation)

    @property
    def yaw(self) -> float:
        """Heading [rad]: angle of the rotated x axis projected on the xy plane."""
        return float(np.arctan2(self.rotation[1, 0], self.rotation[0, 0]))

    # --- algebra ------------------------------------------------------------------------------
    def inverse(self) -> SE3:
        rt = self.rotation.T
        return SE3(rt, -rt @ self.translation)

    def __matmul__(self, other: SE3) -> SE3:
        """Composition: ``(A @ B).apply(p) == A.apply(B.apply(p))``."""
        return SE3(self.rotation @ other.rotation, self.rotation @ other.translation + self.translation)

    def apply(self, points: np.ndarray) -> np.ndarray:
        """Transform points ``[..., 3]`` -> ``[..., 3]``."""
        pts = np.asarray(points, dtype=np.float64)
        return pts @ self.rotation.T + self.translation

    def apply_direction(self, vectors: np.ndarray) -> np.ndarray:
        """Rotate direction vectors ``[..., 3]`` (no translation)."""
        return np.asarray(vectors, dtype=np.float64) @ self.rotation.T

    def interpolate(self, other: SE3, alpha: float) -> SE3:
        """Pose at fraction ``alpha`` in [0, 1] from ``self`` to ``other``: linear translation,
        quaternion slerp (shortest path) for rotation."""
        q = Quaternion.slerp(Quaternion(self.quat), Quaternion(other.quat), float(alpha))
        t = (1.0 - alpha) * self.translation + alpha * other.translation
        return SE3(q.rotation_matrix, t)

    def allclose(self, other: SE3, atol: float = 1e-6) -> bool:
        return bool(
            np.allclose(self.rotation, other.rotation, atol=atol)
            and np.allclose(self.translation, other.translation, atol=atol)
        )


@dataclass(frozen=True)
class CameraIntrinsics:
    """Pinhole intrinsics for an image of ``width x height`` pixels (no distortion).

    Attributes:
        fx, fy: focal lengths [px]; cx, cy: principal point [px] (pixel-centre convention).
    """

    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int

    def __post_init__(self) -> None:
        if self.width <= 0 or self.height <= 0:
            raise ValueError(f"image size must be positive, got {self.width}x{self.height}")
        if self.fx <= 0 or self.fy <= 0:
            raise ValueError(f"focal lengths must be positive, got fx={self.fx}, fy={self.fy}")

    @classmethod
    def from_matrix(cls, k: ArrayLike, width: int, height: int) -> CameraIntrinsics:
        km = np.asarray(k, dtype=np.float64).reshape(3, 3)
        return cls(
            float(km[0, 0]), float(km[1, 1]), float(km[0, 2]), float(km[1, 2]), int(width), int(height)
        )

    @property
    def matrix(self) -> np.ndarray:
        """``[3, 3]`` calibration matrix K."""
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    def resized(self, width: int, height: int) -> CameraIntrinsics:
        """Intrinsics of the same camera for an image resized to ``width x height``.

        With pixel centres at integer coordinates, a scale ``s`` maps ``u -> (u + 0.5) s - 0.5``.
        """
        sx, sy = width / self.width, height / self.height
        return CameraIntrinsics(
            self.fx * sx, self.fy * sy, (self.cx + 0.5) * sx - 0.5, (self.cy + 0.5) * sy - 0.5, width, height
        )

    def project(self, points_cam: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Project camera-frame points.

        Args:
            points_cam: ``[..., 3]`` points in the OpenCV camera frame [m].

        Returns:
            ``uv`` ``[..., 2]`` pixel coordinates and ``depth`` ``[...]`` (z, metres). Points with
            ``depth <= 0`` get ``nan`` pixel coordinates.
        """
        p = np.asarray(points_cam, dtype=np.float64)
        z = p[..., 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            u = self.fx * p[..., 0] / z + self.cx
            v = self.fy * p[..., 1] / z + self.cy
        uv = np.stack([u, v], -1)
        uv[z <= 0] = np.nan
        return uv, z

    def unproject(self, uv: np.ndarray, depth: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`project`: pixels ``[..., 2]`` with z-depth ``[...]`` -> points ``[..., 3]``."""
        uv = np.asarray(uv, dtype=np.float64)
        d = np.asarray(depth, dtype=np.float64)
        x = (uv[..., 0] - self.cx) / self.fx * d
        y = (uv[..., 1] - self.cy) / self.fy * d
        return np.stack([x, y, d], -1)

    def in_image(self, uv: np.ndarray) -> np.ndarray:
        """``[...]`` bool: pixel coordinates that fall inside the image."""
        u, v = uv[..., 0], uv[..., 1]
        with np.errstate(invalid="ignore"):
            return (u >= -0.5) & (u < self.width - 0.5) & (v >= -0.5) & (v < self.height - 0.5)

    def ray_directions(self) -> np.ndarray:
        """``[H, W, 3]`` unit ray directions in the camera frame through each pixel centre."""
        u, v = np.meshgrid(np.arange(self.width), np.arange(self.height))
        d = self.unproject(np.stack([u, v], -1).astype(np.float64), np.ones((self.height, self.width)))
        return d / np.linalg.norm(d, axis=-1, keepdims=True)


def world_to_camera(points_world: np.ndarray, world_from_ego: SE3, ego_from_cam: SE3) -> np.ndarray:
    """World points ``[..., 3]`` -> OpenCV camera frame ``[..., 3]`` of a camera mounted on the ego."""
    return (world_from_ego @ ego_from_cam).inverse().apply(points_world)


def camera_to_world(points_cam: np.ndarray, world_from_ego: SE3, ego_from_cam: SE3) -> np.ndarray:
    """Camera-frame points ``[..., 3]`` -> world ``[..., 3]``."""
    return (world_from_ego @ ego_from_cam).apply(points_cam)


def box_corners(size_wlh: ArrayLike, world_from_box: SE3) -> np.ndarray:
    """The 8 corners ``[8, 3]`` of a box of size (width, length, height) [m] (nuScenes order) at a
    pose; the box frame has x along the length, y along the width, z up, origin at the centre."""
    w, length, h = (float(s) for s in size_wlh)
    signs = np.array([[sx, sy, sz] for sx in (1, -1) for sy in (1, -1) for sz in (1, -1)], dtype=np.float64)
    local = signs * np.array([length / 2, w / 2, h / 2])
    return world_from_box.apply(local)
