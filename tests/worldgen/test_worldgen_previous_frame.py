"""WorldGen with the previous frame per pixel: growing a model keeps its outputs, the cached
inference feeds the last written frame exactly as the causal forward is given it, the cache carries
it through snapshots, and the training corruption of the previous frame."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from jwmsim.errors import ConfigError
from jwmsim.worldgen.kv_cache import KVCache
from jwmsim.worldgen.modeling_worldgen import (
    WorldGenModel,
    causal_block_mask,
    previous_frames,
    with_previous_frame,
)
from jwmsim.worldgen.training.rollout import score_frames
from jwmsim.worldgen.training.train import Batch, TrainConfig, corrupt_previous, teacher_forcing_loss, train
from jwmsim.worldgen.training.train_clips import ClipSet
from jwmsim.worldgen.weights import load_worldgen

from .conftest import TINY, random_inputs, trained_like


def _grown() -> tuple[WorldGenModel, WorldGenModel]:
    torch.manual_seed(0)
    base = trained_like(WorldGenModel(**TINY)).eval()
    return base, with_previous_frame(base).eval()


def test_a_grown_model_gives_the_same_frames_until_trained() -> None:
    base, grown = _grown()
    assert grown.config.previous_frame and not base.config.previous_frame
    assert grown.in_cond.weight.shape[1] == base.in_cond.weight.shape[1] + 3
    inp = random_inputs(base, f=3)
    prev = torch.randn_like(inp["x"])
    with torch.no_grad():
        ref = base(**inp, block_mask=causal_block_mask(3))
        out = grown(**inp, block_mask=causal_block_mask(3), previous=prev)
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)
    assert with_previous_frame(grown) is grown
    trained = trained_like(grown, seed=5)
    with torch.no_grad():
        a = trained(**inp, previous=prev)
        b = trained(**inp, previous=torch.zeros_like(prev))
    assert (a - b).abs().max() > 1e-3  # once trained, the previous frame matters
    with pytest.raises(ValueError, match="previous frames"):
        trained(**inp, previous=prev[..., :2, :, :])


def test_cached_inference_feeds_the_last_written_frame() -> None:
    """Frame by frame through the KV cache equals the causal forward given each frame's
    predecessor: the cache's previous frame is the last one written."""
    _, grown = _grown()
    model = trained_like(grown, seed=3).eval()
    f = 3
    inp = random_inputs(model, b=2, f=f)
    levels = torch.zeros(2, f)  # clean frames: each call both decodes and writes
    with torch.no_grad():
        ref = model(
            **dict(inp, levels=levels), block_mask=causal_block_mask(f), previous=previous_frames(inp["x"])
        )
        cache = KVCache(num_sinks=1, window=f)
        outs = [
            model.forward_cached(
                inp["x"][:, i],
                levels[:, i],
                inp["cond"][:, i],
                inp["rays"],
                inp["motion"][:, i],
                cache,
                write=True,
            )  # fmt: skip
            for i in range(f)
        ]
    torch.testing.assert_close(torch.stack(outs, 1), ref, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(cache.previous, inp["x"][:, -1])
    snap = cache.snapshot()
    nbytes = cache.nbytes()
    cache.clear()
    assert cache.previous is None and cache.nbytes() == 0
    cache.restore(snap)
    assert cache.previous is snap.previous and cache.nbytes() == nbytes


def test_score_frames_gives_each_frame_its_predecessor(clips: Path) -> None:
    """The one-call scoring form equals the cached rollout's view: a noisy frame sees the clean
    frame before it, and changing that frame changes its score."""
    _, grown = _grown()
    model = trained_like(grown, seed=4).eval()
    rng = np.random.default_rng(0)
    s = ClipSet(clips).draw(rng, 3, 16, model.config.depth_scale)
    ctx, clean, cond = s.x0[None, :1], s.x0[None, 1:], s.cond[None]
    noisy = torch.randn_like(clean)
    levels = torch.full((1, 2), 0.5)
    with torch.no_grad():
        out = score_frames(model, ctx, clean, noisy, levels, cond, s.rays[None], s.motion[None])
        cache = KVCache(num_sinks=1, window=3)
        model.forward_cached(
            ctx[:, 0], torch.zeros(1), cond[:, 0], s.rays[None], s.motion[None, 0], cache, write=True
        )
        first = model.forward_cached(
            noisy[:, 0], levels[:, 0], cond[:, 1], s.rays[None], s.motion[None, 1], cache
        )
        changed = score_frames(model, ctx + 0.5, clean, noisy, levels, cond, s.rays[None], s.motion[None])
    torch.testing.assert_close(out[:, 0], first, rtol=1e-4, atol=1e-4)
    assert (changed[:, 0] - out[:, 0]).abs().max() > 1e-4


def test_corrupt_previous_noise_and_dropout() -> None:
    frames = torch.rand(4, 5, 2, 3, 8, 8) * 2 - 1
    gen = torch.Generator().manual_seed(0)
    clean = corrupt_previous(frames, TrainConfig(previous_noise=0.0, previous_dropout=0.0), gen)
    assert torch.equal(clean[:, 0], torch.zeros_like(clean[:, 0]))  # no frame before the first
    torch.testing.assert_close(clean[:, 1:], frames[:, :-1])
    noisy = corrupt_previous(frames, TrainConfig(previous_noise=0.2, previous_dropout=0.0), gen)
    err = (noisy[:, 1:] - frames[:, :-1]).std(dim=(1, 2, 3, 4, 5))
    assert 0 < float(err.max()) < 0.25
    dropped = corrupt_previous(frames, TrainConfig(previous_noise=0.0, previous_dropout=0.5), gen)
    gone = (dropped[:, 1:].flatten(2).abs().sum(-1) == 0).float().mean()
    assert 0.2 < float(gone) < 0.8
    with pytest.raises(ConfigError, match="previous_dropout"):
        TrainConfig(previous_dropout=1.0)
    with pytest.raises(ConfigError, match="previous_noise"):
        TrainConfig(previous_noise=-0.1)


def test_teacher_forcing_with_the_previous_frame_lowers_its_loss(clips: Path) -> None:
    _, grown = _grown()
    model = grown.train()
    rng = np.random.default_rng(0)
    cs = ClipSet(clips)
    batch = Batch.stack(
        [cs.draw(rng, 3, 16, model.config.depth_scale) for _ in range(2)], torch.device("cpu")
    )
    cfg = TrainConfig(cond_dropout=0.0, previous_dropout=0.0)
    k = float(model.config.timestep_shift)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)

    def loss() -> torch.Tensor:
        return teacher_forcing_loss(model, batch, cfg, k, torch.Generator().manual_seed(1))

    with torch.no_grad():
        before = float(loss())
    for _ in range(12):
        opt.zero_grad(set_to_none=True)
        loss().backward()
        opt.step()
    with torch.no_grad():
        assert float(loss()) < 0.9 * before
    assert model.in_cond.weight[:, -3:].abs().max() > 0  # the new channels opened


def test_training_grows_an_init_and_saves_a_model_that_takes_the_previous_frame(
    clips: Path, tmp_path: Path
) -> None:
    torch.manual_seed(0)
    WorldGenModel(**TINY).save_pretrained(tmp_path / "init")
    cfg = TrainConfig(
        stage="teacher-forcing", steps=2, clip_frames=3, crop_hw=None, init=str(tmp_path / "init"),
        previous_frame=True, autocast="none", torch_threads=1,
    )  # fmt: skip
    summary = train(cfg, tmp_path / "run", clips, progress=False)
    assert summary["steps"] == 2
    model = load_worldgen(tmp_path / "run" / "model")
    assert model.config.previous_frame
    resumed = train(dataclasses.replace(cfg, steps=3), tmp_path / "run", clips, resume=True, progress=False)
    assert resumed["steps"] == 3


def test_cli_grows_the_init_and_checks_the_noise(clips: Path, tmp_path: Path, capsys) -> None:
    from jwmsim.cli import main

    torch.manual_seed(0)
    WorldGenModel(**TINY).save_pretrained(tmp_path / "init")
    args = ["train", "worldgen", "--stage", "teacher-forcing", "--init", str(tmp_path / "init"),
            "--data", str(clips), "--steps", "1", "--clip-frames", "3", "--autocast", "none",
            "--no-progress"]  # fmt: skip
    with pytest.raises(SystemExit) as exc:
        main([*args, "--out", str(tmp_path / "bad"), "--previous-frame", "--previous-noise", "2"])
    assert exc.value.code == 2 and "previous_noise" in capsys.readouterr().err
    assert not (tmp_path / "bad" / "model").exists()
    for out, grown in (("run", True), ("plain", False)):
        with pytest.raises(SystemExit) as stop:
            main([*args, "--out", str(tmp_path / out), *(["--previous-frame"] if grown else [])])
        assert stop.value.code == 0
        assert load_worldgen(tmp_path / out / "model").config.previous_frame == grown
