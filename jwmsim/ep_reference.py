"""The EP reference: a reference planner's progress on the same run, NAVSIM-style; every replay run
(and so the evaluation and the search) scores its EP against it.

NAVSIM normalises the ego's progress by the best progress among the PDM-Closed proposals and the
evaluated trajectory, after multiplying each by its NC x DAC (``pdm_scorer.py``,
``_aggregate_scores``). In closed loop, :func:`with_reference` drives the reference planner
(``pdm_closed`` by default) through the same world (the same scenario draw) with the pure core,
and stores its progress along the route at every step, times its episode NC x DAC, in
``world.route.reference``; the ``ep`` metric (:mod:`jwmsim.sim.metrics`) then divides by it.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from jwmsim.planning import make_planner
from jwmsim.sim.context import World
from jwmsim.sim.world import episode_metrics, initial_state, transition

REFERENCE_PLANNER = "pdm_closed"


def reference_progress(world: World, planner: str = REFERENCE_PLANNER) -> np.ndarray:
    """``[K]`` metres the reference planner progressed along the route by steps ``0..K-1`` of an
    episode on ``world`` (its last value held after it ended), times its episode NC x DAC.

    Args:
        world: the run's world (its own reference, if any, is ignored).
        planner: planner spec of the reference (the rule-based ones read only the state).
    """
    world = replace(world, route=replace(world.route, reference=None))
    ref = make_planner(planner)
    ref.reset(world)
    state = initial_state(world)
    progress = [0.0]
    while not state.done:
        state = transition(state, ref.act(state, None))
        assert state.last is not None
        progress.append(state.last.measurements.progress)
    scores = episode_metrics(state)
    out = np.maximum(np.asarray(progress), 0.0) * scores["nc"] * scores["dac"]
    out.setflags(write=False)
    return out


def with_reference(world: World, planner: str = REFERENCE_PLANNER) -> World:
    """``world`` with ``route.reference`` set from :func:`reference_progress`."""
    return replace(world, route=replace(world.route, reference=reference_progress(world, planner)))
