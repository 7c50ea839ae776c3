"""A contact sheet of a WorldGen clip, to check by eye that the skeleton and the target line up.

Each row is one step: per camera the target, the skeleton RGB, and the skeleton's coverage (alpha)
over the target (covered pixels tinted). Run ``python -m jwmsim.worldgen.training.clip_sheet CLIP.npz OUT.png
[--steps 0,4,7]``.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from jwmsim.worldgen.training.dataset import Clip, load_clip


def clip_sheet(clip: Clip, steps: Sequence[int] | None = None) -> np.ndarray:
    """``[rows * H, 3 * C * W, 3]`` uint8 mosaic of ``steps`` (default: first, middle, last)."""
    t = clip.num_steps
    steps = list(steps) if steps is not None else sorted({0, t // 2, t - 1})
    rows = []
    for k in steps:
        tiles = []
        for c in range(len(clip.cameras)):
            tgt = clip.target[k, c]
            sk = clip.skel_rgb[k, c]
            a = clip.skel_alpha[k, c].astype(np.float32)[..., None] / 255.0
            tint = np.array([255, 0, 255], np.float32)
            cover = (tgt.astype(np.float32) * (1 - 0.5 * a) + tint * 0.5 * a).astype(np.uint8)
            tiles += [tgt, sk, cover]
        row = np.concatenate(tiles, axis=1).copy()
        label = f"{clip.source} {clip.scene} t={clip.times[k]:.1f}s d={clip.shift_m[k]:+.2f}m"
        label += f" yaw={np.rad2deg(clip.yaw_rad[k]):+.1f}deg"
        cv2.putText(row, label, (4, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(row, label, (4, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
        rows.append(row)
    return np.concatenate(rows, axis=0)


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("clip", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--steps", default=None, help="comma-separated step indices")
    args = ap.parse_args(argv)
    steps = [int(s) for s in args.steps.split(",")] if args.steps else None
    sheet = clip_sheet(load_clip(args.clip), steps)
    cv2.imwrite(str(args.out), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))


if __name__ == "__main__":
    main()
