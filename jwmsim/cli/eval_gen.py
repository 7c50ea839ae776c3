"""``jwmsim eval gen --generator skeleton --generator copy-last [--generator worldgen] --out DIR``:
frame generators on the WorldGen evaluation set (:mod:`jwmsim.worldgen.training.evaluate`)."""

from __future__ import annotations

from pathlib import Path

import typer

from jwmsim.errors import ConfigError


def _generators_help() -> str:
    from jwmsim.worldgen.training.generators import generator_help

    return generator_help()


def eval_gen(
    generator: list[str] = typer.Option(
        ["skeleton", "copy-last"], "--generator", "-g", help=f"generator(s) to score ({_generators_help()})"
    ),
    out: Path = typer.Option(..., "--out", help="folder for results.json, results.md and plots"),
    root: Path = typer.Option(None, "--root", help="WorldGen data root (default $JWMSIM_CACHE/worldgen)"),
    steps: int = typer.Option(None, "--steps", help="sampling steps of a diffusion generator"),
    weights: Path = typer.Option(None, "--weights", help="checkpoint folder of a trained generator"),
    device: str = typer.Option("cpu", "--device", help="cpu, cuda or cuda:N"),
    max_rollout_steps: int = typer.Option(None, "--max-rollout-steps", help="cut the drift rollout short"),
    only: list[str] = typer.Option(
        [], "--only", help="keep clips whose file name contains this (repeatable: shift-2m, real-heldout)"
    ),
) -> None:
    """Score generated frames against the true ones on unseen towns (shifts 0-3 m, a lane change,
    moved actors; lidar and WorldRec skeletons), the real log's held-out second and a drift
    rollout: PSNR / SSIM over the whole image and on pixels the skeleton does (not) cover."""
    from jwmsim.worldgen.training.dataset import default_root
    from jwmsim.worldgen.training.evaluate import EvalConfig, run_eval, write_outputs
    from jwmsim.worldgen.training.generators import GeneratorOptions

    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} is a file", hint="name a folder for the results")
    if steps is not None and steps < 1:
        raise ConfigError(f"--steps must be >= 1, got {steps}")
    if max_rollout_steps is not None and max_rollout_steps < 1:
        raise ConfigError(f"--max-rollout-steps must be >= 1, got {max_rollout_steps}")
    cfg = EvalConfig(
        root=root or default_root(),
        generators=tuple(generator),
        options=GeneratorOptions(device=device, steps=steps, weights=weights),
        max_rollout_steps=max_rollout_steps,
        only=tuple(only),
    )
    report = run_eval(cfg, log=typer.echo)
    for path in write_outputs(report, out):
        typer.echo(f"wrote {path}")
