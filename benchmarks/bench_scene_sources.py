"""Scene sources side by side on the built-in seed log: build time, Gaussian count and the
environment's step rate with the replay's three front cameras (112x200), in one run.

Cases: the lidar skeleton, WorldRec unpruned, WorldRec as the ``worldrec`` source builds it
(pruned to 99.8 % of the blending weight) and pruned harder (99 %, the earlier default). The
environments step the logged expert's actions in interleaved blocks of ``--block`` steps, so that
a shared machine slows every case alike. The machine (:mod:`machine`) is recorded.

Run:  .venv/bin/python benchmarks/bench_scene_sources.py [--rounds 6] [--block 20]
Writes benchmarks/results/bench_scene_sources.json (or --out).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
from machine import describe, machine_info, write_report

import jwmsim.envs  # noqa: F401  (registers JWM-Drive-v0)
from jwmsim.envs.drive_config import DriveEnvConfig
from jwmsim.envs.drive_env import load_log
from jwmsim.gaussians.lidar_skeleton import lidar_skeleton
from jwmsim.gaussians.prune import prune_scene
from jwmsim.gaussians.scene import GaussianScene
from jwmsim.logs.nuscenes import load_nuscenes_log
from jwmsim.logs.procedural.default_log import default_log_path
from jwmsim.scenes.worldrec_source import WorldRecSource
from jwmsim.sim import expert_actions
from jwmsim.worldrec.reconstruct import load_worldrec, reconstruct_segment
from jwmsim.worldrec.weights import weights_dir

REPO = Path(__file__).resolve().parents[1]
FRONT3 = ("CAM_FRONT", "CAM_FRONT_LEFT", "CAM_FRONT_RIGHT")
LIGHTER_COVERAGE = 0.99  # the default before the fifth WorldRec run, for the trade-off


def _timed(fn):  # noqa: ANN001, ANN202
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def build_scenes(segment_path: Path) -> dict[str, tuple[GaussianScene, float]]:
    """``{case: (scene, build seconds)}`` for the three cases (the pruned one adds its pruning
    time to the unpruned build)."""
    torch.set_num_threads(2)
    seg = load_nuscenes_log(segment_path, with_lidar=True)
    lidar, t_lidar = _timed(lambda: lidar_skeleton(seg, progress=False))
    model = load_worldrec(weights_dir())
    (wr, _), t_wr = _timed(lambda: reconstruct_segment(model, seg))
    prune_cfg = WorldRecSource().prune
    (pruned, _), t_prune = _timed(lambda: prune_scene(wr, seg, prune_cfg))
    lighter = replace(prune_cfg, weight_coverage=LIGHTER_COVERAGE)
    (light, _), t_light = _timed(lambda: prune_scene(wr, seg, lighter))
    return {
        "lidar skeleton": (lidar, t_lidar),
        "worldrec, unpruned": (wr, t_wr),
        f"worldrec (pruned: the default, {prune_cfg.weight_coverage:.1%})": (pruned, t_wr + t_prune),
        f"worldrec (pruned to {LIGHTER_COVERAGE:.0%})": (light, t_wr + t_light),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--block", type=int, default=20, help="steps per case per round")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "bench_scene_sources.json")
    args = ap.parse_args()
    machine = machine_info()
    print(describe(machine))
    segment = load_log(DriveEnvConfig(log="builtin"))
    scenes = build_scenes(default_log_path())
    envs, actions, stats = {}, {}, {}
    for name, (scene, _) in scenes.items():
        env = gym.make(
            "JWM-Drive-v0",
            segment=segment,
            scene=scene,
            observation="skeleton",
            cameras=FRONT3,
            image_size=(112, 200),
        )
        env.reset(seed=0)
        envs[name], actions[name], stats[name] = env, expert_actions(env.unwrapped.world), [0, 0, 0.0]

    def run(name: str, n: int) -> None:
        env, acts, st = envs[name], actions[name], stats[name]
        t0 = time.perf_counter()
        for _ in range(n):
            a = acts[st[0]] if st[0] < len(acts) else np.zeros(2)
            _, _, term, trunc, _ = env.step(a.astype(np.float32))
            st[0] += 1
            if term or trunc:
                env.reset(seed=0)
                st[0] = 0
        st[1] += n
        st[2] += time.perf_counter() - t0

    for name in envs:  # warm-up
        run(name, 3)
        stats[name][1:] = [0, 0.0]
    for _ in range(args.rounds):
        for name in envs:
            run(name, args.block)
    results = {}
    for name, (scene, seconds) in scenes.items():
        steps, secs = stats[name][1], stats[name][2]
        results[name] = {
            "gaussians": scene.num_gaussians,
            "build_seconds": round(seconds, 2),
            "steps": steps,
            "steps_per_s": round(steps / secs, 2),
        }
        r = results[name]
        print(
            f"{name:32s} {r['gaussians']:>8,} Gaussians  build {r['build_seconds']:6.1f} s  "
            f"{r['steps_per_s']:6.2f} steps/s"
        )
        envs[name].close()
    report = {
        "benchmark": "bench_scene_sources",
        "command": " ".join(["python", "benchmarks/bench_scene_sources.py", *sys.argv[1:]]),
        "machine": machine,
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "results": results,
    }
    write_report(args.out, report)


if __name__ == "__main__":
    main()
