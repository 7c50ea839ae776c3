"""Pieces shared by the training loops (WorldRec, WorldGen stages, DMD): the learning-rate
schedule, atomic checkpoint writes and trimming a loss log back to a resumed step."""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path
from typing import Any


def lr_factor(step: int, cfg: Any) -> float:
    """Learning-rate multiplier at ``step`` (0-based): linear warm-up over ``cfg.warmup`` steps,
    then cosine to ``cfg.min_lr_frac`` at ``cfg.steps``."""
    if step < cfg.warmup:
        return (step + 1) / cfg.warmup
    frac = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    return cfg.min_lr_frac + (1 - cfg.min_lr_frac) * 0.5 * (1 + math.cos(math.pi * min(1.0, frac)))


def atomic_save(state: dict[str, Any], path: Path) -> None:
    """``torch.save`` to a temp file, then ``os.replace``: a checkpoint is whole or absent."""
    import torch

    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def trim_csv(path: Path, step: int) -> None:
    """Drop loss rows written after the checkpoint being resumed (first column: the step)."""
    if not path.is_file():
        return
    with open(path) as f:
        rows = list(csv.reader(f))
    keep = [rows[0]] + [r for r in rows[1:] if r and int(r[0]) <= step]
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows(keep)
