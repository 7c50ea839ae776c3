"""The CPU rasterizer on one thread (what a one-thread vector worker runs) against two: the same
images and gradients, bit for bit."""

from __future__ import annotations

import numba
import numpy as np
import pytest
import torch

from jwmsim.gaussians.backend_cpu import rasterize_cpu
from jwmsim.gaussians.render import camera_matrices
from jwmsim.gaussians.synthetic import forward_rig, street_scene
from jwmsim.geometry import SE3
from jwmsim.threads import thread_settings_kept

HW = (56, 100)


def _inputs(dtype):
    scene = street_scene(3000, seed=5)
    comp = scene.compose({}, None)

    def arr(t: torch.Tensor) -> np.ndarray:
        return np.ascontiguousarray(t.detach().numpy().astype(dtype))

    means, quats, scales = (arr(t) for t in (comp.means, comp.quats, comp.scales))
    viewmats, ks, _ = camera_matrices(forward_rig(), SE3.from_xy_yaw(1.0, 0.5, 0.1), HW)
    return (means, quats, scales), arr(comp.opacities), arr(comp.colors), arr(viewmats), arr(ks)


def test_rasterize_cpu_on_one_thread_equals_two_threads() -> None:
    """The public render (forward and its gradient) on one and on two numba threads."""
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("numba has a single thread here")
    (means, quats, scales), opac, colors, vm, kk = _inputs(np.float64)
    h, w = HW
    results = []
    with thread_settings_kept():
        for threads in (2, 1):
            numba.set_num_threads(threads)
            colors_t = torch.from_numpy(colors.copy()).requires_grad_(True)
            rgb, depth, alpha = rasterize_cpu(
                *(torch.from_numpy(a) for a in (means, quats, scales, opac)), colors_t,
                torch.from_numpy(vm), torch.from_numpy(kk), w, h, 0.1, 200.0,
            )  # fmt: skip
            (rgb.sum() + alpha.sum()).backward()
            results.append((rgb.detach(), depth.detach(), alpha.detach(), colors_t.grad))
    for a, b in zip(*results, strict=True):
        assert torch.equal(a, b)
