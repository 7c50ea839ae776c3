"""Loading WorldGen weights strictly: a ``save_pretrained`` folder (``config.json`` + safetensors)
whose every tensor matches the model its config builds, or a clear :class:`CheckpointError`."""

from __future__ import annotations

from pathlib import Path

import torch
from diffusers.utils import SAFETENSORS_WEIGHTS_NAME

from jwmsim.checkpoints import file_digest, load_strict
from jwmsim.errors import CheckpointError
from jwmsim.worldgen.modeling_worldgen import WorldGenModel

ASSETS_DIR = Path(__file__).resolve().parents[2] / "assets" / "worldgen"
ODE_STUDENT_DIR = ASSETS_DIR.parent / "worldgen_ode"
STUDENT_DIR = ASSETS_DIR.parent / "worldgen_student"


def default_weights_dir() -> Path:
    """``assets/worldgen`` of the project: the causal teacher of stages 1-2, the default weights of
    the ``jwm`` render path and the pipeline."""
    return ASSETS_DIR


def teacher_weights_dir() -> Path:
    """The teacher that stages 3-4 distil: the shipped default, ``assets/worldgen``."""
    return ASSETS_DIR


def ode_student_dir() -> Path:
    """``assets/worldgen_ode``: the earlier stage-3 student (of the second teacher run), 1 step."""
    return ODE_STUDENT_DIR


def student_dir() -> Path:
    """``assets/worldgen_student``: the student distilled from the current teacher (1 step)."""
    return STUDENT_DIR


def load_worldgen(path: str | Path, device: str | torch.device = "cpu") -> WorldGenModel:
    """A trained model from a ``save_pretrained`` folder, in eval mode on ``device``.

    Raises:
        CheckpointError: the folder, ``config.json`` or the weights are missing, unreadable, hold
            non-finite values or do not match the config (never a model with random weights).
    """
    hint = "train one with `jwmsim train worldgen`, or restore assets/worldgen/ from git"
    return load_strict(path, WorldGenModel, "WorldGen", hint, device)


def weights_digest(path: str | Path) -> str:
    """First 12 hex digits of the SHA-1 of a weights folder's safetensors file (for provenance).

    Raises:
        CheckpointError: the file does not exist.
    """
    f = Path(path) / SAFETENSORS_WEIGHTS_NAME
    if not f.is_file():
        raise CheckpointError(f"WorldGen weights {f} do not exist", hint="restore assets/worldgen/ from git")
    return file_digest(f)
