"""The complete, frozen simulation state: the static context (:class:`~jwmsim.sim.context.World`)
and the parts that change every step (:mod:`jwmsim.sim.state`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from jwmsim.sim.context import World
from jwmsim.sim.state import ActorsState, EgoState, EpisodeAccumulator, StepRecord


@dataclass(frozen=True, eq=False)
class SimState:
    """The complete simulation state; ``world`` is the static context (map, log, config, scripts).

    Attributes:
        step: steps taken; time: episode time [s] (log time is ``world.start_time + time``).
        ego / prev_ego: ego now and one step earlier (comfort needs both).
        actors: all actors.
        route_s: ego's arc length on the route [m].
        comfort_history: the last ``comfort_window`` samples of (lon acc, world acc x, world acc y,
            yaw rate), oldest first, from which jerks and yaw acceleration are differentiated.
        last: record of the step that produced this state (None after ``initial_state``).
        terminated / truncated / reason: episode end flags and why (``collision``, ``offroad``,
            ``route_complete``, ``time_limit``).
    """

    world: World = field(repr=False)
    step: int
    time: float
    ego: EgoState
    prev_ego: EgoState
    actors: ActorsState
    route_s: float
    episode: EpisodeAccumulator = field(default_factory=EpisodeAccumulator)
    comfort_history: tuple[tuple[float, float, float, float], ...] = ()
    last: StepRecord | None = None
    terminated: bool = False
    truncated: bool = False
    reason: str = ""

    @property
    def log_time(self) -> float:
        return self.world.start_time + self.time

    @property
    def signal_phases(self) -> dict[str, str]:
        """``{traffic light id: "green" | "yellow" | "red"}`` now (empty: the log has no lights)."""
        return self.world.signals.phase_by_id(self.log_time)

    @property
    def done(self) -> bool:
        return self.terminated or self.truncated
