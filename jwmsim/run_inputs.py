"""What the runs of a scenario read, loaded once per process: the scenario (with an optional
duration), its seed log, the planner and the Gaussian scene of the render path.

``jwmsim replay`` (and the closed-loop evaluation and the failure search, which run through it) and
``jwmsim export`` load through this one module. A worker process keeps the inputs of one setup
(:func:`process_inputs`) and frees them when it is handed another.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jwmsim.envs.render_paths import RenderPathSpec
    from jwmsim.gaussians.scene import GaussianScene
    from jwmsim.logs.segment import LogSegment
    from jwmsim.planning import Planner
    from jwmsim.scenario.schema import Scenario


@dataclass(frozen=True)
class RunInputs:
    """Which inputs to load (picklable; the key of the per-process cache).

    Attributes:
        scenario_path: the scenario file.
        agent: planner spec (name, ``NAME:PATH`` or a ``.py`` file).
        render: render path name; scene: scene source name or scene file; force_scene: render a
            scene file even if it records another log.
        duration: [s] replaces the scenario's duration (None: the scenario's).
        with_images: camera images are rendered (False: no scene is loaded).
    """

    scenario_path: Path
    agent: str
    render: str
    scene: str
    force_scene: bool = False
    duration: float | None = None
    with_images: bool = True


class LoadedInputs:
    """The loaded inputs of :class:`RunInputs` (see the module docstring).

    Attributes:
        inputs: what was loaded; scenario / log / planner: the scenario, its seed log (lidar only
            where the scene source needs it) and a fresh planner; render_spec: the render path's
            registry entry; scene: the Gaussian scene (None when the path renders none).
    """

    def __init__(self, inputs: RunInputs) -> None:
        from jwmsim.envs.render_paths import RENDER_PATHS, needs_lidar
        from jwmsim.planning import make_planner
        from jwmsim.scenario import load_scenario
        from jwmsim.scenario.loader import load_seed_log, with_duration

        self.inputs = inputs
        self.scenario: Scenario = with_duration(load_scenario(inputs.scenario_path), inputs.duration)
        self.render_spec: RenderPathSpec = RENDER_PATHS.get(inputs.render)
        self.log: LogSegment = load_seed_log(
            self.scenario, with_lidar=needs_lidar(inputs.render, inputs.scene)
        )
        self.planner: Planner = make_planner(inputs.agent)
        self.scene: GaussianScene | None = None
        if inputs.with_images and self.render_spec.uses_scene:
            from jwmsim.scenes.sources import scene_for_log

            self.scene = scene_for_log(self.log, inputs.scene, progress=False, force=inputs.force_scene)


_PROCESS: dict[str, Any] = {}


def process_inputs(inputs: RunInputs, token: str = "") -> LoadedInputs:
    """This process's :class:`LoadedInputs` of ``inputs``, loaded on first use; another ``inputs``
    (or another ``token``: e.g. a new call of a command, whose planner file may have changed)
    frees the previous ones first."""
    key = (inputs, token)
    if _PROCESS.get("key") != key:
        _PROCESS.clear()
        _PROCESS.update(key=key, loaded=LoadedInputs(inputs))
    return _PROCESS["loaded"]


__all__ = ["LoadedInputs", "RunInputs", "process_inputs"]
