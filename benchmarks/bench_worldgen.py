"""WorldGen's speed: the distilled students against the teacher, in the same run.

1. **Latency per simulated step** (one frame of 1 or 3 cameras at 112x200, the KV cache full of
   sinks + window frames, 2 threads, bf16 autocast where the CPU has it) of the
   :class:`~jwmsim.worldgen.pipeline_worldgen.WorldGenPipeline`, for each sampler of
   :data:`SAMPLERS`: the stage-3 ODE student (``assets/worldgen_ode``) in 1 and 4 re-noising steps,
   the shipped default (the teacher, ``assets/worldgen``, 4 re-noising steps) and the teacher at its
   full step count (``TEACHER_SAMPLER``: 16 Euler steps with guidance 1.5: 33 calls).
2. **The environment**: ``gym.make("JWM-Drive-v0", observation="jwm")`` with three cameras at
   112x200 on the built-in log, steps per second (skeleton render included; the reset, which
   primes the generator with the log's frames, is not timed), for the default and the 1-step
   student.

Run:  .venv/bin/python benchmarks/bench_worldgen.py [--repeats 5] [--env-steps 30]
Out:  benchmarks/results/bench_worldgen.json (with the machine's calibration and load).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.machine import describe, machine_info, write_report  # noqa: E402

CAMERAS = ("CAM_FRONT_LEFT", "CAM_FRONT", "CAM_FRONT_RIGHT")
HW = (112, 200)


def _frame(c: int, seed: int = 0):
    """A skeleton frame of ``c`` forward cameras at 112x200 (random content: latency only)."""
    from jwmsim.worldgen.frames import FramePoses, SkeletonFrame

    rng = np.random.default_rng(seed)
    h, w = HW
    k = np.repeat(np.array([[0.8 * w, 0, w / 2], [0, 0.8 * w, h / 2], [0, 0, 1.0]])[None], c, 0)
    cams = np.repeat(np.eye(4)[None], c, 0)
    cams[:, :3, :3] = np.array([[0, 0, 1], [-1, 0, 0], [0, -1, 0]])
    poses = FramePoses(CAMERAS[-c:] if c == 1 else CAMERAS, np.eye(4), cams, k, 0.0)
    return SkeletonFrame(
        rgb=rng.integers(0, 256, (c, h, w, 3), dtype=np.uint8),
        depth=rng.uniform(0, 50, (c, h, w)).astype(np.float32),
        alpha=rng.uniform(0, 1, (c, h, w)).astype(np.float32),
        poses=poses,
    )


def pipeline_latency(weights: Path, sampler, c: int, repeats: int) -> dict[str, float]:
    """Median seconds per frame once the cache is full, and the denoiser calls per frame."""
    from jwmsim.worldgen.pipeline_worldgen import WorldGenPipeline

    pipe = WorldGenPipeline.from_pretrained(weights, sampler)
    frame = _frame(c)
    pipe.reset([])
    for _ in range(sampler.num_sinks + sampler.window):  # fill the cache (and warm up)
        out = pipe(frame)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = pipe(frame)
        times.append(time.perf_counter() - t0)
    return {"seconds_per_step": float(np.median(times)), "denoiser_calls": out.denoiser_calls}


def env_rate(steps: int, render_options: dict) -> dict[str, float]:
    """``JWM-Drive-v0`` with ``observation="jwm"``, 3 cameras at 112x200: steps per second."""
    import gymnasium as gym

    import jwmsim.envs  # noqa: F401

    env = gym.make(
        "JWM-Drive-v0", observation="jwm", cameras=CAMERAS, image_size=HW, render_options=render_options
    )
    env.reset(seed=0)
    action = np.array([0.2, 0.0], np.float32)
    env.step(action)  # warm-up (first render of the scene, numba kernels)
    t0 = time.perf_counter()
    done = 0
    for _ in range(steps):
        _, _, term, trunc, _ = env.step(action)
        done += 1
        if term or trunc:
            env.reset()
    seconds = time.perf_counter() - t0
    env.close()
    return {"steps": done, "seconds": seconds, "steps_per_s": done / seconds}


def samplers() -> dict[str, tuple[Path, object]]:
    """Name -> (weights folder, sampler) of the pipelines measured."""
    from jwmsim.worldgen.pipeline_worldgen import TEACHER_SAMPLER, SamplerConfig
    from jwmsim.worldgen.weights import default_weights_dir, ode_student_dir

    return {
        "ode_student_1_step": (ode_student_dir(), SamplerConfig(steps=1, solver="renoise")),
        "ode_student_4_steps": (ode_student_dir(), SamplerConfig(steps=4, solver="renoise")),
        "default_4_steps": (default_weights_dir(), SamplerConfig(steps=4, solver="renoise")),
        "teacher_full": (default_weights_dir(), TEACHER_SAMPLER),
    }


def main() -> None:
    import os

    import torch

    from jwmsim.worldgen.weights import ode_student_dir

    ap = argparse.ArgumentParser(description="WorldGen students vs teacher latency, and the jwm env rate")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--env-steps", type=int, default=30)
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "bench_worldgen.json")
    args = ap.parse_args()
    torch.set_num_threads(2)
    info = machine_info()
    print(describe(info))
    rows: dict[str, dict] = {}
    for c in (1, 3):
        row = {}
        for name, (weights, sampler) in samplers().items():
            repeats = max(1, args.repeats // 2) if name == "teacher_full" else args.repeats
            row[name] = pipeline_latency(weights, sampler, c, repeats)
            print(
                f"{c} camera(s) 112x200, {name}: {row[name]['seconds_per_step']:.3f} s/step "
                f"({row[name]['denoiser_calls']} calls)"
            )
        full = row["teacher_full"]["seconds_per_step"]
        for name in row:
            row[name]["faster_than_teacher_full"] = full / row[name]["seconds_per_step"]
        rows[f"{c}_camera"] = row
    env = {
        "default_4_steps": env_rate(args.env_steps, {"steps": 4}),
        "ode_student_1_step": env_rate(args.env_steps, {"steps": 1, "weights": str(ode_student_dir())}),
    }
    for name, e in env.items():
        print(f"JWM-Drive-v0 observation=jwm, 3 cameras 112x200, {name}: {e['steps_per_s']:.2f} steps/s")
    info["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    write_report(
        args.out,
        {
            "command": "python benchmarks/bench_worldgen.py " + " ".join(sys.argv[1:]),
            "machine": info,
            "image_hw": list(HW),
            "samplers": {
                n: {"weights": str(w.relative_to(REPO)), **s.__dict__} for n, (w, s) in samplers().items()
            },
            "latency": rows,
            "env_jwm_3_cameras": env,
            "targets": {"student_3_camera_s": 0.46, "faster_than_teacher": 10.0, "env_steps_per_s": 2.0},
        },
    )


if __name__ == "__main__":
    main()
