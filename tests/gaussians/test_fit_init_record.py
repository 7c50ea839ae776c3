"""How a fit started (lidar or random points) is recorded on the report and the saved scene, and
printed by ``jwmsim reconstruct``; ``jwmsim info`` says when a log has no lidar."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from procedural.test_nuscenes_writer import write_tiny_log
from test_gaussians_fit import tiny_log

from jwmsim.gaussians.fit import FitConfig, fit_scene, random_init_reason
from jwmsim.gaussians.scene import GaussianScene
from jwmsim.logs.nuscenes import load_nuscenes_log

FAST = dict(image_hw=(45, 80), init_points=500, holdout_every=4, max_eval_views=1, seed=0)


@pytest.fixture
def one_torch_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_random_start_is_recorded_on_report_and_scene(tmp_path: Path, one_torch_thread: None) -> None:
    log, _ = tiny_log(tmp_path, n_frames=8)
    assert log.lidar == ()
    scene, report = fit_scene(log, FitConfig(steps=1, **FAST), progress=False)
    assert report.init == "random" and "the log has no lidar sweeps" in report.init_reason
    assert report.to_dict()["init_reason"] == report.init_reason
    loaded = GaussianScene.load(scene.save(tmp_path / "fit.safetensors"))
    assert loaded.metadata["init"] == "random"
    assert loaded.metadata["init_reason"] == report.init_reason


def test_reason_names_lidar_that_sees_nothing(tmp_path: Path) -> None:
    root = write_tiny_log(tmp_path / "log")
    log = load_nuscenes_log(root)
    assert len(log.lidar) > 0
    assert "fewer than 100 points" in random_init_reason(log) and "lidar sweeps" in random_init_reason(log)
    assert "no lidar sweeps" in random_init_reason(replace(log, lidar=()))


def _jwmsim(*args: str) -> subprocess.CompletedProcess[str]:
    code = "import sys; from jwmsim.cli import main; main(sys.argv[1:])"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=300)


def test_reconstruct_prints_the_start_and_info_flags_missing_lidar(tmp_path: Path) -> None:
    root = write_tiny_log(tmp_path / "log")
    out = tmp_path / "scene.safetensors"
    res = _jwmsim(
        "reconstruct", str(root), "--out", str(out), "--method", "fit", "--steps", "1", "--size", "18x32"
    )
    assert res.returncode == 0, res.stderr
    scene = GaussianScene.load(out)
    assert f"initialised from {scene.metadata['init_reason']}" in res.stdout
    assert scene.metadata["init"] in ("lidar", "random")
    info = _jwmsim("info", str(root))
    assert info.returncode == 0 and "sweeps" in info.stdout and "fit starts from random" not in info.stdout


def test_info_summary_flags_a_log_without_lidar(tmp_path: Path) -> None:
    from jwmsim.cli.info import format_summary

    log, _ = tiny_log(tmp_path, n_frames=3)
    text = format_summary(log.summary(), [log.name])
    assert "lidar      0 sweeps  (none: a fit starts from random points)" in text
    assert "map        none" in text
