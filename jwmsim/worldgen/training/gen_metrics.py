"""Image scores of generated frames against the true ones, over the whole image and apart on the
pixels the skeleton covers (alpha >= 0.5) and those it does not (alpha < 0.5).

PSNR and SSIM (7x7 uniform window) come from :mod:`jwmsim.gaussians.image_metrics`; a masked SSIM
is the mean of the SSIM map over the windows whose centre pixel is in the mask. Beside them, the
measures that do not reward blur (:mod:`jwmsim.worldgen.training.sharpness`: sharpness, high-frequency
energy and temporal flicker ratios, generated / true). Scores are per image (one camera of one step);
a mask with no pixel scores NaN (left out of means).

A set's mean of per-image masked PSNR weighs an image with three uncovered pixels like one with
ten thousand. Beside it, the **pooled** PSNR of a mask pools the squared error of every masked pixel
of the set before the logarithm (units of [0, 1] per channel):

    psnr_uncovered_pooled = -10 log10( sum_images SE_uncovered / (3 sum_images N_uncovered) )

with ``SE`` the summed squared error over the image's masked pixels and channels and ``N`` their
count; ``uncovered_share`` is ``sum N_uncovered / sum (H W)``, the share of the set's pixels the mask
holds. Where the skeleton leaves few pixels free (WorldRec's scene in the towns), the pooled figure
is the one that says how the model does on them.
"""

from __future__ import annotations

import numpy as np
import torch

from jwmsim.gaussians.image_metrics import psnr, ssim_map
from jwmsim.worldgen.training.sharpness import image_measures, ratio_keys, ratio_of_means, raw_keys

COVERED = 0.5  # alpha at or above which a pixel counts as covered by the skeleton
SSIM_WINDOW = 7
PIXEL_METRICS = ("psnr", "psnr_uncovered", "psnr_covered", "ssim", "ssim_uncovered", "ssim_covered")
RATIOS = ratio_keys()  # sharpness, hf_energy, flicker (whole / uncovered / covered): generated / true
MASKS = ("uncovered", "covered")
SUMS = tuple(f"{k}_{m}" for m in MASKS for k in ("se", "n"))  # per image: squared error, pixel count
METRICS = (*PIXEL_METRICS, *raw_keys(), *SUMS, "n_pixels")  # what is kept per image


def _to_float(img: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(img)).float() / 255.0


def image_scores(
    pred: np.ndarray,
    target: np.ndarray,
    alpha: np.ndarray,
    prev_pred: np.ndarray | None = None,
    prev_target: np.ndarray | None = None,
) -> dict[str, float]:
    """Scores of one image.

    Args:
        pred, target: ``[H, W, 3]`` uint8.
        alpha: ``[H, W]`` skeleton coverage in [0, 1].
        prev_pred, prev_target: the previous step's images of the camera (for the flicker).

    Returns:
        ``psnr`` [dB] and ``ssim`` over the image, and each on ``_uncovered`` / ``_covered`` pixels;
        the per-image terms of the blur measures (``sharpness_gen``, ``sharpness_true``, ...); for
        the pooled PSNR, ``se_<mask>`` (squared error summed over the mask's pixels and channels)
        and ``n_<mask>`` (its pixels), and ``n_pixels`` (the image's).
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

    cov_np = covered.numpy()
    masks = {"": np.ones_like(cov_np), "_uncovered": ~cov_np, "_covered": cov_np}
    sq = ((p - t) ** 2).sum(-1)  # [H, W], summed over channels
    return {
        "se_uncovered": float(sq[~covered].sum()),
        "n_uncovered": float((~covered).sum()),
        "se_covered": float(sq[covered].sum()),
        "n_covered": float(covered.sum()),
        "n_pixels": float(covered.numel()),
        **image_measures(pred, target, masks, prev_pred, prev_target),
        "psnr": psnr(p, t),
        "psnr_uncovered": psnr(p, t, ~covered),
        "psnr_covered": psnr(p, t, covered),
        "ssim": float(smap.mean()),
        "ssim_uncovered": masked_ssim(~cov_c),
        "ssim_covered": masked_ssim(cov_c),
    }


def frame_scores(
    pred: np.ndarray,
    target: np.ndarray,
    alpha: np.ndarray,
    prev_pred: np.ndarray | None = None,
    prev_target: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Per-camera scores ``[C]`` of one step (``pred``, ``target`` ``[C, H, W, 3]`` uint8, ``alpha``
    ``[C, H, W]`` in [0, 1]; ``prev_*`` the step before, for the flicker). Runs PyTorch
    single-threaded: these small convolutions were 11x slower with 2 threads on a loaded 2-core
    machine (OpenMP threads spinning)."""
    from jwmsim.gaussians.render import one_torch_thread

    def prev(a: np.ndarray | None, c: int) -> np.ndarray | None:
        return None if a is None else a[c]

    with one_torch_thread():
        per = [
            image_scores(pred[c], target[c], alpha[c], prev(prev_pred, c), prev(prev_target, c))
            for c in range(pred.shape[0])
        ]
    return {m: np.array([s[m] for s in per], np.float64) for m in METRICS}


def mean_scores(rows: list[dict[str, np.ndarray]]) -> dict[str, float]:
    """NaN-ignoring means of stacked score rows (infinite PSNR of identical images is capped at
    60 dB so that it does not swamp a mean), the blur measures as ratios of their means, and the
    pooled PSNR of each mask with the share of the pixels it holds (module docstring)."""
    out: dict[str, float] = {}
    for m in PIXEL_METRICS:
        vals = np.concatenate([np.ravel(r[m]) for r in rows]) if rows else np.zeros(0)
        if m.startswith("psnr"):
            vals = np.minimum(vals, 60.0)
        finite = vals[np.isfinite(vals)]
        out[m] = round(float(finite.mean()), 4) if len(finite) else float("nan")
    for m in RATIOS:
        gen = np.concatenate([np.ravel(r[f"{m}_gen"]) for r in rows]) if rows else np.zeros(0)
        true = np.concatenate([np.ravel(r[f"{m}_true"]) for r in rows]) if rows else np.zeros(0)
        v = ratio_of_means(gen, true)
        out[m] = round(v, 4) if np.isfinite(v) else float("nan")
    total = {k: float(sum(np.sum(r[k]) for r in rows if k in r)) for k in (*SUMS, "n_pixels")}
    for mask in MASKS:
        se, n = total[f"se_{mask}"], total[f"n_{mask}"]
        out[f"psnr_{mask}_pooled"] = pooled_psnr(se, n)
        out[f"{mask}_share"] = round(n / total["n_pixels"], 5) if total["n_pixels"] else float("nan")
    out["images"] = int(sum(np.size(r["psnr"]) for r in rows))
    return out


def pooled_psnr(squared_error: float, pixels: float, channels: int = 3) -> float:
    """``-10 log10(squared_error / (channels pixels))`` [dB] for values in [0, 1]; NaN without a
    pixel, capped at 60 dB like the per-image means."""
    if pixels <= 0:
        return float("nan")
    mse = squared_error / (channels * pixels)
    return round(60.0 if mse <= 1e-6 else -10.0 * float(np.log10(mse)), 4)
