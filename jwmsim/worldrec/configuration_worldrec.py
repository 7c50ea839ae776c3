"""Sizes of a :class:`~jwmsim.worldrec.modeling_worldrec.WorldRecModel` (a diffusers ``ConfigMixin``).

The same fields are the model's ``__init__`` arguments, so ``config.json`` written by
``save_pretrained`` is a serialised :class:`WorldRecConfig`. Named presets: ``tiny-cpu`` (2 CPU
cores) and ``gpu``.
"""

from __future__ import annotations

from typing import Any

from diffusers.configuration_utils import ConfigMixin, register_to_config

from jwmsim.errors import ConfigError


class WorldRecConfig(ConfigMixin):
    """WorldRec hyper-parameters (units in comments).

    Args:
        image_hw: ``(height, width)`` the context images are resized to [px].
        enc_channels: channels of the three encoder stages (strides 2, 4, 8); features at stride 4.
        feat_dim: channels of the image feature map the queries sample [F].
        query_dim: width of a query token [D].
        num_points: key points per query for deformable sampling (the first sits on the anchor).
        gaussians_per_query: K Gaussians decoded per query.
        max_time_steps: context time steps a window may hold (size of the time embedding).
        fourier_bands: frequency bands of the Fourier position encoding.
        fourier_scale: wavelength of the lowest band [m].
        lidar_voxel: base voxel of the lidar-seeded background queries [m] (doubles every
            ``lidar_voxel_range`` metres from the ego).
        lidar_voxel_range: [m].
        max_lidar_queries: cap on lidar-seeded background queries per window.
        anchor_voxel: voxel of the ego-centred anchor grid [m].
        anchor_extent: ``(x_back, x_front, y_half, z_low, z_high)`` of the anchor grid in the ego
            frame [m].
        max_anchor_queries: cap on anchor queries per window.
        actor_voxel: voxel of the actor queries in the box frame [m].
        max_actor_queries: cap per actor.
        offset_scale: key-point and Gaussian offsets, in units of the query's voxel.
        scale_range: ``(lo, hi)`` Gaussian standard deviation, in units of the query's voxel.
        visibility_tau: softness of the depth test ``sigmoid((D - z) / tau)`` [m] at 10 m (grows
            linearly with depth).
        sky_hw: ``(rows, cols)`` of the predicted sky map.
    """

    config_name = "config.json"

    @register_to_config
    def __init__(
        self,
        image_hw: tuple[int, int] = (90, 160),
        enc_channels: tuple[int, int, int] = (16, 32, 48),
        feat_dim: int = 32,
        query_dim: int = 64,
        num_points: int = 4,
        gaussians_per_query: int = 4,
        max_time_steps: int = 8,
        fourier_bands: int = 6,
        fourier_scale: float = 64.0,
        lidar_voxel: float = 0.3,
        lidar_voxel_range: float = 15.0,
        max_lidar_queries: int = 5000,
        anchor_voxel: float = 3.0,
        anchor_extent: tuple[float, float, float, float, float] = (-30.0, 50.0, 30.0, -1.0, 15.0),
        max_anchor_queries: int = 1500,
        actor_voxel: float = 0.15,
        max_actor_queries: int = 150,
        offset_scale: float = 1.0,
        scale_range: tuple[float, float] = (0.08, 2.5),
        visibility_tau: float = 0.5,
        sky_hw: tuple[int, int] = (8, 16),
    ) -> None:
        check_config(dict(locals()))


def check_config(values: dict[str, Any]) -> None:
    """Cross-field checks shared by :class:`WorldRecConfig` and the model (raises ConfigError)."""
    h, w = values["image_hw"]
    if h < 16 or w < 16:
        raise ConfigError(f"WorldRec image_hw must be at least 16x16 px, got {values['image_hw']}")
    if len(values["enc_channels"]) != 3 or min(values["enc_channels"]) < 1:
        raise ConfigError(f"enc_channels needs 3 positive entries, got {values['enc_channels']}")
    for key in ("feat_dim", "query_dim", "num_points", "gaussians_per_query", "max_time_steps"):
        if int(values[key]) < 1:
            raise ConfigError(f"WorldRec {key} must be >= 1, got {values[key]}")
    for key in ("lidar_voxel", "anchor_voxel", "actor_voxel", "visibility_tau", "offset_scale"):
        if float(values[key]) <= 0:
            raise ConfigError(f"WorldRec {key} must be positive, got {values[key]}")
    lo, hi = values["scale_range"]
    if not 0 < lo < hi:
        raise ConfigError(f"scale_range must satisfy 0 < lo < hi, got {values['scale_range']}")
    xb, xf, yh, zl, zh = values["anchor_extent"]
    if not (xb < xf and yh > 0 and zl < zh):
        raise ConfigError(f"anchor_extent {values['anchor_extent']} is empty")


PRESETS: dict[str, dict[str, Any]] = {
    "tiny-cpu": {},
    "gpu": {
        "image_hw": (180, 320),
        "enc_channels": (32, 64, 128),
        "feat_dim": 64,
        "query_dim": 128,
        "num_points": 6,
        "gaussians_per_query": 8,
        "lidar_voxel": 0.2,
        "max_lidar_queries": 40000,
        "anchor_voxel": 1.5,
        "max_anchor_queries": 8000,
        "actor_voxel": 0.1,
        "max_actor_queries": 1500,
    },
}


def preset_config(name: str) -> WorldRecConfig:
    """The :class:`WorldRecConfig` of a named preset (``tiny-cpu`` or ``gpu``)."""
    if name not in PRESETS:
        raise ConfigError(f"unknown WorldRec preset {name!r}", hint=f"use one of {sorted(PRESETS)}")
    return WorldRecConfig(**PRESETS[name])
