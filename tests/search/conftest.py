"""Fixtures of the search tests: a tiny procedural log, a jittered hard-brake scenario on it and a
scenario without jitter, and planner files that stop (Ctrl-C) or fail after a number of steps."""

from __future__ import annotations

from pathlib import Path

import pytest

from jwmsim.logs.procedural import LogConfig, write_town_log

BRAKE = """\
version: 1
name: tiny_brake
log:
  dataroot: {root}
ego:
  start_time: 0.5
agent: idm
duration: 2.0
seed: 3
actors:
  - id: leader
    asset: sedan
    lane: ego
    offset: {{uniform: [6, 20]}}
    speed_ratio: {{uniform: [0.3, 1.0]}}
    behaviour: {{type: idm}}
    trigger: {{type: time, at: {{uniform: [0.1, 1.0]}}}}
    then: {{type: hard_brake, decel: {{choice: [4.0, 8.0]}}, ramp: 0.2}}
"""

PLAIN = """\
version: 1
name: tiny_plain
log:
  dataroot: {root}
ego:
  start_time: 0.5
duration: 2.0
actors:
  - id: leader
    asset: sedan
    lane: ego
    offset: 12
"""

# a planner that coasts and, at step 4 of run ``RUNS + 1`` of its life, raises ``ERROR`` (Ctrl-C or a
# bug of its own)
PLANNER = """\
import numpy as np

from jwmsim.planning import Planner


class StopsAfter(Planner):
    name = "stops_after"

    def __init__(self) -> None:
        super().__init__()
        self.runs = 0
        self.steps = 0

    def reset(self, world) -> None:
        super().reset(world)
        self.runs += 1
        self.steps = 0

    def compute_action(self, state, observation):
        self.steps += 1
        if self.runs > {runs} and self.steps > 3:
            raise {error}
        return np.zeros(2)
"""


@pytest.fixture(scope="session")
def tiny_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cfg = LogConfig(duration=3.0, width=64, height=36, lidar_azimuth_steps=256, workers=2)
    return write_town_log(5, tmp_path_factory.mktemp("searchlog") / "town5", cfg, progress=False)


@pytest.fixture(scope="session")
def scenario_dir(tiny_log: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("scenarios")
    (folder / "tiny_brake.yaml").write_text(BRAKE.format(root=tiny_log))
    (folder / "tiny_plain.yaml").write_text(PLAIN.format(root=tiny_log))
    return folder


@pytest.fixture()
def brake_file(scenario_dir: Path) -> Path:
    return scenario_dir / "tiny_brake.yaml"


def planner_file(folder: Path, runs: int, error: str) -> Path:
    """A ``.py`` planner that lets ``runs`` runs finish and raises ``error`` in the next one."""
    path = folder / "stops_after.py"
    path.write_text(PLANNER.format(runs=runs, error=error))
    return path
