"""A third-party plugin, installed into a temporary folder, adds a planner, a render path and a
behaviour through entry points; ``jwmsim replay`` and ``gym.make`` use them without any change to
jwmsim, and ``jwmsim info --plugins`` lists them (and names the one that fails to import)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from jwmsim.logs.procedural import LogConfig, write_town_log

PLUGIN_PY = '''
"""A tiny jwmsim plugin: a planner that brakes, a render path of flat grey images, a behaviour."""

import numpy as np

from jwmsim.envs.render_paths import RenderedFrame, RenderPathSpec, Stateless
from jwmsim.planning import Planner
from jwmsim.sim.behaviours import behaviour


class BrakePlanner(Planner):
    name = "plugin_brake"

    def compute_action(self, state, observation):
        return np.array([-1.0, 0.0])


class GreyPath(Stateless):
    def __init__(self, setup):
        h, w = setup.image_size
        self.images = {c.name: np.full((h, w, 3), 77, np.uint8) for c in setup.cameras}

    def reset(self, episode):
        pass

    def render(self, state):
        return RenderedFrame(images=dict(self.images))

    def close(self):
        pass


GREY = RenderPathSpec(GreyPath, "flat grey images (a plugin's render path)")


@behaviour("plugin_hold_still")
def hold_still(actor, ctx, params):
    return actor
'''

PYPROJECT = """
[build-system]
requires = ["setuptools"]
build-backend = "setuptools.build_meta"

[project]
name = "jwmsim-demo-plugin"
version = "0.1"

[project.entry-points."jwmsim.planners"]
plugin_brake = "jwmsim_demo_plugin:BrakePlanner"
plugin_broken = "jwmsim_demo_plugin_missing:Nothing"

[project.entry-points."jwmsim.render_paths"]
plugin_grey = "jwmsim_demo_plugin:GREY"

[project.entry-points."jwmsim.behaviours"]
plugin_hold_still = "jwmsim_demo_plugin:hold_still"
"""

SCENARIO = """\
version: 1
name: plugin_run
log:
  dataroot: {root}
ego:
  start_time: 0.5
agent: plugin_brake
duration: 1.0
runs: 1
seed: 0
actors:
  - id: parked
    asset: sedan
    lane: ego
    offset: 25
    speed: 0
    behaviour: {{type: hold}}
"""


@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The plugin built and installed with pip into a folder of its own (as ``--target`` does)."""
    src = tmp_path_factory.mktemp("plugin_src")
    (src / "jwmsim_demo_plugin").mkdir()
    (src / "jwmsim_demo_plugin" / "__init__.py").write_text(textwrap.dedent(PLUGIN_PY))
    (src / "pyproject.toml").write_text(PYPROJECT)
    site = tmp_path_factory.mktemp("plugin_site")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(site),
            str(src),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return site


@pytest.fixture(scope="module")
def scenario_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("plugin_log")
    cfg = LogConfig(duration=2.0, width=64, height=36, lidar_azimuth_steps=256, workers=2)
    root = write_town_log(7, base / "town7", cfg, progress=False)
    path = base / "plugin_run.yaml"
    path.write_text(SCENARIO.format(root=root))
    return path


def _run(site: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, timeout=600, env=env, cwd=cwd
    )


def test_info_lists_the_plugin_and_names_the_entry_that_fails(plugin_site: Path) -> None:
    res = _run(plugin_site, "-c", "from jwmsim.cli import main; main(['info', '--plugins'])")
    lines = res.stdout.splitlines()
    brake = next(line for line in lines if line.strip().startswith("plugin_brake"))
    assert "jwmsim-demo-plugin" in brake and "jwmsim_demo_plugin:BrakePlanner" in brake
    assert any(line.strip().startswith("plugin_grey") for line in lines)
    assert any(line.strip().startswith("idm ") for line in lines)  # jwmsim's own entries still load
    broken = next(line for line in lines if line.strip().startswith("plugin_broken"))
    assert "FAILED" in broken and "jwmsim_demo_plugin_missing" in broken
    assert res.returncode == 1 and "1 plugin entry failed" in res.stderr


def test_replay_uses_the_plugins_planner_and_render_path(
    plugin_site: Path, scenario_file: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    res = _run(
        plugin_site,
        "-c",
        "import sys; from jwmsim.cli import main; main(sys.argv[1:])",
        "replay",
        str(scenario_file),
        "--render",
        "plugin_grey",
        "--size",
        "32x56",
        "--out",
        str(out),
        "--no-progress",
    )
    assert res.returncode == 0, res.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["agent"] == "plugin_brake" and summary["aggregate"]["runs_finished"] == 1
    run = json.loads((out / "run_000" / "metrics.json").read_text())
    assert run["planner"]["name"] == "plugin_brake" and run["planner"]["calls"] == run["steps"]
    assert run["metrics"]["c"] == 0.0  # full braking from the first step is not comfortable
    videos = list((out / "run_000").glob("*.mp4"))
    assert videos, "the replay wrote no video"
    import imageio.v3 as iio

    frame = iio.imread(videos[0], index=0)
    # the camera panel at the top left shows the plugin's flat grey image (77; labels drawn over it)
    assert abs(float(np.median(frame[2:30, 2:40])) - 77) <= 3


def test_gym_make_uses_the_plugins_render_path_and_behaviour(plugin_site: Path, scenario_file: Path) -> None:
    code = f"""
import numpy as np, gymnasium as gym, jwmsim.envs
from jwmsim.sim.behaviours import BEHAVIOURS
assert BEHAVIOURS.get("plugin_hold_still").name == "plugin_hold_still"
env = gym.make("JWM-Drive-v0", log={str(scenario_file.parent / "town7")!r}, observation="plugin_grey",
               cameras=("CAM_FRONT",), image_size=(24, 40))
obs, info = env.reset(seed=0)
obs, *_ = env.step(np.zeros(2, np.float32))
img = obs["CAM_FRONT"]
assert img.shape == (24, 40, 3) and (img == 77).all(), img.mean()
print("ok")
"""
    res = _run(plugin_site, "-c", code)
    assert res.returncode == 0 and "ok" in res.stdout, res.stderr[-3000:]
