"""Fixtures of the export tests: a small procedural log, a short scenario on it (an inserted car
that brakes hard) and one export of two runs of it, shared by the tests of this folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from jwmsim.export import ExportOptions, ExportResult, export
from jwmsim.logs.procedural import LogConfig, write_town_log

SCENARIO = """\
version: 1
name: tiny_brake
log:
  dataroot: {root}
ego:
  start_time: 0.5
agent: {agent}
duration: {duration}
runs: 2
seed: 3
actors:
  - id: leader
    asset: sedan
    lane: ego
    offset: {{uniform: [8, 12]}}
    speed_ratio: 1.0
    behaviour: {{type: idm}}
    trigger: {{type: time, at: 0.3}}
    then: {{type: hard_brake, decel: {{uniform: [5, 8]}}, ramp: 0.2, stop_duration: 1.0}}
"""
CAMERAS = ("CAM_FRONT", "CAM_BACK")
SIZE = (72, 128)


@pytest.fixture(scope="session")
def town_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cfg = LogConfig(duration=2.5, width=64, height=36, lidar_azimuth_steps=256, workers=2)
    return write_town_log(5, tmp_path_factory.mktemp("export-town") / "town5", cfg, progress=False)


def write_scenario(folder: Path, town: Path, agent: str = "idm", duration: float = 1.5) -> Path:
    """The test scenario on ``town`` as ``folder/tiny_brake.yaml``."""
    path = folder / "tiny_brake.yaml"
    path.write_text(SCENARIO.format(root=town, agent=agent, duration=duration))
    return path


def options(out: Path, **kw: object) -> ExportOptions:
    base: dict = dict(out=out, cameras=CAMERAS, image_size=SIZE, progress=False, workers=1, scene="lidar")
    base.update(kw)
    return ExportOptions(**base)


@pytest.fixture(scope="session")
def scenario_file(town_log: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_scenario(tmp_path_factory.mktemp("export-scenario"), town_log)


@pytest.fixture(scope="session")
def exported(scenario_file: Path, tmp_path_factory: pytest.TempPathFactory) -> ExportResult:
    """Two runs of the scenario exported with the skeleton render path, in this process."""
    return export(scenario_file, options(tmp_path_factory.mktemp("export-out") / "data"))
