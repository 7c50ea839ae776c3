"""Where the WorldRec weights are, and their content digest (torch-free: the scene cache keys on it)."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from jwmsim.errors import CheckpointError
from jwmsim.resources import shipped_path

ASSET_DIR = shipped_path("assets") / "worldrec"  # checkout: <repo>/assets/worldrec; wheel: package data
WEIGHTS_FILE = "diffusion_pytorch_model.safetensors"


def weights_dir() -> Path:
    """``$JWMSIM_WORLDREC_WEIGHTS`` or the shipped ``assets/worldrec``."""
    env = os.environ.get("JWMSIM_WORLDREC_WEIGHTS")
    return Path(env).expanduser() if env else ASSET_DIR


@lru_cache(maxsize=8)
def _digest(path: str, mtime_ns: int, size: int) -> str:
    from jwmsim.checkpoints import file_digest  # torch-free import of this module: load it here

    return file_digest(path)


def weights_digest(folder: Path) -> str:
    """Content digest of the weights file (part of the scene cache key)."""
    f = Path(folder) / WEIGHTS_FILE
    if not f.is_file():
        raise CheckpointError(
            f"WorldRec weights {f} do not exist",
            hint="restore assets/worldrec/ from git, set JWMSIM_WORLDREC_WEIGHTS, or use --method lidar",
        )
    st = f.stat()
    return _digest(str(f), st.st_mtime_ns, st.st_size)
