"""Each training stage lowers its own loss on a small fixed batch (the same noise and levels at
every evaluation), and the shipped student loads and generates."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from jwmsim.errors import ConfigError
from jwmsim.worldgen.configuration_worldgen import ALPHA_CHANNEL
from jwmsim.worldgen.modeling_worldgen import WorldGenModel
from jwmsim.worldgen.pipeline_worldgen import SOLVERS, schedule
from jwmsim.worldgen.training.dmd import clip_inputs, critic_loss, dmd_loss
from jwmsim.worldgen.training.ode_pairs import OdePairs, OdeSettings, make_ode_pairs, ode_loss
from jwmsim.worldgen.training.rollout import causal_rollout
from jwmsim.worldgen.training.train import (
    Batch,
    TrainConfig,
    frozen_model,
    gradient_variance,
    pretrain_loss,
    source_mask,
    teacher_forcing_loss,
    weighted_error,
    x0_loss,
)
from jwmsim.worldgen.training.train_clips import ClipSet

from .conftest import TINY

STEPS = 12


LossOf = Callable[[torch.nn.Module], torch.Tensor]


def _fit(model: torch.nn.Module, loss_of: LossOf, lr: float = 3e-3) -> tuple[float, float]:
    """``STEPS`` Adam steps on ``loss_of``; returns (loss before, loss after)."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    with torch.no_grad():
        before = float(loss_of(model))
    for _ in range(STEPS):
        opt.zero_grad(set_to_none=True)
        loss_of(model).backward()
        opt.step()
    with torch.no_grad():
        return before, float(loss_of(model))


def _model() -> WorldGenModel:
    torch.manual_seed(0)
    return WorldGenModel(**TINY)


def _samples(model: WorldGenModel, clips: Path, frames: int = 3, n: int = 2) -> list:
    rng = np.random.default_rng(0)
    cs = ClipSet(clips)
    return [cs.draw(rng, frames, model.config.patch, model.config.depth_scale) for _ in range(n)]


@pytest.mark.parametrize(
    "loss_fn", [pretrain_loss, teacher_forcing_loss], ids=["pretrain", "teacher-forcing"]
)
def test_stages_1_and_2_lower_their_loss(loss_fn, clips: Path) -> None:
    model = _model()
    batch = Batch.stack(_samples(model, clips), torch.device("cpu"))
    cfg = TrainConfig(cond_dropout=0.0)
    k = float(model.config.timestep_shift)

    def loss_of(m: torch.nn.Module) -> torch.Tensor:
        return loss_fn(m, batch, cfg, k, torch.Generator().manual_seed(1))

    before, after = _fit(model, loss_of)
    assert after < 0.9 * before, (before, after)


def loss_fn_without_term(model: torch.nn.Module, batch: Batch, cfg: TrainConfig, k: float) -> torch.Tensor:
    return teacher_forcing_loss(
        model, batch, replace(cfg, gradient_weight=0.0), k, torch.Generator().manual_seed(1)
    )


def test_teacher_forcing_with_the_gradient_variance_lowers_its_loss(clips: Path) -> None:
    model = _model()
    batch = Batch.stack(_samples(model, clips), torch.device("cpu"))
    cfg = TrainConfig(stage="teacher-forcing", cond_dropout=0.0, gradient_weight=0.5, uncovered_weight=2.0)
    k = float(model.config.timestep_shift)

    def loss_of(m: torch.nn.Module) -> torch.Tensor:
        return teacher_forcing_loss(m, batch, cfg, k, torch.Generator().manual_seed(1))

    with torch.no_grad():
        plain = float(loss_fn_without_term(model, batch, cfg, k))
    before, after = _fit(model, loss_of)
    assert before > plain  # the term is there
    assert after < 0.9 * before, (before, after)


def test_the_gradient_variance_asks_for_detail_not_for_its_place() -> None:
    """Why the term exists: where an edge may lie at either of two places, the blur between them
    has the lower squared error against the truth, yet a sharp edge at the wrong place matches the
    true tile's gradient variance and the blur does not."""
    x = torch.arange(16.0)
    true = (x >= 7).float().expand(3, 16, 16)  # a vertical edge inside the first 8-pixel tile
    off = (x >= 5).float().expand(3, 16, 16)  # the same edge two columns to the left
    blur = 0.5 * (true + off)  # the mean of the two
    assert float((blur - true).pow(2).mean()) < float((off - true).pow(2).mean())
    assert float(gradient_variance(off, true)) < 0.2 * float(gradient_variance(blur, true))
    assert float(gradient_variance(true, true)) == 0.0
    w = torch.zeros(1, 16, 16)
    w[..., 8:] = 1.0  # only the flat right-hand tiles count
    assert float(gradient_variance(blur, true, w)) == 0.0
    with pytest.raises(ConfigError, match="gradient_weight"):
        TrainConfig(gradient_weight=-0.1)


def test_preserve_holds_a_fine_tune_to_its_starting_model(clips: Path, tmp_path: Path) -> None:
    """The term is zero for the model it holds to and grows as the model moves away from it."""
    model = _model()
    model.save_pretrained(tmp_path / "start")
    batch = Batch.stack(_samples(model, clips), torch.device("cpu"))
    plain_cfg = TrainConfig(stage="teacher-forcing", cond_dropout=0.0)
    cfg = replace(plain_cfg, preserve=str(tmp_path / "start"), preserve_weight=10.0)
    k = float(model.config.timestep_shift)

    def loss(m: torch.nn.Module, c: TrainConfig) -> float:
        with torch.no_grad():
            return float(teacher_forcing_loss(m, batch, c, k, torch.Generator().manual_seed(1)))

    assert loss(model, cfg) == pytest.approx(loss(model, plain_cfg), rel=1e-5)
    moved = copy.deepcopy(model)
    with torch.no_grad():
        for prm in moved.parameters():
            prm.add_(0.05 * torch.randn_like(prm))
    assert loss(moved, cfg) > loss(moved, plain_cfg)
    frozen_model.cache_clear()
    with pytest.raises(ConfigError, match="preserve"):
        TrainConfig(stage="pretrain", preserve=str(tmp_path / "start"))


def test_preserve_sources_pick_the_clips_held(clips: Path, tmp_path: Path) -> None:
    """With ``preserve_sources`` only the named clips are held: their share of the term, and none
    where no clip of the batch is named."""
    model = _model()
    model.save_pretrained(tmp_path / "start")
    batch = Batch.stack(_samples(model, clips), torch.device("cpu"))
    batch = replace(batch, sources=("town-000100", "pandaset-002"))
    moved = copy.deepcopy(model)
    with torch.no_grad():
        for prm in moved.parameters():
            prm.add_(0.05 * torch.randn_like(prm))
    plain_cfg = TrainConfig(stage="teacher-forcing", cond_dropout=0.0)
    k = float(model.config.timestep_shift)

    def term(sources: tuple[str, ...]) -> float:
        cfg = replace(plain_cfg, preserve=str(tmp_path / "start"), preserve_sources=sources)
        with torch.no_grad():
            held, plain = (
                float(teacher_forcing_loss(moved, batch, c, k, torch.Generator().manual_seed(1)))
                for c in (cfg, plain_cfg)
            )
        return held - plain

    every, town, real = term(()), term(("town",)), term(("pandaset",))
    assert town > 0.0 and real > 0.0
    assert town + real == pytest.approx(every, rel=1e-4)
    assert term(("nowhere",)) == pytest.approx(0.0, abs=1e-7)
    frozen_model.cache_clear()
    with pytest.raises(ConfigError, match="preserve_sources needs preserve"):
        TrainConfig(stage="teacher-forcing", preserve_sources=("town",))


def test_gradient_sources_pick_the_clips_the_term_applies_to() -> None:
    """With ``gradient_sources`` the term counts for the named clips only; without, for all."""
    x = torch.arange(16.0)
    true = (x >= 7).float().expand(1, 1, 1, 3, 16, 16).repeat(2, 1, 1, 1, 1, 1)
    blur = true.clone()
    blur[..., 6:9] = torch.tensor([0.25, 0.5, 0.75])
    batch = Batch(true, torch.zeros(2, 1, 1, 5, 16, 16), torch.zeros(2, 1, 1, 1, 3), torch.zeros(2, 1, 4),
                  ("town-000100", "pandaset-002"))  # fmt: skip
    mse = float(x0_loss(blur, batch, TrainConfig()))
    both = float(x0_loss(blur, batch, TrainConfig(gradient_weight=1.0)))
    real = float(x0_loss(blur, batch, TrainConfig(gradient_weight=1.0, gradient_sources=("pandaset",))))
    assert both > real > mse
    assert real - mse == pytest.approx(0.5 * (both - mse))
    assert source_mask(batch, ("town",)).tolist() == [1.0, 0.0]
    with pytest.raises(ConfigError, match="sources"):
        source_mask(Batch(true, batch.cond, batch.rays, batch.motion), ("town",))


def test_uncovered_weight_moves_the_loss_to_empty_pixels() -> None:
    """Weight 1 is the plain mean squared error; a larger weight counts an error on pixels the
    skeleton leaves empty more than the same error on covered pixels, at the same loss scale."""
    x0 = torch.zeros(1, 1, 1, 3, 4, 4)
    cond = torch.zeros(1, 1, 1, 5, 4, 4)
    cond[..., ALPHA_CHANNEL, :, :2] = 1.0  # left half covered, right half empty
    batch = Batch(x0, cond, torch.zeros(1, 1, 1, 1, 3), torch.zeros(1, 1, 4))
    miss_empty = torch.zeros_like(x0)
    miss_empty[..., 2:] = 1.0
    miss_covered = torch.zeros_like(x0)
    miss_covered[..., :2] = 1.0
    assert weighted_error(miss_empty, batch, 1.0) == pytest.approx(0.5)
    assert weighted_error(miss_covered, batch, 1.0) == pytest.approx(0.5)
    assert weighted_error(miss_empty, batch, 3.0) == pytest.approx(0.75)  # (3 * 24) / 48 / 2
    assert weighted_error(miss_covered, batch, 3.0) == pytest.approx(0.25)
    assert weighted_error(torch.ones_like(x0), batch, 3.0) == pytest.approx(1.0)  # scale kept
    with pytest.raises(ConfigError, match="uncovered_weight"):
        TrainConfig(uncovered_weight=0.5)


def test_stage_3_ode_lowers_its_loss(clips: Path, tmp_path: Path) -> None:
    teacher = _model().eval()
    settings = OdeSettings(pairs=1, batch=2, frames=3, euler_steps=3, student_steps=1, crop_hw=None)
    make_ode_pairs(teacher, ClipSet(clips), tmp_path / "pairs", settings, seed=0, progress=False)
    pairs = OdePairs(tmp_path / "pairs")
    samples = [pairs.draw(np.random.default_rng(i)) for i in range(2)]
    student = copy.deepcopy(teacher).train()

    def loss_of(m: torch.nn.Module) -> torch.Tensor:
        return ode_loss(m, samples, torch.Generator().manual_seed(1))

    before, after = _fit(student, loss_of)
    assert after < 0.9 * before, (before, after)


def test_stage_4_dmd_critic_and_generator_lower_their_losses(clips: Path) -> None:
    """The critic's flow-matching loss on fixed generator frames falls; the generator's DMD loss
    against the target its scores set (``x - grad``, held fixed) falls."""
    teacher = _model().eval()
    torch.manual_seed(1)
    critic = WorldGenModel(**TINY).train()
    student = copy.deepcopy(teacher).train()
    inputs = clip_inputs(_samples(teacher, clips), 1, torch.device("cpu"))
    k = float(teacher.config.timestep_shift)
    levels = schedule("renoise", 2, k)

    def frames(m: torch.nn.Module) -> torch.Tensor:
        g = torch.Generator().manual_seed(2)
        return causal_rollout(m, inputs, levels, SOLVERS.get("renoise"), generator=g, grad_step=1).x0

    fake = frames(student).detach()
    before, after = _fit(critic, lambda m: critic_loss(m, inputs, fake, k, torch.Generator().manual_seed(3)))
    assert after < 0.9 * before, ("critic", before, after)

    x = frames(student)
    loss0, _ = dmd_loss(x, inputs, teacher, critic, 1.0, k, torch.Generator().manual_seed(4))
    target = (x - torch.autograd.grad(loss0, x)[0] * x.numel()).detach()  # x - grad, held fixed

    before, after = _fit(student, lambda m: 0.5 * (frames(m) - target).pow(2).mean(), lr=1e-3)
    assert after < before, ("generator", before, after)


def test_the_shipped_student_loads_and_generates(rig_fn) -> None:
    from jwmsim.worldgen.frames import FramePoses, SkeletonFrame
    from jwmsim.worldgen.pipeline_worldgen import SamplerConfig, WorldGenPipeline
    from jwmsim.worldgen.weights import student_dir

    pipe = WorldGenPipeline.from_pretrained(student_dir(), SamplerConfig(steps=1, autocast="none"))
    assert pipe.levels == [1.0, 0.0]
    h, w = (int(v) for v in pipe.model.config.image_hw)
    ks, cams = rig_fn(3, (h, w))
    rng = np.random.default_rng(0)
    frame = SkeletonFrame(
        rgb=rng.integers(0, 255, (3, h, w, 3), dtype=np.uint8),
        depth=rng.uniform(1, 30, (3, h, w)).astype(np.float32),
        alpha=np.ones((3, h, w), np.float32),
        poses=FramePoses(("A", "B", "C"), np.eye(4), cams, ks, 0.0),
    )
    pipe.reset([])
    out = pipe(frame)
    assert out.images.shape == (3, h, w, 3) and out.denoiser_calls == 2
    assert 5 < float(out.images.std()) and np.isfinite(out.x0.numpy()).all()


def test_the_shipped_scores_were_measured_on_the_shipped_weights() -> None:
    """``assets/worldgen_student/eval_results.json`` records the SHA-256 of the weights each
    generator scored and its sampler: the default and the student are the files shipped beside
    it, sampled as the default sampler samples today, and the student was distilled from a
    teacher of the same architecture."""
    import hashlib
    import json
    from dataclasses import replace

    from jwmsim.worldgen.pipeline_worldgen import SamplerConfig, sampler_settings
    from jwmsim.worldgen.weights import default_weights_dir, load_worldgen, student_dir

    report = json.loads((student_dir() / "eval_results.json").read_text())
    settings = sampler_settings()
    for generator, folder, steps in (
        ("worldgen", default_weights_dir(), SamplerConfig().steps),
        ("worldgen-student", student_dir(), 1),
    ):
        data = (folder / "diffusion_pytorch_model.safetensors").read_bytes()
        record = report["weights"][generator]
        assert record["sha256"] == hashlib.sha256(data).hexdigest(), generator
        assert record["sampler"] == repr(replace(SamplerConfig(), steps=steps)), generator
        assert record["sampler_settings"] == settings, generator
    teacher, student = load_worldgen(default_weights_dir()), load_worldgen(student_dir())
    assert teacher.config.previous_frame == student.config.previous_frame
