"""Procedural textures, lighting and sky for the ray-cast renderer (vectorised numpy).

Colours are linear RGB; :func:`to_srgb8` applies exposure, a filmic tone curve and the sRGB
transfer function. Textures are functions of the world hit position (window grids on facades,
paving tiles, asphalt grain, grass/dirt patches), so they stay fixed to the geometry from every
viewpoint.
"""

from __future__ import annotations

import numpy as np

from jwmsim.logs.procedural import materials as mat


def dot(v: np.ndarray, u: np.ndarray) -> np.ndarray:
    """``[N]`` dot products of rows of ``v`` ``[N, 3]`` with ``u`` ``[3]``, without BLAS (whose
    threads only add overhead here and oversubscribe the render workers)."""
    return v[:, 0] * u[0] + v[:, 1] * u[1] + v[:, 2] * u[2]


def rotate(v: np.ndarray, rotation: np.ndarray) -> np.ndarray:
    """``[N, 3]`` rows of ``v`` rotated by ``rotation`` ``[3, 3]`` (``v @ R.T``), without BLAS."""
    return v[:, 0:1] * rotation[:, 0] + v[:, 1:2] * rotation[:, 1] + v[:, 2:3] * rotation[:, 2]


def _hash(ix: np.ndarray, iy: np.ndarray, seed: int) -> np.ndarray:
    """Integer lattice -> [0, 1) pseudo-random values (deterministic)."""
    h = (ix.astype(np.int64) * 374761393 + iy.astype(np.int64) * 668265263 + seed * 1442695041) & 0xFFFFFFFF
    h = ((h ^ (h >> 13)) * 1274126177) & 0xFFFFFFFF
    h = h ^ (h >> 16)
    return (h & 0xFFFF).astype(np.float32) / 65536.0


def value_noise(x: np.ndarray, y: np.ndarray, scale: float, seed: int = 0) -> np.ndarray:
    """Smooth value noise in [0, 1] of the 2D coordinates ``x, y`` [m] with feature size ``scale`` [m]."""
    xs, ys = x / scale, y / scale
    x0, y0 = np.floor(xs), np.floor(ys)
    fx, fy = xs - x0, ys - y0
    fx, fy = fx * fx * (3 - 2 * fx), fy * fy * (3 - 2 * fy)
    a, b = _hash(x0, y0, seed), _hash(x0 + 1, y0, seed)
    c, d = _hash(x0, y0 + 1, seed), _hash(x0 + 1, y0 + 1, seed)
    return (a + (b - a) * fx) * (1 - fy) + (c + (d - c) * fx) * fy


def _facade(
    p: np.ndarray, n: np.ndarray, base: np.ndarray, window: np.ndarray, params: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Albedo of facade hits and a [M] mask of window glass (reflective)."""
    spacing, floor_h, style, phase = params[:, 0], params[:, 1], params[:, 2], params[:, 3]
    t = np.stack([-n[:, 1], n[:, 0]], -1)
    t /= np.maximum(np.linalg.norm(t, axis=1, keepdims=True), 1e-6)
    along = (p[:, :2] * t).sum(1)
    u = along / spacing + phase
    v = p[:, 2] / floor_h
    fu, fv = u - np.floor(u), v - np.floor(v)
    lo_u = np.select([style == 0, style == 1, style == 2], [0.22, 0.3, 0.04], 0.03)
    lo_v = np.select([style == 0, style == 1, style == 2], [0.28, 0.15, 0.35], 0.05)
    hi_v = np.select([style == 0, style == 1, style == 2], [0.78, 0.85, 0.8], 0.95)
    upper = (fu > lo_u) & (fu < 1 - lo_u) & (fv > lo_v) & (fv < hi_v) & (v >= 1.0)
    shop = (style < 3) & (v < 1.0) & (p[:, 2] > 0.25) & (v < 0.72) & (fu > 0.06) & (fu < 0.94)
    glass = (upper | shop) & (np.abs(n[:, 2]) < 0.5)
    cell = _hash(np.floor(u), np.floor(v), 7)
    wall = base * (0.88 + 0.24 * value_noise(along, p[:, 2], 0.8, 3)[:, None])
    band = (style < 3) & (v >= 0.72) & (v < 0.9)  # sign band above the shop windows
    wall = np.where(band[:, None], base * 0.55, wall)
    glass_col = window * (0.6 + 0.8 * cell[:, None])
    lit = (cell > 0.93)[:, None] & (v >= 1)[:, None]
    glass_col = np.where(lit, np.array([0.55, 0.45, 0.3], np.float32), glass_col)
    return np.where(glass[:, None], glass_col, wall), glass


def albedo(
    p: np.ndarray,
    n: np.ndarray,
    color: np.ndarray,
    color2: np.ndarray,
    material: np.ndarray,
    params: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-hit albedo ``[M, 3]`` and specular strength ``[M]`` (Fresnel F0; 0 = matte).

    Args:
        p: ``[M, 3]`` world hit points [m]. n: ``[M, 3]`` unit normals facing the viewer.
        color / color2 / material / params: per-hit face attributes (see :class:`.meshes.MeshPart`).
    """
    out = color.astype(np.float32).copy()
    p = p.astype(np.float32, copy=False)
    spec = np.zeros(len(p), np.float32)
    x, y, z = p[:, 0], p[:, 1], p[:, 2]
    m = material == mat.ASPHALT
    if m.any():
        g = 0.78 + 0.3 * value_noise(x[m], y[m], 0.12, 1) + 0.25 * value_noise(x[m], y[m], 4.0, 2)
        out[m] *= g[:, None]
    m = material == mat.SIDEWALK
    if m.any():
        tu, tv = x[m] / 1.2, y[m] / 1.2
        grout = np.minimum(np.abs(tu - np.round(tu)), np.abs(tv - np.round(tv))) < 0.025
        g = (0.85 + 0.25 * value_noise(x[m], y[m], 1.5, 4)) * np.where(grout, 0.7, 1.0)
        out[m] *= g[:, None]
    m = material == mat.TERRAIN
    if m.any():
        patch = np.clip((value_noise(x[m], y[m], 9.0, 5) - 0.35) * 3.0, 0, 1)[:, None]
        grass = (
            np.array([0.09, 0.16, 0.045], np.float32)
            * (0.75 + 0.5 * value_noise(x[m], y[m], 0.4, 6))[:, None]
        )
        dirt = (
            np.array([0.2, 0.16, 0.11], np.float32) * (0.8 + 0.3 * value_noise(x[m], y[m], 1.1, 8))[:, None]
        )
        out[m] = grass * patch + dirt * (1 - patch)
    m = material == mat.FOLIAGE
    if m.any():
        g = 0.5 + 0.9 * value_noise(x[m] + 0.7 * z[m], y[m] - 1.3 * z[m], 0.35, 9)
        out[m] *= g[:, None]
    m = material == mat.MARKING
    if m.any():
        out[m] *= (0.8 + 0.2 * value_noise(x[m], y[m], 0.25, 10))[:, None]
    m = material == mat.FACADE
    if m.any():
        col, glass = _facade(p[m], n[m], out[m], color2[m], params[m])
        out[m] = col
        spec[np.flatnonzero(m)[glass]] = 0.12
    m = material == mat.PLAIN
    if m.any():
        out[m] *= (0.92 + 0.16 * value_noise(x[m] + z[m], y[m] - z[m], 0.5, 11))[:, None]
    spec[material == mat.PAINT] = 0.05
    spec[material == mat.GLASS] = 0.09
    return out, spec


def sky(
    dirs: np.ndarray,
    sun: np.ndarray,
    sun_color: np.ndarray,
    zenith: np.ndarray,
    horizon: np.ndarray,
    cloudiness: float,
) -> np.ndarray:
    """Sky radiance ``[M, 3]`` for unit world directions ``dirs`` ``[M, 3]``."""
    up = np.clip(dirs[:, 2], 0.0, 1.0)[:, None]
    col = horizon + (zenith - horizon) * np.sqrt(up)
    cos_sun = np.clip(dot(dirs, sun), -1, 1)[:, None]
    col = col + sun_color * (0.03 * np.clip(cos_sun, 0, 1) ** 12 + 4.0 * (cos_sun > 0.9996))
    if cloudiness > 0:
        zc = np.maximum(dirs[:, 2], 0.03)
        cx, cy = dirs[:, 0] / zc * 300, dirs[:, 1] / zc * 300
        c = 0.6 * value_noise(cx, cy, 220.0, 12) + 0.4 * value_noise(cx, cy, 70.0, 13)
        cover = np.clip((c - (1.0 - 0.55 * cloudiness)) * 4.0, 0, 1) * np.clip(dirs[:, 2] * 8, 0, 1)
        col = col * (1 - cover[:, None]) + np.array([0.85, 0.86, 0.9], np.float32) * cover[:, None]
    below = dirs[:, 2] < 0
    col[below] = horizon * 0.9
    return col


def shade(
    p: np.ndarray,
    n: np.ndarray,
    view: np.ndarray,
    base: np.ndarray,
    spec: np.ndarray,
    material: np.ndarray,
    lit: np.ndarray,
    sun: np.ndarray,
    sun_color: np.ndarray,
    zenith: np.ndarray,
    horizon: np.ndarray,
    cloudiness: float,
) -> np.ndarray:
    """Radiance ``[M, 3]``: Lambert sun (``lit`` ``[M]`` = 1 unshadowed, 0 shadowed) + hemispheric
    sky ambient + Fresnel-weighted sky reflection and a sun highlight on glossy materials."""
    ndl = np.clip(dot(n, sun), 0, None) * lit
    sky_avg = 0.5 * (zenith + horizon)
    bounce = np.array([0.16, 0.15, 0.13], np.float32)
    w = (0.5 + 0.5 * n[:, 2])[:, None]
    ambient = 0.75 * (sky_avg * w + bounce * (1 - w))
    col = base * (sun_color * ndl[:, None] + ambient)
    glossy = spec > 0
    if glossy.any():
        v, nn = view[glossy], n[glossy]
        cos = np.clip(-(v * nn).sum(1), 0, 1)
        r = v - 2 * (v * nn).sum(1, keepdims=True) * nn
        fres = spec[glossy] + (1 - spec[glossy]) * (1 - cos) ** 5
        env = sky(r, sun, sun_color, zenith, horizon, 0.0)
        env[r[:, 2] < 0] = bounce
        highlight = np.clip(dot(r, sun), 0, 1) ** 80 * lit[glossy] * 2.0
        col[glossy] = col[glossy] * (1 - fres[:, None]) + fres[:, None] * env + highlight[:, None] * sun_color
    emissive = material == mat.EMISSIVE
    col[emissive] = base[emissive] * 1.6
    return col


def _tone_lut(exposure: float, size: int = 8192, max_radiance: float = 16.0) -> np.ndarray:
    x = np.linspace(0.0, max_radiance, size) * exposure
    y = np.clip((x * (2.51 * x + 0.03)) / (x * (2.43 * x + 0.59) + 0.14), 0, 1)
    srgb = np.where(y <= 0.0031308, 12.92 * y, 1.055 * np.power(y, 1 / 2.4) - 0.055)
    return np.round(srgb * 255).astype(np.uint8)


_LUT_MAX = 16.0
_LUT = {0.85: _tone_lut(0.85, max_radiance=_LUT_MAX)}


def to_srgb8(radiance: np.ndarray, exposure: float = 0.85) -> np.ndarray:
    """Linear radiance ``[..., 3]`` -> uint8 sRGB through an ACES-like filmic curve (table lookup,
    radiance sampled every 16/8191)."""
    lut = _LUT.get(exposure)
    if lut is None:
        lut = _LUT[exposure] = _tone_lut(exposure, max_radiance=_LUT_MAX)
    idx = np.clip(radiance * ((len(lut) - 1) / _LUT_MAX) + 0.5, 0, len(lut) - 1).astype(np.int32)
    return lut[idx]
