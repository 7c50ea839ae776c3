"""Closed-loop metrics (NAVSIM PDMS sub-scores, HUGSIM HD-Score, NeuroNCAP score), as registries.

Per step (each in [0, 1], functions of :class:`~jwmsim.sim.state.StepMeasurements`):

* ``nc`` — no at-fault collision: 0 for a new at-fault contact with a vehicle, pedestrian or
  cyclist, 0.5 with a static object, else 1. At fault (nuPlan's rules, in this order): the ego
  stands (speed < ``stopped_speed``): no; the actor stands: yes; the actor's centre is behind the
  ego's rear axle (rear-end by the other): no; it is ahead of the front axle: yes; otherwise a
  lateral contact is at fault only if the ego is not inside one lane (a corner of its box is
  farther than ``lane_width / 2 + lane_tolerance`` from the centre of the lane nearest its box
  centre, or no lane is near). Each actor's contact counts once per episode.
* ``dac`` — 1 if the ego polygon is covered by the drivable area, else 0.
* ``ttc`` — 0 if the ego and the actors, moved at constant velocity for 0.1 .. 1.0 s, would
  overlap with an actor ahead of the ego (standing ego: 1).
* ``ep`` — ego progress, NAVSIM (``navsim/.../pdm_planner/scoring/pdm_scorer.py``,
  ``_aggregate_scores``): ``p / max(p, r)`` where ``p`` is the ego's progress along the route from
  the start and ``r`` the progress of a **reference planner** (PDM-Closed,
  ``jwmsim_agents.pdm_closed``) on the same run by the same step, zeroed where the reference
  collided at fault or left the drivable area; 1 when ``max(p, r) <= min_expert_progress``
  (NAVSIM's ``progress_distance_threshold`` = 5 m). Without a reference (the environment, the
  viewer) ``r`` is the logged ego's progress and the ratio is clipped to [0, 1].
* ``c`` — per step, the causal version used by rewards and the HD-Score: 1 if |lat acc| <= 4.89,
  lon acc in [-4.05, 2.40], |lon jerk| <= 4.13, |jerk| <= 8.37, |yaw rate| <= 0.95, |yaw acc| <=
  1.93 (SI), else 0; accelerations and yaw rate are those of the step, jerks and yaw acceleration
  least-squares slopes over the last ``comfort_window`` (default 5, i.e. 0.4 s) samples (at the
  start the window holds the logged ego of the preceding steps).

Per episode (from :class:`~jwmsim.sim.state.EpisodeAccumulator`): ``nc``, ``dac``, ``ttc`` are
minima over the steps; ``c`` is nuPlan's ``ego_is_comfortable`` over the whole ego trajectory
(Savitzky-Golay filtered signals, :mod:`jwmsim.sim.comfort`); ``ep`` is NAVSIM's at the last step,
``p m / max(p m, r)`` with the multiplier ``m = nc dac`` on the ego's progress (0 where ``m = 0``
and ``max <= 5 m``), ``p`` and ``r`` capped at the route length (``p`` counts the route as driven
within ``ROUTE_END_TOLERANCE`` of its end, as RC does), or the last step's ratio to the log
without a reference;
``pdms = nc dac (5 ep + 5 ttc + 2 c) / 12``;
``rc`` = best progress / route length, and 1 within ``ROUTE_END_TOLERANCE`` of its end; the
route length is the distance the logged ego covers in the episode's duration (see
:mod:`jwmsim.sim.route`), so the logged expert scores RC = 1 (the episode ends as
``route_complete``, with that reward, when the progress reaches the route length before the time
limit); ``hd_score = rc * mean_t[nc_t dac_t (5 ttc_t + 2 c_t) / 7]``; ``neuroncap = 5`` without
collision, else ``4 max(0, 1 - v_impact / v_ref)`` for the first collision (any fault), where
``v_impact`` is the ego-actor relative speed and ``v_ref`` that of the **non-reacting ego** (the
logged ego: logged speed and heading at that time, held after the log's end; a scenario's ego start
speed replaces the logged speed; :func:`jwmsim.sim.world.reference_velocity`) against the same
actor; ``collision`` 1 if any at-fault collision; ``comfort_rate`` the fraction of
comfortable steps.

Red lights (:mod:`jwmsim.sim.signals` defines a run: the ego's tail crosses a light's stop line
while it is red, as CARLA's ``RunningRedLightTest`` does): ``red_lights`` counts the lights run;
``red_light_penalty = 0.7 ** red_lights`` is the factor Bench2Drive's driving score (CARLA
leaderboard 2.0) multiplies per red light run (``PENALTY_VALUE_DICT``: ``RED_LIGHT`` 0.7). NAVSIM's
PDMS and nuPlan's closed-loop score count no traffic lights, so ``pdms`` leaves them out; NAVSIM
v2's extended score multiplies a traffic-light compliance term (0 when a red light is run).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType

import numpy as np

from jwmsim.config import SimConfig
from jwmsim.registry import ENTRY_POINT_GROUPS, Registry
from jwmsim.sim.comfort import is_comfortable
from jwmsim.sim.state import EpisodeAccumulator, Penalty, StepMeasurements

StepMetricFn = Callable[[StepMeasurements, SimConfig], float]
EpisodeMetricFn = Callable[[EpisodeAccumulator, float, SimConfig], float]

RED_LIGHT_PENALTY = 0.7  # Bench2Drive / CARLA leaderboard: driving score factor per red light run

# [m] RC counts the route as driven this close to its end (well above the ~0.05 m by which a
# closed-loop replay of the logged path trails the log)
ROUTE_END_TOLERANCE = 2.0

STEP_METRICS: Registry[StepMetricFn] = Registry("step metric")


def _check_metric(item: object) -> None:
    if not callable(item):
        raise TypeError(f"{item!r} is not an episode metric (acc, route_length, cfg) -> float")


# Episode metrics are the entries of the ``jwmsim.metrics`` entry-point group (jwmsim's own are
# declared in pyproject.toml: ``name = "module:function"``, each ``(acc, route_length, cfg) -> float``).
EPISODE_METRICS: Registry[EpisodeMetricFn] = Registry("metric", ENTRY_POINT_GROUPS["metric"], _check_metric)

AGENT_KINDS = ("vehicle", "pedestrian", "cyclist")


@STEP_METRICS.register("nc")
def no_collision(m: StepMeasurements, cfg: SimConfig) -> float:
    """NAVSIM / nuPlan no-at-fault-collision multiplier for one step: 0 for a new at-fault contact with
    a vehicle, pedestrian or cyclist, 0.5 with a static object, else 1 (fault by nuPlan's rules, see
    the module docstring)."""
    score = 1.0
    for ev in m.collisions:
        if ev.at_fault:
            score = min(score, 0.0 if ev.kind in AGENT_KINDS else 0.5)
    return score


@STEP_METRICS.register("dac")
def drivable_area_compliance(m: StepMeasurements, cfg: SimConfig) -> float:
    """NAVSIM drivable-area compliance for one step: 1 if the ego polygon lies in the drivable area,
    else 0."""
    return 1.0 if m.on_road else 0.0


@STEP_METRICS.register("ttc")
def time_to_collision(m: StepMeasurements, cfg: SimConfig) -> float:
    """NAVSIM time-to-collision for one step: 0 if the ego and the actors, moved at constant velocity
    for 0.1 .. 1.0 s, would overlap with an actor ahead of the ego, else 1."""
    return 0.0 if m.ttc_actor else 1.0


def navsim_progress_ratio(progress: float, reference: float, threshold: float) -> float:
    """NAVSIM's normalised ego progress: ``p / max(p, r)`` for ``p = max(progress, 0)``, and 1 when
    ``max(p, r) <= threshold`` [m] (``progress_distance_threshold``)."""
    p = max(0.0, progress)
    top = max(p, reference)
    return 1.0 if top <= threshold else p / top


@STEP_METRICS.register("ep")
def ego_progress(m: StepMeasurements, cfg: SimConfig) -> float:
    """NAVSIM ego progress for one step: ``p / max(p, r)`` (:func:`navsim_progress_ratio`) against the
    reference planner's progress ``r`` on the same run; without a reference, ``p / p_log`` clipped to
    [0, 1] (1 when the log moved less than ``min_expert_progress``)."""
    if m.reference_progress is not None:
        return navsim_progress_ratio(m.progress, m.reference_progress, cfg.metrics.min_expert_progress)
    if m.expert_progress < cfg.metrics.min_expert_progress:
        return 1.0
    return min(1.0, max(0.0, m.progress / m.expert_progress))


def comfort_violations(m: StepMeasurements, cfg: SimConfig) -> list[str]:
    """Names of the comfort bounds this step violates (empty: comfortable)."""
    c = cfg.comfort
    out = []
    if abs(m.lat_accel) > c.max_abs_lat_accel:
        out.append(f"lat_accel={m.lat_accel:.2f}")
    if not c.min_lon_accel <= m.lon_accel <= c.max_lon_accel:
        out.append(f"lon_accel={m.lon_accel:.2f}")
    if abs(m.lon_jerk) > c.max_abs_lon_jerk:
        out.append(f"lon_jerk={m.lon_jerk:.2f}")
    if abs(m.jerk) > c.max_abs_jerk:
        out.append(f"jerk={m.jerk:.2f}")
    if abs(m.yaw_rate) > c.max_abs_yaw_rate:
        out.append(f"yaw_rate={m.yaw_rate:.2f}")
    if abs(m.yaw_accel) > c.max_abs_yaw_accel:
        out.append(f"yaw_accel={m.yaw_accel:.2f}")
    return out


@STEP_METRICS.register("c")
def comfort(m: StepMeasurements, cfg: SimConfig) -> float:
    """Per-step comfort (the causal version for rewards and the HD-Score): 1 when nuPlan's bounds
    hold (|lat acc| <= 4.89, lon acc in [-4.05, 2.40], |lon jerk| <= 4.13, |jerk| <= 8.37,
    |yaw rate| <= 0.95, |yaw acc| <= 1.93, SI), else 0."""
    return 0.0 if comfort_violations(m, cfg) else 1.0


def step_metrics(m: StepMeasurements, cfg: SimConfig) -> Mapping[str, float]:
    """Every registered step metric by name."""
    return MappingProxyType({name: float(STEP_METRICS.get(name)(m, cfg)) for name in STEP_METRICS})


def hd_step_term(metrics: Mapping[str, float]) -> float:
    """``NC * DAC * (5 TTC + 2 C) / 7`` of one step (HUGSIM)."""
    return metrics["nc"] * metrics["dac"] * (5 * metrics["ttc"] + 2 * metrics["c"]) / 7


def step_penalties(
    step: int, time: float, m: StepMeasurements, metrics: Mapping[str, float], cfg: SimConfig
) -> tuple[Penalty, ...]:
    """Attribution: one :class:`Penalty` per sub-score below 1, with its cause."""
    out = []
    if metrics["nc"] < 1:
        causes = [
            f"{e.type} collision with {e.actor_id} ({e.kind}, {e.v_impact:.1f} m/s)"
            for e in m.collisions
            if e.at_fault
        ]
        out.append(Penalty(step, time, "nc", metrics["nc"], "; ".join(causes)))
    if metrics["dac"] < 1:
        out.append(Penalty(step, time, "dac", metrics["dac"], "ego polygon leaves the drivable area"))
    if metrics["ttc"] < 1:
        out.append(
            Penalty(step, time, "ttc", metrics["ttc"], f"would hit {m.ttc_actor} in {m.ttc_time:.1f} s")
        )
    if metrics["c"] < 1:
        out.append(Penalty(step, time, "c", metrics["c"], ", ".join(comfort_violations(m, cfg))))
    for light in m.red_lights:
        out.append(Penalty(step, time, "red_light", RED_LIGHT_PENALTY, f"ran the red light {light}"))
    return tuple(out)


# --- episode ------------------------------------------------------------------------------------
def episode_nc(acc: EpisodeAccumulator, route_length: float, cfg: SimConfig) -> float:
    """NAVSIM NC of the episode: the minimum of the step scores (0, 0.5 or 1)."""
    return acc.nc


def episode_dac(acc: EpisodeAccumulator, route_length: float, cfg: SimConfig) -> float:
    """NAVSIM DAC of the episode: the minimum of the step scores."""
    return acc.dac


def episode_ttc(acc: EpisodeAccumulator, route_length: float, cfg: SimConfig) -> float:
    """NAVSIM TTC of the episode: the minimum of the step scores."""
    return acc.ttc


def episode_comfort(acc: EpisodeAccumulator, route_length: float, cfg: SimConfig) -> float:
    """nuPlan ``ego_is_comfortable`` over the whole ego trajectory: 1 when every Savitzky-Golay
    filtered signal (:mod:`jwmsim.sim.comfort`) stays within its bound at every sample, else 0."""
    if len(acc.trace) < 2:
        return acc.comfort
    yaw, lon, lat = np.asarray(acc.trace, dtype=np.float64).T
    return 1.0 if is_comfortable(yaw, lon, lat, cfg.dt, cfg.comfort) else 0.0


def episode_ep(acc: EpisodeAccumulator, route_length: float, cfg: SimConfig) -> float:
    """NAVSIM ego progress of the episode: ``p m / max(p m, r)`` at the last step, with ``m = nc dac``,
    ``p`` the ego's and ``r`` the reference planner's progress [m], both capped at the route length;
    1 (0 where ``m = 0``) when ``max(p m, r) <= min_expert_progress`` (NAVSIM's 5 m threshold)."""
    if acc.reference_last is None or acc.steps == 0:
        return acc.ep
    multiplier = acc.nc * acc.dac
    # the route ends where the expert's episode does (RC): progress past its end is no progress,
    # and the ego within ROUTE_END_TOLERANCE of the end has driven it, as for RC
    progress = max(0.0, acc.progress_last)
    if route_length > 0 and progress >= route_length - ROUTE_END_TOLERANCE:
        progress = max(progress, route_length)
    reference = min(acc.reference_last, route_length) if route_length > 0 else acc.reference_last
    p = min(progress, route_length) * multiplier if route_length > 0 else progress * multiplier
    top = max(p, reference)
    if top <= cfg.metrics.min_expert_progress:
        return 1.0 if multiplier > 0 else 0.0
    return p / top


def pdms(acc: EpisodeAccumulator, route_length: float, cfg: SimConfig) -> float:
    """NAVSIM PDM score: ``nc dac (5 ep + 5 ttc + 2 c) / 12``."""
    ep = episode_ep(acc, route_length, cfg)
    c = episode_comfort(acc, route_length, cfg)
    return acc.nc * acc.dac * (5 * ep + 5 * acc.ttc + 2 * c) / 12


def route_completion(acc: EpisodeAccumulator, route_length: float, cfg: SimConfig) -> float:
    """Route completion (CARLA / Bench2Drive): best progress / route length, clipped to [0, 1],
    and 1 within ``ROUTE_END_TOLERANCE`` of the route's end."""
    if route_length <= 0 or acc.progress_max >= route_length - ROUTE_END_TOLERANCE:
        return 1.0
    return min(1.0, max(0.0, acc.progress_max / route_length))


def hd_score(acc: EpisodeAccumulator, route_length: float, cfg: SimConfig) -> float:
    """HUGSIM HD-Score: ``rc * mean_t[nc_t dac_t (5 ttc_t + 2 c_t) / 7]`` over the steps."""
    if acc.steps == 0:
        return 0.0
    return route_completion(acc, route_length, cfg) * acc.hd_sum / acc.steps


def neuroncap_from_speeds(v_impact: float, v_ref: float) -> float:
    """``4 max(0, 1 - v_impact / v_ref)``; a contact at (near) zero relative speed scores 4, one
    without a reference speed (``v_ref`` ~ 0) but with impact speed scores 0."""
    if v_impact < 1e-6:
        return 4.0
    if v_ref < 1e-6:
        return 0.0
    return 4.0 * max(0.0, 1.0 - v_impact / v_ref)


def neuroncap_score(acc: EpisodeAccumulator, route_length: float, cfg: SimConfig) -> float:
    """NeuroNCAP score: 5 without collision, else ``4 max(0, 1 - v_impact / v_ref)`` for the first
    collision (:func:`neuroncap_from_speeds`), ``v_ref`` the non-reacting ego's relative speed."""
    if not acc.collisions:
        return 5.0
    first = acc.collisions[0]
    return neuroncap_from_speeds(first.v_impact, first.v_ref)


def collision_flag(acc: EpisodeAccumulator, route_length: float, cfg: SimConfig) -> float:
    """1 if the episode had any at-fault collision (nuPlan's fault rules), else 0."""
    return 1.0 if any(e.at_fault for e in acc.collisions) else 0.0


def red_light_count(acc: EpisodeAccumulator, route_length: float, cfg: SimConfig) -> float:
    """Red lights the ego ran, each light once: its tail crossed the stop line during red, as CARLA's
    ``RunningRedLightTest`` counts it for Bench2Drive (:mod:`jwmsim.sim.signals`)."""
    return float(len(acc.red_lights))


def red_light_penalty(acc: EpisodeAccumulator, route_length: float, cfg: SimConfig) -> float:
    """``0.7 ** red lights run``: Bench2Drive's infraction factor for running red lights."""
    return RED_LIGHT_PENALTY ** len(acc.red_lights)


def comfort_rate(acc: EpisodeAccumulator, route_length: float, cfg: SimConfig) -> float:
    """The fraction of steps whose per-step comfort is 1 (1 for an episode without steps)."""
    return acc.comfortable_steps / acc.steps if acc.steps else 1.0


def episode_metrics(acc: EpisodeAccumulator, route_length: float, cfg: SimConfig) -> dict[str, float]:
    """Every registered episode metric by name."""
    return {name: float(EPISODE_METRICS.get(name)(acc, route_length, cfg)) for name in EPISODE_METRICS}
