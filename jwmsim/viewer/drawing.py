"""The viewer's frame: camera mosaic (top left), HUD (below it), bird's-eye view (right), and the
help overlay. Everything is drawn into one uint8 ``[H, W, 3]`` array (cv2), which the window shows
and a screenshot saves.

Layout (:class:`Layout`): the mosaic is one row of ``V`` camera images of ``h x w``; the BEV is a
square of side ``bev``; the HUD fills the left column under the mosaic (at least
:data:`HUD_MIN_HEIGHT` rows).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from jwmsim.viz.mosaic import camera_mosaic

HUD_MIN_HEIGHT = 200  # [px]
TIMELINE_HEIGHT = 12  # [px] of the scrub bar
HUD_MIN_WIDTH = 440  # [px]
HUD_BACKGROUND = (22, 22, 28)
TEXT = (235, 235, 235)
DIM = (160, 160, 170)
ALERT = (255, 110, 90)
GOOD = (120, 220, 120)
LINE = 15  # [px] between text lines
FONT = cv2.FONT_HERSHEY_SIMPLEX


@dataclass(frozen=True)
class Rect:
    """A region of the frame: left ``x``, top ``y``, width ``w``, height ``h`` [px]."""

    x: int
    y: int
    w: int
    h: int

    def contains(self, u: float, v: float) -> bool:
        return self.x <= u < self.x + self.w and self.y <= v < self.y + self.h


@dataclass(frozen=True)
class Layout:
    """Where each panel is in the frame; ``timeline`` is the scrub bar at the bottom of the HUD."""

    mosaic: Rect
    hud: Rect
    bev: Rect

    @property
    def timeline(self) -> Rect:
        h = self.hud
        return Rect(h.x + 8, h.y + h.h - TIMELINE_HEIGHT - 6, h.w - 16, TIMELINE_HEIGHT)

    def timeline_step(self, u: float, total_steps: int) -> int:
        """The step under column ``u`` of the scrub bar, for an episode of ``total_steps``."""
        t = self.timeline
        return int(round((u - t.x) / max(t.w - 1, 1) * total_steps))

    @property
    def size(self) -> tuple[int, int]:
        """``(width, height)`` of the frame [px]."""
        return self.bev.x + self.bev.w, max(self.bev.h, self.hud.y + self.hud.h)

    @classmethod
    def make(cls, n_cameras: int, image_size: tuple[int, int], bev_px: int) -> Layout:
        h, w = image_size
        mos_w, mos_h = (n_cameras * w, h) if n_cameras else (0, 0)
        left = max(mos_w, HUD_MIN_WIDTH)
        hud_h = max(HUD_MIN_HEIGHT, bev_px - mos_h)
        return cls(
            Rect(0, 0, mos_w, mos_h),
            Rect(0, mos_h, left, hud_h),
            Rect(left, 0, bev_px, max(bev_px, mos_h + hud_h)),
        )


def put_lines(
    img: np.ndarray, lines: Sequence[tuple[str, tuple[int, int, int]]], x: int, y: int, scale: float = 0.42
) -> None:
    """Write ``(text, colour)`` lines from ``(x, y)`` (top of the first line) down."""
    for k, (text, colour) in enumerate(lines):
        cv2.putText(img, text, (x, y + 11 + LINE * k), FONT, scale, colour, 1, lineType=cv2.LINE_AA)


def draw_timeline(frame: np.ndarray, rect: Rect, cursor: int, recorded: int, total: int) -> None:
    """The scrub bar: the episode's ``total`` steps, the ``recorded`` ones lighter, the cursor."""
    x, y, w, h = rect.x, rect.y, rect.w, rect.h
    frame[y : y + h, x : x + w] = (50, 50, 60)

    def col(step: int) -> int:
        return x + int(round(min(step, total) / max(total, 1) * (w - 1)))

    frame[y : y + h, x : col(recorded - 1) + 1] = (95, 95, 120)
    c = col(cursor)
    frame[y - 2 : y + h + 2, max(x, c - 1) : c + 2] = (255, 230, 0)


def compose(
    layout: Layout,
    images: Sequence[np.ndarray],
    names: Sequence[str],
    hud_lines: Sequence[tuple[str, tuple[int, int, int]]],
    bev: np.ndarray,
    timeline: tuple[int, int, int] | None = None,
) -> np.ndarray:
    """The frame ``[H, W, 3]`` uint8 from the camera images (each ``[h, w, 3]``), the HUD's lines,
    the BEV image (``[S, S, 3]``) and ``timeline`` ``(cursor, recorded steps, episode steps)``."""
    width, height = layout.size
    frame = np.zeros((height, width, 3), np.uint8)
    m = layout.mosaic
    if images and m.w:
        mosaic = camera_mosaic(list(images), list(names), columns=len(images))
        frame[m.y : m.y + mosaic.shape[0], m.x : m.x + mosaic.shape[1]] = mosaic
    hud = layout.hud
    frame[hud.y : hud.y + hud.h, hud.x : hud.x + hud.w] = HUD_BACKGROUND
    put_lines(frame[hud.y : hud.y + hud.h, hud.x : hud.x + hud.w], hud_lines, 8, 4)
    if timeline is not None:
        draw_timeline(frame, layout.timeline, *timeline)
    b = layout.bev
    frame[b.y : b.y + bev.shape[0], b.x : b.x + bev.shape[1]] = bev
    return frame


def help_placement(
    lines: Sequence[str], frame_wh: tuple[int, int], margin: int = 12, scale: float = 0.45
) -> list[tuple[str, int, int, float]]:
    """Where each help line goes: ``(text, x, baseline y, scale)``, in as many columns as the
    frame's height needs, the font shrunk until the widest line fits its column (but never below a
    legible 0.25: a window far smaller than the default may then cut lines short on the right)."""
    w, h = frame_wh
    rows = max(1, (h - 2 * margin) // LINE)
    cols = -(-len(lines) // rows)
    col_w = (w - 2 * margin) // cols
    widest = max(cv2.getTextSize(t, FONT, 1.0, 1)[0][0] for t in lines)
    scale = max(0.25, min(scale, (col_w - margin) / max(widest, 1)))
    return [
        (t, margin + (k // rows) * col_w, margin + 11 + LINE * (k % rows), scale) for k, t in enumerate(lines)
    ]


def help_overlay(frame: np.ndarray, lines: Sequence[str], title: str = "jwmsim view: keys") -> np.ndarray:
    """``frame`` darkened, with the key bindings listed over it (in columns where they need it)."""
    out = (frame.astype(np.uint16) * 3 // 10).astype(np.uint8)
    texts = [title, *lines, "H: close this help"]
    colours = [GOOD] + [TEXT] * len(lines) + [DIM]
    for (text, x, y, scale), colour in zip(
        help_placement(texts, (out.shape[1], out.shape[0])), colours, strict=True
    ):
        cv2.putText(out, text, (x, y), FONT, scale, colour, 1, lineType=cv2.LINE_AA)
    return out
