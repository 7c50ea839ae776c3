"""EWA projection of 3D Gaussians into pinhole cameras (differentiable PyTorch).

Conventions follow gsplat 1.5 (``fully_fused_projection``, pinhole, classic mode) so that the CPU
and CUDA backends agree: a blur ``eps2d`` is added to the 2D covariance, the Jacobian is evaluated
at the mean clamped to 1.3x the field of view, and the screen-space extent is opacity-aware
(``min(3.33, sqrt(2 ln(255 o)))`` standard deviations). Pixel coordinates use the jwmsim
convention (pixel centres at integers); gsplat's (centres at ``+0.5``) differ by half a pixel,
which :mod:`jwmsim.gaussians.backend_gsplat` accounts for.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

ALPHA_THRESHOLD = 1.0 / 255.0  # contributions below this are skipped (as gsplat)
MAX_EXTENT_SIGMA = 3.33  # screen-space extent in standard deviations, at most


def quat_to_rotmat(quats: torch.Tensor) -> torch.Tensor:
    """``[..., 4]`` quaternions ``(w, x, y, z)`` (any non-zero norm) -> ``[..., 3, 3]`` rotations."""
    q = quats / quats.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    w, x, y, z = q.unbind(-1)
    return torch.stack(
        [
            1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
            2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
            2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
        ],
        -1,
    ).reshape(*q.shape[:-1], 3, 3)  # fmt: skip


def quat_scale_to_covariance(quats: torch.Tensor, scales: torch.Tensor) -> torch.Tensor:
    """``Sigma = R S S^T R^T`` ``[N, 3, 3]`` from quaternions ``[N, 4]`` and scales ``[N, 3]`` [m]."""
    m = quat_to_rotmat(quats) * scales[..., None, :]
    return m @ m.transpose(-1, -2)


@dataclass(frozen=True)
class Projection:
    """Gaussians seen by V cameras.

    Attributes:
        means2d: ``[V, N, 2]`` pixel coordinates (u right, v down) of the centres.
        conics: ``[V, N, 3]`` inverse 2D covariance ``(a, b, c)``: ``[[a, b], [b, c]]`` [px^-2].
        depths: ``[V, N]`` camera z of the centres [m].
        radii: ``[V, N, 2]`` int32 screen extent in x and y [px]; 0 where the Gaussian is culled.
    """

    means2d: torch.Tensor
    conics: torch.Tensor
    depths: torch.Tensor
    radii: torch.Tensor


def project_gaussians(
    means: torch.Tensor,
    quats: torch.Tensor,
    scales: torch.Tensor,
    opacities: torch.Tensor,
    viewmats: torch.Tensor,
    ks: torch.Tensor,
    width: int,
    height: int,
    near_plane: float = 0.01,
    far_plane: float = 1e10,
    eps2d: float = 0.3,
) -> Projection:
    """Project ``N`` Gaussians into ``V`` cameras (differentiable in every float input).

    Args:
        means: ``[N, 3]`` world centres [m]; quats ``[N, 4]``; scales ``[N, 3]`` [m];
            opacities ``[N]`` in (0, 1) (used only for the extent and culling).
        viewmats: ``[V, 4, 4]`` camera_from_world (OpenCV camera frame).
        ks: ``[V, 3, 3]`` intrinsics, pixel centres at integer coordinates.
        width, height: image size [px].
    """
    rot, trans = viewmats[:, :3, :3], viewmats[:, :3, 3]
    means_c = torch.einsum("vij,nj->vni", rot, means) + trans[:, None, :]
    cov = quat_scale_to_covariance(quats, scales)
    cov_c = torch.einsum("vij,njk,vlk->vnil", rot, cov, rot)
    x, y, z = means_c.unbind(-1)
    in_depth = (z > near_plane) & (z < far_plane)
    z_safe = torch.where(in_depth, z, torch.ones_like(z))
    fx, fy = ks[:, 0, 0, None], ks[:, 1, 1, None]
    cx, cy = ks[:, 0, 2, None], ks[:, 1, 2, None]
    tan_x, tan_y = 0.5 * width / fx, 0.5 * height / fy
    lim_xp, lim_xn = (width - (cx + 0.5)) / fx + 0.3 * tan_x, (cx + 0.5) / fx + 0.3 * tan_x
    lim_yp, lim_yn = (height - (cy + 0.5)) / fy + 0.3 * tan_y, (cy + 0.5) / fy + 0.3 * tan_y
    rz = 1.0 / z_safe
    tx = z_safe * torch.minimum(lim_xp, torch.maximum(-lim_xn, x * rz))
    ty = z_safe * torch.minimum(lim_yp, torch.maximum(-lim_yn, y * rz))
    zero = torch.zeros_like(rz)
    jac = torch.stack([fx * rz, zero, -fx * tx * rz * rz, zero, fy * rz, -fy * ty * rz * rz], -1).reshape(
        *rz.shape, 2, 3
    )
    cov2d = jac @ cov_c @ jac.transpose(-1, -2)
    c00 = cov2d[..., 0, 0] + eps2d
    c11 = cov2d[..., 1, 1] + eps2d
    c01 = 0.5 * (cov2d[..., 0, 1] + cov2d[..., 1, 0])
    det = c00 * c11 - c01 * c01
    det_safe = torch.where(det > 0, det, torch.ones_like(det))
    conics = torch.stack([c11 / det_safe, -c01 / det_safe, c00 / det_safe], -1)
    means2d = torch.stack([fx * x * rz + cx, fy * y * rz + cy], -1)
    with torch.no_grad():
        op = opacities.detach()[None, :].expand_as(z)
        extent = torch.sqrt(2.0 * torch.log((op / ALPHA_THRESHOLD).clamp_min(1.0))).clamp_max(
            MAX_EXTENT_SIGMA
        )
        rx = torch.ceil(extent * torch.sqrt(c00.detach().clamp_min(0)))
        ry = torch.ceil(extent * torch.sqrt(c11.detach().clamp_min(0)))
        u, v = means2d.detach()[..., 0] + 0.5, means2d.detach()[..., 1] + 0.5
        visible = (
            in_depth
            & (det.detach() > 0)
            & (op >= ALPHA_THRESHOLD)
            & (u + rx > 0)
            & (u - rx < width)
            & (v + ry > 0)
            & (v - ry < height)
        )
        radii = torch.stack([rx, ry], -1) * visible[..., None]
    return Projection(means2d, conics, z, radii.to(torch.int32))
