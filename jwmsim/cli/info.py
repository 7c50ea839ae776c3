"""``jwmsim info DATAROOT [--scene NAME]``: what a log holds; ``jwmsim info --plugins``: what is
registered in each entry-point group and where it comes from."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer


def plugin_registries() -> dict[str, Any]:
    """Every registry that plugins extend, by entry-point group."""
    from jwmsim.envs.render_paths import RENDER_PATHS
    from jwmsim.planning import PLANNERS
    from jwmsim.scenes.sources import SCENE_SOURCES
    from jwmsim.sim.behaviours import BEHAVIOURS
    from jwmsim.sim.metrics import EPISODE_METRICS

    registries = (PLANNERS, RENDER_PATHS, SCENE_SOURCES, BEHAVIOURS, EPISODE_METRICS)
    return {reg.group: reg for reg in registries}


def format_plugins(registries: dict[str, Any]) -> tuple[str, int]:
    """One line per registered name (``name  origin``, or ``FAILED`` and why) under each group, and
    the number of entries that failed to load. Loading one entry never stops the others."""
    from jwmsim.registry import PluginLoadError, format_load_error

    lines: list[str] = []
    failed = 0
    for group, reg in registries.items():
        items = reg.load_all()
        lines.append(f"{group}  ({len(items)})")
        width = max((len(n) for n in items), default=0)
        for name, item in items.items():
            origin = reg.origin(name).describe()
            if isinstance(item, PluginLoadError):
                failed += 1
                lines.append(f"  {name:<{width}}  FAILED to load {origin}: {format_load_error(item)}")
            else:
                lines.append(f"  {name:<{width}}  {origin}")
    return "\n".join(lines), failed


def format_summary(summary: dict[str, object], scenes: list[str]) -> str:
    """Human-readable lines for :meth:`LogSegment.summary`."""
    from jwmsim.logs.segment import DRIVABLE_AREA_SOURCES

    lines = [f"log        {summary['name']}  ({summary['source']})"]
    if len(scenes) > 1:
        lines.append(f"scenes     {len(scenes)}: {', '.join(scenes)}")
    cams = summary["cameras"]
    assert isinstance(cams, dict)
    lines.append(f"cameras    {len(cams)}")
    for name, c in cams.items():
        lines.append(f"  {name:<16} {c['resolution']:>10}  {c['frames']} frames")
    lines += [
        f"rate       {summary['frame_rate_hz']} Hz  ({summary['keyframes']} keyframes)",
        f"duration   {summary['duration_s']} s",
        f"lidar      {summary['lidar_sweeps']} sweeps"
        + ("  (none: a fit starts from random points)" if summary["lidar_sweeps"] == 0 else ""),
        f"actors     {summary['actors']}",
    ]
    by_cat = summary["actors_by_category"]
    assert isinstance(by_cat, dict)
    lines += [f"  {cat:<32} {n}" for cat, n in by_cat.items()]
    area = summary["drivable_area_m2"]
    source = str(summary.get("drivable_area_source", ""))
    if area is None:
        lines.append("map        none (every point counts as drivable)")
    else:
        lines.append(f"map        drivable area {area} m^2, from {DRIVABLE_AREA_SOURCES.get(source, source)}")
    lanes = summary.get("lanes")
    if lanes is not None:
        lines.append(f"lanes      {lanes}")
    return "\n".join(lines)


def info(
    dataroot: Path = typer.Argument(None, help="nuScenes-format dataroot; default: the built-in seed log"),
    scene: str = typer.Option(None, "--scene", help="scene name (default: the first scene)"),
    version: str = typer.Option(
        None, "--version", help="table folder, e.g. v1.0-mini (default: the only one)"
    ),
    plugins: bool = typer.Option(
        False,
        "--plugins",
        help="List the planners, render paths, scene sources, behaviours and metrics registered by "
        "entry points, with the package each comes from (exit 1 if one fails to load).",
    ),
) -> None:
    """Print the cameras, resolution, frame count and rate, duration, actors and map of a log."""
    if plugins:
        text, failed = format_plugins(plugin_registries())
        typer.echo(text)
        if failed:
            typer.echo(f"{failed} plugin entr{'y' if failed == 1 else 'ies'} failed to load", err=True)
            raise typer.Exit(1)
        return
    from jwmsim.logs.nuscenes import list_scenes, load_nuscenes_log

    if dataroot is None:
        from jwmsim.logs.procedural import default_log_path

        dataroot = default_log_path()
    log = load_nuscenes_log(dataroot, scene=scene, version=version, with_lidar=True)
    summary = log.summary()
    summary["lanes"] = len(log.lanes) if log.lanes else None
    typer.echo(format_summary(summary, list_scenes(dataroot, version)))
