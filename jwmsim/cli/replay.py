"""``jwmsim replay SCENARIO``: closed-loop jittered runs of a scenario, with videos and metrics."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from jwmsim.backends import backend_help
from jwmsim.envs.render_paths import PICTURE_PATH, render_path_help
from jwmsim.errors import ConfigError
from jwmsim.replay import DEFAULT_VIDEOS
from jwmsim.scenes.sources import DEFAULT_SCENE_SOURCE, SCENE_SOURCES


def parse_size(text: str) -> tuple[int, int]:
    """``--size HEIGHTxWIDTH`` [px] -> ``(height, width)``."""
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ConfigError(f"--size {text!r} is not HEIGHTxWIDTH", hint="e.g. --size 112x200") from None
    if h < 16 or w < 16:
        raise ConfigError(f"--size {text!r} is too small", hint="at least 16x16")
    return h, w


def generator_options(steps: int | None, weights: Path | None) -> dict[str, object]:
    """Render-path options of ``--steps`` / ``--weights`` (a path without such options refuses
    them with a ConfigError naming its own)."""
    if weights is not None and not (Path(weights) / "config.json").is_file():
        raise ConfigError(f"--weights {weights} holds no config.json", hint="name a model folder")
    out: dict[str, object] = {}
    if steps is not None:
        out["steps"] = steps
    if weights is not None:
        out["weights"] = str(weights)
    return out


def parse_videos(text: str) -> int | None:
    """``--videos``: ``all`` (None: every run) or a count of runs, 0 or more."""
    if text.strip().lower() == "all":
        return None
    try:
        return int(text)
    except ValueError:
        raise ConfigError(
            f"--videos {text!r} is not a number of runs", hint="e.g. --videos 4, or --videos all"
        ) from None


def replay_command(
    scenario: Path = typer.Argument(
        ..., help="scenario YAML file, or the name of a library scenario (e.g. cut_in; see scenarios/)"
    ),
    agent: str = typer.Option(
        None,
        "--agent",
        help="planner name (idm, constant_velocity, log_replay), a .py path, or sb3:POLICY.zip "
        "(a policy zip runs code when loaded: only load files you trust)",
    ),
    runs: int = typer.Option(None, "--runs", help="number of jittered runs (default: the scenario's)"),
    out: Path = typer.Option(None, "--out", help="output folder (default: runs/<scenario name>)"),
    render: str = typer.Option(PICTURE_PATH, "--render", help=f"render path ({render_path_help()})"),
    scene: str = typer.Option(
        DEFAULT_SCENE_SOURCE,
        "--scene",
        help=f"scene source ({', '.join(SCENE_SOURCES.names())}) or a GaussianScene file",
    ),
    force_scene: bool = typer.Option(
        False, "--force-scene", help="render a scene file even if it records another log"
    ),
    device: str = typer.Option("auto", "--device", help="auto (CUDA when present), cpu, cuda or cuda:N"),
    workers: int = typer.Option(
        None, "--workers", help="parallel runs (default: one per CPU core; on Ray the cluster's CPUs)"
    ),
    backend: str = typer.Option("local", "--backend", help=f"execution backend ({backend_help()})"),
    ray_address: str = typer.Option(
        None, "--ray-address", help="Ray cluster address for --backend ray (default: a local Ray instance)"
    ),
    size: str = typer.Option("112x200", "--size", help="camera image size HEIGHTxWIDTH in the video"),
    cameras: str = typer.Option(
        "CAM_FRONT_LEFT,CAM_FRONT,CAM_FRONT_RIGHT", "--cameras", help="comma-separated camera channels"
    ),
    no_progress: bool = typer.Option(False, "--no-progress", help="hide progress bars"),
    steps: int = typer.Option(
        None, "--steps", help="sampling steps of a generator render path (jwm; default: the path's)"
    ),
    weights: Path = typer.Option(
        None, "--weights", help="weights folder of a generator render path (jwm; default: the path's)"
    ),
    duration: float = typer.Option(
        None, "--duration", help="seconds per run, replacing each scenario's duration (shorter runs)"
    ),
    videos: str = typer.Option(
        str(DEFAULT_VIDEOS),
        "--videos",
        help="runs with a video, the first N, or all; the others are scored without images "
        "(the same metrics, unless the planner reads the cameras)",
    ),
) -> None:
    """Replay a long-tail scenario in closed loop: per run an mp4 (camera mosaic + BEV) and
    metrics.json; a summary.json and a table of the runs."""
    from jwmsim.replay import PlannerFailed, ReplayOptions, replay, summary_table

    if steps is not None and steps < 1:
        raise ConfigError(f"--steps must be at least 1, got {steps}", hint="e.g. --steps 4")
    opts = ReplayOptions(
        agent=agent,
        runs=runs,
        out=out,
        render=render,
        scene=scene,
        force_scene=force_scene,
        device=device,
        workers=workers,
        backend=backend,
        ray_address=ray_address,
        cameras=tuple(c.strip() for c in cameras.split(",") if c.strip()),
        image_size=parse_size(size),
        progress=not no_progress,
        render_options=generator_options(steps, weights),
        duration=duration,
        videos=parse_videos(videos),
    )
    try:
        result = replay(scenario, opts)
    except PlannerFailed as failed:
        typer.echo(summary_table(failed.result))
        raise
    except KeyboardInterrupt as stop:
        partial = stop.args[0] if stop.args else None
        if partial is not None:
            typer.echo(summary_table(partial))
            typer.echo(f"interrupted: finished runs and the partial run's metrics are in {partial.out}")
        else:
            typer.echo("interrupted before the first run finished", err=True)
        sys.exit(130)
    typer.echo(summary_table(result))
    typer.echo(f"videos and metrics in {result.out}  (summary: {result.out / 'summary.json'})")
