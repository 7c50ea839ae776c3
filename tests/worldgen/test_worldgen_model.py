"""WorldGen model: masks, zero-initialised condition, KV cache, save/load."""

from __future__ import annotations

import json

import pytest
import torch

from jwmsim.errors import CheckpointError, ConfigError
from jwmsim.worldgen.kv_cache import KVCache
from jwmsim.worldgen.modeling_worldgen import WorldGenModel, causal_block_mask, teacher_forcing_mask
from jwmsim.worldgen.weights import load_worldgen


def test_block_causal_mask_keeps_the_past_independent_of_the_future(trained_model, make_inputs) -> None:
    model = trained_model
    inp = make_inputs(model, f=4)
    mask = causal_block_mask(4)
    with torch.no_grad():
        out = model(**inp, block_mask=mask)
        changed = dict(inp, x=inp["x"].clone(), cond=inp["cond"].clone())
        changed["x"][:, 3] += 1.0
        changed["cond"][:, 3] -= 1.0
        out2 = model(**changed, block_mask=mask)
        full = model(**changed)  # bidirectional: the future does change the past
    torch.testing.assert_close(out[:, :3], out2[:, :3], rtol=1e-5, atol=1e-5)
    assert not torch.allclose(out[:, 3], out2[:, 3])
    assert (full[:, 0] - out[:, 0]).abs().max() > 1e-4


def test_teacher_forcing_mask_layout() -> None:
    m = teacher_forcing_mask(3)
    clean, noisy = slice(0, 3), slice(3, 6)
    assert torch.equal(m[clean, clean], torch.tensor([[1, 0, 0], [1, 1, 0], [1, 1, 1]]).bool())
    assert torch.equal(m[noisy, clean], torch.tensor([[0, 0, 0], [1, 0, 0], [1, 1, 0]]).bool())
    assert torch.equal(m[noisy, noisy], torch.eye(3).bool())
    assert not m[clean, noisy].any()


def test_fresh_model_ignores_the_condition(tiny_model: WorldGenModel, make_inputs) -> None:
    inp = make_inputs(tiny_model, f=2)
    with torch.no_grad():
        a = tiny_model(**inp)
        b = tiny_model(**dict(inp, cond=torch.randn_like(inp["cond"]) * 3))
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    with torch.no_grad():
        for p in tiny_model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    trained = tiny_model
    with torch.no_grad():
        c = trained(**inp)
        d = trained(**dict(inp, cond=torch.randn_like(inp["cond"]) * 3))
    assert (c - d).abs().max() > 1e-3  # once trained, the condition channels are open


def test_cached_generation_equals_the_causal_forward(trained_model, make_inputs) -> None:
    model = trained_model
    f = 4
    inp = make_inputs(model, f=f, b=2)
    with torch.no_grad():
        ref = model(**inp, block_mask=causal_block_mask(f))
        cache = KVCache(num_sinks=1, window=f)
        outs = []
        for i in range(f):
            outs.append(
                model.forward_cached(
                    inp["x"][:, i], inp["levels"][:, i], inp["cond"][:, i], inp["rays"], inp["motion"][:, i],
                    cache, write=True,
                )
            )  # fmt: skip
    torch.testing.assert_close(torch.stack(outs, 1), ref, rtol=1e-4, atol=1e-4)


def test_kv_cache_stays_bounded_over_a_long_rollout(trained_model, make_inputs) -> None:
    model = trained_model
    inp = make_inputs(model, f=1)
    cache = KVCache(num_sinks=1, window=3)
    sizes = []
    with torch.no_grad():
        for _ in range(40):
            x, lv, cond, mo = inp["x"][:, 0], inp["levels"][:, 0], inp["cond"][:, 0], inp["motion"][:, 0]
            model.forward_cached(x, lv, cond, inp["rays"], mo, cache, write=True)
            sizes.append(cache.nbytes())
    assert cache.num_frames == 4 and cache.written == 40
    assert len(set(sizes[3:])) == 1 and sizes[3] > sizes[0] > 0
    first = cache.frames()[0]
    snap = cache.snapshot()
    cache.clear()
    cache.restore(snap)
    assert cache.frames()[0] is first and cache.num_frames == 4


def test_save_load_round_trip(trained_model, make_inputs, tmp_path) -> None:
    model = trained_model
    model.save_pretrained(tmp_path / "m")
    loaded = load_worldgen(tmp_path / "m")
    inp = make_inputs(model, f=2)
    with torch.no_grad():
        torch.testing.assert_close(model(**inp), loaded(**inp))
    assert loaded.config.dim == model.config.dim


def test_corrupt_missing_or_mismatched_checkpoint_is_a_clear_error(
    tiny_model: WorldGenModel, tmp_path
) -> None:
    with pytest.raises(CheckpointError, match="does not exist"):
        load_worldgen(tmp_path / "nowhere")
    tiny_model.save_pretrained(tmp_path / "m")
    weights = tmp_path / "m" / "diffusion_pytorch_model.safetensors"
    weights.write_bytes(weights.read_bytes()[:200])
    with pytest.raises(CheckpointError, match="not a readable safetensors"):
        load_worldgen(tmp_path / "m")
    tiny_model.save_pretrained(tmp_path / "m2")
    cfg = json.loads((tmp_path / "m2" / "config.json").read_text())
    cfg["dim"] = 64
    (tmp_path / "m2" / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match="does not match"):
        load_worldgen(tmp_path / "m2")
    (tmp_path / "m2" / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="not a valid WorldGen config"):
        load_worldgen(tmp_path / "m2")


def test_config_checks() -> None:
    with pytest.raises(ConfigError, match="heads"):
        WorldGenModel(dim=30, heads=4)
    with pytest.raises(ConfigError, match="patch"):
        WorldGenModel(patch=8)
