"""Image scores of generated frames against the true ones, over the whole image and apart on the
pixels the skeleton covers (alpha >= 0.5) and those it does not (alpha < 0.5).

PSNR and SSIM (7x7 uniform window) come from :mod:`jwmsim.gaussians.image_metrics`; a masked SSIM
is the mean of the SSIM map over the windows whose centre pixel is in the mask. Scores are per image
(one camera of one step); a mask with no pixel scores NaN (left out of means).
"""

from __future__ import annotations

import numpy as np
import torch

from jwmsim.gaussians.image_metrics import psnr, ssim_map

COVERED = 0.5  # alpha at or above which a pixel counts as covered by the skeleton
SSIM_WINDOW = 7
METRICS = ("psnr", "psnr_uncovered", "psnr_covered", "ssim", "ssim_uncovered", "ssim_covered")


def _to_float(img: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(img)).float() / 255.0


def image_scores(pred: np.ndarray, target: np.ndarray, alpha: np.ndarray) -> dict[str, float]:
    """Scores of one image.

    Args:
        pred, target: ``[H, W, 3]`` uint8.
        alpha: ``[H, W]`` skeleton coverage in [0, 1].

    Returns:
        ``psnr`` [dB] and ``ssim`` over the image, and each on ``_uncovered`` / ``_covered`` pixels.
    """
    if pred.shape != target.shape or pred.shape[:2] != alpha.shape:
        raise ValueError(f"shapes differ: pred {pred.shape}, target {target.shape}, alpha {alpha.shape}")
    p, t = _to_float(pred), _to_float(target)
    covered = torch.from_numpy(np.asarray(alpha) >= COVERED)
    smap = ssim_map(p, t, size=SSIM_WINDOW)[0].mean(0)  # [H - 6, W - 6]
    r = SSIM_WINDOW // 2
    cov_c = covered[r : covered.shape[0] - r, r : covered.shape[1] - r]

    def masked_ssim(mask: torch.Tensor) -> float:
        return float(smap[mask].mean()) if bool(mask.any()) else float("nan")

    return {
        "psnr": psnr(p, t),
        "psnr_uncovered": psnr(p, t, ~covered),
        "psnr_covered": psnr(p, t, covered),
        "ssim": float(smap.mean()),
        "ssim_uncovered": masked_ssim(~cov_c),
        "ssim_covered": masked_ssim(cov_c),
    }


def frame_scores(pred: np.ndarray, target: np.ndarray, alpha: np.ndarray) -> dict[str, np.ndarray]:
    """Per-camera scores ``[C]`` of one step (``pred``, ``target`` ``[C, H, W, 3]`` uint8, ``alpha``
    ``[C, H, W]`` in [0, 1]). Runs PyTorch single-threaded: these small convolutions were 11x slower
    with 2 threads on a loaded 2-core machine (OpenMP threads spinning)."""
    from jwmsim.gaussians.render import one_torch_thread

    with one_torch_thread():
        per = [image_scores(pred[c], target[c], alpha[c]) for c in range(pred.shape[0])]
    return {m: np.array([s[m] for s in per], np.float64) for m in METRICS}


def mean_scores(rows: list[dict[str, np.ndarray]]) -> dict[str, float]:
    """NaN-ignoring means of stacked score rows (infinite PSNR of identical images is capped at
    60 dB so that it does not swamp a mean)."""
    out: dict[str, float] = {}
    for m in METRICS:
        vals = np.concatenate([np.ravel(r[m]) for r in rows]) if rows else np.zeros(0)
        if m.startswith("psnr"):
            vals = np.minimum(vals, 60.0)
        finite = vals[np.isfinite(vals)]
        out[m] = round(float(finite.mean()), 4) if len(finite) else float("nan")
    out["images"] = int(sum(np.size(r["psnr"]) for r in rows))
    return out
