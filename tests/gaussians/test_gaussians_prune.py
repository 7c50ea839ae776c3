"""Blending weights (each Gaussian's share of the rendered pixels) and the pruning they drive."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from jwmsim.errors import ConfigError
from jwmsim.gaussians.backend_cpu import blending_weights_cpu, rasterize_cpu
from jwmsim.gaussians.prune import PruneConfig, keep_mask
from jwmsim.gaussians.scene import GaussianComponent


def _activated(comp: GaussianComponent) -> list[np.ndarray]:
    return [t.detach().contiguous().numpy() for t in (comp.means, comp.quats, comp.scales, comp.opacities)]


def test_blending_weights_equal_the_colour_gradient_of_the_image_sum(tiny_component, tiny_views) -> None:
    viewmats, ks, (h, w) = tiny_views
    comp = tiny_component
    colors = comp.colors.detach().clone().requires_grad_(True)
    rgb, _, _ = rasterize_cpu(
        comp.means, comp.quats, comp.scales, comp.opacities, colors, viewmats, ks, w, h, 0.05, 1e4
    )
    rgb[..., 0].sum().backward()
    weights = blending_weights_cpu(*_activated(comp), viewmats, ks, w, h, 0.05, 1e4)
    np.testing.assert_allclose(weights, colors.grad[:, 0].numpy(), rtol=1e-9, atol=1e-9)
    assert weights.sum() > 1.0 and (weights >= 0).all()


def test_hidden_and_out_of_view_gaussians_weigh_nothing(tiny_views) -> None:
    viewmats, ks, (h, w) = tiny_views
    dt = torch.float64
    # a large opaque wall at 3 m, a small Gaussian behind it at 6 m, one far to the side
    comp = GaussianComponent.from_values(
        means=torch.tensor([[0.0, 0.0, 3.0], [0.0, 0.0, 6.0], [80.0, 0.0, 5.0]], dtype=dt),
        scales=torch.tensor([[5.0, 5.0, 0.01], [0.1, 0.1, 0.1], [0.1, 0.1, 0.1]], dtype=dt),
        opacities=torch.tensor([0.99, 0.9, 0.9], dtype=dt),
        colors=torch.full((3, 3), 0.5, dtype=dt),
    )
    weights = blending_weights_cpu(*_activated(comp), viewmats[:1], ks[:1], w, h, 0.05, 1e4)
    assert weights[0] > 0.9 * w * h  # the wall fills the image
    assert weights[1] < 1e-3 * weights[0]
    assert weights[2] == 0.0


def test_keep_mask_keeps_the_heaviest_until_the_coverage() -> None:
    w = np.array([1.0, 10.0, 0.0, 5.0, 4.0])
    assert keep_mask(w, 0.5).tolist() == [False, True, False, False, False]
    assert keep_mask(w, 0.75).tolist() == [False, True, False, True, False]
    assert keep_mask(w, 1.0).tolist() == [True, True, False, True, True]  # zero weight always goes
    assert not keep_mask(np.zeros(3), 0.9).any()


@pytest.mark.parametrize("kwargs", [{"weight_coverage": 0.0}, {"weight_coverage": 1.5}, {"frame_stride": 0}])
def test_prune_config_refuses_bad_values(kwargs: dict) -> None:
    with pytest.raises(ConfigError):
        PruneConfig(**kwargs)
