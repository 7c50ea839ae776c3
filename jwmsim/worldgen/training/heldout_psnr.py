"""A first quality check of a frame generator on held-out clips: PSNR against the true images over
the whole image, on pixels the skeleton does not cover (alpha < 0.5) and on those it covers,
beside the skeleton alone (the full evaluation is ``jwmsim eval gen``).

``python -m jwmsim.worldgen.training.heldout_psnr CLIP.npz ... [--weights DIR] [--steps N] [--out JSON]``
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from jwmsim.worldgen.frames import ContextFrame, FrameGenerator, FramePoses, SkeletonFrame
from jwmsim.worldgen.training.train_clips import clip_arrays


def clip_stream(path: Path) -> tuple[list[ContextFrame], list[SkeletonFrame], np.ndarray]:
    """An evaluation clip as (context frames, skeleton frames, true images ``[T, C, H, W, 3]``)."""
    z = clip_arrays(path)
    names = tuple(str(c) for c in z["cameras"]) if "cameras" in z else tuple(f"cam{i}" for i in range(3))
    ks, cams = z["intrinsics"], z["ego_from_cam"]
    context = []
    if "context" in z:
        times = z.get("context_times", np.zeros(len(z["context"])))
        for img, pose, t in zip(z["context"], z["context_world_from_ego"], times, strict=True):
            context.append(ContextFrame(img, FramePoses(names, pose, cams, ks, float(t))))
    frames = [
        SkeletonFrame(
            rgb=z["skel_rgb"][i],
            depth=z["skel_depth"][i].astype(np.float32),
            alpha=z["skel_alpha"][i].astype(np.float32) / 255.0,
            poses=FramePoses(names, z["world_from_ego"][i], cams, ks, float(z["times"][i])),
        )
        for i in range(z["target"].shape[0])
    ]
    return context, frames, z["target"]


def masked_psnr(pred: np.ndarray, true: np.ndarray, mask: np.ndarray | None = None) -> float:
    """PSNR [dB] of uint8 images ``[..., H, W, 3]`` on [0, 1], over ``mask`` ``[..., H, W]`` pixels."""
    err = ((pred.astype(np.float64) - true.astype(np.float64)) / 255.0) ** 2
    if mask is not None:
        if not mask.any():
            return float("nan")
        err = err[mask]
    return float(-10.0 * np.log10(max(err.mean(), 1e-12)))


def score_clip(generator: FrameGenerator, path: Path, strip: Path | None = None) -> dict[str, float]:
    """PSNRs of ``generator`` and of the skeleton on one clip (all frames pooled); with ``strip``,
    a PNG of the last frame: true images, skeleton and generated, one row each."""
    context, frames, target = clip_stream(path)
    generator.reset(context)
    gen = np.stack([generator.generate(f) for f in frames])
    if strip is not None:
        import imageio.v3 as iio

        rows = [np.concatenate(list(a[-1]), axis=1) for a in (target, np.stack([f.rgb for f in frames]), gen)]
        iio.imwrite(strip, np.concatenate(rows, axis=0))
    skel = np.stack([f.rgb for f in frames])
    covered = np.stack([f.alpha for f in frames]) >= 0.5
    out = {}
    for name, pred in (("gen", gen), ("skeleton", skel)):
        out[f"{name}_all"] = masked_psnr(pred, target)
        out[f"{name}_uncovered"] = masked_psnr(pred, target, ~covered)
        out[f"{name}_covered"] = masked_psnr(pred, target, covered)
    out["uncovered_frac"] = float((~covered).mean())
    return out


def main(argv: list[str] | None = None) -> None:
    from jwmsim.worldgen.pipeline_worldgen import make_worldgen_generator

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("clips", nargs="+", type=Path)
    ap.add_argument("--weights", type=Path, default=None)
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--solver", default=None)
    ap.add_argument("--shift", type=float, default=None)
    ap.add_argument("--guidance", type=float, default=1.0)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--strips", type=Path, default=None, help="folder for a PNG per clip")
    args = ap.parse_args(argv)
    gen = make_worldgen_generator(
        args.weights, steps=args.steps, guidance=args.guidance, solver=args.solver, shift=args.shift
    )
    rows = {}
    for p in args.clips:
        strip = None
        if args.strips is not None:
            args.strips.mkdir(parents=True, exist_ok=True)
            strip = args.strips / f"{p.stem}.png"
        rows[p.name] = score_clip(gen, p, strip)
        r = rows[p.name]
        print(
            f"{p.name}: gen {r['gen_all']:.2f} / unc {r['gen_uncovered']:.2f} / cov {r['gen_covered']:.2f}  "
            f"skeleton {r['skeleton_all']:.2f} / {r['skeleton_uncovered']:.2f} / {r['skeleton_covered']:.2f}",
            flush=True,
        )
    keys = next(iter(rows.values())).keys()
    mean = {k: float(np.nanmean([r[k] for r in rows.values()])) for k in keys}
    print("mean:", json.dumps({k: round(v, 2) for k, v in mean.items()}))
    if args.out:
        settings = {
            "steps": args.steps,
            "solver": args.solver,
            "shift": args.shift,
            "guidance": args.guidance,
        }
        args.out.write_text(json.dumps({**settings, "clips": rows, "mean": mean}, indent=2) + "\n")


if __name__ == "__main__":
    main()
