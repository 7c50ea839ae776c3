"""``render(scene, cameras, ego_pose, actor_poses, size_hw)``: RGB, expected depth and alpha of a
:class:`~jwmsim.gaussians.scene.GaussianScene` for every camera of a rig, batched.

Backends (same meaning, checked against each other in the tests):

* ``"cpu"``: numba tile rasterizer with an exact backward pass (:mod:`.backend_cpu`);
* ``"gsplat"``: ``gsplat.rasterization`` on CUDA (:mod:`.backend_gsplat`);
* ``"reference"``: dense PyTorch, small scenes only (:mod:`.backend_reference`);
* ``"auto"``: gsplat when the scene is on a CUDA device, else cpu.

The sky fills what the Gaussians leave: ``rgb = rgb_gaussians + (1 - alpha) * sky(ray direction)``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass

import numpy as np
import torch

from jwmsim.errors import ConfigError
from jwmsim.gaussians.backend_cpu import rasterize_cpu, rasterize_cpu_arrays
from jwmsim.gaussians.backend_gsplat import rasterize_gsplat
from jwmsim.gaussians.backend_reference import rasterize_reference
from jwmsim.gaussians.cpu_compose import needs_grad, thread_scene_arrays
from jwmsim.gaussians.scene import GaussianComponent, GaussianScene, SkyModel
from jwmsim.geometry import SE3
from jwmsim.logs.segment import Camera

Rasterizer = Callable[..., tuple[torch.Tensor, torch.Tensor, torch.Tensor]]
BACKENDS: dict[str, Rasterizer] = {
    "cpu": rasterize_cpu,
    "gsplat": rasterize_gsplat,
    "reference": rasterize_reference,
}
NEAR_PLANE = 0.05  # [m]
FAR_PLANE = 1e4  # [m]


@dataclass(frozen=True)
class RenderOutput:
    """Renders of V cameras.

    Attributes:
        rgb: ``[V, H, W, 3]`` in [0, 1], sky composited behind the Gaussians.
        depth: ``[V, H, W]`` expected camera z-depth of the Gaussians [m] (0 where alpha is 0).
        alpha: ``[V, H, W]`` Gaussian coverage in [0, 1].
    """

    rgb: torch.Tensor
    depth: torch.Tensor
    alpha: torch.Tensor


def camera_matrices(
    cameras: Sequence[Camera], ego_pose: SE3, size_hw: tuple[int, int]
) -> tuple[torch.Tensor, torch.Tensor, list[SE3]]:
    """``viewmats`` ``[V, 4, 4]`` (camera_from_world, float64), ``ks`` ``[V, 3, 3]`` for images of
    ``size_hw``, and the ``world_from_cam`` poses."""
    h, w = size_hw
    poses = [ego_pose @ cam.ego_from_cam for cam in cameras]
    viewmats = torch.from_numpy(np.stack([p.inverse().matrix for p in poses]))
    ks = torch.from_numpy(np.stack([cam.intrinsics.resized(w, h).matrix for cam in cameras]))
    return viewmats, ks, poses


def sky_directions(viewmats: torch.Tensor, ks: torch.Tensor, size_hw: tuple[int, int]) -> torch.Tensor:
    """``[V, H, W, 3]`` world-frame ray directions (unnormalised) through every pixel centre, in the
    dtype of ``ks``."""
    h, w = size_hw
    ys, xs = torch.meshgrid(torch.arange(h, dtype=ks.dtype), torch.arange(w, dtype=ks.dtype), indexing="ij")
    pix = torch.stack([xs, ys, torch.ones_like(xs)], -1)  # [H, W, 3]
    world_from_pixel = viewmats[:, :3, :3].transpose(-1, -2).to(ks.dtype) @ torch.linalg.inv(ks)  # [V, 3, 3]
    return torch.einsum("vij,hwj->vhwi", world_from_pixel, pix)


def resolve_backend(backend: str, device: torch.device) -> str:
    if backend == "auto":
        return "gsplat" if device.type == "cuda" else "cpu"
    if backend not in BACKENDS:
        raise ConfigError(f"unknown render backend {backend!r}", hint=f"use one of {['auto', *BACKENDS]}")
    return backend


def render_gaussians(
    gaussians: GaussianComponent,
    sky: SkyModel | None,
    viewmats: torch.Tensor,
    ks: torch.Tensor,
    size_hw: tuple[int, int],
    backend: str = "auto",
    near_plane: float = NEAR_PLANE,
    far_plane: float = FAR_PLANE,
) -> RenderOutput:
    """Render world-frame Gaussians into V cameras given as matrices.

    Args:
        gaussians: world-frame Gaussians (raw parameters; differentiable).
        sky: sky model, or None for a black background.
        viewmats: ``[V, 4, 4]`` camera_from_world (OpenCV camera frame).
        ks: ``[V, 3, 3]`` intrinsics for ``size_hw`` images (pixel centres at integers).
        size_hw: ``(height, width)`` [px].
    """
    name = resolve_backend(backend, gaussians.device)
    if gaussians.device.type != "cpu":
        return _render(gaussians, sky, viewmats, ks, size_hw, name, near_plane, far_plane)
    with one_torch_thread():
        return _render(gaussians, sky, viewmats, ks, size_hw, name, near_plane, far_plane)


@contextmanager
def one_torch_thread() -> Iterator[None]:
    """Run PyTorch single-threaded inside the block. The PyTorch side of a CPU render is small
    element-wise work, and PyTorch's OpenMP threads spin after each operation, starving the numba
    rasterizer's threads: with 2 PyTorch threads on 2 busy cores, renders were up to 10x slower."""
    before = torch.get_num_threads()
    if before == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _render(
    gaussians: GaussianComponent,
    sky: SkyModel | None,
    viewmats: torch.Tensor,
    ks: torch.Tensor,
    size_hw: tuple[int, int],
    name: str,
    near_plane: float,
    far_plane: float,
) -> RenderOutput:
    h, w = size_hw
    dev = gaussians.device
    if len(gaussians) == 0:
        v = viewmats.shape[0]
        zeros = torch.zeros(v, h, w, dtype=gaussians.means.dtype, device=dev)
        rgb, depth, alpha = zeros[..., None].expand(v, h, w, 3), zeros, zeros
    else:
        rgb, depth, alpha = BACKENDS[name](
            gaussians.means,
            gaussians.quats,
            gaussians.scales,
            gaussians.opacities,
            gaussians.colors,
            viewmats,
            ks,
            w,
            h,
            near_plane,
            far_plane,
        )
    return _with_sky(rgb, depth, alpha, sky, viewmats, ks, size_hw)


def _with_sky(
    rgb: torch.Tensor,
    depth: torch.Tensor,
    alpha: torch.Tensor,
    sky: SkyModel | None,
    viewmats: torch.Tensor,
    ks: torch.Tensor,
    size_hw: tuple[int, int],
) -> RenderOutput:
    """The sky behind the Gaussians: ``rgb + (1 - alpha) * sky(direction)``."""
    if sky is not None:
        dev = rgb.device
        dirs = sky_directions(viewmats.detach().cpu(), ks.detach().cpu().float(), size_hw).to(dev)
        rgb = rgb + (1.0 - alpha)[..., None] * sky.to(dev).colors(dirs).to(rgb.dtype)
    return RenderOutput(rgb=rgb, depth=depth, alpha=alpha)


def render(
    scene: GaussianScene,
    cameras: Sequence[Camera],
    ego_pose: SE3,
    actor_poses: Mapping[str, SE3],
    size_hw: tuple[int, int],
    backend: str = "auto",
    extra_actors: Mapping[str, GaussianComponent] | None = None,
    near_plane: float = NEAR_PLANE,
    far_plane: float = FAR_PLANE,
) -> RenderOutput:
    """Render ``scene`` from every camera of a rig mounted on the ego at ``ego_pose``.

    Args:
        scene: the Gaussian scene.
        cameras: the rig (intrinsics at native size are resized to ``size_hw``).
        ego_pose: ``world_from_ego``.
        actor_poses: ``world_from_box`` of the actors to draw, by id; scene actors not listed are
            not drawn; ids not in the scene must be in ``extra_actors`` (assets to insert).
        size_hw: ``(height, width)`` of the renders [px].
        backend: ``"auto"``, ``"cpu"``, ``"gsplat"`` or ``"reference"``.

    Returns:
        :class:`RenderOutput` with ``V = len(cameras)``.
    """
    if not cameras:
        raise ConfigError("render() needs at least one camera", hint="pass the rig's cameras")
    with one_torch_thread() if scene.device.type == "cpu" else nullcontext():
        viewmats, ks, _ = camera_matrices(cameras, ego_pose, size_hw)
        name = resolve_backend(backend, scene.device)
        if name == "cpu" and scene.device.type == "cpu" and not needs_grad(scene, extra_actors):
            # the common case (an environment step): no torch compose, cached background arrays
            arrays = thread_scene_arrays().compose(scene, actor_poses, extra_actors or {})
            if len(arrays[0]):
                rgb, depth, alpha = rasterize_cpu_arrays(
                    *arrays, viewmats, ks, size_hw[1], size_hw[0], near_plane, far_plane
                )
                return _with_sky(rgb, depth, alpha, scene.sky, viewmats, ks, size_hw)
        world = scene.compose(actor_poses, extra_actors)
        return render_gaussians(world, scene.sky, viewmats, ks, size_hw, backend, near_plane, far_plane)
