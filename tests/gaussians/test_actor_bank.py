"""The actor bank: actors cut out of a reconstructed scene, normalised to their box, saved with
their class, size and source, and loaded back by name or class at any box size."""

from __future__ import annotations

import pytest
import torch

from jwmsim.errors import ConfigError
from jwmsim.gaussians.actor_bank import (
    BANK_DIR,
    class_of,
    cut_actor,
    denormalise,
    load_bank_actor,
    normalise,
    read_index,
    resolve,
    save_bank,
    surface_coverage,
)
from jwmsim.gaussians.synthetic import box_actor


def test_normalise_round_trip_and_unit_box() -> None:
    comp = box_actor((4.6, 1.85, 1.5), n=500, seed=1)  # size_lwh
    unit = normalise(comp, (1.85, 4.6, 1.5))  # size_wlh
    assert unit.means.abs().max() <= 1.0 + 1e-5 and unit.means[:, 0].abs().max() > 0.99
    back = denormalise(unit, (1.85, 4.6, 1.5))
    assert torch.allclose(back.means, comp.means, atol=1e-5)
    assert torch.allclose(back.log_scales, comp.log_scales, atol=1e-5)
    bigger = denormalise(unit, (2.5, 8.0, 3.2))
    assert bigger.means[:, 0].abs().max() == pytest.approx(4.0, rel=1e-3)


def test_one_sided_car_is_mirrored_and_covers_more() -> None:
    comp = box_actor((4.6, 1.85, 1.5), n=800, seed=2)
    one_side = comp.select(comp.means[:, 1] > -0.3)  # the far side was never seen
    unit, cov, mirrored = cut_actor(one_side, (1.85, 4.6, 1.5), "car")
    assert mirrored and (unit.means[:, 1] < -0.9).any()
    unseen = surface_coverage(normalise(one_side, (1.85, 4.6, 1.5)).means.numpy(), one_side.opacities.numpy())
    assert cov > unseen
    _, _, ped_mirrored = cut_actor(one_side, (1.85, 4.6, 1.5), "pedestrian")
    assert not ped_mirrored  # only vehicles are mirrored


def test_bank_saves_and_resolves_by_name_and_class(tmp_path) -> None:
    from jwmsim.gaussians.actor_bank import BankEntry

    comp = box_actor((4.6, 1.85, 1.5), n=300, seed=3)
    unit, cov, mirrored = cut_actor(comp, (1.85, 4.6, 1.5), "car")
    entries = [
        (
            BankEntry(
                f"car-x-{i}",
                "car",
                "vehicle.car",
                (1.85, 4.6, 1.5),
                len(unit),
                cov - i * 0.1,
                mirrored,
                "scene-x",
                "d",
                f"a{i}",
                "fit",
            ),
            unit,
        )
        for i in range(2)
    ]
    save_bank(entries, tmp_path)
    assert [e["name"] for e in read_index(tmp_path)] == ["car-x-0", "car-x-1"]
    assert resolve("car", tmp_path)["name"] == "car-x-0"  # the best-covered of the class
    actor, entry = load_bank_actor("car-x-1", (2.0, 5.0, 1.6), tmp_path)
    assert entry["source_log"] == "scene-x" and actor.means[:, 0].abs().max() <= 2.5 * 1.1 + 1e-4
    with pytest.raises(ConfigError, match="no entry or class 'bus'"):
        resolve("bus", tmp_path)
    with pytest.raises(ConfigError, match="no actor bank"):
        read_index(tmp_path / "absent")


def test_class_of_categories() -> None:
    assert class_of("vehicle.car") == "car" and class_of("human.pedestrian.adult") == "pedestrian"
    assert class_of("movable_object.barrier") is None


def test_shipped_bank_holds_real_log_cars() -> None:
    entries = read_index(BANK_DIR)
    cars = [e for e in entries if e["cls"] == "car"]
    assert cars and all(e["source_log"] == "scene-pandaset-002" and e["coverage"] > 0.3 for e in cars)
    actor, _ = load_bank_actor("car", (1.85, 4.6, 1.5))
    assert len(actor) > 200 and torch.isfinite(actor.means).all()
