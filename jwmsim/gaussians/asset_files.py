"""Actor asset files: one Gaussian component per ``<name>.safetensors`` (the shipped actors in
``assets/actors`` and the actor bank), written atomically and read with checks."""

from __future__ import annotations

import json
import os
from pathlib import Path

from safetensors import safe_open

from jwmsim.checkpoints import save_safetensors_atomic
from jwmsim.errors import CheckpointError
from jwmsim.gaussians.scene import GaussianComponent
from jwmsim.resources import shipped_path

ASSET_FORMAT = "jwmsim.gaussian_asset"
ASSET_DIR = shipped_path("assets") / "actors"  # checkout: <repo>/assets/actors; wheel: package data
_FIELDS = ("means", "quats", "log_scales", "opacity_logits", "color_logits")


def save_asset(
    component: GaussianComponent, path: str | os.PathLike[str], metadata: dict[str, object]
) -> Path:
    """Write one actor asset as safetensors (atomically)."""
    tensors = {k: v.detach().cpu().float().contiguous() for k, v in component.tensors().items()}
    meta = {"format": ASSET_FORMAT, "version": "1", "metadata": json.dumps(metadata)}
    return save_safetensors_atomic(tensors, Path(path), meta)


def load_asset(path: str | os.PathLike[str]) -> tuple[GaussianComponent, dict[str, object]]:
    """Read an asset written by :func:`save_asset`: ``(component, metadata)``."""
    path = Path(path)
    hint = "rebuild the shipped assets with `python -m jwmsim.gaussians.assets`"
    if not path.is_file():
        raise CheckpointError(f"actor asset {path} does not exist", hint=hint)
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
    except Exception as err:
        raise CheckpointError(f"{path} is not a readable safetensors file ({err})", hint=hint) from err
    if meta.get("format") != ASSET_FORMAT:
        raise CheckpointError(
            f"{path} is not a jwmsim actor asset (format={meta.get('format')!r})", hint=hint
        )
    try:
        comp = GaussianComponent(**{k: tensors[k] for k in _FIELDS})
        info = json.loads(meta.get("metadata", "{}"))
    except (KeyError, ValueError) as err:
        raise CheckpointError(f"{path} is an incomplete actor asset: {err}", hint=hint) from err
    return comp, info
