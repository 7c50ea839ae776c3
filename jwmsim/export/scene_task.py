"""One exported scene: drive one jittered run and write it as a single-scene nuScenes folder.

:func:`export_scene` is the task function an execution backend maps over the runs
(``fn(task, ctx) -> result``, :mod:`jwmsim.backends`): it draws run ``run_index``'s jitter, builds
its world, drives it to its end with the planner through the driving environment (the export's
render path), and writes every step's camera images (keyframes at 2 Hz, the others as sweeps), ego
poses, calibrated sensors and, on keyframes, an annotation of every active actor into
``.export/staging/<scene>/`` with :class:`~jwmsim.logs.nuscenes_writer.NuScenesWriter`, which only
renames the folder into place once it is complete. A run that is stopped (``ctx.should_stop()``,
or Ctrl-C in this process) leaves nothing behind. The caller merges finished scenes into the
dataroot (:mod:`jwmsim.export.merge`).

A process keeps the scenario, log, Gaussian scene and planner loaded between its tasks.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from jwmsim.export.annotations import annotate_state
from jwmsim.export.instance_visibility import InstanceVisibility
from jwmsim.export.layout import log_name, scene_name, scene_start_us
from jwmsim.export.options import KEYFRAME_PERIOD_S
from jwmsim.export.provenance import render_provenance, scene_digest
from jwmsim.export.visibility import CameraView
from jwmsim.geometry import SE3
from jwmsim.run_inputs import LoadedInputs, RunInputs, process_inputs

PROGRESS_EVERY = 5  # [steps] between progress reports
EXTRAS_NAME = "export"  # the staged scene's extras/export.json: run record, provenance, annotation keys


@dataclass(frozen=True)
class ExportJob:
    """What every scene of an export shares (picklable, sent to worker processes).

    Attributes:
        scenario_path: the scenario file; scenario_name: its name (scene names derive from it).
        agent: planner spec; render / scene / force_scene: render path and scene source.
        cameras: exported channels; image_size: ``(H, W)`` [px]; jpeg_quality: 0-100.
        version: table folder name; staging: where scenes are written before they are merged.
        location: the ``log`` records' location (the seed log's, so that its map applies).
        render_backend / device: rasterizer and torch device.
        duration: [s] replaces the scenario's duration (``--duration``; None: the scenario's).
        render_options: settings of the render path.
    """

    scenario_path: Path
    scenario_name: str
    agent: str
    render: str
    scene: str
    force_scene: bool
    cameras: tuple[str, ...]
    image_size: tuple[int, int]
    jpeg_quality: int
    version: str
    staging: Path
    location: str = "jwmsim"
    render_backend: str = "auto"
    device: str = "auto"
    duration: float | None = None
    render_options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SceneTask:
    """One run of an export."""

    job: ExportJob
    run_index: int


@dataclass
class SceneResult:
    """What one scene task produced.

    Attributes:
        status: ``finished`` (the staged folder is complete) or ``interrupted`` (nothing written).
        steps: simulation steps driven; frames: images written per camera (steps + 1 when finished).
        end_reason: why the episode ended; metrics: the episode's closed-loop metrics.

    The scene's provenance record and the extra keys of its annotations (velocity, visible
    fraction, actor id and source) travel in the staged folder (``extras/export.json``), so that a
    finished scene can be merged even after the process that wrote it is gone.
    """

    run_index: int
    scene_name: str
    status: str
    steps: int = 0
    frames: int = 0
    end_reason: str = ""
    metrics: dict[str, float | None] = field(default_factory=dict)
    draws: dict[str, Any] = field(default_factory=dict)


class _Loaded:
    """An export job's inputs (:mod:`jwmsim.run_inputs`) and the digest of its scene."""

    def __init__(self, inputs: LoadedInputs) -> None:
        self.scenario = inputs.scenario
        self.log = inputs.log
        self.planner = inputs.planner
        self.spec = inputs.render_spec
        self.scene = inputs.scene
        self.scene_digest: str | None = scene_digest(self.scene) if self.scene is not None else None


_PROCESS: dict[str, Any] = {}


def _loaded(job: ExportJob) -> _Loaded:
    inputs = process_inputs(
        RunInputs(job.scenario_path, job.agent, job.render, job.scene, job.force_scene, job.duration)
    )
    if _PROCESS.get("inputs") is not inputs:  # the digest is computed once per loaded scene
        _PROCESS.update(inputs=inputs, loaded=_Loaded(inputs))
    return _PROCESS["loaded"]


def _plain(obj: Any) -> Any:
    """JSON form of numpy scalars and arrays (jitter draws, metrics)."""
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def keyframe_every(dt: float) -> int:
    """Steps between keyframes for a simulation step of ``dt`` [s] (2 Hz keyframes)."""
    return max(1, round(KEYFRAME_PERIOD_S / dt))


def export_scene(task: SceneTask, ctx: Any) -> SceneResult:
    """Drive and write one scene (see the module docstring); ``ctx`` is the backend's
    :class:`~jwmsim.backends.base.TaskContext` (``report(steps)``, ``should_stop()``).

    Raises:
        KeyboardInterrupt: Ctrl-C in this process (the staged scene is discarded first).
        JwmsimError / planner errors: the run cannot be driven (nothing is left behind).
    """
    from jwmsim.envs.drive_env import JWMDrivingEnv
    from jwmsim.logs.nuscenes_writer import NuScenesWriter
    from jwmsim.replay_run import run_record
    from jwmsim.scenario import sample
    from jwmsim.scenario.build import build_world_for_run

    job, run_index = task.job, task.run_index
    loaded = _loaded(job)
    scenario, log, planner = loaded.scenario, loaded.log, loaded.planner
    name = scene_name(job.scenario_name, run_index)
    concrete = sample(scenario, run_index, scenario.seed)
    world = build_world_for_run(concrete, log)
    dt = world.config.dt
    every = keyframe_every(dt)
    h, w = job.image_size
    cameras = [log.cameras[c] for c in job.cameras]
    intrinsics = {c.name: c.intrinsics.resized(w, h) for c in cameras}
    env = JWMDrivingEnv(
        world=world,
        scene=loaded.scene,
        observation=job.render,
        cameras=job.cameras,
        image_size=job.image_size,
        render_backend=job.render_backend,
        device=job.device,
        force_scene=job.force_scene,
        depth=loaded.spec.has_depth,
        render_options=dict(job.render_options),
    )
    instance = (
        InstanceVisibility(env.renderer, cameras, job.image_size, job.render_backend)
        if InstanceVisibility.supports(env.renderer)
        else None
    )
    start_us = scene_start_us(log.start_us, world.start_time, run_index)
    result = SceneResult(run_index, name, "interrupted", draws=dict(concrete.draws))
    annotation_extras: dict[str, dict[str, Any]] = {}
    writer = NuScenesWriter(
        job.staging / name,
        version=job.version,
        scene_name=name,
        log_name=log_name(job.scenario_name, run_index),
        location=job.location,
        description=f"{scenario.name} run {run_index} (seed {scenario.seed}): agent {job.agent}, "
        f"render {job.render}, on {log.name}",
        vehicle="jwmsim-ego",
        jpeg_quality=job.jpeg_quality,
        overwrite=True,
        require_map=False,
    )
    reported = 0
    try:
        with writer:
            for cam in cameras:
                writer.add_camera(cam.name, intrinsics[cam.name], cam.ego_from_cam)
            obs, _ = env.reset(seed=scenario.seed + run_index)
            planner.reset(world)
            state = env.state
            assert state is not None
            while True:
                if ctx.should_stop():
                    raise KeyboardInterrupt
                ts = start_us + int(round(state.step * dt * 1e6))
                key = state.step % every == 0
                ego = state.ego.pose()
                if key:
                    writer.add_sample(ts)
                for cam in cameras:
                    writer.add_camera_frame(cam.name, ts, ego, obs[cam.name], is_key_frame=key)
                result.frames += 1
                if key:
                    extras = _annotate(writer, state, ts, ego, cameras, intrinsics, obs, instance)
                    annotation_extras.update(extras)
                if state.done:
                    break
                obs, _, _, _, _ = env.step(planner.act(state, obs))
                state = env.state
                assert state is not None
                if state.step - reported >= PROGRESS_EVERY:
                    ctx.report(state.step - reported)
                    reported = state.step
            record = run_record(state, concrete.draws, "finished", planner)
            provenance = {
                "id": name,
                "scene": name,
                **render_provenance(job.render, job.scene, env.renderer, loaded.scene_digest),
                "scenario": scenario.name,
                "scenario_file": str(job.scenario_path),
                "run": run_index,
                "seed": scenario.seed,
                "draws": dict(concrete.draws),
                "agent": job.agent,
                "image_size": list(job.image_size),
                "visibility_method": "instance_masks" if instance is not None else "projected_boxes",
                "seed_log": {"name": log.name, "source": log.source},
            }
            payload = {"run": record, "provenance": provenance, "annotations": annotation_extras}
            writer.add_extra_json(EXTRAS_NAME, json.loads(json.dumps(payload, default=_plain)))
    except KeyboardInterrupt:
        if not ctx.should_stop():
            raise  # Ctrl-C in this process: the writer discarded the scene; the caller stops
        return result  # asked to stop by the backend: nothing of this scene was written
    finally:
        env.close()
    ctx.report(max(0, state.step - reported))
    result.status = "finished"
    result.steps = state.step
    result.end_reason = state.reason
    result.metrics = dict(record["metrics"])
    return result


def _annotate(
    writer: Any,
    state: Any,
    ts: int,
    ego: SE3,
    cameras: list,
    intrinsics: dict,
    obs: dict,
    instance: InstanceVisibility | None,
) -> dict[str, dict[str, Any]]:
    """Annotate every active actor of ``state`` at keyframe ``ts``; returns the extra keys of each
    annotation by its token."""
    views = [
        CameraView(
            (ego @ cam.ego_from_cam).inverse(),
            intrinsics[cam.name],
            obs[f"depth_{cam.name}"][..., 0] if f"depth_{cam.name}" in obs else None,
        )
        for cam in cameras
    ]
    extras = {}
    for ann in annotate_state(state, views, instance):
        tok = writer.add_annotation(
            ann.actor_id,
            ann.category,
            ts,
            ann.world_from_box,
            ann.size_wlh,
            attribute=ann.attribute,
            visibility=ann.visibility_token,
        )
        extras[tok] = {
            "velocity": [round(v, 4) for v in ann.velocity],
            "visible_fraction": round(ann.visibility, 4),
            "actor_id": ann.actor_id,
            "actor_source": ann.source,
            "behaviour": ann.behaviour,
        }
    return extras
