"""The viewer's simulation: one run of a scenario in :class:`~jwmsim.envs.drive_env.JWMDrivingEnv`,
with a recorded timeline to scrub.

Every step appends a :class:`Moment` (the env's :meth:`~JWMDrivingEnv.snapshot` after the step, the
observation and the action that led to it). Going back restores a moment's snapshot (simulation
state, random generator state, render path state); going forward from a moment before the end
re-simulates the recorded action from there, which reproduces the recorded states exactly. A new
action from an earlier moment (the user takes the wheel) cuts the timeline there and records the
new branch.

The scenario model is the source of truth: :meth:`Session.apply` validates an edited scenario
against the log, rebuilds the world from it and restarts the run at t = 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from jwmsim.envs.drive_env import EnvSnapshot, JWMDrivingEnv
from jwmsim.logs.segment import LogSegment
from jwmsim.planning import Planner, make_planner
from jwmsim.scenario.schema import Scenario
from jwmsim.sim.sim_state import SimState
from jwmsim.sim.world import World
from jwmsim.viewer.options import ViewerOptions


@dataclass(frozen=True)
class Moment:
    """One recorded step: ``snapshot`` after it, its observation, ``action`` (``[2]`` or waypoints)
    that led to it (None for t = 0), and whether the planner chose it (else the user did)."""

    snapshot: EnvSnapshot
    observation: Mapping[str, np.ndarray]
    action: np.ndarray | None
    by_planner: bool = True

    @property
    def state(self) -> SimState:
        return self.snapshot.state


class Session:
    """A scenario, its log and scene (loaded once), and the run being shown.

    Args:
        scenario: a loaded scenario (:func:`jwmsim.scenario.load_scenario`).
        options: viewer settings (render path, run index, cameras ...).
        log: the scenario's log, if already loaded.
    """

    def __init__(self, scenario: Scenario, options: ViewerOptions, log: LogSegment | None = None) -> None:
        self.options = options
        self._log_key: Any = None
        self.log: LogSegment | None = None
        self.scene: Any = None
        self.env: JWMDrivingEnv | None = None
        self.timeline: list[Moment] = []
        self.cursor = 0
        self.planner: Planner = make_planner(options.agent or scenario.agent or "idm")
        self.scenario = scenario
        self._load_log(scenario, log)
        self._start(scenario)

    # --- loading -------------------------------------------------------------------------------
    def _load_log(self, scenario: Scenario, log: LogSegment | None = None) -> None:
        """Load the scenario's log (and the scene) unless the same log is loaded already."""
        from jwmsim.envs.render_paths import RENDER_PATHS, needs_lidar
        from jwmsim.scenario.loader import load_seed_log, seed_log_dataroot

        key = seed_log_dataroot(scenario)
        if key == self._log_key and self.log is not None:
            return
        opts = self.options
        self.log = log or load_seed_log(scenario, with_lidar=needs_lidar(opts.render, opts.scene))
        self.scene = None
        if RENDER_PATHS.get(opts.render).uses_scene and opts.cameras:
            from jwmsim.scenes.sources import scene_for_log

            self.scene = scene_for_log(self.log, opts.scene, progress=opts.progress, force=opts.force_scene)
        self._log_key = key

    def _start(self, scenario: Scenario) -> None:
        """Build the world of run ``options.run`` and reset the env to t = 0."""
        from jwmsim.scenario import sample
        from jwmsim.scenario.build import build_world_for_run
        from jwmsim.scenario.loader import source_file
        from jwmsim.scenario.validate import validate_against_log

        assert self.log is not None
        validate_against_log(scenario, self.log, str(source_file(scenario) or "<edited scenario>"))
        run = sample(scenario, self.options.run, scenario.seed)
        world = build_world_for_run(run, self.log)
        if self.env is not None:
            self.env.close()
        opts = self.options
        self.env = JWMDrivingEnv(
            world=world,
            scene=self.scene,
            observation=opts.render,
            cameras=opts.cameras,
            image_size=opts.image_size,
            device=opts.device,
            force_scene=opts.force_scene,
            render_options=dict(opts.render_options),
        )
        obs, _ = self.env.reset(seed=scenario.seed + self.options.run)
        self.planner.reset(world)
        self.scenario = scenario
        self.draws = dict(run.draws)
        self.concrete = run.scenario
        self.timeline = [Moment(self.env.snapshot(), obs, None)]
        self.cursor = 0

    def apply(self, scenario: Scenario, keep_time: bool = False) -> None:
        """Rebuild the run from an edited (or reloaded) scenario; it restarts at t = 0, or with
        ``keep_time`` is simulated again up to the current step: the user's recorded actions are
        taken again, the planner decides afresh where it drove (so the new run is exactly what a
        run of the edited scenario with the same driving gives).

        Raises:
            ScenarioError: the scenario does not fit its log (then nothing changes).
        """
        driven = [(m.action, m.by_planner) for m in self.timeline[1 : self.cursor + 1]] if keep_time else []
        old_key = self._log_key
        self._load_log(scenario)
        try:
            self._start(scenario)
        except Exception:
            if self._log_key != old_key:  # the new log was loaded for nothing: go back to the old one
                self._log_key = None
                self._load_log(self.scenario)
            raise
        for action, by_planner in driven:
            if not self.step(None if by_planner else action):
                break

    def set_planner(self, spec: str) -> None:
        """Drive the ego with the planner ``spec`` from now on."""
        self.planner = make_planner(spec)
        self.planner.reset(self.world)

    # --- timeline ------------------------------------------------------------------------------
    @property
    def world(self) -> World:
        assert self.env is not None
        return self.env.world

    @property
    def moment(self) -> Moment:
        return self.timeline[self.cursor]

    @property
    def state(self) -> SimState:
        return self.moment.state

    @property
    def at_end(self) -> bool:
        """The cursor is at the last recorded moment."""
        return self.cursor == len(self.timeline) - 1

    @property
    def done(self) -> bool:
        return self.state.done

    def planner_action(self) -> np.ndarray:
        """The planner's action at the current moment."""
        return self.planner.act(self.state, self.moment.observation)

    def step(self, action: np.ndarray | None = None) -> bool:
        """One step forward: from before the end of the timeline re-simulate the recorded action
        (``action`` None) or branch with a new ``action``; at the end take ``action`` (None: the
        planner's). Returns False when the episode has ended (nothing done)."""
        if self.done:
            return False
        assert self.env is not None
        replay = not self.at_end and action is None
        by_planner = action is None
        if replay:
            action = self.timeline[self.cursor + 1].action
            by_planner = self.timeline[self.cursor + 1].by_planner
        elif action is None:
            action = self.planner_action()
        self.env.restore(self.moment.snapshot)
        obs, *_ = self.env.step(action)
        moment = Moment(self.env.snapshot(), obs, np.asarray(action), by_planner)
        if replay:  # the same step again: the recorded future stays valid
            self.timeline[self.cursor + 1] = moment
        else:  # a new branch from here
            del self.timeline[self.cursor + 1 :]
            self.timeline.append(moment)
        self.cursor += 1
        return True

    def seek(self, index: int) -> None:
        """Move the cursor to recorded moment ``index`` (clipped): going back restores it; going
        forward re-simulates the recorded steps up to it."""
        index = max(0, min(int(index), len(self.timeline) - 1))
        if index <= self.cursor:
            self.cursor = index
            assert self.env is not None
            self.env.restore(self.moment.snapshot)
            return
        while self.cursor < index and self.step():
            pass

    def close(self) -> None:
        if self.env is not None:
            self.env.close()
            self.env = None
