"""Fixtures of the viewer tests: headless pygame (SDL dummy drivers), a tiny procedural log and a
scenario on it, and a viewer on that scenario (skeleton path, one small camera)."""

from __future__ import annotations

import os

os.environ["SDL_VIDEODRIVER"] = "dummy"
os.environ["SDL_AUDIODRIVER"] = "dummy"
os.environ["PYGAME_HIDE_SUPPORT_PROMPT"] = "1"

from collections.abc import Iterator  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
from viewer_options import small_options  # noqa: E402

from jwmsim.logs.procedural import LogConfig, write_town_log  # noqa: E402

SCENARIO = """\
version: 1
name: tiny_view
log:
  dataroot: {root}
ego:
  start_time: 0.5
agent: idm
duration: 1.5
runs: 3
seed: 3
actors:
  - id: leader
    asset: sedan
    lane: ego
    offset: {{uniform: [14, 20]}}
    speed_ratio: 1.0
    behaviour: {{type: idm}}
    trigger: {{type: time, at: 0.3}}
    then: {{type: hard_brake, decel: 6.0, ramp: 0.2, stop_duration: 1.0}}
"""


@pytest.fixture(scope="session")
def town_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cfg = LogConfig(duration=2.5, width=64, height=36, lidar_azimuth_steps=256, workers=2)
    return write_town_log(5, tmp_path_factory.mktemp("viewer") / "town5", cfg, progress=False)


@pytest.fixture()
def scenario_file(town_root: Path, tmp_path: Path) -> Path:
    path = tmp_path / "tiny_view.yaml"
    path.write_text(SCENARIO.format(root=town_root))
    return path


@pytest.fixture()
def viewer(scenario_file: Path) -> Iterator:
    from jwmsim.scenario import load_scenario
    from jwmsim.viewer.app import ViewerApp

    app = ViewerApp(load_scenario(scenario_file), small_options())
    app.redraw()
    yield app
    app.close()
