"""Environment steps per second: JWM-Drive-v0 alone and in vector environments, next to highway-env.

**Like with like.** Every JWM-Drive-v0 case is driven the same way: zero actions, the episodes end
(``--episode-seconds``, or earlier at a collision) and reset, the scene is the log's ``lidar``
skeleton, and the first ``--warmup`` steps (start-up, numba's cache, the first render) are not
timed. "One environment" is the same factory in this process (``gymnasium.vector.SyncVectorEnv``
or SB3's ``DummyVecEnv`` of one, so resets are counted the same way as in the worker processes);
steps/s counts environment steps (a vector step of N environments is N). Every environment is
wrapped in a timer that reports, from the process it runs in, its mean time per step and per reset,
its numba / PyTorch threads, its operating-system threads and how many of them were busy (more
than 10 % of a core over the timed window).

Cases (``results``):
  * ``jwm_bev``: no camera, 64x64 BEV + ego vector (the simulation core + BEV);
  * ``jwm_skeleton_1cam``: CAM_FRONT 64x112 rendered from the lidar skeleton (the numba CPU
    rasterizer here, gsplat on a CUDA machine);
  * ``jwm_skeleton_3cam``: CAM_FRONT, CAM_FRONT_LEFT, CAM_FRONT_RIGHT at 64x112;
  * ``jwm_skeleton_3cam_112x200``: the same three cameras at 112x200;
  * ``..._1thread``: that, one numba and one PyTorch thread (what one environment gets from a second
    core);
  * ``..._logged_actions``: that, driven by the log's actions (its episode does not end);
  * ``..._async2``: ``AsyncVectorEnv`` of 2 spawned workers, each with its share of the cores
    (``DriveEnvConfig.threads="auto"``: 1 thread each on 2 cores);
  * ``..._async2_unbudgeted``: the same with ``threads=None``: numba and PyTorch sized for the
    whole machine in each worker (jwmsim before thread budgets);
  * ``jwm_generator_3cam_112x200`` / ``..._async2``: the ``jwm`` observation (skeleton render, then
    the WorldGen generator, 4 steps) alone and in 2 workers;
  * ``sb3_camera_dummy1`` / ``sb3_camera_subproc2`` and ``sb3_bev_*``: ``examples/train_ppo.py``'s
    environments (its ``make_env``: ``Monitor``, the training reward, ``--observation camera`` and
    ``bev``, its episodes: jittered runs of the 12 library scenarios on the built-in log, 5-10 s
    each, so a reset every 50-100 steps) in SB3's ``DummyVecEnv`` of one and ``SubprocVecEnv`` of
    2, spawned with their thread budgets, as the script makes them;
  * ``highway_v0``: the peer, ``highway-v0`` with its default configuration (kinematics
    observation, 15 Hz simulation, 1 Hz policy, as shipped), IDLE action; skipped with a message
    when highway-env is not installed (``pip install -c constraints.txt highway-env==1.11``).

``scaling``: environment steps/s of 2 workers over one environment, per pair above, measured in
the same run; where the pair has a one-thread case (``..._1thread``, ``sb3_camera_dummy1_1thread``)
also the **ceiling** of two one-thread workers, ``2 r1 / r2`` (``r1`` the one-thread environment's
steps/s, ``r2`` the environment's on the whole machine), and the share of it reached.

**Why 2 workers gave 1.24x, and what they give now** (the committed JSON: 2-core AMD EPYC,
calibration 197 GFLOP/s, load 0.7 rising to 1.4; every figure below is in it):

1. *Threads.* Without a budget each spawned worker starts numba's pool and PyTorch's for the whole
   machine (numba 2, PyTorch 2 in each), so two workers run four rasterizer threads on two cores.
   numba runs its parallel loops on OpenMP here; a loop ends at a barrier that waits for its
   slowest thread, often one that another process has just taken the core from. Inside each
   unbudgeted worker a step took 57 ms, against 29 ms with one thread per worker and 21 ms for
   one environment using both cores: two unbudgeted workers 32.5 steps/s (0.69x one environment's
   47.1), with budgets 66.6 (1.41x). numpy's BLAS (OpenBLAS) is a third pool: a `jwm` environment
   given one thread but left with OpenBLAS at the machine's size used 1.8 cores (its idle BLAS
   thread spins) for a 5 % faster step, so budgets now cover it too (``jwmsim.threads``).
2. *Resets of the skeleton path are not the cost.* A reset renders one frame and rebuilds nothing
   (scene, actor Gaussians and the composed background are cached per process): 21.2 ms against
   21.0 ms per step in one environment, 29.5 ms against 29.0 ms in a worker. The log's actions
   (``..._logged_actions``, 47.2 steps/s) against zero actions (47.1) change the rate little. The
   resets that did cost were those of scenario episodes (``examples/train_ppo.py``): each builds
   the run's world; clearing the log actors now interpolates positions only (about 4x less time
   than whole-pose slerps); a reset is 14 ms against 1.6 ms per BEV step.
3. *The one-thread step.* Serial variants of the numba kernels (the same source compiled without
   ``parallel=True``, run when numba has one thread) were within the noise of the parallel
   kernels on one thread (30.8 and 31.1 ms against 31.3 and 30.9 ms a step), so they are not kept
   (they doubled the compile time of a first run). What made the one-thread step cheaper is
   binning that streams its reads (``cpu_kernels.bin_tiles``: 9.3 to 6.7 ms of a one-thread
   3-camera render of the 130k-Gaussian skeleton): one thread 32.6 to 27.3 ms a step, one
   environment on two cores 22.1 to 20.5 ms.
4. *The ceiling.* With one thread per worker, two workers step at most at 2 x the one-thread rate,
   and one environment on both cores already takes what its parallel kernels and the generator
   gain from the second core. Ceilings and what the workers reached: skeleton 2 x 33.3 / 47.1 =
   1.41x, reached 1.41x (100 %; two workers step exactly twice as fast as one one-thread
   environment); generator 2 x 7.47 / 9.38 = 1.59x, reached 1.54x (96 %); ``train_ppo`` camera
   2 x 56.6 / 73.7 = 1.53x, reached 1.36x (89 %: SB3 steps its workers in lock-step, each worker
   busy 90 % of the time). Every ceiling is below 1.6x: two workers can only add what one
   environment leaves idle, and 1.6x needs one environment to gain at most 1.25x from its second
   core (the skeleton environment gains 1.42x). The ceilings move a few percent from run to run
   with the machine (the skeleton's was 1.40x and 1.58x in two earlier runs of this version). The
   BEV observation (1.6 ms a step): 539 against 652 steps/s (1.21x): the round trip through the
   pipes costs about as much as a step.

Run:  flock /tmp/jwmsim-cpu.lock .venv/bin/python benchmarks/bench_env_steps.py [--seconds 15]
Writes benchmarks/results/bench_env_steps.json (or --out). About 6-8 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import functools
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from machine import describe, machine_info, write_report  # benchmarks/machine.py

import jwmsim.envs  # noqa: F401  (registers JWM-Drive-v0)
from jwmsim.backends.vector import make_vector_env, worker_factories
from jwmsim.envs.drive_config import DriveEnvConfig
from jwmsim.envs.drive_env import load_log
from jwmsim.sim import expert_actions
from jwmsim.threads import thread_settings_kept

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "examples"))
FRONT3 = ("CAM_FRONT", "CAM_FRONT_LEFT", "CAM_FRONT_RIGHT")
SCENE = "lidar"
BUSY = 0.10  # a thread is busy above this fraction of a core over the timed window
TARGET = 1.6  # 2 workers against one environment on 2 cores


class TimedEnv(gym.Wrapper):
    """Times ``step`` and ``reset`` and reads the per-thread CPU time of the process it runs in."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.mark()

    def mark(self) -> None:
        """Start the timed window (zero the counters)."""
        self.t_step = self.t_reset = 0.0
        self.n_step = self.n_reset = 0
        self.t0 = time.perf_counter()
        self.cpu0 = _thread_cpu()

    def step(self, action: Any) -> Any:
        t = time.perf_counter()
        out = self.env.step(action)
        self.t_step += time.perf_counter() - t
        self.n_step += 1
        return out

    def reset(self, **kwargs: Any) -> Any:
        t = time.perf_counter()
        out = self.env.reset(**kwargs)
        self.t_reset += time.perf_counter() - t
        self.n_reset += 1
        return out

    def report(self) -> dict[str, Any]:
        """Per-process figures of the window since :meth:`mark`."""
        wall = time.perf_counter() - self.t0
        cpu1 = _thread_cpu()
        used = sorted(((cpu1[t] - self.cpu0.get(t, 0.0)) / wall for t in cpu1), reverse=True)
        threads = self.env.unwrapped.thread_report()
        return {
            "step_ms": round(1000 * self.t_step / max(1, self.n_step), 2),
            "steps": self.n_step,
            "reset_ms": round(1000 * self.t_reset / self.n_reset, 2) if self.n_reset else None,
            "resets": self.n_reset,
            "numba_threads": threads["numba_threads"],
            "torch_threads": threads["torch_threads"],
            "torch_interop_threads": threads["torch_interop_threads"],
            "os_threads": threads["os_threads"],
            "busy_threads": sum(u > BUSY for u in used),
            "cores_used": round(sum(used), 2),
            "budget": threads["budget"],
        }


def _thread_cpu() -> dict[int, float]:
    """CPU seconds (user + system) of every thread of this process, by thread id (Linux)."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/stat") as f:
                rest = f.read().rsplit(")", 1)[1].split()
        except OSError:  # the thread ended
            continue
        out[int(tid)] = (int(rest[11]) + int(rest[12])) / tick
    return out


def timed_make(**kw: Any) -> gym.Env:
    """A timed ``JWM-Drive-v0`` (module-level: the workers unpickle it by name or by value)."""
    return TimedEnv(gym.make("jwmsim:JWM-Drive-v0", **kw))


def timed_train_env(kwargs: dict[str, Any], seed: int) -> gym.Env:
    """``examples/train_ppo.py``'s ``make_env`` (Monitor, reset with its seed), timed."""
    from train_ppo import make_env

    return TimedEnv(make_env(kwargs, seed))


def run_gym(venv: Any, seconds: float, warmup: int) -> dict[str, Any]:
    """Environment steps/s of a Gymnasium vector environment (zero actions, its autoreset)."""
    n_envs = venv.num_envs
    try:
        venv.reset(seed=list(range(n_envs)))
        actions = np.zeros((n_envs, 2), np.float32)
        for _ in range(warmup):
            venv.step(actions)
        venv.call("mark")
        n, t0 = 0, time.perf_counter()
        while n < 3 or time.perf_counter() - t0 < seconds:
            venv.step(actions)
            n += 1
        dt = time.perf_counter() - t0
        workers = list(venv.call("report"))
    finally:
        venv.close()
    return _result(n, n_envs, dt, workers)


def run_sb3(venv: Any, seconds: float, warmup: int) -> dict[str, Any]:
    """Environment steps/s of an SB3 VecEnv (zero actions, its autoreset)."""
    n_envs = venv.num_envs
    try:
        venv.reset()
        actions = np.zeros((n_envs, 2), np.float32)
        for _ in range(warmup):
            venv.step(actions)
        venv.env_method("mark")
        n, t0 = 0, time.perf_counter()
        while n < 3 or time.perf_counter() - t0 < seconds:
            venv.step(actions)
            n += 1
        dt = time.perf_counter() - t0
        workers = venv.env_method("report")
    finally:
        venv.close()
    return _result(n, n_envs, dt, workers)


def _result(n: int, n_envs: int, dt: float, workers: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "steps_per_s": round(n * n_envs / dt, 2),
        "vector_steps": n,
        "num_envs": n_envs,
        "seconds": round(dt, 2),
        "workers": workers,
    }


def run_logged(kw: dict[str, Any], seconds: float, warmup: int) -> dict[str, Any]:
    """One environment in this process driven by the log's own actions (no episode end)."""
    env = timed_make(**kw)
    acts = expert_actions(env.unwrapped.world)
    env.reset(seed=0)
    k = 0

    def act() -> np.ndarray:
        return acts[k].astype(np.float32) if k < len(acts) else np.zeros(2, np.float32)

    for _ in range(warmup):
        env.step(act())
        k += 1
    env.mark()
    n, t0 = 0, time.perf_counter()
    while n < 3 or time.perf_counter() - t0 < seconds:
        _, _, term, trunc, _ = env.step(act())
        k, n = k + 1, n + 1
        if term or trunc:
            env.reset()
            k = 0
    dt = time.perf_counter() - t0
    workers = [env.report()]
    env.close()
    return _result(n, 1, dt, workers)


ONE_THREAD = {  # one environment -> the same environment with one numba and one PyTorch thread
    "jwm_skeleton_3cam_112x200": "jwm_skeleton_3cam_112x200_1thread",
    "jwm_generator_3cam_112x200": "jwm_generator_3cam_112x200_1thread",
    "sb3_camera_dummy1": "sb3_camera_dummy1_1thread",
}


def ceiling(results: dict[str, Any], one: str, two: str) -> dict[str, Any]:
    """What two one-thread workers can reach against one environment that uses both cores:
    ``2 r1 / r2`` (``r1``: the one-thread environment's steps/s, ``r2``: the environment's), and the
    share of it that the two workers reached. Empty where the pair has no one-thread case."""
    single = ONE_THREAD.get(one)
    if single not in results:
        return {}
    r1, r2 = results[single]["steps_per_s"], results[one]["steps_per_s"]
    cap = 2.0 * r1 / r2
    return {
        "one_env_1thread_steps_per_s": r1,
        "ceiling": round(cap, 2),
        "share_of_ceiling": round(results[two]["steps_per_s"] / r2 / cap, 3),
        "ratio_to_1thread_env": round(results[two]["steps_per_s"] / r1, 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--log", default="builtin")
    ap.add_argument("--seconds", type=float, default=15.0, help="timed seconds per case")
    ap.add_argument("--warmup", type=int, default=3, help="untimed vector steps before each case")
    ap.add_argument("--episode-seconds", type=float, default=5.0, help="[s] episode length (then reset)")
    ap.add_argument("--only", nargs="*", default=None, help="run only these cases (names of 'results')")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "bench_env_steps.json")
    args = ap.parse_args()
    machine = machine_info()  # before the work: the calibration sees the machine, not the benchmark
    print(describe(machine), flush=True)
    load_before = [round(x, 2) for x in os.getloadavg()]
    segment = load_log(DriveEnvConfig(log=args.log))
    common = {"log": args.log, "scene": SCENE, "episode_seconds": args.episode_seconds}
    skel = {"observation": "skeleton", "cameras": FRONT3, "image_size": (112, 200), **common}
    gen = {**skel, "observation": "jwm"}
    from train_ppo import OBSERVATIONS, TrainConfig

    def ppo_kwargs(observation: str) -> dict[str, Any]:
        # the script's own episodes: jittered runs of the library scenarios on the built-in log
        cfg = TrainConfig(observation=observation, envs=1)
        return {**cfg.env_kwargs()[0], "scene": SCENE}

    def one(kw: dict[str, Any]) -> Callable[[], dict[str, Any]]:
        def run() -> dict[str, Any]:
            with thread_settings_kept():  # threads=1 must not stay with the cases after it
                return run_gym(gym.vector.SyncVectorEnv([functools.partial(timed_make, **kw)]), s, w)

        return run

    def async2(kw: dict[str, Any], budget: bool = True) -> Callable[[], dict[str, Any]]:
        fns = [functools.partial(timed_make, **kw)] * 2
        if budget:
            return lambda: run_gym(make_vector_env(fns, "async"), s, w)
        unbudgeted = [functools.partial(timed_make, **kw, threads=None)] * 2
        return lambda: run_gym(gym.vector.AsyncVectorEnv(unbudgeted, context="spawn"), s, w)

    def sb3(observation: str, n: int, threads: int | None = None) -> Callable[[], dict[str, Any]]:
        from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv

        kw = ppo_kwargs(observation) | ({"threads": threads} if threads else {})
        fns = [functools.partial(timed_train_env, kw, i) for i in range(n)]
        if n == 1:

            def run() -> dict[str, Any]:
                with thread_settings_kept():
                    return run_sb3(DummyVecEnv(fns), s, w)

            return run
        # as examples/train_ppo.py makes it: spawned workers, each with its share of the cores
        return lambda: run_sb3(SubprocVecEnv(worker_factories(fns), start_method="spawn"), s, w)

    s, w = args.seconds, args.warmup
    cases: dict[str, Callable[[], dict[str, Any]]] = {
        "jwm_bev": one({"observation": "none", "bev": True, **common}),
        "jwm_skeleton_1cam": one({**skel, "cameras": ("CAM_FRONT",), "image_size": (64, 112)}),
        "jwm_skeleton_3cam": one({**skel, "image_size": (64, 112)}),
        "jwm_skeleton_3cam_112x200": one(skel),
        "jwm_skeleton_3cam_112x200_async2": async2(skel),
        "jwm_skeleton_3cam_112x200_async2_unbudgeted": async2(skel, budget=False),
        "jwm_generator_3cam_112x200": one(gen),
        "jwm_generator_3cam_112x200_async2": async2(gen),
        "sb3_camera_dummy1": sb3("camera", 1),
        "sb3_camera_subproc2": sb3("camera", 2),
        "sb3_bev_dummy1": sb3("bev", 1),
        "sb3_bev_subproc2": sb3("bev", 2),
        "jwm_skeleton_3cam_112x200_1thread": one({**skel, "threads": 1}),
        "jwm_generator_3cam_112x200_1thread": one({**gen, "threads": 1}),
        "sb3_camera_dummy1_1thread": sb3("camera", 1, threads=1),
        "jwm_skeleton_3cam_112x200_logged_actions": lambda: run_logged(skel, s, w),
    }
    assert set(OBSERVATIONS) == {"bev", "camera"}
    results: dict[str, Any] = {}
    for name, run in cases.items():
        if args.only and name not in args.only:
            continue
        t = time.perf_counter()
        results[name] = run()
        rate, took = results[name]["steps_per_s"], time.perf_counter() - t
        per_worker = "; ".join(
            f"step {r['step_ms']} ms, reset {r['reset_ms']} ms x{r['resets']}, "
            f"numba {r['numba_threads']}, torch {r['torch_threads']}, "
            f"busy threads {r['busy_threads']}/{r['os_threads']}"
            for r in results[name]["workers"]
        )
        print(f"{name}: {rate} steps/s ({took:.0f} s with start-up); {per_worker}", flush=True)
    if not args.only or "highway_v0" in args.only:
        results["highway_v0"] = run_highway(s)
        print("highway_v0", results["highway_v0"], flush=True)
    # pair name -> (one environment, two workers); ONE_THREAD: the one-thread case of the pair
    pairs = {
        "skeleton_3cam_112x200_async2": ("jwm_skeleton_3cam_112x200", "jwm_skeleton_3cam_112x200_async2"),
        "skeleton_3cam_112x200_async2_unbudgeted": (
            "jwm_skeleton_3cam_112x200",
            "jwm_skeleton_3cam_112x200_async2_unbudgeted",
        ),
        "generator_3cam_112x200_async2": ("jwm_generator_3cam_112x200", "jwm_generator_3cam_112x200_async2"),
        "train_ppo_camera_subproc2": ("sb3_camera_dummy1", "sb3_camera_subproc2"),
        "train_ppo_bev_subproc2": ("sb3_bev_dummy1", "sb3_bev_subproc2"),
    }
    scaling = {
        name: {
            "one_env_steps_per_s": results[a]["steps_per_s"],
            "two_workers_steps_per_s": results[b]["steps_per_s"],
            "ratio": round(results[b]["steps_per_s"] / results[a]["steps_per_s"], 2),
            **ceiling(results, a, b),
        }
        for name, (a, b) in pairs.items()
        if a in results and b in results
    }
    for name, r in scaling.items():
        at = f" (ceiling {r['ceiling']}x, {r['share_of_ceiling']:.0%} of it)" if "ceiling" in r else ""
        print(f"scaling {name}: {r['ratio']}x{at}", flush=True)
    meta = {
        "machine": {**machine, "cuda": torch.cuda.is_available()},
        "python": platform.python_version(),
        "log": segment.name,
        "load_average_before": load_before,
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "driving": f"zero actions, {args.episode_seconds} s episodes (or a collision), then reset; "
        f"scene {SCENE!r}; {args.warmup} untimed vector steps per case",
        "target_ratio": TARGET,
        "command": f"python benchmarks/bench_env_steps.py --log {args.log} --seconds {args.seconds} "
        f"--episode-seconds {args.episode_seconds}",
    }
    write_report(args.out, {"benchmark": "env_steps", "meta": meta, "results": results, "scaling": scaling})


def run_highway(seconds: float) -> dict[str, Any] | str:
    """highway-v0 steps/s (IDLE action, resets when an episode ends)."""
    try:
        import highway_env
    except ImportError:
        return "skipped: highway-env not installed (pip install -c constraints.txt highway-env==1.11)"
    env = gym.make("highway-v0")
    env.reset(seed=0)
    n, resets, t0 = 0, 0, time.perf_counter()
    while n < 3 or time.perf_counter() - t0 < seconds:
        _, _, term, trunc, _ = env.step(1)
        n += 1
        if term or trunc:
            env.reset()
            resets += 1
    dt = time.perf_counter() - t0
    env.close()
    return {
        "steps_per_s": round(n / dt, 2),
        "steps": n,
        "seconds": round(dt, 2),
        "resets": resets,
        "version": getattr(highway_env, "__version__", "1.11"),
    }


if __name__ == "__main__":
    main()
