"""``export(scenario, options)``: every jittered run of a scenario as a scene of one nuScenes-format
dataroot (layout: :mod:`jwmsim.export.layout`).

Steps: load and check the scenario against its log, check the dataroot (new, or an export of the
same settings: then it resumes), build (or fetch) the Gaussian scene once so that workers only
read it from the cache (nothing is written before all of this passed), finish merging scenes a
previous export left complete in staging, drop what interrupted scenes left there, then map
:func:`~jwmsim.export.scene_task.export_scene` over the missing runs on an execution backend
(``local`` processes or ``ray``), merging every scene as it finishes. The tables are rewritten
(atomically) at the end, also when the export is interrupted (Ctrl-C) or a run fails: the
finished scenes are always a loadable dataroot.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jwmsim.errors import ConfigError
from jwmsim.export.layout import ExportLayout, scene_name
from jwmsim.export.merge import (
    SourceMap,
    adopt_scene,
    finished_fragments,
    source_map,
    staged_scene_complete,
    write_json_atomic,
    write_tables,
)
from jwmsim.export.options import ALL_CAMERAS, ExportOptions
from jwmsim.export.scene_task import ExportJob, SceneResult, SceneTask, export_scene
from jwmsim.progress import progress_bar

MANIFEST_FORMAT = "jwmsim-export/1"


@dataclass
class ExportResult:
    """What an export did.

    Attributes:
        out: the dataroot; version: its table folder.
        scenes: scene names in the tables (finished now or before).
        exported: scenes finished by this call; skipped: runs already finished before (resume).
        interrupted: Ctrl-C stopped it; wall_time_s: how long this call took [s].
        backend: what ran the scenes (:meth:`jwmsim.backends.Backend.describe`).
    """

    out: Path
    version: str
    scenes: list[str]
    exported: list[SceneResult] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)
    interrupted: bool = False
    wall_time_s: float = 0.0
    backend: dict[str, Any] = field(default_factory=dict)


def _table_name(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in text)


def _prepare(scenario_path: Path, opts: ExportOptions) -> tuple[ExportJob, int, SourceMap, dict]:
    from jwmsim.envs.render_paths import RENDER_PATHS
    from jwmsim.planning import make_planner
    from jwmsim.scenario import load_scenario
    from jwmsim.scenario.loader import load_seed_log, with_duration
    from jwmsim.scenario.validate import validate_against_log

    scenario = with_duration(load_scenario(scenario_path), opts.duration)
    spec = RENDER_PATHS.get(opts.render)
    log = load_seed_log(scenario, with_lidar=False)
    validate_against_log(scenario, log, scenario_path)
    agent = opts.agent or scenario.agent or "idm"
    planner = make_planner(agent)
    if planner.needs_observation and not spec.has_images:
        raise ConfigError(f"agent {agent!r} reads camera images", hint="use --render skeleton")
    wanted = opts.cameras or tuple(c for c in ALL_CAMERAS if c in log.cameras) or tuple(log.cameras)
    unknown = [c for c in wanted if c not in log.cameras]
    if unknown:
        raise ConfigError(
            f"camera(s) {unknown} are not in log {log.name!r}",
            hint=f"cameras of this log: {log.camera_names}",
        )
    if not log.source or not Path(log.source).is_dir():
        raise ConfigError(
            f"the scenario's log {log.name!r} is not a nuScenes dataroot on disk (its map cannot be copied)",
            hint="export scenarios whose log is 'builtin' or a dataroot",
        )
    from jwmsim.logs.nuscenes import find_version

    src_root = Path(log.source)
    src_map = source_map(src_root, find_version(src_root, scenario.log.version), log.name)
    version = f"v1.0-{opts.name or _table_name(str(scenario.name))}"
    layout = ExportLayout(Path(opts.out), version)
    job = ExportJob(
        scenario_path=Path(scenario_path).resolve() if Path(scenario_path).exists() else Path(scenario_path),
        scenario_name=_table_name(str(scenario.name)),
        agent=agent,
        render=opts.render,
        scene=opts.scene,
        force_scene=opts.force_scene,
        cameras=tuple(wanted),
        image_size=tuple(opts.image_size),  # type: ignore[arg-type]
        jpeg_quality=opts.jpeg_quality,
        version=version,
        staging=layout.staging,
        location=src_map.location,
        render_backend=opts.render_backend,
        device=opts.device,
        duration=opts.duration,
        render_options=dict(opts.render_options),
    )
    manifest = {
        "format": MANIFEST_FORMAT,
        "scenario": str(scenario.name),
        "scenario_yaml": json.loads(scenario.model_dump_json()),
        "agent": agent,
        "render": opts.render,
        "render_options": dict(opts.render_options),
        "scene": opts.scene,
        "cameras": list(wanted),
        "image_size": list(opts.image_size),
        "jpeg_quality": opts.jpeg_quality,
        "version": version,
        "seed_log": log.name,
    }
    return job, opts.runs or scenario.runs, src_map, manifest


def _build_scene(job: ExportJob, progress: bool) -> None:
    """Build (or fetch from the cache) the Gaussian scene once, so that workers only read it."""
    from jwmsim.envs.render_paths import RENDER_PATHS, needs_lidar
    from jwmsim.scenario import load_scenario
    from jwmsim.scenario.loader import load_seed_log
    from jwmsim.scenes.sources import scene_for_log

    if not RENDER_PATHS.get(job.render).uses_scene:
        return
    log = load_seed_log(load_scenario(job.scenario_path), with_lidar=needs_lidar(job.render, job.scene))
    scene_for_log(log, job.scene, progress=progress, force=job.force_scene)


def _check_dataroot(layout: ExportLayout, manifest: dict) -> None:
    """A new or empty folder, or an export of the same settings (resume); nothing is written."""
    root = layout.root
    if layout.manifest.is_file():
        before = json.loads(layout.manifest.read_text())
        diff = sorted(k for k in set(before) | set(manifest) if before.get(k) != manifest.get(k))
        if diff:
            raise ConfigError(
                f"{root} holds an export made with other settings ({', '.join(diff)} differ)",
                hint=f"resume it with the same scenario and options (see {layout.manifest}), "
                "or export to another --out",
            )
        return
    if root.is_dir() and any(root.iterdir()):
        raise ConfigError(
            f"--out {root} is a folder that holds no jwmsim export",
            hint="pass a new or empty folder (an export is resumed by passing its folder again)",
        )


def _recover(layout: ExportLayout) -> None:
    """Finish merging complete staged scenes; delete what interrupted ones left, and what is left
    of scenes already adopted (a Ctrl-C can land while :func:`adopt_scene` removes the staged
    folder, after its fragment is written)."""
    if not layout.staging.is_dir():
        return
    adopted = finished_fragments(layout)
    for entry in sorted(layout.staging.iterdir()):
        if entry.name in adopted:
            shutil.rmtree(entry, ignore_errors=True)
        elif staged_scene_complete(layout, entry.name):
            adopt_scene(layout, entry.name)
        else:
            shutil.rmtree(entry, ignore_errors=True)


def export(scenario_path: str | Path, options: ExportOptions) -> ExportResult:
    """Export a scenario's jittered runs (see the module docstring).

    Raises:
        ScenarioError / ConfigError / LogFormatError / CheckpointError: bad scenario, options,
            log, scene or dataroot (nothing is written).
        TaskFailed: a run failed (its traceback is the task's; finished scenes are kept).
        KeyboardInterrupt: re-raised, with the :class:`ExportResult` as its argument, after the
            finished scenes' tables are written.
    """
    from jwmsim.backends import BackendOptions, make_backend

    started = time.perf_counter()
    opts = options
    job, n_runs, src_map, manifest = _prepare(Path(scenario_path), opts)
    backend = make_backend(opts.backend, BackendOptions(workers=opts.workers, ray_address=opts.ray_address))
    layout = ExportLayout(Path(opts.out), job.version)
    _check_dataroot(layout, manifest)
    _build_scene(job, opts.progress)
    if not layout.manifest.is_file():
        write_json_atomic(layout.manifest, manifest)
    runs_of = {scene_name(job.scenario_name, i): i for i in range(n_runs)}
    _recover(layout)
    done = finished_fragments(layout)
    skipped = [i for n, i in runs_of.items() if n in done]
    tasks = [SceneTask(job, i) for n, i in runs_of.items() if n not in done]
    result = ExportResult(layout.root, job.version, [], skipped=skipped)
    bar = progress_bar(
        total=len(tasks),
        desc=f"export {job.scenario_name}: {len(tasks)} scene(s)"
        + (f" ({len(skipped)} done before)" if skipped else ""),
        unit="scene",
        disable=not opts.progress,
    )
    try:
        with backend:
            result.backend = backend.describe()
            steps = [0]

            def on_steps(_index: int, n: int) -> None:
                steps[0] += n
                bar.set_postfix(steps=steps[0], refresh=False)

            for _, res in backend.map(export_scene, tasks, progress=on_steps):
                if res.status == "finished":
                    adopt_scene(layout, res.scene_name)
                    result.exported.append(res)
                    bar.update(1)
    except KeyboardInterrupt:
        result.interrupted = True
    finally:
        bar.close()
        _recover(layout)
        write_tables(layout, src_map)
        result.scenes = sorted(finished_fragments(layout))
        result.wall_time_s = round(time.perf_counter() - started, 2)
    if result.interrupted:
        raise KeyboardInterrupt(result)
    return result


def export_summary(result: ExportResult) -> str:
    """Plain-text lines about an export, for the terminal."""
    lines = [
        f"{len(result.scenes)} scene(s) in {result.out} ({result.version}); "
        f"{len(result.exported)} exported now, {len(result.skipped)} kept from before, "
        f"{result.wall_time_s} s",
    ]
    for r in sorted(result.exported, key=lambda r: r.run_index):
        pdms = r.metrics.get("pdms")
        lines.append(
            f"  {r.scene_name}: {r.steps} steps, {r.frames} frames/camera, end {r.end_reason}"
            + (f", pdms {pdms:.3f}" if pdms is not None else "")
        )
    return "\n".join(lines)


__all__ = ["ExportOptions", "ExportResult", "export", "export_summary"]
