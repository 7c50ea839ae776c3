"""``jwmsim search SCENARIO``: search a scenario's jitter for the cases where a planner does worst."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from jwmsim.backends import backend_help

OBJECTIVE_HELP = (
    "metric to drive to its worst value: an episode metric of the registry (pdms, nc, dac, ttc, ep, c, "
    "rc, hd_score, neuroncap, collision, ...; lowest is worst, except collision) or ttc_margin; ties "
    "are broken by the smallest ttc_margin"
)


def search_command(
    scenario: Path = typer.Argument(
        ..., help="scenario YAML file with jitter ranges, or the name of a library scenario (e.g. cut_in)"
    ),
    agent: str = typer.Option(
        None,
        "--agent",
        help="planner name, a .py path, or sb3:POLICY.zip (default: the scenario's, else idm)",
    ),
    budget: int = typer.Option(
        50, "--budget", help="finished trials the study should hold (trials of earlier calls count)"
    ),
    objective: str = typer.Option("pdms", "--objective", help=OBJECTIVE_HELP),
    out: Path = typer.Option(
        None,
        "--out",
        help="output folder; holds the study, so a second call continues it "
        "(default: runs/search/<scenario name>)",
    ),
    sampler: str = typer.Option("tpe", "--sampler", help="tpe, cmaes (continuous parameters only) or random"),
    seed: int = typer.Option(None, "--seed", help="sampler seed (default: the scenario's seed)"),
    top: int = typer.Option(3, "--top", help="how many worst cases to write as scenario files"),
    workers: int = typer.Option(
        1, "--workers", help="trials at a time (1: reproducible with --seed; more: faster, order varies)"
    ),
    backend: str = typer.Option("local", "--backend", help=f"execution backend ({backend_help()})"),
    ray_address: str = typer.Option(
        None, "--ray-address", help="Ray cluster address for --backend ray (default: a local Ray instance)"
    ),
    render: str = typer.Option(
        "none",
        "--render",
        help="render path of the trials (none: metrics only; a planner that reads "
        "images needs one with cameras, e.g. skeleton)",
    ),
    no_video: bool = typer.Option(False, "--no-video", help="replay the worst case without a video"),
    no_progress: bool = typer.Option(False, "--no-progress", help="no progress output"),
) -> None:
    """Search a scenario's jitter ranges with Optuna for the cases where the planner does worst;
    writes the worst cases as scenario files (worst_001.yaml ...), a report and the worst case's
    video. Resumable: the study lives in OUT/study.db."""
    from jwmsim.search import SearchOptions, search

    opts = SearchOptions(
        agent=agent,
        objective=objective,
        budget=budget,
        out=out,
        sampler=sampler,
        seed=seed,
        top=top,
        workers=workers,
        backend=backend,
        ray_address=ray_address,
        render=render,
        video=not no_video,
        progress=not no_progress,
    )
    result = search(scenario, opts)
    data = result.report
    obj = data["objective"]["metric"]
    trials = data["trials"]
    typer.echo(
        f"{trials['finished']} finished trial(s) ({trials['this_call']} in this call) of "
        f"{data['scenario']} with {data['agent']}; the {data['objective']['description']}:"
    )
    typer.echo(f"{'rank':>4} {'trial':>6} {obj:>11} {'ttc_margin':>11}  file")
    for case in data["worst"]:
        typer.echo(
            f"{case['rank']:>4} {case['trial']:>6} {case['metric']:>11.4g} {case['ttc_margin']:>11.3g}  "
            f"{case['file']}"
        )
    replay = data.get("replay")
    if replay is not None:
        verdict = (
            "same metrics" if replay["reproduced"] else "DIFFERENT metrics: " + ", ".join(replay["differ"])
        )
        typer.echo(
            f"replay of the worst case: {verdict}" + (f"; video {replay['video']}" if replay["video"] else "")
        )
    typer.echo(f"report: {result.out / 'report.md'}  (json, png beside it)")
    if data["worst"]:
        typer.echo(f"watch it: jwmsim view {data['worst'][0]['file']}")
    if replay is not None and not replay["reproduced"]:
        sys.exit(1)
