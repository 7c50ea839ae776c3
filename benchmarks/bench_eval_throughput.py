"""Closed-loop evaluation throughput in runs per minute: 1 process, 2 local processes and Ray with 2
workers, on ``--render none`` (metrics only) and on the skeleton path (3 cameras at 112x200, the
replay's default, plus the video).

Each case replays the same scenario (default: the shipped ``hard_brake`` on the built-in log, IDM)
for ``--runs`` jittered runs through :func:`jwmsim.replay.replay` on the named backend; the wall
time includes starting the worker processes (and loading the scenario in them), not starting Ray
(``ray_init_s``, once, reported apart: a cluster is started once for many evaluations). The load
average before and after each case is recorded: on a shared machine it moves the numbers a lot.

Run:  .venv/bin/python benchmarks/bench_eval_throughput.py [--runs-none 6] [--runs-skeleton 2]
Writes benchmarks/results/bench_eval_throughput.json (or --out).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from machine import describe, machine_info, write_report  # benchmarks/machine.py

from jwmsim.replay import ReplayOptions, replay

REPO = Path(__file__).resolve().parents[1]
CASES = (("local_1_process", "local", 1), ("local_2_processes", "local", 2), ("ray_2_workers", "ray", 2))


def run_case(
    scenario: str, backend: str, workers: int, render: str, runs: int, out: Path
) -> dict[str, object]:
    """Replay ``runs`` runs; runs per minute over the wall time."""
    load_before = [round(x, 2) for x in os.getloadavg()]
    t0 = time.perf_counter()
    result = replay(
        scenario,
        ReplayOptions(runs=runs, out=out, render=render, backend=backend, workers=workers, progress=False),
    )
    seconds = time.perf_counter() - t0
    steps = sum(r.steps for r in result.runs)
    return {
        "runs": runs,
        "steps": steps,
        "seconds": round(seconds, 2),
        "runs_per_min": round(60.0 * runs / seconds, 2),
        "steps_per_s": round(steps / seconds, 1),
        "load_before": load_before,
        "load_after": [round(x, 2) for x in os.getloadavg()],
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default="hard_brake", help="scenario file or library name")
    ap.add_argument("--runs-none", type=int, default=6, help="runs per case on --render none")
    ap.add_argument("--runs-skeleton", type=int, default=2, help="runs per case on the skeleton path")
    ap.add_argument("--skip-ray", action="store_true", help="leave out the Ray cases")
    ap.add_argument(
        "--out", type=Path, default=REPO / "benchmarks" / "results" / "bench_eval_throughput.json"
    )
    args = ap.parse_args(argv)
    machine = machine_info()  # before the work: the calibration sees the machine, not the benchmark
    print(describe(machine))
    results: dict[str, dict[str, object]] = {}
    ray_init_s = None
    cases = [c for c in CASES if not (args.skip_ray and c[1] == "ray")]
    if any(c[1] == "ray" for c in cases):
        import ray

        t0 = time.perf_counter()
        ray.init(num_cpus=2, include_dashboard=False, configure_logging=False)
        ray_init_s = round(time.perf_counter() - t0, 2)
        print(f"ray.init (local instance, 2 CPUs): {ray_init_s} s")
    with tempfile.TemporaryDirectory(prefix="bench_eval_") as tmp:
        for render, runs in (("none", args.runs_none), ("skeleton", args.runs_skeleton)):
            for name, backend, workers in cases:
                key = f"{render}/{name}"
                row = run_case(args.scenario, backend, workers, render, runs, Path(tmp) / key)
                results[key] = row
                print(
                    f"{key:<28} {row['runs_per_min']:>8.2f} runs/min  ({row['runs']} runs, "
                    f"{row['seconds']} s, load {row['load_before'][0]} -> {row['load_after'][0]})"
                )
    report = {
        "benchmark": "eval_throughput",
        "meta": {
            "scenario": args.scenario,
            "agent": "idm",
            "skeleton": "3 cameras (CAM_FRONT_LEFT, CAM_FRONT, CAM_FRONT_RIGHT) at 112x200 + video",
            "ray_init_s": ray_init_s,
            "command": "python " + " ".join([Path(sys.argv[0]).name, *(argv or sys.argv[1:])]),
        },
        "machine": machine,
        "results": results,
    }
    write_report(args.out, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
