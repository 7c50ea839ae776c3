"""Replay a scenario in closed loop: jittered runs, a video and ``metrics.json`` per run, a summary.

Output layout (``out`` defaults to ``runs/<scenario name>``)::

    out/
      run_000/video.mp4        the render path's camera mosaic + BEV (boxes, route, path, triggers)
      run_000/metrics.json     the run's draws, episode metrics, collisions, per-step penalties
      ...
      summary.json             per-run rows and the aggregate over finished runs

Runs execute on an execution backend (:mod:`jwmsim.backends`: ``local``, spread over ``workers``
processes, default one per CPU core and at most one per run; or ``ray``, remote tasks on a Ray
cluster or a local Ray instance). Each run's result depends only on the scenario, its seed and the
run index, so the same seed gives the same metrics on any backend with any number of workers.
Every file is written to a temporary name and renamed into place, so an interrupted replay never
leaves a half-written file: finished runs stay; a run in progress gets ``metrics.json`` with
``"status": "interrupted"`` (the steps it completed) and no video. A run whose planner raises or
returns a non-finite action is recorded as ``"failed"`` with the error; the replay then starts no
further run, writes the summary and raises :class:`PlannerFailed`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from jwmsim.backends import BACKENDS, Backend, BackendOptions, TaskFailed, make_backend
from jwmsim.envs.render_paths import PICTURE_PATH
from jwmsim.errors import ConfigError, JwmsimError
from jwmsim.progress import progress_bar
from jwmsim.replay_run import RunResult, RunSetup, run_task, write_json_atomic
from jwmsim.scenes.sources import DEFAULT_SCENE_SOURCE

SUMMARY_METRICS = ("pdms", "nc", "dac", "ttc", "ep", "c", "rc", "hd_score", "neuroncap", "collision")
FAILED_SCORE = 0.0  # what a failed run scores in the aggregates, on every score (never a pass)

__all__ = [
    "PlannerFailed",
    "ReplayOptions",
    "ReplayResult",
    "RunResult",
    "aggregate",
    "execute_runs",
    "prepare_runs",
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


# runs of a replay with a video by default (the first ones): the others are scored without images,
# so that the first command (install, then a 20-run replay with WorldGen's frames) stays within
# 4 minutes on 2 cores (one worker renders the video while the other scores the other runs)
DEFAULT_VIDEOS = 1


@dataclass(frozen=True)
class ReplayOptions:
    """How to replay.

    Attributes:
        agent: planner name or ``.py`` path (None: the scenario's agent, else ``idm``).
        runs: number of jittered runs (None: the scenario's ``runs``).
        out: output folder (None: ``runs/<scenario name>``); must not be a file.
        render: a render path of :data:`jwmsim.envs.render_paths.RENDER_PATHS`: ``jwm`` (the
            default, :data:`~jwmsim.envs.render_paths.PICTURE_PATH`: WorldGen's frames),
            ``skeleton``, ``none`` (metrics only, no video), ``log_frames``, ...
        scene: scene source (``lidar``, ``fit``, ...) or the path of a saved GaussianScene (e.g.
            from ``jwmsim reconstruct``); force_scene: render a scene file built for another log.
        cameras: channels in the video mosaic; image_size: ``(height, width)`` per camera [px].
        render_backend: ``auto``, ``cpu``, ``gsplat`` or ``reference``.
        device: ``auto`` (CUDA when present), ``cpu``, ``cuda`` or ``cuda:N``.
        workers: parallel runs (None: one per CPU core here, the cluster's CPUs on Ray; at most
            the number of runs; 1 on ``local``: all in this process).
        backend: execution backend of :data:`jwmsim.backends.BACKENDS` (``local``, ``ray``).
        ray_address: Ray cluster address for ``backend="ray"`` (None: a local Ray instance).
        progress: show tqdm bars.
        render_options: settings of the render path (e.g. ``{"steps": 4}`` for ``jwm``).
        duration: [s] replaces the scenario's duration (``--duration``; None: the scenario's).
        videos: runs with a video, the first ``videos`` (``--videos``; None: every run). The
            others run without camera images, metrics only (the same metrics: the planner reads
            the state), unless the planner reads the rendered observation.
    """

    agent: str | None = None
    runs: int | None = None
    out: Path | None = None
    render: str = PICTURE_PATH
    scene: str = DEFAULT_SCENE_SOURCE
    force_scene: bool = False
    cameras: tuple[str, ...] = ("CAM_FRONT_LEFT", "CAM_FRONT", "CAM_FRONT_RIGHT")
    image_size: tuple[int, int] = (112, 200)
    render_backend: str = "auto"
    device: str = "auto"
    workers: int | None = None
    backend: str = "local"
    ray_address: str | None = None
    progress: bool = True
    render_options: dict[str, Any] = field(default_factory=dict)
    duration: float | None = None
    videos: int | None = DEFAULT_VIDEOS

    def __post_init__(self) -> None:
        from jwmsim.envs.render_paths import RENDER_PATHS

        if self.render not in RENDER_PATHS:
            raise ConfigError(
                f"render path {self.render!r} is not available", hint=f"choose one of {RENDER_PATHS.names()}"
            )
        RENDER_PATHS.get(self.render).check_options(self.render, self.render_options)
        if self.duration is not None:
            from jwmsim.scenario.loader import check_duration

            check_duration(self.duration)
        if self.runs is not None and self.runs < 1:
            raise ConfigError(f"--runs must be >= 1, got {self.runs}")
        if self.videos is not None and self.videos < 0:
            raise ConfigError(
                f"--videos must be 0 or more, got {self.videos}", hint="--videos all for every run"
            )
        if self.backend not in BACKENDS:
            raise ConfigError(
                f"execution backend {self.backend!r} is not available",
                hint=f"choose one of {BACKENDS.names()}",
            )
        if self.ray_address is not None and self.backend != "ray":
            raise ConfigError("--ray-address needs --backend ray", hint="add --backend ray")
        BackendOptions(self.workers, self.ray_address)  # validates both
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


def scored_values(rows: list[RunResult], name: str) -> list[float]:
    """Values of metric ``name`` over the runs that ended: finished runs with their score, failed
    runs (the planner raised or returned a refused action) with :data:`FAILED_SCORE`, so that a
    failure never counts as a good drive. Interrupted runs are left out. The collision flag is
    counted over finished runs only (a failed run did not collide)."""
    vals = [r.metrics[name] for r in rows if r.status == "finished" and r.metrics.get(name) is not None]
    if name != "collision":
        vals += [FAILED_SCORE] * sum(r.status == "failed" for r in rows)
    return vals


def aggregate(rows: list[RunResult]) -> dict[str, Any]:
    """Mean, min and max of each summary metric over the runs that ended (failed runs score
    :data:`FAILED_SCORE`, see :func:`scored_values`), the collision rate over finished runs and
    the failure rate over ended runs."""
    done = [r for r in rows if r.status == "finished"]
    failed = sum(r.status == "failed" for r in rows)
    out: dict[str, Any] = {
        "runs_finished": len(done),
        "runs_interrupted": sum(r.status == "interrupted" for r in rows),
        "runs_failed": failed,
    }
    for name in SUMMARY_METRICS:
        vals = scored_values(rows, name)
        if vals:
            out[name] = {"mean": float(np.mean(vals)), "min": float(np.min(vals)), "max": float(np.max(vals))}
    if done:
        out["collision_rate"] = float(np.mean([r.metrics.get("collision", 0.0) or 0.0 for r in done]))
    if done or failed:
        out["failure_rate"] = failed / (len(done) + failed)
    return out


def prepare_runs(scenario_path: Path, opts: ReplayOptions) -> tuple[Any, RunSetup, int, int]:
    """Validate the scenario against its log, check the agent and cameras, and build or fetch the
    scene once (so that workers only read it from the cache).

    Returns:
        ``(scenario, setup, number of runs, max steps of a run)``.
    """
    from jwmsim.envs.render_paths import RENDER_PATHS, needs_lidar
    from jwmsim.planning import make_planner
    from jwmsim.scenario import load_scenario, sample
    from jwmsim.scenario.build import build_world_for_run
    from jwmsim.scenario.loader import load_seed_log, with_duration
    from jwmsim.scenario.validate import validate_against_log

    scenario = with_duration(load_scenario(scenario_path), opts.duration)
    log = load_seed_log(scenario, with_lidar=needs_lidar(opts.render, opts.scene))
    validate_against_log(scenario, log, scenario_path)
    agent = opts.agent or scenario.agent or "idm"
    planner = make_planner(agent)  # fails early, here, on a bad agent
    spec = RENDER_PATHS.get(opts.render)
    wants = planner.observation_spec()
    reads_images = bool(wants.cameras) if wants is not None else planner.needs_observation
    if reads_images and not spec.has_images:
        raise ConfigError(f"agent {agent!r} reads camera images", hint="use --render skeleton")
    if wants is not None and wants.cameras:
        missing = [c for c in wants.cameras if c not in log.cameras]
        if missing:
            raise ConfigError(
                f"agent {agent!r} reads camera(s) {missing}, which log {log.name!r} does not have",
                hint=f"cameras of this log: {log.camera_names}",
            )
        cameras, image_size = wants.cameras, wants.image_size or opts.image_size
    else:
        cameras = tuple(c for c in opts.cameras if c in log.cameras) if spec.has_images else ()
        image_size = opts.image_size
    if spec.has_images and not cameras:
        raise ConfigError(
            f"none of the cameras {list(opts.cameras)} is in the log", hint=f"{log.camera_names}"
        )
    if spec.uses_scene:
        from jwmsim.scenes.sources import scene_for_log

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
        image_size=image_size,
        render_backend=opts.render_backend,
        device=opts.device,
        render_options=dict(opts.render_options),
        bev_size=wants.bev_size if wants is not None else None,
        duration=opts.duration,
        videos=opts.videos,
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
    scenario, setup, n_runs, max_steps = prepare_runs(Path(scenario_path), opts)
    started = time.perf_counter()
    with make_backend(opts.backend, BackendOptions(opts.workers, opts.ray_address)) as backend:
        workers = backend.parallelism(n_runs)
        bar = progress_bar(
            total=n_runs * max_steps,
            desc=f"{scenario.name}: {n_runs} run(s) on {workers} {backend.name} worker(s)",
            unit="step",
            disable=not opts.progress,
        )
        try:
            results, interrupted, task_failure = execute_runs(
                backend, [(setup, i) for i in range(n_runs)], bar.update, on_run
            )
        finally:
            bar.close()
        backend_info = {**backend.describe(), "workers": workers}
    results.sort(key=lambda r: r.run_index)
    agg = aggregate(results)
    failed = [r for r in results if r.status == "failed"]
    summary = {
        "scenario": scenario.name,
        "scenario_file": str(scenario_path),
        "agent": setup.agent,
        "render": opts.render,
        "render_options": dict(opts.render_options),
        "videos": opts.videos,
        # what made the images (a generator path: its weights folder, digest and sampler)
        "render_path": next((r.record["render"] for r in results if "render" in r.record), None),
        "scene": opts.scene if opts.render != "none" else None,
        "workers": workers,
        "backend": backend_info,
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
    if task_failure is not None:
        raise task_failure
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


def execute_runs(
    backend: Backend,
    tasks: Sequence[tuple[RunSetup, int]],
    progress: Callable[[int], object] | None = None,
    on_run: Callable[[RunResult], None] | None = None,
) -> tuple[list[RunResult], bool, TaskFailed | None]:
    """Run ``tasks`` (``(setup, run index)`` pairs, possibly of several setups) on ``backend``.

    A run that fails or is interrupted starts no further run (the running ones finish); each run's
    ``metrics.json`` is written here too when the worker wrote it elsewhere (another Ray node).

    Args:
        progress: called with step increments (a tqdm bar's ``update``).
        on_run: called with each finished run, as it arrives.

    Returns:
        ``(results in task order, interrupted, the task failure if a task itself raised)``.
    """
    reported = [0] * len(tasks)

    def on_progress(index: int, steps: int) -> None:
        reported[index] += steps
        if progress is not None:
            progress(steps)

    found: dict[int, RunResult] = {}
    interrupted, failure = False, None
    try:
        for index, res in backend.map(
            run_task, list(tasks), progress=on_progress, stop_when=lambda r: r.status != "finished"
        ):
            if progress is not None:
                progress(max(0, res.steps - reported[index]))
            reported[index] = max(reported[index], res.steps)
            if res.record and not (res.run_dir / "metrics.json").exists():
                write_json_atomic(res.run_dir / "metrics.json", res.record)
            found[index] = res
            interrupted |= res.status == "interrupted"
            if res.status == "finished" and on_run is not None:
                on_run(res)
    except KeyboardInterrupt:
        interrupted = True
    except TaskFailed as err:
        failure = err
    return [found[i] for i in sorted(found)], interrupted, failure


def summary_table(result: ReplayResult) -> str:
    """A plain-text table of the runs and the aggregate, for the terminal."""
    cols = ("pdms", "nc", "dac", "ttc", "ep", "c", "rc", "hd_score", "neuroncap")
    head = f"{'run':>4} {'status':<11} {'end':<15}" + "".join(f" {c:>9}" for c in cols)
    lines = [head, "-" * len(head)]
    for r in result.runs:
        if r.status == "failed":  # no metrics: the cause instead
            cause = (r.error or "planner failed").splitlines()[0]
            lines.append(f"{r.run_index:>4} {'FAILED':<11} {'step ' + str(r.steps):<15} {cause}")
            continue
        vals = "".join(
            f" {r.metrics.get(c):>9.3f}" if r.metrics.get(c) is not None else f" {'-':>9}" for c in cols
        )
        lines.append(f"{r.run_index:>4} {r.status:<11} {r.reason or '-':<15}{vals}")
    agg = result.aggregate
    means = "".join(f" {agg[c]['mean']:>9.3f}" if c in agg else f" {'-':>9}" for c in cols)
    lines.append("-" * len(head))
    lines.append(f"{'mean':>4} {'':<11} {'':<15}{means}")
    if agg.get("runs_failed"):
        lines.append(
            f"{agg['runs_failed']} failed run(s) count as {FAILED_SCORE:g} on every score in the mean "
            f"(failure rate {agg['failure_rate']:.2f})"
        )
    if "collision_rate" in agg:
        lines.append(
            f"collision rate {agg['collision_rate']:.2f} over {agg['runs_finished']} finished run(s)"
        )
    return "\n".join(lines)
