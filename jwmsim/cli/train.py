"""``jwmsim train worldrec --preset tiny-cpu|gpu``: train the WorldRec reconstruction network.

The gpu preset runs the same code through accelerate on every GPU ``accelerate launch`` starts::

    accelerate launch --multi_gpu -m jwmsim.cli train worldrec --preset gpu --out runs/worldrec-gpu
"""

from __future__ import annotations

import json
from pathlib import Path

import typer


def worldrec(
    preset: str = typer.Option("tiny-cpu", "--preset", help="tiny-cpu (2 CPU cores) or gpu (accelerate)"),
    out: Path = typer.Option(
        Path("runs/worldrec"), "--out", help="run folder (checkpoint, loss curve, model/)"
    ),
    data: Path = typer.Option(
        None,
        "--data",
        help="where training towns are generated and cached "
        "(default: $JWMSIM_CACHE/worldrec, i.e. ~/.cache/jwmsim/worldrec)",
    ),
    steps: int = typer.Option(None, "--steps", help="optimisation steps (default: the preset's)"),
    max_minutes: float = typer.Option(
        None, "--max-minutes", help="stop with a checkpoint after this wall time"
    ),
    towns: int = typer.Option(None, "--towns", help="procedural training towns (seeds 100 ...)"),
    real_log: Path = typer.Option(
        None, "--real-log", help="the real log's dataroot (default: ../shared/data)"
    ),
    no_real_log: bool = typer.Option(False, "--no-real-log", help="train on procedural towns only"),
    real_log_p: float = typer.Option(
        None, "--real-log-p", help="probability of drawing the real log per step (default: the preset's)"
    ),
    engine: str = typer.Option(None, "--engine", help="plain or accelerate (default: the preset's)"),
    resume: bool = typer.Option(False, "--resume", help="continue the run in --out from its checkpoint"),
    seed: int = typer.Option(None, "--seed", help="random seed"),
    init: Path = typer.Option(
        None, "--init", help="start from this model folder (fine-tune, e.g. assets/worldrec)"
    ),
    lr: float = typer.Option(None, "--lr", help="peak learning rate (default: the preset's)"),
    warmup: int = typer.Option(None, "--warmup", help="[steps] of linear learning-rate warm-up"),
) -> None:
    """Train WorldRec on procedural towns (with oracle views off the logged path) and the real
    log's frames 0-39 (every 8th is held out; frames 40-59 are the out-of-sample log, never read).
    Resumable; writes checkpoint.pt, loss.csv, loss.png and model/ (config.json + safetensors) to
    --out. Fine-tune shipped weights with --init assets/worldrec --lr 2e-4."""
    from jwmsim.errors import ConfigError
    from jwmsim.training import with_overrides
    from jwmsim.worldrec.training.train import TRAIN_PRESETS, train

    if preset not in TRAIN_PRESETS:
        raise ConfigError(f"unknown preset {preset!r}", hint=f"use one of {sorted(TRAIN_PRESETS)}")
    cfg = with_overrides(
        TRAIN_PRESETS[preset],
        steps=steps,
        max_minutes=max_minutes,
        num_towns=towns,
        real_log=str(real_log) if real_log else None,
        real_log_p=real_log_p,
        engine=engine,
        seed=seed,
        init=str(init) if init else None,
        lr=lr,
        warmup=warmup,
    )
    if no_real_log:
        from dataclasses import replace

        cfg = replace(cfg, real_log=None)
    if data is None:
        from jwmsim.worldrec.training.data import default_data_root

        data = default_data_root()
    summary = train(cfg, out, data, resume=resume)
    typer.echo(json.dumps(summary, indent=2))


def worldgen(
    stage: str = typer.Option(
        ..., "--stage", help="pretrain (bidirectional), teacher-forcing (causal), ode or dmd (distillation)"
    ),
    preset: str = typer.Option("tiny-cpu", "--preset", help="tiny-cpu (2 CPU cores) or gpu (accelerate)"),
    out: Path = typer.Option(None, "--out", help="run folder (default: runs/worldgen-STAGE)"),
    data: Path = typer.Option(
        None, "--data", help="folder of training clips (*.npz; default: /work/data/worldgen/train)"
    ),
    init: Path = typer.Option(
        None, "--init", help="start from this model folder (teacher forcing: the pretrain run's model/)"
    ),
    steps: int = typer.Option(None, "--steps", help="optimisation steps (default: the preset's)"),
    max_minutes: float = typer.Option(
        None, "--max-minutes", help="stop with a checkpoint after this wall time"
    ),
    clip_frames: int = typer.Option(None, "--clip-frames", help="frames per training sample"),
    lr: float = typer.Option(None, "--lr", help="peak learning rate"),
    autocast: str = typer.Option(None, "--autocast", help="bf16 or none (default: the preset's)"),
    engine: str = typer.Option(None, "--engine", help="plain or accelerate (default: the preset's)"),
    resume: bool = typer.Option(False, "--resume", help="continue the run in --out from its checkpoint"),
    seed: int = typer.Option(None, "--seed", help="random seed"),
    no_progress: bool = typer.Option(False, "--no-progress", help="hide the progress bar"),
    teacher: Path = typer.Option(None, "--teacher", help="ode / dmd: the causal teacher's model folder"),
    guidance: float = typer.Option(None, "--guidance", help="ode / dmd: the teacher's guidance scale"),
    ode_pairs: int = typer.Option(None, "--ode-pairs", help="ode: trajectory files to make (8 clips each)"),
    euler_steps: int = typer.Option(None, "--euler-steps", help="ode: the teacher's Euler steps per frame"),
    student_steps: int = typer.Option(
        None, "--student-steps", help="ode / dmd: the student's sampling steps (its levels are trained)"
    ),
    critic_updates: int = typer.Option(
        None, "--critic-updates", help="dmd: critic updates per generator step"
    ),
    critic_lr: float = typer.Option(None, "--critic-lr", help="dmd: the fake-score critic's learning rate"),
    batch: int = typer.Option(None, "--batch", help="clips per step"),
    uncovered_weight: float = typer.Option(
        None,
        "--uncovered-weight",
        help="pretrain / teacher forcing: loss weight of pixels the skeleton leaves empty (default 1)",
    ),
    gradient_weight: float = typer.Option(
        None,
        "--gradient-weight",
        help="pretrain / teacher forcing: weight of the gradient variance loss beside the MSE "
        "(against blur; default 0)",
    ),
    gradient_source: list[str] = typer.Option(
        None,
        "--gradient-source",
        help="apply the gradient variance loss only to clips whose source starts with this "
        "(repeatable; e.g. pandaset; default: every clip)",
    ),
    preserve: Path = typer.Option(
        None,
        "--preserve",
        help="teacher forcing: hold the run to this frozen model's predictions (e.g. the --init)",
    ),
    preserve_weight: float = typer.Option(
        None, "--preserve-weight", help="weight of the MSE to the --preserve model's predictions (1)"
    ),
    preserve_source: list[str] = typer.Option(
        None,
        "--preserve-source",
        help="hold only clips whose source starts with this to the --preserve model "
        "(repeatable; e.g. town; default: every clip)",
    ),
    previous_frame: bool = typer.Option(
        False,
        "--previous-frame",
        help="the model also takes the previous frame per pixel (an --init is grown, new weights 0)",
    ),
    previous_noise: float = typer.Option(
        None, "--previous-noise", help="teacher forcing: largest noise std on the previous frame (0.1)"
    ),
) -> None:
    """Train WorldGen (flow matching, x-prediction) on skeleton/true-image clips. Resumable; writes
    checkpoint.pt, loss.csv, loss.png and model/ (config.json + safetensors) to --out. Distillation:
    --stage ode --teacher T (makes the teacher's trajectories, then trains the student), then
    --stage dmd --teacher T --init ODE_RUN/model."""
    from jwmsim.errors import ConfigError
    from jwmsim.training import with_overrides
    from jwmsim.worldgen.training.train import DEFAULT_DATA, STAGES, TRAIN_PRESETS, train

    if preset not in TRAIN_PRESETS:
        raise ConfigError(f"unknown preset {preset!r}", hint=f"use one of {sorted(TRAIN_PRESETS)}")
    if stage not in STAGES:
        raise ConfigError(f"unknown stage {stage!r}", hint=f"use one of {STAGES.names()}")
    cfg = with_overrides(
        TRAIN_PRESETS[preset],
        stage=stage,
        steps=steps,
        max_minutes=max_minutes,
        clip_frames=clip_frames,
        lr=lr,
        autocast=autocast,
        engine=engine,
        seed=seed,
        init=str(init) if init else None,
        teacher=str(teacher) if teacher else None,
        guidance=guidance,
        ode_pairs=ode_pairs,
        euler_steps=euler_steps,
        student_steps=student_steps,
        critic_updates=critic_updates,
        critic_lr=critic_lr,
        batch=batch,
        uncovered_weight=uncovered_weight,
        gradient_weight=gradient_weight,
        gradient_sources=tuple(gradient_source) if gradient_source else None,
        preserve=str(preserve) if preserve else None,
        preserve_weight=preserve_weight,
        preserve_sources=tuple(preserve_source) if preserve_source else None,
        previous_frame=True if previous_frame else None,
        previous_noise=previous_noise,
    )
    summary = train(
        cfg,
        out or Path(f"runs/worldgen-{stage}"),
        data or DEFAULT_DATA,
        resume=resume,
        progress=not no_progress,
    )
    typer.echo(json.dumps(summary, indent=2))
