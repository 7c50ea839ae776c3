"""An interrupted export keeps its finished scenes, discards the interrupted one, and resumes."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest
from conftest import options, write_scenario

from jwmsim.export import export

# IDM, except that it raises KeyboardInterrupt (as Ctrl-C would) at its STOP_AT-th call overall
STOPPING_PLANNER = """\
import os

from jwmsim_agents.idm_planner import IDMPlanner as _IDM
from jwmsim.planning import Planner

CALLS = [0]


class StoppingPlanner(Planner):
    name = "stopping"

    def __init__(self):
        super().__init__()
        self.idm = _IDM()

    def reset(self, world):
        super().reset(world)
        self.idm.reset(world)

    def compute_action(self, state, observation):
        CALLS[0] += 1
        stop_at = int(os.environ.get("JWMSIM_TEST_STOP_AT", "0"))
        if stop_at and CALLS[0] >= stop_at:
            raise KeyboardInterrupt
        return self.idm.compute_action(state, observation)
"""


def test_interrupted_export_keeps_finished_scenes_and_resumes(
    town_log: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nuscenes.nuscenes import NuScenes

    (tmp_path / "stopping.py").write_text(STOPPING_PLANNER)
    scenario = write_scenario(tmp_path, town_log, agent="stopping.py")
    out = tmp_path / "data"
    monkeypatch.setenv("JWMSIM_TEST_STOP_AT", "20")  # run 0 takes 15 calls: stop in run 1
    with pytest.raises(KeyboardInterrupt) as stop:
        export(scenario, options(out))
    partial = stop.value.args[0]
    assert partial.interrupted and partial.scenes == ["scene-tiny_brake-0000"]
    scenes = json.loads((out / "v1.0-tiny_brake" / "scene.json").read_text())
    assert [s["name"] for s in scenes] == ["scene-tiny_brake-0000"]
    with contextlib.redirect_stdout(io.StringIO()):
        NuScenes("v1.0-tiny_brake", str(out), verbose=False)  # what is there loads
    assert not list(out.rglob("*tiny_brake-0001*"))  # nothing of the interrupted scene
    assert not list(out.rglob("*.partial*"))
    first = sorted((out / "samples" / "CAM_FRONT").iterdir())
    mtimes = [p.stat().st_mtime_ns for p in first]

    monkeypatch.delenv("JWMSIM_TEST_STOP_AT")
    # a stale staged folder, as a process killed outright would leave it, is cleared
    (out / ".export" / "staging" / ".scene-tiny_brake-0001.partial-dead").mkdir(parents=True)
    result = export(scenario, options(out))
    assert result.skipped == [0] and [r.run_index for r in result.exported] == [1]
    assert result.scenes == ["scene-tiny_brake-0000", "scene-tiny_brake-0001"]
    assert [p.stat().st_mtime_ns for p in first] == mtimes  # the finished scene was kept as it was
    with contextlib.redirect_stdout(io.StringIO()):
        nusc = NuScenes("v1.0-tiny_brake", str(out), verbose=False)
    assert len(nusc.scene) == 2 and len(nusc.sample_data) == 2 * 2 * 16
    assert not list(out.rglob("*.partial*"))

    again = export(scenario, options(out))  # nothing left to do
    assert again.exported == [] and again.skipped == [0, 1]


def test_resume_refuses_other_settings(town_log: Path, tmp_path: Path) -> None:
    from jwmsim.errors import ConfigError

    scenario = write_scenario(tmp_path, town_log, duration=0.5)
    out = tmp_path / "data"
    export(scenario, options(out, runs=1))
    with pytest.raises(ConfigError, match="other settings"):
        export(scenario, options(out, runs=1, image_size=(36, 64)))


def test_leftovers_of_an_adopted_scene_are_removed_not_adopted_again(town_log: Path, tmp_path: Path) -> None:
    """Ctrl-C can land while a finished scene's staged folder is being removed, after its fragment
    was written: what is left (tables without extras) must be cleaned up, not merged again."""
    scenario = write_scenario(tmp_path, town_log)
    out = tmp_path / "data"
    first = export(scenario, options(out, runs=1))
    assert first.scenes == ["scene-tiny_brake-0000"]
    tables_before = (out / "v1.0-tiny_brake" / "sample_data.json").read_text()
    leftover = out / ".export" / "staging" / "scene-tiny_brake-0000"
    (leftover / "v1.0-tiny_brake").mkdir(parents=True)
    (leftover / "v1.0-tiny_brake" / "scene.json").write_text("[]")  # extras/ already removed
    again = export(scenario, options(out, runs=1))
    assert again.scenes == ["scene-tiny_brake-0000"] and again.skipped == [0] and not again.exported
    assert not leftover.exists()
    assert (out / "v1.0-tiny_brake" / "sample_data.json").read_text() == tables_before
