"""Environment step rate with the skeleton cameras, old renderer and skeleton against new, one run.

``JWM-Drive-v0`` on the built-in seed log with the replay's three front cameras at 112x200 (the
issue's setting), the ego following the logged actions: the renderer of ``--baseline`` (default:
the commit before the AVX2 work) on ``lidar-skeleton-v1``, the current renderer on v1, and the
current renderer on the current skeleton. The three environments step in interleaved blocks of
``--block`` steps (the cores may be shared: runs minutes apart are not comparable). The machine
(:mod:`machine`) is recorded.

Run:  .venv/bin/python benchmarks/bench_env_render.py [--rounds 6] [--block 20] [--baseline REV]
Writes benchmarks/results/bench_env_render.json (or --out).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
from baseline import load_baseline_render
from machine import describe, machine_info, write_report

import jwmsim.envs  # noqa: F401  (registers JWM-Drive-v0)
import jwmsim.gaussians.render as render_module
from jwmsim.envs.drive_config import DriveEnvConfig
from jwmsim.envs.drive_env import load_log
from jwmsim.gaussians.lidar_skeleton import BUILDER_VERSION, SKELETON_V1, lidar_skeleton
from jwmsim.sim import expert_actions

REPO = Path(__file__).resolve().parents[1]
BASELINE_REV = "325e595"  # the renderer before the AVX2 work (lidar-skeleton-v1 era)
FRONT3 = ("CAM_FRONT", "CAM_FRONT_LEFT", "CAM_FRONT_RIGHT")


class _Case:
    """One environment and the ``render`` function it steps with (swapped into the module)."""

    def __init__(self, env: gym.Env, render_fn: Callable[..., object]) -> None:
        self.env, self.render_fn = env, render_fn
        self.actions = expert_actions(env.unwrapped.world)
        self.k, self.steps, self.seconds = 0, 0, 0.0
        env.reset(seed=0)

    def run(self, n: int) -> None:
        render_module.render = self.render_fn  # the env imports render() from the module per step
        t0 = time.perf_counter()
        for _ in range(n):
            a = self.actions[self.k] if self.k < len(self.actions) else np.zeros(2)
            _, _, term, trunc, _ = self.env.step(a.astype(np.float32))
            self.k += 1
            if term or trunc:
                self.env.reset(seed=0)
                self.k = 0
        self.steps += n
        self.seconds += time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--block", type=int, default=20, help="steps per case per round")
    ap.add_argument("--baseline", default=BASELINE_REV, help="git revision of the old renderer")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "bench_env_render.json")
    args = ap.parse_args()
    machine = machine_info()
    print(describe(machine))
    current = render_module.render
    segment = load_log(DriveEnvConfig(log="builtin"))
    scenes = {
        "v1": lidar_skeleton(segment, False, config=SKELETON_V1),
        "current": lidar_skeleton(segment, False),
    }
    specs = {
        f"renderer {args.baseline} + lidar-skeleton-v1": ("v1", load_baseline_render(args.baseline).render),
        "current renderer + lidar-skeleton-v1": ("v1", current),
        f"current renderer + {BUILDER_VERSION}": ("current", current),
    }
    cases = {}
    for name, (sk, fn) in specs.items():
        env = gym.make(
            "JWM-Drive-v0",
            segment=segment,
            scene=scenes[sk],
            observation="skeleton",
            cameras=FRONT3,
            image_size=(112, 200),
        )
        cases[name] = _Case(env, fn)
    try:
        for case in cases.values():  # warm-up (numba compilation on a cold cache)
            case.run(3)
            case.steps, case.seconds = 0, 0.0
        for _ in range(args.rounds):
            for case in cases.values():
                case.run(args.block)
    finally:
        render_module.render = current
    results = {}
    for name, case in cases.items():
        results[name] = {
            "steps": case.steps,
            "seconds": round(case.seconds, 2),
            "steps_per_s": round(case.steps / case.seconds, 2),
            "gaussians": scenes[specs[name][0]].num_gaussians,
        }
        print(f"{name:48s} {results[name]['steps_per_s']:6.2f} steps/s  ({case.steps} steps)")
        case.env.close()
    report = {
        "benchmark": "bench_env_render",
        "command": " ".join(["python", "benchmarks/bench_env_render.py", *sys.argv[1:]]),
        "machine": machine,
        "torch_threads": torch.get_num_threads(),
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "results": results,
    }
    write_report(args.out, report)


if __name__ == "__main__":
    main()
