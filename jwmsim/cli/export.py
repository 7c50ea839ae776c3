"""``jwmsim export SCENARIO --runs N --out DIR``: jittered closed-loop runs as a nuScenes dataroot."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from jwmsim.cli.replay import generator_options, parse_size
from jwmsim.envs.render_paths import render_path_help
from jwmsim.scenes.sources import DEFAULT_SCENE_SOURCE, SCENE_SOURCES


def export_command(
    scenario: Path = typer.Argument(
        ..., help="scenario YAML file, or the name of a library scenario (e.g. cut_in; see scenarios/)"
    ),
    out: Path = typer.Option(
        ..., "--out", help="dataroot to write (new or empty; an export's folder resumes)"
    ),
    runs: int = typer.Option(None, "--runs", help="jittered runs = scenes (default: the scenario's)"),
    render: str = typer.Option(
        "skeleton", "--render", help=f"render path ({render_path_help(images_only=True)})"
    ),
    cameras: str = typer.Option(
        None, "--cameras", help="comma-separated camera channels (default: every camera of the log)"
    ),
    size: str = typer.Option("180x320", "--size", help="image size HEIGHTxWIDTH of the exported cameras"),
    agent: str = typer.Option(None, "--agent", help="planner (default: the scenario's, else idm)"),
    scene: str = typer.Option(
        DEFAULT_SCENE_SOURCE,
        "--scene",
        help=f"scene source ({', '.join(SCENE_SOURCES.names())}) or a GaussianScene file",
    ),
    force_scene: bool = typer.Option(
        False, "--force-scene", help="render a scene file even if it records another log"
    ),
    name: str = typer.Option(None, "--name", help="tables go to v1.0-NAME (default: the scenario's name)"),
    jpeg_quality: int = typer.Option(90, "--jpeg-quality", help="JPEG quality 0-100"),
    backend: str = typer.Option("local", "--backend", help="execution backend: local (processes) or ray"),
    workers: int = typer.Option(
        None, "--workers", help="scenes in parallel (default: one per CPU core; 1: in this process)"
    ),
    ray_address: str = typer.Option(
        None, "--ray-address", help="Ray cluster to join with --backend ray (default: a local Ray)"
    ),
    device: str = typer.Option("auto", "--device", help="auto (CUDA when present), cpu, cuda or cuda:N"),
    no_progress: bool = typer.Option(False, "--no-progress", help="hide the progress bar"),
    duration: float = typer.Option(
        None, "--duration", help="seconds per run, replacing the scenario's duration (shorter scenes)"
    ),
    weights: Path = typer.Option(
        None, "--weights", help="weights folder of a generator render path (jwm; default: the path's)"
    ),
) -> None:
    """Export a scenario's jittered runs as one nuScenes-format dataroot: one scene per run with
    the rendered camera images (2 Hz keyframes + sweeps), ego poses, calibrated sensors, every
    actor annotated as simulated, the seed log's map and provenance.json. Resumable."""
    from jwmsim.export import ExportOptions, export, export_summary

    opts = ExportOptions(
        out=out,
        runs=runs,
        render=render,
        scene=scene,
        force_scene=force_scene,
        cameras=tuple(c.strip() for c in cameras.split(",") if c.strip()) if cameras is not None else None,
        image_size=parse_size(size),
        agent=agent,
        name=name,
        jpeg_quality=jpeg_quality,
        backend=backend,
        workers=workers,
        ray_address=ray_address,
        device=device,
        progress=not no_progress,
        duration=duration,
        render_options=generator_options(None, weights),
    )
    try:
        result = export(scenario, opts)
    except KeyboardInterrupt as stop:
        partial = stop.args[0] if stop.args else None
        if partial is not None:
            typer.echo(export_summary(partial))
            typer.echo(
                f"interrupted: the finished scenes are in {partial.out}; run the same command to resume"
            )
        else:
            typer.echo("interrupted before the export started", err=True)
        sys.exit(130)
    typer.echo(export_summary(result))
    typer.echo(f"load it with: jwmsim info {result.out}  or  NuScenes('{result.version}', '{result.out}')")
