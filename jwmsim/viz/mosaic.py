"""Tile camera images and a BEV into one frame (for videos and ``render_mode='rgb_array'``)."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np


def camera_mosaic(images: Sequence[np.ndarray], names: Sequence[str] = (), columns: int = 3) -> np.ndarray:
    """Tile ``V`` images ``[H, W, 3]`` uint8 (same size) into rows of ``columns``; labels if given.

    Returns:
        ``[rows * H, columns * W, 3]`` uint8 (missing tiles black).
    """
    if not images:
        raise ValueError("camera_mosaic needs at least one image")
    h, w = images[0].shape[:2]
    columns = max(1, min(columns, len(images)))
    rows = -(-len(images) // columns)
    out = np.zeros((rows * h, columns * w, 3), np.uint8)
    for i, img in enumerate(images):
        if img.shape[:2] != (h, w):
            img = cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)
        r, c = divmod(i, columns)
        tile = out[r * h : (r + 1) * h, c * w : (c + 1) * w]
        tile[:] = img
        if i < len(names):
            cv2.putText(tile, names[i], (4, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (255, 255, 0), 1)
    return out


def side_by_side(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Place ``right`` (scaled to ``left``'s height, aspect kept) beside ``left``; both uint8 RGB."""
    h = left.shape[0]
    if right.shape[0] != h:
        scale = h / right.shape[0]
        right = cv2.resize(right, (max(1, round(right.shape[1] * scale)), h), interpolation=cv2.INTER_AREA)
    return np.concatenate([left, right], 1)
