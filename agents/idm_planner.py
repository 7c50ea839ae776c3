"""Rule-based planner: IDM speed control behind the leader on the route, pure-pursuit steering.

Longitudinal: the Intelligent Driver Model (Treiber et al. 2000),
``a = a_max [1 - (v / v0)^4 - (s* / gap)^2]`` with ``s* = s0 + v T + v dv / (2 sqrt(a_max b))``,
blended with the constant-acceleration heuristic as in the ACC model of Kesting et al. 2010
(:mod:`._idm`; ``coolness=0`` gives plain IDM), which keeps IDM from braking hard for a car that
cuts in close but barely slower. The leader is the nearest active actor ahead whose box centre
lies within ``corridor`` metres of the route centreline; the gap runs bumper to bumper along the
route. The stop line of a traffic light the ego must stop for (red; yellow when it can still stop
at ``comfort_decel``: :func:`jwmsim.sim.signals.must_stop`) leads like a standing car.
Lateral: pure pursuit towards the route point ``max(min_lookahead, lookahead_time * v)`` ahead of
the rear axle: ``steer = atan(2 L sin(alpha) / lookahead)``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from jwmsim.planning import Planner
from jwmsim.sim.actions import action_type
from jwmsim.sim.signals import route_stop_ahead
from jwmsim.sim.sim_state import SimState
from jwmsim.sim.world import World

from ._idm import CarFollowing, acc_acceleration


class IDMPlanner(Planner):
    """IDM + pure pursuit along the route.

    Args:
        target_speed: desired speed v0 [m/s]; None: the logged ego's 90th-percentile speed over
            the episode, at least ``min_target_speed``.
        time_headway: T [s]; min_gap: s0 [m]; max_accel: a_max [m/s^2]; comfort_decel: b [m/s^2].
        corridor: half width [m] around the route in which actors count as leaders.
        lookahead_time / min_lookahead: pure-pursuit look-ahead [s] / [m].
        max_jerk: limit on the change of the commanded acceleration [m/s^3] (comfort), lifted
            when IDM asks for more than ``emergency_decel`` of braking.
        coolness: c of the ACC blend with the constant-acceleration heuristic (0: plain IDM).
    """

    name = "idm"

    def __init__(
        self,
        target_speed: float | None = None,
        min_target_speed: float = 6.0,
        time_headway: float = 1.5,
        min_gap: float = 2.5,
        max_accel: float = 1.5,
        comfort_decel: float = 2.5,
        corridor: float = 1.8,
        lookahead_time: float = 1.0,
        min_lookahead: float = 5.0,
        max_jerk: float = 2.5,
        emergency_decel: float = 4.0,
        coolness: float = 0.99,
    ) -> None:
        super().__init__()
        self.target_speed = target_speed
        self.min_target_speed = min_target_speed
        self.time_headway = time_headway
        self.min_gap = min_gap
        self.max_accel = max_accel
        self.comfort_decel = comfort_decel
        self.corridor = corridor
        self.lookahead_time = lookahead_time
        self.min_lookahead = min_lookahead
        self.max_jerk = max_jerk
        self.emergency_decel = emergency_decel
        self.coolness = coolness
        self._v0 = target_speed or min_target_speed

    def reset(self, world: World) -> None:
        super().reset(world)
        if self.target_speed is None:
            s = np.asarray(world.route.expert_s, dtype=np.float64)
            v = np.diff(s) / world.config.dt if len(s) > 1 else np.zeros(1)
            self._v0 = max(self.min_target_speed, float(np.percentile(v, 90)))
        else:
            self._v0 = self.target_speed

    def leader(self, state: SimState) -> tuple[float, float, str]:
        """``(gap [m], leader speed along the route [m/s], leader id)``; ``(inf, 0, '')`` if none.
        Actors heading more than 90 degrees away from the route (oncoming) lead with a negative
        speed."""
        world, actors = state.world, state.actors
        route = world.route
        front = world.config.vehicle.length - world.config.vehicle.rear_overhang
        best = (math.inf, 0.0, "")
        near = np.flatnonzero(
            actors.active & ((actors.x - state.ego.x) ** 2 + (actors.y - state.ego.y) ** 2 <= 120.0**2)
        )
        if len(near) == 0:
            return best
        s_all, d_all = route.project_many(np.stack([actors.x[near], actors.y[near]], 1), state.route_s)
        for i, s, d in zip(near, s_all, d_all, strict=True):
            if abs(d) > self.corridor + 0.5 * float(actors.width[i]) * 0.5 or s <= state.route_s:
                continue
            gap = float(s) - state.route_s - front - 0.5 * float(actors.length[i])
            if gap < best[0]:
                _, _, heading = route.line.pose_at(float(s))
                v_along = float(actors.speed[i]) * math.cos(float(actors.yaw[i]) - heading)
                best = (gap, v_along, actors.ids[i])
        return best

    def signal_gap(self, state: SimState) -> float:
        """Gap [m] from the front bumper to the stop line of the light ahead the ego must stop
        for (inf: none)."""
        veh = state.world.config.vehicle
        front_s = state.route_s + veh.length - veh.rear_overhang
        stop = route_stop_ahead(
            state.world.signals, state.log_time, front_s, state.ego.speed, self.comfort_decel
        )
        return math.inf if stop is None else stop - front_s

    def car_following(self) -> CarFollowing:
        """The IDM / ACC parameters of this planner."""
        return CarFollowing(
            time_headway=self.time_headway,
            min_gap=self.min_gap,
            max_accel=self.max_accel,
            comfort_decel=self.comfort_decel,
            coolness=self.coolness,
        )

    def idm_accel(self, v: float, gap: float, v_lead: float, a_lead: float = 0.0) -> float:
        """ACC (IDM + CAH) acceleration [m/s^2] at speed ``v`` with ``gap`` to a leader at
        ``v_lead`` accelerating at ``a_lead``."""
        return float(acc_acceleration(self.car_following(), v, self._v0, gap, v_lead, a_lead))

    def compute_action(self, state: SimState, observation: Mapping[str, np.ndarray] | None) -> np.ndarray:
        world, ego = state.world, state.ego
        cfg = world.config
        gap, v_lead, lead_id = self.leader(state)
        a_lead = float(state.actors.accel[state.actors.index(lead_id)]) if lead_id else 0.0
        stop_gap = self.signal_gap(state)
        if stop_gap < gap:  # a red light ahead: stop at its line
            gap, v_lead, a_lead = stop_gap, 0.0, 0.0
        target = max(-cfg.vehicle.max_decel, self.idm_accel(ego.speed, gap, v_lead, a_lead))
        step = self.max_jerk * cfg.dt
        accel = (
            target
            if target <= -self.emergency_decel
            else min(max(target, ego.accel - step), ego.accel + step)
        )
        route = world.route.line
        look = max(self.min_lookahead, self.lookahead_time * ego.speed)
        tx, ty, _ = route.pose_at(state.route_s + look)
        alpha = math.atan2(ty - ego.y, tx - ego.x) - ego.yaw
        dist = math.hypot(tx - ego.x, ty - ego.y)
        steer = math.atan2(2.0 * cfg.vehicle.wheelbase * math.sin(alpha), max(dist, 1e-3))

        def path() -> np.ndarray:  # the route ahead, from the ego on (1 m apart)
            xy, _ = route.interpolate(np.arange(state.route_s, state.route_s + 200.0, 1.0))
            xy[0] = (ego.x, ego.y)
            return xy

        return action_type(cfg).encode(accel, steer, ego, cfg, path)
