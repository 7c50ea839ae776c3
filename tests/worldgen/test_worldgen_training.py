"""WorldGen training stages 1-2: losses run, resume is exact, bad checkpoints and eval clips refused."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch

from jwmsim.errors import CheckpointError, ConfigError
from jwmsim.worldgen.training.train import TrainConfig, train
from jwmsim.worldgen.weights import load_worldgen


def tiny_cfg(**over) -> TrainConfig:
    base = {
        "steps": 4,
        "clip_frames": 3,
        "warmup": 2,
        "autocast": "none",
        "checkpoint_every_s": 0.0,
        "torch_threads": 1,
        "extra": {
            "image_hw": (32, 48),
            "stem_channels": (4, 8, 8, 16),
            "dim": 32,
            "depth": 2,
            "heads": 2,
            "mlp_ratio": 2.0,
            "max_frames": 6,
        },
    }
    base.update(over)
    return TrainConfig(**base)


def _losses(run: Path) -> list[float]:
    with open(run / "loss.csv") as f:
        return [float(r["loss"]) for r in csv.DictReader(f)]


def test_pretrain_then_teacher_forcing(clips: Path, tmp_path: Path) -> None:
    pre = train(tiny_cfg(), tmp_path / "pre", clips, progress=False)
    assert pre["steps"] == 4 and pre["clips"] == 3
    for name in ("checkpoint.pt", "loss.csv", "loss.png", "model/config.json", "train_config.json"):
        assert (tmp_path / "pre" / name).is_file(), name
    model = load_worldgen(tmp_path / "pre" / "model")
    assert model.config.dim == 32
    tf = train(
        tiny_cfg(stage="teacher-forcing", init=str(tmp_path / "pre" / "model")),
        tmp_path / "tf",
        clips,
        progress=False,
    )
    assert tf["steps"] == 4
    losses = _losses(tmp_path / "tf")
    assert len(losses) == 4 and all(v > 0 for v in losses)


def test_resume_continues_exactly(clips: Path, tmp_path: Path) -> None:
    train(tiny_cfg(steps=5), tmp_path / "straight", clips, progress=False)
    train(tiny_cfg(steps=3), tmp_path / "split", clips, progress=False)
    train(tiny_cfg(steps=5), tmp_path / "split", clips, resume=True, progress=False)
    a, b = _losses(tmp_path / "straight"), _losses(tmp_path / "split")
    assert len(b) == 5
    assert a == pytest.approx(b, rel=1e-5, abs=1e-7)
    wa = load_worldgen(tmp_path / "straight" / "model").state_dict()
    wb = load_worldgen(tmp_path / "split" / "model").state_dict()
    for k in wa:
        torch.testing.assert_close(wa[k], wb[k], rtol=1e-5, atol=1e-6)


def test_refuses_existing_run_wrong_stage_and_corrupt_checkpoint(clips: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    train(tiny_cfg(steps=1), run, clips, progress=False)
    with pytest.raises(ConfigError, match="already holds"):
        train(tiny_cfg(steps=2), run, clips, progress=False)
    with pytest.raises(CheckpointError, match="pretrain"):
        train(tiny_cfg(steps=2, stage="teacher-forcing"), run, clips, resume=True, progress=False)
    (run / "checkpoint.pt").write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match=str(run / "checkpoint.pt")):
        train(tiny_cfg(steps=2), run, clips, resume=True, progress=False)
    with pytest.raises(CheckpointError, match="does not exist"):
        train(tiny_cfg(init=str(tmp_path / "missing")), tmp_path / "other", clips, progress=False)


def test_evaluation_town_clips_are_refused(tmp_path: Path, clip_writer) -> None:
    folder = tmp_path / "train"
    folder.mkdir()
    clip_writer(folder / "clip-eval.npz", source="town-000901")
    with pytest.raises(ConfigError, match="901"):
        train(tiny_cfg(steps=1), tmp_path / "run", folder, progress=False)


def test_bad_config_values() -> None:
    with pytest.raises(ConfigError, match="stage"):
        tiny_cfg(stage="consistency")
    with pytest.raises(ConfigError, match="cond_dropout"):
        tiny_cfg(cond_dropout=1.5)


def test_crops_keep_the_rays_of_their_tokens(tmp_path: Path, clip_writer) -> None:
    from jwmsim.worldgen.training.train_clips import clip_arrays, clip_tensors

    data = clip_arrays(clip_writer(tmp_path / "c.npz", hw=(48, 64)))
    full = clip_tensors(data, 1, 3, 16, 10.0)
    win = clip_tensors(data, 1, 3, 16, 10.0, crop=(16, 32, 32, 32))
    torch.testing.assert_close(win.rays, full.rays[:, 1:3, 2:4])
    torch.testing.assert_close(win.x0, full.x0[..., 16:48, 32:64])
    torch.testing.assert_close(win.motion, full.motion)
