"""Checks and named presets of :class:`~jwmsim.worldrec.modeling_worldrec.WorldRecModel`'s
configuration. The configuration itself is declared once: the model's ``__init__`` arguments under
``@register_to_config`` (``save_pretrained`` writes them to ``config.json``). Named presets:
``tiny-cpu`` (2 CPU cores) and ``gpu``, as keyword arguments of the model.
"""

from __future__ import annotations

from typing import Any

from jwmsim.errors import ConfigError


def check_config(values: dict[str, Any]) -> None:
    """Cross-field checks of the model's arguments (raises ConfigError)."""
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
