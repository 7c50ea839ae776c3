"""Mesh -> Gaussians and the shipped actor assets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import trimesh

from jwmsim.errors import CheckpointError, ConfigError
from jwmsim.gaussians.actor_bank import BOX_MARGIN
from jwmsim.gaussians.assets import (
    FROM_BANK,
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
        extent = comp.means.abs().amax(0).numpy()
        if name in FROM_BANK:  # a reconstructed actor keeps what lies within the bank's margin
            np.testing.assert_array_less(extent, np.array([length, w, h]) / 2 * BOX_MARGIN + 1e-4, name)
        else:
            assert len(comp) == n
            bound = np.array([length / 2 + 0.05, w / 2 + 0.15, h / 2 + 0.05])
            np.testing.assert_array_less(extent, bound, name)
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

    assert {n for n in known_assets() if not n.startswith("bank:")} == set(ASSET_NAMES)
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


def test_the_shipped_sedan_is_a_reconstructed_car_from_the_bank(tmp_path: Path) -> None:
    """The sedan is the actor bank's best-covered real-log car at sedan size, not the mesh; without
    a bank it is rebuilt from the mesh."""
    from jwmsim.gaussians.actor_bank import BANK_DIR, load_bank_actor
    from jwmsim.gaussians.assets import ASSET_DIR, build_shipped_assets, mesh_asset

    comp, meta = load_asset(ASSET_DIR / "sedan.safetensors")
    size = SHIPPED["sedan"][2]
    car, entry = load_bank_actor("car", size, BANK_DIR)
    assert meta["source"] == "jwmsim.gaussians.actor_bank" and meta["bank_entry"] == entry["name"]
    assert meta["source_log"] == "scene-pandaset-002"
    assert torch.allclose(comp.means, car.means) and torch.allclose(comp.log_scales, car.log_scales)
    assert len(comp) != len(mesh_asset("sedan"))
    build_shipped_assets(tmp_path, bank=tmp_path / "no-bank")
    mesh, mesh_meta = load_asset(tmp_path / "sedan.safetensors")
    assert mesh_meta["source"] == "jwmsim.gaussians.assets" and len(mesh) == SHIPPED["sedan"][1]
    assert torch.equal(mesh.means, mesh_asset("sedan").means)
    build_shipped_assets(tmp_path, bank=BANK_DIR)
    assert torch.equal(load_asset(tmp_path / "sedan.safetensors")[0].means, comp.means)
