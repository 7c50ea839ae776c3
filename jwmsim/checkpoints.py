"""Strict loading of the project's trained models (``save_pretrained`` folders: ``config.json`` +
safetensors), shared by WorldRec and WorldGen: a missing, unreadable, mismatched or non-finite
checkpoint is a :class:`~jwmsim.errors.CheckpointError` naming the path, never random weights."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, TypeVar

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from jwmsim.atomic import atomic_path
from jwmsim.errors import CheckpointError

M = TypeVar("M", bound=torch.nn.Module)
WEIGHTS_NAME = "diffusion_pytorch_model.safetensors"


def load_strict(
    path: str | Path, model_cls: type[M], label: str, hint: str, device: str | torch.device = "cpu"
) -> M:
    """``model_cls`` (a diffusers ``ModelMixin``) from the folder ``path``, in eval mode on ``device``:
    every tensor of the model must be in the file with its shape, finite, and nothing else.

    Args:
        label: the model's name in messages (``"WorldRec"``); hint: how to get a good checkpoint.
    """
    folder = Path(path)
    cfg_path, weights = folder / "config.json", folder / WEIGHTS_NAME
    if not folder.is_dir():
        raise CheckpointError(f"{label} weights folder {folder} does not exist", hint=hint)
    for f in (cfg_path, weights):
        if not f.is_file():
            raise CheckpointError(f"{label} checkpoint {folder} lacks {f.name}", hint=hint)
    try:
        config: dict[str, Any] = json.loads(cfg_path.read_text())
        if config.get("_class_name") != model_cls.__name__:
            raise ValueError(f"_class_name is {config.get('_class_name')!r}, not {model_cls.__name__!r}")
        model = model_cls.from_config(config)  # type: ignore[attr-defined]
    except Exception as err:
        raise CheckpointError(f"{cfg_path} is not a valid {label} config ({err})", hint=hint) from err
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


def file_digest(path: str | Path) -> str:
    """First 12 hex digits of the SHA-1 of a file's bytes."""
    h = hashlib.sha1()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:12]


def save_safetensors_atomic(tensors: dict[str, torch.Tensor], path: Path, metadata: dict[str, str]) -> Path:
    """Write ``tensors`` with ``metadata`` to ``path`` through a temporary file in the same folder
    and an atomic rename: an interrupted write leaves no half-written file (mode 0644)."""
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=metadata)
    return path
