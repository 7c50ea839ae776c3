"""Pixel space or latent space for WorldGen: the measurement behind the choice.

Per 3-camera 112x200 frame (2 threads, no grad, with a full KV cache of sinks + window frames):

* ``pixel``: the shipped design: a stride-16 conv stem and a mirrored head around the transformer
  (91 tokens per camera); cost split into stem + head and transformer;
* ``latent``: the same transformer on an f8 latent in 2x2 patches (also 91 tokens per camera at
  112x200 after padding), plus what a latent model must add every frame: a VAE decode (and an
  encode of the skeleton render), measured with a small diffusers ``AutoencoderKL``
  (channels 32/64/128/128, 4 latent channels: about the smallest that reconstructs well).

Both run 4 denoiser calls + 1 cache write per frame; reported in fp32 and bf16 autocast.

Run:  .venv/bin/python benchmarks/bench_worldgen_space.py [--repeats 3] [--out benchmarks/results/...]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.machine import describe, machine_info, write_report  # noqa: E402
from jwmsim.worldgen.conditioning import token_rays  # noqa: E402
from jwmsim.worldgen.configuration_worldgen import PRESETS  # noqa: E402
from jwmsim.worldgen.kv_cache import KVCache  # noqa: E402
from jwmsim.worldgen.modeling_worldgen import WorldGenModel  # noqa: E402


def _time(fn, repeats: int) -> float:
    fn()
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return float(np.median(ts))


def _rig(c: int, hw: tuple[int, int]) -> torch.Tensor:
    h, w = hw
    k = np.repeat(np.array([[0.8 * w, 0, w / 2], [0, 0.8 * w, h / 2], [0, 0, 1.0]])[None], c, 0)
    e = np.repeat(np.eye(4)[None], c, 0)
    e[:, :3, :3] = np.array([[0, 0, 1], [-1, 0, 0], [0, -1, 0]])
    return token_rays(k, e, hw, 16)[None]


def measure(repeats: int, bf16: bool, window: int = 3, sinks: int = 1) -> dict[str, float]:
    from diffusers import AutoencoderKL

    c, hw = 3, (112, 200)
    model = WorldGenModel(**PRESETS["tiny-cpu"]).eval()
    rays = _rig(c, hw)
    x = torch.randn(1, c, 3, *hw)
    cond = torch.randn(1, c, 5, *hw)
    lv, mo = torch.full((1,), 0.5), torch.zeros(1, 4)
    cache = KVCache(sinks, window)
    ac = torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16)
    with torch.no_grad(), ac:
        for _ in range(sinks + window):
            model.forward_cached(x, lv, cond, rays, mo, cache, write=True)
        call = _time(lambda: model.forward_cached(x, lv, cond, rays, mo, cache), repeats)
        tok, skips = model._encode(x.flatten(0, 1), cond.flatten(0, 1))
        stem = _time(lambda: model._encode(x.flatten(0, 1), cond.flatten(0, 1)), repeats)
        head = _time(lambda: model._decode(tok, skips, x.flatten(0, 1), cond.flatten(0, 1)), repeats)
        vae = AutoencoderKL(
            down_block_types=("DownEncoderBlock2D",) * 4,
            up_block_types=("UpDecoderBlock2D",) * 4,
            block_out_channels=(32, 64, 128, 128),
            latent_channels=4,
            layers_per_block=1,
            norm_num_groups=16,
        ).eval()
        img = torch.randn(c, 3, 112, 208)
        lat = vae.encode(img).latent_dist.mode()
        enc = _time(lambda: vae.encode(img).latent_dist.mode(), repeats)
        dec = _time(lambda: vae.decode(lat).sample, repeats)
    transformer = max(call - stem - head, 0.0)
    return {
        "denoiser_call_s": call,
        "stem_s": stem,
        "head_s": head,
        "transformer_s": transformer,
        "pixel_frame_s": 5 * call,
        "vae_encode_s": enc,
        "vae_decode_s": dec,
        "latent_frame_s": 5 * transformer + enc + dec,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description="WorldGen pixel vs latent space cost per frame")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "bench_worldgen_space.json")
    args = ap.parse_args()
    torch.set_num_threads(2)
    info = machine_info()
    print(describe(info))
    rows = {}
    for name, bf16 in (("fp32", False), ("bf16", True)):
        rows[name] = measure(args.repeats, bf16)
        r = rows[name]
        print(
            f"{name}: denoiser call {r['denoiser_call_s'] * 1e3:.0f} ms (stem {r['stem_s'] * 1e3:.0f}, head "
            f"{r['head_s'] * 1e3:.0f}, transformer {r['transformer_s'] * 1e3:.0f}); frame: pixel "
            f"{r['pixel_frame_s']:.2f} s, latent {r['latent_frame_s']:.2f} s (VAE encode "
            f"{r['vae_encode_s'] * 1e3:.0f} + decode {r['vae_decode_s'] * 1e3:.0f} ms)"
        )
    write_report(args.out, {"machine": info, "cameras": 3, "image_hw": [112, 200], "results": rows})


if __name__ == "__main__":
    main()
