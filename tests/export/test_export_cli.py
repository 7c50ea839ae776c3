"""``jwmsim export`` on the command line, and a scene task asked to stop by its backend."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import SIZE, options, write_scenario

from jwmsim.cli import main
from jwmsim.export.run import _prepare
from jwmsim.export.scene_task import SceneTask, export_scene


class _StopAfter:
    """A backend context that asks the task to stop at its ``n``-th look."""

    def __init__(self, n: int) -> None:
        self.n, self.looks, self.steps = n, 0, 0

    def report(self, steps: int) -> None:
        self.steps += steps

    def should_stop(self) -> bool:
        self.looks += 1
        return self.looks >= self.n


def test_cli_exports_and_prints_a_summary(
    town_log: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = write_scenario(tmp_path, town_log, duration=0.5)
    out = tmp_path / "data"
    argv = ["export", str(scenario), "--runs", "1", "--out", str(out), "--cameras", "CAM_FRONT"]
    with pytest.raises(SystemExit) as done:
        main(
            [
                *argv,
                "--size",
                "36x64",
                "--workers",
                "1",
                "--name",
                "mini",
                "--scene",
                "lidar",
                "--no-progress",
            ]
        )
    assert done.value.code == 0
    text = capsys.readouterr().out
    assert "1 scene(s)" in text and "scene-tiny_brake-0000: 5 steps, 6 frames/camera" in text
    assert [s["name"] for s in json.loads((out / "v1.0-mini" / "scene.json").read_text())] == [
        "scene-tiny_brake-0000"
    ]


def test_a_task_asked_to_stop_leaves_nothing(scenario_file: Path, tmp_path: Path) -> None:
    job, _, _, _ = _prepare(scenario_file, options(tmp_path / "data"))
    ctx = _StopAfter(6)
    result = export_scene(SceneTask(job, 0), ctx)
    assert result.status == "interrupted" and result.frames == 5
    assert not job.staging.exists() or not any(job.staging.iterdir())


def test_any_render_path_exports_and_is_recorded(town_log: Path, tmp_path: Path) -> None:
    """A render path without a Gaussian scene or depth (``log_frames``): images as it renders them,
    visibility by projected boxes, its name in the provenance."""
    from jwmsim.export import export

    scenario = write_scenario(tmp_path, town_log, duration=0.5)
    result = export(scenario, options(tmp_path / "data", runs=1, render="log_frames"))
    prov = json.loads((result.out / "provenance.json").read_text())["records"]["scene-tiny_brake-0000"]
    assert prov["render_path"] == "log_frames" and prov["visibility_method"] == "projected_boxes"
    assert "gaussian_scene" not in prov and prov["scene"] == "scene-tiny_brake-0000"
    anns = json.loads((result.out / result.version / "sample_annotation.json").read_text())
    assert anns and {a["visibility_token"] for a in anns} <= {"1", "2", "3", "4"}


def test_the_jwm_render_path_exports(town_log: Path, tmp_path: Path) -> None:
    """The WorldGen path (shipped weights) exports like any other: generated images, its name in the
    provenance."""
    from PIL import Image

    from jwmsim.export import export

    scenario = write_scenario(tmp_path, town_log, duration=0.3)
    result = export(scenario, options(tmp_path / "data", runs=1, render="jwm"))
    prov = json.loads((result.out / "provenance.json").read_text())["records"]["scene-tiny_brake-0000"]
    assert prov["render_path"] == "jwm"
    info = prov["render_path_info"]
    assert info["generator"] == "worldgen" and len(info["weights_digest"]) == 12
    data = json.loads((result.out / result.version / "sample_data.json").read_text())
    first = next(d for d in data if d["filename"].endswith(".jpg"))
    img = np.asarray(Image.open(result.out / first["filename"]))
    assert img.shape == (*SIZE, 3) and img.std() > 1.0  # a picture, not a constant


def test_cli_duration_shortens_the_exported_scenes(
    town_log: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = write_scenario(tmp_path, town_log, duration=1.5)  # 15 steps, cut to 5 by --duration
    out = tmp_path / "data"
    argv = ["export", str(scenario), "--runs", "1", "--out", str(out), "--cameras", "CAM_FRONT"]
    with pytest.raises(SystemExit) as done:
        main(
            [
                *argv,
                "--size",
                "36x64",
                "--workers",
                "1",
                "--scene",
                "lidar",
                "--no-progress",
                "--duration",
                "0.5",
            ]
        )
    assert done.value.code == 0
    assert "scene-tiny_brake-0000: 5 steps" in capsys.readouterr().out
    with pytest.raises(SystemExit) as refused:
        main([*argv, "--duration", "0"])
    assert refused.value.code != 0
