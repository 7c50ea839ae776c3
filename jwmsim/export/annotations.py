"""The nuScenes annotations of one simulated instant: every active actor (log actors where the
simulation moved them, inserted and scripted ones) as a box with category, size, velocity,
attribute and visibility."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from jwmsim.export.instance_visibility import InstanceVisibility
from jwmsim.export.visibility import CameraView, box_visibility, visibility_token
from jwmsim.geometry import SE3, box_corners
from jwmsim.sim.sim_state import SimState

MOVING_SPEED = {"vehicle": 0.5, "cyclist": 0.5, "pedestrian": 0.3}  # [m/s] above it: ``*.moving``


@dataclass(frozen=True)
class ActorAnnotation:
    """One actor's box at one keyframe.

    Attributes:
        actor_id: the simulator's actor id (stable over the run; the export's instance key).
        category: nuScenes category name.
        world_from_box: box centre and heading (x along the length).
        size_wlh: width, length, height [m].
        velocity: ``[3]`` world-frame velocity [m/s] as simulated.
        attribute: nuScenes attribute name, or None.
        visibility: visible fraction in [0, 1] (see :mod:`jwmsim.export.visibility`).
        source: ``log`` (a track of the seed log) or ``inserted`` (added by the scenario).
        behaviour: the behaviour that moved it in the last step ('' at step 0).
    """

    actor_id: str
    category: str
    world_from_box: SE3
    size_wlh: tuple[float, float, float]
    velocity: tuple[float, float, float]
    attribute: str | None
    visibility: float
    source: str
    behaviour: str

    @property
    def visibility_token(self) -> str:
        """nuScenes visibility token ``"1"``..``"4"``."""
        return visibility_token(self.visibility)


def attribute_for(kind: str, category: str, speed: float) -> str | None:
    """The nuScenes attribute of an actor of coarse ``kind`` moving at ``speed`` [m/s]."""
    if kind == "cyclist" or category in ("vehicle.bicycle", "vehicle.motorcycle"):
        return "cycle.with_rider"
    if kind == "vehicle":
        return "vehicle.moving" if speed > MOVING_SPEED["vehicle"] else "vehicle.stopped"
    if kind == "pedestrian":
        return "pedestrian.moving" if speed > MOVING_SPEED["pedestrian"] else "pedestrian.standing"
    return None


def annotate_state(
    state: SimState, views: Sequence[CameraView], instance: InstanceVisibility | None = None
) -> list[ActorAnnotation]:
    """Annotations of the active actors of ``state``, visibility measured in ``views``: on the
    render's instance masks with ``instance`` (and depth in the views), else by projected box
    area (:func:`~jwmsim.export.visibility.box_visibility`)."""
    a, world = state.actors, state.world
    active = [int(i) for i in np.flatnonzero(a.active)]
    if not active:
        return []
    sizes = [(float(a.width[i]), float(a.length[i]), float(a.height[i])) for i in active]
    poses = [a.pose(i) for i in active]
    corners = np.stack([box_corners(s, p) for s, p in zip(sizes, poses, strict=True)])
    if instance is not None and all(v.depth is not None for v in views):
        ids = [a.ids[i] for i in active]
        fractions = instance.fractions(
            state, ids, dict(zip(ids, poses, strict=True)), dict(zip(ids, sizes, strict=True)), list(views)
        )
    else:
        fractions = box_visibility(corners, views)
    velocity = a.velocity()
    out = []
    for n, i in enumerate(active):
        category = world.categories[i]
        speed = float(a.speed[i])
        out.append(
            ActorAnnotation(
                actor_id=a.ids[i],
                category=category,
                world_from_box=poses[n],
                size_wlh=sizes[n],
                velocity=(float(velocity[i, 0]), float(velocity[i, 1]), 0.0),
                attribute=attribute_for(a.kinds[i], category, speed),
                visibility=float(fractions[n]),
                source="log" if int(world.log_index[i]) >= 0 else "inserted",
                behaviour=a.behaviours[i],
            )
        )
    return out
