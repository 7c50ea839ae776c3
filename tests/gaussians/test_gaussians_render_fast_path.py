"""The no-gradient CPU render path (reused buffers, cached background arrays, numpy compose) against
the general path, and its building blocks: the workspace and the key-value radix sort."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from jwmsim.errors import ConfigError
from jwmsim.gaussians import cpu_kernels
from jwmsim.gaussians.backend_cpu import rasterize_cpu, rasterize_cpu_arrays
from jwmsim.gaussians.cpu_compose import SceneArrays, needs_grad
from jwmsim.gaussians.render import camera_matrices, render, render_gaussians
from jwmsim.gaussians.scene import GaussianComponent, GaussianScene, random_component
from jwmsim.gaussians.synthetic import forward_rig, street_car_poses, street_scene
from jwmsim.gaussians.workspace import Workspace
from jwmsim.geometry import SE3

HW = (56, 100)


def _general_path(scene: GaussianScene, poses, ego: SE3, extra=None):
    """What render() did before the fast path: torch compose, then render_gaussians."""
    viewmats, ks, _ = camera_matrices(forward_rig(), ego, HW)
    return render_gaussians(scene.compose(poses, extra), scene.sky, viewmats, ks, HW, backend="cpu")


def test_workspace_reuses_and_grows_its_buffers() -> None:
    ws = Workspace()
    a = ws.get("x", (10, 3), np.float32)
    a[:] = 7.0
    b = ws.get("x", (5, 3), np.float32)
    assert b.shape == (5, 3) and b.dtype == np.float32 and np.shares_memory(a, b)
    c = ws.get("x", (1000, 4), np.int64)  # larger: a new buffer
    assert c.shape == (1000, 4) and not np.shares_memory(a, c) and ws.nbytes >= c.nbytes
    assert not np.shares_memory(ws.get("y", (10, 3), np.float32), ws.get("x", (10, 3), np.float32))


@pytest.mark.parametrize("dtype,n_bytes", [(np.uint32, 4), (np.uint64, 8)])
def test_radix_sort_is_a_stable_sort(dtype, n_bytes) -> None:
    rng = np.random.default_rng(0)
    # ties (few distinct keys) and bytes that are equal everywhere (skipped passes)
    keys = (rng.integers(0, 50, 5000).astype(dtype) << dtype(8)) | dtype(3)
    values = rng.permutation(5000).astype(np.int64)
    expected_order = np.argsort(keys, kind="stable")
    k, v = keys.copy(), values.copy()
    cpu_kernels._radix_sort_by_key(k, v, np.empty_like(k), np.empty_like(v), n_bytes)
    assert np.array_equal(v, values[expected_order]) and np.array_equal(k, keys[expected_order])


def test_fast_path_matches_the_general_path_with_moved_and_inserted_actors() -> None:
    scene = street_scene(3000, seed=3)
    poses = dict(street_car_poses(), car_0=SE3.from_xy_yaw(10.0, -4.0, 0.5, z=0.8))
    asset = random_component(80, extent=(1.0, 0.5, 0.5), scale_range=(0.05, 0.2), seed=9)
    poses_x = {**poses, "extra": SE3.from_xy_yaw(12.0, 2.0, 0.2)}
    ego = SE3.from_xy_yaw(1.0, 0.5, 0.1)
    with torch.no_grad():
        for p, extra in ((poses, None), (poses_x, {"extra": asset}), ({}, None)):
            fast = render(scene, forward_rig(), ego, p, HW, backend="cpu", extra_actors=extra)
            ref = _general_path(scene, p, ego, extra)
            for name in ("rgb", "depth", "alpha"):
                a, b = getattr(fast, name), getattr(ref, name)
                # placement in float64 vs float32 may swap Gaussians at equal depth: a few pixels
                close = (a - b).abs() <= 1e-4 * (1 + b.abs())
                assert float(close.float().mean()) > 0.995, name
    assert float(fast.alpha.max()) > 0.5


def test_fast_path_sees_in_place_changes_of_the_background() -> None:
    scene = street_scene(2000, seed=4)
    ego = SE3.identity()
    with torch.no_grad():
        before = render(scene, forward_rig(), ego, {}, HW, backend="cpu").rgb.clone()
        scene.background.color_logits.zero_()  # every background Gaussian grey now
        after = render(scene, forward_rig(), ego, {}, HW, backend="cpu")
        ref = _general_path(scene, {}, ego)
    assert float((after.rgb - before).abs().max()) > 0.05
    assert float((after.rgb - ref.rgb).abs().max()) < 1e-5


def test_fast_path_outputs_are_not_overwritten_by_the_next_render() -> None:
    scene = street_scene(2000, seed=5)
    with torch.no_grad():
        first = render(scene, forward_rig(), SE3.identity(), {}, HW, backend="cpu")
        kept = [t.clone() for t in (first.rgb, first.depth, first.alpha)]
        render(scene, forward_rig(), SE3.from_xy_yaw(3.0, 1.0, 0.4), {}, HW, backend="cpu")
    for a, b in zip((first.rgb, first.depth, first.alpha), kept, strict=True):
        assert torch.equal(a, b)


def test_fast_path_unknown_actor_is_the_scene_error() -> None:
    scene = street_scene(500, seed=6)
    with torch.no_grad(), pytest.raises(ConfigError, match="no Gaussians"):
        render(scene, forward_rig(), SE3.identity(), {"ghost": SE3.identity()}, HW, backend="cpu")
    with pytest.raises(ConfigError, match="no Gaussians"):
        SceneArrays().compose(scene, {"ghost": SE3.identity()}, {})


def test_gradient_renders_take_the_general_path(tiny_component: GaussianComponent) -> None:
    params = [t.detach().clone().requires_grad_(True) for t in tiny_component.tensors().values()]
    scene = GaussianScene(GaussianComponent(*params))
    assert needs_grad(scene, None)
    with torch.no_grad():
        assert not needs_grad(scene, None)
    out = render(scene, forward_rig()[:1], SE3.identity(), {}, (24, 40), backend="cpu")
    out.rgb.sum().backward()
    assert params[0].grad is not None


def test_rasterize_cpu_arrays_matches_rasterize_cpu(tiny_component: GaussianComponent, tiny_views) -> None:
    viewmats, ks, (h, w) = tiny_views
    c = tiny_component
    with torch.no_grad():
        ref = rasterize_cpu(c.means, c.quats, c.scales, c.opacities, c.colors, viewmats, ks, w, h, 0.05, 1e4)
        arrays = [t.numpy() for t in (c.means, c.quats, c.scales, c.opacities, c.colors)]
        out = rasterize_cpu_arrays(*arrays, viewmats, ks, w, h, 0.05, 1e4)
    for a, b in zip(out, ref, strict=True):
        assert torch.equal(a, b)


def test_scene_arrays_forget_components_that_are_gone() -> None:
    import gc

    cache = SceneArrays()
    for seed in range(3):
        scene = street_scene(300, seed=seed)
        cache.compose(scene, street_car_poses(), {})
        del scene
        gc.collect()
    # without pruning: 3 scenes x (background + 3 cars) = 12 entries; with it, at most the last
    # scene's 4 and the previous scene's 3 cars (still held while the last ones were activated)
    alive = [e for e in cache._entries.values() if e.ref() is not None]
    assert len(cache._entries) <= len(alive) + 4
