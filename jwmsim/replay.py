"""Replay a scenario in closed loop: jittered runs, a video and ``metrics.json`` per run, a summary.

Output layout (``out`` defaults to ``runs/<scenario name>``)::

    out/
      run_000/video.mp4        the render path's camera mosaic + BEV (boxes, route, path, triggers)
      run_000/metrics.json     the run's draws, episode metrics, collisions, per-step penalties
      ...
      summary.json             per-run rows and the aggregate over finished runs

Runs are spread over ``workers`` processes (default: one per CPU core, at most one per run; each
run's result depends only on the scenario, its seed and the run index, so the same seed gives the
same metrics with any number of workers). Every file is written to a temporary name and renamed
into place, so an interrupted replay never leaves a half-written file: finished runs stay; a run
in progress gets ``metrics.json`` with ``"status": "interrupted"`` (the steps it completed) and no
video. A run whose planner raises or returns a non-finite action is recorded as ``"failed"`` with
the error; the replay then starts no further run, writes the summary and raises
:class:`PlannerFailed`.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing as mp
import os
import queue as queue_mod
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from jwmsim.errors import ConfigError, JwmsimError
from jwmsim.replay_run import (
    RunResult,
    RunSetup,
    init_worker,
    load_for_runs,
    run_in_worker,
    run_one,
    write_json_atomic,
)

SUMMARY_METRICS = ("pdms", "nc", "dac", "ttc", "ep", "c", "rc", "hd_score", "neuroncap", "collision")

__all__ = [
    "PlannerFailed",
    "ReplayOptions",
    "ReplayResult",
    "RunResult",
    "aggregate",
    "replay",
    "summary_table",
    "write_json_atomic",
]


class PlannerFailed(JwmsimError, RuntimeError):
    """The planner raised, or returned an action the simulator refuses, in a run.

    Attributes:
        result: the :class:`ReplayResult` with the runs that ended (the failed one included).
        traceback: the planner's traceback (its own code), when it raised.
    """

    exit_code = 1

    def __init__(self, message: str, hint: str, result: ReplayResult, traceback: str | None) -> None:
        super().__init__(message, hint=hint)
        self.result = result
        self.traceback = traceback


@dataclass(frozen=True)
class ReplayOptions:
    """How to replay.

    Attributes:
        agent: planner name or ``.py`` path (None: the scenario's agent, else ``idm``).
        runs: number of jittered runs (None: the scenario's ``runs``).
        out: output folder (None: ``runs/<scenario name>``); must not be a file.
        render: a render path of :data:`jwmsim.envs.render_paths.RENDER_PATHS` (``skeleton``,
            ``none`` (metrics only, no video), ``log_frames``, ...).
        scene: scene source (``lidar``, ``fit``, ...) or the path of a saved GaussianScene (e.g.
            from ``jwmsim reconstruct``); force_scene: render a scene file built for another log.
        cameras: channels in the video mosaic; image_size: ``(height, width)`` per camera [px].
        render_backend: ``auto``, ``cpu``, ``gsplat`` or ``reference``.
        device: ``auto`` (CUDA when present), ``cpu``, ``cuda`` or ``cuda:N``.
        workers: processes the runs are spread over (None: one per CPU core, at most the number
            of runs; 1: all in this process).
        progress: show tqdm bars.
        render_options: settings of the render path (e.g. ``{"steps": 4}`` for ``jwm``).
    """

    agent: str | None = None
    runs: int | None = None
    out: Path | None = None
    render: str = "skeleton"
    scene: str = "lidar"
    force_scene: bool = False
    cameras: tuple[str, ...] = ("CAM_FRONT_LEFT", "CAM_FRONT", "CAM_FRONT_RIGHT")
    image_size: tuple[int, int] = (112, 200)
    render_backend: str = "auto"
    device: str = "auto"
    workers: int | None = None
    progress: bool = True
    render_options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        from jwmsim.envs.render_paths import RENDER_PATHS

        if self.render not in RENDER_PATHS:
            raise ConfigError(
                f"render path {self.render!r} is not available", hint=f"choose one of {RENDER_PATHS.names()}"
            )
        if self.runs is not None and self.runs < 1:
            raise ConfigError(f"--runs must be >= 1, got {self.runs}")
        if self.workers is not None and self.workers < 1:
            raise ConfigError(f"--workers must be >= 1, got {self.workers}")
        if self.out is not None and Path(self.out).exists() and not Path(self.out).is_dir():
            raise ConfigError(
                f"--out {self.out} is a file, not a folder",
                hint="pass a folder (it is created if missing), e.g. --out runs/my_replay",
            )


@dataclass
class ReplayResult:
    """All runs of a replay and where the summary was written."""

    scenario: str
    out: Path
    runs: list[RunResult]
    aggregate: dict[str, Any]
    interrupted: bool = False


def aggregate(rows: list[RunResult]) -> dict[str, Any]:
    """Mean, min and max of each summary metric over finished runs, and the collision rate."""
    done = [r for r in rows if r.status == "finished"]
    out: dict[str, Any] = {
        "runs_finished": len(done),
        "runs_interrupted": sum(r.status == "interrupted" for r in rows),
        "runs_failed": sum(r.status == "failed" for r in rows),
    }
    for name in SUMMARY_METRICS:
        vals = [r.metrics[name] for r in done if r.metrics.get(name) is not None]
        if vals:
            out[name] = {"mean": float(np.mean(vals)), "min": float(np.min(vals)), "max": float(np.max(vals))}
    if done:
        out["collision_rate"] = float(np.mean([r.metrics.get("collision", 0.0) or 0.0 for r in done]))
    return out


def _prepare(scenario_path: Path, opts: ReplayOptions) -> tuple[Any, RunSetup, int, int]:
    """Validate the scenario against its log, check the agent and cameras, and build or fetch the
    scene once (so that workers only read it from the cache)."""
    from jwmsim.envs.render_paths import RENDER_PATHS, needs_lidar
    from jwmsim.planning import make_planner
    from jwmsim.scenario import load_scenario, sample
    from jwmsim.scenario.build import build_world_for_run
    from jwmsim.scenario.loader import load_seed_log
    from jwmsim.scenario.validate import validate_against_log

    scenario = load_scenario(scenario_path)
    log = load_seed_log(scenario, with_lidar=needs_lidar(opts.render, opts.scene))
    validate_against_log(scenario, log, scenario_path)
    agent = opts.agent or scenario.agent or "idm"
    planner = make_planner(agent)
    spec = RENDER_PATHS.get(opts.render)
    if planner.needs_observation and not spec.has_images:
        raise ConfigError(f"agent {agent!r} reads camera images", hint="use --render skeleton")
    cameras = tuple(c for c in opts.cameras if c in log.cameras) if spec.has_images else ()
    if spec.has_images and not cameras:
        raise ConfigError(
            f"none of the cameras {list(opts.cameras)} is in the log", hint=f"{log.camera_names}"
        )
    if spec.uses_scene:
        from jwmsim.envs.scene_sources import scene_for_log

        scene_for_log(log, opts.scene, progress=opts.progress, force=opts.force_scene)
    n_runs = opts.runs or scenario.runs
    max_steps = build_world_for_run(sample(scenario, 0, scenario.seed), log).config.max_steps
    out = Path(opts.out) if opts.out is not None else Path("runs") / scenario.name
    if out.exists() and not out.is_dir():
        raise ConfigError(f"output folder {out} is a file", hint="pass another --out")
    out.mkdir(parents=True, exist_ok=True)
    setup = RunSetup(
        scenario_path=Path(scenario_path),
        agent=agent,
        out=out,
        render=opts.render,
        scene=opts.scene,
        force_scene=opts.force_scene,
        cameras=cameras,
        image_size=opts.image_size,
        render_backend=opts.render_backend,
        device=opts.device,
        render_options=dict(opts.render_options),
    )
    return scenario, setup, n_runs, max_steps


def replay(
    scenario_path: str | Path,
    options: ReplayOptions | None = None,
    on_run: Callable[[RunResult], None] | None = None,
) -> ReplayResult:
    """Replay a scenario file; see the module docstring for what is written.

    Raises:
        ScenarioError / ConfigError / LogFormatError / CheckpointError: invalid scenario, agent,
            log, scene or options.
        PlannerFailed: a run's planner raised or returned a refused action (after the summary).
        KeyboardInterrupt: re-raised, with the :class:`ReplayResult` as its argument, after the
            finished runs, the partial runs' records and the summary are written.
    """
    opts = options or ReplayOptions()
    scenario, setup, n_runs, max_steps = _prepare(Path(scenario_path), opts)
    workers = opts.workers or min(os.cpu_count() or 1, n_runs)
    workers = max(1, min(workers, n_runs))
    started = time.perf_counter()
    bar = tqdm(
        total=n_runs * max_steps,
        desc=f"{scenario.name}: {n_runs} run(s) on {workers} process(es)",
        unit="step",
        disable=not opts.progress,
    )
    try:
        if workers == 1:
            results, interrupted = _run_here(setup, n_runs, bar, on_run)
        else:
            results, interrupted = _run_in_workers(setup, n_runs, workers, bar, on_run)
    finally:
        bar.close()
    results.sort(key=lambda r: r.run_index)
    agg = aggregate(results)
    failed = [r for r in results if r.status == "failed"]
    summary = {
        "scenario": scenario.name,
        "scenario_file": str(scenario_path),
        "agent": setup.agent,
        "render": opts.render,
        "scene": opts.scene if opts.render != "none" else None,
        "workers": workers,
        "wall_time_s": round(time.perf_counter() - started, 2),
        "interrupted": interrupted,
        "failed": bool(failed),
        "aggregate": agg,
        "runs": [
            {
                "run": r.run_index,
                "status": r.status,
                "end_reason": r.reason,
                "steps": r.steps,
                "metrics": r.metrics,
                "draws": r.draws,
                "dir": r.run_dir.name,
                **({"error": r.error} if r.error else {}),
            }
            for r in results
        ],
    }
    write_json_atomic(setup.out / "summary.json", summary)
    result = ReplayResult(scenario.name, setup.out, results, agg, interrupted)
    if interrupted:
        raise KeyboardInterrupt(result)
    if failed:
        first = failed[0]
        raise PlannerFailed(
            f"planner {setup.agent!r} failed in run {first.run_index} at step {first.steps}: {first.error}",
            hint=f"fix the planner; the run's record is {first.run_dir / 'metrics.json'}, the finished runs "
            f"and {setup.out / 'summary.json'} are kept",
            result=result,
            traceback=first.traceback,
        )
    return result


def _run_here(
    setup: RunSetup, n_runs: int, bar: tqdm, on_run: Callable[[RunResult], None] | None
) -> tuple[list[RunResult], bool]:
    loaded = load_for_runs(setup)
    results: list[RunResult] = []
    for run_index in range(n_runs):
        before = bar.n
        res = run_one(loaded, run_index, report=bar.update)
        bar.update(max(0, res.steps - (bar.n - before)))
        results.append(res)
        if res.status == "interrupted":
            return results, True
        if res.status == "failed":
            break
        if on_run is not None:
            on_run(res)
    return results, False


def _run_in_workers(
    setup: RunSetup, n_runs: int, workers: int, bar: tqdm, on_run: Callable[[RunResult], None] | None
) -> tuple[list[RunResult], bool]:
    """Runs spread over ``workers`` spawned processes (one numba thread each when the cores are
    all taken); Ctrl-C sets the stop event, so that every running run records itself as interrupted."""
    ctx = mp.get_context("spawn")
    stop, progress = ctx.Event(), ctx.Queue()
    threads = max(1, (os.cpu_count() or 1) // workers)
    results: list[RunResult] = []
    reported: dict[int, int] = {}
    interrupted = failed = False
    pool = cf.ProcessPoolExecutor(
        workers, mp_context=ctx, initializer=init_worker, initargs=(threads, stop, progress)
    )
    try:
        pending = {pool.submit(run_in_worker, setup, i): i for i in range(n_runs)}
        while pending:
            try:
                done, _ = cf.wait(pending, timeout=0.25, return_when=cf.FIRST_COMPLETED)
            except KeyboardInterrupt:
                interrupted = True
                stop.set()
                for fut in pending:
                    fut.cancel()
                continue
            _drain(progress, bar, reported)
            for fut in done:
                pending.pop(fut)
                if fut.cancelled():
                    continue
                try:
                    res = fut.result()
                except cf.process.BrokenProcessPool:
                    if interrupted:  # a worker hit by Ctrl-C before it could ignore it
                        continue
                    raise
                bar.update(max(0, res.steps - reported.get(res.run_index, 0)))
                reported[res.run_index] = res.steps
                results.append(res)
                if res.status in ("interrupted", "failed") and not (interrupted or failed):
                    interrupted |= res.status == "interrupted"
                    failed |= res.status == "failed"
                    for other in pending:
                        other.cancel()  # runs not started yet; running ones finish
                if res.status == "finished" and on_run is not None:
                    on_run(res)
            pending = {f: i for f, i in pending.items() if not f.cancelled()}
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return results, interrupted


def _drain(progress: Any, bar: tqdm, reported: dict[int, int]) -> None:
    while True:
        try:
            run_index, steps = progress.get_nowait()
        except queue_mod.Empty:
            return
        reported[run_index] = reported.get(run_index, 0) + steps
        bar.update(steps)


def summary_table(result: ReplayResult) -> str:
    """A plain-text table of the runs and the aggregate, for the terminal."""
    cols = ("pdms", "nc", "dac", "ttc", "ep", "c", "rc", "hd_score", "neuroncap")
    head = f"{'run':>4} {'status':<11} {'end':<15}" + "".join(f"{c:>9}" for c in cols)
    lines = [head, "-" * len(head)]
    for r in result.runs:
        vals = "".join(
            f"{r.metrics.get(c):>9.3f}" if r.metrics.get(c) is not None else f"{'-':>9}" for c in cols
        )
        lines.append(f"{r.run_index:>4} {r.status:<11} {r.reason or '-':<15}{vals}")
    agg = result.aggregate
    means = "".join(f"{agg[c]['mean']:>9.3f}" if c in agg else f"{'-':>9}" for c in cols)
    lines.append("-" * len(head))
    lines.append(f"{'mean':>4} {'':<11} {'':<15}{means}")
    if "collision_rate" in agg:
        lines.append(
            f"collision rate {agg['collision_rate']:.2f} over {agg['runs_finished']} finished run(s)"
        )
    return "\n".join(lines)
