"""Shared fixtures of the evaluation tests: a tiny procedural log and scenarios on it (the local
Ray instance, ``local_ray``, is in ``tests/conftest.py``)."""

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
duration: 1.5
runs: 2
seed: 3
actors:
  - id: leader
    asset: sedan
    lane: ego
    offset: {{uniform: [14, 20]}}
    speed_ratio: 1.0
    behaviour: {{type: idm}}
    trigger: {{type: time, at: 0.3}}
    then: {{type: hard_brake, decel: {{uniform: [5, 8]}}, ramp: 0.2, stop_duration: 1.0}}
"""

STALLED = """\
version: 1
name: tiny_stalled
log:
  dataroot: {root}
ego:
  start_time: 0.5
duration: 2.0
runs: 2
seed: 11
actors:
  - id: stalled
    asset: sedan
    lane: ego
    offset: {{uniform: [6, 9]}}
    speed: 0.0
    behaviour: {{type: hold}}
"""


@pytest.fixture(scope="session")
def tiny_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("evallog")
    cfg = LogConfig(duration=3.0, width=64, height=36, lidar_azimuth_steps=256, workers=2)
    return write_town_log(5, base / "town5", cfg, progress=False)


@pytest.fixture(scope="session")
def scenario_dir(tiny_log: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with two tiny scenarios (a hard brake, a stalled car)."""
    folder = tmp_path_factory.mktemp("scenarios")
    (folder / "tiny_brake.yaml").write_text(BRAKE.format(root=tiny_log))
    (folder / "tiny_stalled.yaml").write_text(STALLED.format(root=tiny_log))
    return folder

