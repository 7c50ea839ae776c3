"""Lidar skeleton variants: Gaussian count, render time and image quality, in one run.

For each log (the built-in seed log, and the real PandaSet log where ``../shared/data`` has it) and
each skeleton variant (``v1``: 0.3 m voxels everywhere, ``lidar-skeleton-v1``; ``v2``: the current
:class:`~jwmsim.gaussians.lidar_skeleton.SkeletonConfig` defaults; more with ``--variant``), the
skeleton is built and rendered at the log's camera poses of the held-out frames (every 8th frame
of every camera, as :mod:`jwmsim.gaussians.fit` holds out: index % 8 == 4; at most ``--views``,
evenly spread), actors at their logged poses, and compared with the log's real images: PSNR
[dB] and SSIM (7x7 uniform) at ``--size`` (default the replay's 112x200). Render time: the
replay's three front cameras at the same size, at 12 logged ego poses, variants interleaved.

Run:  .venv/bin/python benchmarks/bench_skeleton_quality.py [--logs builtin pandaset] [--views 48]
Writes benchmarks/results/bench_skeleton_quality.json (or --out).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import describe, machine_info, write_report  # noqa: E402

from jwmsim.gaussians.image_metrics import psnr, ssim  # noqa: E402
from jwmsim.gaussians.lidar_skeleton import SKELETON_V1, SkeletonConfig, lidar_skeleton  # noqa: E402
from jwmsim.gaussians.render import render_gaussians  # noqa: E402
from jwmsim.gaussians.scene import GaussianScene  # noqa: E402
from jwmsim.logs.nuscenes import load_nuscenes_log  # noqa: E402
from jwmsim.logs.segment import LogSegment  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
PANDASET = REPO.parent / "shared" / "data" / "pandaset-002-nusc"
FRONT3 = ("CAM_FRONT_LEFT", "CAM_FRONT", "CAM_FRONT_RIGHT")
VARIANTS: dict[str, SkeletonConfig] = {"v1": SKELETON_V1, "v2": SkeletonConfig()}
HOLDOUT_EVERY = 8


def load(name: str) -> LogSegment:
    if name == "builtin":
        from jwmsim.logs.procedural.default_log import default_log_path

        return load_nuscenes_log(default_log_path())
    if name == "pandaset":
        return load_nuscenes_log(PANDASET)
    return load_nuscenes_log(name)


def heldout_views(log: LogSegment, max_views: int) -> list[tuple[str, int]]:
    """``(camera, frame index)`` of the held-out frames (index % 8 == 4), evenly thinned."""
    views = [
        (cam, i)
        for cam in log.camera_names
        for i in range(len(log.frames[cam]))
        if i % HOLDOUT_EVERY == HOLDOUT_EVERY // 2
    ]
    if len(views) > max_views:
        views = [views[i] for i in np.linspace(0, len(views) - 1, max_views).round().astype(int)]
    return views


def quality(
    scene: GaussianScene, log: LogSegment, views: list[tuple[str, int]], size_hw: tuple[int, int]
) -> dict:
    """Mean PSNR / SSIM of the scene's renders against the log's images at ``views``."""
    ps, ss = [], []
    with torch.no_grad():
        for cam, i in views:
            frame = log.frames[cam][i]
            viewmat = torch.from_numpy(frame.world_from_cam(log.cameras[cam]).inverse().matrix)[None]
            k = torch.from_numpy(log.intrinsics(cam, size_hw).matrix)[None]
            poses = {a: p for a, p in log.actors_at(frame.time).items() if a in scene.actors}
            world = scene.compose(poses)
            rgb = render_gaussians(world, scene.sky, viewmat, k, size_hw, backend="cpu").rgb[0].clamp(0, 1)
            gt = torch.from_numpy(log.image(cam, i, size_hw)).float() / 255.0
            ps.append(psnr(rgb.float(), gt))
            ss.append(float(ssim(rgb.float(), gt)))
    return {"psnr": round(float(np.mean(ps)), 3), "ssim": round(float(np.mean(ss)), 4), "views": len(views)}


def render_times(
    scenes: dict[str, GaussianScene], log: LogSegment, size_hw: tuple[int, int], rounds: int
) -> dict:
    """Median ms of a 3-front-camera render per variant, variants interleaved at each pose."""
    from jwmsim.gaussians.render import render

    cams = [log.cameras[c] for c in FRONT3 if c in log.cameras]
    t0, t1 = log.lidar[0].time, log.lidar[-1].time
    poses = []
    for t in np.linspace(t0 + 0.05 * (t1 - t0), t1 - 0.05 * (t1 - t0), 12):
        poses.append((log.ego_pose_at(t), log.actors_at(t)))
    times: dict[str, list[float]] = {k: [] for k in scenes}
    with torch.no_grad():
        for sc in scenes.values():  # warm-up
            render(sc, cams, poses[0][0], {a: p for a, p in poses[0][1].items() if a in sc.actors}, size_hw)
        for _ in range(rounds):
            for ego, actors in poses:
                for name, sc in scenes.items():
                    acts = {a: p for a, p in actors.items() if a in sc.actors}
                    s = time.perf_counter()
                    render(sc, cams, ego, acts, size_hw, backend="cpu")
                    times[name].append(time.perf_counter() - s)
    return {k: round(float(np.median(v)) * 1e3, 2) for k, v in times.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--logs", nargs="+", default=["builtin", "pandaset"])
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS))
    ap.add_argument("--variant", action="append", default=[], metavar="NAME:FIELD=VALUE,...",
                    help="an extra SkeletonConfig, e.g. 'far06:far_voxel=0.6,near_distance=15'")  # fmt: skip
    ap.add_argument("--views", type=int, default=48)
    ap.add_argument("--size", type=int, nargs=2, default=(112, 200), metavar=("H", "W"))
    ap.add_argument("--rounds", type=int, default=3, help="timing rounds over the 12 poses")
    ap.add_argument(
        "--out", type=Path, default=REPO / "benchmarks" / "results" / "bench_skeleton_quality.json"
    )
    args = ap.parse_args()
    torch.set_num_threads(1)
    variants = {k: VARIANTS[k] for k in args.variants}
    for spec in args.variant:
        name, _, fields = spec.partition(":")
        kw = {}
        for item in filter(None, fields.split(",")):
            key, _, val = item.partition("=")
            kw[key] = None if val == "None" else (int(val) if key == "max_sweeps" else float(val))
        kw = {**asdict(SKELETON_V1), **kw}  # extras start from v1 plus their changes
        variants[name] = SkeletonConfig(**kw)
    info = machine_info()
    print(describe(info))
    size_hw = (int(args.size[0]), int(args.size[1]))
    results = []
    for log_name in args.logs:
        if log_name == "pandaset" and not (PANDASET / "v1.0-mini").is_dir():
            print(f"skipping pandaset: {PANDASET} not found")
            continue
        log = load(log_name)
        views = heldout_views(log, args.views)
        scenes, rows = {}, {}
        for name, cfg in variants.items():
            s = time.perf_counter()
            sc = lidar_skeleton(log, progress=False, config=cfg)
            build_s = time.perf_counter() - s
            scenes[name] = sc
            q = quality(sc, log, views, size_hw)
            rows[name] = {
                "log": log_name,
                "variant": name,
                "config": asdict(cfg),
                "gaussians": sc.num_gaussians,
                "background": len(sc.background),
                "build_s": round(build_s, 2),
                **q,
            }
            print(
                f"{log_name:9s} {name:8s} {sc.num_gaussians:7d} Gaussians"
                f"  PSNR {q['psnr']:.3f}  SSIM {q['ssim']:.4f}"
            )
        ms = render_times(scenes, log, size_hw, args.rounds)
        for name, row in rows.items():
            row["render_ms_3cam"] = ms[name]
            print(f"{log_name:9s} {name:8s} render 3x{size_hw[0]}x{size_hw[1]}: {ms[name]:.1f} ms (median)")
            results.append(row)
    report = {
        "benchmark": "bench_skeleton_quality",
        "command": " ".join(["python", "benchmarks/bench_skeleton_quality.py", *sys.argv[1:]]),
        "machine": info,
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "size_hw": list(size_hw),
        "results": results,
    }
    write_report(args.out, report)


if __name__ == "__main__":
    main()
