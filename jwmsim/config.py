"""Frozen configuration dataclasses, with units in comments and cross-field checks.

Sections are owned by the package they configure; each validates itself in ``__post_init__`` and
raises :class:`~jwmsim.errors.ConfigError` naming the field and a valid range.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from jwmsim.errors import ConfigError


def _check(cond: bool, section: str, name: str, value: object, need: str) -> None:
    if not cond:
        raise ConfigError(f"{section}.{name} = {value!r} is invalid", hint=f"{name} must be {need}")


# ------------------------------------------------------------------------------------------------
# Simulation (jwmsim.sim)
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class VehicleLimits:
    """Ego vehicle geometry and the physical limits the normalised action maps to.

    The ego origin is the rear-axle centre on the ground (nuScenes ego frame); the box extends
    ``rear_overhang`` behind it and ``length - rear_overhang`` ahead of it.
    """

    length: float = 4.8  # [m] bumper to bumper
    width: float = 2.0  # [m]
    height: float = 1.7  # [m]
    wheelbase: float = 2.8  # [m] rear axle to front axle
    rear_overhang: float = 1.0  # [m] rear bumper to rear axle
    max_accel: float = 4.0  # [m/s^2] action +1
    max_decel: float = 8.0  # [m/s^2] (positive) action -1
    max_steer: float = 0.6  # [rad] front-wheel angle at action +-1
    max_steer_rate: float = math.inf  # [rad/s] steering slew limit (inf: none)
    max_speed: float = 40.0  # [m/s]; the bicycle model does not reverse (speed >= 0)

    def __post_init__(self) -> None:
        s = "VehicleLimits"
        for name in (
            "length",
            "width",
            "height",
            "wheelbase",
            "max_accel",
            "max_decel",
            "max_steer",
            "max_speed",
        ):
            v = getattr(self, name)
            _check(math.isfinite(v) and v > 0, s, name, v, "a finite number > 0")
        _check(
            0 <= self.rear_overhang < self.length, s, "rear_overhang", self.rear_overhang, "in [0, length)"
        )
        _check(self.wheelbase < self.length, s, "wheelbase", self.wheelbase, "shorter than length")
        _check(self.max_steer < math.pi / 2, s, "max_steer", self.max_steer, "below pi/2 rad")
        _check(self.max_steer_rate > 0, s, "max_steer_rate", self.max_steer_rate, "> 0 (inf for none)")

    @property
    def centre_offset(self) -> float:
        """Distance [m] from the rear axle (ego origin) forward to the box centre."""
        return self.length / 2 - self.rear_overhang


@dataclass(frozen=True)
class ComfortThresholds:
    """Comfort bounds of the C metric (nuPlan / NAVSIM values, SI units)."""

    max_abs_lat_accel: float = 4.89  # [m/s^2]
    min_lon_accel: float = -4.05  # [m/s^2]
    max_lon_accel: float = 2.40  # [m/s^2]
    max_abs_lon_jerk: float = 4.13  # [m/s^3]
    max_abs_jerk: float = 8.37  # [m/s^3] magnitude of the jerk vector
    max_abs_yaw_rate: float = 0.95  # [rad/s]
    max_abs_yaw_accel: float = 1.93  # [rad/s^2]

    def __post_init__(self) -> None:
        _check(
            self.min_lon_accel < self.max_lon_accel,
            "ComfortThresholds",
            "min_lon_accel",
            self.min_lon_accel,
            "below max_lon_accel",
        )


@dataclass(frozen=True)
class IDMParams:
    """Intelligent Driver Model defaults for released and inserted vehicles (Treiber et al. 2000)."""

    time_headway: float = 1.5  # [s]
    min_gap: float = 2.0  # [m] standstill bumper-to-bumper gap
    max_accel: float = 1.5  # [m/s^2]
    comfortable_decel: float = 2.0  # [m/s^2] (positive)
    exponent: float = 4.0  # free-road exponent delta
    max_decel: float = 8.0  # [m/s^2] (positive) physical braking limit
    lookahead: float = 80.0  # [m] leaders farther than this are ignored
    lane_keep_time: float = 2.0  # [s] time constant pulling a lateral offset back to the lane centre

    def __post_init__(self) -> None:
        for name in (
            "time_headway",
            "max_accel",
            "comfortable_decel",
            "exponent",
            "max_decel",
            "lookahead",
            "lane_keep_time",
        ):
            v = getattr(self, name)
            _check(math.isfinite(v) and v > 0, "IDMParams", name, v, "a finite number > 0")
        _check(self.min_gap >= 0, "IDMParams", "min_gap", self.min_gap, ">= 0")


@dataclass(frozen=True)
class MetricsConfig:
    """Parameters of the closed-loop metrics (see docs/simulation.md, "Metrics")."""

    ttc_horizon: float = 1.0  # [s] constant-velocity projection horizon of TTC
    ttc_step: float = 0.1  # [s] projection step of TTC
    stopped_speed: float = 0.05  # [m/s] below this the ego (or an actor) counts as stopped
    min_expert_progress: float = 5.0  # [m] EP is 1 when the logged expert progressed less than this
    lane_tolerance: float = 0.3  # [m] slack on the lane half-width: is the ego inside its lane (NC)
    comfort_window: int = 5  # [steps] jerks, yaw acc: least-squares slope over this many (2: raw)

    def __post_init__(self) -> None:
        _check(self.comfort_window >= 2, "MetricsConfig", "comfort_window", self.comfort_window, ">= 2")
        _check(
            0 < self.ttc_step <= self.ttc_horizon,
            "MetricsConfig",
            "ttc_step",
            self.ttc_step,
            "in (0, ttc_horizon]",
        )
        _check(
            self.min_expert_progress >= 0,
            "MetricsConfig",
            "min_expert_progress",
            self.min_expert_progress,
            ">= 0",
        )


DEFAULT_REWARD_WEIGHTS: Mapping[str, float] = MappingProxyType(
    {
        "progress": 0.1,  # per metre along the route
        "collision": 10.0,  # per at-fault collision (term is -1 agent, -0.5 static)
        "offroad": 5.0,  # per step with the ego polygon outside the drivable area
        "ttc": 0.5,  # per step with a projected collision within the TTC horizon
        "comfort": 0.05,  # per uncomfortable step
        "lane_deviation": 0.05,  # per step, |lateral offset from the route| / lane width (<= 1)
        "route_complete": 10.0,  # once, on the step the route is completed
    }
)


@dataclass(frozen=True)
class SimConfig:
    """Settings of the pure simulation core (:mod:`jwmsim.sim`).

    ``reward_weights`` maps reward term names (see :mod:`jwmsim.sim.rewards`) to weights; the
    reward is the weighted sum of the terms, which are returned by name as well.
    """

    dt: float = 0.1  # [s] simulation step (10 Hz)
    episode_seconds: float = 60.0  # [s] truncation time
    start_time: float = 0.0  # [s] log time of the first step
    # a name of jwmsim.sim.actions.ACTION_TYPES: "accel_steer" (normalised Box(2)) or "waypoints"
    action_type: str = "accel_steer"
    num_waypoints: int = 4  # waypoint action: points in the ego frame
    waypoint_dt: float = 0.5  # [s] time between waypoints (first one at waypoint_dt)
    # [m] ego-frame ranges that the normalised waypoint action [-1, 1] maps onto (x forward, y left)
    waypoint_x_range: tuple[float, float] = (-5.0, 60.0)
    waypoint_y_range: tuple[float, float] = (-20.0, 20.0)
    lane_width: float = 3.5  # [m] for derived lanes and lane checks
    route_extension: float = 100.0  # [m] the logged ego path is extended by this much ahead
    lane_extension: float = 60.0  # [m] derived lanes are extended by this much at both ends
    traffic_mode: str = "log"  # "log": replay, then IDM after the log; "idm": IDM from the start
    release_at_log_end: bool = True  # actors still annotated at the log's end carry on (IDM)
    release_on_conflict: bool = True  # a log vehicle closing in on the ego switches to IDM
    terminate_on_collision: bool = True  # end the episode at an at-fault collision
    terminate_on_offroad: bool = True  # end the episode when the ego leaves the drivable area
    terminate_on_route_complete: bool = True
    vehicle: VehicleLimits = field(default_factory=VehicleLimits)
    comfort: ComfortThresholds = field(default_factory=ComfortThresholds)
    idm: IDMParams = field(default_factory=IDMParams)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    reward_weights: Mapping[str, float] = field(default_factory=lambda: DEFAULT_REWARD_WEIGHTS)

    def __post_init__(self) -> None:
        s = "SimConfig"
        _check(math.isfinite(self.dt) and 0 < self.dt <= 1.0, s, "dt", self.dt, "in (0, 1] seconds")
        _check(self.episode_seconds >= self.dt, s, "episode_seconds", self.episode_seconds, ">= dt")
        _check(
            math.isfinite(self.start_time) and self.start_time >= 0, s, "start_time", self.start_time, ">= 0"
        )
        _check(self.num_waypoints >= 1, s, "num_waypoints", self.num_waypoints, ">= 1")
        _check(self.waypoint_dt > 0, s, "waypoint_dt", self.waypoint_dt, "> 0")
        for name in ("waypoint_x_range", "waypoint_y_range"):
            rng = getattr(self, name)
            ok = (
                isinstance(rng, (tuple, list))
                and len(rng) == 2
                and all(isinstance(v, (int, float)) and math.isfinite(v) for v in rng)
                and rng[0] < rng[1]
            )
            _check(ok, s, name, rng, "(low, high) in metres with low < high")
            object.__setattr__(self, name, (float(rng[0]), float(rng[1])))
        _check(self.lane_width > 0, s, "lane_width", self.lane_width, "> 0")
        _check(self.route_extension >= 0, s, "route_extension", self.route_extension, ">= 0")
        _check(self.lane_extension >= 0, s, "lane_extension", self.lane_extension, ">= 0")
        _check(self.traffic_mode in ("log", "idm"), s, "traffic_mode", self.traffic_mode, "'log' or 'idm'")
        weights = dict(self.reward_weights)
        for k, v in weights.items():
            _check(
                isinstance(v, (int, float)) and math.isfinite(v),
                s,
                f"reward_weights[{k!r}]",
                v,
                "a finite number",
            )
        object.__setattr__(self, "reward_weights", MappingProxyType(weights))

    @property
    def max_steps(self) -> int:
        """Steps until truncation."""
        return int(round(self.episode_seconds / self.dt))
