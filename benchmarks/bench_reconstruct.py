"""Reconstruction of a log the network never trained on, at 90x160 on this machine: WorldRec alone,
WorldRec refined within the ``jwmsim reconstruct`` budget (60 s), and per-scene fitting (3000
steps), scored on the same held-out frames.

Set (:mod:`jwmsim.logs.real_log_split`): the real log's frames 40-59 as a new log, held-out frames
42, 46, 50, 54, 58 (no method reads them; WorldRec training reads frames 0-39 only). With
``--in-sample`` the frames 0-39 set (held-out 4, 12, 20, 28, 36) is scored too. Targets: WorldRec
alone >= 24 dB; WorldRec + budget >= the 3000-step fit. The JSON records the machine's
calibration (CPU flags, fp32 matmul GFLOP/s, load) measured before the work.

    flock /tmp/jwmsim-cpu.lock python benchmarks/bench_reconstruct.py --model assets/worldrec
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from machine import machine_info, write_report  # benchmarks/machine.py (the script's folder)

from jwmsim.logs.nuscenes import load_nuscenes_log
from jwmsim.worldrec.reconstruct import load_worldrec
from jwmsim.worldrec.training.data import default_real_log
from jwmsim.worldrec.training.evaluate import REAL_SETS, EvalOptions, evaluate_real_set, real_log_sets

TARGET_WORLDREC_DB = 24.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path("assets/worldrec"))
    parser.add_argument("--log", type=Path, default=default_real_log())
    parser.add_argument("--budget", type=float, default=60.0)
    parser.add_argument("--fit-steps", type=int, default=3000)
    parser.add_argument("--in-sample", action="store_true", help="score the frames 0-39 set too")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/bench_reconstruct.json"))
    args = parser.parse_args()
    if not (args.log / "v1.0-mini").is_dir():
        raise SystemExit(f"the real log is not at {args.log}: pass --log DATAROOT")
    machine = machine_info()  # before the work: the calibration sees the machine, not the benchmark
    torch.set_num_threads(2)
    model = load_worldrec(args.model)
    options = EvalOptions(real_fit_steps=args.fit_steps, budget=args.budget, refine_steps=0)
    sets = real_log_sets(load_nuscenes_log(args.log))
    wanted = ("out_of_sample", "in_sample") if args.in_sample else ("out_of_sample",)
    results = {}
    for name in wanted:
        segment, every, first = sets[name]
        t0 = time.perf_counter()
        results[name] = {"set": REAL_SETS[name], **evaluate_real_set(model, segment, every, first, options)}
        results[name]["seconds"] = round(time.perf_counter() - t0, 1)
        r = results[name]
        budget_key = f"worldrec+budget{args.budget:g}"
        print(
            f"{name}: WorldRec {r['worldrec']['psnr']:.2f} dB, WorldRec + {args.budget:g} s budget "
            f"{r[budget_key]['psnr']:.2f} dB ({r[budget_key]['build_seconds']:.0f} s), "
            f"fit {args.fit_steps} steps {r['fit']['psnr']:.2f} dB ({r['fit']['build_seconds']:.0f} s)"
        )
    oos = results["out_of_sample"]
    key = f"worldrec+budget{args.budget:g}"
    report = {
        "benchmark": "bench_reconstruct",
        "model": str(args.model),
        "machine": machine,
        "image_hw": [90, 160],
        "budget_seconds": args.budget,
        "fit_steps": args.fit_steps,
        "targets": {
            "worldrec_out_of_sample_db": TARGET_WORLDREC_DB,
            "worldrec_met": oos["worldrec"]["psnr"] >= TARGET_WORLDREC_DB,
            "budget_vs_fit_met": oos[key]["psnr"] >= oos["fit"]["psnr"],
        },
        "results": results,
    }
    write_report(args.out, report)


if __name__ == "__main__":
    main()
