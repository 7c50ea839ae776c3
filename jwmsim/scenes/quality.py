"""How good a reconstructed scene is, measured on frames no method read: held-out PSNR / SSIM,
and a contact sheet (true / rendered / error) a user can look at.

Held-out frames are every ``every``-th frame of every camera (index ``i % every == every // 2``,
as :mod:`jwmsim.gaussians.fit` holds out); the scene is rendered at each held-out camera's own
ego pose, actors at their logged poses at that camera's time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from jwmsim.atomic import atomic_path
from jwmsim.errors import ConfigError
from jwmsim.logs.segment import LogSegment

DEFAULT_HOLDOUT_EVERY = 8
CONTACT_ROWS = 6  # held-out views on the contact sheet
ERROR_GAIN = 4.0  # the error column shows |true - rendered| x this, clipped to 1


def heldout_frames(num_frames: int, every: int) -> list[int]:
    """Indices ``i % every == every // 2`` of ``range(num_frames)`` (none when ``every`` is 0)."""
    if every < 0 or every == 1:
        raise ConfigError(f"hold-out period must be 0 (none) or >= 2, got {every}")
    return [i for i in range(num_frames) if every > 0 and i % every == every // 2]


def build_frames(num_frames: int, every: int) -> list[int]:
    """The frames a method may read: all but :func:`heldout_frames`."""
    held = set(heldout_frames(num_frames, every))
    return [i for i in range(num_frames) if i not in held]


@dataclass(frozen=True)
class Quality:
    """Held-out scores: mean ``psnr`` [dB], ``ssim`` (7x7 uniform window), ``psnr_covered`` [dB]
    on pixels with alpha > 0.5, over ``views`` images at ``image_hw``; per camera as well; and the
    contact sheet (``[R * H, 3 * W, 3]`` uint8: true / rendered / error x4) of a few of them."""

    psnr: float
    ssim: float
    psnr_covered: float
    views: int
    frames: tuple[int, ...]
    image_hw: tuple[int, int]
    per_camera: dict[str, dict[str, float]]
    contact_sheet: np.ndarray | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "psnr": self.psnr,
            "ssim": self.ssim,
            "psnr_covered": self.psnr_covered,
            "views": self.views,
            "frames": list(self.frames),
            "image_hw": list(self.image_hw),
            "per_camera": self.per_camera,
        }


def evaluate_heldout(
    scene: Any,
    segment: LogSegment,
    frames: list[int],
    image_hw: tuple[int, int] = (90, 160),
    contact_rows: int = CONTACT_ROWS,
) -> Quality:
    """Score ``scene`` (a :class:`~jwmsim.gaussians.scene.GaussianScene`) on frames ``frames`` of
    every camera of ``segment`` (see the module docstring).

    Raises:
        ConfigError: ``frames`` is empty.
    """
    import torch

    from jwmsim.gaussians.image_metrics import psnr, ssim
    from jwmsim.gaussians.render import render

    if not frames:
        raise ConfigError(f"log {segment.name}: no held-out frames to score the scene on")
    per_cam: dict[str, list[tuple[float, float, float]]] = {c: [] for c in segment.camera_names}
    shots: list[tuple[float, np.ndarray, np.ndarray]] = []
    for c in segment.camera_names:
        cam = segment.cameras[c]
        for i in frames:
            fr = segment.frames[c][i]
            poses = {a: p for a, p in segment.actors_at(fr.time).items() if a in scene.actors}
            out = render(scene, [cam], fr.world_from_ego, poses, image_hw)
            rgb = out.rgb[0].clamp(0, 1)
            gt = torch.from_numpy(segment.image(c, i, image_hw)).float() / 255
            p = psnr(rgb, gt)
            cov = psnr(rgb, gt, mask=out.alpha[0] > 0.5)
            per_cam[c].append((p, float(ssim(rgb, gt)), cov))
            shots.append((p, gt.numpy(), rgb.numpy()))
    rows = [v for vals in per_cam.values() for v in vals]

    def mean(vals: list[float]) -> float:
        finite = [v for v in vals if np.isfinite(v)]
        return round(float(np.mean(finite)), 3) if finite else float("nan")

    sheet = contact_sheet(shots, contact_rows) if contact_rows > 0 else None
    return Quality(
        psnr=mean([r[0] for r in rows]),
        ssim=round(float(np.mean([r[1] for r in rows])), 4),
        psnr_covered=mean([r[2] for r in rows]),
        views=len(rows),
        frames=tuple(frames),
        image_hw=tuple(image_hw),
        per_camera={
            c: {"psnr": mean([v[0] for v in vals]), "ssim": round(float(np.mean([v[1] for v in vals])), 4)}
            for c, vals in per_cam.items()
        },
        contact_sheet=sheet,
    )


def contact_sheet(shots: list[tuple[float, np.ndarray, np.ndarray]], rows: int) -> np.ndarray:
    """``[R * H, 3 * W, 3]`` uint8: for ``rows`` views spread over the PSNR range (worst first),
    the true image, the render and ``|true - render| x 4``; ``shots`` are ``(psnr, true, render)``
    with ``[H, W, 3]`` float images in [0, 1]."""
    order = sorted(range(len(shots)), key=lambda j: shots[j][0])
    picks = [order[int(k)] for k in np.unique(np.linspace(0, len(order) - 1, min(rows, len(order))).round())]
    lines = []
    for j in picks:
        _, gt, rgb = shots[j]
        err = np.clip(np.abs(gt - rgb) * ERROR_GAIN, 0, 1)
        lines.append(np.concatenate([gt, rgb, err], axis=1))
    return (np.concatenate(lines, axis=0) * 255).round().astype(np.uint8)


def report_paths(scene_path: Path) -> tuple[Path, Path]:
    """Where the report of the scene file ``scene_path`` is kept: ``<stem>.report.json`` and
    ``<stem>.contact.png`` beside it."""
    base = scene_path.with_suffix("")
    return base.with_name(base.name + ".report.json"), base.with_name(base.name + ".contact.png")


def write_report(
    report: dict[str, Any], scene_path: Path, sheet: np.ndarray | None
) -> tuple[Path, Path | None]:
    """Write ``report`` (JSON) and the contact sheet (PNG) beside ``scene_path``, each atomically.
    Returns their paths (the PNG's None when there is no sheet)."""
    import cv2

    json_path, png_path = report_paths(Path(scene_path))
    # unique temporary names (atomic_path): two processes building the same scene (vector-env
    # workers on an empty cache) may write the same report at once; the last rename wins
    with atomic_path(json_path) as tmp:
        tmp.write_text(json.dumps(report, indent=2, default=str) + "\n")
    if sheet is None:
        return json_path, None
    ok, png = cv2.imencode(".png", np.ascontiguousarray(sheet[..., ::-1]))
    if not ok:
        raise ConfigError(f"could not encode the contact sheet {png_path}")
    with atomic_path(png_path) as tmp:
        tmp.write_bytes(png.tobytes())
    return json_path, png_path
