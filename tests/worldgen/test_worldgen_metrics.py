"""Masked image scores against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from jwmsim.worldgen.training.gen_metrics import frame_scores, image_scores, mean_scores


def _pair() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Target black; the left half (uncovered) off by 25, the right half (covered) by 51."""
    target = np.zeros((16, 20, 3), np.uint8)
    pred = target.copy()
    pred[:, :10] = 25
    pred[:, 10:] = 51
    alpha = np.zeros((16, 20), np.float32)
    alpha[:, 10:] = 0.8
    return pred, target, alpha


def test_masked_psnr_matches_hand_values() -> None:
    pred, target, alpha = _pair()
    s = image_scores(pred, target, alpha)
    assert s["psnr_uncovered"] == pytest.approx(20 * math.log10(255 / 25), abs=1e-4)
    assert s["psnr_covered"] == pytest.approx(20 * math.log10(255 / 51), abs=1e-4)
    mse = ((25 / 255) ** 2 + (51 / 255) ** 2) / 2
    assert s["psnr"] == pytest.approx(-10 * math.log10(mse), abs=1e-4)


def test_alpha_threshold_is_one_half() -> None:
    pred, target, alpha = _pair()
    alpha[:, 10:] = 0.5  # exactly 0.5 counts as covered
    alpha[:, :10] = 0.49
    s = image_scores(pred, target, alpha)
    assert s["psnr_covered"] == pytest.approx(20 * math.log10(255 / 51), abs=1e-4)


def test_masked_ssim() -> None:
    rng = np.random.default_rng(0)
    target = rng.integers(0, 256, (24, 30, 3), dtype=np.uint8)
    pred = target.copy()
    pred[:, :12] = 255 - pred[:, :12]  # the left part is wrong, the right part exact
    alpha = np.zeros((24, 30), np.float32)
    alpha[:, 15:] = 1.0
    s = image_scores(pred, target, alpha)
    assert s["ssim_covered"] == pytest.approx(1.0, abs=1e-6)  # windows centred at x >= 15 see x >= 12
    assert s["ssim_uncovered"] < 0.1 < s["ssim"] < 1.0
    same = image_scores(target, target, alpha)
    assert same["ssim"] == pytest.approx(1.0) and same["psnr"] == math.inf


def test_empty_masks_score_nan_and_means_skip_them() -> None:
    pred, target, _ = _pair()
    s = image_scores(pred, target, np.ones((16, 20), np.float32))
    assert math.isnan(s["psnr_uncovered"]) and math.isnan(s["ssim_uncovered"])
    rows = frame_scores(
        np.stack([pred, pred]), np.stack([target, target]), np.stack([np.ones((16, 20)), np.zeros((16, 20))])
    )
    m = mean_scores([rows])
    assert m["images"] == 2
    assert m["psnr_uncovered"] == pytest.approx(
        image_scores(pred, target, np.zeros((16, 20)))["psnr_uncovered"], abs=1e-3
    )


def test_shape_mismatch_is_an_error() -> None:
    pred, target, alpha = _pair()
    with pytest.raises(ValueError, match="shapes differ"):
        image_scores(pred[:8], target, alpha)


def test_pooled_psnr_weighs_every_masked_pixel_alike() -> None:
    """Two images: one with 2 uncovered pixels off by 5, one with 200 off by 51. The mean of
    per-image PSNR is halfway between the two images; the pooled PSNR is the MSE of all 202 pixels."""
    target = np.zeros((2, 16, 20, 3), np.uint8)
    pred = target.copy()
    alpha = np.ones((2, 16, 20), np.float32)
    alpha[0, 0, :2] = 0.0
    pred[0, 0, :2] = 5
    alpha[1, :10, :] = 0.0
    pred[1, :10, :] = 51
    m = mean_scores([frame_scores(pred, target, alpha)])
    per_image = [20 * math.log10(255 / 5), 20 * math.log10(255 / 51)]
    assert m["psnr_uncovered"] == pytest.approx(sum(per_image) / 2, abs=1e-3)
    mse = (2 * (5 / 255) ** 2 + 200 * (51 / 255) ** 2) / 202
    assert m["psnr_uncovered_pooled"] == pytest.approx(-10 * math.log10(mse), abs=1e-3)
    assert m["psnr_covered_pooled"] == 60.0  # exact: capped like the per-image means
    assert m["uncovered_share"] == pytest.approx(202 / 640, abs=1e-5)


def test_pooled_psnr_without_pixels_is_nan() -> None:
    pred, target, _ = _pair()
    m = mean_scores([frame_scores(pred[None], target[None], np.ones((1, 16, 20)))])
    assert math.isnan(m["psnr_uncovered_pooled"]) and m["uncovered_share"] == 0.0
