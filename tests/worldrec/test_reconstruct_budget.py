"""``jwmsim reconstruct``'s default: WorldRec refined within a budget, scored on held-out frames,
and what it does with bad input (no lidar, one frame, foreign cameras, bad budgets, Ctrl-C)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from jwmsim.errors import ConfigError
from jwmsim.scenes.sources import SourceSettings, build_scene

HW = (32, 56)


def _build(segment, **kw):  # noqa: ANN001, ANN202
    return build_scene(segment, "worldrec", SourceSettings(image_hw=HW, **kw), progress=False)


def test_budget_refines_and_reports_heldout_quality(tiny_segment) -> None:
    scene, rep = _build(tiny_segment, budget=25.0)
    assert rep["heldout_frames"] == [4]  # of frames 0-9: i % 8 == 4
    q = rep["quality"]
    assert q["views"] == 6 and q["frames"] == [4] and 5 < q["psnr"] < 60 and 0 < q["ssim"] <= 1
    assert rep["refine_steps"] >= 1 and rep["refine_stopped"] == "budget"
    stages = rep["stages_seconds"]
    assert {"worldrec", "prune", "refine", "evaluate", "total_build"} <= set(stages)
    assert stages["total_build"] < 25.0 + 5.0  # the budget bounds the build (one step of slack)
    sheet = rep["contact_sheet"]
    assert sheet.shape == (6 * HW[0], 3 * HW[1], 3) and sheet.dtype.name == "uint8"
    assert scene.num_gaussians == rep["gaussians"]


def test_budget_zero_is_worldrec_alone(tiny_segment) -> None:
    _, rep = _build(tiny_segment, budget=0)
    assert "refine_steps" not in rep and rep["refine_note"] == "budget 0: WorldRec alone, no refinement"
    assert "quality" in rep


@pytest.mark.parametrize("budget", [-1.0, float("nan")])
def test_bad_budget_is_refused(tiny_segment, budget) -> None:
    with pytest.raises(ConfigError, match="budget must be 0 or more"):
        _build(tiny_segment, budget=budget)


def test_no_lidar_falls_back_to_fitting(tiny_segment) -> None:
    scene, rep = _build(replace(tiny_segment, lidar=()), budget=6.0)
    assert "no lidar sweeps" in rep["fallback"] and rep["init"] == "random"
    assert "quality" in rep and scene.num_gaussians > 0
    with pytest.raises(ConfigError, match="no lidar sweeps"):
        _build(replace(tiny_segment, lidar=()), budget=0)


def test_foreign_cameras_fall_back_to_fitting(tiny_segment) -> None:
    names = {c: f"cam_{i}" for i, c in enumerate(tiny_segment.camera_names)}
    foreign = replace(
        tiny_segment,
        cameras={names[c]: v for c, v in tiny_segment.cameras.items()},
        frames={names[c]: v for c, v in tiny_segment.frames.items()},
    )
    _, rep = _build(foreign, budget=5.0)
    assert "are not the model's" in rep["fallback"] and "cam_0" in rep["fallback"]


def test_one_frame_log_builds_but_is_not_scored(tiny_segment) -> None:
    t = min(fs[0].time for fs in tiny_segment.frames.values())
    one = tiny_segment.time_window(t, t + 0.02)
    assert {len(f) for f in one.frames.values()} == {1}
    scene, rep = _build(one, budget=0)
    assert rep["quality_note"].startswith("no held-out frames") and scene.num_gaussians > 0
    with pytest.raises(ConfigError, match="0 \\(none\\) or >= 2"):
        _build(one, budget=0, holdout_every=1)


def test_cli_writes_scene_report_and_contact_sheet(tiny_log_path: Path, tmp_path: Path, capsys) -> None:
    from jwmsim.cli import main

    out = tmp_path / "scene.safetensors"
    with pytest.raises(SystemExit) as done:
        main(["reconstruct", str(tiny_log_path), "--out", str(out), "--budget", "0", "--size", "32x56"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    assert "held-out frames [4]" in text and "time per stage" in text and "budget 0" in text
    rep = json.loads((tmp_path / "scene.report.json").read_text())
    assert rep["quality"]["views"] == 6 and "contact_sheet" not in rep
    assert (tmp_path / "scene.contact.png").stat().st_size > 0 and out.is_file()


def test_cli_refuses_a_negative_budget(tiny_log_path: Path, tmp_path: Path, capsys) -> None:
    from jwmsim.cli import main

    with pytest.raises(SystemExit) as stop:
        main(["reconstruct", str(tiny_log_path), "--out", str(tmp_path / "s.safetensors"), "--budget", "-5"])
    assert stop.value.code != 0 and "budget must be 0 or more" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def _interrupt_after(monkeypatch, calls: int) -> None:  # noqa: ANN001
    import jwmsim.gaussians.fit as fit

    real, count = fit._render_view, {"n": 0}

    def render_then_stop(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        count["n"] += 1
        if count["n"] > calls:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(fit, "_render_view", render_then_stop)


def test_ctrl_c_in_refinement_leaves_no_scene(tiny_log_path: Path, tmp_path: Path, monkeypatch) -> None:
    from jwmsim.cli import main

    _interrupt_after(monkeypatch, 3)
    with pytest.raises(SystemExit) as stop:
        main(["reconstruct", str(tiny_log_path), "--out", str(tmp_path / "s.safetensors"), "--budget", "30"])
    assert stop.value.code == 130
    assert not list(tmp_path.iterdir())  # no scene, no report, no temporary file


def test_ctrl_c_leaves_nothing_in_the_scene_cache(tiny_segment, tmp_path: Path, monkeypatch) -> None:
    from jwmsim.scenes.sources import scene_cache_path, scene_for_log

    monkeypatch.setenv("JWMSIM_CACHE", str(tmp_path))
    _interrupt_after(monkeypatch, 2)
    settings = SourceSettings(image_hw=HW, budget=20.0)
    with pytest.raises(KeyboardInterrupt):
        scene_for_log(tiny_segment, "worldrec", progress=False, settings=settings)
    path = scene_cache_path(tiny_segment, "worldrec", settings)
    assert not path.parent.exists() or not list(path.parent.iterdir())


def test_scene_cache_keeps_the_report_beside_the_scene(tiny_segment, tmp_path: Path, monkeypatch) -> None:
    from jwmsim.scenes.quality import report_paths
    from jwmsim.scenes.sources import scene_cache_path, scene_for_log

    monkeypatch.setenv("JWMSIM_CACHE", str(tmp_path))
    settings = SourceSettings(image_hw=HW, budget=0)
    scene_for_log(tiny_segment, "worldrec", progress=False, settings=settings)
    path = scene_cache_path(tiny_segment, "worldrec", settings)
    report, sheet = report_paths(path)
    assert path.is_file() and sheet.is_file()
    assert json.loads(report.read_text())["quality"]["frames"] == [4]


def test_reports_of_the_same_scene_written_at_once_all_land(tmp_path: Path) -> None:
    """Two vector-env workers building one scene on an empty cache write its report at the same
    time: every writer finishes, the files are whole and no temporary file is left."""
    from concurrent.futures import ThreadPoolExecutor

    import cv2
    import numpy as np

    from jwmsim.scenes.quality import report_paths, write_report

    scene_path = tmp_path / "scene-x-worldrec-abc.safetensors"
    sheet = np.zeros((24, 48, 3), np.uint8)

    def write(i: int) -> None:
        sheet_i = sheet.copy()
        sheet_i[0, 0] = i
        write_report({"writer": i}, scene_path, sheet_i)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(write, range(32)))
    json_path, png_path = report_paths(scene_path)
    assert json.loads(json_path.read_text())["writer"] in range(32)
    assert cv2.imread(str(png_path)).shape == (24, 48, 3)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([json_path.name, png_path.name])
