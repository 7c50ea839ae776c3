"""The CUDA render backend: ``gsplat.rasterization`` (gsplat 1.5), with jwmsim's conventions.

gsplat puts pixel centres at ``+0.5`` (a pixel covers ``[u, u + 1)``), jwmsim at integers; the
principal point is shifted by half a pixel so both backends draw the same image. The projection
settings (classic mode, ``eps2d``, near/far planes, opacity-aware extent) are the ones
:mod:`jwmsim.gaussians.projection` reproduces on the CPU.
"""

from __future__ import annotations

import torch

from jwmsim.errors import ConfigError


def rasterize_gsplat(
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
    """Same contract as :func:`jwmsim.gaussians.backend_cpu.rasterize_cpu`; inputs on a CUDA device."""
    if means.device.type != "cuda":
        raise ConfigError(
            f"the gsplat backend needs the scene on a CUDA device, it is on {means.device}",
            hint="move the scene with scene.to('cuda') or use backend='cpu'",
        )
    from gsplat import rasterization  # imported lazily: gsplat compiles its CUDA code on first use

    ks_gsplat = ks.to(means.device, torch.float32).clone()
    ks_gsplat[:, 0, 2] += 0.5
    ks_gsplat[:, 1, 2] += 0.5
    renders, alphas, _meta = rasterization(
        means=means.float(),
        quats=quats.float(),
        scales=scales.float(),
        opacities=opacities.float(),
        colors=colors.float(),
        viewmats=viewmats.to(means.device, torch.float32),
        Ks=ks_gsplat,
        width=width,
        height=height,
        near_plane=near_plane,
        far_plane=far_plane,
        eps2d=eps2d,
        sh_degree=None,
        packed=False,
        tile_size=16,
        render_mode="RGB+ED",
        rasterize_mode="classic",
    )  # renders [V, H, W, 4] (RGB premultiplied, expected depth), alphas [V, H, W, 1]
    return renders[..., :3], renders[..., 3], alphas[..., 0]
