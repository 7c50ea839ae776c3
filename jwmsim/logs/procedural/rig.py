"""A nuScenes-like six-camera rig and LIDAR_TOP mount for the procedural logs."""

from __future__ import annotations

import numpy as np

from jwmsim.geometry import SE3, CameraIntrinsics
from jwmsim.logs.segment import Camera

# channel: (x, y, z [m] in the ego frame, yaw [deg], horizontal field of view [deg]);
# positions and headings follow the nuScenes rig (front 0, front-left 55, back-left 110, ...).
RIG_LAYOUT: dict[str, tuple[float, float, float, float, float]] = {
    "CAM_FRONT": (1.70, 0.00, 1.55, 0.0, 70.0),
    "CAM_FRONT_LEFT": (1.52, 0.49, 1.52, 55.0, 70.0),
    "CAM_FRONT_RIGHT": (1.52, -0.49, 1.52, -55.0, 70.0),
    "CAM_BACK_LEFT": (1.03, 0.48, 1.53, 110.0, 70.0),
    "CAM_BACK_RIGHT": (1.03, -0.48, 1.53, -110.0, 70.0),
    "CAM_BACK": (0.03, 0.00, 1.57, 180.0, 100.0),
}
LIDAR_TOP = SE3.from_xy_yaw(0.94, 0.0, -np.pi / 2, z=1.84)  # nuScenes LIDAR_TOP: x right, y forward


def ego_from_camera(x: float, y: float, z: float, yaw_deg: float) -> SE3:
    """Mount of a level camera looking along ego heading ``yaw_deg`` (OpenCV axes)."""
    # OpenCV camera (x right, y down, z forward) -> ego (x forward, y left, z up) when yaw = 0
    base = np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])
    c, s = np.cos(np.radians(yaw_deg)), np.sin(np.radians(yaw_deg))
    yaw = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    return SE3(yaw @ base, np.array([x, y, z]))


def nuscenes_like_rig(width: int = 320, height: int = 180) -> dict[str, Camera]:
    """The six cameras at ``width x height`` pixels (square pixels, centred principal point)."""
    rig = {}
    for name, (x, y, z, yaw, hfov) in RIG_LAYOUT.items():
        f = (width / 2) / np.tan(np.radians(hfov) / 2)
        k = CameraIntrinsics(f, f, (width - 1) / 2, (height - 1) / 2, width, height)
        rig[name] = Camera(name, k, ego_from_camera(x, y, z, yaw))
    return rig


def lidar_directions(beams: int = 32, azimuth_steps: int = 720) -> np.ndarray:
    """``[beams * steps, 3]`` unit ray directions in the LIDAR_TOP frame (HDL-32E-like fan from
    +10 to -30 degrees elevation)."""
    elev = np.radians(np.linspace(10.0, -30.0, beams))
    az = np.linspace(0, 2 * np.pi, azimuth_steps, endpoint=False)
    e, a = np.meshgrid(elev, az, indexing="ij")
    return np.stack([np.cos(e) * np.cos(a), np.cos(e) * np.sin(a), np.sin(e)], -1).reshape(-1, 3)
