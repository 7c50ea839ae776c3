"""Image quality: PSNR and SSIM on ``[..., H, W, 3]`` images in [0, 1] (PyTorch, differentiable).

SSIM follows Wang et al. 2004 with ``C1 = (0.01 L)^2``, ``C2 = (0.03 L)^2``, ``L = 1``; the window
is a uniform 7x7 (the METHODS.md reporting convention, as scikit-image) or a Gaussian 11x11 with
sigma 1.5 (the 3DGS training loss). Only "valid" windows (fully inside the image) are averaged.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def psnr(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None) -> float:
    """``-10 log10(MSE)`` [dB] over all pixels and channels, or over pixels where ``mask``
    ``[..., H, W]`` is True."""
    err = (pred.float() - target.float()) ** 2
    if mask is not None:
        if not bool(mask.any()):
            return float("nan")
        err = err[mask]
    mse = float(err.mean())
    return float("inf") if mse == 0 else -10.0 * math.log10(mse)


def _window(kind: str, size: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    if kind == "uniform":
        w = torch.full((size,), 1.0 / size, dtype=dtype, device=device)
    elif kind == "gaussian":
        x = torch.arange(size, dtype=dtype, device=device) - (size - 1) / 2
        w = torch.exp(-(x**2) / (2 * 1.5**2))
        w = w / w.sum()
    else:
        raise ValueError(f"unknown SSIM window {kind!r} (uniform or gaussian)")
    return (w[:, None] * w[None, :])[None, None].expand(3, 1, size, size).contiguous()


def ssim_map(
    pred: torch.Tensor, target: torch.Tensor, window: str = "uniform", size: int = 7
) -> torch.Tensor:
    """Per-window SSIM ``[B, 3, H - size + 1, W - size + 1]`` of images ``[..., H, W, 3]``."""
    x = pred.reshape(-1, *pred.shape[-3:]).permute(0, 3, 1, 2)
    y = target.reshape(-1, *target.shape[-3:]).permute(0, 3, 1, 2).to(x.dtype)
    w = _window(window, size, x.dtype, x.device)

    def filt(t: torch.Tensor) -> torch.Tensor:
        return F.conv2d(t, w, groups=3)

    mx, my = filt(x), filt(y)
    sxx = filt(x * x) - mx * mx
    syy = filt(y * y) - my * my
    sxy = filt(x * y) - mx * my
    if window == "uniform":  # sample (co)variances, as scikit-image
        n = size * size
        sxx, syy, sxy = (s * n / (n - 1) for s in (sxx, syy, sxy))
    c1, c2 = 0.01**2, 0.03**2
    return ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))


def ssim(pred: torch.Tensor, target: torch.Tensor, window: str = "uniform", size: int = 7) -> torch.Tensor:
    """Mean SSIM (a 0-d tensor) of images ``[..., H, W, 3]`` in [0, 1]."""
    return ssim_map(pred, target, window, size).mean()
