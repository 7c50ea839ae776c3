"""Flow matching as WorldGen uses it (METHODS.md, "WorldGen building blocks").

``x_s = (1 - s) x0 + s eps`` with noise level ``s`` in [0, 1] (timestep ``t = 1000 s``), velocity
``v = eps - x0``, so ``x0 = x_s - s v``. Levels are warped by the timestep shift
``s' = k s / (1 + (k - 1) s)`` (k about 5 puts more of training and sampling at high noise, where
an image's layout is decided).
"""

from __future__ import annotations

import torch


def shift_levels(s: torch.Tensor, k: float) -> torch.Tensor:
    """The timestep shift ``k s / (1 + (k - 1) s)`` (elementwise, any shape, values in [0, 1])."""
    return k * s / (1.0 + (k - 1.0) * s)


def add_noise(x0: torch.Tensor, eps: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    """``x_s = (1 - s) x0 + s eps``; ``s`` broadcasts against ``x0`` (e.g. ``[B, F, 1, 1, 1, 1]``)."""
    return (1.0 - s) * x0 + s * eps


def velocity_from_x0(
    x_s: torch.Tensor, x0: torch.Tensor, s: torch.Tensor, floor: float = 1e-4
) -> torch.Tensor:
    """The velocity ``v = (x_s - x0) / s`` implied by a clean-image prediction (``s`` floored)."""
    return (x_s - x0) / s.clamp_min(floor)


def sample_training_levels(
    shape: tuple[int, ...], k: float, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Noise levels for training: uniform, then shifted; ``shape`` float32 in (0, 1)."""
    u = torch.rand(shape, generator=generator)
    return shift_levels(u.clamp(1e-3, 1.0 - 1e-3), k)


def few_step_levels(steps: int, k: float) -> list[float]:
    """The few-step schedule: ``[1000, 750, 500, 250]`` for 4 steps (``1 - i / steps``), warped by
    the shift; returns ``steps`` levels in (0, 1], highest first."""
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    base = torch.tensor([1.0 - i / steps for i in range(steps)], dtype=torch.float64)
    return [float(v) for v in shift_levels(base, k)]


def euler_levels(steps: int, k: float) -> list[float]:
    """``steps + 1`` levels from 1 to 0 for an Euler integration of the flow, warped by the shift."""
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    base = torch.linspace(1.0, 0.0, steps + 1, dtype=torch.float64)
    return [float(v) for v in shift_levels(base, k)]


SHARP_END = 0.1  # the last level of the ``sharp`` schedule (its x0 is the frame)


def sharp_levels(steps: int, end: float = SHARP_END) -> list[float]:
    """``steps`` levels spaced evenly from 1 down to ``end`` (``[1]`` for one step), highest first.

    An x-predicting model's ``x0`` at a high level is near the posterior mean (blurred); at level 0
    it commits to every detail. Ending at ``end`` keeps the frame close to the true image's
    sharpness (measured in ``docs/models/worldgen.md``)."""
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    if steps == 1:
        return [1.0]
    return [1.0, *(end + (1.0 - end) * (steps - 1 - i) / (steps - 1) for i in range(1, steps))]
