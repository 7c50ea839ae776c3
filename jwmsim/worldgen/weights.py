"""Loading WorldGen weights strictly: a ``save_pretrained`` folder (``config.json`` + safetensors)
whose every tensor matches the model its config builds, or a clear :class:`CheckpointError`."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from diffusers.utils import SAFETENSORS_WEIGHTS_NAME
from safetensors import safe_open

from jwmsim.errors import CheckpointError
from jwmsim.worldgen.modeling_worldgen import WorldGenModel

ASSETS_DIR = Path(__file__).resolve().parents[2] / "assets" / "worldgen"


def default_weights_dir() -> Path:
    """``assets/worldgen`` of the project (the shipped weights)."""
    return ASSETS_DIR


def load_worldgen(path: str | Path, device: str | torch.device = "cpu") -> WorldGenModel:
    """A trained model from a ``save_pretrained`` folder, in eval mode on ``device``.

    Raises:
        CheckpointError: the folder, ``config.json`` or the weights are missing, unreadable, hold
            non-finite values or do not match the config (never a model with random weights).
    """
    folder = Path(path)
    hint = "train one with `jwmsim train worldgen`, or restore assets/worldgen/ from git"
    cfg_path, weights = folder / "config.json", folder / SAFETENSORS_WEIGHTS_NAME
    if not folder.is_dir():
        raise CheckpointError(f"WorldGen weights folder {folder} does not exist", hint=hint)
    for f in (cfg_path, weights):
        if not f.is_file():
            raise CheckpointError(f"WorldGen checkpoint {folder} lacks {f.name}", hint=hint)
    try:
        config = json.loads(cfg_path.read_text())
        if config.get("_class_name") != "WorldGenModel":
            raise ValueError(f"_class_name is {config.get('_class_name')!r}, not 'WorldGenModel'")
        model = WorldGenModel.from_config(config)
    except Exception as err:
        raise CheckpointError(f"{cfg_path} is not a valid WorldGen config ({err})", hint=hint) from err
    try:
        with safe_open(str(weights), framework="pt", device="cpu") as f:
            tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
    except Exception as err:
        raise CheckpointError(f"{weights} is not a readable safetensors file ({err})", hint=hint) from err
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    extra = sorted(set(tensors) - set(expected))
    bad = [k for k in expected if k in tensors and tuple(tensors[k].shape) != tuple(expected[k].shape)]
    if missing or extra or bad:
        raise CheckpointError(
            f"{weights} does not match its config: missing {missing[:3]}, unexpected {extra[:3]}, "
            f"wrong shape {bad[:3]}",
            hint=hint,
        )
    nonfinite = [k for k, t in tensors.items() if t.is_floating_point() and not bool(torch.isfinite(t).all())]
    if nonfinite:
        raise CheckpointError(f"{weights} holds non-finite values in {nonfinite[:3]}", hint=hint)
    model.load_state_dict(tensors, strict=True)
    return model.to(device).eval()


def weights_digest(path: str | Path) -> str:
    """First 12 hex digits of the SHA-1 of a weights folder's safetensors file (for provenance).

    Raises:
        CheckpointError: the file does not exist.
    """
    import hashlib

    f = Path(path) / SAFETENSORS_WEIGHTS_NAME
    if not f.is_file():
        raise CheckpointError(f"WorldGen weights {f} do not exist", hint="restore assets/worldgen/ from git")
    h = hashlib.sha1()
    with open(f, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:12]
