"""Evaluation of WorldRec side by side with the lidar skeleton and per-scene fitting: PSNR / SSIM
(7x7 uniform window), build time and Gaussian count.

* Real log, two sets side by side (:mod:`jwmsim.logs.real_log_split`):

  - **in-sample**: frames 0-39, the part of the real log training reads; scored on its held-out
    frames 4, 12, 20, 28, 36 (``i % 8 == 4``: never read by training nor by any method here), so
    interpolation inside a scene the network was trained on;
  - **out-of-sample**: frames 40-59 as a new log (no training ever read them), reconstructed from
    their own frames and scored on every 4th of them (42, 46, 50, 54, 58), which no method reads.

  WorldRec reconstructs from the non-held-out frames only (their images and lidar sweeps); the
  lidar skeleton is built as the environment builds it (all sweeps of the set); the per-scene fit
  and the refinements hold out the same frames; ``worldrec+budgetN`` is the ``worldrec`` scene
  source's default (WorldRec, pruned, refined for what is left of N seconds).
* Procedural evaluation towns (seeds 900-904, never trained on): held-out frames at the logged
  pose against the log's images, and the same times with the ego shifted 0, 1, 2 and 3 m to its
  left against the oracle (rendered at the log's 320x180 and area-resized, as the log's images).

Every method builds its scene from the same training frames (per-scene fitting holds out the same
every-8th frames itself). ``jwmsim eval recon`` (:mod:`jwmsim.cli.eval_recon`) runs it all and
writes a JSON report, a Markdown table and a plot.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from jwmsim.errors import ConfigError
from jwmsim.gaussians.image_metrics import psnr, ssim
from jwmsim.gaussians.lidar_skeleton import lidar_skeleton
from jwmsim.gaussians.prune import PruneConfig, prune_scene
from jwmsim.gaussians.render import render
from jwmsim.gaussians.scene import GaussianScene
from jwmsim.geometry import SE3
from jwmsim.logs.real_log_split import NEW_LOG_HOLDOUT_EVERY, new_log, training_part
from jwmsim.logs.segment import LogSegment
from jwmsim.progress import progress_bar
from jwmsim.worldrec.modeling_worldrec import WorldRecModel
from jwmsim.worldrec.reconstruct import ReconstructConfig, load_worldrec, reconstruct_segment
from jwmsim.worldrec.training.data import (
    EVAL_SEEDS,
    HOLDOUT_EVERY,
    town_log_is_current,
)

SHIFTS = (0.0, 1.0, 2.0, 3.0)  # [m] to the ego's left
EVAL_HW = (90, 160)
METHOD_LABELS = {"worldrec": "WorldRec", "lidar": "lidar skeleton", "fit": "per-scene fit"}


@dataclass(frozen=True)
class EvalOptions:
    """What :func:`run` evaluates.

    Attributes:
        image_hw: evaluation (and fitting) resolution [px].
        shifts: lateral ego shifts in the towns [m].
        seeds: evaluation towns (900-904 only).
        duration: length of each evaluation town's log [s].
        fit_steps: per-scene fitting steps on each town (0: no fit column).
        real_fit_steps: per-scene fitting steps on the real log (0: none).
        refine_steps: WorldRec + this many fitting steps on the real log (0: none).
        budget: WorldRec refined within this many seconds on the real log, as the ``worldrec``
            scene source builds it (0: none).
        prune: how WorldRec's scenes are pruned (None: not pruned).
        rcfg: how WorldRec cuts the logs into windows.
    """

    image_hw: tuple[int, int] = EVAL_HW
    shifts: tuple[float, ...] = SHIFTS
    seeds: tuple[int, ...] = tuple(EVAL_SEEDS)
    duration: float = 4.0
    fit_steps: int = 0
    real_fit_steps: int = 0
    refine_steps: int = 0
    budget: float = 0.0
    prune: PruneConfig | None = field(default_factory=PruneConfig)
    rcfg: ReconstructConfig = field(default_factory=ReconstructConfig)


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


def heldout_indices(segment: LogSegment, every: int = HOLDOUT_EVERY) -> list[int]:
    """Held-out frames of ``segment``: ``i % every == every // 2``."""
    from jwmsim.scenes.quality import heldout_frames

    return heldout_frames(min(len(segment.frames[c]) for c in segment.camera_names), every)


def _methods(
    model: WorldRecModel,
    segment: LogSegment,
    rcfg: ReconstructConfig,
    fit_steps: int,
    prune: PruneConfig | None,
    image_hw: tuple[int, int] = EVAL_HW,
    every: int = HOLDOUT_EVERY,
) -> dict[str, tuple[GaussianScene, float]]:
    """The scenes compared, built from the log's frames but the held-out ones (every ``every``-th):
    WorldRec (pruned as the ``worldrec`` scene source prunes, when ``prune`` is given), the lidar
    skeleton (as the environment builds it, all sweeps) and, with ``fit_steps``, per-scene fitting
    (which holds out the same frames itself). Values: ``(scene, build seconds)``."""
    from jwmsim.scenes.quality import build_frames

    n = min(len(segment.frames[c]) for c in segment.camera_names)
    t0 = time.perf_counter()
    wr, _ = reconstruct_segment(model, segment, frames=build_frames(n, every), config=rcfg)
    if prune is not None:
        wr, _ = prune_scene(wr, segment, prune)
    t1 = time.perf_counter()
    sk = lidar_skeleton(segment, progress=False)
    out = {"worldrec": (wr, t1 - t0), "lidar": (sk, time.perf_counter() - t1)}
    if fit_steps > 0:
        from jwmsim.gaussians.fit import FitConfig, fit_scene

        t2 = time.perf_counter()
        cfg = FitConfig(steps=fit_steps, image_hw=image_hw, holdout_every=every)
        fit, _ = fit_scene(segment, cfg, progress=False)
        out["fit"] = (fit, time.perf_counter() - t2)
    return out


def evaluate_logged(
    methods: dict[str, tuple[GaussianScene, float]],
    segment: LogSegment,
    hw: tuple[int, int],
    every: int = HOLDOUT_EVERY,
) -> dict[str, Any]:
    """Scores of each method on the held-out frames (every ``every``-th) of ``segment`` against
    its images, overall and per camera."""
    out: dict[str, Any] = {}
    gts = {
        i: torch.stack([torch.from_numpy(segment.image(c, i, hw)) for c in segment.camera_names]).float()
        / 255
        for i in heldout_indices(segment, every)
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


REAL_SETS = {
    "in_sample": "real log frames 0-39 (a training scene), held-out frames 4, 12, 20, 28, 36",
    "out_of_sample": "new log: real frames 40-59 (never trained on), held-out frames 42, 46, 50, 54, 58",
}


def real_log_sets(segment: LogSegment) -> dict[str, tuple[LogSegment, int, int]]:
    """The two real-log sets (see the module docstring): ``name -> (segment, hold-out period,
    first frame of the full log)``."""
    from jwmsim.logs.real_log_split import NEW_LOG_FRAMES

    return {
        "in_sample": (training_part(segment), HOLDOUT_EVERY, 0),
        "out_of_sample": (new_log(segment), NEW_LOG_HOLDOUT_EVERY, NEW_LOG_FRAMES.start),
    }


def evaluate_real_set(
    model: WorldRecModel, segment: LogSegment, every: int, first: int, options: EvalOptions
) -> dict[str, Any]:
    """One real-log set: the methods of :func:`_methods`, and with ``options.refine_steps`` /
    ``options.budget`` WorldRec followed by that many fitting steps / refined within that budget
    (both hold out the same frames)."""
    from jwmsim.gaussians.fit import FitConfig, fit_scene
    from jwmsim.scenes.sources import SourceSettings
    from jwmsim.scenes.worldrec_source import WorldRecSource

    hw = options.image_hw
    methods = _methods(model, segment, options.rcfg, options.real_fit_steps, options.prune, hw, every)
    extra: dict[str, Any] = {}
    if options.refine_steps > 0:
        scene, seconds = methods["worldrec"]
        t0 = time.perf_counter()
        cfg = FitConfig(steps=options.refine_steps, image_hw=hw, holdout_every=every)
        refined, _ = fit_scene(segment, cfg, progress=False, init_scene=scene)
        methods[f"worldrec+refine{options.refine_steps}"] = (refined, seconds + time.perf_counter() - t0)
    if options.budget > 0:
        settings = SourceSettings(image_hw=hw, budget=options.budget, holdout_every=every)
        source = WorldRecSource(prune=options.prune)
        scene, rep = source.build(segment, settings, progress=False, model=model)
        name = f"worldrec+budget{options.budget:g}"
        methods[name] = (scene, rep["build_seconds"])
        extra[name] = {
            "refine_steps": rep.get("refine_steps", 0),
            "stages_seconds": rep["stages_seconds"],
        }
    held = heldout_indices(segment, every)
    result = {
        "heldout_frames": [first + i for i in held],
        "holdout_every": every,
        "image_hw": list(hw),
        **evaluate_logged(methods, segment, hw, every),
    }
    for name, info in extra.items():
        result[name].update(info)
    return result


def evaluate_real_log(model: WorldRecModel, root: Path, options: EvalOptions) -> dict[str, Any]:
    """Both real-log sets, in-sample and out-of-sample (see the module docstring)."""
    from jwmsim.logs.nuscenes import load_nuscenes_log

    full = load_nuscenes_log(root)
    out: dict[str, Any] = {"log": str(root)}
    for name, (segment, every, first) in real_log_sets(full).items():
        out[name] = {"set": REAL_SETS[name], **evaluate_real_set(model, segment, every, first, options)}
    return out


def eval_town_path(root: Path, seed: int) -> Path:
    return Path(root) / "eval" / f"town-{seed:06d}"


def prepare_eval_town(root: Path, seed: int, duration: float) -> Path:
    """Write evaluation town ``seed``'s log (320x180) unless a current one is there (one of an
    older town generator is rewritten: the oracle renders the current town); only evaluation
    seeds."""
    from jwmsim.logs.procedural import LogConfig, write_town_log

    if seed not in EVAL_SEEDS:
        raise ConfigError(
            f"town {seed} is not an evaluation town",
            hint=f"use seeds {EVAL_SEEDS.start}-{EVAL_SEEDS.stop - 1}",
        )
    path = eval_town_path(root, seed)
    if not town_log_is_current(path):  # absent, incomplete or of an older generator: (re)write
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
    options: EvalOptions,
) -> dict[str, Any]:
    """One evaluation town: held-out frames at the logged pose (vs the log's images) and shifted
    sideways (vs the oracle)."""
    from jwmsim.logs.nuscenes import load_nuscenes_log
    from jwmsim.logs.procedural import Town, nuscenes_like_rig, render_ground_truth

    segment = load_nuscenes_log(prepare_eval_town(root, seed, options.duration))
    hw = options.image_hw
    methods = _methods(model, segment, options.rcfg, options.fit_steps, options.prune, hw)
    result: dict[str, Any] = {"seed": seed, "logged": evaluate_logged(methods, segment, hw)}
    town = Town.generate(seed)
    rig = nuscenes_like_rig(320, 180)
    cam0 = segment.camera_names[0]
    shifted: dict[str, dict[str, Any]] = {name: {} for name in methods}
    for d in options.shifts:
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


def _mean(rows: list[dict[str, Any]], key: str) -> float:
    return float(np.mean([r[key] for r in rows]))


def summarise(real: dict[str, Any] | None, towns: list[dict[str, Any]]) -> dict[str, Any]:
    """Means over the towns, per method and condition."""
    out: dict[str, Any] = {}
    if real is not None:
        for part in REAL_SETS:
            block = real[part]
            out[f"real_{part}"] = {
                m: {
                    "psnr": block[m]["psnr"],
                    "ssim": block[m]["ssim"],
                    "seconds": block[m]["build_seconds"],
                    "gaussians": block[m]["gaussians"],
                }
                for m in block
                if isinstance(block[m], dict) and "psnr" in block[m]
            }
    if towns:
        agg: dict[str, Any] = {}
        for m in towns[0]["logged"]:
            logged = [t["logged"][m] for t in towns]
            row: dict[str, Any] = {
                "logged_heldout": {
                    "psnr": round(_mean(logged, "psnr"), 3),
                    "ssim": round(_mean(logged, "ssim"), 4),
                },
                "seconds": round(_mean(logged, "build_seconds"), 2),
                "gaussians": round(_mean(logged, "gaussians")),
            }
            for key in towns[0]["shifted"][m]:
                shifted = [t["shifted"][m][key] for t in towns]
                row[f"oracle_{key}"] = {
                    "psnr": round(_mean(shifted, "psnr"), 3),
                    "ssim": round(_mean(shifted, "ssim"), 4),
                }
            agg[m] = row
        out["towns"] = agg
    return out


def _label(method: str) -> str:
    base, _, extra = method.partition("+")
    return METHOD_LABELS.get(base, base) + (f" + {extra}" if extra else "")


def markdown_table(summary: dict[str, Any]) -> str:
    """The summary as a Markdown table: one row per set, one column per method (PSNR dB / SSIM),
    then build times [s] and Gaussian counts."""
    methods: list[str] = []
    for part in ("real_in_sample", "real_out_of_sample", "towns"):
        for m in summary.get(part, {}):
            if m not in methods:
                methods.append(m)
    lines = [
        "| set | " + " | ".join(f"{_label(m)} PSNR / SSIM" for m in methods) + " |",
        "|---" * (len(methods) + 1) + "|",
    ]

    def row(label: str, cells: dict[str, str]) -> None:
        lines.append(f"| {label} | " + " | ".join(cells.get(m, "") for m in methods) + " |")

    def quality(v: dict[str, Any]) -> str:
        return f"{v['psnr']:.2f} / {v['ssim']:.3f}"

    towns = summary.get("towns", {})
    if towns:
        first = next(iter(towns.values()))
        for key in first:
            if key in ("seconds", "gaussians"):
                continue
            label = (
                "towns, held-out frames, logged pose (vs log images)"
                if key == "logged_heldout"
                else f"towns, {key.replace('oracle_', '')} shift (vs oracle)"
            )
            row(label, {m: quality(v[key]) for m, v in towns.items()})
    reals = {part: summary.get(f"real_{part}", {}) for part in REAL_SETS}
    labels = {"in_sample": "in-sample: ", "out_of_sample": "out-of-sample: "}
    for part, real in reals.items():
        if real:
            row(labels[part] + REAL_SETS[part], {m: quality(v) for m, v in real.items()})
    if towns:
        row("towns, build time per log [s]", {m: f"{v['seconds']:.1f}" for m, v in towns.items()})
        row("towns, Gaussians", {m: f"{v['gaussians']:,}" for m, v in towns.items()})
    for part, real in reals.items():
        if real:
            row(f"{labels[part]}build time [s]", {m: f"{v['seconds']:.1f}" for m, v in real.items()})
            row(f"{labels[part]}Gaussians", {m: f"{v['gaussians']:,}" for m, v in real.items()})
    return "\n".join(lines) + "\n"


def plot_shifts(summary: dict[str, Any], path: Path) -> Path | None:
    """PSNR against lateral shift for every method (towns)."""
    if "towns" not in summary:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    for m, row in summary["towns"].items():
        keys = [k for k in row if k.startswith("oracle_")]
        xs = [float(k.replace("oracle_", "").rstrip("m")) for k in keys]
        ax.plot(xs, [row[k]["psnr"] for k in keys], marker="o", label=_label(m))
    ax.set_xlabel("lateral shift of the ego [m]")
    ax.set_ylabel("PSNR vs oracle [dB]")
    seeds = summary.get("town_seeds", [])
    ax.set_title(f"unseen towns ({len(seeds)}: {min(seeds)}-{max(seeds)})" if seeds else "unseen towns")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def run(
    model_dir: Path,
    data_root: Path,
    out: Path,
    real_log: Path | None,
    options: EvalOptions = EvalOptions(),
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Evaluate (see the module docstring) and write ``out`` (JSON), ``out`` with ``.md`` (the
    table) and ``.png`` (PSNR against shift). Returns the report."""
    for seed in options.seeds:
        if seed not in EVAL_SEEDS:
            raise ConfigError(
                f"town {seed} is not an evaluation town",
                hint=f"use seeds {EVAL_SEEDS.start}-{EVAL_SEEDS.stop - 1} (never trained on)",
            )
    torch.set_num_threads(2)
    model = load_worldrec(model_dir)
    real = None
    if real_log is not None:
        real = evaluate_real_log(model, real_log, options)
        for part in REAL_SETS:
            block = real[part]
            scores_text = ", ".join(
                f"{m} {v['psnr']:.2f} dB" for m, v in block.items() if isinstance(v, dict) and "psnr" in v
            )
            log(f"{part.replace('_', '-')} ({REAL_SETS[part]}): {scores_text}")
    towns = []
    for seed in progress_bar(options.seeds, desc="evaluation towns", unit="town"):
        towns.append(evaluate_town(model, seed, data_root, options))
        scores_text = ", ".join(f"{m} {v['psnr']:.2f} dB" for m, v in towns[-1]["logged"].items())
        log(f"town {seed} (held-out frames, logged pose): {scores_text}")
    summary = summarise(real, towns)
    summary["town_seeds"] = list(options.seeds)
    opts = asdict(options)
    report = {"model": str(model_dir), "options": opts, "summary": summary, "real_log": real, "towns": towns}
    out.parent.mkdir(parents=True, exist_ok=True)
    _write_atomic(out, json.dumps(report, indent=2, default=str) + "\n")
    _write_atomic(out.with_suffix(".md"), markdown_table(summary))
    plot_shifts(summary, out.with_suffix(".png"))
    return report
