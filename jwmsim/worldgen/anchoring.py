"""Anchoring: what a generated frame keeps of the skeleton where the skeleton covers the view.

The skeleton (the Gaussian scene rendered at the simulated poses) is the simulator's geometry;
WorldGen fills what it does not cover and makes the frame one picture. Where the skeleton covers a
pixel it is usually a better estimate of the structure there than a few-step sample, which draws
its own detail (measured in ``jwmsim eval gen``: on WorldRec skeletons the unanchored frame's SSIM
on covered pixels is below the skeleton's). An *anchor* combines the two, per pixel, with the
skeleton's coverage ``alpha``:

``w = clip((alpha - lo) / (hi - lo), 0, 1)`` (0 where the skeleton is empty, 1 where it is opaque;
the ramp between ``lo`` and ``hi`` hides the seam; by default it starts at 0.5, where
``jwmsim eval gen`` starts to call a pixel covered, so that a pixel it calls uncovered is the
generated frame's alone), then

* ``none``: the generated frame as it is (``x = g``);
* ``overlay``: the skeleton where it covers the view, ``x = w s + (1 - w) g``, as image
  inpainting pipelines paste the known region back over the inpainted result;
* ``detail``: the skeleton's detail on the generated frame's colours, ``x = w (s + k B(g - s)) +
  (1 - w) g`` with ``B`` a Gaussian blur of standard deviation ``sigma`` pixels and ``k`` in (0, 1]
  the share of the generated frame's low frequencies taken: the generated frame corrects exposure
  and colour of the render at low frequencies, the render keeps the structure (a two-band blend);
  with ``k < 1`` the colours stay part of the way at the render's own.

All images are ``[..., 3, H, W]`` float in [-1, 1] at one size; ``alpha`` is ``[..., H, W]`` in
[0, 1]. The pipeline applies the anchor to the frame it outputs and writes the anchored frame into
its KV cache, so its past frames are the frames it showed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from jwmsim.registry import Registry

ANCHOR_LO = 0.5  # coverage below which the generated frame is kept as it is (``jwmsim eval gen``
# calls alpha >= 0.5 covered)
ANCHOR_HI = 0.7  # coverage from which the skeleton is kept fully
DETAIL_SIGMA = 3.0  # [px] the blur that splits colour (generated) from detail (skeleton) in ``detail``
DETAIL_STRENGTH = 0.8  # ``k``: the share of the generated low frequencies ``detail`` takes where covered


def check_ramp(lo: float, hi: float) -> None:
    """A coverage ramp needs ``0 <= lo < hi <= 1`` (ValueError otherwise)."""
    if not 0.0 <= lo < hi <= 1.0:
        raise ValueError(f"anchor ramp needs 0 <= lo < hi <= 1, got lo={lo}, hi={hi}")


def coverage_weight(alpha: torch.Tensor, lo: float = ANCHOR_LO, hi: float = ANCHOR_HI) -> torch.Tensor:
    """``[..., 1, H, W]`` weight of the skeleton: 0 for ``alpha <= lo``, 1 for ``alpha >= hi``,
    linear between (``alpha``: ``[..., H, W]``)."""
    check_ramp(lo, hi)
    return ((alpha - lo) / (hi - lo)).clamp(0.0, 1.0).unsqueeze(-3)


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of ``[..., H, W]`` images (radius ``3 sigma``, reflected borders)."""
    r = max(1, int(round(3.0 * sigma)))
    t = torch.arange(-r, r + 1, dtype=x.dtype, device=x.device)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    k = k / k.sum()
    shape = x.shape
    y = x.reshape(-1, 1, *shape[-2:])
    y = F.conv2d(F.pad(y, (r, r, 0, 0), mode="reflect"), k.view(1, 1, 1, -1))
    y = F.conv2d(F.pad(y, (0, 0, r, r), mode="reflect"), k.view(1, 1, -1, 1))
    return y.reshape(shape)


AnchorFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class Anchor:
    """A registry entry: ``apply(generated, skeleton, alpha) -> frame`` and one line for help texts."""

    apply: AnchorFn
    description: str

    def __call__(self, generated: torch.Tensor, skeleton: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
        return self.apply(generated, skeleton, alpha)


def _none(g: torch.Tensor, s: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    return g


def _overlay(g: torch.Tensor, s: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    w = coverage_weight(alpha)
    return w * s + (1.0 - w) * g


def detail(
    sigma: float = DETAIL_SIGMA,
    strength: float = DETAIL_STRENGTH,
    lo: float = ANCHOR_LO,
    hi: float = ANCHOR_HI,
) -> AnchorFn:
    """The ``detail`` anchor with a split at ``sigma`` [px]: where the skeleton covers the view, its
    render plus ``strength`` times the Gaussian blur (``sigma``) of generated minus skeleton, so
    that the frame keeps the skeleton's detail (above the split) under the generated colours (below
    it), taken ``strength`` in (0, 1] of the way from the render's own; the coverage ramp runs
    from ``lo`` to ``hi`` (:func:`coverage_weight`)."""
    check_ramp(lo, hi)
    if sigma <= 0.0:
        raise ValueError(f"the detail anchor's blur sigma must be > 0 px, got {sigma}")
    if not 0.0 < strength <= 1.0:
        raise ValueError(f"the detail anchor's strength must be in (0, 1], got {strength}")

    def apply(g: torch.Tensor, s: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
        w = coverage_weight(alpha, lo, hi)
        return w * (s + strength * gaussian_blur(g - s, sigma)) + (1.0 - w) * g

    return apply


ANCHORS: Registry[Anchor] = Registry("WorldGen anchor")
ANCHORS.add("none", Anchor(_none, "the generated frame as it is"))
ANCHORS.add(
    "overlay", Anchor(_overlay, "the skeleton's render where it covers the view, generated elsewhere")
)
ANCHORS.add(
    "detail",
    Anchor(detail(), "the skeleton's detail over the generated frame's colours where it covers the view"),
)
