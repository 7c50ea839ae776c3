"""Mesh -> Gaussians and the shipped actor assets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import trimesh

from jwmsim.errors import CheckpointError, ConfigError
from jwmsim.gaussians.assets import (
    SHIPPED,
    available_assets,
    load_actor_asset,
    load_asset,
    mesh_to_gaussians,
    save_asset,
)
from jwmsim.gaussians.projection import quat_to_rotmat


def test_mesh_to_gaussians_lies_on_the_surface_and_follows_normals() -> None:
    mesh = trimesh.creation.box(extents=(4.0, 2.0, 1.0))
    mesh.visual.face_colors = np.array([200, 100, 50, 255], dtype=np.uint8)
    comp = mesh_to_gaussians(mesh, 500, seed=1)
    assert len(comp) == 500
    pts = comp.means.double().numpy()
    # every point is on one of the box faces
    on_face = np.isclose(np.abs(pts), [2.0, 1.0, 0.5], atol=1e-5).any(axis=1)
    assert on_face.all()
    # the thin axis (local z) of each Gaussian is the normal of the face it sits on
    normal_axis = quat_to_rotmat(comp.quats.double())[:, :, 2].numpy()
    closest, _, tri = trimesh.proximity.closest_point(mesh, pts)
    np.testing.assert_allclose(np.abs((normal_axis * mesh.face_normals[tri]).sum(1)), 1.0, atol=1e-6)
    assert float(comp.scales[:, 2].max()) < float(comp.scales[:, 0].min())
    np.testing.assert_allclose(
        comp.colors.numpy(), np.tile([200 / 255, 100 / 255, 50 / 255], (500, 1)), atol=2e-3
    )


def test_mesh_to_gaussians_rejects_bad_input() -> None:
    with pytest.raises(ConfigError, match="n > 0"):
        mesh_to_gaussians(trimesh.creation.box(), 0)
    with pytest.raises(ConfigError, match="trimesh"):
        mesh_to_gaussians("box.obj", 10)  # type: ignore[arg-type]


def test_shipped_assets_load_and_fit_their_boxes() -> None:
    assert set(available_assets()) == set(SHIPPED)
    for name, (_, n, (w, length, h), _) in SHIPPED.items():
        comp = load_actor_asset(name)
        assert len(comp) == n
        extent = comp.means.abs().amax(0).numpy()
        assert extent[0] <= length / 2 + 0.05 and extent[1] <= w / 2 + 0.15 and extent[2] <= h / 2 + 0.05, (
            name
        )
        assert extent[0] > 0.3 * length / 2, f"{name} is much smaller than its box"
    with pytest.raises(ConfigError, match="available"):
        load_actor_asset("spaceship")


def test_asset_round_trip_and_corrupt_file(tmp_path: Path) -> None:
    comp = mesh_to_gaussians(trimesh.creation.icosphere(), 100)
    path = save_asset(comp, tmp_path / "ball.safetensors", {"size_wlh": [2, 2, 2]})
    loaded, meta = load_asset(path)
    assert meta == {"size_wlh": [2, 2, 2]}
    assert torch.equal(loaded.means, comp.means)
    path.write_bytes(path.read_bytes()[:50])
    with pytest.raises(CheckpointError):
        load_asset(path)


def test_shipped_assets_match_the_scenario_asset_list() -> None:
    from jwmsim.gaussians.assets import ASSET_NAMES
    from jwmsim.scenario.assets import ASSETS, known_assets

    assert set(known_assets()) == set(ASSET_NAMES)
    for name in ASSET_NAMES:
        _, _, size_wlh, category = SHIPPED[name]
        assert ASSETS[name].category == category, name
        np.testing.assert_allclose(ASSETS[name].size_wlh, size_wlh, err_msg=name)


def test_asset_folder_is_the_shipped_one_and_a_missing_folder_says_so(tmp_path: Path) -> None:
    from jwmsim.gaussians.assets import ASSET_DIR
    from jwmsim.resources import shipped_dir

    assert ASSET_DIR == shipped_dir("assets") / "actors" and ASSET_DIR.is_dir()
    with pytest.raises(ConfigError, match=r"actor asset folder .*nowhere does not exist") as err:
        load_actor_asset("sedan", directory=tmp_path / "nowhere")
    assert "pip wheel" in str(err.value)
