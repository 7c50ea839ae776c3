"""Weight-space interpolation of a WorldGen model and its fine-tune (WiSE-FT)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from jwmsim.errors import CheckpointError, ConfigError
from jwmsim.worldgen.modeling_worldgen import WorldGenModel
from jwmsim.worldgen.training.interpolate import interpolate_models, interpolate_state, main
from jwmsim.worldgen.weights import load_worldgen

from .conftest import TINY, trained_like


def _pair(tmp_path: Path) -> tuple[Path, Path]:
    torch.manual_seed(0)
    base = trained_like(WorldGenModel(**TINY), seed=1)
    tuned = trained_like(WorldGenModel(**TINY), seed=2)
    base.save_pretrained(tmp_path / "base")
    tuned.save_pretrained(tmp_path / "tuned")
    return tmp_path / "base", tmp_path / "tuned"


def test_ends_and_midpoint(tmp_path: Path) -> None:
    b, t = _pair(tmp_path)
    base, tuned = load_worldgen(b), load_worldgen(t)
    sb, st = base.state_dict(), tuned.state_dict()
    for alpha, want in ((0.0, sb), (1.0, st)):
        got = interpolate_models(base, tuned, alpha).state_dict()
        assert all(torch.equal(got[k], want[k]) for k in sb)
    mid = interpolate_models(base, tuned, 0.25).state_dict()
    k = next(k for k in sb if sb[k].is_floating_point() and not torch.equal(sb[k], st[k]))
    torch.testing.assert_close(mid[k], 0.75 * sb[k] + 0.25 * st[k])


def test_command_writes_a_loadable_folder_and_keeps_other_files(tmp_path: Path) -> None:
    b, t = _pair(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    (out / "README.md").write_text("card")
    assert main([str(b), str(t), str(out), "--alpha", "0.5", "--dtype", "float16"]) == 0
    model = load_worldgen(out)
    want = interpolate_models(load_worldgen(b), load_worldgen(t), 0.5).half().float().state_dict()
    assert all(torch.equal(model.state_dict()[k], want[k]) for k in want)
    assert (out / "README.md").read_text() == "card"
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == []


def test_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    b, t = _pair(tmp_path)
    with pytest.raises(ConfigError, match="alpha"):
        interpolate_state({}, {}, 1.5)
    other = WorldGenModel(**{**TINY, "depth": TINY.get("depth", 2) + 1})
    with pytest.raises(ConfigError, match="configs differ"):
        interpolate_models(load_worldgen(b), other, 0.5)
    with pytest.raises(ConfigError, match="different tensors"):
        interpolate_state({"a": torch.zeros(1)}, {"b": torch.zeros(1)}, 0.5)
    with pytest.raises(ConfigError, match="shape"):
        interpolate_state({"a": torch.zeros(1)}, {"a": torch.zeros(2)}, 0.5)
    with pytest.raises(CheckpointError):
        interpolate_models(load_worldgen(tmp_path / "missing"), load_worldgen(t), 0.5)
    assert main([str(tmp_path / "missing"), str(t), str(tmp_path / "out")]) == 2
    assert "error:" in capsys.readouterr().err and not (tmp_path / "out").exists()
