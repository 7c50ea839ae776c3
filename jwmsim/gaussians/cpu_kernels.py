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

Binning streams its reads: the visible Gaussians' packed rows are written in index order, each to
its place in the depth order (``ranks``), and the tile lists are then built from the packed boxes in
that order. Gathering the rows in depth order instead (random reads of six arrays per Gaussian) made
binning 9.3 ms of a 3-camera, 130k-Gaussian render on one thread; it is now about 6.7 ms.
"""

from __future__ import annotations

import math
import os

import numba
import numpy as np
from numba import njit, prange

# numba's OpenMP pool spins after each parallel region and then fights torch's own OpenMP threads
# for the cores (3-10x slowdowns measured on 2 cores); the work-queue layer does not spin.
if "NUMBA_THREADING_LAYER" not in os.environ:
    numba.config.THREADING_LAYER = "workqueue"

TILE = 16
ALPHA_THRESHOLD = 1.0 / 255.0
MAX_ALPHA = 0.999
T_EPS = 1e-4
MAX_EXTENT_SIGMA = 3.33
N_PACKED = 11  # packed row: mean2d (2), conic (3), opacity, colour (3), depth, sigma cut-off
N_GRADS = 10  # gradients w.r.t. the first 10 packed columns


def _alloc(workspace, name, shape, dtype):
    """``np.empty`` or, with a workspace, its buffer ``name``."""
    return np.empty(shape, dtype) if workspace is None else workspace.get(name, shape, dtype)


def project(means, quats, scales, opacities, viewmats, ks, width, height, near, far, eps2d, workspace=None):
    """Fast forward-only twin of ``projection.project_gaussians`` (numpy in, numpy out).

    Returns means2d ``[V, N, 2]``, conics ``[V, N, 3]``, depths ``[V, N]``, radii ``[V, N, 2]`` int32.
    ``means2d`` and ``conics`` are only defined where ``radii > 0`` (culled entries are not written).
    With a :class:`~jwmsim.gaussians.workspace.Workspace` the outputs are its buffers (valid until
    the next call with it).
    """
    n, v_count, dt = means.shape[0], viewmats.shape[0], means.dtype
    means2d = _alloc(workspace, "means2d", (v_count, n, 2), dt)
    conics = _alloc(workspace, "conics", (v_count, n, 3), dt)
    depths = _alloc(workspace, "depths", (v_count, n), dt)
    radii = _alloc(workspace, "radii", (v_count, n, 2), np.int32)
    cams = np.empty((v_count, 24), np.float64)
    for v in range(v_count):
        fx, fy, cx, cy = ks[v, 0, 0], ks[v, 1, 1], ks[v, 0, 2], ks[v, 1, 2]
        tan_x, tan_y = 0.5 * width / fx, 0.5 * height / fy
        lim = (
            (width - (cx + 0.5)) / fx + 0.3 * tan_x,
            (cx + 0.5) / fx + 0.3 * tan_x,
            (height - (cy + 0.5)) / fy + 0.3 * tan_y,
            (cy + 0.5) / fy + 0.3 * tan_y,
        )
        # bound on |J| / (f / z) over the clamped field of view, for the early cull
        jac_gain = math.sqrt(1.0 + max(lim[0], lim[1]) ** 2 + max(lim[2], lim[3]) ** 2)
        cams[v, :12] = viewmats[v, :3, :4].reshape(-1)
        cams[v, 12:] = (fx, fy, cx, cy, *lim, jac_gain, max(fx, fy), 0.0, 0.0)
    _project_kernel(
        means, quats, scales, opacities, cams.astype(dt), width, height, near, far, eps2d,
        means2d, conics, depths, radii,
    )  # fmt: skip
    return means2d, conics, depths, radii


@njit(parallel=True, fastmath=True, cache=True)
def _project_kernel(
    means, quats, scales, opacities, cams, width, height, near, far, eps2d, means2d, conics, depths, radii
):  # pragma: no cover
    """One Gaussian per iteration, every camera inside: the Gaussian's rotation is built once, and
    the frustum test (cheap) comes before it."""
    n = means.shape[0]
    v_count = cams.shape[0]
    for i in prange(n):
        mx, my, mz = means[i, 0], means[i, 1], means[i, 2]
        op = opacities[i]
        s0, s1, s2 = scales[i, 0], scales[i, 1], scales[i, 2]
        s_max = max(s0, max(s1, s2))
        have_rot = False
        r00 = r01 = r02 = r10 = r11 = r12 = r20 = r21 = r22 = 0.0
        for v in range(v_count):
            radii[v, i, 0] = 0
            radii[v, i, 1] = 0
            w00, w01, w02, w03 = cams[v, 0], cams[v, 1], cams[v, 2], cams[v, 3]
            w10, w11, w12, w13 = cams[v, 4], cams[v, 5], cams[v, 6], cams[v, 7]
            w20, w21, w22, w23 = cams[v, 8], cams[v, 9], cams[v, 10], cams[v, 11]
            x = w00 * mx + w01 * my + w02 * mz + w03
            y = w10 * mx + w11 * my + w12 * mz + w13
            z = w20 * mx + w21 * my + w22 * mz + w23
            depths[v, i] = z
            if z <= near or z >= far or op < ALPHA_THRESHOLD:
                continue
            fx, fy, cx, cy = cams[v, 12], cams[v, 13], cams[v, 14], cams[v, 15]
            lim_xp, lim_xn, lim_yp, lim_yn = cams[v, 16], cams[v, 17], cams[v, 18], cams[v, 19]
            rz = 1.0 / z
            u = fx * x * rz + cx
            w = fy * y * rz + cy
            # early cull: a screen radius bound from the largest scale (exact culling below)
            r_bound = MAX_EXTENT_SIGMA * (cams[v, 21] * rz * cams[v, 20] * s_max + math.sqrt(eps2d)) + 2.0
            if u + 0.5 + r_bound <= 0 or u + 0.5 - r_bound >= width or w + 0.5 + r_bound <= 0:
                continue
            if w + 0.5 - r_bound >= height:
                continue
            if not have_rot:
                qw, qx, qy, qz = quats[i, 0], quats[i, 1], quats[i, 2], quats[i, 3]
                qn = max(math.sqrt(qw * qw + qx * qx + qy * qy + qz * qz), 1e-12)
                qw, qx, qy, qz = qw / qn, qx / qn, qy / qn, qz / qn
                r00, r01, r02 = 1 - 2 * (qy * qy + qz * qz), 2 * (qx * qy - qw * qz), 2 * (qx * qz + qw * qy)
                r10, r11, r12 = 2 * (qx * qy + qw * qz), 1 - 2 * (qx * qx + qz * qz), 2 * (qy * qz - qw * qx)
                r20, r21, r22 = 2 * (qx * qz - qw * qy), 2 * (qy * qz + qw * qx), 1 - 2 * (qx * qx + qy * qy)
                have_rot = True
            # camera covariance W Sigma W^T = m m^T with m = W R S
            m00 = (w00 * r00 + w01 * r10 + w02 * r20) * s0
            m01 = (w00 * r01 + w01 * r11 + w02 * r21) * s1
            m02 = (w00 * r02 + w01 * r12 + w02 * r22) * s2
            m10 = (w10 * r00 + w11 * r10 + w12 * r20) * s0
            m11 = (w10 * r01 + w11 * r11 + w12 * r21) * s1
            m12 = (w10 * r02 + w11 * r12 + w12 * r22) * s2
            m20 = (w20 * r00 + w21 * r10 + w22 * r20) * s0
            m21 = (w20 * r01 + w21 * r11 + w22 * r21) * s1
            m22 = (w20 * r02 + w21 * r12 + w22 * r22) * s2
            tx = z * min(lim_xp, max(-lim_xn, x * rz))
            ty = z * min(lim_yp, max(-lim_yn, y * rz))
            j00, j02 = fx * rz, -fx * tx * rz * rz
            j11, j12 = fy * rz, -fy * ty * rz * rz
            # rows of J m: [2, 3]; cov2d = (J m)(J m)^T
            a0, a1, a2 = j00 * m00 + j02 * m20, j00 * m01 + j02 * m21, j00 * m02 + j02 * m22
            b0, b1, b2 = j11 * m10 + j12 * m20, j11 * m11 + j12 * m21, j11 * m12 + j12 * m22
            c00 = a0 * a0 + a1 * a1 + a2 * a2 + eps2d
            c11 = b0 * b0 + b1 * b1 + b2 * b2 + eps2d
            c01 = a0 * b0 + a1 * b1 + a2 * b2
            det = c00 * c11 - c01 * c01
            if det <= 0:
                continue
            extent = min(MAX_EXTENT_SIGMA, math.sqrt(2.0 * math.log(max(op / ALPHA_THRESHOLD, 1.0))))
            rx = math.ceil(extent * math.sqrt(c00))
            ry = math.ceil(extent * math.sqrt(c11))
            if u + 0.5 + rx <= 0 or u + 0.5 - rx >= width or w + 0.5 + ry <= 0 or w + 0.5 - ry >= height:
                continue
            means2d[v, i, 0] = u
            means2d[v, i, 1] = w
            conics[v, i, 0] = c11 / det
            conics[v, i, 1] = -c01 / det
            conics[v, i, 2] = c00 / det
            radii[v, i, 0] = rx
            radii[v, i, 1] = ry


@njit(cache=True)
def _pixel_box(mx, my, rx, ry, width, height):  # pragma: no cover
    """Inclusive pixel range ``x0..x1, y0..y1`` of a Gaussian's screen box (empty: x0 > x1)."""
    x0 = max(0, int(math.ceil(mx - rx)))
    x1 = min(width - 1, int(math.floor(mx + rx)))
    y0 = max(0, int(math.ceil(my - ry)))
    y1 = min(height - 1, int(math.floor(my + ry)))
    return x0, x1, y0, y1


@njit(cache=True)
def _radix_sort_by_key(keys, values, keys_tmp, values_tmp, n_bytes):  # pragma: no cover
    """Stable in-place sort of ``values`` ``[K]`` by unsigned ``keys`` ``[K]`` (LSD radix, one
    byte per pass, keys moved with the values so that every pass streams; byte histograms all in
    one first pass; passes where every key has the same byte are skipped). ``keys`` are sorted
    too; ``keys_tmp`` / ``values_tmp`` ``[K]`` are work arrays."""
    n = keys.shape[0]
    hist = np.zeros((8, 256), np.int64)
    for j in range(n):
        k = keys[j]
        for byte in range(n_bytes):
            hist[byte, (k >> (8 * byte)) & 255] += 1
    src_k, src_v, dst_k, dst_v = keys, values, keys_tmp, values_tmp
    swapped = False
    for byte in range(n_bytes):
        if hist[byte].max() == n:
            continue
        pos = np.empty(256, np.int64)
        total = 0
        for d in range(256):
            pos[d] = total
            total += hist[byte, d]
        shift = 8 * byte
        for j in range(n):
            k = src_k[j]
            d = (k >> shift) & 255
            dst_k[pos[d]] = k
            dst_v[pos[d]] = src_v[j]
            pos[d] += 1
        src_k, src_v, dst_k, dst_v = dst_k, dst_v, src_k, src_v
        swapped = not swapped
    if swapped:
        keys[:] = src_k
        values[:] = src_v


def bin_tiles(
    means2d, conics, opacities, colors, depths, radii, depth_keys, key_bytes, width, height, workspace=None
):
    """Assign Gaussians to the 16x16 tiles their screen box touches, depth-sorted per tile, and
    pack their parameters in that order.

    Args:
        means2d ``[V, N, 2]``, conics ``[V, N, 3]``, opacities ``[N]``, colors ``[N, 3]``,
        depths ``[V, N]``, radii ``[V, N, 2]`` (0: culled); depth_keys: ``[V, N]`` unsigned keys
        ordered as the depths of visible Gaussians (bit patterns of positive floats),
        ``key_bytes`` significant bytes; workspace: buffers for the outputs and intermediates
        (None: fresh arrays, which a backward pass may keep).

    Returns:
        packed: ``[P, 11]`` parameters of the visible Gaussians, camera by camera, front to back
            (one contiguous row each, so a tile reads them as a stream): mean2d, conic, opacity,
            colour, depth, and the ``sigma`` above which ``alpha < 1/255`` (plus a margin).
        boxes: ``[P, 4]`` int32 inclusive pixel box ``x0, x1, y0, y1`` of each packed Gaussian.
        tile_offsets: ``[V * tiles + 1]`` int64; tile ``t`` of camera ``v`` owns entries
            ``tile_offsets[v * tiles + t] : tile_offsets[v * tiles + t + 1]`` of ``isect``.
        isect: ``[M]`` int64 positions in ``packed_ids``, front to back inside each tile (ties in
            index order).
        packed_ids: ``[P]`` int64 flat ids ``v * N + i`` of the packed rows.
    """
    v_count, n = depth_keys.shape
    n_tiles = ((width + TILE - 1) // TILE) * ((height + TILE - 1) // TILE)
    ws = workspace
    boxes = _alloc(ws, "boxes", (v_count, n, 4), np.int32)
    orders = _alloc(ws, "orders", (v_count, n), np.int64)
    ranks = _alloc(ws, "ranks", (v_count, n), np.int64)
    scratch = _alloc(ws, "scratch", (v_count, n), np.int64)
    keys = _alloc(ws, "keys", (v_count, n), depth_keys.dtype)
    keys_tmp = _alloc(ws, "keys_tmp", (v_count, n), depth_keys.dtype)
    n_visible = np.zeros(v_count, np.int64)
    _sort_visible(
        means2d, radii, depth_keys, key_bytes, width, height, boxes, orders, ranks, scratch, keys, keys_tmp,
        n_visible,
    )  # fmt: skip
    packed_start = np.concatenate([[0], np.cumsum(n_visible)])
    packed_ids = _alloc(ws, "packed_ids", (packed_start[-1],), np.int64)
    packed_boxes = _alloc(ws, "packed_boxes", (packed_start[-1], 4), np.int32)
    packed = _alloc(ws, "packed", (packed_start[-1], N_PACKED), means2d.dtype)
    # rows written in index order (the reads stream; each row is one scattered write)
    _pack_visible(
        boxes, ranks, packed_start, means2d, conics, opacities, colors, depths,
        packed_ids, packed_boxes, packed,
    )  # fmt: skip
    # tile counts per (camera, chunk of its front-to-back list): chunks balance the threads
    chunk_counts = np.zeros((v_count, CHUNKS, n_tiles), np.int64)
    _count_tiles(packed_boxes, packed_start, n_visible, width, chunk_counts)
    per_tile = chunk_counts.sum(1).ravel()
    offsets = np.concatenate([[0], np.cumsum(per_tile)])
    # where each chunk starts writing in each tile: after the earlier chunks of that tile
    starts = offsets[:-1].reshape(v_count, 1, n_tiles) + np.cumsum(chunk_counts, axis=1) - chunk_counts
    isect = _alloc(ws, "isect", (offsets[-1],), np.int64)
    _fill_tiles(packed_boxes, packed_start, n_visible, starts, width, isect)
    return packed, packed_boxes, offsets, isect, packed_ids


CHUNKS = 4  # pieces of each camera's visible list for the counting and filling threads


@njit(cache=True)
def _chunk(n_items, c):  # pragma: no cover
    """Range ``[a, b)`` of chunk ``c`` of ``n_items`` split in CHUNKS nearly equal pieces."""
    return (n_items * c) // CHUNKS, (n_items * (c + 1)) // CHUNKS


@njit(parallel=True, cache=True)
def _count_tiles(packed_boxes, packed_start, n_visible, width, chunk_counts):  # pragma: no cover
    v_count = n_visible.shape[0]
    tiles_x = (width + TILE - 1) // TILE
    for job in prange(v_count * CHUNKS):
        v = job // CHUNKS
        a, b = _chunk(n_visible[v], job - v * CHUNKS)
        counts = chunk_counts[v, job - v * CHUNKS]
        for q in range(packed_start[v] + a, packed_start[v] + b):
            for ty in range(packed_boxes[q, 2] // TILE, packed_boxes[q, 3] // TILE + 1):
                for tx in range(packed_boxes[q, 0] // TILE, packed_boxes[q, 1] // TILE + 1):
                    counts[ty * tiles_x + tx] += 1


@njit(parallel=True, cache=True)
def _sort_visible(
    means2d, radii, depth_keys, key_bytes, width, height, boxes, orders, ranks, scratch, keys, keys_tmp,
    n_visible,
):  # pragma: no cover  # fmt: skip
    """Screen boxes, each camera's front-to-back order of its visible Gaussians (``orders[v, :k]``)
    and the place of each visible Gaussian in that order (``ranks[v, i]``)."""
    v_count, n = depth_keys.shape
    for v in range(v_count):
        for i in prange(n):
            if radii[v, i, 0] <= 0 and radii[v, i, 1] <= 0:
                boxes[v, i, 0], boxes[v, i, 1], boxes[v, i, 2], boxes[v, i, 3] = 1, 0, 1, 0
                continue
            mx, my = means2d[v, i, 0], means2d[v, i, 1]
            x0, x1, y0, y1 = _pixel_box(mx, my, radii[v, i, 0], radii[v, i, 1], width, height)
            boxes[v, i, 0], boxes[v, i, 1], boxes[v, i, 2], boxes[v, i, 3] = x0, x1, y0, y1
    for v in prange(v_count):
        k = 0
        for i in range(n):
            if boxes[v, i, 0] <= boxes[v, i, 1] and boxes[v, i, 2] <= boxes[v, i, 3]:
                orders[v, k] = i
                keys[v, k] = depth_keys[v, i]
                k += 1
        n_visible[v] = k
        _radix_sort_by_key(keys[v, :k], orders[v, :k], keys_tmp[v, :k], scratch[v, :k], key_bytes)
        for j in range(k):
            ranks[v, orders[v, j]] = j


@njit(parallel=True, cache=True)
def _pack_visible(
    boxes, ranks, packed_start, means2d, conics, opacities, colors, depths, packed_ids, packed_boxes, packed
):  # pragma: no cover
    """The packed row, box and flat id of each visible Gaussian at its place in the front-to-back
    order, in index order."""
    v_count, n = ranks.shape
    for job in prange(v_count * CHUNKS):
        v = job // CHUNKS
        a, b = _chunk(n, job - v * CHUNKS)
        for i in range(a, b):
            if boxes[v, i, 0] > boxes[v, i, 1] or boxes[v, i, 2] > boxes[v, i, 3]:
                continue
            q = packed_start[v] + ranks[v, i]
            packed_ids[q] = v * n + i
            for c in range(4):
                packed_boxes[q, c] = boxes[v, i, c]
            packed[q, 0] = means2d[v, i, 0]
            packed[q, 1] = means2d[v, i, 1]
            packed[q, 2] = conics[v, i, 0]
            packed[q, 3] = conics[v, i, 1]
            packed[q, 4] = conics[v, i, 2]
            packed[q, 5] = opacities[i]
            packed[q, 6] = colors[i, 0]
            packed[q, 7] = colors[i, 1]
            packed[q, 8] = colors[i, 2]
            packed[q, 9] = depths[v, i]
            packed[q, 10] = math.log(opacities[i] / ALPHA_THRESHOLD) + 1e-3


@njit(parallel=True, cache=True)
def _fill_tiles(packed_boxes, packed_start, n_visible, starts, width, isect):  # pragma: no cover
    """``isect``: each tile's packed rows front to back (each chunk of a camera's list writes after
    the earlier chunks of the tile)."""
    v_count = n_visible.shape[0]
    tiles_x = (width + TILE - 1) // TILE
    for job in prange(v_count * CHUNKS):
        v = job // CHUNKS
        a, b = _chunk(n_visible[v], job - v * CHUNKS)
        cursor = starts[v, job - v * CHUNKS].copy()
        for q in range(packed_start[v] + a, packed_start[v] + b):
            for ty in range(packed_boxes[q, 2] // TILE, packed_boxes[q, 3] // TILE + 1):
                for tx in range(packed_boxes[q, 0] // TILE, packed_boxes[q, 1] // TILE + 1):
                    t = ty * tiles_x + tx
                    isect[cursor[t]] = q
                    cursor[t] += 1


@njit(cache=True, fastmath=True)
def _row_span(mx, ca, bdy, cdy, sigma_cut, x0, x1):  # pragma: no cover
    """Pixels ``xa..xb`` of a row (within ``x0..x1``) where ``sigma <= sigma_cut`` may hold."""
    disc = bdy * bdy - 2.0 * ca * (cdy - sigma_cut)
    if disc < 0.0:
        return 1, 0
    sq = math.sqrt(disc)
    xa = max(x0, int(math.ceil(mx - (sq - bdy) / ca - 0.01)))
    xb = min(x1, int(math.floor(mx + (sq + bdy) / ca + 0.01)))
    return xa, xb


@njit(cache=True, fastmath=True)
def _exp_neg(sigma):  # pragma: no cover
    """``exp(-sigma)`` for ``sigma`` in [0, 6] to 1e-8 relative (Taylor on sigma / 16, squared 4
    times): branch-free, so loops using it vectorise (libm ``exp`` does not). float64."""
    x = -sigma * 0.0625
    e = 1.0 + x * (1.0 + x * (0.5 + x * (1.0 / 6.0 + x * (1.0 / 24.0 + x * (1.0 / 120.0 + x * (
        1.0 / 720.0 + x * (1.0 / 5040.0 + x * (1.0 / 40320.0))))))))  # fmt: skip
    e = e * e
    e = e * e
    e = e * e
    return e * e


@njit(cache=True, fastmath=True)
def _exp_neg_typed(sigma, k):  # pragma: no cover
    """:func:`_exp_neg` with every constant taken from ``k`` (typed like ``sigma``), so that float32
    stays float32 (numba would promote to float64 on a Python float literal)."""
    x = -sigma * k[0]
    e = k[1] + x * (
        k[1] + x * (k[2] + x * (k[3] + x * (k[4] + x * (k[5] + x * (k[6] + x * (k[7] + x * k[8]))))))
    )
    e = e * e
    e = e * e
    e = e * e
    return e * e


# tile state in one flat array, one block of TILE * TILE per quantity: constant offsets between the
# blocks let LLVM prove the row loop free of aliasing and vectorise it
_T, _R, _G, _B, _D = (np.uint64(c * TILE * TILE) for c in range(5))


def composite_forward(packed, boxes, offsets, isect, v_count, width, height, n_workers, workspace=None):
    """Front-to-back compositing, in the precision of ``packed`` (float32: 8 pixels per AVX2
    instruction; float64 for exact tests).

    Args:
        packed: ``[P, 11]`` from :func:`bin_tiles`; boxes, offsets, isect: from :func:`bin_tiles`;
        v_count: cameras; ``n_workers``: interleaved tile queues (a few per thread); workspace:
        where ``last`` goes (None: a fresh array, for a backward pass).

    Returns:
        rgb ``[V, H, W, 3]`` (premultiplied, no background), depth_acc ``[V, H, W]`` (sum of
        weight x depth), alpha ``[V, H, W]`` (1 - final transmittance), last ``[V, H, W]`` int64
        (entry of ``isect`` of the last contributing Gaussian, -1 if none). Every pixel is written.
    """
    dt = packed.dtype
    rgb = np.empty((v_count, height, width, 3), dt)
    dep = np.empty((v_count, height, width), dt)
    alpha = np.empty((v_count, height, width), dt)
    last = _alloc(workspace, "last", (v_count, height, width), np.int64)
    _composite_forward_kernel(
        packed, boxes, offsets, isect, v_count, width, height, n_workers, rgb, dep, alpha, last
    )
    return rgb, dep, alpha, last


@njit(parallel=True, fastmath=True, cache=True)
def _composite_forward_kernel(
    packed, boxes, offsets, isect, v_count, width, height, n_workers, rgb, dep, alpha_out, last_out
):  # pragma: no cover
    dt = packed.dtype
    c = dt.type
    f0, f1, half, two, eight = c(0.0), c(1.0), c(0.5), c(2.0), c(8.0)
    max_alpha, threshold, t_eps = c(MAX_ALPHA), c(ALPHA_THRESHOLD), c(T_EPS)
    exp_k = (c(0.0625), c(1.0), c(0.5), c(1.0 / 6.0), c(1.0 / 24.0), c(1.0 / 120.0), c(1.0 / 720.0),
             c(1.0 / 5040.0), c(1.0 / 40320.0))  # fmt: skip
    tiles_x = (width + TILE - 1) // TILE
    tiles_y = (height + TILE - 1) // TILE
    n_tiles = tiles_x * tiles_y
    for worker in prange(n_workers):
        # transmittance (negated once a pixel is done), r, g, b, depth; last contributing entry
        st = np.empty(5 * TILE * TILE, dt)
        last = np.empty(TILE * TILE, np.int64)
        row_done = np.empty(TILE, np.int64)  # finished pixels per tile row: full rows are skipped
        for job in range(worker, v_count * n_tiles, n_workers):
            v = job // n_tiles
            t = job - v * n_tiles
            tx0 = (t % tiles_x) * TILE
            ty0 = (t // tiles_x) * TILE
            tx1 = min(tx0 + TILE, width) - 1
            ty1 = min(ty0 + TILE, height) - 1
            tw = tx1 - tx0 + 1
            npix = tw * (ty1 - ty0 + 1)
            # pixels of the tile outside the image start "done" (negative transmittance)
            for j in range(TILE * TILE):
                inside = (j % TILE) < tw and (j // TILE) < (ty1 - ty0 + 1)
                st[j] = f1 if inside else -f1
            st[TILE * TILE :] = f0
            last[:] = -1
            for r in range(TILE):
                row_done[r] = TILE - tw if r <= ty1 - ty0 else TILE
            n_done = TILE * TILE - npix
            for k in range(offsets[job], offsets[job + 1]):
                q = isect[k]
                x0 = c(boxes[q, 0])
                x1 = c(boxes[q, 1])
                y0 = max(boxes[q, 2], ty0)
                y1 = min(boxes[q, 3], ty1)
                mx, my = packed[q, 0], packed[q, 1]
                ca, cb, cc = packed[q, 2], packed[q, 3], packed[q, 4]
                op = packed[q, 5]
                cr, cg, cbl, z = packed[q, 6], packed[q, 7], packed[q, 8], packed[q, 9]
                # sigma above which alpha < threshold (with a margin): rows beyond it are skipped
                sigma_cut = packed[q, 10]
                for py in range(y0, y1 + 1):
                    if row_done[py - ty0] == TILE:
                        continue
                    dy = my - c(py)
                    bdy = cb * dy
                    cdy = half * cc * dy * dy
                    if bdy * bdy - two * ca * (cdy - sigma_cut) < f0:
                        continue  # the ellipse sigma <= sigma_cut misses this row
                    row = np.uint64((py - ty0) * TILE)
                    done_before = n_done
                    # all TILE columns at once (fixed trip count: vectorised); masks do the rest
                    for j in range(TILE):
                        p = row + np.uint64(j)  # unsigned: no negative-index wraparound code
                        px = c(tx0 + j)
                        dx = mx - px
                        sigma = (half * ca * dx + bdy) * dx + cdy
                        alpha = min(max_alpha, op * _exp_neg_typed(min(max(sigma, f0), eight), exp_k))
                        tp = st[p + _T]
                        ok = (sigma >= f0) & (sigma <= sigma_cut) & (alpha >= threshold) & (tp > f0)
                        ok = ok & (px >= x0) & (px <= x1)
                        next_t = tp * (f1 - alpha)
                        use = ok & (next_t > t_eps)
                        wgt = alpha * tp if use else f0
                        st[p + _R] += cr * wgt
                        st[p + _G] += cg * wgt
                        st[p + _B] += cbl * wgt
                        st[p + _D] += z * wgt
                        st[p + _T] = next_t if use else (-tp if ok else tp)
                        last[p] = k if use else last[p]
                        n_done += 1 if (ok and not use) else 0
                    row_done[py - ty0] += n_done - done_before
                if n_done == TILE * TILE:
                    break
            for py in range(ty0, ty1 + 1):
                for px in range(tx0, tx1 + 1):
                    p = np.uint64((py - ty0) * TILE + px - tx0)
                    rgb[v, py, px, 0] = st[p + _R]
                    rgb[v, py, px, 1] = st[p + _G]
                    rgb[v, py, px, 2] = st[p + _B]
                    dep[v, py, px] = st[p + _D]
                    alpha_out[v, py, px] = f1 - abs(st[p + _T])
                    last_out[v, py, px] = last[p]


@njit(parallel=True, fastmath=True, cache=True)
def composite_backward(
    packed,
    boxes,
    offsets,
    isect,
    v_count,
    width,
    height,
    alpha_out,
    last_out,
    v_rgb,
    v_dep,
    v_alpha,
    n_workers,
):  # pragma: no cover
    """Exact backward pass of :func:`composite_forward` (back to front, per tile).

    Args:
        alpha_out, last_out: from the forward pass; v_rgb ``[V, H, W, 3]``, v_dep ``[V, H, W]``,
            v_alpha ``[V, H, W]``: gradients of the loss w.r.t. its three image outputs.

    Returns:
        ``[M, 10]`` gradients per tile intersection (entry of ``isect``) w.r.t. the 10 packed
        parameters (mean2d, conic, opacity, colour, depth). Sum them per Gaussian.
    """
    dt = packed.dtype
    tiles_x = (width + TILE - 1) // TILE
    tiles_y = (height + TILE - 1) // TILE
    n_tiles = tiles_x * tiles_y
    grads = np.zeros((isect.shape[0], 10), dt)
    for worker in prange(n_workers):
        trans = np.empty(TILE * TILE, np.float64)
        t_final = np.empty(TILE * TILE, np.float64)
        last = np.empty(TILE * TILE, np.int64)
        vout = np.empty((TILE * TILE, 5), np.float64)
        behind = np.empty((TILE * TILE, 4), np.float64)
        for job in range(worker, v_count * n_tiles, n_workers):
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
            behind[:] = 0.0
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
                q = isect[k]
                x0 = max(boxes[q, 0], tx0)
                x1 = min(boxes[q, 1], tx1)
                y0 = max(boxes[q, 2], ty0)
                y1 = min(boxes[q, 3], ty1)
                mx, my = packed[q, 0], packed[q, 1]
                ca, cb, cc = packed[q, 2], packed[q, 3], packed[q, 4]
                op = packed[q, 5]
                sigma_cut = packed[q, 10]
                cr, cg, cbl, z = packed[q, 6], packed[q, 7], packed[q, 8], packed[q, 9]
                g_mx = g_my = g_a = g_b = g_c = g_op = g_r = g_g = g_bl = g_z = 0.0
                for py in range(y0, y1 + 1):
                    dy = my - py
                    bdy = cb * dy
                    cdy = 0.5 * cc * dy * dy
                    xa, xb = _row_span(mx, ca, bdy, cdy, sigma_cut, x0, x1)
                    row = (py - ty0) * tw - tx0
                    for px in range(xa, xb + 1):
                        p = row + px
                        if k > last[p]:
                            continue
                        dx = mx - px
                        sigma = (0.5 * ca * dx + bdy) * dx + cdy
                        if sigma < 0.0 or sigma > sigma_cut:
                            continue
                        vis = _exp_neg(sigma)
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
                        v_al = trans[p] * (cr * vr + cg * vg + cbl * vb + z * vd) + va * t_final[p] * ra
                        v_al -= (behind[p, 0] * vr + behind[p, 1] * vg + behind[p, 2] * vb) * ra
                        v_al -= behind[p, 3] * vd * ra
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
