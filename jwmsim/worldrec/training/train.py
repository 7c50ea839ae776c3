"""Training of WorldRec: ``jwmsim train worldrec --preset tiny-cpu|gpu``.

Each step draws a window of one log (a procedural town, or the real log with its held-out frames
never loaded), predicts its Gaussian scene and renders it at target views the network did not
get: other frames (with actors at their poses then), cameras left out of the context, and in the
towns the oracle's true images at poses shifted sideways. Loss ``(1 - l) L1 + l D-SSIM`` (3DGS,
``l = 0.2``); Adam with linear warm-up then cosine decay, gradient clipping.

A run folder holds ``checkpoint.pt`` (model, optimiser, scheduler, step, RNG states: written every
few minutes, atomically; ``--resume`` continues it exactly), ``loss.csv`` and ``loss.png`` (the loss
curve), ``model/`` (``save_pretrained``: config.json + safetensors) and ``train_config.json``.

Engines (a registry): ``plain`` (one process, CPU or one GPU) and ``accelerate`` (Hugging Face
accelerate: ``accelerate launch --multi_gpu -m jwmsim.cli train worldrec --preset gpu`` runs it on
several GPUs, each process drawing its own samples).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from jwmsim.errors import ConfigError
from jwmsim.gaussians.image_metrics import psnr, ssim
from jwmsim.gaussians.render import render_gaussians
from jwmsim.gaussians.scene import GaussianScene
from jwmsim.geometry import SE3
from jwmsim.progress import progress_bar
from jwmsim.registry import Registry
from jwmsim.run_clock import RunClock
from jwmsim.training import (
    LossLog,
    atomic_save,
    load_training_checkpoint,
    lr_factor,
    read_loss_rows,
    restore_rng,
    rng_state,
    trim_csv,
    write_run_config,
)
from jwmsim.worldrec.configuration_worldrec import PRESETS as MODEL_PRESETS
from jwmsim.worldrec.modeling_worldrec import WorldRecModel
from jwmsim.worldrec.queries import box_pose
from jwmsim.worldrec.training.data import (
    Sample,
    Source,
    Target,
    check_training_seed,
    default_real_log,
    draw_sample,
    load_oracle,
    make_source,
    prepare_town,
)
from jwmsim.worldrec.window import build_window

REAL_LOG = default_real_log()


@dataclass(frozen=True)
class TrainConfig:
    """Settings of one training run (units in comments)."""

    model_preset: str = "tiny-cpu"
    steps: int = 2000
    lr: float = 1e-3  # tiny-cpu: few steps, small model (the gpu preset uses 4e-4)
    warmup: int = 50  # [steps]
    min_lr_frac: float = 0.1  # cosine decays to this fraction of lr
    grad_clip: float = 1.0
    ssim_weight: float = 0.2
    ctx_steps: int = 4  # context time steps per window
    ctx_stride: int = 3  # [frames] between context steps
    drop_camera_p: float = 0.25  # probability of leaving one camera out of the context
    real_log_p: float = 0.4  # probability of drawing the real log
    num_towns: int = 16
    town_seed0: int = 100
    town_duration: float = 4.0  # [s]
    oracle_views: int = 8  # shifted pose sets per town
    real_log: str | None = str(REAL_LOG)
    checkpoint_every_s: float = 180.0  # [s]
    max_minutes: float | None = None  # stop (with a checkpoint) after this wall time
    seed: int = 0
    torch_threads: int = 2
    engine: str = "plain"
    render_backend: str = "auto"
    extra: dict[str, Any] = field(default_factory=dict)  # model config overrides
    init: str | None = None  # a save_pretrained folder to start from (fine-tuning shipped weights)

    def __post_init__(self) -> None:
        if self.model_preset not in MODEL_PRESETS:
            raise ConfigError(
                f"unknown model preset {self.model_preset!r}", hint=f"use one of {sorted(MODEL_PRESETS)}"
            )
        if not 0.0 <= self.real_log_p <= 1.0:
            raise ConfigError(f"real_log_p is a probability in [0, 1], got {self.real_log_p}")
        if self.steps < 1 or self.num_towns < 0 or self.ctx_steps < 1 or self.ctx_stride < 1:
            raise ConfigError("steps, ctx_steps and ctx_stride must be >= 1 and num_towns >= 0")
        if self.num_towns == 0 and not self.real_log:
            raise ConfigError("nothing to train on: num_towns is 0 and no real log is given")
        for s in range(self.town_seed0, self.town_seed0 + self.num_towns):
            check_training_seed(s)


TRAIN_PRESETS: dict[str, TrainConfig] = {
    "tiny-cpu": TrainConfig(),
    "gpu": TrainConfig(
        model_preset="gpu",
        steps=60_000,
        num_towns=99,
        town_duration=20.0,
        oracle_views=40,
        ctx_steps=6,
        ctx_stride=2,
        lr=4e-4,
        checkpoint_every_s=600.0,
        torch_threads=8,
        engine="accelerate",
    ),
}


# --- engines ---------------------------------------------------------------------------------------
class Engine(Protocol):
    device: torch.device
    is_main: bool
    process_index: int  # each process draws its own samples (seed + index)

    def prepare(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> tuple[Any, Any]: ...

    def backward(self, loss: torch.Tensor) -> None: ...

    def clip(self, params: Iterable[torch.Tensor], max_norm: float) -> float: ...

    def unwrap(self, model: Any) -> WorldRecModel: ...


class PlainEngine:
    """One process on the CPU (or the first GPU when there is one)."""

    def __init__(self) -> None:
        self.device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        self.is_main = True
        self.process_index = 0

    def prepare(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> tuple[Any, Any]:
        return model.to(self.device), optimizer

    def backward(self, loss: torch.Tensor) -> None:
        loss.backward()

    def clip(self, params: Iterable[torch.Tensor], max_norm: float) -> float:
        return float(torch.nn.utils.clip_grad_norm_(list(params), max_norm))

    def unwrap(self, model: Any) -> WorldRecModel:
        return model


class AccelerateEngine:
    """Hugging Face accelerate (data-parallel over the processes ``accelerate launch`` starts)."""

    def __init__(self) -> None:
        try:
            from accelerate import Accelerator
        except ImportError as err:
            raise ConfigError(
                "the accelerate engine needs the `accelerate` package",
                hint="pip install accelerate, or use --engine plain",
            ) from err
        from accelerate.utils import DistributedDataParallelKwargs

        # windows differ in which queries see which views: some parameters may get no gradient
        ddp = DistributedDataParallelKwargs(find_unused_parameters=True)
        self.accelerator = Accelerator(kwargs_handlers=[ddp])
        self.device = self.accelerator.device
        self.is_main = self.accelerator.is_main_process
        self.process_index = self.accelerator.process_index

    def prepare(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> tuple[Any, Any]:
        return self.accelerator.prepare(model, optimizer)

    def backward(self, loss: torch.Tensor) -> None:
        self.accelerator.backward(loss)

    def clip(self, params: Iterable[torch.Tensor], max_norm: float) -> float:
        return float(self.accelerator.clip_grad_norm_(list(params), max_norm))

    def unwrap(self, model: Any) -> WorldRecModel:
        return self.accelerator.unwrap_model(model)


ENGINES: Registry[Callable[[], Engine]] = Registry("training engine")
ENGINES.add("plain", PlainEngine)
ENGINES.add("accelerate", AccelerateEngine)


# --- data ------------------------------------------------------------------------------------------
def load_sources(
    cfg: TrainConfig, data_root: Path, image_hw: tuple[int, int], progress: bool = True
) -> list[Source]:
    """Prepare (if missing) and load the training towns, then the real log's training frames."""
    from jwmsim.logs.nuscenes import load_nuscenes_log

    sources = []
    seeds = list(range(cfg.town_seed0, cfg.town_seed0 + cfg.num_towns))
    for seed in progress_bar(seeds, desc="training towns", unit="town", disable=not progress):
        path = prepare_town(data_root, seed, cfg.town_duration, image_hw, cfg.oracle_views)
        seg = load_nuscenes_log(path)
        sources.append(make_source(f"town-{seed}", seg, image_hw, load_oracle(path, image_hw), real=False))
    if cfg.real_log:
        root = Path(cfg.real_log)
        if not root.is_dir():
            raise ConfigError(f"real log {root} does not exist", hint="pass --real-log PATH or --no-real-log")
        sources.append(make_source("real", load_nuscenes_log(root), image_hw, None, real=True))
    return sources


def pick_source(sources: list[Source], cfg: TrainConfig, rng: np.random.Generator) -> Source:
    real = [s for s in sources if s.name == "real"]
    towns = [s for s in sources if s.name != "real"]
    if real and (not towns or rng.random() < cfg.real_log_p):
        return real[0]
    return towns[int(rng.integers(len(towns)))]


# --- loss ------------------------------------------------------------------------------------------
def render_target(scene: GaussianScene, sample: Sample, target: Target, backend: str) -> torch.Tensor:
    """``[T, H, W, 3]`` renders of ``target``'s views, actors at their poses at its time."""
    tracks = sample.source.cache.tracks
    poses = {
        a: SE3.from_matrix(box_pose(tracks[a], target.time))
        for a in scene.actors
        if tracks[a].is_present(target.time)
    }
    world = scene.compose(poses)
    hw = tuple(target.images.shape[1:3])
    dev = world.device
    return render_gaussians(
        world, scene.sky, target.viewmats.to(dev), target.ks.to(dev), hw, backend=backend
    ).rgb


def sample_loss(
    model: Any, sample: Sample, cfg: TrainConfig, rng: np.random.Generator, config: Any = None
) -> tuple[torch.Tensor, dict[str, float]]:
    """Loss of one sample and its per-target PSNRs (``psnr_frame``, ``psnr_oracle``).

    Args:
        model: the model, or the engine's wrapper of it (then pass its ``config``).
    """
    config = config if config is not None else model.config
    win = build_window(sample.source.cache, sample.frames, config, rng, sample.cameras)
    out = model(win.views, win.tokens, sample.source.cache.tracks, win.depth)
    losses, stats = [], {}
    scene = out.scene()
    for target in sample.targets:
        rgb = render_target(scene, sample, target, cfg.render_backend)
        gt = target.images.to(rgb.device)
        l1 = (rgb - gt).abs().mean()
        dssim = 1 - ssim(rgb, gt, window="gaussian", size=11)
        losses.append((1 - cfg.ssim_weight) * l1 + cfg.ssim_weight * dssim)
        stats[f"psnr_{target.kind}"] = psnr(rgb.detach().clamp(0, 1), gt)
    if not losses:
        raise ConfigError(f"sample of {sample.source.name} has no target views")
    stats["gaussians"] = float(out.gaussians.means.shape[0])
    return torch.stack(losses).mean(), stats


# --- checkpoints -----------------------------------------------------------------------------------
def save_checkpoint(
    path: Path,
    model: WorldRecModel,
    optimizer: torch.optim.Optimizer,
    step: int,
    rng: np.random.Generator,
    elapsed: float,
) -> None:
    """Write ``checkpoint.pt`` atomically: model, optimiser, step, random states, wall time."""
    state = {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "step": step,
        **rng_state(rng),
        "elapsed": elapsed,
        "model_config": {k: v for k, v in dict(model.config).items() if not k.startswith("_")},
    }
    atomic_save(state, path)


CSV_FIELDS = ["step", "loss", "psnr_frame", "psnr_oracle", "gaussians", "lr", "seconds", "source"]


def plot_loss(run_dir: Path) -> Path | None:
    """``loss.png`` from ``loss.csv`` (running means over 25 steps)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = read_loss_rows(run_dir)
    if not rows:
        return None

    def series(key: str) -> tuple[np.ndarray, np.ndarray]:
        pts = [(int(r["step"]), float(r[key])) for r in rows if r.get(key) not in ("", None, "nan")]
        if not pts:
            return np.zeros(0), np.zeros(0)
        s, v = np.array(pts).T
        k = min(25, len(v))
        return s[k - 1 :], np.convolve(v, np.ones(k) / k, mode="valid")

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.5))
    a1.plot(*series("loss"))
    a1.set_xlabel("step")
    a1.set_ylabel("loss (0.8 L1 + 0.2 D-SSIM)")
    for key in ("psnr_frame", "psnr_oracle"):
        s, v = series(key)
        if len(s):
            a2.plot(s, v, label=key.replace("psnr_", "targets: "))
    a2.set_xlabel("step")
    a2.set_ylabel("PSNR [dB] (training targets)")
    a2.legend()
    fig.tight_layout()
    out = run_dir / "loss.png"
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


# --- the loop --------------------------------------------------------------------------------------
def model_from_preset(cfg: TrainConfig) -> WorldRecModel:
    """The model to train: ``cfg.init`` loaded strictly (a bad folder is a ``CheckpointError``),
    else fresh from the preset and ``cfg.extra``."""
    if cfg.init:
        from jwmsim.worldrec.reconstruct import load_worldrec

        return load_worldrec(cfg.init).train()
    return WorldRecModel(**{**MODEL_PRESETS[cfg.model_preset], **cfg.extra})


def train(
    cfg: TrainConfig,
    run_dir: Path,
    data_root: Path,
    resume: bool = False,
    progress: bool = True,
    sources: list[Source] | None = None,
) -> dict[str, Any]:
    """Train (or, with ``resume``, continue) a WorldRec model in ``run_dir``.

    Args:
        sources: logs to train on (default: :func:`load_sources` of ``cfg``).

    Returns:
        A summary: steps, seconds, final running loss and PSNRs, paths.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(cfg.torch_threads)
    try:
        return _train(cfg, Path(run_dir), Path(data_root), resume, progress, sources)
    finally:
        torch.set_num_threads(threads)


def _train(
    cfg: TrainConfig,
    run_dir: Path,
    data_root: Path,
    resume: bool,
    progress: bool,
    sources: list[Source] | None,
) -> dict[str, Any]:
    run_dir.mkdir(parents=True, exist_ok=True)
    ckpt_path = run_dir / "checkpoint.pt"
    if ckpt_path.exists() and not resume:
        raise ConfigError(
            f"{run_dir} already holds a training run", hint="pass --resume to continue it, or another --out"
        )
    engine = ENGINES.get(cfg.engine)()
    torch.manual_seed(cfg.seed + engine.process_index)
    rng = np.random.default_rng(cfg.seed + engine.process_index)
    model = model_from_preset(cfg)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    step, elapsed = 0, 0.0
    if resume:
        state = load_training_checkpoint(ckpt_path, "WorldRec")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        step, elapsed = int(state["step"]), float(state["elapsed"])
        restore_rng(state, rng)
        trim_csv(run_dir / "loss.csv", step)
    write_run_config(run_dir, asdict(cfg), step if resume else None)
    model, optimizer = engine.prepare(model, optimizer)
    base = engine.unwrap(model)
    hw = tuple(base.config.image_hw)
    if sources is None:
        sources = load_sources(cfg, data_root, hw, progress)
    log = LossLog(run_dir / "loss.csv", CSV_FIELDS) if engine.is_main else None
    clock = RunClock(elapsed, cfg.checkpoint_every_s, cfg.max_minutes)
    bar = progress_bar(
        total=cfg.steps,
        initial=step,
        desc="worldrec",
        unit="step",
        disable=not progress or not engine.is_main,
    )
    ema: dict[str, float] = {}
    stopped = "steps"
    skipped = 0
    try:
        while step < cfg.steps:
            for group in optimizer.param_groups:
                group["lr"] = cfg.lr * lr_factor(step, cfg)
            source = pick_source(sources, cfg, rng)
            sample = draw_sample(source, rng, cfg.ctx_steps, cfg.ctx_stride, cfg.drop_camera_p)
            loss, stats = sample_loss(model, sample, cfg, rng, base.config)
            optimizer.zero_grad(set_to_none=True)
            engine.backward(loss)
            norm = engine.clip(model.parameters(), cfg.grad_clip)
            if math.isfinite(norm) and bool(torch.isfinite(loss.detach())):
                optimizer.step()  # a non-finite loss or gradient skips the update (logged as such)
            else:
                skipped += 1
            step += 1
            value = float(loss.detach())
            row = {
                "step": step,
                "loss": round(value, 6),
                "psnr_frame": round(stats.get("psnr_frame", float("nan")), 3),
                "psnr_oracle": round(stats.get("psnr_oracle", float("nan")), 3),
                "gaussians": int(stats["gaussians"]),
                "lr": f"{optimizer.param_groups[0]['lr']:.3e}",
                "seconds": round(clock.elapsed, 1),
                "source": source.name,
            }
            if log is not None:
                log.write(row)
            for k in ("loss", "psnr_frame", "psnr_oracle"):
                v = float(row[k])
                if math.isfinite(v):
                    ema[k] = v if k not in ema else 0.95 * ema[k] + 0.05 * v
            bar.update(1)
            bar.set_postfix({k: f"{v:.3f}" for k, v in ema.items()})
            if engine.is_main and clock.checkpoint_due():
                save_checkpoint(ckpt_path, base, optimizer, step, rng, clock.elapsed)
                base.save_pretrained(run_dir / "model")
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
        save_checkpoint(ckpt_path, base, optimizer, step, rng, seconds)
        base.save_pretrained(run_dir / "model")
        plot_loss(run_dir)
    return {
        "steps": step,
        "stopped": stopped,
        "skipped_updates": skipped,
        "seconds": round(seconds, 1),
        **{f"ema_{k}": round(v, 4) for k, v in ema.items()},
        "run_dir": str(run_dir),
    }
