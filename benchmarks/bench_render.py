"""Speed of the skeleton renderer on the CPU: ``jwmsim.gaussians.render`` (numba backend).

Cases:

* ``skeleton``: the built-in seed log's lidar skeleton, the replay's three front cameras
  (CAM_FRONT_LEFT, CAM_FRONT, CAM_FRONT_RIGHT) at 112x200, forward (no grad), at 12 logged ego
  poses with the log's actors: the renderer of ``--baseline`` (default: the commit before the AVX2
  work) on the ``lidar-skeleton-v1`` scene, the current renderer on that scene, and the current
  renderer on the current skeleton, **interleaved** pose by pose (the cores may be shared: runs
  minutes apart are not comparable);
* synthetic: a 3-camera forward rig at 112x200 and 224x400, a synthetic street scene with 50k and
  200k Gaussians (road, facades, clutter, 3 box cars; most are in view), forward (no grad) and
  forward + backward (loss on RGB, depth and alpha; gradients for every Gaussian parameter).

Each number is the median of ``--repeats`` runs after one warm-up run. The machine
(:mod:`benchmarks.machine`: CPU model, SIMD flags, an fp32 matmul calibration, load) is recorded.

Run:  .venv/bin/python benchmarks/bench_render.py [--threads 2] [--torch-threads 1] [--repeats 15] \
          [--baseline REV | none] [--skip-synthetic] [--out benchmarks/results/bench_render.json]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import numba
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from baseline import load_baseline_render  # noqa: E402
from machine import describe, machine_info, write_report  # noqa: E402

from jwmsim.gaussians import render as current_render  # noqa: E402
from jwmsim.gaussians.backend_cpu import set_threads  # noqa: E402
from jwmsim.gaussians.lidar_skeleton import BUILDER_VERSION, SKELETON_V1, lidar_skeleton  # noqa: E402
from jwmsim.gaussians.scene import GaussianComponent, GaussianScene  # noqa: E402
from jwmsim.gaussians.synthetic import forward_rig, street_car_poses, street_scene  # noqa: E402
from jwmsim.geometry import SE3  # noqa: E402

render = current_render.render
REPO = Path(__file__).resolve().parents[1]
BASELINE_REV = "325e595"  # the renderer before the AVX2 work (lidar-skeleton-v1 era)
FRONT3 = ("CAM_FRONT_LEFT", "CAM_FRONT", "CAM_FRONT_RIGHT")


def with_grad(scene: GaussianScene) -> GaussianScene:
    def leaf(c: GaussianComponent) -> GaussianComponent:
        return GaussianComponent(*(t.detach().clone().requires_grad_(True) for t in c.tensors().values()))

    return GaussianScene(leaf(scene.background), {k: leaf(c) for k, c in scene.actors.items()}, scene.sky)


def time_case(n: int, size_hw: tuple[int, int], backward: bool, repeats: int) -> dict[str, object]:
    scene = street_scene(n, seed=0)
    if backward:
        scene = with_grad(scene)
    rig, poses = forward_rig(), street_car_poses()
    ego = SE3.identity()

    def step() -> torch.Tensor:
        out = render(scene, rig, ego, poses, size_hw, backend="cpu")
        if backward:
            loss = out.rgb.mean() + 0.01 * out.depth.mean() + out.alpha.mean()
            loss.backward()
        return out.alpha

    alpha = step()  # warm-up (and numba compilation on a cold cache)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    ms = np.array(times) * 1e3
    return {
        "gaussians": scene.num_gaussians,
        "cameras": len(rig),
        "height": size_hw[0],
        "width": size_hw[1],
        "pass": "forward+backward" if backward else "forward",
        "median_ms": round(float(np.median(ms)), 2),
        "min_ms": round(float(ms.min()), 2),
        "p90_ms": round(float(np.quantile(ms, 0.9)), 2),
        "repeats": repeats,
        "coverage": round(float(alpha.detach().mean()), 3),
    }


def skeleton_cases(baseline: str, repeats: int) -> list[dict[str, object]]:
    """Old renderer / v1 skeleton, new renderer / v1 skeleton, new renderer / current skeleton."""
    from jwmsim.logs.nuscenes import load_nuscenes_log
    from jwmsim.logs.procedural.default_log import default_log_path

    log = load_nuscenes_log(default_log_path())
    scenes = {
        "v1": lidar_skeleton(log, progress=False, config=SKELETON_V1),
        "current": lidar_skeleton(log, False),
    }
    cams = [log.cameras[c] for c in FRONT3]
    t0, t1 = log.lidar[0].time, log.lidar[-1].time
    poses = [(log.ego_pose_at(t), log.actors_at(t)) for t in np.linspace(t0 + 1.0, t1 - 1.0, 12)]
    cases = [("current renderer", current_render, "v1"), ("current renderer", current_render, "current")]
    if baseline != "none":
        try:
            cases.insert(0, (f"baseline {baseline}", load_baseline_render(baseline), "v1"))
        except (OSError, subprocess.CalledProcessError) as e:  # no git, or not a revision here
            print(f"no baseline renderer ({baseline}): {e}; pass --baseline none to silence this")
    times: list[list[float]] = [[] for _ in cases]
    with torch.no_grad():
        for _, mod, sk in cases:  # warm-up (and numba compilation on a cold cache)
            sc = scenes[sk]
            mod.render(
                sc, cams, poses[0][0], {a: p for a, p in poses[0][1].items() if a in sc.actors}, (112, 200)
            )
        for _ in range(max(1, repeats // 5)):
            for ego, actors in poses:
                for k, (_, mod, sk) in enumerate(cases):
                    sc = scenes[sk]
                    acts = {a: p for a, p in actors.items() if a in sc.actors}
                    s = time.perf_counter()
                    mod.render(sc, cams, ego, acts, (112, 200), backend="cpu")
                    times[k].append(time.perf_counter() - s)
    out = []
    for (label, _, sk), ts in zip(cases, times, strict=True):
        ms = np.array(ts) * 1e3
        out.append({
            "case": "skeleton",
            "renderer": label,
            "skeleton": "lidar-skeleton-v1" if sk == "v1" else BUILDER_VERSION,
            "gaussians": scenes[sk].num_gaussians,
            "cameras": 3,
            "height": 112,
            "width": 200,
            "pass": "forward",
            "median_ms": round(float(np.median(ms)), 2),
            "min_ms": round(float(ms.min()), 2),
            "p90_ms": round(float(np.quantile(ms, 0.9)), 2),
            "renders": len(ms),
        })  # fmt: skip
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2, help="numba threads of the rasterizer")
    parser.add_argument("--torch-threads", type=int, default=1, help="PyTorch threads (element-wise glue)")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--baseline", default=BASELINE_REV, help="git revision of the old renderer, or none")
    parser.add_argument("--skip-synthetic", action="store_true", help="only the skeleton cases")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "bench_render.json")
    args = parser.parse_args()
    torch.set_num_threads(args.torch_threads)
    set_threads(args.threads)
    info = machine_info()
    print(describe(info))
    load_before = os.getloadavg()
    results = skeleton_cases(args.baseline, args.repeats)
    for r in results:
        print(
            f"skeleton {r['skeleton']:<18} {r['gaussians']:>7} Gaussians  {r['renderer']:<24} 3 x 112x200"
            f" forward median {r['median_ms']:8.2f} ms  (min {r['min_ms']:.2f}, p90 {r['p90_ms']:.2f})"
        )
    for n in () if args.skip_synthetic else (50_000, 200_000):
        for size_hw in ((112, 200), (224, 400)):
            for backward in (False, True):
                r = time_case(n, size_hw, backward, args.repeats)
                results.append(r)
                print(
                    f"{r['gaussians']:>7} Gaussians  {r['cameras']} x {r['height']}x{r['width']}  "
                    f"{r['pass']:<16}"
                    f" median {r['median_ms']:8.2f} ms  (min {r['min_ms']:.2f}, p90 {r['p90_ms']:.2f})"
                    f"  coverage {r['coverage']}"
                )
    report = {
        "benchmark": "bench_render",
        "command": " ".join(["python", "benchmarks/bench_render.py", *sys.argv[1:]]),
        "machine": {**info, "threading_layer": numba.threading_layer()},
        "threads": args.threads,
        "torch_threads": args.torch_threads,
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "target": "<= 30 ms forward, 3 cameras 112x200, 50k Gaussians, 2 threads",
        "results": results,
    }
    write_report(args.out, report)


if __name__ == "__main__":
    main()
