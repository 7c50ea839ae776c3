"""The CPU render backend: projection (numba when no gradient is needed, PyTorch autograd when one
is), tile binning and compositing in numba, wrapped in a ``torch.autograd.Function`` with an exact
backward pass."""

from __future__ import annotations

import numba
import numpy as np
import torch

from jwmsim.gaussians import cpu_kernels
from jwmsim.gaussians.projection import project_gaussians
from jwmsim.gaussians.workspace import thread_workspace


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().contiguous().cpu().numpy()


def set_threads(n: int) -> None:
    """Threads of the CPU rasterizer's numba kernels (default: every core numba sees). Independent
    of ``torch.set_num_threads``: the PyTorch side of a render is small element-wise work."""
    numba.set_num_threads(max(1, min(int(n), numba.config.NUMBA_NUM_THREADS)))


def _n_workers() -> int:
    """Interleaved tile queues: a few per thread, so that heavy tiles spread over the threads."""
    return 4 * numba.get_num_threads()


def depth_sort_keys(depths: np.ndarray) -> tuple[np.ndarray, int]:
    """Unsigned keys ``[V, N]`` that sort like positive ``depths`` (their IEEE bit patterns, a view:
    uint32 for float32, uint64 for float64), and the number of significant bytes (4 or 8)."""
    if depths.dtype == np.float32:
        return depths.view(np.uint32), 4
    return depths.astype(np.float64, copy=False).view(np.uint64), 8


class _CompositeCPU(torch.autograd.Function):
    """(means2d, conics, opacities, colors, depths) -> (rgb premultiplied, depth_acc, alpha)."""

    @staticmethod
    def forward(ctx, means2d, conics, opacities, colors, depths, binning, width, height, workspace):  # type: ignore[override]
        packed, boxes, offsets, isect, packed_ids = binning
        v_count, n = depths.shape
        rgb, dep, alpha, last = cpu_kernels.composite_forward(
            packed, boxes, offsets, isect, v_count, width, height, _n_workers(), workspace
        )
        ctx.state = (packed, binning, (v_count, n, width, height), alpha, last)
        return torch.from_numpy(rgb), torch.from_numpy(dep), torch.from_numpy(alpha)

    @staticmethod
    def backward(ctx, v_rgb, v_dep, v_alpha):  # type: ignore[override]
        packed, (_, boxes, offsets, isect, packed_ids), (v_count, n, width, height), alpha, last = ctx.state
        dt = packed.dtype

        def grad_or_zero(g: torch.Tensor | None, shape: tuple[int, ...]) -> np.ndarray:
            if g is None:
                return np.zeros(shape, dt)
            return g.detach().contiguous().numpy().astype(dt, copy=False)

        g = cpu_kernels.composite_backward(
            packed, boxes, offsets, isect, v_count, width, height, alpha, last,
            grad_or_zero(v_rgb, (*alpha.shape, 3)), grad_or_zero(v_dep, alpha.shape),
            grad_or_zero(v_alpha, alpha.shape), _n_workers(),
        )  # fmt: skip
        grads = torch.from_numpy(g)
        tdt = grads.dtype
        per_packed = torch.zeros(len(packed_ids), cpu_kernels.N_GRADS, dtype=tdt)
        per_packed.index_add_(0, torch.from_numpy(isect), grads)
        flat = torch.from_numpy(packed_ids)
        gid = flat % n
        v_means2d = torch.zeros(v_count * n, 2, dtype=tdt)
        v_means2d[flat] = per_packed[:, 0:2]
        v_conics = torch.zeros(v_count * n, 3, dtype=tdt)
        v_conics[flat] = per_packed[:, 2:5]
        v_depth = torch.zeros(v_count * n, dtype=tdt)
        v_depth[flat] = per_packed[:, 9]
        v_op = torch.zeros(n, dtype=tdt).index_add_(0, gid, per_packed[:, 5])
        v_col = torch.zeros(n, 3, dtype=tdt).index_add_(0, gid, per_packed[:, 6:9])
        return (
            v_means2d.view(v_count, n, 2),
            v_conics.view(v_count, n, 3),
            v_op,
            v_col,
            v_depth.view(v_count, n),
            None,
            None,
            None,
            None,
        )


def rasterize_cpu_arrays(
    means: np.ndarray,
    quats: np.ndarray,
    scales: np.ndarray,
    opacities: np.ndarray,
    colors: np.ndarray,
    viewmats: torch.Tensor,
    ks: torch.Tensor,
    width: int,
    height: int,
    near_plane: float,
    far_plane: float,
    eps2d: float = 0.3,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """:func:`rasterize_cpu` without a gradient, from numpy arrays (activated values, one dtype):
    means ``[N, 3]`` [m], quats ``[N, 4]``, scales ``[N, 3]`` [m], opacities ``[N]``, colors
    ``[N, 3]``. Intermediates live in this thread's reused workspace."""
    dt = torch.from_numpy(means[:0]).dtype
    vm, kk = _np(viewmats.to("cpu", dt)), _np(ks.to("cpu", dt))
    ws = thread_workspace()
    means2d, conics, depths, radii = cpu_kernels.project(
        means, quats, scales, opacities, vm, kk, width, height, near_plane, far_plane, eps2d, ws
    )
    keys, key_bytes = depth_sort_keys(depths)
    packed, boxes, offsets, isect, _ = cpu_kernels.bin_tiles(
        means2d, conics, opacities, colors, depths, radii, keys, key_bytes, width, height, ws
    )
    rgb, dep, alpha, _ = cpu_kernels.composite_forward(
        packed, boxes, offsets, isect, vm.shape[0], width, height, _n_workers(), ws
    )
    rgb_t, alpha_t = torch.from_numpy(rgb), torch.from_numpy(alpha)
    return rgb_t, torch.from_numpy(dep) / alpha_t.clamp_min(1e-10), alpha_t


def rasterize_cpu(
    means: torch.Tensor,
    quats: torch.Tensor,
    scales: torch.Tensor,
    opacities: torch.Tensor,
    colors: torch.Tensor,
    viewmats: torch.Tensor,
    ks: torch.Tensor,
    width: int,
    height: int,
    near_plane: float,
    far_plane: float,
    eps2d: float = 0.3,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Render world-frame Gaussians (activated values) into V cameras on the CPU.

    Args:
        means ``[N, 3]`` [m], quats ``[N, 4]``, scales ``[N, 3]`` [m], opacities ``[N]``,
        colors ``[N, 3]``; viewmats ``[V, 4, 4]`` camera_from_world; ks ``[V, 3, 3]``.

    Returns:
        rgb ``[V, H, W, 3]`` premultiplied by alpha (no sky), expected depth ``[V, H, W]`` [m]
        (0 where nothing is drawn), alpha ``[V, H, W]``. Differentiable in all Gaussian inputs.
    """
    dtype = means.dtype
    viewmats = viewmats.to("cpu", dtype)
    ks = ks.to("cpu", dtype)
    inputs = (means, quats, scales, opacities, colors)
    need_grad = torch.is_grad_enabled() and any(t.requires_grad for t in inputs)
    # without a gradient nothing outlives the call: intermediates go to reused buffers
    ws = None if need_grad else thread_workspace()
    out = cpu_kernels.project(
        *(_np(t) for t in (means, quats, scales, opacities, viewmats, ks)),
        width, height, near_plane, far_plane, eps2d, ws,
    )  # fmt: skip
    if need_grad:
        # differentiable projection of the Gaussians that some camera sees (the numba pass culls)
        seen = torch.from_numpy(np.flatnonzero((out[3][..., 0] > 0).any(0)))
        means, quats, scales = means[seen], quats[seen], scales[seen]
        opacities, colors = opacities[seen], colors[seen]
        proj = project_gaussians(
            means, quats, scales, opacities, viewmats, ks, width, height, near_plane, far_plane, eps2d
        )
        means2d, conics, depths, radii = proj.means2d, proj.conics, proj.depths, proj.radii
        radii_np = radii.numpy()
    else:
        means2d, conics, depths = (torch.from_numpy(a) for a in out[:3])
        radii_np = out[3]
    keys, key_bytes = depth_sort_keys(_np(depths))
    binning = cpu_kernels.bin_tiles(
        *(_np(t) for t in (means2d, conics, opacities, colors, depths)),
        radii_np,
        keys,
        key_bytes,
        width,
        height,
        ws,
    )
    rgb, depth_acc, alpha = _CompositeCPU.apply(
        means2d, conics, opacities, colors, depths, binning, width, height, ws
    )
    depth = depth_acc / alpha.clamp_min(1e-10)
    return rgb, depth, alpha


def blending_weights_cpu(
    means: np.ndarray,
    quats: np.ndarray,
    scales: np.ndarray,
    opacities: np.ndarray,
    viewmats: torch.Tensor,
    ks: torch.Tensor,
    width: int,
    height: int,
    near_plane: float,
    far_plane: float,
    eps2d: float = 0.3,
) -> np.ndarray:
    """Each Gaussian's total blending weight over every pixel of V cameras (numba, no autograd).

    The weight of a Gaussian at a pixel is ``alpha * T`` (its share of the pixel's colour); summed
    over the pixels it is the Gaussian's footprint in pixels as the cameras see it, occlusion
    included. It equals the gradient of the red channel's image sum with respect to the Gaussian's
    red colour, which the exact backward kernel computes.

    Args:
        means ``[N, 3]`` [m], quats ``[N, 4]``, scales ``[N, 3]`` [m], opacities ``[N]`` (activated,
        one dtype); viewmats ``[V, 4, 4]`` camera_from_world; ks ``[V, 3, 3]``.

    Returns:
        ``[N]`` float64 weights [pixels].
    """
    n, dt = means.shape[0], means.dtype
    tdt = torch.from_numpy(means[:0]).dtype
    vm, kk = _np(viewmats.to("cpu", tdt)), _np(ks.to("cpu", tdt))
    means2d, conics, depths, radii = cpu_kernels.project(
        means, quats, scales, opacities, vm, kk, width, height, near_plane, far_plane, eps2d
    )
    keys, key_bytes = depth_sort_keys(depths)
    packed, boxes, offsets, isect, packed_ids = cpu_kernels.bin_tiles(
        means2d, conics, opacities, np.zeros((n, 3), dt), depths, radii, keys, key_bytes, width, height
    )
    v_count = vm.shape[0]
    _, _, alpha, last = cpu_kernels.composite_forward(
        packed, boxes, offsets, isect, v_count, width, height, _n_workers()
    )
    v_rgb = np.zeros((*alpha.shape, 3), dt)
    v_rgb[..., 0] = 1.0
    zeros = np.zeros(alpha.shape, dt)
    g = cpu_kernels.composite_backward(
        packed, boxes, offsets, isect, v_count, width, height, alpha, last, v_rgb, zeros, zeros, _n_workers()
    )
    per_packed = np.bincount(isect, weights=g[:, 6], minlength=len(packed_ids))
    return np.bincount(packed_ids % n, weights=per_packed, minlength=n)
