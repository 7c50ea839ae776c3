"""Checks and named presets of :class:`~jwmsim.worldgen.modeling_worldgen.WorldGenModel`'s
configuration. The configuration itself is declared once: the model's ``__init__`` arguments under
``@register_to_config`` (``save_pretrained`` writes them to ``config.json``). Named presets:
``tiny-cpu`` (2 CPU cores) and ``gpu``, as keyword arguments of the model.
"""

from __future__ import annotations

from typing import Any

from jwmsim.errors import ConfigError

COND_CHANNELS = 5  # skeleton RGB (3), depth feature (1), alpha (1)
ALPHA_CHANNEL = 4  # index of the skeleton's coverage (alpha) among the condition's channels
PREVIOUS_CHANNELS = 3  # the previous frame's RGB, beside the condition where the model takes it


def check_config(values: dict[str, Any]) -> None:
    """Cross-field checks of the model's arguments (raises ConfigError)."""
    h, w = values["image_hw"]
    if h < 16 or w < 16:
        raise ConfigError(f"WorldGen image_hw must be at least 16x16 px, got {values['image_hw']}")
    if int(values["patch"]) != 16:
        raise ConfigError(
            f"WorldGen patch must be 16 (four stride-2 stem stages), got {values['patch']}",
            hint="the stem and head have a fixed depth of four stages",
        )
    if len(values["stem_channels"]) != 4 or min(values["stem_channels"]) < 1:
        raise ConfigError(f"stem_channels needs 4 positive entries, got {values['stem_channels']}")
    dim, heads = int(values["dim"]), int(values["heads"])
    if dim < 8 or heads < 1 or dim % heads or (dim // heads) % 2:
        raise ConfigError(
            f"WorldGen dim {dim} must divide into {heads} heads of even width",
            hint="e.g. dim=256, heads=4",
        )
    for key in ("depth", "max_frames", "ray_bands"):
        if int(values[key]) < 1:
            raise ConfigError(f"WorldGen {key} must be >= 1, got {values[key]}")
    for key in ("mlp_ratio", "rope_base", "depth_scale", "motion_scale"):
        if float(values[key]) <= 0:
            raise ConfigError(f"WorldGen {key} must be positive, got {values[key]}")
    if float(values["timestep_shift"]) < 1.0:
        raise ConfigError(f"timestep_shift must be >= 1, got {values['timestep_shift']}")


PRESETS: dict[str, dict[str, Any]] = {
    # measured on a shared, heavily loaded 2-core machine: the smallest that trains in ~1 h
    "tiny-cpu": {"dim": 192, "depth": 4, "heads": 3},
    "gpu": {
        "stem_channels": (32, 64, 128, 256),
        "dim": 512,
        "depth": 12,
        "heads": 8,
        "mlp_ratio": 4.0,
        "max_frames": 16,
    },
}
