"""Environment steps per second: JWM-Drive-v0 next to highway-env 1.11 ``highway-v0``, same run.

JWM-Drive-v0 cases (the ego follows the logged actions, resets when an episode ends):
  * ``jwm_bev``: no camera, 64x64 BEV + ego vector (the cost of the simulation core + BEV);
  * ``jwm_skeleton_1cam``: CAM_FRONT 64x112 rendered from the log's lidar skeleton (CPU rasterizer
    here, gsplat on a CUDA machine);
  * ``jwm_skeleton_3cam``: CAM_FRONT, CAM_FRONT_LEFT, CAM_FRONT_RIGHT at 64x112;
  * ``jwm_skeleton_3cam_112x200``: the same three cameras at 112x200 (the issue's setting);
  * ``jwm_skeleton_3cam_112x200_async2``: that, as ``gymnasium.vector.AsyncVectorEnv`` with 2
    workers (steps/s counts environment steps: 2 per vector step).
Peer: ``highway-v0`` with its default configuration (kinematics observation, 15 Hz simulation, 1 Hz
policy... as shipped), IDLE action. Skipped with a message when highway-env is not installed
(``pip install -c constraints.txt highway-env==1.11``).

Run:  .venv/bin/python benchmarks/bench_env_steps.py [--log builtin|DATAROOT] [--seconds 15]
Writes benchmarks/results/bench_env_steps.json (or --out).
"""

from __future__ import annotations

import argparse
import functools
import json
import platform
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
from machine import machine_info  # benchmarks/machine.py (the script's folder)

import jwmsim.envs  # noqa: F401  (registers JWM-Drive-v0)
from jwmsim.envs.drive_config import DriveEnvConfig
from jwmsim.envs.drive_env import load_log
from jwmsim.scenes.sources import scene_for_log
from jwmsim.sim import expert_actions

REPO = Path(__file__).resolve().parents[1]
FRONT3 = ("CAM_FRONT", "CAM_FRONT_LEFT", "CAM_FRONT_RIGHT")


def vector_steps_per_second(make_env, num_envs: int, seconds: float, min_steps: int = 3) -> dict[str, float]:
    """Environment steps per second of an ``AsyncVectorEnv`` (zero actions; autoreset)."""
    # spawn, not fork: numba's worker threads in the parent do not survive a fork
    venv = gym.vector.AsyncVectorEnv([make_env] * num_envs, context="spawn")
    try:
        venv.reset(seed=0)
        actions = np.zeros((num_envs, 2), np.float32)
        venv.step(actions)  # warm-up
        n = 0
        t0 = time.perf_counter()
        while n < min_steps or time.perf_counter() - t0 < seconds:
            venv.step(actions)
            n += 1
        dt = time.perf_counter() - t0
    finally:
        venv.close()
    return {
        "vector_steps": n,
        "num_envs": num_envs,
        "seconds": round(dt, 2),
        "steps_per_s": round(n * num_envs / dt, 2),
    }


def steps_per_second(env: gym.Env, policy, seconds: float, min_steps: int = 5) -> dict[str, float]:
    env.reset(seed=0)
    policy_step = 0
    for _ in range(2):  # warm-up (numba / caches)
        env.step(policy(policy_step))
        policy_step += 1
    n, resets = 0, 0
    t0 = time.perf_counter()
    while n < min_steps or time.perf_counter() - t0 < seconds:
        _, _, term, trunc, _ = env.step(policy(policy_step))
        policy_step += 1
        n += 1
        if term or trunc:
            env.reset()
            policy_step = 0
            resets += 1
    dt = time.perf_counter() - t0
    return {"steps": n, "seconds": round(dt, 2), "steps_per_s": round(n / dt, 2), "resets": resets}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--log", default="builtin")
    ap.add_argument("--seconds", type=float, default=15.0, help="time per case")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "bench_env_steps.json")
    args = ap.parse_args()
    machine = machine_info()  # before the work: the calibration sees the machine, not the benchmark
    segment = load_log(DriveEnvConfig(log=args.log))
    scene = scene_for_log(segment, "lidar")
    results: dict[str, object] = {}
    cases = {
        "jwm_bev": dict(observation="none", bev=True),
        "jwm_skeleton_1cam": dict(observation="skeleton", cameras=("CAM_FRONT",), image_size=(64, 112)),
        "jwm_skeleton_3cam": dict(observation="skeleton", cameras=FRONT3, image_size=(64, 112)),
        "jwm_skeleton_3cam_112x200": dict(observation="skeleton", cameras=FRONT3, image_size=(112, 200)),
    }
    for name, kw in cases.items():
        env = gym.make("JWM-Drive-v0", segment=segment, scene=scene, **kw)
        acts = expert_actions(env.unwrapped.world)

        def policy(k: int, acts=acts) -> np.ndarray:
            return acts[k].astype(np.float32) if k < len(acts) else np.zeros(2, np.float32)

        results[name] = steps_per_second(env, policy, args.seconds)
        results[name]["gaussians"] = scene.num_gaussians if kw["observation"] == "skeleton" else 0
        env.close()
        print(name, results[name], flush=True)
    # each spawned worker loads the log and the cached scene itself (a LogSegment does not pickle)
    make_env = functools.partial(
        gym.make,
        "jwmsim:JWM-Drive-v0",
        log=args.log,
        observation="skeleton",
        cameras=FRONT3,
        image_size=(112, 200),
    )
    results["jwm_skeleton_3cam_112x200_async2"] = vector_steps_per_second(make_env, 2, args.seconds)
    print("jwm_skeleton_3cam_112x200_async2", results["jwm_skeleton_3cam_112x200_async2"], flush=True)
    try:
        import highway_env  # noqa: F401

        env = gym.make("highway-v0")
        results["highway_v0"] = steps_per_second(env, lambda k: 1, args.seconds, min_steps=3)
        results["highway_v0"]["version"] = (
            highway_env.__version__ if hasattr(highway_env, "__version__") else "1.11"
        )
        env.close()
        print("highway_v0", results["highway_v0"], flush=True)
    except ImportError:
        results["highway_v0"] = (
            "skipped: highway-env not installed (pip install -c constraints.txt highway-env==1.11)"
        )
    meta = {
        "machine": {**machine, "cuda": torch.cuda.is_available()},
        "python": platform.python_version(),
        "log": segment.name,
        "command": f"python benchmarks/bench_env_steps.py --log {args.log} --seconds {args.seconds}",
    }
    out = {"benchmark": "env_steps", "meta": meta, "results": results}
    print(json.dumps(out, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(out, indent=2) + "\n")
    tmp.replace(args.out)


if __name__ == "__main__":
    main()
