"""Actor-bank actors in scenarios (``asset: bank:<entry name>`` or ``bank:<class>``) and as the
skeleton render path's stand-in for actors without Gaussians of their own."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from jwmsim.config import SimConfig
from jwmsim.envs import render_paths
from jwmsim.envs.render_paths import Episode, RenderSetup
from jwmsim.gaussians.actor_bank import (
    BANK_DIR,
    bank_assets,
    bank_key,
    fallback_class,
    load_bank_actor,
    read_index,
    resolve,
)
from jwmsim.gaussians.scene import GaussianComponent
from jwmsim.gaussians.synthetic import street_scene
from jwmsim.logs.segment import LogSegment
from jwmsim.scenario import ScenarioError, parse_scenario, sample
from jwmsim.scenario.assets import asset_names, known_assets
from jwmsim.scenario.build import build_world_for_run
from jwmsim.sim import World
from jwmsim.sim.sim_state import SimState
from jwmsim.sim.world import initial_state

HEAD = "version: 1\nlog: {dataroot: unused}\nego: {start_time: 1.0}\nduration: 4\nlog_actors: {remove: all}\n"
CONFIG = SimConfig(
    terminate_on_collision=False, terminate_on_offroad=False, terminate_on_route_complete=False
)


def _scenario(asset: str):
    return parse_scenario(
        HEAD + f"actors:\n  - {{id: a1, asset: {asset!r}, lane: ego, offset: 15}}\n", "t.yaml"
    )


def _drawn(world: World) -> tuple[SimState, dict[str, GaussianComponent]]:
    """The state at the episode start and the Gaussians the skeleton path draws for the actors that
    the scene has no component for."""
    setup = RenderSetup(world.segment, (), (32, 48), scene=street_scene(500), backend="cpu")
    path = render_paths.SkeletonRenderer(setup)
    path.reset(Episode(world))
    state = initial_state(world)
    return state, path.actors_to_draw(state)[1]


def test_every_bank_entry_and_class_is_a_scenario_asset() -> None:
    entries = read_index(BANK_DIR)
    names = set(asset_names())
    assert {f"bank:{e['name']}" for e in entries} <= names
    assert {f"bank:{e['cls']}" for e in entries} <= names
    info = known_assets()["bank:car"]
    best = resolve("car")
    assert info.kind == "vehicle" and info.category == best["category"]
    assert info.size_wlh == pytest.approx(best["size_wlh"])
    assert known_assets()["bank:two_wheeler"].kind == "cyclist"
    assert bank_key("bank:car") == "car" and bank_key("sedan") is None and bank_key("bank:") is None
    assert {a.name for a in bank_assets(BANK_DIR / "absent")} == set()


@pytest.mark.parametrize("which", ["class", "name"])
def test_a_scenario_inserts_a_bank_actor_by_class_or_name(toy_log: LogSegment, which: str) -> None:
    entry = resolve("truck")
    asset = "bank:truck" if which == "class" else f"bank:{entry['name']}"
    world = build_world_for_run(sample(_scenario(asset), 0), toy_log, CONFIG)
    i = world.initial_actors.index("a1")
    assert world.assets[i] == asset
    state = world.initial_actors
    w, length, h = entry["size_wlh"]
    assert (state.width[i], state.length[i], state.height[i]) == pytest.approx((w, length, h))
    assert state.kinds[i] == "vehicle"
    _, extra = _drawn(world)
    expected, _ = load_bank_actor(str(entry["name"]))
    assert torch.allclose(extra["a1"].means, expected.means)  # the bank actor, not a box


def test_an_unknown_bank_asset_is_refused_with_the_names() -> None:
    with pytest.raises(ScenarioError, match="bank:car"):
        _scenario("bank:spaceship")


def test_fallback_classes() -> None:
    assert fallback_class("vehicle", 4.5) == "car"
    assert fallback_class("vehicle", 11.0) == "truck"  # no bus in the shipped bank
    assert fallback_class("cyclist", 1.8) == "two_wheeler"
    assert fallback_class("pedestrian", 0.6) is None  # no pedestrian in the shipped bank
    assert fallback_class("static", 0.5) is None
    assert fallback_class("vehicle", 4.5, BANK_DIR / "absent") is None


def test_actors_without_gaussians_are_drawn_as_bank_actors_else_boxes(toy_log: LogSegment) -> None:
    """The toy log's car has no scene component: it is drawn as the bank's car at its box; its
    pedestrian (no pedestrian in the bank) as a box of its size."""
    scenario = parse_scenario(HEAD.replace("log_actors: {remove: all}\n", ""), "t.yaml")
    state, extra = _drawn(build_world_for_run(sample(scenario, 0), toy_log, CONFIG))
    a = state.actors
    kinds = dict(zip(a.ids, a.kinds, strict=True))
    assert {"vehicle", "pedestrian"} <= {kinds[k] for k in extra}
    for aid, comp in extra.items():
        i = a.index(aid)
        half = np.array([a.length[i], a.width[i], a.height[i]]) / 2
        extent = comp.means.abs().amax(0).numpy()
        if kinds[aid] == "vehicle":
            car, _ = load_bank_actor("car", (float(a.width[i]), float(a.length[i]), float(a.height[i])))
            assert torch.allclose(comp.means, car.means), aid
        else:
            assert len(comp) == render_paths.BOX_GAUSSIANS, aid
        assert (extent <= half * 1.1 + 1e-3).all() and (extent > 0.5 * half).all(), aid
