"""The WorldGen pipeline: the causal sampler written out, frame by frame, over a KV cache.

Per simulated step (one frame of ``C`` cameras):

1. start from noise ``x = eps`` at level ``s_0 = 1``;
2. for each level ``s_i`` of the solver's schedule: predict ``x0`` (the denoiser attends to the
   cached clean past frames and to the frame itself), with classifier-free guidance
   ``x0 = x0_u + g (x0_c - x0_u)`` where ``g != 1`` (``x0_u``: the condition dropped, as in training);
   then move to the next level. The last level's ``x0`` is the frame. Each solver of
   :data:`SOLVERS` carries its step and its schedule:

   * ``sharp`` (the default): Euler steps ``x = x + (s_next - s) v`` with ``v = (x - x0) / s`` on
     levels spaced evenly from 1 down to 0.1 (:data:`~jwmsim.worldgen.flow.SHARP_END`), so that
     the frame is the ``x0`` predicted from a lightly noised state: sharp where the skeleton leaves
     the model free. The x-predicting model's ``x0`` at a high level is close to the posterior mean
     (a blur, which PSNR rewards); at level 0 it commits to every detail (harsher than real images);
   * ``renoise`` (the distillation schedule ``[1000, 750, 500, 250]`` warped by the shift): re-noise
     the prediction with fresh noise, ``x = (1 - s_next) x0 + s_next eps'``; an undistilled teacher
     in 4 steps returns the ``x0`` of level 0.625: washed out;
   * ``euler`` (many steps, shift-warped levels down to 0): the flow's ODE, the teacher's full sampler;

3. the frame is *anchored* to the skeleton (:mod:`jwmsim.worldgen.anchoring`; ``SamplerConfig.anchor``):
   where the skeleton covers the view, the frame keeps the skeleton's detail under the sample's
   colours (``detail``, the default), or its render (``overlay``); ``none`` keeps the sample as it
   is;
4. one more call at level 0 with the final ``x0`` writes the frame's clean keys and values into the
   cache (sinks are permanent, then a sliding window: memory stays bounded over minutes). It runs
   the transformer only: no image is decoded from it. A model that takes the previous frame per
   pixel (``previous_frame``) gets this frame, from the cache, at every call of the next step.

Frames are generated at the model's trained size; other sizes are resized in and out.
:class:`WorldGenPipeline` implements :class:`~jwmsim.worldgen.frames.FrameGenerator`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from jwmsim.errors import ConfigError
from jwmsim.registry import Registry
from jwmsim.worldgen.anchoring import ANCHOR_HI, ANCHOR_LO, ANCHORS, DETAIL_SIGMA, DETAIL_STRENGTH
from jwmsim.worldgen.conditioning import (
    ego_motion,
    encode_condition,
    images_to_model,
    model_to_images,
    token_rays,
)
from jwmsim.worldgen.configuration_worldgen import ALPHA_CHANNEL
from jwmsim.worldgen.flow import SHARP_END, euler_levels, few_step_levels, sharp_levels
from jwmsim.worldgen.frames import ContextFrame, FramePoses, SkeletonFrame, check_frame
from jwmsim.worldgen.kv_cache import CacheSnapshot, KVCache
from jwmsim.worldgen.modeling_worldgen import WorldGenModel
from jwmsim.worldgen.weights import default_weights_dir, load_worldgen


def bf16_supported() -> bool:
    """Whether this CPU computes bf16 natively (AVX-512 BF16 / AMX); elsewhere it is emulated and slow."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


@dataclass(frozen=True)
class SamplerConfig:
    """How frames are sampled.

    Attributes:
        steps: denoiser calls per frame (plus one call that writes the cache).
        solver: a name of :data:`SOLVERS` (``sharp``, ``renoise``, ``euler``).
        guidance: classifier-free guidance scale on the skeleton condition (1: none, one call per step).
        num_sinks: first frames kept for good in the KV cache.
        window: most recent frames kept besides the sinks (``num_sinks + window + 1`` must not
            exceed the model's frame slots).
        seed: noise seed (each reset restarts it).
        autocast: ``auto`` (bf16 where the CPU has it, or on CUDA), ``bf16`` or ``none``.
        torch_threads: PyTorch threads while generating on a CPU (None: leave as is).
        shift: timestep shift of the sampling schedule (None: the model's training shift). An
            undistilled teacher sampled in few steps at the training shift (k = 5) ends on a very
            noisy level (0.625 for 4 steps) and returns washed-out frames; k = 1 ends at 0.25.
        anchor: a name of :data:`~jwmsim.worldgen.anchoring.ANCHORS`: what the frame keeps of the
            skeleton where the skeleton covers the view (``detail``: its detail under the sample's
            colours; ``overlay``: its render; ``none``: nothing).
        noise_correlation: ``rho`` in [0, 1): each frame's starting noise is ``rho`` times the
            previous frame's plus ``sqrt(1 - rho^2)`` times fresh noise (unit variance either way;
            0: independent frames). Correlated noise keeps what the model invents where the
            skeleton is empty steadier from frame to frame; the default 0.15 was chosen with
            ``benchmarks/bench_worldgen_sampler.py`` (the WorldGen page's sampler sweep).
    """

    steps: int = 2
    solver: str = "sharp"
    guidance: float = 1.0
    num_sinks: int = 1
    window: int = 2
    seed: int = 0
    autocast: str = "auto"
    torch_threads: int | None = 2
    shift: float | None = None
    anchor: str = "detail"
    noise_correlation: float = 0.15

    def __post_init__(self) -> None:
        if self.steps < 1:
            raise ConfigError(f"sampling steps must be >= 1, got {self.steps}", hint="e.g. --steps 4")
        if self.solver not in SOLVERS:
            raise ConfigError(f"unknown solver {self.solver!r}", hint=f"use one of {SOLVERS.names()}")
        if self.guidance < 0 or self.num_sinks < 0 or self.window < 1:
            raise ConfigError("guidance must be >= 0, num_sinks >= 0 and window >= 1")
        if not 0.0 <= self.noise_correlation < 1.0:
            raise ConfigError(f"noise_correlation must be in [0, 1), got {self.noise_correlation}")
        if self.anchor not in ANCHORS:
            raise ConfigError(f"unknown anchor {self.anchor!r}", hint=f"use one of {ANCHORS.names()}")
        if self.autocast not in ("auto", "bf16", "none"):
            raise ConfigError(f"autocast must be auto, bf16 or none, got {self.autocast!r}")
        if self.shift is not None and self.shift < 1.0:
            raise ConfigError(f"sampling shift must be >= 1, got {self.shift}")


@dataclass(frozen=True)
class WorldGenOutput:
    """One generated frame.

    Attributes:
        images: ``[C, H, W, 3]`` uint8 at the frame's size.
        x0: ``[C, 3, h, w]`` float32 in [-1, 1] at the model's size.
        seconds: wall time of the frame (all denoiser calls and the cache write) [s].
        denoiser_calls: model calls made (guidance doubles the sampling calls).
        cache_frames: frames in the KV cache afterwards.
        cache_bytes: bytes the KV cache holds afterwards.
    """

    images: np.ndarray
    x0: torch.Tensor
    seconds: float
    denoiser_calls: int
    cache_frames: int
    cache_bytes: int


# --- solvers: a step (x, x0, s, s_next, noise) -> x at s_next, and the schedule it runs on ----------
Step = Callable[[torch.Tensor, torch.Tensor, float, float, torch.Tensor], torch.Tensor]


def _renoise(x: torch.Tensor, x0: torch.Tensor, s: float, s_next: float, eps: torch.Tensor) -> torch.Tensor:
    return (1.0 - s_next) * x0 + s_next * eps


def _euler(x: torch.Tensor, x0: torch.Tensor, s: float, s_next: float, eps: torch.Tensor) -> torch.Tensor:
    return x + (s_next - s) * (x - x0) / max(s, 1e-4)


@dataclass(frozen=True)
class Solver:
    """A sampler's move between levels and its schedule.

    Attributes:
        step: ``(x, x0, s, s_next, eps) -> x`` at ``s_next`` (``eps``: fresh noise, if it uses any).
        levels: ``(steps, shift) -> levels``: the ``steps`` levels whose ``x0`` is predicted,
            highest first, then 0 (the last predicted ``x0`` is the frame).
        description: one line for help texts.
    """

    step: Step
    levels: Callable[[int, float], list[float]]
    description: str

    def __call__(
        self, x: torch.Tensor, x0: torch.Tensor, s: float, s_next: float, eps: torch.Tensor
    ) -> torch.Tensor:
        return self.step(x, x0, s, s_next, eps)


SOLVERS: Registry[Solver] = Registry("WorldGen solver")
SOLVERS.add(
    "sharp",
    Solver(
        _euler,
        lambda steps, shift: [*sharp_levels(steps), 0.0],
        f"Euler steps from level 1 down to {SHARP_END:g}; the frame is the x0 predicted there",
    ),  # fmt: skip
)
SOLVERS.add(
    "renoise",
    Solver(
        _renoise,
        lambda steps, shift: [*few_step_levels(steps, shift), 0.0],
        "predict x0, re-noise it to the next level of [1000, 750, 500, 250] (shifted)",
    ),  # fmt: skip
)
SOLVERS.add(
    "euler",
    Solver(_euler, euler_levels, "Euler steps of the flow down to level 0 (shifted levels)"),
)


def schedule(solver: str, steps: int, shift: float) -> list[float]:
    """The levels ``solver`` visits in ``steps`` steps: ``steps`` levels (highest first), then 0."""
    return SOLVERS.get(solver).levels(steps, shift)


# the causal teacher's sampler at its full step count, its frames as the model makes them (what
# stage 3 distils; ``worldgen-teacher``)
TEACHER_SAMPLER = SamplerConfig(steps=16, solver="euler", guidance=1.5, anchor="none")


def sampler_settings() -> dict[str, object]:
    """The sampler's module-level settings beside :class:`SamplerConfig`: the ``sharp`` solver's
    end level, the ``detail`` anchor's split [px] and strength, and the anchors' coverage ramp
    (what an evaluation records with the weights it scored)."""
    return {
        "sharp_end": SHARP_END,
        "detail_sigma": DETAIL_SIGMA,
        "detail_strength": DETAIL_STRENGTH,
        "anchor_ramp": [ANCHOR_LO, ANCHOR_HI],
    }


@dataclass(frozen=True)
class PipelineSnapshot:
    cache: CacheSnapshot
    last_pose: np.ndarray | None
    rng: torch.Tensor
    frames: int
    last_noise: torch.Tensor | None = None


class WorldGenPipeline:
    """Generates frames from skeleton renders (see the module docstring).

    Args:
        model: a trained :class:`WorldGenModel`.
        config: sampling settings.
        device: where the model runs.
    """

    name = "worldgen"

    def __init__(
        self,
        model: WorldGenModel,
        config: SamplerConfig = SamplerConfig(),
        device: str | torch.device = "cpu",
    ) -> None:
        slots = int(model.config.max_frames)
        if config.num_sinks + config.window + 1 > slots:
            raise ConfigError(
                f"sinks {config.num_sinks} + window {config.window} + 1 exceed the model's {slots} "
                "frame slots",
                hint="use a smaller window",
            )
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.config = config
        self.model_hw = tuple(int(v) for v in model.config.image_hw)
        shift = float(model.config.timestep_shift) if config.shift is None else float(config.shift)
        self.levels = schedule(config.solver, config.steps, shift)
        self.solver = SOLVERS.get(config.solver)
        self.anchor = ANCHORS.get(config.anchor)
        if config.autocast == "auto":
            self.bf16 = self.device.type == "cuda" or bf16_supported()
        else:
            self.bf16 = config.autocast == "bf16"
        self.cache = KVCache(config.num_sinks, config.window)
        self.gen = torch.Generator().manual_seed(config.seed)
        self._rays: dict[bytes, torch.Tensor] = {}
        self._last_pose: np.ndarray | None = None
        self._last_noise: torch.Tensor | None = None
        self.frames = 0
        self.weights_path: Path | None = None  # the folder the weights came from (from_pretrained)

    @classmethod
    def from_pretrained(
        cls, path: str | Path | None = None, config: SamplerConfig = SamplerConfig(), device: str = "cpu"
    ) -> WorldGenPipeline:
        """The pipeline of a ``save_pretrained`` folder (default: the shipped ``assets/worldgen``);
        a missing or corrupt checkpoint raises :class:`~jwmsim.errors.CheckpointError`."""
        pipe = cls(load_worldgen(path or default_weights_dir(), device), config, device)
        pipe.weights_path = Path(path or default_weights_dir())
        return pipe

    # --- inputs ---------------------------------------------------------------------------------
    def _resize(self, arr: np.ndarray, interp: int) -> np.ndarray:
        """``[C, H, W, ...]`` -> ``[C, h, w, ...]`` at the model's size."""
        h, w = self.model_hw
        if arr.shape[1:3] == (h, w):
            return arr
        return np.stack([cv2.resize(a, (w, h), interpolation=interp) for a in arr])

    def _rays_for(self, poses: FramePoses, hw: tuple[int, int]) -> torch.Tensor:
        """``[1, C, h, w, 3]`` token rays at the model's size, cached per rig."""
        sy, sx = self.model_hw[0] / hw[0], self.model_hw[1] / hw[1]
        k = np.array(poses.intrinsics, dtype=np.float64)
        k[:, 0] *= sx
        k[:, 1] *= sy
        key = k.tobytes() + np.asarray(poses.ego_from_cam, dtype=np.float64).tobytes()
        if key not in self._rays:
            rays = token_rays(k, poses.ego_from_cam, self.model_hw, int(self.model.config.patch))
            self._rays[key] = rays[None].to(self.device)
        return self._rays[key]

    def _condition(self, frame: SkeletonFrame | None, c: int) -> torch.Tensor:
        """``[1, C, 5, h, w]``; zeros (the dropped condition) without a skeleton."""
        h, w = self.model_hw
        if frame is None:
            return torch.zeros(1, c, 5, h, w, device=self.device)
        rgb = self._resize(frame.rgb, cv2.INTER_AREA)
        depth = self._resize(frame.depth.astype(np.float32), cv2.INTER_NEAREST)
        alpha = self._resize(frame.alpha.astype(np.float32), cv2.INTER_LINEAR)
        cond = encode_condition(rgb, depth, alpha, float(self.model.config.depth_scale))
        return cond[None].to(self.device)

    def _motion(self, pose: np.ndarray) -> torch.Tensor:
        m = ego_motion(np.asarray(pose, dtype=np.float64)[None], self._last_pose)
        return m.to(self.device)

    def _call(self, x: torch.Tensor, s: float, cond: torch.Tensor, rays: torch.Tensor, motion: torch.Tensor,
              write: bool = False) -> torch.Tensor | None:  # fmt: skip
        """The denoiser's ``x0`` at level ``s``; ``write``: only append the frame to the cache (None)."""
        level = torch.full((1,), s, device=self.device)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            out = self.model.forward_cached(
                x, level, cond, rays, motion, self.cache, write=write, decode=not write
            )
        return None if out is None else out.float()

    # --- FrameGenerator -------------------------------------------------------------------------
    @torch.no_grad()
    def reset(self, context: Sequence[ContextFrame]) -> None:
        """Clear the cache and prime it with ``context`` (oldest first; only the last
        ``num_sinks + window`` frames can stay)."""
        self.cache.clear()
        self.gen.manual_seed(self.config.seed)
        self._last_pose = None
        self._last_noise = None
        self.frames = 0
        keep = self.config.num_sinks + self.config.window
        with _threads(self.config.torch_threads if self.device.type == "cpu" else None):
            for ctx in list(context)[-keep:]:
                c, hw = ctx.images.shape[0], ctx.images.shape[1:3]
                x0 = images_to_model(self._resize(ctx.images, cv2.INTER_AREA))[None].to(self.device)
                rays = self._rays_for(ctx.poses, hw)
                cond = self._condition(ctx.skeleton, c)
                self._call(x0, 0.0, cond, rays, self._motion(ctx.poses.world_from_ego), write=True)
                self._last_pose = np.asarray(ctx.poses.world_from_ego, dtype=np.float64)

    def generate(self, frame: SkeletonFrame) -> np.ndarray:
        """``[C, H, W, 3]`` uint8 images of the step (remembered as the newest past frame)."""
        return self(frame).images

    @torch.no_grad()
    def __call__(self, frame: SkeletonFrame) -> WorldGenOutput:
        c, h, w = check_frame(frame)
        t0 = time.perf_counter()
        with _threads(self.config.torch_threads if self.device.type == "cpu" else None):
            rays = self._rays_for(frame.poses, (h, w))
            cond = self._condition(frame, c)
            uncond = torch.zeros_like(cond)
            motion = self._motion(frame.poses.world_from_ego)
            mh, mw = self.model_hw
            x = torch.randn((1, c, 3, mh, mw), generator=self.gen).to(self.device)
            rho = self.config.noise_correlation
            if rho > 0 and self._last_noise is not None and self._last_noise.shape == x.shape:
                x = rho * self._last_noise + math.sqrt(1.0 - rho * rho) * x
            self._last_noise = x
            calls = 0
            x0 = x
            g = self.config.guidance
            for s, s_next in zip(self.levels[:-1], self.levels[1:], strict=True):
                x0 = self._call(x, s, cond, rays, motion)
                calls += 1
                if g != 1.0:
                    x0_u = self._call(x, s, uncond, rays, motion)
                    x0 = x0_u + g * (x0 - x0_u)
                    calls += 1
                x0 = x0.clamp(-1.0, 1.0)
                if s_next > 0:
                    eps = torch.randn(x.shape, generator=self.gen).to(self.device)
                    x = self.solver(x, x0, s, s_next, eps)
            x0 = self.anchor(x0, cond[:, :, :3], cond[:, :, ALPHA_CHANNEL])
            self._call(x0, 0.0, cond, rays, motion, write=True)
            calls += 1
        self._last_pose = np.asarray(frame.poses.world_from_ego, dtype=np.float64)
        self.frames += 1
        images = model_to_images(x0[0])
        if (h, w) != (mh, mw):
            images = np.stack([cv2.resize(im, (w, h), interpolation=cv2.INTER_LINEAR) for im in images])
        return WorldGenOutput(
            images=images,
            x0=x0[0].cpu(),
            seconds=time.perf_counter() - t0,
            denoiser_calls=calls,
            cache_frames=self.cache.num_frames,
            cache_bytes=self.cache.nbytes(),
        )

    # --- state ------------------------------------------------------------------------------------
    def snapshot(self) -> PipelineSnapshot:
        return PipelineSnapshot(
            self.cache.snapshot(), self._last_pose, self.gen.get_state(), self.frames, self._last_noise
        )

    def restore(self, snap: PipelineSnapshot) -> None:
        self.cache.restore(snap.cache)
        self._last_pose = snap.last_pose
        self.gen.set_state(snap.rng)
        self.frames = snap.frames
        self._last_noise = snap.last_noise


class _threads:
    """Limit PyTorch to ``n`` threads inside the block (None: no change)."""

    def __init__(self, n: int | None) -> None:
        self.n = n
        self.before = 0

    def __enter__(self) -> None:
        self.before = torch.get_num_threads()
        if self.n is not None and self.n != self.before:
            torch.set_num_threads(self.n)

    def __exit__(self, *exc: object) -> None:
        if self.n is not None and torch.get_num_threads() != self.before:
            torch.set_num_threads(self.before)


def make_worldgen_generator(
    weights_dir: str | Path | None = None,
    steps: int | None = None,
    guidance: float = 1.0,
    device: str = "cpu",
    solver: str | None = None,
    shift: float | None = None,
) -> WorldGenPipeline:
    """The WorldGen pipeline as a :class:`~jwmsim.worldgen.frames.FrameGenerator` for the evaluation
    harness (registered there as ``worldgen``): the default sampler (:class:`SamplerConfig`) unless
    ``steps`` / ``solver`` say otherwise."""
    d = SamplerConfig()
    cfg = SamplerConfig(steps=steps or d.steps, guidance=guidance, solver=solver or d.solver, shift=shift)
    return WorldGenPipeline.from_pretrained(weights_dir, cfg, device)
