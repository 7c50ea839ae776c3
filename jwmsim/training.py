"""Pieces shared by the training loops (WorldRec, WorldGen stages, DMD): the learning-rate
schedule, checkpoints (atomic writes, random states, strict reading), the loss log and its trim
back to a resumed step, and preset overrides."""

from __future__ import annotations

import csv
import json
import math
import os
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

from jwmsim.errors import CheckpointError

C = TypeVar("C")


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


def rng_state(rng: Any, gen: Any = None) -> dict[str, Any]:
    """The random states a resumed run needs: NumPy's ``rng``, torch's global one and an optional
    ``torch.Generator`` (keys ``np_rng``, ``torch_rng``, ``torch_gen``)."""
    import torch

    state = {"np_rng": rng.bit_generator.state, "torch_rng": torch.get_rng_state()}
    if gen is not None:
        state["torch_gen"] = gen.get_state()
    return state


def restore_rng(state: dict[str, Any], rng: Any, gen: Any = None) -> None:
    """Put back what :func:`rng_state` saved into ``rng`` (and ``gen``)."""
    import torch

    rng.bit_generator.state = state["np_rng"]
    torch.set_rng_state(state["torch_rng"])
    if gen is not None:
        gen.set_state(state["torch_gen"])


def load_training_checkpoint(path: Path, what: str) -> dict[str, Any]:
    """A ``checkpoint.pt`` written by :func:`atomic_save` with at least ``model`` and ``step``.

    Raises:
        CheckpointError: absent, unreadable or not a training checkpoint (naming ``path``).
    """
    import torch

    if not path.is_file():
        raise CheckpointError(f"training checkpoint {path} does not exist", hint="start without --resume")
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
        if not isinstance(state, dict) or "model" not in state or "step" not in state:
            raise ValueError(f"not a {what} training checkpoint")
        return state
    except Exception as err:
        raise CheckpointError(
            f"training checkpoint {path} is unreadable ({err})", hint="delete it and start again"
        ) from err


class LossLog:
    """``loss.csv`` of a run, appended a row a step (header written when the file is new), flushed
    after every row so that an interrupted run keeps what it logged."""

    def __init__(self, path: Path, fields: list[str]) -> None:
        new = not path.is_file()
        self._file = open(path, "a", newline="")
        self._writer = csv.DictWriter(self._file, fieldnames=fields)
        if new:
            self._writer.writeheader()

    def write(self, row: dict[str, Any]) -> None:
        self._writer.writerow(row)
        self._file.flush()

    def close(self) -> None:
        self._file.close()


def with_overrides(cfg: C, **over: Any) -> C:
    """``cfg`` (a frozen dataclass) with the non-None fields of ``over`` replaced."""
    return replace(cfg, **{k: v for k, v in over.items() if v is not None})


def write_run_config(run_dir: Path, settings: dict[str, Any], resumed_at: int | None = None) -> None:
    """Record a training call's ``settings`` in ``run_dir``.

    ``train_config.json`` keeps the run's first call's settings; a resumed call (``resumed_at``: the
    step it continues from) appends its settings to ``resume_config.jsonl`` instead, so that the
    folder tells how the run started and every change made along the way.
    """
    first = run_dir / "train_config.json"
    if resumed_at is None or not first.exists():
        first.write_text(json.dumps(settings, indent=2, default=str) + "\n")
        return
    with open(run_dir / "resume_config.jsonl", "a") as f:
        f.write(json.dumps({"resumed_at_step": resumed_at, **settings}, default=str) + "\n")


def read_loss_rows(run_dir: Path) -> list[dict[str, str]]:
    """The rows of a run's ``loss.csv`` (:class:`LossLog`); empty when there is none yet."""
    import csv

    path = run_dir / "loss.csv"
    if not path.is_file():
        return []
    with open(path) as f:
        return list(csv.DictReader(f))
