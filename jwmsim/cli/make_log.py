"""``jwmsim make-log`` and ``jwmsim make-dataset``: record procedural towns as nuScenes logs."""

from __future__ import annotations

from pathlib import Path

import typer


def make_log(
    seed: int = typer.Option(..., "--seed", help="town seed (non-negative integer)"),
    out: Path = typer.Option(..., "--out", help="dataroot folder to create"),
    duration: float = typer.Option(20.0, "--duration", help="log length in seconds"),
    width: int = typer.Option(320, "--width", help="camera image width in pixels"),
    height: int = typer.Option(180, "--height", help="camera image height in pixels"),
    workers: int = typer.Option(0, "--workers", help="render processes (0: up to 2)"),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace an existing --out folder"),
) -> None:
    """Generate the town of SEED and record a nuScenes-format log of it (6 cameras and LIDAR_TOP at
    10 Hz, 2 Hz keyframes, every actor annotated, drivable-area map, lane centrelines)."""
    from jwmsim.logs.procedural import LogConfig, write_town_log

    cfg = LogConfig(duration=duration, width=width, height=height, workers=workers)
    path = write_town_log(seed, out, cfg, progress=True, overwrite=overwrite)
    typer.echo(f"wrote {path}  (load it with: jwmsim info {path})")


def make_dataset_command(
    count: int = typer.Option(..., "--count", help="number of logs (towns)"),
    out: Path = typer.Option(..., "--out", help="folder for the logs (one sub-folder per town)"),
    seed0: int = typer.Option(1000, "--seed0", help="seed of the first town; the others follow"),
    duration: float = typer.Option(20.0, "--duration", help="length of each log in seconds"),
    width: int = typer.Option(320, "--width", help="camera image width in pixels"),
    height: int = typer.Option(180, "--height", help="camera image height in pixels"),
    workers: int = typer.Option(0, "--workers", help="render processes per log (0: up to 2)"),
) -> None:
    """Write COUNT procedural logs (seeds SEED0 ...) for training; finished logs are kept, so an
    interrupted run resumes where it stopped."""
    from jwmsim.logs.procedural import LogConfig, make_dataset

    cfg = LogConfig(duration=duration, width=width, height=height, workers=workers)
    paths = make_dataset(out, count, seed0, cfg)
    typer.echo(f"{len(paths)} logs in {out}")
