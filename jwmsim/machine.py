"""What machine a measurement ran on, recorded beside its figures (benchmarks, ``jwmsim eval gen``,
``examples/train_ppo.py``).

Machines of the same nominal kind differ by 3-4x (an AVX2-only AMD EPYC against an AVX-512 / AMX
Xeon), so every ``benchmarks/bench_*.py`` and every evaluation report stores :func:`machine_info`
in its JSON: the CPU model, the SIMD flags that matter to the kernels, the core count, library
versions, the load average, and a quick fp32 matmul calibration (GFLOP/s) that says how fast this
machine is right now.
"""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path

import numpy as np

FLAGS_OF_INTEREST = ("avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni", "amx_bf16", "amx_tile")


def cpu_model_and_flags(cpuinfo: str | None = None) -> tuple[str, list[str]]:
    """CPU model name and those of :data:`FLAGS_OF_INTEREST` it has (from ``/proc/cpuinfo``, or
    the given text; model ``platform.processor()`` and no flags where that is unavailable)."""
    if cpuinfo is None:
        path = Path("/proc/cpuinfo")
        cpuinfo = path.read_text() if path.is_file() else ""
    model, flags = "", set()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name" and not model:
            model = value.strip()
        elif key == "flags" and not flags:
            flags = set(value.split())
    return model or platform.processor() or platform.machine(), [f for f in FLAGS_OF_INTEREST if f in flags]


def matmul_gflops(n: int = 1024, repeats: int = 5, threads: int | None = None) -> float:
    """Best-of-``repeats`` fp32 ``n x n`` matmul rate [GFLOP/s] with ``threads`` PyTorch threads
    (None: the current setting), about a second on a slow 2-core machine."""
    import torch

    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        gen = torch.Generator().manual_seed(0)
        a = torch.randn(n, n, generator=gen)
        b = torch.randn(n, n, generator=gen)
        a @ b  # warm-up
        best = float("inf")
        for _ in range(repeats):
            t0 = time.perf_counter()
            a @ b
            best = min(best, time.perf_counter() - t0)
    finally:
        torch.set_num_threads(before)
    return round(2.0 * n**3 / best / 1e9, 1)


def machine_info(calibrate: bool = True) -> dict[str, object]:
    """Machine description for a report's JSON (see the module docstring)."""
    import numba
    import torch

    model, flags = cpu_model_and_flags()
    info: dict[str, object] = {
        "cpu_model": model,
        "cpu_flags": flags,
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch.__version__,
        "numba": numba.__version__,
        "torch_threads": torch.get_num_threads(),
        "numba_threads": numba.get_num_threads(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    if calibrate:
        info["fp32_matmul_gflops_1024"] = matmul_gflops(threads=os.cpu_count())
        info["fp32_matmul_gflops_1024_1thread"] = matmul_gflops(threads=1)
    return info


def describe(info: dict[str, object]) -> str:
    """One line for a benchmark's console output."""
    gf = info.get("fp32_matmul_gflops_1024", "?")
    return (
        f"{info['cpu_model']} ({', '.join(info['cpu_flags']) or 'no AVX2'}), {info['cpu_count']} cpus, "
        f"fp32 matmul {gf} GFLOP/s, load {info['load_average']}"
    )
