"""Export throughput: scenes per minute of ``jwmsim export`` on the built-in log.

The library's ``hard_brake`` scenario, shortened to ``--duration`` seconds (a copy in a temporary
folder), exported with the ``skeleton`` render path and all six cameras at ``--size``, once per
``--workers`` setting on the ``local`` backend (and on ``ray`` with ``--ray``). The Gaussian
scene of the built-in log is built (or read from the cache) before the clock starts; every case
writes to a fresh dataroot that is deleted afterwards.

Run:  .venv/bin/python benchmarks/bench_export.py [--runs 4] [--duration 2] [--size 112x200]
      [--workers 1,2] [--ray]
Writes benchmarks/results/bench_export.json (or --out).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import describe, machine_info, write_report  # noqa: E402

from jwmsim.export import ExportOptions, export  # noqa: E402
from jwmsim.scenario.library import find_library_scenario  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def short_scenario(folder: Path, duration: float) -> Path:
    """The library's hard_brake scenario with its duration set to ``duration`` [s]."""
    src = find_library_scenario("hard_brake")
    assert src is not None, "the library scenario hard_brake is missing"
    data = yaml.safe_load(src.read_text())
    data["duration"] = duration
    path = folder / "hard_brake_short.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def time_case(
    scenario: Path, out: Path, runs: int, size: tuple[int, int], backend: str, workers: int
) -> dict:
    opts = ExportOptions(
        out=out, runs=runs, image_size=size, backend=backend, workers=workers, progress=False
    )
    load_before = os.getloadavg()
    t0 = time.perf_counter()
    result = export(scenario, opts)
    seconds = time.perf_counter() - t0
    frames = sum(r.frames for r in result.exported)
    images = frames * 6
    size_mb = sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) / 1e6
    shutil.rmtree(out, ignore_errors=True)
    return {
        "backend": backend,
        "workers": workers,
        "scenes": len(result.exported),
        "frames_per_camera": frames,
        "seconds": round(seconds, 2),
        "scenes_per_minute": round(60.0 * len(result.exported) / seconds, 2),
        "images_per_second": round(images / seconds, 2),
        "dataroot_mb": round(size_mb, 2),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=4, help="scenes per case")
    parser.add_argument("--duration", type=float, default=2.0, help="scenario length [s]")
    parser.add_argument("--size", default="112x200", help="image size HEIGHTxWIDTH")
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts (local backend)")
    parser.add_argument("--ray", action="store_true", help="also time the ray backend (2 workers)")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "bench_export.json")
    args = parser.parse_args()
    h, w = (int(v) for v in args.size.lower().split("x"))
    info = machine_info()
    print(describe(info))
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-export-") as tmp:
        folder = Path(tmp)
        scenario = short_scenario(folder, args.duration)
        # warm-up: build or load the scene, compile the kernels (one 1-run export, not timed)
        time_case(scenario, folder / "warm", 1, (h, w), "local", 1)
        cases = [("local", int(n)) for n in args.workers.split(",")] + ([("ray", 2)] if args.ray else [])
        for backend, workers in cases:
            r = time_case(scenario, folder / f"{backend}-{workers}", args.runs, (h, w), backend, workers)
            results.append(r)
            print(
                f"{backend:<6} {workers} worker(s): {r['scenes']} scenes x {args.duration} s, "
                f"6 cameras {h}x{w} in {r['seconds']} s = {r['scenes_per_minute']} scenes/min, "
                f"{r['images_per_second']} images/s, {r['dataroot_mb']} MB  "
                f"(load {r['load_average_before']} -> {r['load_average_after']})"
            )
    report = {
        "benchmark": "bench_export",
        "command": " ".join(["python", "benchmarks/bench_export.py", *sys.argv[1:]]),
        "machine": info,
        "scenario": f"hard_brake (library) shortened to {args.duration} s, built-in log, agent idm",
        "render": "skeleton",
        "cameras": 6,
        "image_size": [h, w],
        "results": results,
    }
    write_report(args.out, report)


if __name__ == "__main__":
    main()
