"""GaussianScene: validation, composition of actors, save / load."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from jwmsim.errors import CheckpointError, ConfigError
from jwmsim.gaussians.projection import quat_to_rotmat
from jwmsim.gaussians.scene import GaussianComponent, GaussianScene, SkyModel, quat_multiply, random_component
from jwmsim.geometry import SE3, quat_to_matrix


def assert_close(a: torch.Tensor, b: torch.Tensor, atol: float, what: str) -> None:
    err = float((a - b).abs().max()) if a.numel() else 0.0
    assert err <= atol, f"{what}: max abs difference {err:.3g} > {atol:g}"


def test_component_rejects_bad_shapes() -> None:
    comp = random_component(5)
    with pytest.raises(ValueError, match="quats"):
        GaussianComponent(
            comp.means, comp.quats[:, :3], comp.log_scales, comp.opacity_logits, comp.color_logits
        )
    with pytest.raises(ValueError, match="opacity_logits"):
        GaussianComponent(comp.means, comp.quats, comp.log_scales, comp.opacity_logits[:4], comp.color_logits)


def test_from_values_round_trips_activations() -> None:
    means = torch.zeros(3, 3)
    comp = GaussianComponent.from_values(means, torch.full((3, 3), 0.2), torch.tensor([0.1, 0.5, 0.9]),
                                         torch.tensor([[0.2, 0.4, 0.6]] * 3))  # fmt: skip
    assert_close(comp.scales, torch.full((3, 3), 0.2), 1e-6, "scales")
    assert_close(comp.opacities, torch.tensor([0.1, 0.5, 0.9]), 1e-6, "opacities")
    assert_close(comp.colors[0], torch.tensor([0.2, 0.4, 0.6]), 1e-6, "colors")


def test_quat_multiply_matches_rotation_composition() -> None:
    rng = np.random.default_rng(0)
    q1, q2 = rng.standard_normal((2, 4))
    q1, q2 = q1 / np.linalg.norm(q1), q2 / np.linalg.norm(q2)
    prod = quat_multiply(torch.tensor(q1), torch.tensor(q2)).numpy()
    np.testing.assert_allclose(quat_to_matrix(prod), quat_to_matrix(q1) @ quat_to_matrix(q2), atol=1e-12)
    np.testing.assert_allclose(quat_to_rotmat(torch.tensor(prod)).numpy(), quat_to_matrix(prod), atol=1e-12)


def test_compose_places_actors_at_their_poses(scene_with_actors: GaussianScene) -> None:
    pose = SE3.from_xy_yaw(12.0, -3.0, 0.7, z=0.8)
    world = scene_with_actors.compose({"car": pose})
    n_bg, car = len(scene_with_actors.background), scene_with_actors.actors["car"]
    assert len(world) == n_bg + len(car)  # the pedestrian has no pose: not drawn
    expected = pose.apply(car.means.double().numpy())
    np.testing.assert_allclose(world.means[n_bg:].double().numpy(), expected, atol=1e-4)
    rot_world = quat_to_rotmat(world.quats[n_bg:].double())
    rot_local = quat_to_rotmat(car.quats.double())
    assert_close(rot_world, torch.tensor(np.array(pose.rotation)) @ rot_local, 1e-5, "actor orientation")
    assert_close(world.colors[n_bg:], car.colors, 0.0, "actor colours")


def test_compose_unknown_actor_is_a_clear_error(scene_with_actors: GaussianScene) -> None:
    with pytest.raises(ConfigError, match="truck"):
        scene_with_actors.compose({"truck": SE3.identity()})
    asset = random_component(10, seed=5)
    world = scene_with_actors.compose({"truck": SE3.identity()}, extra_actors={"truck": asset})
    assert len(world) == len(scene_with_actors.background) + 10


def test_with_and_without_actor(scene_with_actors: GaussianScene) -> None:
    asset = random_component(7, seed=9)
    added = scene_with_actors.with_actor("cut_in", asset)
    assert set(added.actors) == {"car", "ped", "cut_in"}
    assert set(added.without_actor("car").actors) == {"ped", "cut_in"}
    assert set(scene_with_actors.actors) == {"car", "ped"}  # the original is unchanged


def test_sky_is_continuous_across_the_azimuth_seam() -> None:
    sky = SkyModel(torch.randn(3, 4, 8, generator=torch.Generator().manual_seed(0)))
    eps = 1e-4
    left = sky.colors(torch.tensor([[-1.0, eps, 0.2]]))
    right = sky.colors(torch.tensor([[-1.0, -eps, 0.2]]))
    assert_close(left, right, 1e-3, "sky colour at azimuth +-180 deg")
    up = sky.colors(torch.tensor([[0.0, 0.0, 1.0]]))
    assert up.shape == (1, 3) and bool(((up > 0) & (up < 1)).all())


def test_save_load_round_trip(tmp_path: Path, scene_with_actors: GaussianScene) -> None:
    path = scene_with_actors.save(tmp_path / "scene.safetensors")
    loaded = GaussianScene.load(path)
    assert set(loaded.actors) == {"car", "ped"}
    assert loaded.metadata == {"source": "test"}
    for name, t in scene_with_actors.background.tensors().items():
        assert torch.equal(getattr(loaded.background, name), t), name
    for aid, comp in scene_with_actors.actors.items():
        for name, t in comp.tensors().items():
            assert torch.equal(getattr(loaded.actors[aid], name), t), (aid, name)
    assert torch.equal(loaded.sky.color_logits, scene_with_actors.sky.color_logits)
    assert not list(tmp_path.glob("*.tmp")), "the temporary file was left behind"


def test_actor_ids_with_dots_survive(tmp_path: Path) -> None:
    scene = GaussianScene(random_component(4), {"a.b/c d": random_component(3, seed=1)})
    assert set(GaussianScene.load(scene.save(tmp_path / "s.safetensors")).actors) == {"a.b/c d"}


def test_load_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="does not exist"):
        GaussianScene.load(tmp_path / "nope.safetensors")


def test_load_corrupt_file(tmp_path: Path, scene_with_actors: GaussianScene) -> None:
    path = scene_with_actors.save(tmp_path / "scene.safetensors")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="not a readable safetensors"):
        GaussianScene.load(path)
    path.write_bytes(b"garbage" * 10)
    with pytest.raises(CheckpointError):
        GaussianScene.load(path)


def test_load_rejects_other_safetensors(tmp_path: Path) -> None:
    path = tmp_path / "model.safetensors"
    save_file({"weight": torch.zeros(2, 2)}, str(path), metadata={"format": "pt"})
    with pytest.raises(CheckpointError, match="not a jwmsim Gaussian scene"):
        GaussianScene.load(path)


def _rewrite(path: Path, tensors: dict[str, torch.Tensor], meta_update: dict[str, str]) -> None:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        meta = dict(f.metadata())
    meta.update(meta_update)
    save_file(tensors, str(path), metadata=meta)


def test_load_rejects_mismatched_content(tmp_path: Path, scene_with_actors: GaussianScene) -> None:
    path = scene_with_actors.save(tmp_path / "scene.safetensors")
    tensors = load_file(str(path))
    # a missing tensor
    broken = {k: v for k, v in tensors.items() if k != "actors.1.quats"}
    _rewrite(path, broken, {})
    with pytest.raises(CheckpointError, match="incomplete or mismatched"):
        GaussianScene.load(path)
    # a shape mismatch
    broken = dict(tensors, **{"background.log_scales": tensors["background.log_scales"][:-1]})
    _rewrite(path, broken, {})
    with pytest.raises(CheckpointError, match="log_scales"):
        GaussianScene.load(path)
    # non-finite values
    bad = tensors["background.means"].clone()
    bad[0, 0] = float("nan")
    _rewrite(path, dict(tensors, **{"background.means": bad}), {})
    with pytest.raises(CheckpointError, match="non-finite"):
        GaussianScene.load(path)
    # a future format version
    _rewrite(path, tensors, {"version": "99"})
    with pytest.raises(CheckpointError, match="version"):
        GaussianScene.load(path)
    # actor list and tensors disagree
    _rewrite(path, tensors, {"version": "1", "actor_ids": json.dumps(["car"])})
    with pytest.raises(CheckpointError, match="unexpected tensors"):
        GaussianScene.load(path)
