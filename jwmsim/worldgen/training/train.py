"""Training of WorldGen: ``jwmsim train worldgen --stage pretrain|teacher-forcing|ode|dmd``.

Stages (a registry, :data:`STAGES`). The first two are flow matching with x-prediction (the loss is the MSE of
the clean-image prediction, i.e. the velocity MSE weighted by ``s^2``), levels drawn uniformly and
shifted (k = ``timestep_shift``), ~10% condition dropout per frame (for classifier-free guidance):

* ``pretrain``: bidirectional; one noise level per clip, every frame attends to every frame.
* ``teacher-forcing``: causal; the clip's clean frames are the context: the sequence is ``F`` clean
  blocks (level 0) followed by ``F`` noisy copies (one level per frame); noisy block b attends to
  clean blocks < b and to itself, clean block b to clean blocks <= b (exactly what the KV-cache
  inference does); the loss is on the noisy blocks. Starts from ``--init`` (the pretrain model).
* ``ode`` (distillation, part 1): the causal teacher's Euler trajectories with guidance, stored
  at the student's 4 levels (:mod:`jwmsim.worldgen.training.ode_pairs`; made first, in
  ``RUN/ode_pairs``); the student (started from the teacher) maps each stored state to the
  trajectory's end.
* ``dmd`` (distillation, part 2): distribution matching on the student's own autoregressive
  rollouts with a fake-score critic (:mod:`jwmsim.worldgen.training.dmd`, its own loop).

A run folder holds ``checkpoint.pt`` (model, optimiser, step, RNG states; written every few minutes,
atomically; ``--resume`` continues it exactly), ``loss.csv`` / ``loss.png``, ``model/``
(``save_pretrained``) and ``train_config.json``. The gpu preset runs the same code through
accelerate::

    accelerate launch --multi_gpu -m jwmsim.cli train worldgen --stage pretrain --preset gpu --out runs/wg-pre
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from jwmsim.errors import CheckpointError, ConfigError
from jwmsim.progress import progress_bar
from jwmsim.registry import Registry
from jwmsim.run_clock import RunClock
from jwmsim.training import (
    LossLog,
    atomic_save,
    lr_factor,
    restore_rng,
    rng_state,
    trim_csv,
    write_run_config,
)
from jwmsim.worldgen.configuration_worldgen import ALPHA_CHANNEL
from jwmsim.worldgen.configuration_worldgen import PRESETS as MODEL_PRESETS
from jwmsim.worldgen.flow import add_noise, sample_training_levels
from jwmsim.worldgen.modeling_worldgen import (
    WorldGenModel,
    previous_frames,
    teacher_forcing_mask,
    with_previous_frame,
)
from jwmsim.worldgen.pipeline_worldgen import TEACHER_SAMPLER
from jwmsim.worldgen.training.run_files import load_checkpoint, plot_loss
from jwmsim.worldgen.training.sharpness import LUMA
from jwmsim.worldgen.training.train_clips import ClipSet, ClipTensors
from jwmsim.worldgen.weights import load_worldgen

DEFAULT_DATA = Path("/work/data/worldgen/train")


@dataclass(frozen=True)
class TrainConfig:
    """Settings of one training run (units in comments)."""

    stage: str = "pretrain"
    model_preset: str = "tiny-cpu"
    steps: int = 3000
    batch: int = 1  # clips per step
    clip_frames: int = 4  # [frames] consecutive frames per sample (<= model max_frames)
    crop_hw: tuple[int, int] | None = (64, 96)  # [px] train on windows of the images (None: whole)
    lr: float = 8e-4
    warmup: int = 30  # [steps]
    min_lr_frac: float = 0.1
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    cond_dropout: float = 0.1  # probability per frame of dropping its skeleton condition
    uncovered_weight: float = 1.0  # pretrain / teacher forcing: loss weight of pixels without skeleton
    gradient_weight: float = 0.0  # pretrain / teacher forcing: weight of the gradient variance loss
    gradient_sources: tuple[str, ...] = ()  # ... on clips whose source starts with one of these (): all
    preserve: str | None = None  # teacher forcing: a frozen model whose predictions the run is held to
    preserve_weight: float = 1.0  # weight of the MSE to the frozen model's predictions
    preserve_sources: tuple[str, ...] = ()  # ... on clips whose source starts with one of these (): all
    previous_frame: bool = False  # the model takes the previous frame per pixel (an --init is grown)
    previous_noise: float = 0.1  # teacher forcing: largest std of the noise added to the previous frame
    previous_dropout: float = 0.1  # teacher forcing: probability per frame of no previous frame
    level_shift: float | None = None  # timestep shift of the training levels (None: the model's)
    init: str | None = None  # a save_pretrained folder to start from (teacher forcing: the pretrain model)
    checkpoint_every_s: float = 180.0  # [s]
    max_minutes: float | None = None
    seed: int = 0
    torch_threads: int = 2
    engine: str = "plain"
    autocast: str = "bf16"  # "bf16" (CPUs with avx512_bf16 / GPUs) or "none"
    extra: dict[str, Any] = field(default_factory=dict)  # model config overrides
    # distillation (stages ode and dmd)
    teacher: str | None = None  # the frozen causal teacher (a save_pretrained folder)
    guidance: float = TEACHER_SAMPLER.guidance  # the teacher's guidance (trajectories, real score)
    student_steps: int = 4  # the student's sampling steps
    context_frames: int = 1  # true frames that start each distillation clip
    ode_pairs: int = 48  # ode: trajectory files (ode_batch clips each)
    ode_batch: int = 8
    euler_steps: int = TEACHER_SAMPLER.steps  # ode: the teacher's Euler steps per frame
    critic_updates: int = 5  # dmd: critic updates per generator step
    critic_lr: float = 2e-4  # dmd

    def __post_init__(self) -> None:
        if self.stage not in STAGES:
            raise ConfigError(f"unknown WorldGen stage {self.stage!r}", hint=f"use one of {STAGES.names()}")
        if self.model_preset not in MODEL_PRESETS:
            raise ConfigError(
                f"unknown model preset {self.model_preset!r}", hint=f"use one of {sorted(MODEL_PRESETS)}"
            )
        if self.steps < 1 or self.batch < 1 or self.clip_frames < 2:
            raise ConfigError("steps and batch must be >= 1 and clip_frames >= 2")
        if self.uncovered_weight < 1.0:
            raise ConfigError(
                f"uncovered_weight must be >= 1 (1: every pixel alike), got {self.uncovered_weight}"
            )
        if self.preserve is not None and self.stage != "teacher-forcing":
            raise ConfigError(f"preserve applies to the teacher-forcing stage, not {self.stage!r}")
        if self.preserve_sources and self.preserve is None:
            raise ConfigError("preserve_sources needs preserve (the frozen model to hold those clips to)")
        if self.preserve_weight < 0.0:
            raise ConfigError(f"preserve_weight must be >= 0, got {self.preserve_weight}")
        if self.gradient_weight < 0.0:
            raise ConfigError(f"gradient_weight must be >= 0 (0: MSE alone), got {self.gradient_weight}")
        if not 0.0 <= self.cond_dropout < 1.0:
            raise ConfigError(f"cond_dropout must be in [0, 1), got {self.cond_dropout}")
        if not 0.0 <= self.previous_dropout < 1.0 or not 0.0 <= self.previous_noise <= 1.0:
            raise ConfigError(
                f"previous_dropout must be in [0, 1) and previous_noise in [0, 1], got "
                f"{self.previous_dropout} and {self.previous_noise}"
            )
        if self.crop_hw is not None and (len(self.crop_hw) != 2 or min(self.crop_hw) < 16):
            raise ConfigError(f"crop_hw must be (height, width) >= 16 px or None, got {self.crop_hw}")
        if self.autocast not in ("bf16", "none"):
            raise ConfigError(f"autocast must be 'bf16' or 'none', got {self.autocast!r}")
        if self.guidance < 0 or self.student_steps < 1 or self.critic_updates < 1:
            raise ConfigError("guidance must be >= 0, student_steps and critic_updates >= 1")
        if not 1 <= self.context_frames < self.clip_frames:
            raise ConfigError(f"context_frames must be in [1, clip_frames), got {self.context_frames}")


# --- stages ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Batch:
    """``B`` samples stacked: x0 ``[B, F, C, 3, H, W]``, cond ``[B, F, C, 5, H, W]``, rays
    ``[B, C, h, w, 3]``, motion ``[B, F, 4]``; ``sources`` the clips' source names (``town-000100``,
    ``pandaset-002``), one per sample (empty: unknown)."""

    x0: torch.Tensor
    cond: torch.Tensor
    rays: torch.Tensor
    motion: torch.Tensor
    sources: tuple[str, ...] = ()

    @staticmethod
    def stack(samples: list[ClipTensors], device: torch.device) -> Batch:
        return Batch(
            torch.stack([s.x0 for s in samples]).to(device),
            torch.stack([s.cond for s in samples]).to(device),
            torch.stack([s.rays for s in samples]).to(device),
            torch.stack([s.motion for s in samples]).to(device),
            tuple(s.source for s in samples),
        )


def drop_condition(cond: torch.Tensor, p: float, gen: torch.Generator) -> torch.Tensor:
    """Zero the condition of each frame ``[B, F, ...]`` with probability ``p``."""
    keep = (torch.rand(cond.shape[:2], generator=gen) >= p).to(cond.device, cond.dtype)
    return cond * keep.view(*cond.shape[:2], *([1] * (cond.dim() - 2)))


def corrupt_previous(frames: torch.Tensor, cfg: TrainConfig, gen: torch.Generator) -> torch.Tensor:
    """The previous clean frame of each frame ``[B, F, C, 3, H, W]`` as the model sees it in
    training: Gaussian noise of a std drawn per sample in ``[0, previous_noise]`` (at inference the
    previous frame is the model's own, imperfect output: the noise keeps the model from trusting it
    blindly, as GameNGen's noise augmentation does), and none (zeros) for a frame with probability
    ``previous_dropout`` and for the first."""
    prev = previous_frames(frames)
    b, f = frames.shape[:2]
    shape = (b, f, *([1] * (frames.dim() - 2)))
    std = (torch.rand(b, generator=gen) * cfg.previous_noise).view(b, *([1] * (frames.dim() - 1)))
    noisy = prev + std.to(prev.device) * torch.randn(prev.shape, generator=gen).to(prev.device)
    keep = (torch.rand(b, f, generator=gen) >= cfg.previous_dropout).view(shape).to(prev.device, prev.dtype)
    keep[:, 0] = 0.0
    return noisy * keep


def _pixel_weights(batch: Batch, uncovered_weight: float) -> torch.Tensor | None:
    """``[B, F, C, 1, H, W]`` loss weights ``w = 1 + (u - 1)(1 - a)`` from the skeleton's coverage
    ``a`` (None where ``u == 1``: every pixel alike)."""
    if uncovered_weight == 1.0:
        return None
    alpha = batch.cond[:, :, :, ALPHA_CHANNEL : ALPHA_CHANNEL + 1].float().clamp(0, 1)
    return 1.0 + (uncovered_weight - 1.0) * (1.0 - alpha)


def weighted_error(pred: torch.Tensor, batch: Batch, uncovered_weight: float) -> torch.Tensor:
    """The x0 prediction's mean squared error, with pixels the skeleton leaves empty weighted
    ``uncovered_weight`` times those it covers (linear in its coverage ``a``: ``w = 1 + (u - 1)(1 - a)``),
    normalised by the mean weight so that the loss keeps its scale.

    Args:
        pred: ``[B, F, C, 3, H, W]`` the model's x0 prediction.
        batch: its clips (``x0`` the targets, ``cond`` the undropped skeleton condition).
    """
    err = (pred.float() - batch.x0).pow(2)
    w = _pixel_weights(batch, uncovered_weight)
    if w is None:
        return err.mean()
    return (err * w).mean() / w.mean()


SOBEL_X = ((-1.0, 0.0, 1.0), (-2.0, 0.0, 2.0), (-1.0, 0.0, 1.0))  # the kernel of sharpness.gradient_magnitude


def patch_gradient_variance(images: torch.Tensor, patch: int) -> torch.Tensor:
    """``[N, 3, H, W]`` images -> ``[N, 2, H // patch, W // patch]``: the variance of the luminance's
    Sobel gradient (x, then y) inside each ``patch x patch`` tile (rows and columns past the last
    whole tile left out). The luminance is the blur measures'
    (:data:`~jwmsim.worldgen.training.sharpness.LUMA`)."""
    luma = torch.tensordot(images, images.new_tensor(LUMA), dims=([1], [0]))[:, None]
    kx = images.new_tensor(SOBEL_X)
    grads = F.conv2d(F.pad(luma, (1, 1, 1, 1), mode="replicate"), torch.stack([kx, kx.T])[:, None])
    h, w = (grads.shape[-2] // patch) * patch, (grads.shape[-1] // patch) * patch
    tiles = F.unfold(grads[..., :h, :w].reshape(-1, 1, h, w), patch, stride=patch)  # [2N, p*p, n]
    return tiles.var(dim=1, unbiased=False).reshape(images.shape[0], 2, h // patch, w // patch)


def gradient_variance(
    pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None, patch: int = 8
) -> torch.Tensor:
    """The gradient variance loss of Abrahamyan et al. (2022, "Gradient Variance Loss for
    Structure-Enhanced Image Super-Resolution"): the squared difference between the predicted and
    the true image's per-tile variance of the luminance gradient (3x3 Sobel, x and y, non-overlapping
    ``patch x patch`` tiles), averaged over tiles and both directions.

    The MSE is lowest for the mean of the plausible images, a blur wherever a pixel is uncertain;
    this term compares only how much the gradient varies inside a tile, wherever its edges lie, so
    it asks for a tile as detailed as the true one without asking where its edges are.

    Args:
        pred: ``[..., 3, H, W]`` predicted images in [-1, 1].
        target: ``[..., 3, H, W]`` the true images.
        weight: ``[..., 1, H, W]`` per-pixel weights (None: uniform); a tile takes the mean weight
            of its pixels; normalised by the mean tile weight.
        patch: the tile side [px].
    """
    hw = pred.shape[-2:]
    err = (
        patch_gradient_variance(pred.float().reshape(-1, 3, *hw), patch)
        - patch_gradient_variance(target.float().reshape(-1, 3, *hw), patch)
    ).pow(2)
    if weight is None:
        return err.mean()
    w = F.avg_pool2d(weight.float().reshape(-1, 1, *hw), patch, stride=patch)
    return (err * w).mean() / w.mean()


def source_mask(batch: Batch, prefixes: tuple[str, ...], option: str = "gradient_sources") -> torch.Tensor:
    """``[B]`` 1.0 for the samples whose clip source starts with one of ``prefixes`` (every sample
    where ``prefixes`` is empty), else 0.0; ``option`` names the setting in the error message."""
    b = batch.x0.shape[0]
    if not prefixes:
        return torch.ones(b, device=batch.x0.device)
    if len(batch.sources) != b:
        raise ConfigError(f"the batch does not name its clips' sources; {option} needs them")
    keep = [float(src.startswith(prefixes)) for src in batch.sources]
    return torch.tensor(keep, device=batch.x0.device)


def x0_loss(pred: torch.Tensor, batch: Batch, cfg: TrainConfig) -> torch.Tensor:
    """The loss of the pretrain and teacher-forcing stages: :func:`weighted_error` plus
    ``cfg.gradient_weight`` times :func:`gradient_variance` (same pixel weights) on the samples of
    the sources ``cfg.gradient_sources`` names (all where it names none); ``pred`` is
    ``[B, F, C, 3, H, W]``."""
    loss = weighted_error(pred, batch, cfg.uncovered_weight)
    if cfg.gradient_weight > 0.0:
        w = _pixel_weights(batch, cfg.uncovered_weight)
        mask = source_mask(batch, cfg.gradient_sources)
        for i in torch.nonzero(mask).flatten().tolist():
            wi = None if w is None else w[i]
            loss = loss + cfg.gradient_weight * gradient_variance(pred[i], batch.x0[i], wi) / len(mask)
    return loss


def pretrain_loss(model: Any, batch: Batch, cfg: TrainConfig, k: float, gen: torch.Generator) -> torch.Tensor:
    """Bidirectional: one level per clip, full attention over the clip."""
    b, f = batch.x0.shape[:2]
    s = sample_training_levels((b, 1), k, gen).expand(b, f).to(batch.x0.device)
    eps = torch.randn(batch.x0.shape, generator=gen).to(batch.x0.device)
    x_s = add_noise(batch.x0, eps, s.view(b, f, 1, 1, 1, 1))
    cond = drop_condition(batch.cond, cfg.cond_dropout, gen)
    pred = model(x_s, s, cond, batch.rays, batch.motion, torch.arange(f))
    return x0_loss(pred, batch, cfg)


def teacher_forcing_loss(
    model: Any, batch: Batch, cfg: TrainConfig, k: float, gen: torch.Generator
) -> torch.Tensor:
    """Causal: clean context blocks, then noisy blocks (one level per frame), teacher-forcing mask;
    a model that takes the previous frame gets each frame's clean predecessor (:func:`corrupt_previous`)."""
    b, f = batch.x0.shape[:2]
    dev = batch.x0.device
    s = sample_training_levels((b, f), k, gen).to(dev)
    eps = torch.randn(batch.x0.shape, generator=gen).to(dev)
    x_s = add_noise(batch.x0, eps, s.view(b, f, 1, 1, 1, 1))
    clean_cond = drop_condition(batch.cond, cfg.cond_dropout, gen)
    noisy_cond = drop_condition(batch.cond, cfg.cond_dropout, gen)
    base = getattr(model, "module", model)
    previous = None
    if base.config.previous_frame:
        prev = corrupt_previous(batch.x0, cfg, gen)
        previous = torch.cat([prev, prev], 1)
    pos = torch.arange(f)
    inputs = (
        torch.cat([batch.x0, x_s], 1),
        torch.cat([torch.zeros_like(s), s], 1),
        torch.cat([clean_cond, noisy_cond], 1),
        batch.rays,
        torch.cat([batch.motion, batch.motion], 1),
        torch.cat([pos, pos]),
        teacher_forcing_mask(f),
        torch.arange(f, 2 * f),
        previous,
    )
    pred = model(*inputs)
    loss = x0_loss(pred, batch, cfg)
    if cfg.preserve:
        held = preserve_error(pred, inputs, batch, cfg, bool(base.config.previous_frame))
        loss = loss + cfg.preserve_weight * held
    return loss


def preserve_error(
    pred: torch.Tensor, inputs: tuple[Any, ...], batch: Batch, cfg: TrainConfig, previous_frame: bool
) -> torch.Tensor:
    """The MSE between ``pred`` (``[B, F, C, 3, H, W]``) and the frozen ``cfg.preserve`` model's
    predictions on the same ``inputs``, over the samples of the sources ``cfg.preserve_sources``
    names (all where it names none) and divided by ``B``; 0 where no sample is held. ``inputs`` are
    the model's positional inputs; ``previous_frame``: whether the model takes the previous frame
    (the frozen model is grown to take it too)."""
    mask = source_mask(batch, cfg.preserve_sources, "preserve_sources")
    if not bool(mask.any()):
        return pred.new_zeros(())
    frozen = frozen_model(cfg.preserve, previous_frame).to(pred.device)
    with torch.no_grad():
        held = frozen(*inputs).float()
    per_sample = (pred.float() - held).pow(2).flatten(1).mean(1)
    return (per_sample * mask).sum() / len(mask)


@functools.lru_cache(maxsize=1)
def frozen_model(path: str, previous_frame: bool) -> WorldGenModel:
    """The model of ``path`` frozen (eval mode, no gradients), grown to take the previous frame
    where ``previous_frame`` asks it; loaded once per run. Holding a fine-tune to its starting
    model's predictions on the training inputs keeps what it did well, as "Learning without
    Forgetting" (Li and Hoiem, 2017) holds a network to its old outputs."""
    model = load_worldgen(path)
    model = with_previous_frame(model) if previous_frame else model
    return model.eval().requires_grad_(False)


LossFn = Callable[[Any, Batch, TrainConfig, float, torch.Generator], torch.Tensor]


@dataclass(frozen=True)
class StageSpec:
    """A training stage.

    Attributes:
        open_data: ``(cfg, data folder, run folder, progress) -> source`` of samples (a
            :class:`~jwmsim.worldgen.training.train_clips.ClipSet`, or the ODE stage's trajectories).
        loss: ``(model, source, rng, cfg, k, gen) -> loss`` of one step (it draws its samples).
        loop: a stage with its own training loop (DMD: two models, two optimisers) instead.
    """

    open_data: Callable[..., Any] | None = None
    loss: Callable[..., torch.Tensor] | None = None
    loop: Callable[..., dict[str, Any]] | None = None


def _open_clips(cfg: TrainConfig, data: Path, run_dir: Path, progress: bool) -> ClipSet:
    return ClipSet(data)


def _clip_loss(fn: LossFn) -> Callable[..., torch.Tensor]:
    """A step loss that draws ``cfg.batch`` clips and applies ``fn`` to them."""

    def step(model: Any, clips: ClipSet, rng: np.random.Generator, cfg: TrainConfig, k: float,
             gen: torch.Generator) -> torch.Tensor:  # fmt: skip
        base = getattr(model, "module", model)
        samples = [
            clips.draw(rng, cfg.clip_frames, base.config.patch, base.config.depth_scale, cfg.crop_hw)
            for _ in range(cfg.batch)
        ]
        return fn(model, Batch.stack(samples, next(model.parameters()).device), cfg, k, gen)

    return step


def _open_ode(cfg: TrainConfig, data: Path, run_dir: Path, progress: bool) -> Any:
    """The teacher's trajectories in ``run_dir/ode_pairs`` (made first where missing)."""
    from jwmsim.worldgen.training.ode_pairs import OdePairs, OdeSettings, make_ode_pairs

    if not cfg.teacher:
        raise ConfigError(
            "the ode stage needs --teacher (the causal teacher-forcing model)",
            hint="jwmsim train worldgen --stage ode --teacher assets/worldgen",
        )
    settings = OdeSettings(
        pairs=cfg.ode_pairs,
        batch=cfg.ode_batch,
        frames=cfg.clip_frames,
        context=cfg.context_frames,
        euler_steps=cfg.euler_steps,
        guidance=cfg.guidance,
        student_steps=cfg.student_steps,
        crop_hw=cfg.crop_hw,
    )
    teacher = load_worldgen(cfg.teacher)
    make_ode_pairs(teacher, ClipSet(data), run_dir / "ode_pairs", settings, cfg.seed,
                   autocast=cfg.autocast == "bf16", progress=progress)  # fmt: skip
    return OdePairs(run_dir / "ode_pairs")


def _ode_step(model: Any, pairs: Any, rng: np.random.Generator, cfg: TrainConfig, k: float,
              gen: torch.Generator) -> torch.Tensor:  # fmt: skip
    from jwmsim.worldgen.training.ode_pairs import ode_loss

    return ode_loss(model, [pairs.draw(rng) for _ in range(cfg.batch)], gen)


def _dmd_loop(cfg: TrainConfig, run_dir: Path, data: Path, resume: bool, progress: bool) -> dict[str, Any]:
    from jwmsim.worldgen.training.dmd import train_dmd

    return train_dmd(cfg, run_dir, data, resume, progress)


STAGES: Registry[StageSpec] = Registry("WorldGen training stage")
STAGES.add("pretrain", StageSpec(_open_clips, _clip_loss(pretrain_loss)))
STAGES.add("teacher-forcing", StageSpec(_open_clips, _clip_loss(teacher_forcing_loss)))
STAGES.add("ode", StageSpec(_open_ode, _ode_step))
STAGES.add("dmd", StageSpec(loop=_dmd_loop))

TRAIN_PRESETS: dict[str, TrainConfig] = {
    "tiny-cpu": TrainConfig(),
    "gpu": TrainConfig(
        model_preset="gpu",
        steps=100_000,
        batch=4,
        clip_frames=8,
        crop_hw=None,
        lr=2e-4,
        warmup=1000,
        checkpoint_every_s=600.0,
        torch_threads=8,
        engine="accelerate",
    ),
}


# --- checkpoints -------------------------------------------------------------------------------
def save_checkpoint(
    path: Path,
    model: WorldGenModel,
    optimizer: torch.optim.Optimizer,
    step: int,
    rng: np.random.Generator,
    gen: torch.Generator,
    elapsed: float,
    stage: str,
) -> None:
    """Write ``checkpoint.pt`` atomically (a temp file, then ``os.replace``)."""
    state = {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "step": step,
        **rng_state(rng, gen),
        "elapsed": elapsed,
        "stage": stage,
        "model_config": {k: v for k, v in dict(model.config).items() if not k.startswith("_")},
    }
    atomic_save(state, path)


CSV_FIELDS = ["step", "loss", "lr", "seconds", "stage"]


def build_model(cfg: TrainConfig) -> WorldGenModel:
    """The model to train: ``cfg.init`` loaded strictly (grown to take the previous frame where
    ``cfg.previous_frame`` asks it), else fresh from the preset."""
    if cfg.init:
        model = load_worldgen(cfg.init).train()
        return with_previous_frame(model) if cfg.previous_frame else model
    extra = {"previous_frame": True, **cfg.extra} if cfg.previous_frame else cfg.extra
    return WorldGenModel(**{**MODEL_PRESETS[cfg.model_preset], **extra})


def train(
    cfg: TrainConfig, run_dir: Path, data: Path, resume: bool = False, progress: bool = True
) -> dict[str, Any]:
    """Train (or, with ``resume``, continue) a WorldGen stage in ``run_dir`` on the clips in ``data``.

    Returns:
        A summary: steps, why it stopped, seconds, final running loss, paths.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(cfg.torch_threads)
    try:
        loop = STAGES.get(cfg.stage).loop or _train
        return loop(cfg, Path(run_dir), Path(data), resume, progress)
    finally:
        torch.set_num_threads(threads)


def _engine(name: str) -> Any:
    from jwmsim.worldrec.training.train import ENGINES

    return ENGINES.get(name)()


def _train(cfg: TrainConfig, run_dir: Path, data: Path, resume: bool, progress: bool) -> dict[str, Any]:
    run_dir.mkdir(parents=True, exist_ok=True)
    ckpt_path = run_dir / "checkpoint.pt"
    if ckpt_path.exists() and not resume:
        raise ConfigError(
            f"{run_dir} already holds a training run", hint="pass --resume to continue it, or another --out"
        )
    spec = STAGES.get(cfg.stage)
    engine = _engine(cfg.engine)
    rng = np.random.default_rng(cfg.seed + engine.process_index)
    gen = torch.Generator().manual_seed(cfg.seed + engine.process_index)
    torch.manual_seed(cfg.seed + engine.process_index)
    if cfg.stage == "ode" and not cfg.init:
        cfg = replace(cfg, init=cfg.teacher)  # the student starts as the teacher
    clips = spec.open_data(cfg, data, run_dir, progress and engine.is_main)
    model = build_model(cfg)
    if cfg.clip_frames > model.config.max_frames:
        raise ConfigError(
            f"clip_frames {cfg.clip_frames} exceeds the model's {model.config.max_frames} frame slots"
        )
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=cfg.lr, betas=(0.9, 0.99), weight_decay=cfg.weight_decay
    )
    step, elapsed = 0, 0.0
    if resume:
        state = load_checkpoint(ckpt_path, cfg.stage)
        try:
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
        except (RuntimeError, ValueError) as err:
            raise CheckpointError(f"{ckpt_path} does not match the model ({err})") from err
        step, elapsed = int(state["step"]), float(state["elapsed"])
        restore_rng(state, rng, gen)
        trim_csv(run_dir / "loss.csv", step)
    write_run_config(run_dir, asdict(cfg), step if resume else None)
    model, optimizer = engine.prepare(model, optimizer)
    base: WorldGenModel = engine.unwrap(model)
    k = float(base.config.timestep_shift if cfg.level_shift is None else cfg.level_shift)
    device = engine.device
    use_bf16 = cfg.autocast == "bf16"
    log = LossLog(run_dir / "loss.csv", CSV_FIELDS) if engine.is_main else None
    clock = RunClock(elapsed, cfg.checkpoint_every_s, cfg.max_minutes)
    bar = progress_bar(total=cfg.steps, initial=step, desc=f"worldgen {cfg.stage}", unit="step",
               disable=not progress or not engine.is_main)  # fmt: skip
    ema: float | None = None
    stopped = "steps"
    model.train()
    try:
        while step < cfg.steps:
            for group in optimizer.param_groups:
                group["lr"] = cfg.lr * lr_factor(step, cfg)
            if step % 200 == 0:
                clips.refresh()  # clips still being written join the pool
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16):
                loss = spec.loss(model, clips, rng, cfg, k, gen)
            optimizer.zero_grad(set_to_none=True)
            engine.backward(loss)
            norm = engine.clip(model.parameters(), cfg.grad_clip)
            value = float(loss.detach())
            if math.isfinite(norm) and math.isfinite(value):
                optimizer.step()  # a non-finite loss or gradient skips the update
            step += 1
            if log is not None:
                log.write({
                    "step": step,
                    "loss": round(value, 6),
                    "lr": f"{optimizer.param_groups[0]['lr']:.3e}",
                    "seconds": round(clock.elapsed, 1),
                    "stage": cfg.stage,
                })  # fmt: skip
            if math.isfinite(value):
                ema = value if ema is None else 0.95 * ema + 0.05 * value
            bar.update(1)
            bar.set_postfix(loss=f"{ema:.4f}" if ema is not None else "nan")
            if engine.is_main and clock.checkpoint_due():
                save_checkpoint(ckpt_path, base, optimizer, step, rng, gen, clock.elapsed, cfg.stage)
                base.save_pretrained(run_dir / "model")
                plot_loss(run_dir)
            if clock.time_up():
                stopped = "time"
                break
    except KeyboardInterrupt:
        stopped = "interrupted"
    finally:
        bar.close()
        if log is not None:
            log.close()
    seconds = clock.elapsed
    if engine.is_main:
        save_checkpoint(ckpt_path, base, optimizer, step, rng, gen, seconds, cfg.stage)
        base.save_pretrained(run_dir / "model")
        plot_loss(run_dir)
    return {
        "stage": cfg.stage,
        "steps": step,
        "stopped": stopped,
        "seconds": round(seconds, 1),
        "ema_loss": round(ema, 5) if ema is not None else None,
        "clips": len(clips),
        "run_dir": str(run_dir),
    }
