"""Turning frames into WorldGen's inputs: images in [-1, 1], the skeleton condition, camera rays per
token and the ego motion between frames (numpy in, torch out; shapes per function)."""

from __future__ import annotations

import math

import numpy as np
import torch

from jwmsim.worldgen.configuration_worldgen import COND_CHANNELS


def images_to_model(images: np.ndarray | torch.Tensor) -> torch.Tensor:
    """uint8 ``[..., H, W, 3]`` -> float32 ``[..., 3, H, W]`` in [-1, 1]."""
    x = torch.as_tensor(np.asarray(images) if not isinstance(images, torch.Tensor) else images)
    x = x.float().div(127.5).sub(1.0)
    return x.movedim(-1, -3).contiguous()


def model_to_images(x: torch.Tensor) -> np.ndarray:
    """float ``[..., 3, H, W]`` in [-1, 1] -> uint8 ``[..., H, W, 3]`` (clipped, rounded)."""
    y = ((x.detach().float().clamp(-1.0, 1.0) + 1.0) * 127.5 + 0.5).to(torch.uint8)
    return y.movedim(-3, -1).cpu().numpy()


def encode_condition(
    rgb: np.ndarray | torch.Tensor,
    depth: np.ndarray | torch.Tensor,
    alpha: np.ndarray | torch.Tensor,
    depth_scale: float,
) -> torch.Tensor:
    """The skeleton condition ``[..., 5, H, W]`` float32.

    Args:
        rgb: uint8 ``[..., H, W, 3]``.
        depth: ``[..., H, W]`` [m], 0 where empty.
        alpha: ``[..., H, W]`` coverage in [0, 1].
        depth_scale: [m]; the depth feature is ``1 / (1 + depth / depth_scale)`` where depth > 0.

    Returns:
        channels: RGB in [-1, 1], the depth feature in [0, 1] (0 empty), alpha. A dropped
        condition (guidance) is all zeros, distinct from "nothing rendered" (RGB -1, alpha 0).
    """
    x = images_to_model(rgb)
    d = torch.as_tensor(np.asarray(depth, dtype=np.float32) if not isinstance(depth, torch.Tensor) else depth)
    d = d.float()
    feat = torch.where(d > 0, 1.0 / (1.0 + d.clamp_min(0) / depth_scale), torch.zeros_like(d))
    a = torch.as_tensor(np.asarray(alpha, dtype=np.float32) if not isinstance(alpha, torch.Tensor) else alpha)
    out = torch.cat([x, feat.unsqueeze(-3), a.float().clamp(0, 1).unsqueeze(-3)], dim=-3)
    assert out.shape[-3] == COND_CHANNELS
    return out


def padded_hw(hw: tuple[int, int], patch: int) -> tuple[int, int]:
    """``(H, W)`` rounded up to multiples of ``patch``."""
    return (math.ceil(hw[0] / patch) * patch, math.ceil(hw[1] / patch) * patch)


def token_rays(
    intrinsics: np.ndarray, ego_from_cam: np.ndarray, image_hw: tuple[int, int], patch: int
) -> torch.Tensor:
    """Unit ray directions in the ego frame at the token centres, ``[C, h, w, 3]`` float32.

    Args:
        intrinsics: ``[C, 3, 3]`` pinhole matrices at ``image_hw`` [px].
        ego_from_cam: ``[C, 4, 4]`` camera mountings (OpenCV camera axes).
        image_hw: ``(H, W)`` of the images [px]; the token grid covers the padded image
            (``padded_hw / patch`` tokens; rays of the padding extrapolate the pinhole).
        patch: pixels per token side.
    """
    ph, pw = padded_hw(image_hw, patch)
    h, w = ph // patch, pw // patch
    v, u = np.meshgrid((np.arange(h) + 0.5) * patch - 0.5, (np.arange(w) + 0.5) * patch - 0.5, indexing="ij")
    pix = np.stack([u, v, np.ones_like(u)], axis=-1)  # [h, w, 3]
    k_inv = np.linalg.inv(np.asarray(intrinsics, dtype=np.float64))  # [C, 3, 3]
    dirs = np.einsum("cij,hwj->chwi", k_inv, pix)
    rot = np.asarray(ego_from_cam, dtype=np.float64)[:, :3, :3]
    dirs = np.einsum("cij,chwj->chwi", rot, dirs)
    dirs /= np.linalg.norm(dirs, axis=-1, keepdims=True)
    return torch.from_numpy(dirs.astype(np.float32))


def ego_motion(world_from_ego: np.ndarray, previous: np.ndarray | None = None) -> torch.Tensor:
    """Motion of the ego since the frame before, in that frame's ego axes: ``[T, 4]`` float32
    ``(dx, dy, dz, dyaw)`` [m, m, m, rad].

    Args:
        world_from_ego: ``[T, 4, 4]`` poses, oldest first.
        previous: ``[4, 4]`` pose of the frame before the first (None: the first row is zeros).
    """
    poses = np.asarray(world_from_ego, dtype=np.float64)
    if poses.ndim != 3 or poses.shape[1:] != (4, 4):
        raise ValueError(f"world_from_ego must be [T, 4, 4], got {poses.shape}")
    prev = np.concatenate([poses[:1] if previous is None else np.asarray(previous)[None], poses[:-1]], axis=0)
    rel = np.linalg.inv(prev) @ poses
    yaw = np.arctan2(rel[:, 1, 0], rel[:, 0, 0])
    out = np.concatenate([rel[:, :3, 3], yaw[:, None]], axis=1)
    return torch.from_numpy(out.astype(np.float32))
