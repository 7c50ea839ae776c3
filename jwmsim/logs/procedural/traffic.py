"""Trajectories of the ego and of the other road users, in Frenet coordinates of the roads.

Moving cars keep a lane at a nearly constant speed, a few change lanes; candidates that would come
too close to the ego or to another car at any time are dropped (so the log has no collisions).
Cars on the cross road wait at its stop lines (the main road has green), parked cars line the
parking strips, pedestrians walk along or stand on the sidewalks and cross the side road on its
zebra crossing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

from jwmsim.logs.procedural.actors import Actor, states_from_path
from jwmsim.logs.procedural.meshes import ActorModel, pedestrian, vehicle
from jwmsim.logs.procedural.roads import JunctionZone, Road


@dataclass
class Occupant:
    """A car's footprint over time in Frenet coordinates of ``road``: ``s``, ``d`` ``[T]`` [m]."""

    road: str
    s: np.ndarray
    d: np.ndarray
    length: float
    width: float
    present: np.ndarray

    def conflicts(self, other: Occupant, gap: float = 6.0) -> bool:
        if self.road != other.road:
            return False
        lat = np.abs(self.d - other.d) < (self.width + other.width) / 2 + 0.8
        lon = np.abs(self.s - other.s) < (self.length + other.length) / 2 + gap
        return bool(np.any(lat & lon & self.present & other.present))


def smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


@dataclass(frozen=True)
class EgoPlan:
    """The ego drives lane ``lane_index`` of the main road's forward direction.

    Attributes:
        s: ``[T]`` arc length along the main road [m]; d: ``[T]`` lateral offset [m].
    """

    road: Road
    lane_index: int
    s: np.ndarray
    d: np.ndarray

    def states(self) -> np.ndarray:
        """``[T, 4]`` x, y, yaw, z of the ego frame origin (rear axle on the ground)."""
        xy, heading = self.road.ref.to_xy(self.s, self.d)
        return states_from_path(xy, 0.0, heading)


def plan_ego(
    road: Road, rng: np.random.Generator, times: np.ndarray, s_start: float, speed: tuple[float, float]
) -> EgoPlan:
    """Cruise at a gently varying speed in a forward lane from ``s_start``."""
    lane = int(rng.integers(road.lanes_forward))
    v0 = rng.uniform(*speed)
    v = v0 * (1.0 + 0.06 * np.sin(2 * np.pi * times / rng.uniform(12, 20) + rng.uniform(0, 2 * np.pi)))
    dt = np.diff(times, prepend=times[0])
    s = s_start + np.cumsum(v * dt)
    return EgoPlan(road, lane, s, np.full_like(s, road.lane_offset(True, lane)))


def _present(road: Road, s: np.ndarray, margin: float = 2.0) -> np.ndarray:
    return (s >= margin) & (s <= road.ref.length - margin)


def _actor_from_frenet(
    actor_id: str,
    model: ActorModel,
    road: Road,
    times: np.ndarray,
    s: np.ndarray,
    d: np.ndarray,
    forward: bool,
    attrs: list[str],
    z: np.ndarray | float | None = None,
    present: np.ndarray | None = None,
) -> Actor:
    xy, heading = road.ref.to_xy(s, d)
    hint = heading if forward else heading + np.pi
    z = model.size_wlh[2] / 2 if z is None else z
    states = states_from_path(xy, z, hint)
    pres = _present(road, s) if present is None else present
    return Actor(actor_id, model, times, states, pres, tuple(attrs))


def moving_traffic(
    main: Road,
    ego: EgoPlan,
    rng: np.random.Generator,
    times: np.ndarray,
    density: float,
    lane_changes: int = 2,
) -> list[Actor]:
    """Cars in all lanes of the main road around the ego, a few of them changing lanes."""
    ego_occ = Occupant(main.name, ego.s, ego.d, 4.8, 1.9, np.ones(len(times), bool))
    occupants: list[Occupant] = [ego_occ]
    actors: list[Actor] = []
    duration = float(times[-1] - times[0])
    s_ego0 = float(ego.s[0])
    v_ego = float((ego.s[-1] - ego.s[0]) / max(duration, 1e-6))
    lc_left = lane_changes
    specs = []
    # drives longer than 20 s: oncoming cars further ahead (they meet the ego later), and the
    # same-direction traffic spread a little further (speeds differ by up to 15 %)
    extra = max(0.0, duration - 20.0)
    for forward, n in ((True, main.lanes_forward), (False, main.lanes_backward)):
        for lane in range(n):
            lo, hi = (
                (s_ego0 - 60, s_ego0 + 170 + 0.3 * v_ego * extra)
                if forward
                else (s_ego0 + 20, min(main.ref.length, s_ego0 + 320 + (v_ego + 11.0) * extra))
            )
            count = int(np.ceil(density * (hi - lo) / 100))
            for s0 in np.sort(rng.uniform(lo, hi, size=count)):
                specs.append((forward, lane, float(s0)))
    # a leader ahead of the ego in its lane, so car-following scenarios have a natural target
    specs.insert(0, (True, ego.lane_index, s_ego0 + rng.uniform(22, 35)))
    for k, (forward, lane, s0) in enumerate(specs):
        model = vehicle(rng)
        w, length, _ = model.size_wlh
        for _attempt in range(4):
            v = (v_ego if forward else rng.uniform(9, 13)) * rng.uniform(0.85, 1.15)
            if k == 0:
                v = v_ego * rng.uniform(0.95, 1.05)
            sign = 1.0 if forward else -1.0
            s = s0 + sign * v * (times - times[0])
            d = np.full_like(s, main.lane_offset(forward, lane))
            n_lanes = main.lanes_forward if forward else main.lanes_backward
            changing = lc_left > 0 and k > 0 and n_lanes > 1 and rng.random() < 0.35
            if changing:
                target = lane + 1 if lane == 0 else lane - 1
                tc = rng.uniform(2.0, max(2.5, duration - 5.0))
                d = d + (main.lane_offset(forward, target) - d) * smoothstep((times - tc) / 3.0)
            occ = Occupant(main.name, s, d, length, w, _present(main, s))
            if not occ.present.any() or any(occ.conflicts(o) for o in occupants):
                continue
            occupants.append(occ)
            lc_left -= int(changing)
            attrs = ["vehicle.moving"] * len(times)
            actors.append(
                _actor_from_frenet(f"car-{len(actors):03d}", model, main, times, s, d, forward, attrs)
            )
            break
    return actors


def parked_cars(
    roads: list[Road],
    junctions: dict[str, list[JunctionZone]],
    rng: np.random.Generator,
    times: np.ndarray,
    s_window: dict[str, tuple[float, float]],
) -> list[Actor]:
    """Cars parked along the parking strips, away from junctions."""
    actors = []
    for road in roads:
        if road.parking_width <= 0:
            continue
        lo, hi = s_window.get(road.name, (0.0, road.ref.length))
        blocked = [(j.s_min - 14.0, j.s_max + 14.0) for j in junctions.get(road.name, [])]
        for right in (True, False):
            s = max(lo, 6.0) + rng.uniform(0, 6)
            while s < min(hi, road.ref.length - 6.0):
                model = vehicle(rng, kind=str(rng.choice(["sedan", "sedan", "suv", "van"])))
                length = model.size_wlh[1]
                centre = s + length / 2
                if rng.random() < 0.55 and not any(a <= centre <= b for a, b in blocked):
                    ss = np.full(len(times), centre)
                    d = np.full(len(times), road.parking_offset(right) + rng.uniform(-0.15, 0.15))
                    attrs = ["vehicle.parked"] * len(times)
                    actors.append(
                        _actor_from_frenet(
                            f"parked-{len(actors):03d}",
                            model,
                            road,
                            times,
                            ss,
                            d,
                            right,
                            attrs,
                            present=np.ones(len(times), bool),
                        )
                    )
                s += length + rng.uniform(1.0, 5.0)
    return actors


def waiting_cross_traffic(
    cross: Road, zone: JunctionZone, rng: np.random.Generator, times: np.ndarray, prefix: str = ""
) -> list[Actor]:
    """Cars queued at the stop lines of the cross road, and one leaving the junction (actor ids
    start with ``prefix``)."""
    actors = []
    for forward in (True, False):
        stop = zone.s_min - 6.5 if forward else zone.s_max + 6.5
        pos = stop
        for _ in range(int(rng.integers(1, 3))):
            model = vehicle(rng)
            length = model.size_wlh[1]
            centre = pos - length / 2 if forward else pos + length / 2
            ss = np.full(len(times), centre)
            d = np.full(len(times), cross.lane_offset(forward, 0))
            actors.append(
                _actor_from_frenet(
                    f"{prefix}stopped-{len(actors):03d}",
                    model,
                    cross,
                    times,
                    ss,
                    d,
                    forward,
                    ["vehicle.stopped"] * len(times),
                    present=np.ones(len(times), bool),
                )
            )
            pos = (
                centre - length / 2 - rng.uniform(1.5, 3.0)
                if forward
                else centre + length / 2 + rng.uniform(1.5, 3)
            )
    model = vehicle(rng)
    s = zone.s_max + 12.0 + rng.uniform(0, 10) + rng.uniform(6, 9) * (times - times[0])
    d = np.full(len(times), cross.lane_offset(True, 0))
    actors.append(
        _actor_from_frenet(
            f"{prefix}leaving-000", model, cross, times, s, d, True, ["vehicle.moving"] * len(times)
        )
    )
    return actors


def waiting_at_branch(
    road: Road, zone: JunctionZone, rng: np.random.Generator, times: np.ndarray
) -> list[Actor]:
    """A car (sometimes two) waiting at the stop line of a T-junction street to join the main road."""
    actors = []
    pos = zone.s_max + 6.5
    for k in range(int(rng.integers(1, 3))):
        model = vehicle(rng)
        length = model.size_wlh[1]
        centre = pos + length / 2
        ss = np.full(len(times), centre)
        d = np.full(len(times), road.lane_offset(False, 0))
        attrs = ["vehicle.stopped"] * len(times)
        present = np.ones(len(times), bool)
        actors.append(
            _actor_from_frenet(f"waiting-{k:03d}", model, road, times, ss, d, False, attrs, present=present)
        )
        pos = centre + length / 2 + rng.uniform(1.5, 3.0)
    return actors


def pedestrians(
    main: Road,
    zone_main: JunctionZone,
    sidewalk_width: float,
    sidewalk: shapely.Geometry,
    curb: float,
    ego: EgoPlan,
    count: int,
    rng: np.random.Generator,
    times: np.ndarray,
) -> list[Actor]:
    """Pedestrians on the main road's sidewalks: one walks across the side road's zebra crossing
    while the ego approaches, the others walk or stand along the street."""
    actors = []
    t = times - times[0]
    reach = float(ego.s[-1] - ego.s[0])  # [m] the ego's drive: walkers are spread along it
    s_cross = 0.5 * (zone_main.s_min + zone_main.s_max)
    for k in range(count):
        model = pedestrian(rng)
        right = k % 2 == 0
        d_side = -(main.half_width_right + sidewalk_width * rng.uniform(0.45, 0.65))
        if not right:
            d_side = main.half_width_left + sidewalk_width * rng.uniform(0.45, 0.65)
        if k == 0:  # crosses the side road (right of the ego) about when the ego gets there
            v = rng.uniform(1.2, 1.5)
            t_ego = float(np.interp(s_cross, ego.s, t))
            s0 = s_cross - v * t_ego + rng.uniform(-4, 2)
            s = s0 + v * t
            d_side = -(main.half_width_right + sidewalk_width * 0.5)
        elif rng.random() < 0.3:
            s = np.full(len(t), ego.s[0] + rng.uniform(20, max(160.0, reach - 40.0)))
        else:
            v = rng.uniform(1.0, 1.6) * (1 if rng.random() < 0.5 else -1)
            s = ego.s[0] + rng.uniform(15, max(170.0, reach - 30.0)) + v * t
        xy, heading = main.ref.to_xy(s, np.full(len(t), d_side))
        on_walk = shapely.contains_xy(sidewalk, xy[:, 0], xy[:, 1])
        z = np.where(on_walk, curb, 0.0) + model.size_wlh[2] / 2
        states = states_from_path(xy, z, heading if right else heading + np.pi)
        moving = np.linalg.norm(np.gradient(xy, axis=0), axis=1) > 1e-4
        attrs = ["pedestrian.moving" if m else "pedestrian.standing" for m in moving]
        actors.append(Actor(f"ped-{k:03d}", model, times, states, _present(main, s), tuple(attrs)))
    return actors
