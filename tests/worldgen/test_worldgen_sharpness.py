"""The blur measures: hand values, and why they exist (a blurred copy gains PSNR, they fall)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from jwmsim.worldgen.training.gen_metrics import frame_scores, mean_scores
from jwmsim.worldgen.training.sharpness import (
    HF_CUTOFF,
    gradient_magnitude,
    high_pass,
    image_measures,
    ratio_of_means,
)


def _grey(y: np.ndarray) -> np.ndarray:
    """``[H, W]`` in [0, 1] -> ``[H, W, 3]`` uint8 (R = G = B, so the luminance is ``y``)."""
    return np.repeat((np.clip(y, 0, 1) * 255 + 0.5).astype(np.uint8)[..., None], 3, -1)


def test_sobel_of_a_ramp_is_eight_times_its_slope() -> None:
    y = np.tile(np.arange(40, dtype=np.float32) * 0.01, (20, 1))
    g = gradient_magnitude(y)
    assert np.isnan(g[0]).all() and np.isnan(g[:, -1]).all()
    assert np.nanmean(g) == pytest.approx(0.08, rel=1e-4)
    whole = {"": np.ones((20, 40), bool)}
    m = image_measures(_grey(2 * y), _grey(y), whole)
    assert m["sharpness_gen"] / m["sharpness_true"] == pytest.approx(2.0, rel=0.02)


def test_high_pass_keeps_only_frequencies_above_the_cutoff() -> None:
    x = np.arange(64, dtype=np.float32)
    low = np.tile(0.5 + 0.4 * np.cos(2 * np.pi * 0.1 * x), (32, 1))  # 0.1 cycles/pixel
    high = np.tile(0.5 + 0.4 * np.cos(2 * np.pi * 0.4 * x), (32, 1))  # 0.4 cycles/pixel
    assert HF_CUTOFF == 0.25
    assert np.mean(high_pass(low) ** 2) < 1e-3 * 0.08
    assert np.mean(high_pass(high) ** 2) == pytest.approx(0.08, rel=0.1)  # the cosine's power 0.4^2/2


def test_flicker_of_a_frozen_video_is_zero_and_missing_without_a_previous_frame() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.integers(0, 256, (2, 1, 16, 24, 3), dtype=np.uint8)
    alpha = np.ones((1, 16, 24), np.float32)
    frozen = frame_scores(a, b, alpha, prev_pred=a, prev_target=a)
    assert frozen["flicker_gen"][0] == 0.0 and frozen["flicker_true"][0] > 0.1
    first = frame_scores(a, b, alpha)
    assert np.isnan(first["flicker_gen"][0])
    s = mean_scores([frozen, first])
    assert s["flicker"] == 0.0 and np.isnan(s["flicker_uncovered"])  # alpha 1: nothing uncovered


def test_ratio_of_means_skips_nan_and_flat_truth() -> None:
    assert ratio_of_means(np.array([1.0, np.nan, 3.0]), np.array([2.0, 5.0, 2.0])) == pytest.approx(1.0)
    assert np.isnan(ratio_of_means(np.array([1.0]), np.array([0.0])))


def _scene_video(steps: int = 6, h: int = 64, w: int = 96) -> np.ndarray:
    """``[T, H, W]`` luminance: multi-scale texture with hard edges, panning 2 px per step."""
    rng = np.random.default_rng(0)
    big = np.zeros((h, w + 2 * steps), np.float32)
    for size in (3, 7, 15):
        big += cv2.GaussianBlur(rng.random((h, w + 2 * steps)).astype(np.float32), (0, 0), size / 3) * 0.6
    wide = w + 2 * steps
    big += (rng.random((h // 8, wide // 8 + 1)) > 0.5).repeat(8, 0).repeat(8, 1)[:h, :wide] * 0.3
    big = (big - big.min()) / (big.max() - big.min())
    return np.stack([big[:, 2 * t : 2 * t + w] for t in range(steps)])


def test_a_blurred_copy_gains_psnr_while_the_blur_measures_fall() -> None:
    """A sharp frame that is 2 px off (as a generator that paints plausible detail) against a
    Gaussian blur (sigma 2 px) of the true frame: the blur wins on PSNR and loses on all three."""
    true = _scene_video()
    sharp = np.roll(true, 2, axis=2)
    blurred = np.stack([cv2.GaussianBlur(f, (0, 0), 2.0) for f in true])
    alpha = np.zeros((1, *true.shape[1:]), np.float32)
    alpha[:, :, true.shape[2] // 2 :] = 1.0

    def score(video: np.ndarray) -> dict[str, float]:
        rows, prev_p, prev_t = [], None, None
        for p, t in zip(video, true, strict=True):
            pp, tt = _grey(p)[None], _grey(t)[None]
            rows.append(frame_scores(pp, tt, alpha, prev_p, prev_t))
            prev_p, prev_t = pp, tt
        return mean_scores(rows)

    s_sharp, s_blur = score(sharp), score(blurred)
    assert s_blur["psnr"] > s_sharp["psnr"] + 1.0
    for m in ("sharpness", "hf_energy", "flicker"):
        for region in ("", "_uncovered", "_covered"):
            key = m + region
            assert s_sharp[key] == pytest.approx(1.0, abs=0.15), key
            assert s_blur[key] < 0.75 * s_sharp[key], key
