"""Speed of the procedural town: generation, ground-truth rendering, and recording a full log.

Cases:
  * ``town_generate``: ``Town.generate(seed)`` for three seeds (roads, meshes, trajectories);
  * ``render_320x180`` / ``render_640x360``: one ``render_ground_truth`` call (RGB + depth +
    instances, shadows), after the static BVH is built;
  * ``frame_cpu``: one log frame = 6 cameras at 320x180 + a 32x512-ray lidar sweep, one process;
  * ``default_log``: the built-in seed log (20 s, 200 frames x 6 cameras, 2 render processes),
    written to a temporary folder (``--skip-full`` leaves it out).

The machine's load average is saved with the numbers: other jobs on the same cores slow every case.

Run:  .venv/bin/python benchmarks/bench_procedural_log.py [--out benchmarks/results/bench_procedural_log.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
from machine import machine_info  # benchmarks/machine.py (the script's folder)

from jwmsim.logs.procedural import LogConfig, Town, nuscenes_like_rig, render_ground_truth, write_town_log
from jwmsim.logs.procedural import write_log as write_log_module
from jwmsim.logs.procedural.default_log import DEFAULT_LOG_CONFIG, DEFAULT_SEED
from jwmsim.logs.procedural.rig import lidar_directions


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime + c.ru_utime + c.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/bench_procedural_log.json"))
    parser.add_argument("--skip-full", action="store_true", help="skip the full 20 s log")
    args = parser.parse_args()
    results: dict[str, object] = {
        "machine": {"platform": platform.platform(), **machine_info()},
        "load_average_before": os.getloadavg(),
    }

    times = []
    for seed in (1, 2, 3):
        t0 = time.perf_counter()
        town = Town.generate(seed)
        times.append(time.perf_counter() - t0)
    results["town_generate_s"] = {
        "median": float(np.median(times)),
        "all": times,
        "faces": town.static_mesh.num_faces,
        "actors": len(town.actors),
    }

    town = Town.generate(DEFAULT_SEED)
    for w, h in ((320, 180), (640, 360)):
        cam = nuscenes_like_rig(w, h)["CAM_FRONT"]
        render_ground_truth(town, cam, town.ego_pose_at(0.0), time=0.0)
        runs = []
        for t in (2.0, 6.0, 10.0, 14.0, 18.0):
            t0 = time.perf_counter()
            render_ground_truth(town, cam, town.ego_pose_at(t), time=t)
            runs.append(time.perf_counter() - t0)
        results[f"render_{w}x{h}_s"] = {"median": float(np.median(runs)), "all": runs}

    cfg = DEFAULT_LOG_CONFIG
    write_log_module._JOB.update(
        town=town,
        config=cfg,
        rig=nuscenes_like_rig(cfg.width, cfg.height),
        lidar_dirs=lidar_directions(cfg.lidar_beams, cfg.lidar_azimuth_steps),
    )
    write_log_module._render_frame(0)
    c0, t0 = _cpu(), time.perf_counter()
    frames = range(1, 200, 10)
    for k in frames:
        write_log_module._render_frame(k)
    results["frame_cpu_s"] = {
        "cpu_per_frame": (_cpu() - c0) / len(frames),
        "wall_per_frame": (time.perf_counter() - t0) / len(frames),
        "frame": "6 cameras 320x180 + lidar 32x512 rays",
    }
    write_log_module._JOB.clear()

    if not args.skip_full:
        with tempfile.TemporaryDirectory() as tmp:
            c0, t0 = _cpu(), time.perf_counter()
            write_town_log(
                DEFAULT_SEED, Path(tmp) / "log", LogConfig(**{**cfg.__dict__, "workers": 2}), progress=False
            )
            size = sum(p.stat().st_size for p in (Path(tmp) / "log").rglob("*") if p.is_file())
            results["default_log"] = {
                "wall_s": time.perf_counter() - t0,
                "cpu_s": _cpu() - c0,
                "frames": cfg.num_frames,
                "images": cfg.num_frames * 6,
                "size_mb": size / 1e6,
                "workers": 2,
            }
    results["load_average_after"] = os.getloadavg()
    print(json.dumps(results, indent=1))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
