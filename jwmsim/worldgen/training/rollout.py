"""Causal rollouts on tensors: the sampler of :mod:`jwmsim.worldgen.pipeline_worldgen`, for a batch
of clips at once, as the distillation stages need it.

A clip's first ``n_ctx`` frames are context: their true images are written into the KV cache at
level 0 (as the pipeline is primed with a log's real frames). Each later frame starts from noise
and visits the levels of a schedule, predicting ``x0`` at each (with classifier-free guidance where
``guidance != 1``), then its final ``x0`` is written into the cache, and the next frame attends to
it: the model runs on its own outputs, exactly as at inference (self forcing).

* Stage 3 (ODE distillation) runs the teacher with many Euler steps and records the states ``x``
  reached at the student's levels (``record``).
* Stage 4 (DMD) runs the student's few-step sampler with gradients enabled at one step per frame
  (``grad_step``): the steps before it run without gradients, its ``x0`` is the frame's output,
  and the cache is written with that output detached (the cache never carries gradients).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass

import torch

from jwmsim.worldgen.kv_cache import KVCache
from jwmsim.worldgen.modeling_worldgen import WorldGenModel

Solver = Callable[[torch.Tensor, torch.Tensor, float, float, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class ClipInputs:
    """What a rollout is conditioned on, for ``B`` clips of ``F`` frames and ``C`` cameras.

    Attributes:
        context: ``[B, n_ctx, C, 3, H, W]`` true images of the first frames, in [-1, 1].
        cond: ``[B, F, C, 5, H, W]`` skeleton condition of every frame (context included).
        rays: ``[B, C, h, w, 3]`` token rays.
        motion: ``[B, F, 4]`` ego motion since the previous frame.
    """

    context: torch.Tensor
    cond: torch.Tensor
    rays: torch.Tensor
    motion: torch.Tensor

    @property
    def n_ctx(self) -> int:
        return int(self.context.shape[1])

    @property
    def frames(self) -> int:
        return int(self.cond.shape[1])


@dataclass(frozen=True)
class RolloutOutput:
    """Generated frames ``F - n_ctx``.

    Attributes:
        x0: ``[B, F - n_ctx, C, 3, H, W]`` the output of each generated frame (with gradients at
            ``grad_step`` when one was given).
        states: ``[B, F - n_ctx, R, C, 3, H, W]`` the state ``x`` on arriving at each recorded level
            (``R = len(record)``; None when nothing was recorded).
        calls: denoiser calls made (cache writes included).
    """

    x0: torch.Tensor
    states: torch.Tensor | None
    calls: int


def causal_rollout(
    model: WorldGenModel,
    inputs: ClipInputs,
    levels: Sequence[float],
    solver: Solver,
    *,
    guidance: float = 1.0,
    generator: torch.Generator | None = None,
    num_sinks: int = 1,
    window: int = 2,
    record: Sequence[float] = (),
    grad_step: int | None = None,
    autocast: bool = False,
) -> RolloutOutput:
    """Generate frames ``n_ctx .. F-1`` of a batch of clips (see the module docstring).

    Args:
        levels: the schedule, highest level first, ending with 0 (:func:`...pipeline_worldgen.schedule`).
        solver: ``(x, x0, s, s_next, eps) -> x at s_next`` (``SOLVERS`` of the pipeline).
        guidance: classifier-free guidance scale on the skeleton condition of the frame generated.
        record: levels (members of ``levels``) at which to keep the state ``x``.
        grad_step: index of the sampling step whose ``x0`` is the output, with gradients (the
            frame stops there); None: all steps, no gradients.
        autocast: bf16 autocast of the model calls (CPUs with avx512_bf16, or CUDA).
    """
    ctx, cond, rays, motion = inputs.context, inputs.cond, inputs.rays, inputs.motion
    b, n_ctx = ctx.shape[:2]
    steps = len(levels) - 1
    if steps < 1 or levels[-1] != 0.0:
        raise ValueError(f"levels must end with 0 after at least one level, got {list(levels)}")
    if grad_step is not None and not 0 <= grad_step < steps:
        raise ValueError(f"grad_step must be in [0, {steps}), got {grad_step}")
    missing = [s for s in record if s not in levels[:-1]]
    if missing:
        raise ValueError(f"recorded levels {missing} are not in the schedule")
    dev = ctx.device
    cache = KVCache(num_sinks, window)
    calls = 0

    def call(
        x: torch.Tensor, s: float, c: torch.Tensor, m: torch.Tensor, write: bool = False
    ) -> torch.Tensor:
        nonlocal calls
        calls += 1
        lv = torch.full((b,), s, device=dev)
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=autocast):
            return model.forward_cached(x, lv, c, rays, m, cache, write=write).float()

    with torch.no_grad():
        for j in range(n_ctx):
            call(ctx[:, j], 0.0, cond[:, j], motion[:, j], write=True)
    outs, states = [], []
    for j in range(n_ctx, inputs.frames):
        c, m = cond[:, j], motion[:, j]
        x = torch.randn(ctx[:, 0].shape, generator=generator).to(dev)
        x0 = x
        kept = []
        last = steps - 1 if grad_step is None else grad_step
        for i in range(last + 1):
            s, s_next = float(levels[i]), float(levels[i + 1])
            if s in record:
                kept.append(x.detach())
            with nullcontext() if i == grad_step else torch.no_grad():
                x0 = call(x, s, c, m)
                if guidance != 1.0:
                    x0_u = call(x, s, torch.zeros_like(c), m)
                    x0 = x0_u + guidance * (x0 - x0_u)
                # clamped forward, identity backward: a hard clamp would stop the gradient of
                # every saturated pixel, so that DMD could never pull a blown-out pixel back
                x0 = x0 + (x0.clamp(-1.0, 1.0) - x0).detach()
            if i < last and s_next > 0:
                eps = torch.randn(x.shape, generator=generator).to(dev)
                x = solver(x, x0.detach(), s, s_next, eps)
        with torch.no_grad():
            call(x0.detach(), 0.0, c, m, write=True)
        outs.append(x0)
        if record:
            states.append(torch.stack(kept, 1))
    return RolloutOutput(
        x0=torch.stack(outs, 1),
        states=torch.stack(states, 1) if record else None,
        calls=calls,
    )


def score_frames(
    model: WorldGenModel,
    context: torch.Tensor,
    clean: torch.Tensor,
    noisy: torch.Tensor,
    levels: torch.Tensor,
    cond: torch.Tensor,
    rays: torch.Tensor,
    motion: torch.Tensor,
    noisy_cond: torch.Tensor | None = None,
) -> torch.Tensor:
    """The model's ``x0`` for noisy copies of generated frames, each attending to the clean frames
    before it (the teacher-forcing layout: what the KV cache holds at inference), in one call; a
    model that takes the previous frame gets each frame's clean predecessor, as at inference.

    Args:
        context: ``[B, n_ctx, C, 3, H, W]`` true context frames.
        clean: ``[B, G, C, 3, H, W]`` the clean generated frames (the past of later frames).
        noisy: ``[B, G, C, 3, H, W]`` their noisy copies, at ``levels`` ``[B, G]``.
        cond: ``[B, n_ctx + G, C, 5, H, W]`` every frame's condition (clean blocks).
        noisy_cond: the noisy copies' condition ``[B, G, ...]`` (None: ``cond`` of those frames;
            zeros: the dropped condition, for guidance).

    Returns:
        ``[B, G, C, 3, H, W]`` the ``x0`` prediction of each noisy copy.
    """
    from jwmsim.worldgen.modeling_worldgen import previous_frames, teacher_forcing_mask

    b, n_ctx = context.shape[:2]
    g = clean.shape[1]
    f = n_ctx + g
    dev = clean.device
    nc = cond[:, n_ctx:] if noisy_cond is None else noisy_cond
    lv = torch.cat([torch.zeros(b, f + n_ctx, device=dev), levels.to(dev)], 1)
    pos = torch.arange(f)
    prev = previous_frames(torch.cat([context, clean], 1))
    return model(
        torch.cat([context, clean, context, noisy], 1),
        lv,
        torch.cat([cond, cond[:, :n_ctx], nc], 1),
        rays,
        torch.cat([motion, motion], 1),
        torch.cat([pos, pos]),
        teacher_forcing_mask(f),
        torch.arange(f + n_ctx, 2 * f),
        torch.cat([prev, prev], 1),
    ).float()
