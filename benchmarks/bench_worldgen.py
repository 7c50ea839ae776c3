"""WorldGen's speed and compute: the samplers, the skeleton render, the ``jwm`` env, memory.

1. **Compute** (fp32 against bf16 autocast, 2 threads): matmuls of the model's shapes (one
   3-camera frame of 273 tokens at width 192: the qkv and MLP projections; a 1024^3 reference) and
   whole passes: a teacher-forcing training step (forward + backward, 4 frames of 3 cameras in
   64x96 windows, as ``tiny-cpu`` trains) and one denoiser call at 112x200.
2. **Latency per simulated step** (one frame of 3 cameras at 112x200, the KV cache full of
   sinks + window frames, 2 threads, bf16 autocast where the CPU has it) of the
   :class:`~jwmsim.worldgen.pipeline_worldgen.WorldGenPipeline` for each sampler of
   :func:`samplers`: the student (``assets/worldgen_student``, 1 step), the default (the teacher,
   ``sharp``, 2 steps), the earlier default (the teacher in 4 re-noising steps) and the teacher's
   full sampler (16 Euler steps, guidance 1.5: 33 calls).
3. **The environment**: ``gym.make("JWM-Drive-v0")`` with three cameras at 112x200 on the built-in
   log, steps per second (the reset, which primes the generator, is not timed), for
   ``observation="skeleton"`` (the skeleton render alone) and ``"jwm"`` with the default and the
   student's weights.
4. **Memory over 60 s** of ``observation="jwm"`` stepping (resets at episode ends included): the
   process RSS every second, and its growth from the first to the last 10 s.

Run:  .venv/bin/python benchmarks/bench_worldgen.py [--repeats 5] [--env-steps 30] [--memory-seconds 60]
Out:  benchmarks/results/bench_worldgen.json (with the machine's flags, fp32 calibration and load).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.machine import describe, machine_info, write_report  # noqa: E402

CAMERAS = ("CAM_FRONT_LEFT", "CAM_FRONT", "CAM_FRONT_RIGHT")
HW = (112, 200)
TARGETS = {"student_3_camera_s": 0.10, "env_jwm_steps_per_s": 5.0}


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


def _timed(fn, repeats: int) -> float:
    """Median seconds of ``fn()`` over ``repeats`` calls after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def compute(repeats: int) -> dict[str, Any]:
    """fp32 against bf16 autocast: matmul GFLOP/s of the model's shapes, a training step, a call."""
    import torch

    from jwmsim.worldgen.pipeline_worldgen import bf16_supported
    from jwmsim.worldgen.weights import default_weights_dir, load_worldgen

    out: dict[str, Any] = {"bf16_native": bf16_supported(), "matmul_gflops": {}}
    shapes = {"qkv_273x192x576": (273, 192, 576), "mlp_273x576x192": (273, 576, 192),
              "train_1092x192x576": (1092, 192, 576), "ref_1024": (1024, 1024, 1024)}  # fmt: skip
    for name, (m, k, n) in shapes.items():
        a, b = torch.randn(m, k), torch.randn(k, n)
        row = {}
        for mode in ("fp32", "bf16"):
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=mode == "bf16"):
                sec = _timed(lambda a=a, b=b: [a @ b for _ in range(20)], repeats) / 20
            row[mode] = round(2 * m * k * n / sec / 1e9, 1)
        row["bf16_over_fp32"] = round(row["bf16"] / row["fp32"], 2)
        out["matmul_gflops"][name] = row
    model = load_worldgen(default_weights_dir())
    out["training_step_s"] = _training_step(model, repeats)
    out["denoiser_call_s"] = _denoiser_call(model, repeats)
    return out


def _training_step(model, repeats: int) -> dict[str, float]:
    """Teacher-forcing forward + backward of one 4-frame, 3-camera sample in 64x96 windows."""
    import torch

    from jwmsim.worldgen.conditioning import token_rays
    from jwmsim.worldgen.modeling_worldgen import teacher_forcing_mask

    model = model.train()
    f, c, h, w = 4, 3, 64, 96
    x = torch.randn(1, 2 * f, c, 3, h, w)
    cond = torch.randn(1, 2 * f, c, 5, h, w)
    fr = _frame(c)
    rays = token_rays(fr.poses.intrinsics, fr.poses.ego_from_cam, (h, w), int(model.config.patch))[None]
    levels = torch.rand(1, 2 * f)
    motion = torch.zeros(1, 2 * f, 4)
    pos = torch.arange(f).repeat(2)
    mask = teacher_forcing_mask(f)
    res = {}
    for mode in ("fp32", "bf16"):

        def step(mode: str = mode) -> None:
            model.zero_grad(set_to_none=True)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=mode == "bf16"):
                y = model(x, levels, cond, rays, motion, pos, mask, torch.arange(f, 2 * f))
            y.float().pow(2).mean().backward()

        res[mode] = round(_timed(step, repeats), 4)
    res["bf16_speedup"] = round(res["fp32"] / res["bf16"], 2)
    model.eval()
    return res


def _denoiser_call(model, repeats: int) -> dict[str, float]:
    """One denoiser call of a 3-camera 112x200 frame against 3 cached frames."""
    import torch

    from jwmsim.worldgen.pipeline_worldgen import SamplerConfig, WorldGenPipeline

    res = {}
    for mode in ("none", "bf16"):
        pipe = WorldGenPipeline(model, SamplerConfig(steps=1, autocast=mode))
        frame = _frame(3)
        pipe.reset([])
        for _ in range(3):
            pipe(frame)
        x = torch.randn(1, 3, 3, *HW)
        cond = pipe._condition(frame, 3)
        rays = pipe._rays_for(frame.poses, HW)
        motion = torch.zeros(1, 4)

        def call(pipe=pipe, x=x, cond=cond, rays=rays, motion=motion) -> None:  # noqa: ANN001
            with torch.no_grad():
                pipe._call(x, 0.5, cond, rays, motion)

        res["fp32" if mode == "none" else mode] = round(_timed(call, repeats), 4)
    res["bf16_speedup"] = round(res["fp32"] / res["bf16"], 2)
    return res


def samplers() -> dict[str, tuple[Path, Any]]:
    """Name -> (weights folder, sampler) of the pipelines measured (the student where shipped)."""
    from jwmsim.worldgen.pipeline_worldgen import TEACHER_SAMPLER, SamplerConfig
    from jwmsim.worldgen.weights import default_weights_dir, student_dir

    out = {}
    if (student_dir() / "config.json").is_file():
        out["student_1_step"] = (student_dir(), SamplerConfig(steps=1))
    out["default_sharp_2_steps"] = (default_weights_dir(), SamplerConfig())
    out["earlier_default_renoise_4_steps"] = (default_weights_dir(), SamplerConfig(steps=4, solver="renoise"))
    out["teacher_full"] = (default_weights_dir(), TEACHER_SAMPLER)
    return out


def pipeline_latency(weights: Path, sampler: Any, repeats: int) -> dict[str, float]:
    """Median seconds per 3-camera frame once the cache is full, and the denoiser calls."""
    from jwmsim.worldgen.pipeline_worldgen import WorldGenPipeline

    pipe = WorldGenPipeline.from_pretrained(weights, sampler)
    frame = _frame(3)
    pipe.reset([])
    for _ in range(sampler.num_sinks + sampler.window):  # fill the cache (and warm up)
        out = pipe(frame)
    sec = _timed(lambda: pipe(frame), repeats)
    return {"seconds_per_step": round(sec, 4), "denoiser_calls": out.denoiser_calls}


def _make_env(observation: str, render_options: dict):
    import gymnasium as gym

    import jwmsim.envs  # noqa: F401

    return gym.make(
        "JWM-Drive-v0", observation=observation, cameras=CAMERAS, image_size=HW, render_options=render_options
    )


def env_rate(steps: int, observation: str, render_options: dict) -> dict[str, float]:
    """``JWM-Drive-v0``, 3 cameras at 112x200: steps per second (resets not timed)."""
    env = _make_env(observation, render_options)
    env.reset(seed=0)
    action = np.array([0.2, 0.0], np.float32)
    env.step(action)  # warm-up (first render of the scene, numba kernels)
    seconds, done = 0.0, 0
    while done < steps:
        t0 = time.perf_counter()
        _, _, term, trunc, _ = env.step(action)
        seconds += time.perf_counter() - t0
        done += 1
        if term or trunc:
            env.reset()
    env.close()
    return {"steps": done, "seconds": round(seconds, 3), "steps_per_s": round(done / seconds, 2)}


def memory_over(seconds: float, render_options: dict) -> dict[str, Any]:
    """RSS [MiB] each second while ``observation="jwm"`` steps for ``seconds``; growth from the
    mean of the first 10 s to the mean of the last 10 s."""
    import psutil

    proc = psutil.Process()
    env = _make_env("jwm", render_options)
    env.reset(seed=0)
    action = np.array([0.2, 0.0], np.float32)
    t0 = time.perf_counter()
    rss, steps, resets, next_mark = [], 0, 0, 1.0
    while (now := time.perf_counter() - t0) < seconds:
        _, _, term, trunc, _ = env.step(action)
        steps += 1
        if term or trunc:
            env.reset()
            resets += 1
        if now >= next_mark:
            rss.append(round(proc.memory_info().rss / 2**20, 1))
            next_mark += 1.0
    env.close()
    k = min(10, len(rss) // 2) or 1
    return {
        "seconds": seconds,
        "steps": steps,
        "resets": resets,
        "rss_mib_per_second": rss,
        "rss_growth_mib": round(float(np.mean(rss[-k:]) - np.mean(rss[:k])), 1) if rss else None,
    }


def main() -> None:
    import os

    import torch

    from jwmsim.worldgen.weights import student_dir

    ap = argparse.ArgumentParser(description="WorldGen samplers, compute, the jwm env and its memory")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--env-steps", type=int, default=30)
    ap.add_argument("--memory-seconds", type=float, default=60.0)
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "bench_worldgen.json")
    args = ap.parse_args()
    torch.set_num_threads(2)
    info = machine_info()
    print(describe(info))
    comp = compute(args.repeats)
    print("compute:", comp)
    latency = {}
    for name, (weights, sampler) in samplers().items():
        repeats = max(1, args.repeats // 2) if name == "teacher_full" else args.repeats
        latency[name] = pipeline_latency(weights, sampler, repeats)
        print(f"3 cameras 112x200, {name}: {latency[name]['seconds_per_step']:.3f} s/step "
              f"({latency[name]['denoiser_calls']} calls)")  # fmt: skip
    has_student = (student_dir() / "config.json").is_file()
    student_opts = {"weights": str(student_dir()), "steps": 1}
    env = {
        "skeleton": env_rate(args.env_steps, "skeleton", {}),
        "jwm_default": env_rate(args.env_steps, "jwm", {}),
    }
    if has_student:
        env["jwm_student"] = env_rate(args.env_steps, "jwm", student_opts)
    for name, e in env.items():
        print(f"JWM-Drive-v0, 3 cameras 112x200, {name}: {e['steps_per_s']:.2f} steps/s")
    memory = memory_over(args.memory_seconds, student_opts if has_student else {})
    print(f"memory over {args.memory_seconds:.0f} s: RSS growth {memory['rss_growth_mib']} MiB")
    info["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    write_report(
        args.out,
        {
            "command": "python benchmarks/bench_worldgen.py " + " ".join(sys.argv[1:]),
            "machine": info,
            "image_hw": list(HW),
            "cameras": list(CAMERAS),
            "compute_fp32_vs_bf16": comp,
            "samplers": {
                n: {"weights": str(w.relative_to(REPO)), **s.__dict__} for n, (w, s) in samplers().items()
            },
            "latency_3_cameras": latency,
            "env": env,
            "memory": {"render_options": student_opts if has_student else {}, **memory},
            "targets": TARGETS,
        },
    )


if __name__ == "__main__":
    main()
