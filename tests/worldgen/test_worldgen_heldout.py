"""The first held-out PSNR check: metrics and the clip stream."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from jwmsim.worldgen.training.heldout_psnr import clip_stream, masked_psnr, score_clip


class CopySkeleton:
    name = "copy-skeleton"

    def __init__(self) -> None:
        self.context = 0

    def reset(self, context) -> None:
        self.context = len(context)

    def generate(self, frame) -> np.ndarray:
        return frame.rgb


def test_masked_psnr() -> None:
    a = np.zeros((2, 4, 4, 3), np.uint8)
    b = a.copy()
    b[:, :2] = 255
    mask = np.zeros((2, 4, 4), bool)
    mask[:, 2:] = True
    assert masked_psnr(a, b, mask) == 120.0  # identical where masked (floored MSE)
    assert abs(masked_psnr(a, b) - 10 * np.log10(2)) < 1e-9
    assert np.isnan(masked_psnr(a, b, np.zeros_like(mask)))


def test_score_clip_with_a_copy_generator(tmp_path: Path, clip_writer) -> None:
    path = clip_writer(tmp_path / "c.npz", t=3)
    context, frames, target = clip_stream(path)
    assert len(frames) == 3 and target.shape[0] == 3 and context == []
    gen = CopySkeleton()
    r = score_clip(gen, path, strip=tmp_path / "strip.png")
    assert r["gen_all"] == r["skeleton_all"] and r["gen_covered"] == r["skeleton_covered"]
    assert 0.3 < r["uncovered_frac"] < 0.4
    assert (tmp_path / "strip.png").stat().st_size > 0
