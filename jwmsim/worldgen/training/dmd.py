"""Stage 4 of WorldGen: distribution matching distillation (DMD) on the generator's own rollouts.

Per generator step (Self Forcing + DMD2, METHODS.md):

1. **Rollout.** The few-step generator (started from the ODE student) generates the frames of a
   batch of training clips after their true context frames, autoregressively with its KV cache
   (:func:`~jwmsim.worldgen.training.rollout.causal_rollout`), so that training sees what inference sees.
   One sampling step, drawn per rollout, runs with gradients and its ``x0`` is the frame's output.
2. **Critic.** The fake-score critic (started from the teacher) learns to denoise the generator's
   outputs (flow matching, x-prediction, the teacher-forcing layout), ``critic_updates`` times
   per generator step.
3. **Generator.** The outputs are noised to a random level; the frozen teacher (with
   classifier-free guidance, the *real* score) and the critic (the *fake* score) predict ``x0``;
   the generator is pushed along ``x0_real - x0_fake``, normalised by ``mean |x - x0_real|``
   (the DMD gradient, as a loss ``0.5 ||x - sg(x - grad)||^2``).

A run folder holds ``checkpoint.pt`` (generator, critic, both optimisers, step, RNG states;
atomic, every few minutes and at the end; ``--resume`` continues it), ``loss.csv`` with both
curves, ``loss.png`` and ``model/`` (the generator's ``save_pretrained``).
"""

from __future__ import annotations

import copy
import math
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from jwmsim.errors import CheckpointError, ConfigError
from jwmsim.progress import progress_bar
from jwmsim.run_clock import RunClock
from jwmsim.worldgen.flow import add_noise, sample_training_levels
from jwmsim.worldgen.modeling_worldgen import WorldGenModel
from jwmsim.worldgen.training.rollout import ClipInputs, causal_rollout, score_frames
from jwmsim.worldgen.training.train_clips import ClipSet
from jwmsim.worldgen.weights import load_worldgen

CSV_FIELDS = ["step", "loss", "critic_loss", "lr", "seconds", "stage"]


def clip_inputs(samples: list[Any], n_ctx: int, device: torch.device) -> ClipInputs:
    """Training clips (:class:`~jwmsim.worldgen.training.train_clips.ClipTensors`) as rollout inputs, their
    first ``n_ctx`` true frames the context."""
    return ClipInputs(
        context=torch.stack([s.x0[:n_ctx] for s in samples]).to(device),
        cond=torch.stack([s.cond for s in samples]).to(device),
        rays=torch.stack([s.rays for s in samples]).to(device),
        motion=torch.stack([s.motion for s in samples]).to(device),
    )


def critic_loss(
    critic: WorldGenModel, inputs: ClipInputs, fake: torch.Tensor, k: float, gen: torch.Generator
) -> torch.Tensor:
    """The critic's flow-matching loss on the generator's (detached) frames ``fake`` ``[B, G, ...]``."""
    b, g = fake.shape[:2]
    s = sample_training_levels((b, g), k, gen).to(fake.device)
    eps = torch.randn(fake.shape, generator=gen).to(fake.device)
    x_s = add_noise(fake, eps, s.view(b, g, 1, 1, 1, 1))
    pred = score_frames(critic, inputs.context, fake, x_s, s, inputs.cond, inputs.rays, inputs.motion)
    return (pred - fake).pow(2).mean()


def dmd_loss(
    fake: torch.Tensor,
    inputs: ClipInputs,
    teacher: WorldGenModel,
    critic: WorldGenModel,
    guidance: float,
    k: float,
    gen: torch.Generator,
) -> tuple[torch.Tensor, float]:
    """The generator's DMD loss for its frames ``fake`` ``[B, G, C, 3, H, W]`` (with gradients);
    returns the loss and the mean size of the normalised gradient."""
    b, g = fake.shape[:2]
    s = sample_training_levels((b, g), k, gen).clamp(0.02, 0.98).to(fake.device)
    eps = torch.randn(fake.shape, generator=gen).to(fake.device)
    with torch.no_grad():
        clean = fake.detach()
        x_s = add_noise(clean, eps, s.view(b, g, 1, 1, 1, 1))
        args = (inputs.context, clean, x_s, s, inputs.cond, inputs.rays, inputs.motion)
        real = score_frames(teacher, *args)
        if guidance != 1.0:
            uncond = score_frames(teacher, *args, noisy_cond=torch.zeros_like(inputs.cond[:, -g:]))
            real = uncond + guidance * (real - uncond)
        fake_score = score_frames(critic, *args)
        norm = (clean - real).abs().mean(dim=(2, 3, 4, 5), keepdim=True).clamp_min(1e-3)
        grad = (fake_score - real) / norm
    loss = 0.5 * (fake - (clean - grad)).pow(2).mean()
    return loss, float(grad.abs().mean())


def train_dmd(cfg: Any, run_dir: Path, data: Path, resume: bool, progress: bool) -> dict[str, Any]:
    """Run (or continue) stage 4 in ``run_dir`` (``cfg``: a
    :class:`~jwmsim.worldgen.training.train.TrainConfig` with ``init`` the ODE student and
    ``teacher`` the causal teacher)."""
    from jwmsim.training import (
        LossLog,
        atomic_save,
        lr_factor,
        restore_rng,
        rng_state,
        trim_csv,
        write_run_config,
    )
    from jwmsim.worldgen.pipeline_worldgen import SOLVERS, schedule
    from jwmsim.worldgen.training.run_files import plot_loss

    if not cfg.teacher or not cfg.init:
        raise ConfigError(
            "the dmd stage needs --teacher (the causal teacher) and --init (the ODE student)",
            hint="jwmsim train worldgen --stage dmd --teacher assets/worldgen --init runs/wg-ode/model",
        )
    run_dir.mkdir(parents=True, exist_ok=True)
    ckpt = run_dir / "checkpoint.pt"
    if ckpt.exists() and not resume:
        raise ConfigError(f"{run_dir} already holds a training run", hint="pass --resume, or another --out")
    clips = ClipSet(data)
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    generator = load_worldgen(cfg.init, dev).train()
    teacher = load_worldgen(cfg.teacher, dev).eval().requires_grad_(False)
    critic = copy.deepcopy(teacher).train().requires_grad_(True)
    opt_g = torch.optim.AdamW(generator.parameters(), lr=cfg.lr, betas=(0.0, 0.99), weight_decay=0.0)
    opt_c = torch.optim.AdamW(critic.parameters(), lr=cfg.critic_lr, betas=(0.0, 0.99), weight_decay=0.0)
    step, elapsed = 0, 0.0
    if resume:
        from jwmsim.worldgen.training.run_files import load_checkpoint

        state = load_checkpoint(ckpt, "dmd")
        try:
            generator.load_state_dict(state["model"])
            critic.load_state_dict(state["critic"])
            opt_g.load_state_dict(state["optimizer"])
            opt_c.load_state_dict(state["critic_optimizer"])
        except (KeyError, RuntimeError, ValueError) as err:
            raise CheckpointError(f"{ckpt} does not match the models ({err})") from err
        step, elapsed = int(state["step"]), float(state["elapsed"])
        restore_rng(state, rng, gen)
        trim_csv(run_dir / "loss.csv", step)
    write_run_config(run_dir, asdict(cfg), step if resume else None)
    k = float(teacher.config.timestep_shift if cfg.level_shift is None else cfg.level_shift)
    levels = schedule("renoise", cfg.student_steps, float(generator.config.timestep_shift))
    renoise = SOLVERS.get("renoise")
    bf16 = cfg.autocast == "bf16"
    log = LossLog(run_dir / "loss.csv", CSV_FIELDS)

    def checkpoint(now_elapsed: float) -> None:
        atomic_save({
            "model": generator.state_dict(), "critic": critic.state_dict(),
            "optimizer": opt_g.state_dict(), "critic_optimizer": opt_c.state_dict(),
            "step": step, **rng_state(rng, gen), "elapsed": now_elapsed, "stage": "dmd",
        }, ckpt)  # fmt: skip
        generator.save_pretrained(run_dir / "model")
        plot_loss(run_dir)

    clock = RunClock(elapsed, cfg.checkpoint_every_s, cfg.max_minutes)
    bar = progress_bar(total=cfg.steps, initial=step, desc="worldgen dmd", unit="step", disable=not progress)
    stopped, ema = "steps", None
    try:
        while step < cfg.steps:
            for group in opt_g.param_groups:
                group["lr"] = cfg.lr * lr_factor(step, cfg)
            gc = generator.config
            samples = [
                clips.draw(rng, cfg.clip_frames, gc.patch, gc.depth_scale, cfg.crop_hw)
                for _ in range(cfg.batch)
            ]
            inputs = clip_inputs(samples, cfg.context_frames, dev)
            exit_step = int(rng.integers(cfg.student_steps))
            with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=bf16):
                fake = causal_rollout(
                    generator, inputs, levels, renoise, generator=gen, grad_step=exit_step
                ).x0
                c_losses = []
                for _ in range(cfg.critic_updates):
                    lc = critic_loss(critic, inputs, fake.detach(), k, gen)
                    opt_c.zero_grad(set_to_none=True)
                    lc.backward()
                    torch.nn.utils.clip_grad_norm_(critic.parameters(), cfg.grad_clip)
                    if math.isfinite(float(lc.detach())):
                        opt_c.step()
                    c_losses.append(float(lc.detach()))
                lg, grad_size = dmd_loss(fake, inputs, teacher, critic, cfg.guidance, k, gen)
            opt_g.zero_grad(set_to_none=True)
            lg.backward()
            norm = float(torch.nn.utils.clip_grad_norm_(generator.parameters(), cfg.grad_clip))
            if math.isfinite(norm) and math.isfinite(float(lg.detach())):
                opt_g.step()
            step += 1
            log.write({
                "step": step, "loss": round(grad_size, 6), "critic_loss": round(float(np.mean(c_losses)), 6),
                "lr": f"{opt_g.param_groups[0]['lr']:.3e}", "stage": "dmd",
                "seconds": round(clock.elapsed, 1),
            })  # fmt: skip
            ema = grad_size if ema is None else 0.95 * ema + 0.05 * grad_size
            bar.update(1)
            bar.set_postfix(grad=f"{ema:.4f}", critic=f"{np.mean(c_losses):.4f}")
            if clock.checkpoint_due():
                checkpoint(clock.elapsed)
            if clock.time_up():
                stopped = "time"
                break
    except KeyboardInterrupt:
        stopped = "interrupted"
    finally:
        bar.close()
        log.close()
    seconds = clock.elapsed
    checkpoint(seconds)
    return {
        "stage": "dmd",
        "steps": step,
        "stopped": stopped,
        "seconds": round(seconds, 1),
        "ema_grad": round(ema, 5) if ema is not None else None,
        "clips": len(clips),
        "run_dir": str(run_dir),
    }
