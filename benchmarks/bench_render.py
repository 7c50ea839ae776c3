"""Speed of the skeleton renderer on the CPU: ``jwmsim.gaussians.render`` (numba backend).

Cases: a 3-camera forward rig (front, front-left, front-right) at 112x200 and 224x400, a synthetic
street scene with 50k and 200k Gaussians (road, facades, clutter, 3 box cars; most are in view),
forward (no grad) and forward + backward (loss on RGB, depth and alpha; gradients for every
Gaussian parameter). Each number is the median of ``--repeats`` runs after one warm-up run; the
machine's load average is recorded before and after, since the cores may be shared.

Run:  .venv/bin/python benchmarks/bench_render.py [--threads 2] [--torch-threads 1] [--repeats 15] \
          [--out benchmarks/results/bench_render.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numba
import numpy as np
import torch

from jwmsim.gaussians.backend_cpu import set_threads
from jwmsim.gaussians.render import render
from jwmsim.gaussians.scene import GaussianComponent, GaussianScene
from jwmsim.gaussians.synthetic import forward_rig, street_car_poses, street_scene
from jwmsim.geometry import SE3

REPO = Path(__file__).resolve().parents[1]


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2, help="numba threads of the rasterizer")
    parser.add_argument("--torch-threads", type=int, default=1, help="PyTorch threads (element-wise glue)")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "bench_render.json")
    args = parser.parse_args()
    torch.set_num_threads(args.torch_threads)
    set_threads(args.threads)
    load_before = os.getloadavg()
    results = []
    for n in (50_000, 200_000):
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
        "command": "python benchmarks/bench_render.py "
        + f"--threads {args.threads} --torch-threads {args.torch_threads} --repeats {args.repeats}",
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(),
            "python": platform.python_version(),
            "torch": torch.__version__,
            "numba": numba.__version__,
            "threading_layer": numba.threading_layer(),
        },
        "threads": args.threads,
        "torch_threads": args.torch_threads,
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "target": "<= 30 ms forward, 3 cameras 112x200, 50k Gaussians, 2 threads",
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(report, indent=2) + "\n")
    os.replace(tmp, args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
