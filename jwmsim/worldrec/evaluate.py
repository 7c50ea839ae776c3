"""Evaluation of WorldRec against the lidar skeleton: PSNR / SSIM (7x7 uniform window) and time.

* Real log: the held-out frames (``i % 8 == 4``, all cameras) of the real PandaSet log; WorldRec
  reconstructs from the other frames only (their images and lidar sweeps); the lidar skeleton is
  built as the environment builds it (all sweeps).
* Procedural evaluation towns (seeds 900-904, never trained on): held-out frames at the logged
  pose against the log's images, and the same times with the ego shifted 0, 1, 2 and 3 m to its
  left against the oracle (rendered at the log's 320x180 and area-resized, as the log's images).

``python -m jwmsim.worldrec.evaluate --model assets/worldrec --out results.json`` runs it all and
writes a JSON report, a Markdown table and a plot.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from jwmsim.errors import ConfigError
from jwmsim.gaussians.image_metrics import psnr, ssim
from jwmsim.gaussians.lidar_skeleton import lidar_skeleton
from jwmsim.gaussians.render import render
from jwmsim.gaussians.scene import GaussianScene
from jwmsim.geometry import SE3
from jwmsim.logs.segment import LogSegment
from jwmsim.worldrec.data import (
    EVAL_SEEDS,
    default_data_root,
    default_real_log,
    is_heldout,
    training_frames,
)
from jwmsim.worldrec.modeling_worldrec import WorldRecModel
from jwmsim.worldrec.reconstruct import ReconstructConfig, load_worldrec, reconstruct_segment

SHIFTS = (0.0, 1.0, 2.0, 3.0)  # [m] to the ego's left
EVAL_HW = (90, 160)


def render_views(
    scene: GaussianScene, segment: LogSegment, ego: SE3, time_s: float, hw: tuple[int, int]
) -> torch.Tensor:
    """``[C, H, W, 3]`` renders of every camera of ``segment`` on the ego at ``ego``, actors at
    their logged poses at ``time_s`` (those the scene has)."""
    cams = [segment.cameras[c] for c in segment.camera_names]
    poses = {a: p for a, p in segment.actors_at(time_s).items() if a in scene.actors}
    return render(scene, cams, ego, poses, hw).rgb.clamp(0, 1)


def scores(pred: torch.Tensor, gt: torch.Tensor) -> tuple[list[float], list[float]]:
    """Per-image PSNR [dB] and SSIM of ``[N, H, W, 3]`` images."""
    return [psnr(p, g) for p, g in zip(pred, gt, strict=True)], [
        float(ssim(p, g)) for p, g in zip(pred, gt, strict=True)
    ]


def _summary(ps: Sequence[float], ss: Sequence[float]) -> dict[str, float]:
    return {"psnr": round(float(np.mean(ps)), 3), "ssim": round(float(np.mean(ss)), 4), "views": len(ps)}


def heldout_indices(segment: LogSegment) -> list[int]:
    n = min(len(segment.frames[c]) for c in segment.camera_names)
    return [i for i in range(n) if is_heldout(i)]


def _methods(
    model: WorldRecModel, segment: LogSegment, rcfg: ReconstructConfig
) -> dict[str, tuple[GaussianScene, float]]:
    n = min(len(segment.frames[c]) for c in segment.camera_names)
    t0 = time.perf_counter()
    wr, _ = reconstruct_segment(model, segment, frames=training_frames(n), config=rcfg)
    t1 = time.perf_counter()
    sk = lidar_skeleton(segment, progress=False)
    t2 = time.perf_counter()
    return {"worldrec": (wr, t1 - t0), "lidar": (sk, t2 - t1)}


def evaluate_logged(
    methods: dict[str, tuple[GaussianScene, float]], segment: LogSegment, hw: tuple[int, int]
) -> dict[str, Any]:
    """Scores of each method on the held-out frames of ``segment`` against its images, overall
    and per camera."""
    out: dict[str, Any] = {}
    gts = {
        i: torch.stack([torch.from_numpy(segment.image(c, i, hw)) for c in segment.camera_names]).float()
        / 255
        for i in heldout_indices(segment)
    }
    for name, (scene, seconds) in methods.items():
        per_cam: dict[str, tuple[list[float], list[float]]] = {c: ([], []) for c in segment.camera_names}
        for i, gt in gts.items():
            # each camera at its own timestamp's ego pose
            for ci, c in enumerate(segment.camera_names):
                fr = segment.frames[c][i]
                cam = segment.cameras[c]
                poses = {a: p for a, p in segment.actors_at(fr.time).items() if a in scene.actors}
                rgb = render(scene, [cam], fr.world_from_ego, poses, hw).rgb.clamp(0, 1)[0]
                p, s = scores(rgb[None], gt[ci : ci + 1])
                per_cam[c][0].extend(p)
                per_cam[c][1].extend(s)
        all_p = [v for c in per_cam.values() for v in c[0]]
        all_s = [v for c in per_cam.values() for v in c[1]]
        out[name] = {
            **_summary(all_p, all_s),
            "build_seconds": round(seconds, 2),
            "gaussians": scene.num_gaussians,
            "per_camera": {c: _summary(*v) for c, v in per_cam.items()},
        }
    return out


def evaluate_real_log(
    model: WorldRecModel,
    root: Path,
    hw: tuple[int, int] = EVAL_HW,
    rcfg: ReconstructConfig = ReconstructConfig(),
    refine_steps: int = 0,
) -> dict[str, Any]:
    """Held-out frames of the real log (see the module docstring); with ``refine_steps``, also
    WorldRec followed by that many per-scene fitting steps (``fit_scene`` started from the
    prediction; the fit itself never trains on the held-out frames)."""
    from jwmsim.logs.nuscenes import load_nuscenes_log

    segment = load_nuscenes_log(root)
    methods = _methods(model, segment, rcfg)
    if refine_steps > 0:
        from jwmsim.gaussians.fit import FitConfig, fit_scene

        scene, seconds = methods["worldrec"]
        t0 = time.perf_counter()
        refined, _ = fit_scene(
            segment, FitConfig(steps=refine_steps, image_hw=hw), progress=False, init_scene=scene
        )
        methods[f"worldrec+refine{refine_steps}"] = (refined, seconds + time.perf_counter() - t0)
    return {
        "log": str(root),
        "heldout_frames": heldout_indices(segment),
        "image_hw": list(hw),
        **evaluate_logged(methods, segment, hw),
    }


def eval_town_path(root: Path, seed: int) -> Path:
    return Path(root) / "eval" / f"town-{seed:06d}"


def prepare_eval_town(root: Path, seed: int, duration: float) -> Path:
    """Write evaluation town ``seed``'s log (320x180) unless present; only evaluation seeds."""
    from jwmsim.logs.procedural import LogConfig, write_town_log

    if seed not in EVAL_SEEDS:
        raise ConfigError(
            f"town {seed} is not an evaluation town",
            hint=f"use seeds {EVAL_SEEDS.start}-{EVAL_SEEDS.stop - 1}",
        )
    path = eval_town_path(root, seed)
    if not (path / "v1.0-mini" / "scene.json").is_file():
        write_town_log(
            seed,
            path,
            LogConfig(duration=duration, width=320, height=180, workers=1),
            progress=False,
            overwrite=path.exists(),
        )
    return path


def evaluate_town(
    model: WorldRecModel,
    seed: int,
    root: Path,
    duration: float = 4.0,
    hw: tuple[int, int] = EVAL_HW,
    shifts: Sequence[float] = SHIFTS,
    rcfg: ReconstructConfig = ReconstructConfig(),
) -> dict[str, Any]:
    """One evaluation town: held-out frames at the logged pose (vs the log's images) and shifted
    sideways (vs the oracle)."""
    from jwmsim.logs.nuscenes import load_nuscenes_log
    from jwmsim.logs.procedural import Town, nuscenes_like_rig, render_ground_truth

    segment = load_nuscenes_log(prepare_eval_town(root, seed, duration))
    methods = _methods(model, segment, rcfg)
    result: dict[str, Any] = {"seed": seed, "logged": evaluate_logged(methods, segment, hw)}
    town = Town.generate(seed)
    rig = nuscenes_like_rig(320, 180)
    cam0 = segment.camera_names[0]
    shifted: dict[str, dict[str, Any]] = {name: {} for name in methods}
    for d in shifts:
        acc: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in methods}
        for i in heldout_indices(segment):
            t = segment.frames[cam0][i].time
            ego = town.ego_pose_at(t) @ SE3.from_xy_yaw(0.0, float(d), 0.0)
            gt = np.stack(
                [
                    cv2.resize(
                        render_ground_truth(town, rig[c], ego, time=t).rgb,
                        (hw[1], hw[0]),
                        interpolation=cv2.INTER_AREA,
                    )
                    for c in segment.camera_names
                ]
            )
            gt_t = torch.from_numpy(gt).float() / 255
            for name, (scene, _) in methods.items():
                p, s = scores(render_views(scene, segment, ego, t, hw), gt_t)
                acc[name][0].extend(p)
                acc[name][1].extend(s)
        for name in methods:
            shifted[name][f"{d:g}m"] = _summary(*acc[name])
    result["shifted"] = shifted
    return result


def summarise(real: dict[str, Any] | None, towns: list[dict[str, Any]]) -> dict[str, Any]:
    """Means over the towns, per method and condition."""
    out: dict[str, Any] = {}
    if real is not None:
        out["real_log_heldout"] = {
            m: {"psnr": real[m]["psnr"], "ssim": real[m]["ssim"], "seconds": real[m]["build_seconds"]}
            for m in real
            if isinstance(real[m], dict) and "psnr" in real[m]
        }
    if towns:
        agg: dict[str, Any] = {}
        for m in ("worldrec", "lidar"):
            row = {
                "logged_heldout": {
                    "psnr": round(float(np.mean([t["logged"][m]["psnr"] for t in towns])), 3),
                    "ssim": round(float(np.mean([t["logged"][m]["ssim"] for t in towns])), 4),
                },
                "seconds": round(float(np.mean([t["logged"][m]["build_seconds"] for t in towns])), 2),
            }
            for key in towns[0]["shifted"][m]:
                row[f"oracle_{key}"] = {
                    "psnr": round(float(np.mean([t["shifted"][m][key]["psnr"] for t in towns])), 3),
                    "ssim": round(float(np.mean([t["shifted"][m][key]["ssim"] for t in towns])), 4),
                }
            agg[m] = row
        out["towns"] = agg
    return out


def markdown_table(summary: dict[str, Any]) -> str:
    """The summary as a Markdown table (PSNR dB / SSIM)."""
    lines = ["| set | WorldRec PSNR / SSIM | lidar skeleton PSNR / SSIM |", "|---|---|---|"]
    if "real_log_heldout" in summary:
        r = summary["real_log_heldout"]
        w, s = r["worldrec"], r["lidar"]
        cells = f"{w['psnr']:.2f} / {w['ssim']:.3f} | {s['psnr']:.2f} / {s['ssim']:.3f}"
        lines.append(f"| real log, held-out frames | {cells} |")
        for m, v in r.items():
            if m.startswith("worldrec+"):
                label = f"real log, held-out frames, {m} ({v['seconds']:.0f} s)"
                lines.append(f"| {label} | {v['psnr']:.2f} / {v['ssim']:.3f} | |")
    if "towns" in summary:
        t = summary["towns"]
        for key in t["worldrec"]:
            if key == "seconds":
                continue
            w, s = t["worldrec"][key], t["lidar"][key]
            label = (
                "towns, held-out frames, logged pose (vs log images)"
                if key == "logged_heldout"
                else f"towns, {key.replace('oracle_', '')} shift (vs oracle)"
            )
            lines.append(
                f"| {label} | {w['psnr']:.2f} / {w['ssim']:.3f} | {s['psnr']:.2f} / {s['ssim']:.3f} |"
            )
        secs = (t["worldrec"]["seconds"], t["lidar"]["seconds"])
        lines.append(f"| towns, build time per log [s] | {secs[0]:.2f} | {secs[1]:.2f} |")
    if "real_log_heldout" in summary:
        r = summary["real_log_heldout"]
        lines.append(
            f"| real log, build time [s] | {r['worldrec']['seconds']:.2f} | {r['lidar']['seconds']:.2f} |"
        )
    return "\n".join(lines) + "\n"


def plot_shifts(summary: dict[str, Any], path: Path) -> Path | None:
    """PSNR against lateral shift for both methods (towns)."""
    if "towns" not in summary:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    for m, label in (("worldrec", "WorldRec"), ("lidar", "lidar skeleton")):
        row = summary["towns"][m]
        keys = [k for k in row if k.startswith("oracle_")]
        xs = [float(k.replace("oracle_", "").rstrip("m")) for k in keys]
        ax.plot(xs, [row[k]["psnr"] for k in keys], marker="o", label=label)
    ax.set_xlabel("lateral shift of the ego [m]")
    ax.set_ylabel("PSNR vs oracle [dB]")
    ax.set_title("unseen towns (seeds 900-904), 90x160")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def run(
    model_dir: Path,
    data_root: Path,
    out: Path,
    real_log: Path | None,
    seeds: Sequence[int],
    duration: float,
    log: Callable[[str], None] = print,
    refine_steps: int = 0,
    rcfg: ReconstructConfig = ReconstructConfig(),
) -> dict[str, Any]:
    torch.set_num_threads(2)
    model = load_worldrec(model_dir)
    real = None
    if real_log is not None:
        real = evaluate_real_log(model, real_log, rcfg=rcfg, refine_steps=refine_steps)
        log(f"real log: worldrec {real['worldrec']['psnr']:.2f} dB, lidar {real['lidar']['psnr']:.2f} dB")
    towns = []
    for seed in seeds:
        towns.append(evaluate_town(model, seed, data_root, duration, rcfg=rcfg))
        t = towns[-1]
        w, s = t["logged"]["worldrec"]["psnr"], t["logged"]["lidar"]["psnr"]
        log(f"town {seed}: worldrec {w:.2f} dB, lidar {s:.2f} dB (held-out frames, logged pose)")
    summary = summarise(real, towns)
    report = {
        "model": str(model_dir),
        "image_hw": list(EVAL_HW),
        "summary": summary,
        "real_log": real,
        "towns": towns,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    out.with_suffix(".md").write_text(markdown_table(summary))
    plot_shifts(summary, out.with_suffix(".png"))
    return report


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", type=Path, default=Path(__file__).resolve().parents[2] / "assets" / "worldrec")
    p.add_argument("--data", type=Path, default=default_data_root())
    p.add_argument("--out", type=Path, default=Path("worldrec_eval.json"))
    p.add_argument("--real-log", type=Path, default=default_real_log())
    p.add_argument("--no-real-log", action="store_true")
    p.add_argument("--seeds", type=int, nargs="*", default=list(EVAL_SEEDS))
    p.add_argument("--duration", type=float, default=4.0)
    p.add_argument("--refine", type=int, default=0, help="also refine the real log's scene by N fit steps")
    p.add_argument("--ctx-stride", type=int, default=ReconstructConfig().ctx_stride)
    a = p.parse_args(argv)
    real = None if a.no_real_log else a.real_log
    rcfg = ReconstructConfig(ctx_stride=a.ctx_stride)
    report = run(a.model, a.data, a.out, real, a.seeds, a.duration, refine_steps=a.refine, rcfg=rcfg)
    print(markdown_table(report["summary"]))


if __name__ == "__main__":
    main()
