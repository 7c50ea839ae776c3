"""Sizes of a :class:`~jwmsim.worldgen.modeling_worldgen.WorldGenModel` (a diffusers ``ConfigMixin``).

The same fields are the model's ``__init__`` arguments, so the ``config.json`` that
``save_pretrained`` writes is a serialised :class:`WorldGenConfig`. Named presets: ``tiny-cpu``
(2 CPU cores, 112x200, about 90 tokens per camera) and ``gpu``.
"""

from __future__ import annotations

from typing import Any

from diffusers.configuration_utils import ConfigMixin, register_to_config

from jwmsim.errors import ConfigError

COND_CHANNELS = 5  # skeleton RGB (3), depth feature (1), alpha (1)


class WorldGenConfig(ConfigMixin):
    """WorldGen hyper-parameters (units in comments).

    Args:
        image_hw: ``(height, width)`` the model was trained at [px] (it runs at any size whose
            padded height and width divide by ``patch``; tokens follow the size).
        patch: total down-sampling of the convolutional stem [px per token side] (16: 112x200 ->
            7x13 tokens per camera after padding the width to 208).
        stem_channels: channels of the head's full-resolution (per-pixel) stage and of the stem's
            stages at strides 2, 4 and 8 (the stride-16 stage has ``dim`` channels); the head
            mirrors them with skips.
        dim: transformer width [D].
        depth: transformer blocks.
        heads: attention heads (``dim`` must divide by it; the head width must be even for RoPE).
        mlp_ratio: hidden width of the feed-forward layers, in units of ``dim``.
        ray_bands: Fourier bands of the per-token camera ray encoding.
        max_frames: frame slots of the temporal rotary position (the longest clip trained on;
            the pipeline's sinks + window + 1 must not exceed it).
        rope_base: base of the temporal rotary frequencies.
        depth_scale: the depth feature is ``1 / (1 + depth / depth_scale)`` (0 where empty) [m].
        motion_scale: ego motion between frames is divided by this before embedding
            (``(dx, dy, dz)`` [m], ``dyaw`` [rad x 10]).
        timestep_shift: ``k`` of the flow-matching timestep shift ``k s / (1 + (k - 1) s)``.
    """

    config_name = "config.json"

    @register_to_config
    def __init__(
        self,
        image_hw: tuple[int, int] = (112, 200),
        patch: int = 16,
        stem_channels: tuple[int, int, int, int] = (16, 32, 64, 128),
        dim: int = 256,
        depth: int = 6,
        heads: int = 4,
        mlp_ratio: float = 3.0,
        ray_bands: int = 6,
        max_frames: int = 8,
        rope_base: float = 100.0,
        depth_scale: float = 10.0,
        motion_scale: float = 2.0,
        timestep_shift: float = 5.0,
    ) -> None:
        check_config(dict(locals()))


def check_config(values: dict[str, Any]) -> None:
    """Cross-field checks shared by :class:`WorldGenConfig` and the model (raises ConfigError)."""
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


def preset_config(name: str) -> WorldGenConfig:
    """The :class:`WorldGenConfig` of a named preset (``tiny-cpu`` or ``gpu``)."""
    if name not in PRESETS:
        raise ConfigError(f"unknown WorldGen preset {name!r}", hint=f"use one of {sorted(PRESETS)}")
    return WorldGenConfig(**PRESETS[name])
