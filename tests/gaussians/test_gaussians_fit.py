"""Per-scene fitting on a tiny log rendered from a known scene; image metrics; the CLI."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from jwmsim.cli import main
from jwmsim.errors import ConfigError
from jwmsim.gaussians.fit import FitConfig, _actor_poses, _fit_progress, fit_scene, schedule_progress
from jwmsim.gaussians.image_metrics import psnr, ssim
from jwmsim.gaussians.render import render
from jwmsim.gaussians.scene import GaussianScene, rotations_to_quats
from jwmsim.gaussians.synthetic import forward_rig, street_scene
from jwmsim.geometry import SE3
from jwmsim.logs.segment import ActorTrack, CameraFrame, LogSegment


def test_rotations_to_quats_matches_se3() -> None:
    rng = np.random.default_rng(0)
    poses = [SE3.from_quat(q, [0, 0, 0]) for q in rng.standard_normal((50, 4))]
    poses += [SE3.from_xy_yaw(0, 0, a) for a in (0.0, np.pi, -np.pi / 2)]  # trace-negative cases
    got = rotations_to_quats(np.stack([p.rotation for p in poses]))
    np.testing.assert_allclose(got, np.stack([p.quat for p in poses]), atol=1e-9)


def test_psnr_and_ssim() -> None:
    gen = torch.Generator().manual_seed(0)
    a = torch.rand(2, 20, 30, 3, generator=gen)
    assert psnr(a, a) == math.inf
    b = (a + 0.1).clamp(0, 1)
    mask = torch.zeros(2, 20, 30, dtype=torch.bool)
    mask[:, :, :10] = True  # PSNR over the masked pixels only
    masked_mse = float(((a - b)[:, :, :10] ** 2).mean())
    assert abs(psnr(a, b, mask) - (-10 * math.log10(masked_mse))) < 1e-4
    assert math.isnan(psnr(a, b, torch.zeros_like(mask)))
    assert abs(psnr(torch.zeros(4, 4, 3), torch.full((4, 4, 3), 0.1)) - 20.0) < 1e-5
    assert abs(float(ssim(a, a)) - 1.0) < 1e-6
    noisy = (a + 0.2 * torch.randn(a.shape, generator=gen)).clamp(0, 1)
    assert float(ssim(a, noisy)) < 0.9
    # constant images: SSIM reduces to the luminance term (2 x y + c1) / (x^2 + y^2 + c1)
    x, y, c1 = 0.3, 0.6, 0.01**2
    value = float(
        ssim(
            torch.full((1, 9, 9, 3), x, dtype=torch.float64), torch.full((1, 9, 9, 3), y, dtype=torch.float64)
        )
    )
    assert abs(value - (2 * x * y + c1) / (x * x + y * y + c1)) < 1e-6


def tiny_log(root: Path, n_frames: int = 12) -> tuple[LogSegment, GaussianScene]:
    """One front camera (80x45) driving 1 m per frame down a synthetic street past a moving car;
    images rendered from a known Gaussian scene."""
    scene = street_scene(4000, seed=2)
    scene = GaussianScene(scene.background, {"car_0": scene.actors["car_0"]}, scene.sky)
    cam = forward_rig(yaws_deg=(0.0,), size_wh=(80, 45))[0]
    times = [0.1 * i for i in range(n_frames)]
    egos = [SE3.from_xy_yaw(1.0 * i, 0.0, 0.0) for i in range(n_frames)]
    car = [SE3.from_xy_yaw(12.0 + 1.5 * i, -2.0, 0.0, z=0.8) for i in range(n_frames)]
    frames = []
    for t, ego, pose in zip(times, egos, car, strict=True):
        img = render(scene, [cam], ego, {"car_0": pose}, (45, 80), backend="cpu").rgb[0]
        path = root / f"{t:.1f}.png"
        cv2.imwrite(
            str(path),
            cv2.cvtColor((img.clamp(0, 1).numpy() * 255).round().astype(np.uint8), cv2.COLOR_RGB2BGR),
        )
        frames.append(CameraFrame(cam.name, t, ego, path))
    track = ActorTrack("car_0", "vehicle.car", (1.9, 4.5, 1.6), tuple(times), tuple(car))
    log = LogSegment(
        "tiny",
        0,
        times[-1],
        {cam.name: cam},
        {cam.name: tuple(frames)},
        tuple(times),
        tuple(egos),
        {"car_0": track},
    )
    return log, scene


def test_actor_poses_match_tracks(tmp_path: Path) -> None:
    log, _ = tiny_log(tmp_path, n_frames=4)
    times = np.array([-0.05, 0.0, 0.15, 0.3, 0.31])
    poses = _actor_poses(log, ["car_0", "not_in_log"], times)
    for t, p in zip(times, poses, strict=True):
        assert bool(p.present[0]) == log.tracks["car_0"].is_present(t)
        assert not bool(p.present[1])
        if p.present[0]:
            np.testing.assert_allclose(
                p.trans[0].numpy(), log.tracks["car_0"].pose_at(t).translation, atol=1e-5
            )


@pytest.fixture
def one_torch_thread():
    # tiny tensors: one thread avoids OpenMP hand-offs that dominate on a shared 2-core machine
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_fit_improves_heldout_psnr_and_round_trips(tmp_path: Path, one_torch_thread: None) -> None:
    log, _ = tiny_log(tmp_path)
    base = dict(
        image_hw=(45, 80), init_points=3000, holdout_every=4, densify_from=10, densify_every=10, seed=1
    )
    _, start = fit_scene(log, FitConfig(steps=1, **base), progress=False)
    scene, report = fit_scene(log, FitConfig(steps=80, **base), progress=False)
    assert report.init == "random"  # the tiny log has no lidar
    assert report.heldout_views == 3 and report.train_views == 9
    assert set(scene.actors) == {"car_0"}
    assert report.heldout_psnr > start.heldout_psnr + 1.0, (start.heldout_psnr, report.heldout_psnr)
    loaded = GaussianScene.load(scene.save(tmp_path / "fit.safetensors"))
    assert loaded.num_gaussians == scene.num_gaussians and loaded.metadata["method"] == "fit"


def test_fit_config_validation() -> None:
    with pytest.raises(ConfigError, match="steps"):
        FitConfig(steps=0)
    with pytest.raises(ConfigError, match="holdout"):
        FitConfig(holdout_every=1)


def test_reconstruct_cli_rejects_bad_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["reconstruct", str(tmp_path), "--method", "magic", "--out", str(tmp_path / "s.safetensors")])
    assert exc.value.code == 2
    assert "unknown reconstruction method" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["reconstruct", str(tmp_path), "--out", str(tmp_path / "scene.ply")])
    assert exc.value.code == 2


def test_the_schedule_follows_steps_or_the_time_budget() -> None:
    """Without a budget the schedule is the fraction of steps; with one, the fraction of the
    budget when that is further, so that densification stops at 70 % of the budget and the
    learning rate has decayed at its end (a budgeted refinement caps steps far above what it runs)."""
    by_steps = FitConfig(steps=1001)
    assert schedule_progress(1, 0.0, by_steps) == 0.0
    assert schedule_progress(701, 5.0, by_steps) == pytest.approx(0.7)
    budget = FitConfig(steps=100_000, time_budget=60.0)
    assert schedule_progress(500, 30.0, budget) == pytest.approx(0.5)
    assert schedule_progress(1500, 45.0, budget) > budget.densify_until_frac
    assert schedule_progress(2000, 90.0, budget) == 1.0


def test_a_budgeted_fit_shows_the_budget_seconds_not_the_step_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    """A budgeted refinement caps steps at 100000 and runs a few hundred: its bar counts the budget's
    seconds (no ETA of hours); an unbudgeted fit counts steps."""
    import io

    monkeypatch.setenv("JWMSIM_PROGRESS", "lines")
    bar = _fit_progress("log", FitConfig(steps=100_000, time_budget=60.0), True)
    bar.fp = io.StringIO()
    assert bar.total == 60.0 and bar.unit == "s"
    bar.update(30.0)
    bar.set_postfix(step=300)
    bar.close()
    text = bar.fp.getvalue()
    assert "60 s budget" in text and "30/60 s" in text and "100000" not in text
    odd = _fit_progress("log", FitConfig(steps=100_000, time_budget=9.20446), True)
    odd.fp = io.StringIO()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # tqdm warns when the count passes the total
        odd.update(min(9.3, 9.20446) - odd.n)
        odd.close()
    steps = _fit_progress("log", FitConfig(steps=500), True)
    assert steps.total == 500 and steps.unit == "step"
    steps.close()
