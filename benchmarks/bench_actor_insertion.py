"""Inserted actors against the procedural oracle: the actor bank's reconstructed car, the mesh
sedan (the shipped sedan before it came from the bank) and the Gaussian box (the render path's old
stand-in), each scaled to a town car's box and drawn at its pose in place of it.

Towns 900-904 (evaluation towns: no training data, and the bank came from the real log), the six
cameras at 180x320, times 2, 6, 10, 14, 18 s on the logged ego path; every car (``vehicle.car``) with
at least ``--min-pixels`` visible pixels. Per candidate: PSNR in the actor's region and the
sharpness ratio (mean Sobel gradient magnitude against the oracle's), see
:mod:`jwmsim.gaussians.insertion_quality`. The JSON records the machine's calibration.

    flock /tmp/jwmsim-cpu.lock python benchmarks/bench_actor_insertion.py
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from machine import machine_info, write_report  # benchmarks/machine.py (the script's folder)

from jwmsim.gaussians.actor_bank import BANK_DIR, load_bank_actor, resolve
from jwmsim.gaussians.assets import SHIPPED, mesh_to_gaussians, vehicle_mesh
from jwmsim.gaussians.insertion_quality import score_insertion
from jwmsim.gaussians.scene import GaussianComponent
from jwmsim.gaussians.synthetic import box_actor

SEDAN_RGB = (160, 25, 30)  # the mesh sedan's paint (jwmsim.gaussians.assets.SHIPPED)


def candidates(size_wlh: tuple[float, float, float], bank: Path) -> dict[str, GaussianComponent]:
    """The three stand-ins for a car of box ``size_wlh`` (w, l, h) [m]."""
    w, length, h = size_wlh
    n_mesh = SHIPPED["sedan"][1]
    return {
        "bank_car": load_bank_actor("car", size_wlh, bank)[0],
        "mesh_sedan": mesh_to_gaussians(vehicle_mesh(size_wlh, SEDAN_RGB, "sedan"), n_mesh, seed=0),
        "box": box_actor((length, w, h), n=600, seed=0),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--towns", type=int, nargs="+", default=[900, 901, 902, 903, 904])
    parser.add_argument("--times", type=float, nargs="+", default=[2.0, 6.0, 10.0, 14.0, 18.0])
    parser.add_argument("--size", type=int, nargs=2, default=[180, 320], metavar=("H", "W"))
    parser.add_argument("--min-pixels", type=int, default=300)
    parser.add_argument("--bank", type=Path, default=BANK_DIR)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/bench_actor_insertion.json"))
    args = parser.parse_args()
    machine = machine_info()
    torch.set_num_threads(2)
    from jwmsim.logs.procedural import Town, nuscenes_like_rig
    from jwmsim.logs.procedural.render import render_ground_truth

    h, w = args.size
    rig = nuscenes_like_rig(w, h)
    rows: list[dict[str, object]] = []
    t0 = time.perf_counter()
    for seed in args.towns:
        town = Town.generate(seed)
        cars = {a.actor_id: a for a in town.actors if a.category.startswith("vehicle.car")}
        for t in args.times:
            for cam_name, cam in rig.items():
                full = render_ground_truth(town, cam, town.ego_pose_at(t), time=t)
                for aid, actor in cars.items():
                    if not actor.is_present(t) or aid not in full.actor_ids:
                        continue
                    if int(full.mask(aid).sum()) < args.min_pixels:
                        continue
                    size = tuple(float(v) for v in actor.size_wlh)
                    stand_ins = candidates(size, args.bank)
                    scores = score_insertion(town, cam, t, aid, stand_ins, args.min_pixels, full=full)
                    if scores is None:
                        continue
                    row: dict[str, object] = {"town": seed, "time": t, "camera": cam_name, "actor": aid}
                    row["region_px"] = next(iter(scores.values())).region_px
                    for name, s in scores.items():
                        row[name] = {"psnr": round(s.psnr, 3), "sharpness_ratio": round(s.sharpness_ratio, 4)}
                    rows.append(row)
        print(f"town {seed}: {len(rows)} actor views so far ({time.perf_counter() - t0:.0f} s)")
    if not rows:
        raise SystemExit("no car covered --min-pixels pixels in any view: lower --min-pixels")
    names = ("bank_car", "mesh_sedan", "box")
    summary = {}
    for name in names:
        p = np.array([r[name]["psnr"] for r in rows])  # type: ignore[index]
        s = np.array([r[name]["sharpness_ratio"] for r in rows])  # type: ignore[index]
        summary[name] = {
            "psnr_mean": round(float(p.mean()), 2),
            "psnr_median": round(float(np.median(p)), 2),
            "sharpness_ratio_mean": round(float(np.nanmean(s)), 3),
            "sharpness_ratio_median": round(float(np.nanmedian(s)), 3),
        }
        m = summary[name]
        print(
            f"{name:10s}: PSNR {m['psnr_mean']:.2f} dB (median {m['psnr_median']:.2f}), "
            f"sharpness ratio {m['sharpness_ratio_mean']:.3f} (median {m['sharpness_ratio_median']:.3f})"
        )
    bank_entry = resolve("car", args.bank)
    report = {
        "benchmark": "bench_actor_insertion",
        "machine": machine,
        "image_hw": [h, w],
        "towns": args.towns,
        "times": args.times,
        "min_pixels": args.min_pixels,
        "bank_car": {k: bank_entry[k] for k in ("name", "source_log", "method", "coverage")},
        "actor_views": len(rows),
        "seconds": round(time.perf_counter() - t0, 1),
        "summary": summary,
        "rows": rows,
    }
    write_report(args.out, report)


if __name__ == "__main__":
    main()
