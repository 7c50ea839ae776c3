"""jwmsim's built-in ego planners, installed as the package ``jwmsim_agents`` and declared as
entries of the ``jwmsim.planners`` entry-point group in ``pyproject.toml`` (exactly as a plugin's
planners are):

* ``idm``: rule-based, IDM speed control behind the leader on the route + pure-pursuit steering;
* ``constant_velocity``: keeps its speed and steering straight;
* ``log_replay``: drives the logged ego motion (inverse bicycle of the log);
* ``random``: uniformly random actions (seeded), the floor for learned policies;
* ``sb3``: a stable-baselines3 policy saved with ``model.save(path)``, spec ``sb3:PATH.zip`` (reads the
  observation).

Build one by name with :func:`jwmsim.planning.make_planner`; importing this package registers nothing.
"""
