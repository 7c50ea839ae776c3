"""The procedural driving world: a town from a seed, its ground-truth renderer, and the
nuScenes-format logs recorded in it (the built-in seed log and training data).

Example::

    from jwmsim.logs.procedural import Town, render_ground_truth, nuscenes_like_rig

    town = Town.generate(seed=3)
    cam = nuscenes_like_rig(640, 360)["CAM_FRONT"]
    ego = town.ego_pose_at(5.0)
    gt = render_ground_truth(town, cam, ego, time=5.0)    # rgb, depth [m], instance masks

Names are imported lazily (PEP 562), so ``from jwmsim.logs.procedural import default_log_path``
stays cheap when the seed log is already cached (no trimesh / embree / numba import).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "GENERATOR_VERSION": "config",
    "LogConfig": "config",
    "TownConfig": "config",
    "make_dataset": "dataset",
    "DEFAULT_SEED": "default_log",
    "cache_dir": "default_log",
    "default_log_path": "default_log",
    "ActorModel": "meshes",
    "pedestrian": "meshes",
    "vehicle": "meshes",
    "GroundTruth": "render",
    "render_ground_truth": "render",
    "nuscenes_like_rig": "rig",
    "Town": "town",
    "generate_town": "town",
    "write_town_log": "write_log",
}

__all__ = [
    "DEFAULT_SEED",
    "GENERATOR_VERSION",
    "ActorModel",
    "GroundTruth",
    "LogConfig",
    "Town",
    "TownConfig",
    "cache_dir",
    "default_log_path",
    "generate_town",
    "make_dataset",
    "nuscenes_like_rig",
    "pedestrian",
    "render_ground_truth",
    "vehicle",
    "write_town_log",
]
assert sorted(__all__) == sorted(_EXPORTS)

if TYPE_CHECKING:
    from jwmsim.logs.procedural.config import GENERATOR_VERSION, LogConfig, TownConfig
    from jwmsim.logs.procedural.dataset import make_dataset
    from jwmsim.logs.procedural.default_log import DEFAULT_SEED, cache_dir, default_log_path
    from jwmsim.logs.procedural.meshes import ActorModel, pedestrian, vehicle
    from jwmsim.logs.procedural.render import GroundTruth, render_ground_truth
    from jwmsim.logs.procedural.rig import nuscenes_like_rig
    from jwmsim.logs.procedural.town import Town, generate_town
    from jwmsim.logs.procedural.write_log import write_town_log


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
