"""Compile jwmsim's numba kernels ahead of the first command (``python -m jwmsim.precompile``).

The kernels are JIT-compiled on first use and cached on disk (``cache=True``): the procedural
town's shading kernels (about 4 s) and the Gaussian rasterizer's kernels (about 15 s) take about
21 s to compile one after the other on a 2-core machine. ``install.sh`` runs this module once, so
that a new user's first ``jwmsim replay`` spends that time during the install rather than in the
command. The two groups compile in two processes side by side where the machine has two cores or
more (numba compiles on one core, and each group writes its own cache files): about 18 s.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from collections.abc import Callable

import torch


def precompile_rasterizer() -> None:
    """One tiny render of every CPU path: no-gradient (the environment's) and with a gradient
    (fitting), so that all rasterizer kernels are compiled and cached."""
    from jwmsim.gaussians.render import render_gaussians
    from jwmsim.gaussians.synthetic import street_scene

    scene = street_scene(200)
    viewmat = torch.eye(4, dtype=torch.float64)[None]
    k = torch.tensor([[[20.0, 0.0, 16.0], [0.0, 20.0, 12.0], [0.0, 0.0, 1.0]]], dtype=torch.float64)
    world = scene.compose({})
    with torch.no_grad():
        render_gaussians(world, scene.sky, viewmat, k, (24, 32), backend="cpu")
    means = world.means.detach().clone().requires_grad_(True)
    from dataclasses import replace

    out = render_gaussians(replace(world, means=means), scene.sky, viewmat, k, (24, 32), backend="cpu")
    out.rgb.sum().backward()


def precompile_procedural() -> None:
    """The procedural town's shading kernels (used when the built-in seed log is generated)."""
    from jwmsim.logs.procedural import shading

    shading.warm_up()


GROUPS: tuple[Callable[[], None], ...] = (precompile_procedural, precompile_rasterizer)


def precompile(processes: int | None = None) -> None:
    """Compile every group of :data:`GROUPS`, in up to ``processes`` processes (None: one per
    group, at most the machine's cores). A group that fails raises in this process."""
    n = min(len(GROUPS), processes or os.cpu_count() or 1)
    if n <= 1:
        for group in GROUPS:
            group()
        return
    with mp.get_context("spawn").Pool(n) as pool:
        for result in [pool.apply_async(group) for group in GROUPS]:
            result.get()


def main() -> None:
    t0 = time.perf_counter()
    precompile()
    print(f"jwmsim: numba kernels compiled and cached in {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
