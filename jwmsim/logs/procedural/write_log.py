"""Record a nuScenes-format log of a procedural town: six cameras and LIDAR_TOP at 10 Hz,
keyframes at 2 Hz, every actor annotated on every keyframe, drivable-area map, lane
centrelines and traffic lights. Frames render in parallel worker processes; the log appears atomically."""

from __future__ import annotations

import multiprocessing as mp
import os
from dataclasses import asdict
from pathlib import Path

import numpy as np

from jwmsim.errors import ConfigError
from jwmsim.logs.nuscenes_writer import NuScenesWriter
from jwmsim.logs.procedural import shading
from jwmsim.logs.procedural.config import GENERATOR_VERSION, LogConfig, TownConfig
from jwmsim.logs.procedural.render import actor_geometry, cast_lidar, render_camera
from jwmsim.logs.procedural.rig import LIDAR_TOP, lidar_directions, nuscenes_like_rig
from jwmsim.logs.procedural.town import Town
from jwmsim.progress import progress_bar

START_US = 1_700_000_000_000_000  # [us] timestamp of the first frame of every procedural log
VERSION = "v1.0-mini"  # also default_log.VERSION

# State of the render workers (set before the pool forks, or in-process).
_JOB: dict[str, object] = {}


def _render_frame(k: int) -> tuple[int, dict[str, np.ndarray], object]:
    town: Town = _JOB["town"]  # type: ignore[assignment]
    cfg: LogConfig = _JOB["config"]  # type: ignore[assignment]
    rig = _JOB["rig"]
    t = k / cfg.frame_rate
    ego = town.ego_pose_at(t)
    dynamic, ids = actor_geometry(town, town.actor_poses_at(t))
    images = {name: render_camera(town, dynamic, ids, cam, ego).rgb for name, cam in rig.items()}  # type: ignore[attr-defined]
    lidar = cast_lidar(town, dynamic, len(ids), ego, LIDAR_TOP, _JOB["lidar_dirs"], cfg.lidar_range)  # type: ignore[arg-type]
    return k, images, lidar


def _visibility(seen: int, unoccluded: int) -> str:
    """nuScenes visibility token from the fraction of an actor's lidar rays not blocked by the
    static world ("1" when no ray reaches it)."""
    if unoccluded == 0:
        return "1"
    frac = seen / unoccluded
    return "1" if frac < 0.4 else "2" if frac < 0.6 else "3" if frac < 0.8 else "4"


def write_town_log(
    town: Town | int,
    out_dir: Path | str,
    config: LogConfig | None = None,
    progress: bool = True,
    overwrite: bool = False,
) -> Path:
    """Render ``town`` (or the town of a seed) into a nuScenes dataroot at ``out_dir``.

    Args:
        town: a :class:`Town` or a seed.
        out_dir: dataroot to create (written to a temporary folder, then renamed).
        config: duration, image size, rates, lidar pattern, workers.
        progress: show a tqdm bar.
        overwrite: replace an existing ``out_dir``.

    Returns:
        ``out_dir``.
    """
    cfg = config or LogConfig()
    if isinstance(town, int | np.integer):
        town = Town.generate(int(town), TownConfig(duration=max(cfg.duration, TownConfig().duration)))
    if cfg.duration > float(town.ego_times[-1]) + 1e-6:
        raise ConfigError(
            f"log duration {cfg.duration} s is longer than the town's trajectories "
            f"({town.ego_times[-1]:.1f} s)",
            hint="generate the town with TownConfig(duration=...) at least as long as the log",
        )
    duration = cfg.duration
    n_frames = int(round(duration * cfg.frame_rate))
    rig = nuscenes_like_rig(cfg.width, cfg.height)
    _JOB.update(
        town=town, config=cfg, rig=rig, lidar_dirs=lidar_directions(cfg.lidar_beams, cfg.lidar_azimuth_steps)
    )
    workers = cfg.workers or min(2, os.cpu_count() or 1)
    writer = NuScenesWriter(
        out_dir,
        version=VERSION,
        scene_name=town.scene_name,
        log_name=town.log_name,
        location="jwmsim-town",
        description=f"procedural town seed {town.seed} ({GENERATOR_VERSION}): {len(town.actors)} actors, "
        f"ego in {town.ego_lane}",
        vehicle="jwmsim-ego",
        jpeg_quality=cfg.jpeg_quality,
        overwrite=overwrite,
    )
    pool = None
    try:
        with writer:
            for name, cam in rig.items():
                writer.add_camera(name, cam.intrinsics, cam.ego_from_cam)
            writer.add_lidar("LIDAR_TOP", LIDAR_TOP)
            if workers > 1 and n_frames > 1:
                shading.warm_up()  # compile once here; the forked workers inherit it
                pool = mp.get_context("fork").Pool(workers)
                results = pool.imap(_render_frame, range(n_frames))
            else:
                results = map(_render_frame, range(n_frames))
            bar = progress_bar(
                results, total=n_frames, desc=f"town {town.seed}", unit="frame", disable=not progress
            )
            for k, images, lidar in bar:
                t = k / cfg.frame_rate
                ts = START_US + int(round(t * 1e6))
                key = k % cfg.keyframe_every == 0
                ego = town.ego_pose_at(t)
                if key:
                    writer.add_sample(ts)
                for name in rig:
                    writer.add_camera_frame(name, ts, ego, images[name], is_key_frame=key)
                writer.add_lidar_sweep("LIDAR_TOP", ts, ego, lidar.points, key, intensity=lidar.intensity)
                if key:
                    seen = np.bincount(lidar.instance, minlength=len(lidar.unoccluded))
                    for index, actor in enumerate(town.actors, start=1):
                        if not actor.is_present(t):
                            continue
                        writer.add_annotation(
                            actor.actor_id,
                            actor.category,
                            ts,
                            actor.pose_at(t),
                            actor.size_wlh,
                            num_lidar_pts=int(seen[index]),
                            attribute=actor.attribute_at(t),
                            visibility=_visibility(int(seen[index]), int(lidar.unoccluded[index])),
                        )
            writer.set_map(polygon=town.drivable_area)
            writer.set_lanes(town.lanes, town.lane_widths)
            writer.set_traffic_lights(town.traffic_lights, START_US)
            writer.add_extra_json(
                "generator",
                {
                    "generator": GENERATOR_VERSION,
                    "seed": town.seed,
                    "town_config": asdict(town.config),
                    "log_config": {k: v for k, v in asdict(cfg).items() if k != "workers"},
                    "ego_lane": town.ego_lane,
                    "num_actors": len(town.actors),
                    "sun_direction": np.round(town.lighting.sun_direction, 6).tolist(),
                },
            )
    finally:
        if pool is not None:
            pool.terminate()
            pool.join()
        _JOB.clear()
    return Path(out_dir)
