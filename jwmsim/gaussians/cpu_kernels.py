"""numba kernels of the CPU Gaussian rasterizer: projection, tile binning, and front-to-back alpha
compositing with its exact backward pass.

Semantics match :func:`jwmsim.gaussians.projection.project_gaussians` and gsplat's classic 3DGS
rasterizer: ``alpha = min(0.999, o * exp(-sigma))``, skipped when ``sigma < 0`` or
``alpha < 1/255``; a pixel stops *before* the Gaussian that would bring its transmittance to
``<= 1e-4``. Work is split over 16x16 pixel tiles (threads take tiles of all cameras); inside a tile
the loop runs over the tile's depth-sorted Gaussians and, for each, only over the pixels of its
screen box, so the cost follows the covered area rather than ``pixels x Gaussians``.

All arrays are numpy; shapes use V cameras, N Gaussians, M tile intersections, H x W pixels.
Kernels are compiled on first use and cached on disk (``cache=True``).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

TILE = 16
ALPHA_THRESHOLD = 1.0 / 255.0
MAX_ALPHA = 0.999
T_EPS = 1e-4
MAX_EXTENT_SIGMA = 3.33


@njit(parallel=True, cache=True)
def project(
    means, quats, scales, opacities, viewmats, ks, width, height, near, far, eps2d
):  # pragma: no cover
    """Fast forward-only twin of ``projection.project_gaussians``.

    Returns means2d ``[V, N, 2]``, conics ``[V, N, 3]``, depths ``[V, N]``, radii ``[V, N, 2]`` int32.
    """
    n = means.shape[0]
    v_count = viewmats.shape[0]
    dt = means.dtype
    means2d = np.zeros((v_count, n, 2), dt)
    conics = np.zeros((v_count, n, 3), dt)
    depths = np.zeros((v_count, n), dt)
    radii = np.zeros((v_count, n, 2), np.int32)
    for job in prange(v_count * n):
        v = job // n
        i = job - v * n
        vm = viewmats[v]
        mx, my, mz = means[i, 0], means[i, 1], means[i, 2]
        x = vm[0, 0] * mx + vm[0, 1] * my + vm[0, 2] * mz + vm[0, 3]
        y = vm[1, 0] * mx + vm[1, 1] * my + vm[1, 2] * mz + vm[1, 3]
        z = vm[2, 0] * mx + vm[2, 1] * my + vm[2, 2] * mz + vm[2, 3]
        depths[v, i] = z
        op = opacities[i]
        if z <= near or z >= far or op < ALPHA_THRESHOLD:
            continue
        fx, fy, cx, cy = ks[v, 0, 0], ks[v, 1, 1], ks[v, 0, 2], ks[v, 1, 2]
        rz = 1.0 / z
        u = fx * x * rz + cx
        w = fy * y * rz + cy
        means2d[v, i, 0] = u
        means2d[v, i, 1] = w
        # world covariance R S S^T R^T, then camera covariance W Sigma W^T
        qw, qx, qy, qz = quats[i, 0], quats[i, 1], quats[i, 2], quats[i, 3]
        qn = math.sqrt(qw * qw + qx * qx + qy * qy + qz * qz)
        qn = max(qn, 1e-12)
        qw, qx, qy, qz = qw / qn, qx / qn, qy / qn, qz / qn
        r = np.empty((3, 3), dt)
        r[0, 0] = 1 - 2 * (qy * qy + qz * qz)
        r[0, 1] = 2 * (qx * qy - qw * qz)
        r[0, 2] = 2 * (qx * qz + qw * qy)
        r[1, 0] = 2 * (qx * qy + qw * qz)
        r[1, 1] = 1 - 2 * (qx * qx + qz * qz)
        r[1, 2] = 2 * (qy * qz - qw * qx)
        r[2, 0] = 2 * (qx * qz - qw * qy)
        r[2, 1] = 2 * (qy * qz + qw * qx)
        r[2, 2] = 1 - 2 * (qx * qx + qy * qy)
        # m = W R S (camera rotation times world rotation times scales)
        m = np.empty((3, 3), dt)
        for a in range(3):
            for b in range(3):
                m[a, b] = (vm[a, 0] * r[0, b] + vm[a, 1] * r[1, b] + vm[a, 2] * r[2, b]) * scales[i, b]
        tan_x = 0.5 * width / fx
        tan_y = 0.5 * height / fy
        lim_xp = (width - (cx + 0.5)) / fx + 0.3 * tan_x
        lim_xn = (cx + 0.5) / fx + 0.3 * tan_x
        lim_yp = (height - (cy + 0.5)) / fy + 0.3 * tan_y
        lim_yn = (cy + 0.5) / fy + 0.3 * tan_y
        tx = z * min(lim_xp, max(-lim_xn, x * rz))
        ty = z * min(lim_yp, max(-lim_yn, y * rz))
        j00, j02 = fx * rz, -fx * tx * rz * rz
        j11, j12 = fy * rz, -fy * ty * rz * rz
        # rows of J m: [2, 3]; cov2d = (J m)(J m)^T
        a0 = j00 * m[0, 0] + j02 * m[2, 0]
        a1 = j00 * m[0, 1] + j02 * m[2, 1]
        a2 = j00 * m[0, 2] + j02 * m[2, 2]
        b0 = j11 * m[1, 0] + j12 * m[2, 0]
        b1 = j11 * m[1, 1] + j12 * m[2, 1]
        b2 = j11 * m[1, 2] + j12 * m[2, 2]
        c00 = a0 * a0 + a1 * a1 + a2 * a2 + eps2d
        c11 = b0 * b0 + b1 * b1 + b2 * b2 + eps2d
        c01 = a0 * b0 + a1 * b1 + a2 * b2
        det = c00 * c11 - c01 * c01
        if det <= 0:
            continue
        conics[v, i, 0] = c11 / det
        conics[v, i, 1] = -c01 / det
        conics[v, i, 2] = c00 / det
        extent = min(MAX_EXTENT_SIGMA, math.sqrt(2.0 * math.log(max(op / ALPHA_THRESHOLD, 1.0))))
        rx = math.ceil(extent * math.sqrt(c00))
        ry = math.ceil(extent * math.sqrt(c11))
        if u + 0.5 + rx <= 0 or u + 0.5 - rx >= width or w + 0.5 + ry <= 0 or w + 0.5 - ry >= height:
            continue
        radii[v, i, 0] = rx
        radii[v, i, 1] = ry
    return means2d, conics, depths, radii


@njit(cache=True)
def _pixel_box(mx, my, rx, ry, width, height):  # pragma: no cover
    """Inclusive pixel range ``x0..x1, y0..y1`` of a Gaussian's screen box (empty: x0 > x1)."""
    x0 = max(0, int(math.ceil(mx - rx)))
    x1 = min(width - 1, int(math.floor(mx + rx)))
    y0 = max(0, int(math.ceil(my - ry)))
    y1 = min(height - 1, int(math.floor(my + ry)))
    return x0, x1, y0, y1


@njit(parallel=True, cache=True)
def bin_tiles(means2d, radii, depths, width, height):  # pragma: no cover
    """Assign Gaussians to the 16x16 tiles their screen box touches, depth-sorted per tile.

    Returns:
        boxes: ``[V, N, 4]`` int32 inclusive pixel box ``x0, x1, y0, y1`` (x0 > x1 when culled).
        tile_offsets: ``[V * tiles + 1]`` int64; tile ``t`` of camera ``v`` owns entries
            ``tile_offsets[v * tiles + t] : tile_offsets[v * tiles + t + 1]``.
        isect: ``[M]`` int64 flat Gaussian ids ``v * N + i`` sorted by depth inside each tile.
    """
    v_count, n = depths.shape
    tiles_x = (width + TILE - 1) // TILE
    tiles_y = (height + TILE - 1) // TILE
    n_tiles = tiles_x * tiles_y
    boxes = np.empty((v_count, n, 4), np.int32)
    for job in prange(v_count * n):
        v = job // n
        i = job - v * n
        if radii[v, i, 0] <= 0 and radii[v, i, 1] <= 0:
            boxes[v, i, 0], boxes[v, i, 1], boxes[v, i, 2], boxes[v, i, 3] = 1, 0, 1, 0
            continue
        x0, x1, y0, y1 = _pixel_box(
            means2d[v, i, 0], means2d[v, i, 1], radii[v, i, 0], radii[v, i, 1], width, height
        )
        boxes[v, i, 0], boxes[v, i, 1], boxes[v, i, 2], boxes[v, i, 3] = x0, x1, y0, y1
    counts = np.zeros(v_count * n_tiles + 1, np.int64)
    for v in prange(v_count):
        base = v * n_tiles
        for i in range(n):
            x0, x1, y0, y1 = boxes[v, i, 0], boxes[v, i, 1], boxes[v, i, 2], boxes[v, i, 3]
            if x0 > x1 or y0 > y1:
                continue
            for ty in range(y0 // TILE, y1 // TILE + 1):
                for tx in range(x0 // TILE, x1 // TILE + 1):
                    counts[base + ty * tiles_x + tx + 1] += 1
    offsets = np.cumsum(counts)
    isect = np.empty(offsets[-1], np.int64)
    cursor = offsets[:-1].copy()
    for v in prange(v_count):
        base = v * n_tiles
        for i in range(n):
            x0, x1, y0, y1 = boxes[v, i, 0], boxes[v, i, 1], boxes[v, i, 2], boxes[v, i, 3]
            if x0 > x1 or y0 > y1:
                continue
            for ty in range(y0 // TILE, y1 // TILE + 1):
                for tx in range(x0 // TILE, x1 // TILE + 1):
                    t = base + ty * tiles_x + tx
                    isect[cursor[t]] = v * n + i
                    cursor[t] += 1
    flat_depths = depths.ravel()
    for t in prange(v_count * n_tiles):
        a, b = offsets[t], offsets[t + 1]
        if b - a > 1:
            seg = isect[a:b].copy()
            order = np.argsort(flat_depths[seg], kind="mergesort")
            isect[a:b] = seg[order]
    return boxes, offsets, isect


@njit(parallel=True, fastmath=False, cache=True)
def composite_forward(
    means2d, conics, opacities, colors, depths, boxes, offsets, isect, width, height
):  # pragma: no cover
    """Front-to-back compositing.

    Args:
        means2d ``[V, N, 2]``, conics ``[V, N, 3]``, opacities ``[N]``, colors ``[N, 3]``,
        depths ``[V, N]``, and the binning of :func:`bin_tiles`.

    Returns:
        rgb ``[V, H, W, 3]`` (premultiplied, no background), depth_acc ``[V, H, W]`` (sum of
        weight x depth), alpha ``[V, H, W]`` (1 - final transmittance), last ``[V, H, W]`` int64
        (entry of ``isect`` of the last contributing Gaussian, -1 if none).
    """
    v_count, n = depths.shape
    dt = means2d.dtype
    tiles_x = (width + TILE - 1) // TILE
    tiles_y = (height + TILE - 1) // TILE
    n_tiles = tiles_x * tiles_y
    rgb = np.zeros((v_count, height, width, 3), dt)
    dep = np.zeros((v_count, height, width), dt)
    alpha_out = np.zeros((v_count, height, width), dt)
    last_out = np.full((v_count, height, width), -1, np.int64)
    for job in prange(v_count * n_tiles):
        v = job // n_tiles
        t = job - v * n_tiles
        tx0 = (t % tiles_x) * TILE
        ty0 = (t // tiles_x) * TILE
        tx1 = min(tx0 + TILE, width) - 1
        ty1 = min(ty0 + TILE, height) - 1
        tw = tx1 - tx0 + 1
        npix = tw * (ty1 - ty0 + 1)
        trans = np.ones(npix, dt)
        acc = np.zeros((npix, 4), dt)
        last = np.full(npix, -1, np.int64)
        done = np.zeros(npix, np.bool_)
        n_done = 0
        for k in range(offsets[job], offsets[job + 1]):
            g = isect[k]
            i = g - v * n
            x0 = max(boxes[v, i, 0], tx0)
            x1 = min(boxes[v, i, 1], tx1)
            y0 = max(boxes[v, i, 2], ty0)
            y1 = min(boxes[v, i, 3], ty1)
            mx, my = means2d[v, i, 0], means2d[v, i, 1]
            ca, cb, cc = conics[v, i, 0], conics[v, i, 1], conics[v, i, 2]
            op = opacities[i]
            # sigma above which alpha < threshold: skips exp() for most of the box
            sigma_cut = math.log(op / ALPHA_THRESHOLD) + 1e-3
            cr, cg, cbl, z = colors[i, 0], colors[i, 1], colors[i, 2], depths[v, i]
            for py in range(y0, y1 + 1):
                dy = my - py
                row = (py - ty0) * tw - tx0
                for px in range(x0, x1 + 1):
                    p = row + px
                    if done[p]:
                        continue
                    dx = mx - px
                    sigma = 0.5 * (ca * dx * dx + cc * dy * dy) + cb * dx * dy
                    if sigma < 0.0 or sigma > sigma_cut:
                        continue
                    alpha = min(MAX_ALPHA, op * math.exp(-sigma))
                    if alpha < ALPHA_THRESHOLD:
                        continue
                    next_t = trans[p] * (1.0 - alpha)
                    if next_t <= T_EPS:
                        done[p] = True
                        n_done += 1
                        continue
                    wgt = alpha * trans[p]
                    acc[p, 0] += cr * wgt
                    acc[p, 1] += cg * wgt
                    acc[p, 2] += cbl * wgt
                    acc[p, 3] += z * wgt
                    trans[p] = next_t
                    last[p] = k
            if n_done == npix:
                break
        for py in range(ty0, ty1 + 1):
            for px in range(tx0, tx1 + 1):
                p = (py - ty0) * tw + px - tx0
                rgb[v, py, px, 0] = acc[p, 0]
                rgb[v, py, px, 1] = acc[p, 1]
                rgb[v, py, px, 2] = acc[p, 2]
                dep[v, py, px] = acc[p, 3]
                alpha_out[v, py, px] = 1.0 - trans[p]
                last_out[v, py, px] = last[p]
    return rgb, dep, alpha_out, last_out


@njit(parallel=True, fastmath=False, cache=True)
def composite_backward(
    means2d, conics, opacities, colors, depths, boxes, offsets, isect, width, height,
    alpha_out, last_out, v_rgb, v_dep, v_alpha,
):  # pragma: no cover  # fmt: skip
    """Exact backward pass of :func:`composite_forward` (back to front, per tile).

    Args:
        alpha_out, last_out: from the forward pass; v_rgb ``[V, H, W, 3]``, v_dep ``[V, H, W]``,
            v_alpha ``[V, H, W]``: gradients of the loss w.r.t. its three image outputs.

    Returns:
        ``[M, 10]`` gradients per tile intersection (entry of ``isect``): d/d mean2d (2),
        d/d conic (3), d/d opacity (1), d/d colour (3), d/d depth (1). Sum them per Gaussian.
    """
    v_count, n = depths.shape
    dt = means2d.dtype
    tiles_x = (width + TILE - 1) // TILE
    tiles_y = (height + TILE - 1) // TILE
    n_tiles = tiles_x * tiles_y
    grads = np.zeros((isect.shape[0], 10), dt)
    for job in prange(v_count * n_tiles):
        a_end = offsets[job + 1]
        a_start = offsets[job]
        if a_end == a_start:
            continue
        v = job // n_tiles
        t = job - v * n_tiles
        tx0 = (t % tiles_x) * TILE
        ty0 = (t // tiles_x) * TILE
        tx1 = min(tx0 + TILE, width) - 1
        ty1 = min(ty0 + TILE, height) - 1
        tw = tx1 - tx0 + 1
        npix = tw * (ty1 - ty0 + 1)
        trans = np.empty(npix, dt)
        t_final = np.empty(npix, dt)
        last = np.empty(npix, np.int64)
        vout = np.empty((npix, 5), dt)
        behind = np.zeros((npix, 4), dt)
        max_last = -1
        for py in range(ty0, ty1 + 1):
            for px in range(tx0, tx1 + 1):
                p = (py - ty0) * tw + px - tx0
                t_final[p] = 1.0 - alpha_out[v, py, px]
                trans[p] = t_final[p]
                last[p] = last_out[v, py, px]
                max_last = max(max_last, last[p])
                vout[p, 0] = v_rgb[v, py, px, 0]
                vout[p, 1] = v_rgb[v, py, px, 1]
                vout[p, 2] = v_rgb[v, py, px, 2]
                vout[p, 3] = v_dep[v, py, px]
                vout[p, 4] = v_alpha[v, py, px]
        for k in range(min(a_end - 1, max_last), a_start - 1, -1):
            g = isect[k]
            i = g - v * n
            x0 = max(boxes[v, i, 0], tx0)
            x1 = min(boxes[v, i, 1], tx1)
            y0 = max(boxes[v, i, 2], ty0)
            y1 = min(boxes[v, i, 3], ty1)
            mx, my = means2d[v, i, 0], means2d[v, i, 1]
            ca, cb, cc = conics[v, i, 0], conics[v, i, 1], conics[v, i, 2]
            op = opacities[i]
            sigma_cut = math.log(op / ALPHA_THRESHOLD) + 1e-3
            cr, cg, cbl, z = colors[i, 0], colors[i, 1], colors[i, 2], depths[v, i]
            g_mx = g_my = g_a = g_b = g_c = g_op = g_r = g_g = g_bl = g_z = 0.0
            for py in range(y0, y1 + 1):
                dy = my - py
                row = (py - ty0) * tw - tx0
                for px in range(x0, x1 + 1):
                    p = row + px
                    if k > last[p]:
                        continue
                    dx = mx - px
                    sigma = 0.5 * (ca * dx * dx + cc * dy * dy) + cb * dx * dy
                    if sigma < 0.0 or sigma > sigma_cut:
                        continue
                    vis = math.exp(-sigma)
                    raw = op * vis
                    alpha = min(MAX_ALPHA, raw)
                    if alpha < ALPHA_THRESHOLD:
                        continue
                    ra = 1.0 / (1.0 - alpha)
                    trans[p] *= ra  # transmittance in front of this Gaussian
                    wgt = alpha * trans[p]
                    vr, vg, vb, vd, va = vout[p, 0], vout[p, 1], vout[p, 2], vout[p, 3], vout[p, 4]
                    g_r += wgt * vr
                    g_g += wgt * vg
                    g_bl += wgt * vb
                    g_z += wgt * vd
                    v_al = trans[p] * (cr * vr + cg * vg + cbl * vb + z * vd)
                    v_al -= (
                        behind[p, 0] * vr + behind[p, 1] * vg + behind[p, 2] * vb + behind[p, 3] * vd
                    ) * ra
                    v_al += va * t_final[p] * ra
                    behind[p, 0] += cr * wgt
                    behind[p, 1] += cg * wgt
                    behind[p, 2] += cbl * wgt
                    behind[p, 3] += z * wgt
                    if raw <= MAX_ALPHA:
                        g_op += vis * v_al
                        v_sigma = -raw * v_al
                        g_a += 0.5 * dx * dx * v_sigma
                        g_b += dx * dy * v_sigma
                        g_c += 0.5 * dy * dy * v_sigma
                        g_mx += (ca * dx + cb * dy) * v_sigma
                        g_my += (cb * dx + cc * dy) * v_sigma
            grads[k, 0] = g_mx
            grads[k, 1] = g_my
            grads[k, 2] = g_a
            grads[k, 3] = g_b
            grads[k, 4] = g_c
            grads[k, 5] = g_op
            grads[k, 6] = g_r
            grads[k, 7] = g_g
            grads[k, 8] = g_bl
            grads[k, 9] = g_z
    return grads
