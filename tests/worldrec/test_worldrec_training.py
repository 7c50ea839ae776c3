"""Training data policy, loss decrease on a tiny log, exact resume, the command line."""

from __future__ import annotations

import csv
import json
from dataclasses import replace

import numpy as np
import pytest
import torch

from jwmsim.errors import ConfigError
from jwmsim.worldrec.training.data import (
    EVAL_SEEDS,
    check_training_seed,
    draw_sample,
    is_heldout,
    make_source,
    prepare_town,
    render_oracle,
    training_frames,
)
from jwmsim.worldrec.training.train import TrainConfig, lr_factor, sample_loss, train

TINY_MODEL = dict(
    image_hw=(32, 56),
    enc_channels=(8, 8, 8),
    feat_dim=8,
    query_dim=16,
    num_points=2,
    gaussians_per_query=2,
    max_lidar_queries=300,
    max_anchor_queries=40,
    max_actor_queries=20,
    anchor_voxel=4.0,
)  # as conftest.TINY_MODEL


@pytest.mark.parametrize("seed", [*EVAL_SEEDS, 3, 99, 200])
def test_evaluation_and_builtin_seeds_are_refused(seed, tmp_path) -> None:
    with pytest.raises(ConfigError, match="may not be used for training"):
        check_training_seed(seed)
    with pytest.raises(ConfigError):
        prepare_town(tmp_path, seed, 1.0, (32, 56), 0)
    assert not (tmp_path / "towns").exists()  # refused before anything is written


def test_train_config_refuses_ranges_touching_evaluation_towns() -> None:
    check_training_seed(150)
    with pytest.raises(ConfigError):
        TrainConfig(town_seed0=195, num_towns=10)  # would reach 200+


@pytest.mark.parametrize("p", [-0.1, 1.5])
def test_train_config_refuses_a_real_log_share_outside_0_1(p) -> None:
    with pytest.raises(ConfigError, match="real_log_p"):
        TrainConfig(real_log_p=p)


def test_real_log_holdout_is_every_eighth_frame() -> None:
    assert [i for i in range(60) if is_heldout(i)] == [4, 12, 20, 28, 36, 44, 52]
    assert not set(training_frames(60)) & {4, 12, 20, 28, 36, 44, 52}


def test_real_log_source_never_loads_heldout_frames(tiny_segment) -> None:
    src = make_source("real", tiny_segment, (32, 56), None, real=True)
    assert src.cache.num_frames == 9  # 10 frames, frame 4 held out
    held_t = tiny_segment.frames[tiny_segment.camera_names[0]][4].time
    assert not np.any(np.isclose(src.cache.times[0], held_t))
    assert all(abs(s.time - held_t) > 0.05 for s in src.cache.lidar)


def _tiny_cfg(**over) -> TrainConfig:
    base = dict(
        steps=4, num_towns=0, real_log="unused", ctx_steps=3, ctx_stride=2, warmup=2, extra=TINY_MODEL
    )
    base.update(over)
    return TrainConfig(**base)


@pytest.fixture(scope="module")
def tiny_source(tiny_segment, town_seed):  # noqa: ANN001, ANN201
    oracle = render_oracle(town_seed, [0.4, 0.6], [1.5, -2.5], (32, 56), render_hw=(54, 96))
    return make_source("town", tiny_segment, (32, 56), oracle, real=False)


def test_sample_targets_are_not_context_frames(tiny_source) -> None:
    rng = np.random.default_rng(1)
    for _ in range(5):
        s = draw_sample(tiny_source, rng, 3, 2, 0.0)
        ctx_times = set(np.round(tiny_source.cache.times[0, s.frames], 3))
        assert s.targets
        for t in s.targets:
            assert t.kind == "oracle" or round(t.time, 3) not in ctx_times


def test_a_few_steps_lower_the_loss(tiny_source) -> None:
    from jwmsim.worldrec.training.train import model_from_preset

    torch.manual_seed(0)
    cfg = _tiny_cfg()
    model = model_from_preset(cfg)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    sample = draw_sample(tiny_source, np.random.default_rng(0), 3, 2, 0.0)
    losses = []
    for _ in range(12):
        loss, _ = sample_loss(model, sample, cfg, np.random.default_rng(5))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert np.mean(losses[-3:]) < np.mean(losses[:3]) - 1e-3, losses


def test_lr_schedule_warms_up_then_decays() -> None:
    cfg = _tiny_cfg(steps=100, warmup=10)
    assert lr_factor(0, cfg) == pytest.approx(0.1) and lr_factor(9, cfg) == pytest.approx(1.0)
    assert lr_factor(99, cfg) < 0.2 and lr_factor(50, cfg) < 1.0


def _losses(path) -> list[float]:
    with open(path / "loss.csv") as f:
        return [float(r["loss"]) for r in csv.DictReader(f)]


def test_resume_continues_exactly(tiny_source, tmp_path) -> None:
    full = train(_tiny_cfg(steps=4), tmp_path / "a", tmp_path, progress=False, sources=[tiny_source])
    assert full["steps"] == 4 and (tmp_path / "a" / "loss.png").is_file()
    train(_tiny_cfg(steps=2), tmp_path / "b", tmp_path, progress=False, sources=[tiny_source])
    with pytest.raises(ConfigError, match="--resume"):
        train(_tiny_cfg(steps=4), tmp_path / "b", tmp_path, progress=False, sources=[tiny_source])
    train(_tiny_cfg(steps=4), tmp_path / "b", tmp_path, resume=True, progress=False, sources=[tiny_source])
    a, b = _losses(tmp_path / "a"), _losses(tmp_path / "b")
    assert len(a) == len(b) == 4
    # the run's settings stay the first call's; the resume call's are appended beside them
    assert json.loads((tmp_path / "b" / "train_config.json").read_text())["steps"] == 2
    resumed = [json.loads(x) for x in (tmp_path / "b" / "resume_config.jsonl").read_text().splitlines()]
    assert [(r["resumed_at_step"], r["steps"]) for r in resumed] == [(2, 4)]
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    from jwmsim.worldrec.reconstruct import load_worldrec

    ma, mb = load_worldrec(tmp_path / "a" / "model"), load_worldrec(tmp_path / "b" / "model")
    for pa, pb in zip(ma.parameters(), mb.parameters(), strict=True):
        torch.testing.assert_close(pa, pb, rtol=1e-4, atol=1e-5)


def test_cli_rejects_unknown_preset(capsys) -> None:
    from jwmsim.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["train", "worldrec", "--preset", "huge"])
    assert exc.value.code == 2
    assert "unknown preset" in capsys.readouterr().err


def test_presets_build() -> None:
    import inspect

    from jwmsim.worldrec.configuration_worldrec import PRESETS
    from jwmsim.worldrec.modeling_worldrec import WorldRecModel

    default_hw = inspect.signature(WorldRecModel.__init__).parameters["image_hw"].default
    from jwmsim.worldrec.training.train import TRAIN_PRESETS, model_from_preset

    for name, cfg in TRAIN_PRESETS.items():
        model = model_from_preset(cfg)
        want = PRESETS[cfg.model_preset].get("image_hw", default_hw)
        assert tuple(model.config.image_hw) == tuple(want), name
    big = model_from_preset(TRAIN_PRESETS["gpu"])
    small = model_from_preset(TRAIN_PRESETS["tiny-cpu"])
    assert sum(p.numel() for p in big.parameters()) > 2 * sum(p.numel() for p in small.parameters())
    assert TRAIN_PRESETS["gpu"].engine == "accelerate" and TRAIN_PRESETS["tiny-cpu"].engine == "plain"


def test_accelerate_engine_trains_like_the_plain_one(tiny_source, tmp_path) -> None:
    """The gpu preset's engine, run here as one CPU process (what `accelerate launch` starts on each
    GPU): same losses as the plain engine for the same seed."""
    pytest.importorskip("accelerate", reason="the accelerate engine needs the accelerate package")
    plain = _tiny_cfg(steps=3)
    train(plain, tmp_path / "plain", tmp_path, progress=False, sources=[tiny_source])
    accel = replace(plain, engine="accelerate")
    train(accel, tmp_path / "acc", tmp_path, progress=False, sources=[tiny_source])
    np.testing.assert_allclose(_losses(tmp_path / "plain"), _losses(tmp_path / "acc"), rtol=1e-4, atol=1e-6)


def test_init_fine_tunes_saved_weights_and_refuses_a_broken_folder(tiny_source, tmp_path) -> None:
    from jwmsim.errors import CheckpointError
    from jwmsim.worldrec.reconstruct import load_worldrec

    train(_tiny_cfg(steps=2), tmp_path / "a", tmp_path, progress=False, sources=[tiny_source])
    start = load_worldrec(tmp_path / "a" / "model")
    # a learning rate of ~0: the fine-tuned model is still the one it started from
    cfg = _tiny_cfg(steps=1, init=str(tmp_path / "a" / "model"), lr=1e-30, extra={})
    train(cfg, tmp_path / "b", tmp_path, progress=False, sources=[tiny_source])
    tuned = load_worldrec(tmp_path / "b" / "model")
    for pa, pb in zip(start.parameters(), tuned.parameters(), strict=True):
        torch.testing.assert_close(pa, pb)
    fresh = train(
        _tiny_cfg(steps=1, lr=1e-30), tmp_path / "c", tmp_path, progress=False, sources=[tiny_source]
    )
    assert fresh["steps"] == 1
    other = load_worldrec(tmp_path / "c" / "model")
    assert any(not torch.equal(pa, pc) for pa, pc in zip(start.parameters(), other.parameters(), strict=True))
    (tmp_path / "broken").mkdir()
    with pytest.raises(CheckpointError):
        train(_tiny_cfg(steps=1, init=str(tmp_path / "broken")), tmp_path / "d", tmp_path, progress=False,
              sources=[tiny_source])  # fmt: skip
