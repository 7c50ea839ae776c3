"""Synthetic Gaussian scenes and a camera rig for tests and benchmarks (no log needed)."""

from __future__ import annotations

import math

import numpy as np
import torch

from jwmsim.gaussians.scene import GaussianComponent, GaussianScene, SkyModel, logit
from jwmsim.geometry import SE3, CameraIntrinsics, yaw_to_matrix
from jwmsim.logs.segment import Camera

# camera (OpenCV: x right, y down, z forward) -> ego (x forward, y left, z up), before yaw
_EGO_FROM_CV = np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])


def forward_rig(
    yaws_deg: tuple[float, ...] = (0.0, 55.0, -55.0),
    size_wh: tuple[int, int] = (1600, 900),
    hfov_deg: float = 70.0,
    height: float = 1.5,
) -> list[Camera]:
    """Cameras at ``height`` [m] above the ego origin looking at ``yaws_deg`` (+ = left), named
    ``CAM_FRONT``, ``CAM_FRONT_LEFT``, ``CAM_FRONT_RIGHT`` for the default yaws."""
    w, h = size_wh
    f = 0.5 * w / math.tan(math.radians(hfov_deg) / 2)
    k = CameraIntrinsics(f, f, (w - 1) / 2, (h - 1) / 2, w, h)
    names = {0.0: "CAM_FRONT", 55.0: "CAM_FRONT_LEFT", -55.0: "CAM_FRONT_RIGHT"}
    return [
        Camera(
            names.get(y, f"CAM_YAW_{y:+.0f}"),
            k,
            SE3(yaw_to_matrix(math.radians(y)) @ _EGO_FROM_CV, np.array([1.5, 0.0, height])),
        )
        for y in yaws_deg
    ]


def street_background(
    n: int, seed: int = 0, length: float = 60.0, half_width: float = 10.0
) -> GaussianComponent:
    """``n`` Gaussians shaped like a street in front of the origin (ego frame = world): a road
    plane (45 %), two facades at ``y = +-half_width`` (45 %) and clutter (10 %); scales follow the
    sampling density, flat along each surface's normal, as in a fitted scene."""
    rng = np.random.default_rng(seed)
    n_road, n_wall = int(0.45 * n), int(0.45 * n)
    n_clutter = n - n_road - n_wall
    x0, x1 = -5.0, length
    road = np.stack(
        [rng.uniform(x0, x1, n_road), rng.uniform(-half_width, half_width, n_road), np.zeros(n_road)], 1
    )
    side = rng.choice([-1.0, 1.0], n_wall)
    wall = np.stack([rng.uniform(x0, x1, n_wall), side * half_width, rng.uniform(0.0, 12.0, n_wall)], 1)
    clutter = np.stack(
        [
            rng.uniform(x0, x1, n_clutter),
            rng.uniform(-half_width, half_width, n_clutter),
            rng.uniform(0, 3, n_clutter),
        ],
        1,
    )
    road_spacing = math.sqrt((x1 - x0) * 2 * half_width / max(n_road, 1))
    wall_spacing = math.sqrt((x1 - x0) * 2 * 12.0 / max(n_wall, 1))
    scales = np.concatenate(
        [
            np.tile([road_spacing, road_spacing, 0.02], (n_road, 1)),
            np.tile([wall_spacing, 0.02, wall_spacing], (n_wall, 1)),
            np.full((n_clutter, 3), 0.06),
        ]
    ) * rng.uniform(0.6, 1.2, (n, 1))
    means = np.concatenate([road, wall, clutter])
    colors = np.concatenate(
        [
            0.35 + 0.1 * rng.random((n_road, 3)),
            rng.uniform(0.3, 0.9, (n_wall, 1)) * np.array([1.0, 0.9, 0.8]) + 0.05 * rng.random((n_wall, 3)),
            rng.random((n_clutter, 3)),
        ]
    )
    yaw = rng.uniform(-math.pi, math.pi, n)  # random spin about each surface normal is harmless
    quats = np.stack([np.cos(yaw / 2), np.zeros(n), np.zeros(n), np.sin(yaw / 2)], 1)
    quats[n_road : n_road + n_wall] = [1.0, 0.0, 0.0, 0.0]
    t = lambda a: torch.as_tensor(a, dtype=torch.float32)  # noqa: E731
    return GaussianComponent(
        means=t(means),
        quats=t(quats),
        log_scales=t(np.log(scales)),
        opacity_logits=t(rng.normal(2.0, 1.0, n)),
        color_logits=logit(t(colors)),
    )


def box_actor(
    size_lwh: tuple[float, float, float] = (4.5, 1.9, 1.6), n: int = 2000, seed: int = 0
) -> GaussianComponent:
    """Gaussians on the surface of a box of ``size_lwh`` [m] in its box frame (origin at the centre)."""
    rng = np.random.default_rng(seed)
    half = np.asarray(size_lwh) / 2
    pts = rng.uniform(-1, 1, (n, 3))
    axis = rng.integers(0, 3, n)
    pts[np.arange(n), axis] = np.sign(pts[np.arange(n), axis])
    means = pts * half
    area = 8 * (half[0] * half[1] + half[1] * half[2] + half[0] * half[2])
    s = math.sqrt(area / n)
    color = rng.uniform(0.1, 0.9, 3)
    return GaussianComponent.from_values(
        torch.as_tensor(means, dtype=torch.float32),
        torch.full((n, 3), s * 0.8),
        torch.full((n,), 0.9),
        torch.as_tensor(np.clip(color + 0.05 * rng.standard_normal((n, 3)), 0, 1), dtype=torch.float32),
    )


def street_scene(n: int, seed: int = 0, n_cars: int = 3) -> GaussianScene:
    """A street background of about ``n`` Gaussians plus ``n_cars`` box cars (ids ``car_0`` ...),
    each with ``n // 50`` Gaussians; use :func:`street_car_poses` to place them."""
    n_car = max(n // 50, 10)
    bg = street_background(n - n_cars * n_car, seed)
    actors = {f"car_{i}": box_actor(n=n_car, seed=seed + i + 1) for i in range(n_cars)}
    return GaussianScene(bg, actors, SkyModel.gradient(), {"source": "synthetic street"})


def street_car_poses(n_cars: int = 3) -> dict[str, SE3]:
    """Poses for the cars of :func:`street_scene`: ahead of the ego, alternating lanes."""
    return {f"car_{i}": SE3.from_xy_yaw(10.0 + 8.0 * i, 2.0 * (-1) ** i, 0.0, z=0.8) for i in range(n_cars)}
