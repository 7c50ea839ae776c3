"""What a search looks for: a metric of the registry (worst first), ties broken by the TTC margin.

The objective names an episode metric of :data:`jwmsim.sim.EPISODE_METRICS` (``pdms``, ``nc``,
``hd_score``, ``neuroncap``, ...; worse is lower, except for ``collision``, where 1 is worse) or
``ttc_margin``. The **TTC margin** of a run is the smallest time to collision over its steps with
the scenario's own actors (inserted and overridden ones: those its ranges move; every actor when it
has none): at every step the ego and the actors are moved at constant velocity for up to
:data:`MARGIN_HORIZON` seconds (the NAVSIM TTC projection, :func:`jwmsim.sim.collision.time_to_collision`,
with a longer horizon than the 1 s of the TTC sub-score) and the first overlap with one of them
ahead counts; a collision (with anyone) makes it 0; a run that never comes that close has the whole
horizon as margin. Unlike the sub-scores it is continuous, so it tells the search which of two clean
runs came closer; the log's own traffic is left out because it is the same in every trial.

Optuna minimises one number per trial: ``value = sign * metric + TIE_WEIGHT * margin / horizon``.
Metrics and margins are recorded to 6 decimals, so two different metric values differ by at least
1e-6 and the margin term (below 1e-7, in steps above 1e-14) only orders runs whose metric is equal: the
value orders trials exactly as ``(metric, margin)`` does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from jwmsim.errors import ConfigError
from jwmsim.scenario.params import closest

MARGIN_HORIZON = 8.0  # [s] constant-velocity projection of the TTC margin
MARGIN_STEP = 0.1  # [s] time step of that projection
TIE_WEIGHT = 1e-7  # weight of the normalised margin in the minimised value (see the docstring)
MARGIN = "ttc_margin"
DEFAULT_OBJECTIVE = "pdms"
HIGHER_IS_WORSE = frozenset({"collision"})  # metrics of the registry where a larger value is worse


def metric_names() -> list[str]:
    """The names an objective can take: the registry's episode metrics and ``ttc_margin``."""
    from jwmsim.sim import EPISODE_METRICS

    return sorted([*EPISODE_METRICS.names(), MARGIN])


@dataclass(frozen=True)
class Objective:
    """The metric a search drives to its worst value.

    Attributes:
        metric: a name of :func:`metric_names`.
        higher_is_worse: True for ``collision``; the others are worst at their lowest.
    """

    metric: str = DEFAULT_OBJECTIVE
    higher_is_worse: bool = False

    @property
    def sign(self) -> float:
        """+1 when lower is worse, -1 when higher is worse (Optuna minimises ``sign * metric``)."""
        return -1.0 if self.higher_is_worse else 1.0

    def describe(self) -> str:
        """``"lowest pdms, ties broken by the smallest ttc_margin"``."""
        head = f"{'highest' if self.higher_is_worse else 'lowest'} {self.metric}"
        return head if self.metric == MARGIN else f"{head}, ties broken by the smallest {MARGIN}"

    def value(self, metric: float, margin: float) -> float:
        """The number Optuna minimises (see the module docstring)."""
        return self.sign * metric + TIE_WEIGHT * min(max(margin, 0.0), MARGIN_HORIZON) / MARGIN_HORIZON

    def worst_first(self, metric: float, margin: float, trial: int) -> tuple[float, float, int]:
        """Sort key: the worst case first, then the smaller margin, then the earlier trial."""
        return (self.sign * metric, margin, trial)


def objective_by_name(name: str) -> Objective:
    """The objective of metric ``name``.

    Raises:
        ConfigError: not a metric of the registry (with the closest name).
    """
    names = metric_names()
    if name not in names:
        near = closest(name, names)
        raise ConfigError(
            f"unknown objective {name!r}" + (f" (did you mean {near!r}?)" if near else ""),
            hint=f"choose a metric: one of {names}",
        )
    return Objective(name, name in HIGHER_IS_WORSE)


class MarginTracker:
    """Follows a run step by step (``on_step`` of :func:`jwmsim.replay_run.run_one`) and keeps its
    TTC margin [s] to the actors ``actor_ids`` (None or empty: every actor)."""

    def __init__(
        self,
        actor_ids: frozenset[str] | None = None,
        horizon: float = MARGIN_HORIZON,
        step: float = MARGIN_STEP,
    ) -> None:
        self.actor_ids = actor_ids or None
        self.horizon, self.step = horizon, step
        self.margin = horizon
        self._exclude: np.ndarray | None = None

    def __call__(self, state: Any) -> None:
        from jwmsim.sim.collision import time_to_collision

        if state.episode.collisions:
            self.margin = 0.0
            return
        if self._exclude is None and self.actor_ids is not None:
            ids = list(state.actors.ids)
            self._exclude = np.array([i for i, a in enumerate(ids) if a not in self.actor_ids], dtype=int)
        cfg = state.world.config
        _, t_hit = time_to_collision(
            state.ego,
            state.actors,
            cfg.vehicle,
            self.horizon,
            self.step,
            exclude=self._exclude,
            stopped_speed=cfg.metrics.stopped_speed,
        )
        if math.isfinite(t_hit):
            self.margin = min(self.margin, float(t_hit))


def metric_of(metrics: dict[str, float | None], margin: float, objective: Objective) -> float | None:
    """The objective's metric in a run's metrics (``ttc_margin``: the margin); None if missing."""
    if objective.metric == MARGIN:
        return margin
    value = metrics.get(objective.metric)
    return None if value is None or not math.isfinite(value) else float(value)


__all__ = [
    "DEFAULT_OBJECTIVE",
    "HIGHER_IS_WORSE",
    "MARGIN",
    "MARGIN_HORIZON",
    "MarginTracker",
    "Objective",
    "TIE_WEIGHT",
    "metric_names",
    "metric_of",
    "objective_by_name",
]
