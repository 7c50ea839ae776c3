"""Speed of WorldRec reconstruction against log length (the issue-10 target: 10 s of log, 3 cameras,
112x200, 10 Hz, reconstructed in at most 10 s on 2 CPU cores).

A procedural log (town seed 901, an evaluation town) is written once at 200x112 under ``--data``;
its first 3 cameras are reconstructed from windows of 2.5, 5 and 10 s (all frames, context every
``--ctx-stride``-th frame) by the shipped weights (images area-resized to the model's input size).
Reported per length: wall time (log reading + reconstruction; median of ``--repeats``), Gaussians,
windows, peak RSS; plus the machine's calibration (CPU flags, fp32 matmul GFLOP/s, load) and a
plot of time against length.

Run:  .venv/bin/python benchmarks/bench_worldrec.py [--model assets/worldrec] [--data /work/data/worldrec]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
CAMERAS = ("CAM_FRONT", "CAM_FRONT_LEFT", "CAM_FRONT_RIGHT")


def calibration() -> dict[str, object]:
    """CPU flags of interest and a 2-thread fp32 matmul rate."""
    flags = ""
    try:
        flags = next(line for line in open("/proc/cpuinfo") if line.startswith("flags"))
    except (OSError, StopIteration):
        pass
    wanted = ["avx2", "avx512f", "avx512_bf16", "amx_bf16", "fma"]
    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    a @ b
    t0 = time.perf_counter()
    for _ in range(10):
        a @ b
    dt = (time.perf_counter() - t0) / 10
    return {
        "cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "flags": {f: f in flags.split() for f in wanted},
        "fp32_matmul_gflops": round(2 * 1024**3 / dt / 1e9, 1),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "load_average": os.getloadavg(),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", type=Path, default=REPO / "assets" / "worldrec")
    p.add_argument("--data", type=Path, default=Path("/work/data/worldrec"))
    p.add_argument("--lengths", type=float, nargs="*", default=[2.5, 5.0, 10.0])
    p.add_argument("--ctx-stride", type=int, default=3)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "bench_worldrec.json")
    a = p.parse_args()
    torch.set_num_threads(2)
    from jwmsim.logs.nuscenes import load_nuscenes_log
    from jwmsim.logs.procedural import LogConfig, write_town_log
    from jwmsim.worldrec.reconstruct import ReconstructConfig, load_worldrec, reconstruct_segment

    root = a.data / "bench" / "town-901-10s-200x112"
    if not (root / "v1.0-mini" / "scene.json").is_file():
        write_town_log(
            901, root, LogConfig(duration=10.0, width=200, height=112), progress=True, overwrite=root.exists()
        )
    model = load_worldrec(a.model)
    rcfg = ReconstructConfig(ctx_stride=a.ctx_stride)
    calib = calibration()
    rows = []
    for length in a.lengths:
        times, rep = [], {}
        for _ in range(a.repeats):
            t0 = time.perf_counter()
            seg = load_nuscenes_log(root, cameras=CAMERAS)
            if length < seg.duration:  # (time_window of the full log trips an ActorTrack.window edge case)
                seg = seg.time_window(0.0, length - 1e-3)
            _, rep = reconstruct_segment(model, seg, config=rcfg)
            times.append(time.perf_counter() - t0)
        row = {
            "log_seconds": length,
            "frames_per_camera": seg.num_frames(),
            "cameras": len(CAMERAS),
            "log_image_hw": [112, 200],
            "model_image_hw": list(model.config.image_hw),
            "seconds_median": round(float(np.median(times)), 3),
            "seconds_all": [round(t, 3) for t in times],
            "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            **{k: rep[k] for k in ("windows", "context_views", "tokens_seen", "gaussians")},
        }
        rows.append(row)
        print(json.dumps(row))
    out = {
        "benchmark": "bench_worldrec",
        "command": f"python benchmarks/bench_worldrec.py --ctx-stride {a.ctx_stride} --repeats {a.repeats}",
        "target": "10 s of log (3 cameras, 112x200, 10 Hz) in <= 10 s on 2 CPU cores",
        "machine": calib,
        "model": str(a.model),
        "results": rows,
    }
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(out, indent=2) + "\n")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.5, 3.2))
    ax.plot(
        [r["log_seconds"] for r in rows], [r["seconds_median"] for r in rows], marker="o", label="WorldRec"
    )
    ax.plot([0, max(a.lengths)], [0, max(a.lengths)], "k--", lw=0.8, label="real time")
    ax.set_xlabel("log length [s] (3 cameras, 10 Hz)")
    ax.set_ylabel("reconstruction time [s]")
    ax.legend()
    fig.tight_layout()
    fig.savefig(a.out.with_suffix(".png"), dpi=100)
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
