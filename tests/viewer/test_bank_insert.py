"""The viewer inserts actor-bank actors (``bank:<class>`` / ``bank:<entry name>``) like shipped
assets: they are in its asset cycle, land in the scenario and the world at their bank box size."""

from __future__ import annotations

from pathlib import Path

import pytest
from viewer_options import small_options

from jwmsim.gaussians.actor_bank import resolve
from jwmsim.scenario import load_scenario
from jwmsim.viewer import editing
from jwmsim.viewer.session import Session


def test_the_asset_cycle_offers_bank_classes_and_entries(viewer) -> None:
    car = resolve("car")
    assert "bank:car" in viewer.assets and f"bank:{car['name']}" in viewer.assets
    assert "sedan" in viewer.assets and viewer.asset == "sedan"


@pytest.mark.parametrize("asset", ["bank:car", "bank:truck"])
def test_insert_a_bank_actor(scenario_file: Path, asset: str) -> None:
    session = Session(load_scenario(scenario_file), small_options(render="none"))
    try:
        scenario, aid = editing.insert_asset(session.scenario, session.world, asset)
        assert scenario.actors[-1].asset == asset
        session.apply(scenario)
        a = session.world.initial_actors
        i = a.ids.index(aid)
        w, length, h = resolve(asset.removeprefix("bank:"))["size_wlh"]
        assert (a.width[i], a.length[i], a.height[i]) == pytest.approx((w, length, h))
        assert a.kinds[i] == "vehicle" and session.world.assets[i] == asset
    finally:
        session.close()
