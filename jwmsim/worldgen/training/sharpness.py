"""Measures that do not reward blur: generated images against the true ones, as ratios (1.0 = like
the true image). PSNR and SSIM favour the posterior mean, a blur, wherever a pixel is uncertain;
these three fall when an image or a video is blurred or frozen.

Every measure works on the luminance ``Y = 0.299 R + 0.587 G + 0.114 B`` of ``[H, W, 3]`` uint8
images scaled to [0, 1], over a region (a boolean ``[H, W]`` mask: the whole image, the pixels the
skeleton covers or those it does not). Each is a ratio of two region means, generated / true:

* **sharpness ratio** = ``mean_R |grad Y_gen| / mean_R |grad Y_true|``, with ``|grad Y| =
  sqrt(Gx^2 + Gy^2)`` from the 3x3 Sobel kernels (``Gx = [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]``,
  ``Gy = Gx^T``; border pixels left out). Below 1: blurrier than the real image; above 1: harsher.
* **high-frequency energy ratio** = ``mean_R (HP Y_gen)^2 / mean_R (HP Y_true)^2``, where ``HP``
  keeps the spectral components above :data:`HF_CUTOFF` = 0.25 cycles per pixel (half the
  Nyquist frequency) in radial frequency ``sqrt(fx^2 + fy^2)``: the image is mirrored to ``2H x
  2W`` (no wrap-around edges), Fourier-transformed, the components at or below the cutoff are
  zeroed and the inverse transform is cropped back to ``H x W``. Over the whole image this is, by
  Parseval, the spectral energy above the cutoff per pixel.
* **temporal flicker ratio** = ``mean_R |Y_gen,t - Y_gen,t-1| / mean_R |Y_true,t - Y_true,t-1|``,
  the mean absolute frame-to-frame change of the generated video against the true video's (the
  region of step ``t``). Below 1: frozen or smoothed over time (copy-last scores 0); above 1:
  flicker.

Per image the two region means of each measure are kept apart (``*_gen``, ``*_true``) and a set of
images is scored by the ratio of their means (:func:`ratio_of_means`), so that near-flat images
cannot swamp the score. A region without pixels gives NaN (left out of the means).
"""

from __future__ import annotations

import cv2
import numpy as np

HF_CUTOFF = 0.25  # [cycles / pixel]: spectral components above it count as high frequency
LUMA = np.array([0.299, 0.587, 0.114], np.float32)
MEASURES = ("sharpness", "hf_energy", "flicker")  # the ratios, in report order
REGIONS = ("", "_uncovered", "_covered")  # whole image, alpha < 0.5, alpha >= 0.5


def luminance(img: np.ndarray) -> np.ndarray:
    """``[H, W, 3]`` uint8 (or float in [0, 1]) -> ``[H, W]`` float32 luminance in [0, 1]."""
    x = np.asarray(img, np.float32)
    if np.asarray(img).dtype == np.uint8:
        x = x / 255.0
    return x @ LUMA


def gradient_magnitude(y: np.ndarray) -> np.ndarray:
    """``[H, W]`` luminance -> ``[H, W]`` Sobel gradient magnitude; the 1-pixel border is NaN."""
    gx = cv2.Sobel(y, cv2.CV_32F, 1, 0, ksize=3, borderType=cv2.BORDER_REFLECT)
    gy = cv2.Sobel(y, cv2.CV_32F, 0, 1, ksize=3, borderType=cv2.BORDER_REFLECT)
    g = np.sqrt(gx * gx + gy * gy)
    g[0, :] = g[-1, :] = g[:, 0] = g[:, -1] = np.nan
    return g


def high_pass(y: np.ndarray, cutoff: float = HF_CUTOFF) -> np.ndarray:
    """``[H, W]`` luminance -> ``[H, W]``: its components above ``cutoff`` cycles/pixel (mirrored
    to ``2H x 2W`` before the transform, cropped after)."""
    h, w = y.shape
    m = np.concatenate([y, y[::-1]], 0)
    m = np.concatenate([m, m[:, ::-1]], 1)
    fy = np.fft.fftfreq(2 * h)[:, None]
    fx = np.fft.rfftfreq(2 * w)[None, :]
    spec = np.fft.rfft2(m)
    spec[np.sqrt(fx * fx + fy * fy) <= cutoff] = 0.0
    return np.fft.irfft2(spec, s=m.shape)[:h, :w].astype(np.float32)


def _region_mean(v: np.ndarray, mask: np.ndarray) -> float:
    sel = v[mask & np.isfinite(v)]
    return float(sel.mean()) if sel.size else float("nan")


def image_measures(
    pred: np.ndarray,
    target: np.ndarray,
    masks: dict[str, np.ndarray],
    prev_pred: np.ndarray | None = None,
    prev_target: np.ndarray | None = None,
) -> dict[str, float]:
    """The per-image region means of one generated image against its true image.

    Args:
        pred, target: ``[H, W, 3]`` uint8.
        masks: region suffix (``""``, ``"_uncovered"``, ``"_covered"``) -> ``[H, W]`` bool.
        prev_pred, prev_target: the previous step's images of the same camera (None: no flicker
            for this step; it is NaN).

    Returns:
        ``{measure}{region}_gen`` and ``{measure}{region}_true`` for every measure and region.
    """
    yp, yt = luminance(pred), luminance(target)
    per = {
        "sharpness": (gradient_magnitude(yp), gradient_magnitude(yt)),
        "hf_energy": (high_pass(yp) ** 2, high_pass(yt) ** 2),
    }
    if prev_pred is not None and prev_target is not None:
        per["flicker"] = (np.abs(yp - luminance(prev_pred)), np.abs(yt - luminance(prev_target)))
    out: dict[str, float] = {}
    for m in MEASURES:
        for region, mask in masks.items():
            if m in per:
                out[f"{m}{region}_gen"] = _region_mean(per[m][0], mask)
                out[f"{m}{region}_true"] = _region_mean(per[m][1], mask)
            else:
                out[f"{m}{region}_gen"] = out[f"{m}{region}_true"] = float("nan")
    return out


def raw_keys() -> tuple[str, ...]:
    """Every per-image key :func:`image_measures` returns."""
    return tuple(f"{m}{r}_{w}" for m in MEASURES for r in REGIONS for w in ("gen", "true"))


def ratio_keys() -> tuple[str, ...]:
    """The ratio names: ``sharpness``, ``sharpness_uncovered``, ... ``flicker_covered``."""
    return tuple(f"{m}{r}" for m in MEASURES for r in REGIONS)


def ratio_of_means(gen: np.ndarray, true: np.ndarray) -> float:
    """``mean(gen) / mean(true)`` over the images where both are finite (NaN if none, or if the
    true images have no gradient / energy / change at all)."""
    gen, true = np.ravel(gen).astype(np.float64), np.ravel(true).astype(np.float64)
    ok = np.isfinite(gen) & np.isfinite(true)
    if not ok.any() or true[ok].mean() <= 0.0:
        return float("nan")
    return float(gen[ok].mean() / true[ok].mean())
