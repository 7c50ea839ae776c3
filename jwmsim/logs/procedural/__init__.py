"""The procedural driving world: a town from a seed, its ground-truth renderer, and the
nuScenes-format logs recorded in it (the built-in seed log and training data).

Example::

    from jwmsim.logs.procedural import Town, render_ground_truth, nuscenes_like_rig

    town = Town.generate(seed=3)
    cam = nuscenes_like_rig(640, 360)["CAM_FRONT"]
    ego = town.ego_pose_at(5.0)
    gt = render_ground_truth(town, cam, ego, time=5.0)    # rgb, depth [m], instance masks
"""

from jwmsim.logs.procedural.config import GENERATOR_VERSION, LogConfig, TownConfig
from jwmsim.logs.procedural.dataset import make_dataset
from jwmsim.logs.procedural.default_log import DEFAULT_SEED, cache_dir, default_log_path
from jwmsim.logs.procedural.meshes import ActorModel, pedestrian, vehicle
from jwmsim.logs.procedural.render import GroundTruth, render_ground_truth
from jwmsim.logs.procedural.rig import nuscenes_like_rig
from jwmsim.logs.procedural.town import Town, generate_town
from jwmsim.logs.procedural.write_log import write_town_log

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
