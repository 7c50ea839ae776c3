"""The project's reader, ``jwmsim info`` and ``jwmsim replay`` read an export back."""

from __future__ import annotations

from pathlib import Path

import pytest

from jwmsim.cli import main
from jwmsim.export import ExportResult
from jwmsim.logs.nuscenes import list_scenes, load_nuscenes_log
from jwmsim.replay import ReplayOptions, replay


def test_reader_loads_every_exported_scene(exported: ExportResult) -> None:
    assert list_scenes(exported.out) == exported.scenes
    for name in exported.scenes:
        log = load_nuscenes_log(exported.out, scene=name)
        assert log.camera_names == ["CAM_FRONT", "CAM_BACK"]
        assert len(log.frames["CAM_FRONT"]) == 16 and abs(log.duration - 1.5) < 1e-6
        assert len(log.tracks) > 1 and log.drivable_area_source == "geojson" and log.lanes


def test_info_prints_the_export(exported: ExportResult, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["info", str(exported.out), "--scene", exported.scenes[1]])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert f"log        {exported.scenes[1]}" in out
    assert "scenes     2" in out and "CAM_FRONT" in out and "10.0 Hz" in out


REPLAY_ON_EXPORT = """\
version: 1
name: on_export
log: {{dataroot: {root}, scene: {scene}}}
ego: {{start_time: 0.2}}
agent: idm
duration: 1.0
runs: 1
seed: 1
"""


@pytest.mark.parametrize("render", ["none", "log_frames"])
def test_replay_runs_on_an_exported_scene(exported: ExportResult, tmp_path: Path, render: str) -> None:
    path = tmp_path / "on_export.yaml"
    path.write_text(REPLAY_ON_EXPORT.format(root=exported.out, scene=exported.scenes[0]))
    opts = ReplayOptions(
        out=tmp_path / "runs",
        render=render,
        cameras=("CAM_FRONT",),
        image_size=(36, 64),
        progress=False,
        workers=1,
    )
    result = replay(path, opts)
    assert [r.status for r in result.runs] == ["finished"] and result.runs[0].steps == 10
