"""What machine a benchmark ran on (:mod:`jwmsim.machine`), and the benchmarks' JSON writer."""

from __future__ import annotations

import os
from pathlib import Path

from jwmsim.machine import cpu_model_and_flags, describe, machine_info, matmul_gflops

__all__ = ["cpu_model_and_flags", "describe", "machine_info", "matmul_gflops", "write_report"]


def write_report(path: Path, report: dict[str, object]) -> None:
    """Write a benchmark's JSON ``report`` to ``path`` atomically (temporary file, then rename)."""
    import json

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(report, indent=2) + "\n")
    os.replace(tmp, path)
    print(f"wrote {path}")
