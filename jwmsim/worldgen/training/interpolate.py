"""Weight-space interpolation of a WorldGen model and its fine-tune (WiSE-FT).

A fine-tune on new data (here: the teacher on clips that read the real log's frames 0-39 only)
gains where the new data lies and can lose elsewhere (the evaluation towns). WiSE-FT (Wortsman et
al., "Robust fine-tuning of zero-shot models", CVPR 2022) takes the weights on the straight line
between the two checkpoints,

    theta(alpha) = (1 - alpha) * theta_base + alpha * theta_tuned,   alpha in [0, 1],

which for checkpoints of one fine-tuning run often keeps most of both models' strengths. alpha = 0
is the base model, alpha = 1 the fine-tune. Both must be the same architecture (the same
``config.json``); every floating-point tensor is interpolated in fp32, other tensors (integer
buffers) are taken from the base.

Run ``python -m jwmsim.worldgen.training.interpolate BASE TUNED OUT --alpha 0.5 [--dtype float16]``:
writes ``OUT/config.json`` and ``OUT/diffusion_pytorch_model.safetensors`` (each file replaced
atomically; other files in ``OUT``, such as a model card, are left alone).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import torch

from jwmsim.atomic import atomic_path
from jwmsim.errors import ConfigError, JwmsimError
from jwmsim.worldgen.modeling_worldgen import WorldGenModel
from jwmsim.worldgen.weights import load_worldgen

DTYPES = {"float32": torch.float32, "float16": torch.float16}


def interpolate_state(
    base: dict[str, torch.Tensor], tuned: dict[str, torch.Tensor], alpha: float
) -> dict[str, torch.Tensor]:
    """``(1 - alpha) * base + alpha * tuned`` per floating-point tensor (computed in fp32, returned
    in the base tensor's dtype); other tensors are the base's.

    Raises:
        ConfigError: ``alpha`` is outside [0, 1], or the two states do not hold the same tensor
            names and shapes.
    """
    if not 0.0 <= alpha <= 1.0:
        raise ConfigError(
            f"alpha must be in [0, 1], got {alpha}", hint="0 is the base model, 1 the fine-tune"
        )
    if base.keys() != tuned.keys():
        diff = sorted(set(base) ^ set(tuned))[:5]
        raise ConfigError(
            f"the two models hold different tensors (e.g. {diff})",
            hint="interpolate a model and its own fine-tune",
        )
    out = {}
    for name, b in base.items():
        t = tuned[name]
        if b.shape != t.shape:
            raise ConfigError(
                f"tensor {name} has shape {tuple(b.shape)} in the base and {tuple(t.shape)} in the fine-tune",
                hint="interpolate a model and its own fine-tune",
            )
        if b.is_floating_point():
            out[name] = ((1.0 - alpha) * b.float() + alpha * t.float()).to(b.dtype)
        else:
            out[name] = b.clone()
    return out


def interpolate_models(base: WorldGenModel, tuned: WorldGenModel, alpha: float) -> WorldGenModel:
    """A copy of ``base`` (fp32) holding :func:`interpolate_state` of the two models' weights.

    Raises:
        ConfigError: the configs differ (other than private keys), or as :func:`interpolate_state`.
    """
    cfg_b = {k: v for k, v in base.config.items() if not k.startswith("_")}
    cfg_t = {k: v for k, v in tuned.config.items() if not k.startswith("_")}
    if cfg_b != cfg_t:
        diff = sorted(k for k in cfg_b.keys() | cfg_t.keys() if cfg_b.get(k) != cfg_t.get(k))
        raise ConfigError(
            f"the two models' configs differ in {diff}", hint="interpolate a model and its own fine-tune"
        )
    model = WorldGenModel.from_config(base.config)
    model.load_state_dict(interpolate_state(base.float().state_dict(), tuned.float().state_dict(), alpha))
    return model.eval()


def write_interpolated(
    base_dir: Path, tuned_dir: Path, out_dir: Path, alpha: float, dtype: str = "float32"
) -> Path:
    """Load both folders strictly, interpolate and save to ``out_dir`` in ``dtype``; returns
    ``out_dir``. The config and the weights are each replaced atomically.

    Raises:
        CheckpointError: a folder is missing or its weights do not load.
        ConfigError: an unknown ``dtype``, or as :func:`interpolate_models`.
    """
    if dtype not in DTYPES:
        raise ConfigError(f"unknown dtype {dtype!r}", hint=f"use one of {sorted(DTYPES)}")
    model = interpolate_models(load_worldgen(base_dir), load_worldgen(tuned_dir), alpha).to(DTYPES[dtype])
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".interpolate.", dir=out_dir) as tmp:
        model.save_pretrained(tmp)
        for f in sorted(Path(tmp).iterdir()):
            with atomic_path(out_dir / f.name) as dst:
                os.replace(f, dst)
    return out_dir


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("base", type=Path, help="the model before fine-tuning (a save_pretrained folder)")
    ap.add_argument("tuned", type=Path, help="its fine-tune (same config)")
    ap.add_argument("out", type=Path, help="folder for config.json and the weights")
    ap.add_argument("--alpha", type=float, default=0.5, help="weight of the fine-tune, 0-1 (default 0.5)")
    ap.add_argument("--dtype", default="float32", choices=sorted(DTYPES), help="dtype of the saved weights")
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        out = write_interpolated(args.base, args.tuned, args.out, args.alpha, args.dtype)
    except JwmsimError as err:
        print(f"error: {err}", file=sys.stderr)
        return err.exit_code
    print(f"wrote {out}: {1 - args.alpha:g} x {args.base} + {args.alpha:g} x {args.tuned}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
