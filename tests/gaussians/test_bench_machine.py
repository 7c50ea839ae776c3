"""benchmarks/machine.py: what every benchmark records about the machine it ran on."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from machine import cpu_model_and_flags, describe, machine_info, matmul_gflops  # noqa: E402

CPUINFO = """processor\t: 0
model name\t: AMD EPYC 9B14
flags\t\t: fpu sse2 avx avx2 fma avx512f avx512_bf16 sha_ni
processor\t: 1
model name\t: AMD EPYC 9B14
flags\t\t: fpu sse2 avx avx2 fma avx512f avx512_bf16 sha_ni
"""


def test_cpu_model_and_the_flags_that_matter() -> None:
    model, flags = cpu_model_and_flags(CPUINFO)
    assert model == "AMD EPYC 9B14"
    assert flags == ["avx2", "fma", "avx512f", "avx512_bf16"]  # no amx, no vnni here
    assert cpu_model_and_flags("model name : X\nflags : sse2\n") == ("X", [])


def test_machine_info_and_calibration() -> None:
    assert matmul_gflops(n=128, repeats=2, threads=1) > 0.1
    info = machine_info(calibrate=False)
    for key in ("cpu_model", "cpu_flags", "cpu_count", "torch", "numba", "load_average"):
        assert key in info
    assert "fp32_matmul_gflops_1024" not in info
    assert "cpus" in describe(info)
