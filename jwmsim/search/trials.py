"""One trial of a search: a run of the scenario with the trial's values, on an execution backend.

:func:`run_trial` is a backend task (:mod:`jwmsim.backends`): it runs in this process or in a
worker (a local process, a Ray task), keeps the scenario, log and planner loaded between the trials
of one search, and drives the run through :func:`jwmsim.replay_run.run_one`, the function every
replay run goes through, with the trial's values in place of drawn ones. The run is seeded as run 0
of the case file the search writes for it, so ``jwmsim replay`` of that file gives the same run.
Each trial's record is ``trials/run_NNN/metrics.json`` (NNN: the trial number).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from jwmsim.backends.base import TaskContext
from jwmsim.replay_run import RunSetup, cached_for_runs, run_one
from jwmsim.search.objective import MarginTracker


@dataclass(frozen=True)
class TrialTask:
    """What a worker needs for one trial (picklable).

    Attributes:
        setup: the search's run setup (scenario file, agent, render path, ``out`` = trials folder).
        number: the Optuna trial number (names the run folder).
        values: the value of every range of the scenario, by field path.
        search_id: one per call of the search: a worker loads the scenario, log and planner again
            for a new call (the planner file may have changed in between).
    """

    setup: RunSetup
    number: int
    values: dict[str, Any]
    search_id: str = ""


@dataclass(frozen=True)
class TrialOutcome:
    """A trial's run: ``status`` (``finished``, ``interrupted``, ``failed``), its end reason, steps,
    episode metrics, TTC margin [s], and the planner's error and traceback when it failed."""

    number: int
    status: str
    reason: str
    steps: int
    metrics: dict[str, float | None] = field(default_factory=dict)
    margin: float = 0.0
    error: str | None = None
    traceback: str | None = None


def run_trial(task: TrialTask, ctx: TaskContext) -> TrialOutcome:
    """A backend task: run the scenario with ``task.values`` to its end and measure it."""
    from jwmsim.scenario import fix_draws

    loaded = cached_for_runs(task.setup, token=task.search_id)  # the replay's per-process loader
    concrete = fix_draws(loaded.scenario, task.values, run_index=0)
    scenario = loaded.scenario
    margin = MarginTracker(
        frozenset([a.id for a in scenario.actors] + [o.id for o in scenario.log_actors.override])
    )
    res = run_one(
        loaded,
        task.number,
        report=ctx.report,
        should_stop=ctx.should_stop,
        concrete=concrete,
        on_step=margin,
    )
    return TrialOutcome(
        task.number,
        res.status,
        res.reason,
        res.steps,
        dict(res.metrics),
        round(margin.margin, 6),
        res.error,
        res.traceback,
    )


__all__ = ["TrialOutcome", "TrialTask", "run_trial"]
