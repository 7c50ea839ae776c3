"""Built-in ego planners, registered by name in :data:`jwmsim.planning.PLANNERS`:

* ``idm``: rule-based, IDM speed control behind the leader on the route + pure-pursuit steering;
* ``constant_velocity``: keeps its speed and steering straight;
* ``log_replay``: drives the logged ego motion (inverse bicycle of the log);
* ``random``: uniformly random actions (seeded), the floor for learned policies;
* ``sb3``: a stable-baselines3 policy saved with ``model.save(path)``, spec ``sb3:PATH.zip`` (reads the
  observation).
"""

from agents.constant_velocity import ConstantVelocityPlanner
from agents.idm_planner import IDMPlanner
from agents.log_replay import LogReplayPlanner
from agents.random_policy import RandomPlanner
from agents.sb3_policy import SB3Planner
from jwmsim.planning import PLANNERS, planner_names

__all__ = [
    "PLANNERS",
    "ConstantVelocityPlanner",
    "IDMPlanner",
    "LogReplayPlanner",
    "RandomPlanner",
    "SB3Planner",
    "agent_names",
]


def agent_names() -> list[str]:
    """Names of the registered planners."""
    return planner_names()
