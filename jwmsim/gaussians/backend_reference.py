"""A dense PyTorch reference rasterizer: every pixel against every Gaussian, no tiles.

Quadratic in memory (``V x H x W x N``): for tests on small scenes only. It applies exactly the
rules of the CPU and gsplat backends (screen boxes, alpha threshold and clamp, early stop), so the
fast backends can be checked against it, values and autograd gradients alike.
"""

from __future__ import annotations

import torch

from jwmsim.gaussians.projection import ALPHA_THRESHOLD, project_gaussians

MAX_ALPHA = 0.999
T_EPS = 1e-4


def rasterize_reference(
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
    """Same contract as :func:`jwmsim.gaussians.backend_cpu.rasterize_cpu`."""
    viewmats = viewmats.to(means.device, means.dtype)
    ks = ks.to(means.device, means.dtype)
    proj = project_gaussians(
        means, quats, scales, opacities, viewmats, ks, width, height, near_plane, far_plane, eps2d
    )
    v_count, n = proj.depths.shape
    order = torch.argsort(proj.depths.detach(), dim=1, stable=True)  # [V, N]
    m2d = torch.gather(proj.means2d, 1, order[..., None].expand(-1, -1, 2))
    con = torch.gather(proj.conics, 1, order[..., None].expand(-1, -1, 3))
    dep = torch.gather(proj.depths, 1, order)
    rad = torch.gather(proj.radii, 1, order[..., None].expand(-1, -1, 2)).to(means.dtype)
    op = opacities[order]  # [V, N]
    col = colors[order]  # [V, N, 3]
    ys, xs = torch.meshgrid(
        torch.arange(height, dtype=means.dtype, device=means.device),
        torch.arange(width, dtype=means.dtype, device=means.device),
        indexing="ij",
    )
    px = xs.reshape(1, -1, 1)
    py = ys.reshape(1, -1, 1)  # [1, P, 1]
    dx = m2d[:, None, :, 0] - px  # [V, P, N]
    dy = m2d[:, None, :, 1] - py
    sigma = 0.5 * (con[:, None, :, 0] * dx * dx + con[:, None, :, 2] * dy * dy) + con[:, None, :, 1] * dx * dy
    alpha = (op[:, None, :] * torch.exp(-sigma)).clamp(max=MAX_ALPHA)
    with torch.no_grad():
        in_box = (
            (rad[:, None, :, 0] > 0) & (dx.abs() <= rad[:, None, :, 0]) & (dy.abs() <= rad[:, None, :, 1])
        )
        valid = in_box & (sigma >= 0) & (alpha >= ALPHA_THRESHOLD)
    a = torch.where(valid, alpha, torch.zeros_like(alpha))
    one_minus = 1.0 - a
    t_before = torch.cat([torch.ones_like(a[..., :1]), torch.cumprod(one_minus, -1)[..., :-1]], -1)
    with torch.no_grad():
        included = valid & (t_before * one_minus > T_EPS)
    w = torch.where(included, a * t_before, torch.zeros_like(a))  # [V, P, N]
    rgb = torch.einsum("vpn,vnc->vpc", w, col).reshape(v_count, height, width, 3)
    depth_acc = torch.einsum("vpn,vn->vp", w, dep).reshape(v_count, height, width)
    t_final = torch.prod(torch.where(included, one_minus, torch.ones_like(a)), -1)
    alpha_out = (1.0 - t_final).reshape(v_count, height, width)
    return rgb, depth_acc / alpha_out.clamp_min(1e-10), alpha_out
