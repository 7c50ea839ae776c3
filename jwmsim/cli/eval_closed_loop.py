"""``jwmsim eval closed-loop``: planners on a scenario library, jittered runs, metrics with
confidence intervals, two agents side by side, penalty attribution (see
:mod:`jwmsim.evaluation.closed_loop`)."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from jwmsim.backends import backend_help
from jwmsim.cli.replay import parse_size
from jwmsim.envs.render_paths import render_path_help
from jwmsim.scenes.sources import DEFAULT_SCENE_SOURCE


def _overall_table(payload: dict) -> str:
    from jwmsim.evaluation.confidence import Interval
    from jwmsim.evaluation.runs import METRIC_TITLES, METRICS

    labels = [a["label"] for a in payload["agents"]]
    width = max(24, *(len(lb) + 2 for lb in labels))
    lines = [f"{'metric':<15}" + "".join(f"{lb:>{width}}" for lb in labels)]
    for m in (*METRICS, "collision_rate"):
        cells = []
        for lb in labels:
            e = payload["results"][lb]["overall"].get(m)
            cells.append(Interval(e["mean"], e["low"], e["high"], e["n"]).text() if e else "-")
        lines.append(f"{METRIC_TITLES[m]:<15}" + "".join(f"{c:>{width}}" for c in cells))
    return "\n".join(lines)


def closed_loop_command(
    agent: list[str] = typer.Option(
        ...,
        "--agent",
        help="planner to evaluate, repeatable (idm, constant_velocity, log_replay, a .py path, "
        "sb3:POLICY.zip); "
        "paths are relative to the working directory. Policy zips and planner files run code when "
        "loaded: only pass files you trust (none is ever taken from a scenario folder)",
    ),
    scenarios: Path = typer.Option(
        None,
        "--scenarios",
        help="folder of scenario YAML files, searched recursively (default: the shipped library)",
    ),
    runs: int = typer.Option(
        None, "--runs", help="jittered runs per scenario (default: each scenario's runs)"
    ),
    out: Path = typer.Option(..., "--out", help="output folder (report.md, report.json, plots/, runs/)"),
    render: str = typer.Option("none", "--render", help=f"render path ({render_path_help()})"),
    scene: str = typer.Option(
        DEFAULT_SCENE_SOURCE, "--scene", help="scene source or GaussianScene file (skeleton path)"
    ),
    backend: str = typer.Option("local", "--backend", help=f"execution backend ({backend_help()})"),
    workers: int = typer.Option(
        None, "--workers", help="parallel runs (default: one per CPU core; on Ray the cluster's CPUs)"
    ),
    ray_address: str = typer.Option(
        None, "--ray-address", help="Ray cluster address for --backend ray (default: a local Ray instance)"
    ),
    size: str = typer.Option("112x200", "--size", help="camera image size HEIGHTxWIDTH (camera planners)"),
    cameras: str = typer.Option(
        "CAM_FRONT_LEFT,CAM_FRONT,CAM_FRONT_RIGHT", "--cameras", help="comma-separated camera channels"
    ),
    device: str = typer.Option("auto", "--device", help="auto (CUDA when present), cpu, cuda or cuda:N"),
    confidence: float = typer.Option(0.95, "--confidence", help="confidence level of the intervals"),
    no_progress: bool = typer.Option(False, "--no-progress", help="hide the progress bar"),
    duration: float = typer.Option(
        None, "--duration", help="seconds per run, replacing each scenario's duration (shorter runs)"
    ),
) -> None:
    """Score planners in closed loop on every scenario's jittered runs: NC, DAC, TTC, EP, C, PDMS,
    RC, HD-Score, NeuroNCAP and the collision rate, with confidence intervals, per scenario and
    overall; several --agent are compared side by side on the same runs."""
    from jwmsim.evaluation.closed_loop import ClosedLoopOptions, EvaluationFailed, evaluate_closed_loop

    opts = ClosedLoopOptions(
        agents=tuple(agent),
        scenarios=scenarios,
        runs=runs,
        out=out,
        render=render,
        scene=scene,
        cameras=tuple(c.strip() for c in cameras.split(",") if c.strip()),
        image_size=parse_size(size),
        device=device,
        backend=backend,
        workers=workers,
        ray_address=ray_address,
        confidence=confidence,
        progress=not no_progress,
        duration=duration,
    )
    try:
        report = evaluate_closed_loop(opts)
    except EvaluationFailed as failed:
        typer.echo(_overall_table(failed.report.payload))
        raise
    except KeyboardInterrupt as stop:
        partial = stop.args[0] if stop.args else None
        if partial is not None:
            typer.echo(_overall_table(partial.payload))
            typer.echo(f"interrupted: the report of the finished runs is in {partial.out}")
        else:
            typer.echo("interrupted before the first run finished", err=True)
        sys.exit(130)
    typer.echo(_overall_table(report.payload))
    typer.echo(f"report: {report.out / 'report.md'}  (JSON: report.json, plots: {report.out / 'plots'})")
