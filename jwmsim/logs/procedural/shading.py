"""Procedural textures, lighting and sky for the ray-cast renderer, compiled with numba.

Colours are linear RGB; :func:`to_srgb8` applies exposure, a filmic tone curve and the sRGB
transfer function. Textures are functions of the world hit position (window grids on facades,
paving tiles, asphalt grain, grass/dirt patches), so they stay fixed to the geometry from every
viewpoint. The per-hit work is one fused numba loop (``cache=True``: compiled once per install);
it replaced a numpy version that cost about 4x more.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from jwmsim.logs.procedural import materials as mat

_F32 = np.float32


def dot(v: np.ndarray, u: np.ndarray) -> np.ndarray:
    """``[N]`` dot products of rows of ``v`` ``[N, 3]`` with ``u`` ``[3]``, without BLAS (whose
    threads only add overhead here and oversubscribe the render workers)."""
    return v[:, 0] * u[0] + v[:, 1] * u[1] + v[:, 2] * u[2]


def rotate(v: np.ndarray, rotation: np.ndarray) -> np.ndarray:
    """``[N, 3]`` rows of ``v`` rotated by ``rotation`` ``[3, 3]`` (``v @ R.T``), without BLAS."""
    return v[:, 0:1] * rotation[:, 0] + v[:, 1:2] * rotation[:, 1] + v[:, 2:3] * rotation[:, 2]


@nb.njit(cache=True)
def _hash(ix: float, iy: float, seed: int) -> float:
    """Integer lattice point -> [0, 1) pseudo-random value (deterministic)."""
    h = (np.int64(ix) * 374761393 + np.int64(iy) * 668265263 + seed * 1442695041) & 0xFFFFFFFF
    h = ((h ^ (h >> 13)) * 1274126177) & 0xFFFFFFFF
    h = h ^ (h >> 16)
    return (h & 0xFFFF) / 65536.0


@nb.njit(cache=True)
def value_noise(x: float, y: float, scale: float, seed: int) -> float:
    """Smooth value noise in [0, 1] at ``(x, y)`` [m] with feature size ``scale`` [m]."""
    xs, ys = x / scale, y / scale
    x0, y0 = math.floor(xs), math.floor(ys)
    fx, fy = xs - x0, ys - y0
    fx, fy = fx * fx * (3 - 2 * fx), fy * fy * (3 - 2 * fy)
    a, b = _hash(x0, y0, seed), _hash(x0 + 1, y0, seed)
    c, d = _hash(x0, y0 + 1, seed), _hash(x0 + 1, y0 + 1, seed)
    return (a + (b - a) * fx) * (1 - fy) + (c + (d - c) * fx) * fy


@nb.njit(cache=True)
def _sky(dx: float, dy: float, dz: float, light: np.ndarray, cloudiness: float, out: np.ndarray) -> None:
    """Sky radiance for a unit direction into ``out[3]``. ``light`` rows: sun, sun colour, zenith,
    horizon."""
    if dz < 0:
        for c in range(3):
            out[c] = light[3, c] * 0.9
        return
    up = math.sqrt(min(dz, 1.0))
    cos_sun = dx * light[0, 0] + dy * light[0, 1] + dz * light[0, 2]
    glow = 0.03 * max(cos_sun, 0.0) ** 12 + (4.0 if cos_sun > 0.9996 else 0.0)
    cover = 0.0
    if cloudiness > 0:
        zc = max(dz, 0.03)
        cx, cy = dx / zc * 300, dy / zc * 300
        cn = 0.6 * value_noise(cx, cy, 220.0, 12) + 0.4 * value_noise(cx, cy, 70.0, 13)
        cover = min(max((cn - (1.0 - 0.55 * cloudiness)) * 4.0, 0.0), 1.0) * min(max(dz * 8, 0.0), 1.0)
    cloud = (0.85, 0.86, 0.9)
    for c in range(3):
        col = light[3, c] + (light[2, c] - light[3, c]) * up + light[1, c] * glow
        out[c] = col * (1 - cover) + cloud[c] * cover


@nb.njit(cache=True)
def sky_radiance(dirs: np.ndarray, light: np.ndarray, cloudiness: float) -> np.ndarray:
    """``[K, 3]`` sky radiance for unit world directions ``dirs`` ``[K, 3]``."""
    out = np.empty((dirs.shape[0], 3), np.float32)
    tmp = np.empty(3, np.float64)
    for i in range(dirs.shape[0]):
        _sky(dirs[i, 0], dirs[i, 1], dirs[i, 2], light, cloudiness, tmp)
        out[i, 0], out[i, 1], out[i, 2] = tmp[0], tmp[1], tmp[2]
    return out


@nb.njit(cache=True)
def _albedo(
    p: np.ndarray,
    n: np.ndarray,
    color: np.ndarray,
    color2: np.ndarray,
    material: int,
    prm: np.ndarray,
    out: np.ndarray,
) -> float:
    """Albedo of one hit into ``out[3]``; returns the specular strength (Fresnel F0, 0 = matte)."""
    x, y, z = p[0], p[1], p[2]
    g = 1.0
    spec = 0.0
    for c in range(3):
        out[c] = color[c]
    if material == mat.ASPHALT:
        g = 0.78 + 0.3 * value_noise(x, y, 0.12, 1) + 0.25 * value_noise(x, y, 4.0, 2)
    elif material == mat.SIDEWALK:
        tu, tv = x / 1.2, y / 1.2
        grout = min(abs(tu - round(tu)), abs(tv - round(tv))) < 0.025
        g = (0.85 + 0.25 * value_noise(x, y, 1.5, 4)) * (0.7 if grout else 1.0)
    elif material == mat.TERRAIN:
        patch = min(max((value_noise(x, y, 9.0, 5) - 0.35) * 3.0, 0.0), 1.0)
        gg = 0.75 + 0.5 * value_noise(x, y, 0.4, 6)
        gd = 0.8 + 0.3 * value_noise(x, y, 1.1, 8)
        grass = (0.09, 0.16, 0.045)
        dirt = (0.2, 0.16, 0.11)
        for c in range(3):
            out[c] = grass[c] * gg * patch + dirt[c] * gd * (1 - patch)
    elif material == mat.FOLIAGE:
        g = 0.5 + 0.9 * value_noise(x + 0.7 * z, y - 1.3 * z, 0.35, 9)
    elif material == mat.MARKING:
        g = 0.8 + 0.2 * value_noise(x, y, 0.25, 10)
    elif material == mat.PLAIN:
        g = 0.92 + 0.16 * value_noise(x + z, y - z, 0.5, 11)
    elif material == mat.PAINT:
        spec = 0.05
    elif material == mat.GLASS:
        spec = 0.09
    elif material == mat.FACADE:
        spacing, floor_h, style, phase = prm[0], prm[1], prm[2], prm[3]
        tx, ty = -n[1], n[0]
        tn = math.sqrt(tx * tx + ty * ty)
        if tn > 1e-6:
            tx, ty = tx / tn, ty / tn
        along = x * tx + y * ty
        u = along / spacing + phase
        v = z / floor_h
        fu, fv = u - math.floor(u), v - math.floor(v)
        if style == 0:
            lo_u, lo_v, hi_v = 0.22, 0.28, 0.78
        elif style == 1:
            lo_u, lo_v, hi_v = 0.3, 0.15, 0.85
        elif style == 2:
            lo_u, lo_v, hi_v = 0.04, 0.35, 0.8
        else:
            lo_u, lo_v, hi_v = 0.03, 0.05, 0.95
        upper = lo_u < fu < 1 - lo_u and lo_v < fv < hi_v and v >= 1.0
        shop = style < 3 and v < 0.72 and z > 0.25 and 0.06 < fu < 0.94
        if (upper or shop) and abs(n[2]) < 0.5:
            cell = _hash(math.floor(u), math.floor(v), 7)
            if cell > 0.93 and v >= 1:
                out[0], out[1], out[2] = 0.55, 0.45, 0.3
            else:
                for c in range(3):
                    out[c] = color2[c] * (0.6 + 0.8 * cell)
            spec = 0.12
        elif style < 3 and 0.72 <= v < 0.9:  # sign band above the shop windows
            for c in range(3):
                out[c] = color[c] * 0.55
        else:
            g = 0.88 + 0.24 * value_noise(along, z, 0.8, 3)
    if g != 1.0:
        for c in range(3):
            out[c] *= g
    return spec


@nb.njit(cache=True)
def shade_hits(
    p: np.ndarray,
    n: np.ndarray,
    view: np.ndarray,
    t: np.ndarray,
    color: np.ndarray,
    color2: np.ndarray,
    material: np.ndarray,
    params: np.ndarray,
    lit: np.ndarray,
    light: np.ndarray,
    cloudiness: float,
    fog_distance: float,
) -> np.ndarray:
    """Radiance ``[M, 3]`` of ray hits: Lambert sun (``lit`` = 1 unshadowed, 0 shadowed) +
    hemispheric sky ambient + Fresnel-weighted sky reflection and a sun highlight on glossy
    materials, then haze by distance ``t`` [m].

    Args:
        p / n / view: ``[M, 3]`` hit points [m], unit normals facing the viewer, unit ray directions.
        t: ``[M]`` hit distances [m]. color / color2 / material / params: per-hit face attributes
            (see :class:`.meshes.MeshPart`). lit: ``[M]`` sun visibility.
        light: ``[4, 3]`` sun direction, sun colour, sky zenith, sky horizon.
    """
    m_count = p.shape[0]
    out = np.empty((m_count, 3), np.float32)
    base = np.empty(3, np.float64)
    env = np.empty(3, np.float64)
    sky_avg = 0.5 * (light[2] + light[3])
    bounce = np.array([0.16, 0.15, 0.13])
    for i in range(m_count):
        spec = _albedo(p[i], n[i], color[i], color2[i], material[i], params[i], base)
        nx, ny, nz = n[i, 0], n[i, 1], n[i, 2]
        if material[i] == mat.EMISSIVE:
            col0, col1, col2 = base[0] * 1.6, base[1] * 1.6, base[2] * 1.6
        else:
            ndl = max(nx * light[0, 0] + ny * light[0, 1] + nz * light[0, 2], 0.0) * lit[i]
            w = 0.5 + 0.5 * nz
            col0 = base[0] * (light[1, 0] * ndl + 0.75 * (sky_avg[0] * w + bounce[0] * (1 - w)))
            col1 = base[1] * (light[1, 1] * ndl + 0.75 * (sky_avg[1] * w + bounce[1] * (1 - w)))
            col2 = base[2] * (light[1, 2] * ndl + 0.75 * (sky_avg[2] * w + bounce[2] * (1 - w)))
            if spec > 0:
                vx, vy, vz = view[i, 0], view[i, 1], view[i, 2]
                vn = vx * nx + vy * ny + vz * nz
                cos = min(max(-vn, 0.0), 1.0)
                rx, ry, rz = vx - 2 * vn * nx, vy - 2 * vn * ny, vz - 2 * vn * nz
                fres = spec + (1 - spec) * (1 - cos) ** 5
                if rz < 0:
                    env[0], env[1], env[2] = bounce[0], bounce[1], bounce[2]
                else:
                    _sky(rx, ry, rz, light, 0.0, env)
                hl = min(max(rx * light[0, 0] + ry * light[0, 1] + rz * light[0, 2], 0.0), 1.0) ** 80
                hl *= lit[i] * 2.0
                col0 = col0 * (1 - fres) + fres * env[0] + hl * light[1, 0]
                col1 = col1 * (1 - fres) + fres * env[1] + hl * light[1, 1]
                col2 = col2 * (1 - fres) + fres * env[2] + hl * light[1, 2]
        haze = 1.0 - math.exp(-t[i] / fog_distance)
        out[i, 0] = col0 * (1 - haze) + light[3, 0] * haze
        out[i, 1] = col1 * (1 - haze) + light[3, 1] * haze
        out[i, 2] = col2 * (1 - haze) + light[3, 2] * haze
    return out


def warm_up() -> None:
    """Compile (or load from numba's cache) the kernels now, e.g. before forking render workers so
    that they inherit the compiled code instead of each compiling it."""
    light = np.array([[0.0, 0.6, 0.8], [3.0, 2.8, 2.6], [0.2, 0.3, 0.7], [0.6, 0.7, 0.8]])
    one = np.ones((1, 3), np.float32)
    sky_radiance(one / np.sqrt(3), light, 0.5)
    for material in range(mat.NUM_MATERIALS):
        shade_hits(
            one,
            one / np.sqrt(3),
            -one / np.sqrt(3),
            np.ones(1, np.float32),
            one,
            one,
            np.array([material], np.int8),
            np.ones((1, 4), np.float32),
            np.ones(1, np.float32),
            light,
            0.5,
            900.0,
        )


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
