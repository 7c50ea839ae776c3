"""``jwmsim reconstruct LOG --method M --out scene.safetensors``: a Gaussian scene from a log, by any
scene source of :data:`jwmsim.scenes.sources.SCENE_SOURCES`."""

from __future__ import annotations

import json
import os
from pathlib import Path

import typer

from jwmsim.cli.replay import parse_size
from jwmsim.errors import ConfigError
from jwmsim.scenes.sources import SCENE_SOURCES


def _methods_help() -> str:
    return "; ".join(f"{n}: {SCENE_SOURCES.get(n).description}" for n in SCENE_SOURCES.names())


def reconstruct(
    dataroot: Path = typer.Argument(None, help="nuScenes-format dataroot; default: the built-in seed log"),
    out: Path = typer.Option(..., "--out", help="scene file to write (.safetensors)"),
    scene: str = typer.Option(None, "--scene", help="scene name (default: the first scene)"),
    method: str = typer.Option("fit", "--method", help=f"reconstruction method ({_methods_help()})"),
    steps: int = typer.Option(None, "--steps", help="optimisation steps of --method fit (default 1500)"),
    refine: int = typer.Option(
        None, "--refine", help="--method worldrec: refine the prediction by this many fitting steps"
    ),
    size: str = typer.Option("90x160", "--size", help="fitting / evaluation resolution HEIGHTxWIDTH [px]"),
    cameras: str = typer.Option(None, "--cameras", help="comma-separated channels (default: all)"),
    device: str = typer.Option("auto", "--device", help="auto (CUDA when present), cpu, cuda or cuda:N"),
    report: Path = typer.Option(None, "--report", help="also write the method's report as JSON here"),
    seed: int = typer.Option(0, "--seed", help="random seed"),
) -> None:
    """Reconstruct a Gaussian scene (background, one component per actor, sky) from a log. The
    scene records the log it was built from (name, dataroot, content digest) and the method; the
    fit reports PSNR / SSIM on held-out frames (every 8th frame is held out)."""
    if method not in SCENE_SOURCES:
        raise ConfigError(
            f"unknown reconstruction method {method!r}", hint=f"use one of {SCENE_SOURCES.names()}"
        )
    if steps is not None and method != "fit":
        hint = "use --refine STEPS to refine a worldrec scene" if method == "worldrec" else "drop --steps"
        raise ConfigError(f"--steps is for --method fit, not {method!r}", hint=hint)
    if refine is not None and method != "worldrec":
        raise ConfigError(f"--refine is for --method worldrec, not {method!r}", hint="use --method worldrec")
    for name, value in (("--steps", steps), ("--refine", refine)):
        if value is not None and value < 1:
            raise ConfigError(f"{name} must be at least 1, got {value}")
    if out.suffix != ".safetensors":
        raise ConfigError(f"--out must end in .safetensors, got {out}")
    if out.exists() and out.is_dir():
        raise ConfigError(
            f"--out {out} is a folder", hint="name the scene file, e.g. --out scene.safetensors"
        )
    from jwmsim.devices import resolve_device
    from jwmsim.logs.nuscenes import load_nuscenes_log
    from jwmsim.scenes.sources import SourceSettings, build_scene

    dev = resolve_device(device)
    if dataroot is None:
        from jwmsim.logs.procedural import default_log_path

        dataroot = default_log_path()
    chans = tuple(c.strip() for c in cameras.split(",")) if cameras else None
    lidar = SCENE_SOURCES.get(method).needs_lidar
    log = load_nuscenes_log(dataroot, scene=scene, cameras=chans, with_lidar=lidar)
    settings = SourceSettings(device=str(dev), steps=steps or refine, image_hw=parse_size(size), seed=seed)
    result, rep = build_scene(log, method, settings, progress=True)
    result.save(out)
    typer.echo(
        f"wrote {out}: {result.num_gaussians} Gaussians, {len(result.actors)} actors ({method} on {dev}); "
        f"built from log {result.metadata['log']!r} (digest {result.metadata['log_digest']})"
    )
    if "heldout_psnr" in rep:
        typer.echo(
            f"fit {rep['fit_seconds']:.0f} s; held-out PSNR {rep['heldout_psnr']:.2f} dB, "
            f"SSIM {rep['heldout_ssim']:.3f} ({rep['heldout_views']} views)"
        )
    if "background_before" in rep:
        typer.echo(
            f"pruned the background from {rep['background_before']} to {rep['background_after']} Gaussians "
            f"({rep['prune_coverage']:.1%} of the blending weight, {rep['prune_seconds']:.1f} s)"
        )
    if "init_reason" in rep:
        typer.echo(f"initialised from {rep['init_reason']}")
    if report is not None:
        report.parent.mkdir(parents=True, exist_ok=True)
        tmp = report.with_suffix(report.suffix + ".tmp")
        tmp.write_text(json.dumps({"method": method, "device": str(dev), **rep}, indent=2) + "\n")
        os.replace(tmp, report)
