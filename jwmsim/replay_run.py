"""One run of a replay, in this process or in a worker process of :func:`jwmsim.replay.replay`.

A run draws its jitter from ``(scenario seed, run index)``, builds its world, drives it to its end
with the planner through the driving environment (the replay's render path), and writes
``run_XXX/video.mp4`` and ``run_XXX/metrics.json`` atomically. A run ends as ``finished``,
``interrupted`` (Ctrl-C, or the replay's stop event) or ``failed`` (the planner raised or returned an
action the simulator refuses: its error and traceback are recorded). The video frames are drawn
and encoded in the video writer's background thread (:meth:`VideoWriter.append_drawn`), off the
thread that steps the environment.

Runs execute on an execution backend (:mod:`jwmsim.backends`: a local process pool or Ray) through
:func:`run_task`; a process keeps the scenario, log, scene and planner of the replay loaded between
its runs, and reports its step counts and reads the stop request through the backend's
:class:`~jwmsim.backends.base.TaskContext`.
"""

from __future__ import annotations

import functools
import json
import math
import os
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from jwmsim.backends.base import TaskContext
from jwmsim.planning import Planner
from jwmsim.run_inputs import LoadedInputs, RunInputs, process_inputs
from jwmsim.sim.actions import ActionError
from jwmsim.sim.sim_state import SimState
from jwmsim.sim.world import episode_metrics

if TYPE_CHECKING:
    from jwmsim.scenario.jitter import ConcreteScenario

PROGRESS_EVERY = 5  # [steps] between progress reports of a worker


@dataclass
class RunResult:
    """What one run produced.

    Attributes:
        status: ``finished``, ``interrupted`` or ``failed``.
        error: for a failed run, ``"ExceptionType: message"``; traceback: the planner's traceback.
        record: the run's ``metrics.json`` content (metrics, collisions, per-step penalties), so
            that a caller on another machine than the worker has it too.
    """

    run_index: int
    status: str
    reason: str
    steps: int
    metrics: dict[str, float]
    run_dir: Path
    video: Path | None = None
    draws: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    traceback: str | None = None
    record: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RunSetup:
    """Everything a run needs, picklable for a worker process.

    Attributes:
        scenario_path: the scenario file.
        agent: planner name, ``.py`` path or ``sb3:POLICY`` (resolved against the scenario's folder).
        out: the replay's output folder.
        render: render path name; scene: scene source or file; force_scene: skip the log check.
        cameras / image_size: observed cameras and their size ``(H, W)`` [px].
        render_backend / device: where and how to render.
        bev_size: side of the ``bev`` observation [px] for a planner that reads it (None: none).
        render_options: settings of the render path.
        ep_reference: planner whose progress on the same run is EP's denominator
            (:mod:`jwmsim.ep_reference`; None: the logged ego's progress).
        duration: [s] replaces the scenario's duration (None: the scenario's).
        videos: runs ``0 .. videos - 1`` render and write a video; later runs render nothing
            unless the planner reads the observation (None: every run).
    """

    scenario_path: Path
    agent: str
    out: Path
    render: str
    scene: str
    force_scene: bool
    cameras: tuple[str, ...]
    image_size: tuple[int, int]
    render_backend: str
    device: str
    bev_size: int | None = None
    render_options: dict[str, Any] = field(default_factory=dict)
    ep_reference: str | None = "pdm_closed"
    duration: float | None = None
    videos: int | None = None


def run_render(setup: RunSetup, run_index: int, planner: Planner) -> str:
    """The render path run ``run_index`` uses: the setup's for a video run or for a planner that
    reads the observation, else ``none`` (metrics only)."""
    wants_video = setup.videos is None or run_index < setup.videos
    return setup.render if wants_video or getattr(planner, "needs_observation", False) else "none"


def inputs_of(setup: RunSetup) -> RunInputs:
    """The shared loader's key of a replay setup."""
    return RunInputs(
        scenario_path=setup.scenario_path,
        agent=setup.agent,
        render=setup.render,
        scene=setup.scene,
        force_scene=setup.force_scene,
        duration=setup.duration,
        with_images=bool(setup.cameras) and setup.render != "none",
    )


class _Loaded:
    """A replay setup and what its runs read (:mod:`jwmsim.run_inputs`)."""

    def __init__(self, setup: RunSetup, inputs: LoadedInputs) -> None:
        self.setup = setup
        self.inputs = inputs
        self.scenario = inputs.scenario
        self.log = inputs.log
        self.planner: Planner = inputs.planner
        self.scene = inputs.scene


def run_task(task: tuple[RunSetup, int], ctx: TaskContext) -> RunResult:
    """A backend task: run ``task = (setup, run index)`` with this process's cached scenario, log,
    scene and planner (loaded again when the setup changes)."""
    setup, run_index = task
    return run_one(cached_for_runs(setup), run_index, report=ctx.report, should_stop=ctx.should_stop)


def load_for_runs(setup: RunSetup) -> _Loaded:
    """Load what runs of ``setup`` need in this process (not cached)."""
    return _Loaded(setup, LoadedInputs(inputs_of(setup)))


def cached_for_runs(setup: RunSetup, token: str = "") -> _Loaded:
    """What runs of ``setup`` need, from this process's cache (:func:`jwmsim.run_inputs.process_inputs`)."""
    return _Loaded(setup, process_inputs(inputs_of(setup), token))


def run_one(
    loaded: _Loaded,
    run_index: int,
    report: Any = None,
    should_stop: Any = None,
    concrete: ConcreteScenario | None = None,
    on_step: Callable[[SimState], None] | None = None,
) -> RunResult:
    """Drive run ``run_index`` to its end; write its video and ``metrics.json``.

    Args:
        report: called as ``report(steps_done)`` every few steps (progress).
        should_stop: returns True when the replay is being interrupted.
        concrete: the run's parameters when they are chosen rather than drawn (a search); the
            environment is seeded with its ``seed + run_index``, as a drawn run is. None: draw
            run ``run_index`` of the scenario.
        on_step: called with the state after the reset and after every step (measurements).
    """
    from jwmsim.envs.drive_env import JWMDrivingEnv
    from jwmsim.scenario import sample
    from jwmsim.scenario.build import build_world_for_run
    from jwmsim.viz.replay_frame import ReplayFrameDrawer
    from jwmsim.viz.video import VideoWriter

    setup, scenario, planner = loaded.setup, loaded.scenario, loaded.planner
    if concrete is None:
        concrete = sample(scenario, run_index, scenario.seed)
    world = build_world_for_run(concrete, loaded.log)
    if setup.ep_reference:
        from jwmsim.ep_reference import with_reference

        world = with_reference(world, setup.ep_reference)
    render = run_render(setup, run_index, planner)
    env = JWMDrivingEnv(
        world=world,
        scene=loaded.scene,
        observation=render,
        cameras=setup.cameras,
        image_size=setup.image_size,
        render_backend=setup.render_backend,
        device=setup.device,
        force_scene=setup.force_scene,
        render_options=dict(setup.render_options),
        bev=setup.bev_size is not None,
        bev_size=setup.bev_size or 64,
    )
    cameras = list(setup.cameras)
    run_dir = setup.out / f"run_{run_index:03d}"
    run_dir.mkdir(parents=True, exist_ok=True)
    obs, _ = env.reset(seed=concrete.seed + concrete.run_index)
    planner.reset(world)
    state = env.state
    assert state is not None
    with_video = render != "none"
    render_info = render_description(render, env.renderer)
    drawer = ReplayFrameDrawer(
        state,
        f"{scenario.name}  run {run_index}  agent {setup.agent}  render {render_label(render_info)}",
        setup.image_size,
        len(cameras),
    )
    video = VideoWriter(run_dir / "video.mp4", fps=1.0 / world.config.dt) if with_video else None
    status, error, trace = "finished", None, None

    def add_frame(state: SimState, obs: Any) -> None:
        """Queue the step's video frame: drawn and encoded off this thread (the state is
        immutable; the images are copied, in case a render path reuses its buffers)."""
        if video is not None:
            images = [np.array(obs[c]) for c in cameras]
            video.append_drawn(functools.partial(drawer.draw, state, images, cameras))

    try:
        add_frame(state, obs)
        if on_step is not None:
            on_step(state)
        while not state.done:
            if should_stop is not None and should_stop():
                raise KeyboardInterrupt
            try:
                action = planner.act(state, obs)
            except (KeyboardInterrupt, ActionError):
                raise
            except Exception as err:  # the planner's own code raised: record it, the user fixes it
                status, error, trace = "failed", f"{type(err).__name__}: {err}", traceback.format_exc()
                break
            obs, _, _, _, _ = env.step(action)
            state = env.state
            assert state is not None
            add_frame(state, obs)
            if on_step is not None:
                on_step(state)
            if report is not None and state.step % PROGRESS_EVERY == 0:
                report(PROGRESS_EVERY)
    except ActionError as err:  # the planner's action: non-finite or wrongly shaped
        status, error = "failed", f"planner {setup.agent!r}: {err.message}"
    except KeyboardInterrupt:
        status = "interrupted"
    finally:
        env.close()
    video_path = None
    if video is not None:
        if status == "finished":
            video_path = video.close()
        else:
            video.abort()
    record = run_record(state, concrete.draws, status, planner)
    record["render"] = render_info
    if error is not None:
        record["error"] = error
        record["traceback"] = trace
    write_json_atomic(run_dir / "metrics.json", record)
    return RunResult(
        run_index,
        status,
        state.reason if status == "finished" else status,
        state.step,
        record["metrics"],
        run_dir,
        video_path,
        dict(concrete.draws),
        error,
        trace,
        record,
    )


def render_description(name: str, renderer: object) -> dict[str, str]:
    """What made the run's images: the render path's name and, for a generator path, its
    ``provenance()`` (weights folder and digest, sampler)."""
    provenance = getattr(renderer, "provenance", None)
    return {"path": name, **(provenance() if callable(provenance) else {})}


def render_label(info: dict[str, str]) -> str:
    """``jwm (worldgen_student 1a2b3c4d, sharp, 1 steps, overlay)`` or ``skeleton``: for the video's
    panel, short enough for its width (the sampler without its guidance scale, the anchor by name;
    ``summary.json`` has the whole record)."""
    if "weights" not in info:
        return info["path"]
    parts = [p for p in info.get("sampler", "").split(", ") if not p.startswith("guidance")]
    sampler = ", ".join(p.removeprefix("anchor ") for p in parts)
    return f"{info['path']} ({Path(info['weights']).name} {info.get('weights_digest', '')[:8]}, {sampler})"


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
    """The JSON record of a run: metrics, collisions and per-step penalty attribution. A failed
    run has no metrics (its episode did not end: its scores would be those of a partial drive)."""
    acc = state.episode
    metrics = {} if status == "failed" else {k: _clean(v) for k, v in episode_metrics(state).items()}
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
