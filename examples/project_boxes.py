"""Draw a log's annotated boxes and lidar points into its camera images (a visual check of a reader).

    .venv/bin/python examples/project_boxes.py ../shared/data/pandaset-002-nusc --frame 20 --out boxes.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from jwmsim.geometry import box_corners, world_to_camera
from jwmsim.logs.nuscenes import load_nuscenes_log
from jwmsim.logs.segment import LogSegment

EDGES = [(0, 1), (0, 2), (1, 3), (2, 3), (4, 5), (4, 6), (5, 7), (6, 7), (0, 4), (1, 5), (2, 6), (3, 7)]


def draw_camera(log: LogSegment, camera: str, index: int) -> np.ndarray:
    """``[H, W, 3]`` uint8: frame ``index`` of ``camera`` with boxes (red) and lidar (by depth)."""
    frame, cam = log.frames[camera][index], log.cameras[camera]
    k = cam.intrinsics
    img = log.image(camera, index).copy()
    for track in log.tracks.values():
        if not track.is_present(frame.time):
            continue
        corners = box_corners(track.size_wlh, track.pose_at(frame.time))
        p_cam = world_to_camera(corners, frame.world_from_ego, cam.ego_from_cam)
        if (p_cam[:, 2] < 0.5).any():
            continue
        uv, _ = k.project(p_cam)
        for a, b in EDGES:
            cv2.line(img, tuple(int(v) for v in uv[a]), tuple(int(v) for v in uv[b]), (255, 40, 40), 1)
    if log.lidar:
        sweep = min(log.lidar, key=lambda s: abs(s.time - frame.time))
        p_cam = world_to_camera(sweep.points_world(), frame.world_from_ego, cam.ego_from_cam)
        uv, z = k.project(p_cam)
        ok = k.in_image(uv) & (z > 0)
        for (u, v), d in zip(uv[ok][::2], z[ok][::2], strict=True):
            c = int(min(255, d * 6))
            cv2.circle(img, (int(u), int(v)), 1, (0, c, 255 - c), -1)
    return img


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataroot", type=Path)
    parser.add_argument("--scene", default=None)
    parser.add_argument("--frame", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("boxes.png"))
    args = parser.parse_args()
    log = load_nuscenes_log(args.dataroot, scene=args.scene)
    tiles = [draw_camera(log, c, min(args.frame, log.num_frames(c) - 1)) for c in log.camera_names]
    h = min(t.shape[0] for t in tiles)
    tiles = [cv2.resize(t, (t.shape[1] * h // t.shape[0], h)) for t in tiles]
    rows = [np.concatenate(tiles[i : i + 3], 1) for i in range(0, len(tiles), 3)]
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0))) for r in rows]
    cv2.imwrite(str(args.out), cv2.cvtColor(np.concatenate(rows, 0), cv2.COLOR_RGB2BGR))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
