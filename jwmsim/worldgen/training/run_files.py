"""Files of a WorldGen training run that every stage shares: its checkpoint and its loss plot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from jwmsim.errors import CheckpointError
from jwmsim.training import load_training_checkpoint, read_loss_rows


def load_checkpoint(path: Path, stage: str) -> dict[str, Any]:
    """A ``stage`` training checkpoint; a missing, unreadable or other-stage file is a
    :class:`CheckpointError` naming the path."""
    state = load_training_checkpoint(path, "WorldGen")
    if state.get("stage") != stage:
        raise CheckpointError(
            f"{path} is a {state.get('stage')!r} run, not {stage!r}", hint="pass its --stage"
        )
    return state


def plot_loss(run_dir: Path) -> Path | None:
    """``loss.png`` from ``loss.csv`` (raw and running mean over 25 steps, log scale)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = read_loss_rows(run_dir)
    if not rows:
        return None
    steps = np.array([int(r["step"]) for r in rows])
    curves = [("loss", "x0 MSE (images in [-1, 1])")]
    if rows[-1]["stage"] == "dmd":  # two curves: the generator's DMD gradient, the critic's loss
        curves = [("loss", "generator: mean |DMD gradient|"), ("critic_loss", "critic: x0 MSE")]
    fig, axes = plt.subplots(1, len(curves), figsize=(6 * len(curves), 3.5), squeeze=False)
    for ax, (key, label) in zip(axes[0], curves, strict=True):
        loss = np.array([float(r[key]) for r in rows])
        k = min(25, len(loss))
        ax.plot(steps, loss, alpha=0.3, label="per step")
        ax.plot(steps[k - 1 :], np.convolve(loss, np.ones(k) / k, mode="valid"), label=f"mean of {k}")
        ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.set_ylabel(label)
        ax.set_title(f"WorldGen {rows[-1]['stage']}")
        ax.legend()
    fig.tight_layout()
    out = run_dir / "loss.png"
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out
