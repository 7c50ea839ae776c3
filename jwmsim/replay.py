"""Replay a scenario in closed loop: jittered runs, a video and ``metrics.json`` per run, a summary.

Output layout (``out`` defaults to ``runs/<scenario name>``)::

    out/
      run_000/video.mp4        camera mosaic (skeleton renders) + BEV: boxes, route, trajectory, triggers
      run_000/metrics.json     the run's draws, episode metrics, collisions, per-step penalties
      ...
      summary.json             per-run rows and the aggregate over finished runs

Every file is written to a temporary name and renamed into place, so an interrupted replay never
leaves a half-written file: finished runs stay; the run in progress gets ``metrics.json`` with
``"status": "interrupted"`` (the steps it completed) and no video.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from jwmsim.errors import ConfigError
from jwmsim.gaussians.scene import GaussianScene
from jwmsim.logs.segment import LogSegment
from jwmsim.planning import Planner, make_planner
from jwmsim.sim.state import SimState
from jwmsim.sim.world import episode_metrics
from jwmsim.viz.bev import BevActor, BevRenderer
from jwmsim.viz.mosaic import camera_mosaic, side_by_side
from jwmsim.viz.video import VideoWriter

# Render paths the replay offers. The generator path ("jwm": skeleton + WorldGen) joins this table
# when the generator exists; only paths that work are listed.
RENDER_PATHS = ("skeleton", "none")
SUMMARY_METRICS = ("pdms", "nc", "dac", "ttc", "ep", "c", "rc", "hd_score", "neuroncap", "collision")


@dataclass(frozen=True)
class ReplayOptions:
    """How to replay.

    Attributes:
        agent: planner name or ``.py`` path (None: the scenario's agent, else ``idm``).
        runs: number of jittered runs (None: the scenario's ``runs``).
        out: output folder (None: ``runs/<scenario name>``).
        render: one of :data:`RENDER_PATHS`; ``none`` writes metrics only (no video).
        scene: Gaussian scene source for the skeleton: ``lidar`` (cached lidar skeleton of the
            log) or the path of a saved GaussianScene (e.g. from ``jwmsim reconstruct``).
        cameras: channels in the video mosaic; image_size: ``(height, width)`` per camera [px].
        render_backend: ``auto``, ``cpu``, ``gsplat`` or ``reference``.
        progress: show tqdm bars.
    """

    agent: str | None = None
    runs: int | None = None
    out: Path | None = None
    render: str = "skeleton"
    scene: str = "lidar"
    cameras: tuple[str, ...] = ("CAM_FRONT_LEFT", "CAM_FRONT", "CAM_FRONT_RIGHT")
    image_size: tuple[int, int] = (112, 200)
    render_backend: str = "auto"
    progress: bool = True

    def __post_init__(self) -> None:
        if self.render not in RENDER_PATHS:
            raise ConfigError(
                f"render path {self.render!r} is not available", hint=f"choose one of {list(RENDER_PATHS)}"
            )
        if self.runs is not None and self.runs < 1:
            raise ConfigError(f"--runs must be >= 1, got {self.runs}")


@dataclass
class RunResult:
    """What one run produced."""

    run_index: int
    status: str  # "finished" or "interrupted"
    reason: str
    steps: int
    metrics: dict[str, float]
    run_dir: Path
    video: Path | None = None
    draws: dict[str, Any] = field(default_factory=dict)


@dataclass
class ReplayResult:
    """All runs of a replay and where the summary was written."""

    scenario: str
    out: Path
    runs: list[RunResult]
    aggregate: dict[str, Any]
    interrupted: bool = False


def write_json_atomic(path: Path, payload: Any) -> None:
    """Write JSON to ``path`` through a temporary file and an atomic rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.partial")
    tmp.write_text(json.dumps(payload, indent=1, default=_json_default))
    os.replace(tmp, path)


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def _clean(value: float) -> float | None:
    return None if value is None or not math.isfinite(value) else round(float(value), 6)


def run_record(state: SimState, draws: Mapping[str, Any], status: str, planner: Planner) -> dict[str, Any]:
    """The JSON record of a run: metrics, collisions and per-step penalty attribution."""
    acc = state.episode
    metrics = {k: _clean(v) for k, v in episode_metrics(state).items()}
    penalties = [
        {"step": p.step, "time": round(p.time, 3), "metric": p.metric, "value": p.value, "cause": p.cause}
        for p in acc.penalties
    ]
    by_metric: dict[str, int] = {}
    for p in acc.penalties:
        by_metric[p.metric] = by_metric.get(p.metric, 0) + 1
    return {
        "status": status,
        "end_reason": state.reason,
        "steps": state.step,
        "sim_time_s": round(state.time, 3),
        "draws": dict(draws),
        "metrics": metrics,
        "collisions": [
            {
                "step": e.step,
                "time": round(e.time, 3),
                "actor": e.actor_id,
                "kind": e.kind,
                "at_fault": e.at_fault,
                "type": e.type,
                "v_impact": _clean(e.v_impact),
                "v_ref": _clean(e.v_ref),
            }
            for e in acc.collisions
        ],
        "penalties": penalties,
        "penalty_steps_by_metric": by_metric,
        "reward_sum": _clean(acc.reward_sum),
        "reward_terms_sum": {k: _clean(v) for k, v in acc.reward_terms_sum.items()},
        "planner": {"name": planner.name, **planner.timing()},
    }


def aggregate(rows: list[RunResult]) -> dict[str, Any]:
    """Mean, min and max of each summary metric over finished runs, and the collision rate."""
    done = [r for r in rows if r.status == "finished"]
    out: dict[str, Any] = {"runs_finished": len(done), "runs_interrupted": len(rows) - len(done)}
    for name in SUMMARY_METRICS:
        vals = [r.metrics[name] for r in done if r.metrics.get(name) is not None]
        if vals:
            out[name] = {"mean": float(np.mean(vals)), "min": float(np.min(vals)), "max": float(np.max(vals))}
    if done:
        out["collision_rate"] = float(np.mean([r.metrics.get("collision", 0.0) or 0.0 for r in done]))
    return out


class _FrameDrawer:
    """Video frame: camera mosaic over a text panel, beside a BEV (boxes, route, driven path,
    trigger points). Layout: ``[2H, V*W + 2H]`` for V cameras of ``H x W``."""

    def __init__(self, state: SimState, title: str, image_size: tuple[int, int], n_cameras: int) -> None:
        world = state.world
        lanes = {ln.id: ln.centreline.points for ln in world.road.lanes}
        h, w = image_size
        self.h, self.w, self.n = h, w, max(n_cameras, 1)
        bev_px = 2 * h
        self.bev = BevRenderer(world.road.drivable_area, lanes, (bev_px, bev_px), pixels_per_m=bev_px / 70.0)
        self.title = title
        self.route = world.route.line.points
        self.path: list[tuple[float, float]] = []
        self.scripted = {
            world.initial_actors.ids[i]
            for i, sc in enumerate(world.scripts)
            if sc.trigger is not None or world.log_index[i] < 0
        }
        self.triggers: dict[str, np.ndarray] = {}

    def _panel(self, state: SimState) -> np.ndarray:
        import cv2

        panel = np.full((self.h, self.n * self.w, 3), 20, np.uint8)
        lines = [self.title, f"t = {state.time:5.1f} s   speed = {state.ego.speed:5.2f} m/s"]
        rec = state.last
        if rec is not None:
            m = rec.metrics
            lines.append(
                "step: " + "  ".join(f"{k.upper()} {m[k]:.2f}" for k in ("nc", "dac", "ttc", "c", "ep"))
            )
            if rec.penalties:
                lines.append("penalty: " + "; ".join(f"{p.metric} ({p.cause})" for p in rec.penalties)[:90])
        acc = state.episode
        lines.append(f"episode: NC {acc.nc:.1f}  DAC {acc.dac:.0f}  TTC {acc.ttc:.0f}  C {acc.comfort:.0f}")
        if state.reason:
            lines.append(f"end: {state.reason}")
        for i, line in enumerate(lines):
            cv2.putText(panel, line, (6, 16 + 16 * i), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (235, 235, 235), 1)
        return panel

    def draw(self, state: SimState, images: list[np.ndarray], names: list[str]) -> np.ndarray:
        a = state.actors
        self.path.append((state.ego.x, state.ego.y))
        for i in np.flatnonzero(np.isfinite(a.triggered_at)):
            self.triggers.setdefault(a.ids[i], np.array([a.x[i], a.y[i]]))
        actors = [
            BevActor(
                a.pose(int(i)),
                (float(a.width[i]), float(a.length[i]), float(a.height[i])),
                a.kinds[i],
                a.ids[i],
                a.ids[i] in self.scripted,
            )
            for i in np.flatnonzero(a.active)
        ]
        veh = state.world.config.vehicle
        bev = self.bev.draw(
            state.ego.pose(),
            actors,
            (veh.width, veh.length, veh.height),
            paths=[(self.route, (80, 200, 80)), (np.array(self.path), (40, 160, 255))],
            markers=[(xy, f"trigger {aid}"[:18], (255, 80, 80)) for aid, xy in self.triggers.items()],
        )
        top = (
            camera_mosaic(images, names, columns=len(images))
            if images
            else np.zeros((self.h, self.n * self.w, 3), np.uint8)
        )
        return side_by_side(np.concatenate([top, self._panel(state)], 0), bev)


def _asset_components(world: Any) -> dict[str, Any]:
    """Gaussian assets of the inserted actors, by actor id (those with a shipped asset)."""
    from jwmsim.gaussians.assets import available_assets, load_actor_asset

    names = set(available_assets())
    out = {}
    for aid, asset in zip(world.initial_actors.ids, world.assets, strict=True):
        if asset and asset in names:
            out[aid] = load_actor_asset(asset)
    return out


def replay(
    scenario_path: str | Path,
    options: ReplayOptions | None = None,
    on_run: Callable[[RunResult], None] | None = None,
) -> ReplayResult:
    """Replay a scenario file; see the module docstring for what is written.

    Raises:
        ScenarioError / ConfigError / LogFormatError: invalid scenario, agent, log or options.
        KeyboardInterrupt: re-raised after the finished runs, the partial run's record and the
            summary are written.
    """
    from jwmsim.envs.drive_env import JWMDrivingEnv
    from jwmsim.scenario import load_scenario, sample
    from jwmsim.scenario.build import build_world_for_run
    from jwmsim.scenario.loader import load_seed_log
    from jwmsim.scenario.validate import validate_against_log

    opts = options or ReplayOptions()
    scenario = load_scenario(scenario_path)
    log: LogSegment = load_seed_log(scenario, with_lidar=opts.render == "skeleton")
    validate_against_log(scenario, log, scenario_path)
    agent = opts.agent or scenario.agent or "idm"
    planner = make_planner(agent)
    if planner.needs_observation and opts.render == "none":
        raise ConfigError(f"agent {agent!r} reads camera images", hint="use --render skeleton")
    n_runs = opts.runs or scenario.runs
    out = Path(opts.out) if opts.out is not None else Path("runs") / scenario.name
    out.mkdir(parents=True, exist_ok=True)
    cameras = [c for c in opts.cameras if c in log.cameras] if opts.render == "skeleton" else []
    if opts.render == "skeleton" and not cameras:
        raise ConfigError(
            f"none of the cameras {list(opts.cameras)} is in the log", hint=f"{log.camera_names}"
        )
    scene: GaussianScene | None = None
    if opts.render == "skeleton":
        from jwmsim.envs.scene_cache import scene_for_log

        scene = scene_for_log(log, opts.scene, progress=opts.progress)

    results: list[RunResult] = []
    interrupted = False
    started = time.perf_counter()
    for run_index in range(n_runs):
        concrete = sample(scenario, run_index, scenario.seed)
        world = build_world_for_run(concrete, log)
        env_scene = scene
        if scene is not None:
            for aid, comp in _asset_components(world).items():
                env_scene = env_scene.with_actor(aid, comp)
        env = JWMDrivingEnv(
            world=world,
            scene=env_scene,
            observation="skeleton" if opts.render == "skeleton" else "none",
            cameras=tuple(cameras),
            image_size=opts.image_size,
            render_backend=opts.render_backend,
        )
        run_dir = out / f"run_{run_index:03d}"
        run_dir.mkdir(parents=True, exist_ok=True)
        obs, _ = env.reset(seed=scenario.seed + run_index)
        planner.reset(world)
        state = env.state
        assert state is not None
        drawer = _FrameDrawer(
            state, f"{scenario.name}  run {run_index}  agent {agent}", opts.image_size, len(cameras)
        )
        video = (
            VideoWriter(run_dir / "video.mp4", fps=1.0 / world.config.dt) if opts.render != "none" else None
        )
        bar = tqdm(
            total=world.config.max_steps,
            desc=f"{scenario.name} run {run_index + 1}/{n_runs}",
            disable=not opts.progress,
            leave=False,
        )
        try:
            if video is not None:
                video.append(drawer.draw(state, [obs[c] for c in cameras], cameras))
            while not state.done:
                action = planner.act(state, obs)
                obs, _, _, _, _ = env.step(action)
                state = env.state
                assert state is not None
                if video is not None:
                    video.append(drawer.draw(state, [obs[c] for c in cameras], cameras))
                bar.update(1)
        except KeyboardInterrupt:
            interrupted = True
            if video is not None:
                video.abort()
            record = run_record(state, concrete.draws, "interrupted", planner)
            write_json_atomic(run_dir / "metrics.json", record)
            results.append(
                RunResult(
                    run_index,
                    "interrupted",
                    state.reason,
                    state.step,
                    record["metrics"],
                    run_dir,
                    None,
                    dict(concrete.draws),
                )
            )
            break
        finally:
            bar.close()
            env.close()
        video_path = video.close() if video is not None else None
        record = run_record(state, concrete.draws, "finished", planner)
        write_json_atomic(run_dir / "metrics.json", record)
        res = RunResult(
            run_index,
            "finished",
            state.reason,
            state.step,
            record["metrics"],
            run_dir,
            video_path,
            dict(concrete.draws),
        )
        results.append(res)
        if on_run is not None:
            on_run(res)

    agg = aggregate(results)
    summary = {
        "scenario": scenario.name,
        "scenario_file": str(scenario_path),
        "agent": agent,
        "render": opts.render,
        "log": log.name,
        "wall_time_s": round(time.perf_counter() - started, 2),
        "interrupted": interrupted,
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
            }
            for r in results
        ],
    }
    write_json_atomic(out / "summary.json", summary)
    result = ReplayResult(scenario.name, out, results, agg, interrupted)
    if interrupted:
        raise KeyboardInterrupt(result)
    return result


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
