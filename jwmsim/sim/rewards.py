"""Reward terms by name (highway-env style): each a function of the step's measurements and
sub-scores; the reward is ``sum(weight[name] * term[name])`` with weights from
``SimConfig.reward_weights`` (terms without a weight count 0 but are still reported).

Built-in terms (before weighting):

* ``progress``: metres advanced along the route this step (negative when going back);
* ``collision``: ``nc - 1`` (-1 at-fault contact with an agent, -0.5 with a static object);
* ``offroad``: ``dac - 1``; ``ttc``: ``ttc - 1``; ``comfort``: ``c - 1``;
* ``lane_deviation``: ``-min(1, |lateral offset from the route| / lane_width)``;
* ``route_complete``: 1 on the step the route is completed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType

from jwmsim.config import SimConfig
from jwmsim.errors import ConfigError
from jwmsim.registry import Registry
from jwmsim.sim.state import StepMeasurements

RewardFn = Callable[[StepMeasurements, Mapping[str, float], SimConfig], float]
REWARD_TERMS: Registry[RewardFn] = Registry("reward term")


@REWARD_TERMS.register("progress")
def progress(m: StepMeasurements, metrics: Mapping[str, float], cfg: SimConfig) -> float:
    return m.progress_step


@REWARD_TERMS.register("collision")
def collision(m: StepMeasurements, metrics: Mapping[str, float], cfg: SimConfig) -> float:
    return metrics["nc"] - 1.0


@REWARD_TERMS.register("offroad")
def offroad(m: StepMeasurements, metrics: Mapping[str, float], cfg: SimConfig) -> float:
    return metrics["dac"] - 1.0


@REWARD_TERMS.register("ttc")
def ttc(m: StepMeasurements, metrics: Mapping[str, float], cfg: SimConfig) -> float:
    return metrics["ttc"] - 1.0


@REWARD_TERMS.register("comfort")
def comfort(m: StepMeasurements, metrics: Mapping[str, float], cfg: SimConfig) -> float:
    return metrics["c"] - 1.0


@REWARD_TERMS.register("lane_deviation")
def lane_deviation(m: StepMeasurements, metrics: Mapping[str, float], cfg: SimConfig) -> float:
    return -min(1.0, abs(m.route_d) / cfg.lane_width)


@REWARD_TERMS.register("route_complete")
def route_complete(m: StepMeasurements, metrics: Mapping[str, float], cfg: SimConfig) -> float:
    return 1.0 if m.route_complete else 0.0


def check_weights(cfg: SimConfig) -> None:
    """Every weighted term must be registered."""
    unknown = sorted(k for k in cfg.reward_weights if k not in REWARD_TERMS)
    if unknown:
        raise ConfigError(
            f"SimConfig.reward_weights names unknown reward term(s) {unknown}",
            hint=f"registered terms: {REWARD_TERMS.names()}",
        )


def reward_terms(m: StepMeasurements, metrics: Mapping[str, float], cfg: SimConfig) -> Mapping[str, float]:
    """Every registered term by name (unweighted)."""
    return MappingProxyType({name: float(REWARD_TERMS.get(name)(m, metrics, cfg)) for name in REWARD_TERMS})


def total_reward(terms: Mapping[str, float], cfg: SimConfig) -> float:
    """Weighted sum of the terms."""
    return float(sum(w * terms.get(k, 0.0) for k, w in cfg.reward_weights.items()))
