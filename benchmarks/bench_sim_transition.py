"""Speed of the pure simulation step ``jwmsim.sim.transition`` (no rendering).

Cases:
  * ``synthetic_idm_30``: straight 3-lane road, 30 inserted IDM vehicles, 600 steps (60 s);
  * ``synthetic_log_30``: the same road, 30 log-replayed vehicles, the log's 6 s;
  * ``pandaset_log_95`` / ``pandaset_released_95``: the real PandaSet log (95 actors), expert
    actions during the log (5.8 s), then 20 s more with the actors released (skipped when the log
    is absent).

Run:  .venv/bin/python benchmarks/bench_sim_transition.py [--out benchmarks/results/bench_sim_transition.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import shapely
from machine import machine_info  # benchmarks/machine.py (the script's folder)

from jwmsim.config import SimConfig
from jwmsim.geometry import SE3, CameraIntrinsics
from jwmsim.logs.segment import ActorTrack, Camera, CameraFrame, LogSegment
from jwmsim.sim import InsertedActor, build_world, expert_actions, initial_state, transition

REPO = Path(__file__).resolve().parents[1]
PANDASET = Path(os.environ.get("JWMSIM_PANDASET", REPO.parent / "shared" / "data" / "pandaset-002-nusc"))


def road_log(n_log_actors: int) -> LogSegment:
    times = tuple(float(t) for t in np.round(np.arange(0.0, 6.0 + 1e-9, 0.1), 6))
    poses = tuple(SE3.from_xy_yaw(10.0 * t, 0.0, 0.0) for t in times)
    cam = Camera("CAM_FRONT", CameraIntrinsics(100.0, 100.0, 63.5, 35.5, 128, 72), SE3.identity())
    frames = {
        "CAM_FRONT": tuple(
            CameraFrame("CAM_FRONT", t, p, Path("/none.jpg")) for t, p in zip(times, poses, strict=True)
        )
    }
    kt = tuple(float(t) for t in np.arange(0.0, 6.0 + 1e-9, 0.5))
    tracks = {}
    for k in range(n_log_actors):
        lane, x0, v = k % 3 - 1, -100.0 + 15.0 * (k // 3) + 5.0 * (k % 3), 8.0 + (k % 5)
        tracks[f"car{k}"] = ActorTrack(
            f"car{k}",
            "vehicle.car",
            (1.9, 4.6, 1.6),
            kt,
            tuple(SE3.from_xy_yaw(x0 + v * t, 3.5 * lane, 0.0, 0.8) for t in kt),
        )
    xs = np.linspace(-400.0, 1200.0, 1601)
    lanes = {f"lane{k}": np.stack([xs, np.full_like(xs, 3.5 * k)], 1) for k in (-1, 0, 1)}
    return LogSegment(
        "bench",
        0,
        6.0,
        {"CAM_FRONT": cam},
        frames,
        times,
        poses,
        tracks,
        (),
        shapely.box(-400.0, -5.25, 1200.0, 5.25),
        lanes,
        "bench",
    )


def timed(world, actions, steps: int) -> dict[str, float]:
    state = initial_state(world)
    rng = np.random.default_rng(0)
    per_step = []
    for k in range(steps):
        t0 = time.perf_counter()
        state = transition(state, actions(k), rng)
        per_step.append(time.perf_counter() - t0)
        if state.done:
            break
    ms = np.array(per_step) * 1e3
    return {
        "steps": len(ms),
        "actors": len(world.initial_actors),
        "mean_ms": round(float(ms.mean()), 4),
        "median_ms": round(float(np.median(ms)), 4),
        "p95_ms": round(float(np.percentile(ms, 95)), 4),
        "steps_per_s": round(float(1e3 / ms.mean()), 1),
        "end": state.reason or "steps",
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "bench_sim_transition.json")
    args = ap.parse_args()
    machine = machine_info()  # before the work: the calibration sees the machine, not the benchmark
    free = SimConfig(terminate_on_collision=False, terminate_on_offroad=False, route_extension=800.0)
    results: dict[str, object] = {}
    inserted = [
        InsertedActor(
            f"idm{k}",
            lane=("ego", "ego_left", "ego_right")[k % 3],
            offset=-60.0 + 12.0 * (k // 3) + 4.0 * (k % 3),
            speed=8.0 + k % 5,
        )
        for k in range(30)
    ]
    world = build_world(road_log(0), free, inserted=inserted)
    results["synthetic_idm_30"] = timed(world, lambda k: (0.0, 0.0), 600)
    world = build_world(road_log(30), free)
    results["synthetic_log_30"] = timed(world, lambda k: (0.0, 0.0), 59)
    if (PANDASET / "v1.0-mini" / "scene.json").exists():
        from jwmsim.logs.nuscenes import load_nuscenes_log

        log = load_nuscenes_log(PANDASET)
        world = build_world(log, SimConfig(episode_seconds=5.8))
        acts = expert_actions(world)
        results["pandaset_log_95"] = timed(world, lambda k: acts[k], len(acts))
        world = build_world(
            log, SimConfig(episode_seconds=26.0, terminate_on_collision=False, terminate_on_offroad=False)
        )
        acts = expert_actions(world)
        state = initial_state(world)
        for k in range(58):
            state = transition(state, acts[k])
        t0 = time.perf_counter()
        n = 0
        while not state.done:
            state = transition(state, (0.0, 0.0))
            n += 1
        results["pandaset_released_95"] = {
            "steps": n,
            "mean_ms": round((time.perf_counter() - t0) / n * 1e3, 4),
        }
    else:
        results["pandaset"] = f"skipped: no log at {PANDASET}"
    meta = {
        "machine": machine,
        "python": platform.python_version(),
        "command": "python benchmarks/bench_sim_transition.py",
    }
    out = {"benchmark": "sim_transition", "meta": meta, "results": results}
    print(json.dumps(out, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(out, indent=2) + "\n")
    tmp.replace(args.out)


if __name__ == "__main__":
    main()
