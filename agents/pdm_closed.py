"""Reference planner after PDM-Closed (Dauner et al. 2023, "Parting with Misconceptions about
Learning-based Vehicle Motion Planning"; NAVSIM's ``pdm_closed_planner.py`` and ``pdm_scorer.py``).

Every step it rolls out ``len(lateral_offsets) * len(speed_fractions)`` proposals along the route
centreline over ``horizon`` seconds and executes the first control of the best one:

1. **Proposals**: the centreline shifted by each lateral offset [m] (reached along a quintic
   profile over ``lateral_time``), each driven by IDM / ACC (:mod:`._idm`) towards a target speed
   ``fraction * speed_limit``; the speed limit is the logged ego's 90th-percentile speed over the
   episode (the procedural town and the logs carry no speed limits), at least
   ``min_speed_limit``.
2. **Forecast**: the other actors move at constant velocity, in route (Frenet) coordinates: each
   actor is a box with its along-route and across-route half extents.
3. **Scoring** (NAVSIM's PDM score of a proposal): multiplicative NC (0 on overlap with an agent
   ahead of the ego's rear axle, 0.5 with a static object) and DAC (the ego box at every
   ``check_every`` step inside the drivable area), weighted EP (progress over the best
   progress of the proposals that keep NC and DAC, 1 when that is below 5 m), TTC (0 when, at a
   constant velocity held for 1 s, the ego would close the gap to the actor ahead) and C
   (nuPlan's comfort, :mod:`jwmsim.sim.comfort`, on the proposal); score ``NC DAC (5 EP + 5 TTC +
   2 C) / 12``. Ties go to the earlier proposal: centreline first, fastest first.
4. **Execution**: the chosen proposal's first acceleration; steering by pure pursuit towards
   the proposal's path.

A traffic light's stop line the ego must stop for (red; yellow when it can still stop at the
comfortable deceleration: :func:`jwmsim.sim.signals.must_stop`) stops every proposal like a standing
car, as PDM-Closed treats the lanes behind red lights as blocked.

It is the EP reference of the closed-loop evaluation (:mod:`jwmsim.ep_reference`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from jwmsim.planning import Planner
from jwmsim.sim.actions import action_type
from jwmsim.sim.collision import box_polygons
from jwmsim.sim.comfort import comfort_signals, comfortable
from jwmsim.sim.context import World
from jwmsim.sim.signals import route_stop_ahead
from jwmsim.sim.sim_state import SimState

from ._idm import CarFollowing, acc_acceleration

STATIC_KINDS = ("static",)
TTC_HORIZON = 1.0  # [s] NAVSIM's time-to-collision horizon
PROGRESS_THRESHOLD = 5.0  # [m] NAVSIM's progress_distance_threshold


def _smoothstep5(u: np.ndarray) -> np.ndarray:
    u = np.clip(u, 0.0, 1.0)
    return u * u * u * (10.0 - 15.0 * u + 6.0 * u * u)


def _smoothstep5_dd(u: np.ndarray) -> np.ndarray:
    """Second derivative of the quintic smooth step with respect to ``u`` (0 outside [0, 1])."""
    inside = (u > 0.0) & (u < 1.0)
    return np.where(inside, 60.0 * u - 180.0 * u**2 + 120.0 * u**3, 0.0)


class PDMClosedPlanner(Planner):
    """PDM-Closed: IDM proposals at several target speeds and lateral offsets, scored on a short
    forecast, the best one executed (see the module docstring).

    Args:
        speed_fractions: target speeds as fractions of the speed limit.
        lateral_offsets: offsets of the centreline [m] (left positive).
        horizon: proposal length [s]; check_every: collision / drivable-area checks every this
            many simulation steps.
        lateral_time: time to reach a lateral offset [s].
        min_speed_limit: lower bound of the speed limit [m/s].
        max_jerk: limit on the change of the acceleration [m/s^3] within a proposal, lifted when
            more than ``emergency_decel`` [m/s^2] of braking is asked for.
        lookahead_time / min_lookahead: pure-pursuit look-ahead [s] / [m].
        car_following: IDM / ACC parameters.
    """

    name = "pdm_closed"

    def __init__(
        self,
        speed_fractions: Sequence[float] = (1.0, 0.8, 0.6, 0.4, 0.2),
        lateral_offsets: Sequence[float] = (0.0, -1.0, 1.0),
        horizon: float = 4.0,
        check_every: int = 2,
        lateral_time: float = 2.5,
        min_speed_limit: float = 6.0,
        max_jerk: float = 2.5,
        emergency_decel: float = 4.0,
        lookahead_time: float = 1.0,
        min_lookahead: float = 5.0,
        car_following: CarFollowing | None = None,
    ) -> None:
        super().__init__()
        self.speed_fractions = np.asarray(speed_fractions, dtype=np.float64)
        self.lateral_offsets = np.asarray(lateral_offsets, dtype=np.float64)
        self.horizon = float(horizon)
        self.check_every = int(check_every)
        self.lateral_time = float(lateral_time)
        self.min_speed_limit = float(min_speed_limit)
        self.max_jerk = float(max_jerk)
        self.emergency_decel = float(emergency_decel)
        self.lookahead_time = float(lookahead_time)
        self.min_lookahead = float(min_lookahead)
        self.car_following = car_following or CarFollowing()
        self.speed_limit = self.min_speed_limit
        self.last_scores: np.ndarray | None = None  # [K] PDM scores of the last step's proposals
        self.last_choice: int = -1

    def reset(self, world: World) -> None:
        super().reset(world)
        s = np.asarray(world.route.expert_s, dtype=np.float64)
        v = np.diff(s) / world.config.dt if len(s) > 1 else np.zeros(1)
        self.speed_limit = max(self.min_speed_limit, float(np.percentile(v, 90)))

    # --- proposals ------------------------------------------------------------------------------
    def proposals(self) -> tuple[np.ndarray, np.ndarray]:
        """``(target speed [K] [m/s], lateral offset [K] [m])``: offsets outer, speeds inner."""
        off, frac = np.meshgrid(self.lateral_offsets, self.speed_fractions, indexing="ij")
        return (frac * self.speed_limit).ravel(), off.ravel()

    def _forecast_actors(self, state: SimState) -> dict[str, np.ndarray]:
        """Active actors within reach, in route coordinates: ``s``, ``d`` [m], ``vs``, ``vd``
        [m/s], half extents ``hs``, ``hd`` [m], ``static`` flags."""
        actors, ego, route = state.actors, state.ego, state.world.route
        reach = 30.0 + self.horizon * max(ego.speed, self.speed_limit) * 1.5
        near = np.flatnonzero(actors.active & (np.hypot(actors.x - ego.x, actors.y - ego.y) <= reach))
        if len(near) == 0:
            return {k: np.zeros(0) for k in ("s", "d", "vs", "vd", "hs", "hd", "static")}
        s, d = route.project_many(np.stack([actors.x[near], actors.y[near]], 1), state.route_s)
        _, heading = route.line.interpolate(s)
        rel = actors.yaw[near] - heading
        c, sn = np.cos(rel), np.sin(rel)
        length, width = actors.length[near], actors.width[near]
        kinds = np.array([actors.kinds[i] for i in near])
        return {
            "s": s,
            "d": d,
            "vs": actors.speed[near] * c,
            "vd": actors.speed[near] * sn,
            "hs": 0.5 * (length * np.abs(c) + width * np.abs(sn)),
            "hd": 0.5 * (length * np.abs(sn) + width * np.abs(c)),
            "static": np.isin(kinds, STATIC_KINDS),
        }

    def rollout(self, state: SimState) -> dict[str, np.ndarray]:
        """Roll every proposal out over the horizon and score it.

        Returns:
            ``s``, ``d``, ``v``, ``a`` ``[K, T+1]`` (rear axle along the route [m], lateral offset
            [m], speed [m/s], acceleration [m/s^2]) and ``nc``, ``dac``, ``ep``, ``ttc``, ``c``,
            ``score`` ``[K]``.
        """
        world, ego = state.world, state.ego
        cfg, veh = world.config, world.config.vehicle
        dt = cfg.dt
        n = max(1, int(round(self.horizon / dt)))
        v_target, offset = self.proposals()
        k = len(v_target)
        _, d0 = world.route.project(ego.x, ego.y, s_hint=state.route_s)
        act = self._forecast_actors(state)
        front = veh.length - veh.rear_overhang  # rear axle -> front bumper [m]
        half_w = 0.5 * veh.width
        s = np.full(k, state.route_s)
        v = np.full(k, ego.speed)
        a = np.full(k, ego.accel)
        t_grid = np.arange(n + 1) * dt
        d_path = d0 + (offset[:, None] - d0) * _smoothstep5(t_grid[None, :] / self.lateral_time)
        out_s, out_v, out_a = [s.copy()], [v.copy()], [a.copy()]
        collided = np.zeros(k, dtype=bool)
        hit_static = np.zeros(k, dtype=bool)
        ttc_bad = np.zeros(k, dtype=bool)
        step_jerk = self.max_jerk * dt
        stop_s = route_stop_ahead(
            world.signals, state.log_time, state.route_s + front, ego.speed, self.car_following.comfort_decel
        )
        for j in range(n + 1):
            t = t_grid[j]
            sa = act["s"] + act["vs"] * t  # [M]
            da = act["d"] + act["vd"] * t
            lateral = np.abs(da[None, :] - d_path[:, j : j + 1]) < (act["hd"][None, :] + half_w + 0.3)
            ahead = sa[None, :] > s[:, None]  # actor centre ahead of the rear axle
            gaps = np.where(lateral & ahead, sa[None, :] - act["hs"][None, :] - (s[:, None] + front), np.inf)
            lead = np.argmin(gaps, axis=1) if len(sa) else np.zeros(k, dtype=int)
            gap = gaps[np.arange(k), lead] if len(sa) else np.full(k, np.inf)
            v_lead = act["vs"][lead] if len(sa) else np.zeros(k)
            if len(sa):
                tight = np.abs(da[None, :] - d_path[:, j : j + 1]) < (act["hd"][None, :] + half_w)
                body = (sa[None, :] + act["hs"][None, :] > s[:, None] - veh.rear_overhang) & (
                    sa[None, :] - act["hs"][None, :] < s[:, None] + front
                )
                touch = tight & body & ahead
                new_hit = touch.any(axis=1)
                collided |= new_hit & (touch & ~act["static"][None, :]).any(axis=1)
                hit_static |= new_hit & (touch & act["static"][None, :]).any(axis=1)
                moving = v > cfg.metrics.stopped_speed
                ttc_bad |= moving & np.isfinite(gap) & (gap > 0) & (gap - (v - v_lead) * TTC_HORIZON < 0)
            if j == n:
                break
            if stop_s is not None:  # the stop line of a red light leads like a standing car
                stop_gap = stop_s - (s + front)
                closer = (stop_gap > 0.0) & (stop_gap < gap)
                gap, v_lead = np.where(closer, stop_gap, gap), np.where(closer, 0.0, v_lead)
            target = acc_acceleration(self.car_following, v, v_target, gap, v_lead, 0.0)
            target = np.clip(target, -veh.max_decel, veh.max_accel)
            limited = np.clip(target, a - step_jerk, a + step_jerk)
            a = np.where(target <= -self.emergency_decel, target, limited)
            v_new = np.maximum(0.0, v + a * dt)
            a = (v_new - v) / dt
            s = s + 0.5 * (v + v_new) * dt
            v = v_new
            out_s.append(s.copy())
            out_v.append(v.copy())
            out_a.append(a.copy())
        s_all, v_all, a_all = (np.stack(x, axis=1) for x in (out_s, out_v, out_a))
        nc = np.where(collided, 0.0, np.where(hit_static, 0.5, 1.0))
        dac = self._drivable(world, s_all, d_path)
        multiplier = nc * dac
        progress = (s_all[:, -1] - s_all[:, 0]) * multiplier
        best = float(progress.max())
        ep = progress / best if best > PROGRESS_THRESHOLD else np.where(multiplier > 0, 1.0, 0.0)
        ttc = np.where(ttc_bad, 0.0, 1.0)
        lat_acc = (offset[:, None] - d0) * _smoothstep5_dd(t_grid[None, :] / self.lateral_time)
        lat_acc = lat_acc / self.lateral_time**2
        _, heading = world.route.line.interpolate(s_all.ravel())
        heading = heading.reshape(s_all.shape)
        c = comfortable(comfort_signals(heading, a_all, lat_acc, dt), cfg.comfort).astype(np.float64)
        score = multiplier * (5 * ep + 5 * ttc + 2 * c) / 12
        return {
            "s": s_all,
            "d": d_path,
            "v": v_all,
            "a": a_all,
            "nc": nc,
            "dac": dac,
            "ep": ep,
            "ttc": ttc,
            "c": c,
            "score": score,
        }

    def _drivable(self, world: World, s_all: np.ndarray, d_path: np.ndarray) -> np.ndarray:
        """``[K]`` 1 where the ego box stays in the drivable area at every checked step, else 0."""
        veh = world.config.vehicle
        cols = np.arange(0, s_all.shape[1], self.check_every)
        ss, dd = s_all[:, cols], d_path[:, cols]
        xy, yaw = world.route.line.interpolate(ss.ravel())
        yaw = yaw.reshape(ss.shape)
        x = xy[:, 0].reshape(ss.shape) - dd * np.sin(yaw) + veh.centre_offset * np.cos(yaw)
        y = xy[:, 1].reshape(ss.shape) + dd * np.cos(yaw) + veh.centre_offset * np.sin(yaw)
        polys = box_polygons(x.ravel(), y.ravel(), yaw.ravel(), veh.length, veh.width)
        inside = world.road.covers(polys).reshape(ss.shape)
        return inside.all(axis=1).astype(np.float64)

    # --- control --------------------------------------------------------------------------------
    def compute_action(self, state: SimState, observation: Mapping[str, np.ndarray] | None) -> np.ndarray:
        world, ego = state.world, state.ego
        cfg = world.config
        roll = self.rollout(state)
        best = int(np.argmax(roll["score"]))
        self.last_scores, self.last_choice = roll["score"], best
        accel = float(roll["a"][best, 1])
        route = world.route.line
        look = max(self.min_lookahead, self.lookahead_time * ego.speed)
        s_look = state.route_s + look
        d_look = float(np.interp(s_look, roll["s"][best], roll["d"][best], right=roll["d"][best, -1]))
        tx, ty, _ = route.frenet_to_xy(s_look, d_look)
        alpha = math.atan2(ty - ego.y, tx - ego.x) - ego.yaw
        dist = math.hypot(tx - ego.x, ty - ego.y)
        steer = math.atan2(2.0 * cfg.vehicle.wheelbase * math.sin(alpha), max(dist, 1e-3))

        def path() -> np.ndarray:  # the chosen proposal's path, from the ego on (1 m apart)
            s_path = np.arange(state.route_s, state.route_s + 200.0, 1.0)
            xy, yaw = route.interpolate(s_path)
            d_s = np.interp(s_path, roll["s"][best], roll["d"][best], right=float(roll["d"][best, -1]))
            xy = xy + d_s[:, None] * np.stack([-np.sin(yaw), np.cos(yaw)], 1)
            xy[0] = (ego.x, ego.y)
            return xy

        return action_type(cfg).encode(accel, steer, ego, cfg, path)
