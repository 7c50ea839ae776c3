"""WorldRec network: shapes, the scene it predicts, actors in box frames, gradients, save/load."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from jwmsim.gaussians.render import render_gaussians
from jwmsim.worldrec.modeling_worldrec import WorldRecModel, bilinear_gather
from jwmsim.worldrec.queries import KIND_ACTOR, KIND_ANCHOR, KIND_LIDAR
from jwmsim.worldrec.reconstruct import load_worldrec
from jwmsim.worldrec.window import build_window


def test_bilinear_gather_matches_manual_interpolation() -> None:
    t = torch.randn(3, 5, 7, 2)
    out = bilinear_gather(t, torch.tensor([2, 0]), torch.tensor([2.25, 0.0]), torch.tensor([0.75, 9.0]))
    want = 0.25 * (0.75 * t[2, 0, 2] + 0.25 * t[2, 0, 3]) + 0.75 * (0.75 * t[2, 1, 2] + 0.25 * t[2, 1, 3])
    torch.testing.assert_close(out[0], want)
    torch.testing.assert_close(out[1], t[0, 4, 0])  # clamped to the border, never another view


def test_window_has_all_query_kinds(tiny_model, tiny_cache, rng) -> None:
    win = build_window(tiny_cache, [0, 3, 6], tiny_model.config, rng)
    kinds = np.bincount(win.tokens.kind, minlength=3)
    assert kinds[KIND_LIDAR] > 50 and kinds[KIND_ANCHOR] > 0 and kinds[KIND_ACTOR] > 0
    assert win.views.num_views == 3 * len(tiny_cache.cameras)
    assert win.depth.shape == (win.views.num_views, 8, 14)  # stride 4 of 32x56
    assert np.isfinite(win.depth.numpy()).any()
    # actor queries live in their box frames: within the box (plus margin)
    for a, aid in enumerate(win.tokens.actor_ids):
        sel = win.tokens.owner == a + 1
        w, length, h = tiny_cache.tracks[aid].size_wlh
        assert np.all(np.abs(win.tokens.xyz[sel]) <= np.array([length, w, h]) / 2 + 0.3)


def test_forward_shapes_and_scene(tiny_model, tiny_cache, rng) -> None:
    win = build_window(tiny_cache, [0, 3, 6], tiny_model.config, rng)
    out = tiny_model(win.views, win.tokens, tiny_cache.tracks, win.depth)
    n, k = len(win.tokens), tiny_model.config.gaussians_per_query
    g = out.gaussians
    assert g.means.shape == (n * k, 3) and g.quats.shape == (n * k, 4) and g.log_scales.shape == (n * k, 3)
    assert out.color_logits.shape == (n * k, 3) and out.sky_logits.shape == (3, 8, 16)
    assert torch.allclose(g.quats.norm(dim=-1), torch.ones(n * k), atol=1e-5)
    for t in (g.means, g.log_scales, g.opacity_logits, out.color_logits):
        assert torch.isfinite(t).all()
    # Gaussians stay within offset_scale voxels of their anchors
    anchor = torch.as_tensor(win.tokens.xyz, dtype=torch.float32)[g.query]
    unit = torch.as_tensor(win.tokens.unit)[g.query]
    assert torch.all((g.means - anchor).abs().max(1).values <= unit * tiny_model.config.offset_scale + 1e-4)
    scene = out.scene()
    assert len(scene.background) + sum(len(c) for c in scene.actors.values()) == n * k
    assert set(scene.actors) <= set(win.tokens.actor_ids)


def test_scene_renders_and_gradients_reach_the_encoder(tiny_model, tiny_cache, rng) -> None:
    win = build_window(tiny_cache, [0, 3, 6], tiny_model.config, rng)
    out = tiny_model(win.views, win.tokens, tiny_cache.tracks, win.depth)
    scene = out.scene()
    t = float(tiny_cache.times[0, 4])
    tracks = tiny_cache.tracks
    poses = {a: tracks[a].pose_at(t) for a in scene.actors if tracks[a].is_present(t)}
    vm = torch.from_numpy(np.linalg.inv(tiny_cache.world_from_cam[:, 4]))
    rgb = render_gaussians(
        scene.compose(poses), scene.sky, vm, torch.from_numpy(tiny_cache.ks), (32, 56), "cpu"
    ).rgb
    assert rgb.shape == (len(tiny_cache.cameras), 32, 56, 3) and torch.isfinite(rgb).all()
    gt = torch.from_numpy(tiny_cache.images[:, 4]).float() / 255
    (rgb - gt).abs().mean().backward()
    grads = [p.grad for p in tiny_model.encoder.parameters()]
    assert any(gr is not None and float(gr.abs().sum()) > 0 for gr in grads)
    assert tiny_model.offsets.weight.grad is not None


def test_actor_gaussians_move_with_their_box(tiny_model, tiny_cache, rng) -> None:
    from jwmsim.geometry import SE3

    win = build_window(tiny_cache, [0, 3, 6], tiny_model.config, rng)
    scene = tiny_model(win.views, win.tokens, tiny_cache.tracks, win.depth).scene()
    aid = next(iter(scene.actors))
    comp = scene.actors[aid]
    pose = SE3.from_xy_yaw(10.0, -4.0, 0.7, z=0.2)
    placed = scene.compose({aid: pose})
    world = placed.means[len(scene.background) :]
    want = torch.as_tensor(pose.apply(comp.means.detach().double().numpy()), dtype=torch.float32)
    torch.testing.assert_close(world.detach(), want, atol=1e-4, rtol=1e-5)
    assert aid not in scene.without_actor(aid).actors  # scenarios can remove it


def test_save_load_round_trip(tiny_model, tiny_cache, tmp_path) -> None:
    tiny_model.save_pretrained(tmp_path / "m")
    loaded = load_worldrec(tmp_path / "m")
    for (k, a), (k2, b) in zip(tiny_model.state_dict().items(), loaded.state_dict().items(), strict=True):
        assert k == k2 and torch.equal(a, b)
    win = build_window(tiny_cache, [1, 4, 7], tiny_model.config, np.random.default_rng(3))
    with torch.no_grad():
        o1 = tiny_model(win.views, win.tokens, tiny_cache.tracks, win.depth)
        o2 = loaded(win.views, win.tokens, tiny_cache.tracks, win.depth)
    torch.testing.assert_close(o1.color_logits, o2.color_logits)
    torch.testing.assert_close(o1.gaussians.means, o2.gaussians.means)
    # diffusers' own loader reads the same folder
    again = WorldRecModel.from_pretrained(tmp_path / "m")
    assert tuple(again.config.image_hw) == (32, 56)


@pytest.mark.parametrize("bad", [(0, 10), (32, 56, 3)])
def test_bad_config_is_a_clear_error(bad) -> None:
    from jwmsim.errors import ConfigError

    with pytest.raises((ConfigError, ValueError)):
        WorldRecModel(image_hw=bad)
