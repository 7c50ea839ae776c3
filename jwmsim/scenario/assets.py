"""The actor assets a scenario may insert, by name: what kind of road user each is, its nuScenes
category and box size.

This is the one list the scenario layer checks names against. Where the Gaussian asset library
(:mod:`jwmsim.gaussians.assets`) exists and publishes its asset names, only names it can render are
offered (see :func:`known_assets`). Actors of the actor bank (:mod:`jwmsim.gaussians.actor_bank`,
cut out of reconstructed logs) are offered as ``bank:<entry name>`` and ``bank:<class>`` (the
class's best-covered entry), at their source actor's box size.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass


@dataclass(frozen=True)
class AssetInfo:
    """What the simulator needs to know about an inserted actor.

    Attributes:
        name: asset name as written in scenario files.
        kind: ``vehicle``, ``pedestrian``, ``cyclist`` or ``static`` (as :func:`category_kind`).
        category: nuScenes category given to the actor.
        size_wlh: box width, length, height [m].
    """

    name: str
    kind: str
    category: str
    size_wlh: tuple[float, float, float]


ASSETS: dict[str, AssetInfo] = {
    a.name: a
    for a in (
        AssetInfo("sedan", "vehicle", "vehicle.car", (1.85, 4.6, 1.5)),
        AssetInfo("suv", "vehicle", "vehicle.car", (1.95, 4.8, 1.8)),
        AssetInfo("van", "vehicle", "vehicle.car", (2.0, 5.2, 2.2)),
        AssetInfo("truck", "vehicle", "vehicle.truck", (2.5, 8.0, 3.2)),
        AssetInfo("bus", "vehicle", "vehicle.bus.rigid", (2.6, 11.0, 3.2)),
        AssetInfo("motorcycle", "cyclist", "vehicle.motorcycle", (0.8, 2.1, 1.5)),
        AssetInfo("bicycle", "cyclist", "vehicle.bicycle", (0.6, 1.8, 1.7)),
        AssetInfo("pedestrian", "pedestrian", "human.pedestrian.adult", (0.6, 0.6, 1.75)),
        AssetInfo("child", "pedestrian", "human.pedestrian.child", (0.5, 0.5, 1.2)),
        AssetInfo("traffic_cone", "static", "movable_object.trafficcone", (0.4, 0.4, 0.7)),
        AssetInfo("barrier", "static", "movable_object.barrier", (2.0, 0.5, 1.0)),
    )
}


def _renderable_names() -> set[str] | None:
    """Asset names the Gaussian asset library can build, or None where it publishes none."""
    try:
        module = importlib.import_module("jwmsim.gaussians.assets")
    except ImportError:
        return None
    for attr in ("ASSET_NAMES", "ASSETS"):
        names = getattr(module, attr, None)
        if names:
            return {str(n) for n in names}
    lister = getattr(module, "asset_names", None) or getattr(module, "list_assets", None)
    return {str(n) for n in lister()} if callable(lister) else None


def _bank_assets() -> dict[str, AssetInfo]:
    """The actor bank's entries and classes (``bank:...``), or none where it is absent."""
    try:
        from jwmsim.gaussians.actor_bank import bank_assets
    except ImportError:
        return {}
    return {a.name: AssetInfo(a.name, a.kind, a.category, a.size_wlh) for a in bank_assets()}


def known_assets() -> dict[str, AssetInfo]:
    """Assets a scenario may insert (restricted to the renderable ones where that is known), then
    the actor bank's."""
    renderable = _renderable_names()
    shipped = dict(ASSETS) if renderable is None else {k: v for k, v in ASSETS.items() if k in renderable}
    return {**shipped, **_bank_assets()}


def asset_names() -> list[str]:
    return sorted(known_assets())
