"""``jwmsim reconstruct LOG --method fit --out scene.safetensors``: a Gaussian scene from a log."""

from __future__ import annotations

import json
import os
from pathlib import Path

import typer

from jwmsim.cli.app import app
from jwmsim.errors import ConfigError

METHODS = ("fit",)  # per-scene optimisation; feed-forward methods register here when they land


def _parse_size(text: str) -> tuple[int, int]:
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError as err:
        raise ConfigError(f"--size must look like HEIGHTxWIDTH, e.g. 90x160, got {text!r}") from err
    return h, w


@app.command("reconstruct")
def reconstruct(
    dataroot: Path = typer.Argument(None, help="nuScenes-format dataroot; default: the built-in seed log"),
    out: Path = typer.Option(..., "--out", help="scene file to write (.safetensors)"),
    scene: str = typer.Option(None, "--scene", help="scene name (default: the first scene)"),
    method: str = typer.Option("fit", "--method", help=f"reconstruction method: {', '.join(METHODS)}"),
    steps: int = typer.Option(1500, "--steps", help="optimisation steps (fit)"),
    size: str = typer.Option("90x160", "--size", help="fitting resolution HEIGHTxWIDTH [px]"),
    cameras: str = typer.Option(None, "--cameras", help="comma-separated channels (default: all)"),
    report: Path = typer.Option(None, "--report", help="also write the FitReport as JSON here"),
    seed: int = typer.Option(0, "--seed", help="random seed"),
) -> None:
    """Reconstruct a Gaussian scene (background, one component per actor, sky) from a log and
    report PSNR / SSIM on held-out frames (every 8th frame is held out)."""
    if method not in METHODS:
        raise ConfigError(f"unknown reconstruction method {method!r}", hint=f"use one of {list(METHODS)}")
    if out.suffix != ".safetensors":
        raise ConfigError(f"--out must end in .safetensors, got {out}")
    from jwmsim.gaussians.fit import FitConfig, fit_scene
    from jwmsim.logs.nuscenes import load_nuscenes_log

    if dataroot is None:
        from jwmsim.logs.procedural import default_log_path

        dataroot = default_log_path()
    cfg = FitConfig(
        steps=steps,
        image_hw=_parse_size(size),
        cameras=tuple(c.strip() for c in cameras.split(",")) if cameras else None,
        seed=seed,
    )
    log = load_nuscenes_log(dataroot, scene=scene, cameras=cfg.cameras, with_lidar=True)
    result, rep = fit_scene(log, cfg, progress=True)
    result.save(out)
    typer.echo(
        f"wrote {out}: {rep.num_gaussians} Gaussians, {rep.num_actors} actors, fit {rep.fit_seconds:.0f} s; "
        f"held-out PSNR {rep.heldout_psnr:.2f} dB, SSIM {rep.heldout_ssim:.3f} ({rep.heldout_views} views)"
    )
    typer.echo(f"initialised from {rep.init_reason}")
    if report is not None:
        report.parent.mkdir(parents=True, exist_ok=True)
        tmp = report.with_suffix(report.suffix + ".tmp")
        tmp.write_text(json.dumps(rep.to_dict(), indent=2) + "\n")
        os.replace(tmp, report)
