"""Anchoring a generated frame to the skeleton where the skeleton covers the view."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from jwmsim.errors import ConfigError
from jwmsim.worldgen.anchoring import (
    ANCHOR_HI,
    ANCHOR_LO,
    ANCHORS,
    DETAIL_SIGMA,
    DETAIL_STRENGTH,
    coverage_weight,
    detail,
    gaussian_blur,
)
from jwmsim.worldgen.conditioning import images_to_model
from jwmsim.worldgen.frames import FramePoses, SkeletonFrame
from jwmsim.worldgen.pipeline_worldgen import SamplerConfig, WorldGenPipeline


def _images(seed: int, shape=(1, 2, 3, 24, 40)) -> torch.Tensor:
    return torch.rand(shape, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def test_coverage_weight_ramps_from_lo_to_hi() -> None:
    alpha = torch.tensor([[0.0, 0.3, 0.4, 0.5, 1.0]])  # [H = 1, W = 5]
    w = coverage_weight(alpha, 0.3, 0.5)
    assert w.shape == (1, 1, 5)
    np.testing.assert_allclose(w[0, 0].numpy(), [0.0, 0.0, 0.5, 1.0, 1.0], atol=1e-6)
    with pytest.raises(ValueError, match="lo < hi"):
        coverage_weight(alpha, 0.5, 0.5)


def test_overlay_keeps_the_skeleton_where_covered_and_the_sample_where_empty() -> None:
    g, s = _images(0), _images(1)
    alpha = torch.zeros(1, 2, 24, 40)
    alpha[..., :, 20:] = 1.0  # right half covered
    out = ANCHORS.get("overlay")(g, s, alpha)
    torch.testing.assert_close(out[..., 20:], s[..., 20:])
    torch.testing.assert_close(out[..., :20], g[..., :20])
    torch.testing.assert_close(ANCHORS.get("none")(g, s, alpha), g)


def test_detail_takes_colour_from_the_sample_and_structure_from_the_skeleton() -> None:
    s = _images(1)
    offset = 0.3  # the sample is the skeleton, brighter by a constant: a colour (low-frequency) change
    g = s + offset
    alpha = torch.ones(1, 2, 24, 40)
    full = detail(strength=1.0)
    # a constant difference passes the blur unchanged: at full strength the output is the sample
    torch.testing.assert_close(full(g, s, alpha), g, atol=1e-5, rtol=0)
    # the registered anchor takes DETAIL_STRENGTH of the colour change
    out = ANCHORS.get("detail")(g, s, alpha)
    torch.testing.assert_close(out, s + DETAIL_STRENGTH * offset, atol=1e-5, rtol=0)
    # a high-frequency difference (a checkerboard the sample invented) is mostly removed
    checker = ((torch.arange(40)[None, :] + torch.arange(24)[:, None]) % 2).float() * 0.4 - 0.2
    out = full(s + checker, s, alpha)
    assert (out - s).abs().mean() < 0.1 * checker.abs().mean()
    with pytest.raises(ValueError, match="strength"):
        detail(strength=0.0)


def test_pixels_the_evaluation_calls_uncovered_are_the_samples_alone() -> None:
    """The default ramp starts at coverage 0.5, where ``jwmsim eval gen`` starts to call a pixel
    covered: below it the frame is the sample, at ``ANCHOR_HI`` and above it the skeleton's detail."""
    g, s = _images(0), _images(1)
    alpha = torch.zeros(1, 2, 24, 40)
    alpha[..., :, 10:20] = 0.49  # uncovered for the evaluation
    alpha[..., :, 20:30] = 0.6  # on the ramp
    alpha[..., :, 30:] = ANCHOR_HI
    for name in ("detail", "overlay"):
        out = ANCHORS.get(name)(g, s, alpha)
        torch.testing.assert_close(out[..., :20], g[..., :20])
        assert not torch.allclose(out[..., 20:], g[..., 20:])
    torch.testing.assert_close(ANCHORS.get("overlay")(g, s, alpha)[..., 30:], s[..., 30:])
    from jwmsim.worldgen.training.gen_metrics import COVERED

    assert ANCHOR_LO == COVERED
    with pytest.raises(ValueError, match="lo < hi"):
        detail(lo=0.7, hi=0.5)


def test_a_wider_detail_split_keeps_more_of_the_skeleton() -> None:
    """The registered ``detail`` anchor splits at ``DETAIL_SIGMA``; a wider split passes less of a
    mid-frequency difference from the sample (more of the skeleton's structure stays)."""
    s, g = _images(1), _images(2)
    alpha = torch.ones(1, 2, 24, 40)
    torch.testing.assert_close(
        ANCHORS.get("detail")(g, s, alpha), detail(DETAIL_SIGMA, DETAIL_STRENGTH)(g, s, alpha)
    )
    kept = [float((detail(sigma)(g, s, alpha) - s).abs().mean()) for sigma in (1.0, 2.0, 3.0)]
    assert kept[0] > kept[1] > kept[2]
    with pytest.raises(ValueError, match="sigma"):
        detail(0.0)


def test_gaussian_blur_preserves_a_constant_and_the_mean() -> None:
    x = torch.full((2, 3, 16, 20), 0.25)
    torch.testing.assert_close(gaussian_blur(x, 2.0), x)
    y = _images(3, (3, 16, 20))
    assert abs(float(gaussian_blur(y, 1.0).mean() - y.mean())) < 0.02


def test_unknown_anchor_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="anchor"):
        SamplerConfig(anchor="paste")


def test_pipeline_outputs_and_caches_the_anchored_frame(trained_model, rig_fn) -> None:
    """With ``overlay`` and a fully covering skeleton, the frame is the skeleton render (to uint8
    rounding); the cache write receives the anchored frame."""
    ks, cams = rig_fn(3, (32, 48))
    rng = np.random.default_rng(0)
    frame = SkeletonFrame(
        rgb=rng.integers(0, 255, (3, 32, 48, 3), dtype=np.uint8),
        depth=rng.uniform(1, 30, (3, 32, 48)).astype(np.float32),
        alpha=np.ones((3, 32, 48), np.float32),
        poses=FramePoses(("A", "B", "C"), np.eye(4), cams, ks, 0.0),
    )
    cfg = SamplerConfig(steps=1, autocast="none", window=2, torch_threads=None)
    anchored = WorldGenPipeline(trained_model, SamplerConfig(**{**cfg.__dict__, "anchor": "overlay"}))
    free = WorldGenPipeline(trained_model, cfg)
    anchored.reset([])
    free.reset([])
    a, f = anchored(frame), free(frame)
    np.testing.assert_array_equal(a.images, frame.rgb)
    torch.testing.assert_close(a.x0, images_to_model(frame.rgb))
    assert not np.array_equal(f.images, frame.rgb)
    # the next frame differs between the two: the caches hold different past frames
    nxt = SkeletonFrame(frame.rgb, frame.depth, np.zeros_like(frame.alpha), frame.poses)
    assert not torch.allclose(anchored(nxt).x0, free(nxt).x0)
