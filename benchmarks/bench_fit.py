"""Quality and time of per-scene fitting (``jwmsim.gaussians.fit``) on the built-in seed log and on
the real PandaSet log (skipped when ``../shared/data/pandaset-002-nusc`` is absent).

Every 8th frame of each camera is held out; PSNR / SSIM (7x7 uniform window) are measured on those
held-out views at the fitting resolution, with the fit time (image loading, lidar initialisation
and optimisation; not the evaluation).

Run:  .venv/bin/python benchmarks/bench_fit.py [--steps 1500] [--size 90x160] [--logs builtin,pandaset] \
          [--out benchmarks/results/bench_fit.json] [--save-dir runs/fit]
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from machine import machine_info  # benchmarks/machine.py (the script's folder)

from jwmsim.gaussians.backend_cpu import set_threads
from jwmsim.gaussians.fit import FitConfig, fit_scene
from jwmsim.logs.nuscenes import load_nuscenes_log

REPO = Path(__file__).resolve().parents[1]
PANDASET = Path(os.environ.get("JWMSIM_PANDASET", REPO.parent / "shared" / "data" / "pandaset-002-nusc"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--size", default="90x160")
    parser.add_argument("--logs", default="builtin,pandaset")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "bench_fit.json")
    parser.add_argument("--save-dir", type=Path, default=None, help="also save the fitted scenes here")
    args = parser.parse_args()
    machine = machine_info()  # before the work: the calibration sees the machine, not the benchmark
    set_threads(args.threads)  # numba threads of the rasterizer; FitConfig.torch_threads for PyTorch
    h, w = (int(v) for v in args.size.split("x"))
    cfg = FitConfig(steps=args.steps, image_hw=(h, w))
    load_before = os.getloadavg()
    results = []
    for name in args.logs.split(","):
        if name == "builtin":
            from jwmsim.logs.procedural import default_log_path

            root = default_log_path()
        elif name == "pandaset":
            if not (PANDASET / "v1.0-mini" / "scene.json").exists():
                print(f"skipping pandaset: not found at {PANDASET}")
                continue
            root = PANDASET
        else:
            raise SystemExit(f"unknown log {name!r}: use builtin and/or pandaset")
        log = load_nuscenes_log(root, with_lidar=True)
        scene, report = fit_scene(log, cfg, progress=True)
        if args.save_dir is not None:
            scene.save(args.save_dir / f"{name}.safetensors")
        r = {"log": name, "dataroot": str(root), **report.to_dict()}
        results.append(r)
        print(
            f"{name}: held-out PSNR {report.heldout_psnr:.2f} dB  SSIM {report.heldout_ssim:.3f}  "
            f"(covered-pixel PSNR {report.heldout_psnr_covered:.2f}, train PSNR {report.train_psnr:.2f}) "
            f"{report.heldout_views} held-out views, {report.num_gaussians} Gaussians, "
            f"fit {report.fit_seconds:.0f} s"
        )
    out = {
        "benchmark": "bench_fit",
        "command": (
            f"python benchmarks/bench_fit.py --steps {args.steps} --size {args.size} --logs {args.logs}"
        ),
        "machine": machine,
        "threads": args.threads,
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(out, indent=2) + "\n")
    os.replace(tmp, args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
