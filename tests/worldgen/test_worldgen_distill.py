"""WorldGen stages 3-4: the causal rollout, ODE trajectories and their student, DMD with its critic."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch

from jwmsim.errors import CheckpointError, ConfigError, LogFormatError
from jwmsim.worldgen.flow import euler_levels, few_step_levels
from jwmsim.worldgen.modeling_worldgen import WorldGenModel
from jwmsim.worldgen.pipeline_worldgen import SOLVERS, SamplerConfig, WorldGenPipeline, schedule
from jwmsim.worldgen.training.ode_pairs import OdePairs, OdeSettings, make_ode_pairs, teacher_schedule
from jwmsim.worldgen.training.rollout import ClipInputs, causal_rollout, score_frames
from jwmsim.worldgen.training.train import TrainConfig, train
from jwmsim.worldgen.training.train_clips import ClipSet
from jwmsim.worldgen.weights import load_worldgen

from .conftest import TINY
from .test_worldgen_training import tiny_cfg


@pytest.fixture()
def teacher_dir(tmp_path: Path) -> Path:
    """A tiny model folder (random weights: these tests check the mechanics, not quality)."""
    torch.manual_seed(0)
    WorldGenModel(**TINY).save_pretrained(tmp_path / "teacher")
    return tmp_path / "teacher"


def _inputs(model: WorldGenModel, clips: Path, frames: int = 3, batch: int = 2) -> ClipInputs:
    cs = ClipSet(clips)
    rng = np.random.default_rng(0)
    samples = [cs.draw(rng, frames, 16, model.config.depth_scale) for _ in range(batch)]
    return ClipInputs(
        context=torch.stack([s.x0[:1] for s in samples]),
        cond=torch.stack([s.cond for s in samples]),
        rays=torch.stack([s.rays for s in samples]),
        motion=torch.stack([s.motion for s in samples]),
    )


def test_rollout_matches_the_pipeline_frame_by_frame(teacher_dir: Path, clips: Path) -> None:
    """The batched tensor rollout is the pipeline's sampler: same levels, same noise, same frames."""
    model = load_worldgen(teacher_dir)
    inputs = _inputs(model, clips, batch=1)
    levels = schedule("renoise", 4, float(model.config.timestep_shift))
    out = causal_rollout(
        model, inputs, levels, SOLVERS.get("renoise"), generator=torch.Generator().manual_seed(3)
    )
    assert out.x0.shape == (1, 2, 3, 3, 32, 48) and out.states is None
    assert out.calls == 1 + 2 * 5  # the context write, then 4 steps + a write per frame

    pipe = WorldGenPipeline(
        model, SamplerConfig(steps=4, solver="renoise", seed=3, autocast="none", torch_threads=None)
    )
    pipe.gen.manual_seed(3)
    cache = pipe.cache
    with torch.no_grad():
        model.forward_cached(inputs.context[:, 0], torch.zeros(1), inputs.cond[:, 0], inputs.rays,
                             inputs.motion[:, 0], cache, write=True)  # fmt: skip
        for j in (1, 2):
            x = torch.randn((1, 3, 3, 32, 48), generator=pipe.gen)
            for s, s_next in zip(levels[:-1], levels[1:], strict=True):
                x0 = pipe._call(x, s, inputs.cond[:, j], inputs.rays, inputs.motion[:, j]).clamp(-1, 1)
                if s_next > 0:
                    x = pipe.solver(x, x0, s, s_next, torch.randn(x.shape, generator=pipe.gen))
            pipe._call(x0, 0.0, inputs.cond[:, j], inputs.rays, inputs.motion[:, j], write=True)
            torch.testing.assert_close(out.x0[:, j - 1], x0)


def test_rollout_records_states_and_keeps_gradients_only_at_the_exit_step(
    teacher_dir: Path, clips: Path
) -> None:
    model = load_worldgen(teacher_dir)
    inputs = _inputs(model, clips)
    shift = float(model.config.timestep_shift)
    student = few_step_levels(4, shift)
    levels = teacher_schedule(6, student, shift)
    assert levels[0] == 1.0 and levels[-1] == 0.0 and all(s in levels for s in student)
    assert set(euler_levels(6, shift)) <= set(levels)
    out = causal_rollout(model, inputs, levels, SOLVERS.get("euler"), record=student, guidance=1.5,
                         generator=torch.Generator().manual_seed(0))  # fmt: skip
    assert out.states.shape == (2, 2, 4, 3, 3, 32, 48)
    assert not out.x0.requires_grad
    first = out.states[:, :, 0]  # level 1: the starting noise
    assert abs(float(first.std()) - 1.0) < 0.1
    with pytest.raises(ValueError, match="not in the schedule"):
        causal_rollout(model, inputs, levels, SOLVERS.get("euler"), record=[0.123])

    renoise = schedule("renoise", 4, shift)
    model.train()
    g = causal_rollout(model, inputs, renoise, SOLVERS.get("renoise"), grad_step=1,
                       generator=torch.Generator().manual_seed(0))  # fmt: skip
    assert g.x0.requires_grad
    assert g.calls == 1 + 2 * (2 + 1)  # stops at the exit step, then the cache write
    g.x0.mean().backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


def test_score_frames_sees_only_the_past(teacher_dir: Path, clips: Path) -> None:
    """A frame's score does not change when a later frame does (block-causal)."""
    model = load_worldgen(teacher_dir)
    inputs = _inputs(model, clips)
    g = torch.randn(2, 2, 3, 3, 32, 48).clamp(-1, 1)
    noisy = torch.randn_like(g)
    s = torch.full((2, 2), 0.5)
    a = score_frames(model, inputs.context, g, noisy, s, inputs.cond, inputs.rays, inputs.motion)
    g2 = g.clone()
    g2[:, 1] = 0.0
    noisy2 = noisy.clone()
    noisy2[:, 1] = 0.0
    b = score_frames(model, inputs.context, g2, noisy2, s, inputs.cond, inputs.rays, inputs.motion)
    torch.testing.assert_close(a[:, 0], b[:, 0], atol=1e-5, rtol=1e-4)
    assert not torch.allclose(a[:, 1], b[:, 1])


def test_ode_pairs_resume_and_corrupt_files_are_clear(teacher_dir: Path, clips: Path, tmp_path: Path) -> None:
    st = OdeSettings(pairs=2, batch=2, frames=3, euler_steps=3, crop_hw=None)
    teacher = load_worldgen(teacher_dir)
    paths = make_ode_pairs(teacher, ClipSet(clips), tmp_path / "pairs", st, seed=1, progress=False)
    first = torch.load(paths[0], weights_only=False)
    assert first["states"].shape == (2, 2, 4, 3, 3, 32, 48) and first["x0"].dtype == torch.float16
    mtime = paths[0].stat().st_mtime_ns
    before = torch.load(paths[1], weights_only=False)["x0"]
    paths[1].unlink()
    again = make_ode_pairs(teacher, ClipSet(clips), tmp_path / "pairs", st, seed=1, progress=False)
    assert again == paths and paths[0].stat().st_mtime_ns == mtime  # kept, only the missing one made
    torch.testing.assert_close(torch.load(paths[1], weights_only=False)["x0"], before)  # the same file again
    assert len(OdePairs(tmp_path / "pairs")) == 4
    paths[1].write_bytes(b"not a torch file")
    with pytest.raises(LogFormatError, match="pairs_00001.pt"):
        OdePairs(tmp_path / "pairs")
    with pytest.raises(ConfigError, match="no ODE trajectory"):
        OdePairs(tmp_path / "nothing")


def _distill_cfg(**over) -> TrainConfig:
    return tiny_cfg(ode_pairs=2, ode_batch=2, euler_steps=3, crop_hw=None, critic_updates=2, **over)


def test_ode_then_dmd_train_and_resume(teacher_dir: Path, clips: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--teacher"):
        train(_distill_cfg(stage="ode"), tmp_path / "x", clips, progress=False)
    ode = train(_distill_cfg(stage="ode", teacher=str(teacher_dir)), tmp_path / "ode", clips, progress=False)
    assert ode["steps"] == 4 and (tmp_path / "ode" / "ode_pairs" / "pairs_00001.pt").is_file()
    student = load_worldgen(tmp_path / "ode" / "model")
    teacher = load_worldgen(teacher_dir)
    assert any(not torch.equal(a, b) for a, b in zip(student.parameters(), teacher.parameters(), strict=True))

    with pytest.raises(ConfigError, match="--init"):
        train(_distill_cfg(stage="dmd", teacher=str(teacher_dir)), tmp_path / "y", clips, progress=False)
    cfg = _distill_cfg(stage="dmd", teacher=str(teacher_dir), init=str(tmp_path / "ode" / "model"), steps=2)
    dmd = train(cfg, tmp_path / "dmd", clips, progress=False)
    assert dmd["steps"] == 2
    with open(tmp_path / "dmd" / "loss.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["step"] for r in rows] == ["1", "2"]
    assert all(float(r["loss"]) > 0 and float(r["critic_loss"]) > 0 for r in rows)
    assert (tmp_path / "dmd" / "loss.png").is_file()
    with pytest.raises(ConfigError, match="already holds"):
        train(cfg, tmp_path / "dmd", clips, progress=False)
    more = train(
        _distill_cfg(stage="dmd", teacher=str(teacher_dir), init=str(tmp_path / "ode" / "model"), steps=3),
        tmp_path / "dmd",
        clips,
        resume=True,
        progress=False,
    )
    assert more["steps"] == 3
    (tmp_path / "dmd" / "checkpoint.pt").write_bytes(b"broken")
    with pytest.raises(CheckpointError, match="unreadable"):
        train(cfg, tmp_path / "dmd", clips, resume=True, progress=False)


def test_ode_resume_refuses_a_dmd_checkpoint(teacher_dir: Path, clips: Path, tmp_path: Path) -> None:
    cfg = _distill_cfg(stage="dmd", teacher=str(teacher_dir), init=str(teacher_dir), steps=1)
    train(cfg, tmp_path / "run", clips, progress=False)
    with pytest.raises(CheckpointError, match="'dmd' run"):
        train(_distill_cfg(stage="teacher-forcing"), tmp_path / "run", clips, resume=True, progress=False)


def test_run_clock_counts_resumed_time_and_paces_checkpoints() -> None:
    from jwmsim.run_clock import RunClock

    clock = RunClock(elapsed=120.0, checkpoint_every_s=0.0, max_minutes=2.0)
    assert clock.elapsed >= 120.0 and clock.time_up()
    assert clock.checkpoint_due()
    slow = RunClock(elapsed=0.0, checkpoint_every_s=3600.0, max_minutes=None)
    assert not slow.checkpoint_due() and not slow.time_up()


def test_saturated_outputs_still_get_gradients(teacher_dir: Path, clips: Path) -> None:
    """The exit step's x0 is clamped to [-1, 1] going forward but not for the gradient."""
    model = load_worldgen(teacher_dir).train()
    with torch.no_grad():
        model.out.bias.fill_(5.0)  # every output pixel far above 1
    inputs = _inputs(model, clips, batch=1)
    levels = schedule("renoise", 4, float(model.config.timestep_shift))
    out = causal_rollout(model, inputs, levels, SOLVERS.get("renoise"), grad_step=0,
                         generator=torch.Generator().manual_seed(0))  # fmt: skip
    assert float(out.x0.max()) <= 1.0
    out.x0.sum().backward()
    assert model.out.bias.grad is not None and model.out.bias.grad.abs().sum() > 0
