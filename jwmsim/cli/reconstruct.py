"""``jwmsim reconstruct LOG --out scene.safetensors``: a Gaussian scene from a log, by any scene
source of :data:`jwmsim.scenes.sources.SCENE_SOURCES` (default ``worldrec``: WorldRec refined within
``--budget`` seconds). A quality report (held-out PSNR / SSIM, Gaussians, time per stage) is
printed and saved beside the scene as ``<stem>.report.json`` with a contact sheet
``<stem>.contact.png`` (true / rendered / error). Ctrl-C leaves no scene file behind."""

from __future__ import annotations

import json
import sys
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
    method: str = typer.Option("worldrec", "--method", help=f"reconstruction method ({_methods_help()})"),
    steps: int = typer.Option(None, "--steps", help="optimisation steps of --method fit (default 1500)"),
    budget: float = typer.Option(
        None,
        "--budget",
        help="--method worldrec: seconds for the whole build (default 60; 0: no refinement)",
    ),
    refine: int = typer.Option(
        None,
        "--refine",
        help="--method worldrec: at most this many refinement steps (default: the budget)",
    ),
    holdout_every: int = typer.Option(
        8,
        "--holdout-every",
        help="--method worldrec: hold out and score on every n-th frame (0: none)",
    ),
    size: str = typer.Option("90x160", "--size", help="fitting / evaluation resolution HEIGHTxWIDTH [px]"),
    cameras: str = typer.Option(None, "--cameras", help="comma-separated channels (default: all)"),
    device: str = typer.Option("auto", "--device", help="auto (CUDA when present), cpu, cuda or cuda:N"),
    report: Path = typer.Option(None, "--report", help="also write the method's report as JSON here"),
    seed: int = typer.Option(0, "--seed", help="random seed"),
) -> None:
    """Reconstruct a Gaussian scene (background, one component per actor, sky) from a log. The
    scene records the log it was built from (name, dataroot, content digest) and the method; the
    default, worldrec, refines WorldRec's scene within --budget seconds, holds every 8th frame out
    of both and prints and saves a quality report beside --out (held-out PSNR / SSIM, Gaussians,
    time per stage, a contact sheet PNG); the fit reports PSNR / SSIM on its held-out frames."""
    from jwmsim.scenes.sources import SourceSettings, check_source_options

    if method not in SCENE_SOURCES:
        raise ConfigError(
            f"unknown reconstruction method {method!r}", hint=f"use one of {SCENE_SOURCES.names()}"
        )
    settings = SourceSettings(
        steps=steps or refine,
        image_hw=parse_size(size),
        seed=seed,
        budget=budget,
        holdout_every=holdout_every,
    )
    given = {"steps": steps, "refine": refine, "budget": budget, "holdout_every": holdout_every}
    given = {k: v for k, v in given.items() if v is not None and not (k == "holdout_every" and v == 8)}
    check_source_options(method, given, settings)  # each source names the options it reads
    for name, value in (("--steps", steps), ("--refine", refine)):
        if value is not None and value < 1:
            raise ConfigError(f"{name} must be at least 1, got {value}")
    if out.suffix != ".safetensors":
        raise ConfigError(f"--out must end in .safetensors, got {out}")
    if out.exists() and out.is_dir():
        raise ConfigError(
            f"--out {out} is a folder", hint="name the scene file, e.g. --out scene.safetensors"
        )
    from dataclasses import replace

    from jwmsim.devices import resolve_device
    from jwmsim.logs.nuscenes import load_nuscenes_log
    from jwmsim.scenes.sources import build_scene, source_preview

    dev = resolve_device(device)
    if dataroot is None:
        from jwmsim.logs.procedural import default_log_path

        dataroot = default_log_path()
    chans = tuple(c.strip() for c in cameras.split(",")) if cameras else None
    lidar = SCENE_SOURCES.get(method).needs_lidar
    log = load_nuscenes_log(dataroot, scene=scene, cameras=chans, with_lidar=lidar)
    settings = replace(settings, device=str(dev))
    preview = source_preview(method, log)
    if preview:
        typer.echo(f"note: {preview}")
    result, rep = build_scene(log, method, settings, progress=sys.stderr.isatty())
    sheet = rep.pop("contact_sheet", None)
    out.parent.mkdir(parents=True, exist_ok=True)
    result.save(out)
    typer.echo(
        f"wrote {out}: {result.num_gaussians} Gaussians, {len(result.actors)} actors ({method} on {dev}); "
        f"built from log {result.metadata['log']!r} (digest {result.metadata['log_digest']})"
    )
    if "fit_seconds" in rep and "heldout_views" in rep:
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
    if "quality" in rep or sheet is not None:  # the source scored its scene on held-out frames
        from jwmsim.scenes.quality import write_report

        json_path, png_path = write_report({"method": method, "scene": str(out), **rep}, out, sheet)
        typer.echo(quality_summary(rep))
        typer.echo(f"report: {json_path}" + (f", contact sheet: {png_path}" if png_path else ""))
    if report is not None:
        from jwmsim.atomic import atomic_path

        with atomic_path(report) as tmp:
            tmp.write_text(json.dumps({"method": method, "device": str(dev), **rep}, indent=2) + "\n")


def quality_summary(rep: dict[str, object]) -> str:
    """The lines ``jwmsim reconstruct`` prints about a ``worldrec`` build: stages, fall-backs and
    held-out scores."""
    lines = []
    stages = rep.get("stages_seconds", {})
    if isinstance(stages, dict) and stages:
        lines.append("time per stage [s]: " + ", ".join(f"{k} {v:.1f}" for k, v in stages.items()))
    for key in ("fallback", "refine_note", "quality_note"):
        if key in rep:
            lines.append(f"{key.replace('_', ' ')}: {rep[key]}")
    if "refine_steps" in rep:
        lines.append(
            f"refined {rep['refine_steps']} steps (stopped by {rep.get('refine_stopped', 'steps')}) within a "
            f"{rep['budget_seconds']:.0f} s budget"
        )
    q = rep.get("quality")
    if isinstance(q, dict):
        lines.append(
            f"held-out frames {q['frames']} ({q['views']} views, {q['image_hw'][0]}x{q['image_hw'][1]}): "
            f"PSNR {q['psnr']:.2f} dB, SSIM {q['ssim']:.3f}, covered pixels {q['psnr_covered']:.2f} dB; "
            f"{rep.get('gaussians')} Gaussians"
        )
    return "\n".join(lines)
