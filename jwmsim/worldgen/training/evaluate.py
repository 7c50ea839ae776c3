"""Evaluation of frame generators on the WorldGen evaluation set (:mod:`jwmsim.worldgen.training.eval_set`).

For every generator and every evaluation clip: ``reset`` with the clip's context (the log's frames
before its first step), then ``generate`` each skeleton frame in turn; every output is scored against
the true images (:mod:`jwmsim.worldgen.training.gen_metrics`: whole image, uncovered and covered pixels).
Reported: town clips per skeleton scene (``lidar`` / ``worldrec``) and condition (``shift-0m`` ..
``shift-3m``, ``lane-change``, ``actors-moved``); the real log's held-out second; the drift
rollout's scores per second with the process memory (RSS) and the Python heap traced by
``tracemalloc`` per second.

:func:`run_eval` returns the report; :func:`write_outputs` writes ``results.json``, ``results.md``
and plots into a folder (``jwmsim eval gen``).
"""

from __future__ import annotations

import json
import math
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from jwmsim.atomic import atomic_path
from jwmsim.errors import ConfigError
from jwmsim.machine import describe, machine_info
from jwmsim.progress import progress_bar
from jwmsim.worldgen.frames import FrameGenerator
from jwmsim.worldgen.training.dataset import Clip, list_clips, load_clip
from jwmsim.worldgen.training.gen_metrics import METRICS, frame_scores, mean_scores
from jwmsim.worldgen.training.generators import GENERATORS, GeneratorOptions

STEPS_PER_SECOND = 10


@dataclass(frozen=True)
class ClipRun:
    """One generator over one clip: per-step scores ``scores[metric]`` ``[T, C]``, seconds per step
    ``[T]``, and (when tracked) RSS ``[T]`` [MiB] and traced Python heap ``[T]`` [MiB] after each step."""

    scores: dict[str, np.ndarray]
    seconds: np.ndarray
    rss_mib: np.ndarray | None = None
    traced_mib: np.ndarray | None = None


def _rss_mib() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def run_clip(generator: FrameGenerator, clip: Clip, track_memory: bool = False) -> ClipRun:
    """Reset ``generator`` with ``clip``'s context and generate its steps one by one."""
    generator.reset(clip.prior_context())
    rows, secs, rss, traced = [], [], [], []
    alpha = clip.skel_alpha.astype(np.float32) / 255.0
    # the flicker of step 0 is measured against the last real frame before the clip (both videos)
    prev_out = prev_true = None if clip.context is None or len(clip.context) == 0 else clip.context[-1]
    if track_memory:
        tracemalloc.start()
    try:
        for t, frame in enumerate(clip.skeleton_frames()):
            t0 = time.perf_counter()
            out = generator.generate(frame)
            secs.append(time.perf_counter() - t0)
            if out.shape != clip.target[t].shape or out.dtype != np.uint8:
                raise ConfigError(
                    f"generator {getattr(generator, 'name', '?')!r} returned {out.dtype} {out.shape}, "
                    f"expected uint8 {clip.target[t].shape}"
                )
            rows.append(frame_scores(out, clip.target[t], alpha[t], prev_out, prev_true))
            prev_out, prev_true = out, clip.target[t]
            if track_memory:
                rss.append(_rss_mib())
                traced.append(tracemalloc.get_traced_memory()[0] / 2**20)
    finally:
        if track_memory:
            tracemalloc.stop()
    scores = {m: np.stack([r[m] for r in rows]) for m in METRICS}
    return ClipRun(
        scores,
        np.asarray(secs),
        np.asarray(rss) if track_memory else None,
        np.asarray(traced) if track_memory else None,
    )


def _rows(run: ClipRun, steps: slice | None = None) -> list[dict[str, np.ndarray]]:
    """The run's score rows (of ``steps`` only) in the form :func:`mean_scores` takes."""
    s = steps or slice(None)
    return [{m: run.scores[m][s] for m in METRICS}]


def rollout_summary(run: ClipRun) -> dict[str, Any]:
    """Per-second means of the rollout's scores and memory; first and last 10 s; memory growth."""
    n = run.scores["psnr"].shape[0]
    per_second = []
    for k in range(math.ceil(n / STEPS_PER_SECOND)):
        s = slice(k * STEPS_PER_SECOND, min(n, (k + 1) * STEPS_PER_SECOND))
        row = {"second": k, **mean_scores(_rows(run, s))}
        if run.rss_mib is not None and run.traced_mib is not None:
            row["rss_mib"] = round(float(run.rss_mib[s].max()), 1)
            row["traced_mib"] = round(float(run.traced_mib[s].max()), 2)
        per_second.append(row)
    ten = 10 * STEPS_PER_SECOND
    first, last = mean_scores(_rows(run, slice(0, ten))), mean_scores(_rows(run, slice(max(0, n - ten), n)))
    out: dict[str, Any] = {
        "steps": n,
        "per_second": per_second,
        "first_10s": first,
        "last_10s": last,
        "psnr_last_minus_first_db": round(last["psnr"] - first["psnr"], 3),
        "seconds_per_step": round(float(run.seconds.mean()), 4),
    }
    if run.rss_mib is not None and run.traced_mib is not None:
        k = min(len(run.rss_mib), ten)
        out["rss_growth_mib"] = round(float(run.rss_mib[-k:].mean() - run.rss_mib[:k].mean()), 1)
        out["traced_growth_mib"] = round(float(run.traced_mib[-k:].mean() - run.traced_mib[:k].mean()), 2)
    return out


@dataclass(frozen=True)
class EvalConfig:
    """A ``jwmsim eval gen`` run.

    Attributes:
        root: data root holding ``eval/`` clips.
        generators: registry names, in report order.
        options: what the generators are built with.
        max_rollout_steps: cut the drift rollout to this many steps (None: all).
        only: keep the clips whose file name contains one of these (e.g. ``shift-2m``,
            ``real-heldout``, ``rollout``; empty: all clips), for generators too slow for all.
    """

    root: Path
    generators: tuple[str, ...] = ("skeleton", "copy-last")
    options: GeneratorOptions = field(default_factory=GeneratorOptions)
    max_rollout_steps: int | None = None
    only: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.generators:
            raise ConfigError("no generator to evaluate", hint="pass --generator skeleton (or another)")
        for name in self.generators:
            GENERATORS.get(name)  # unknown names are a ConfigError listing the known ones
        if len(set(self.generators)) != len(self.generators):
            raise ConfigError(f"a generator is named twice in {list(self.generators)}")


def check_skeleton_current(clip: Clip, path: Path) -> str:
    """The version of the scene source that rendered ``clip``'s skeleton, checked against the
    source's version today: a clip rendered from a scene of other weights or an older builder scores
    a skeleton nobody gets any more.

    Raises:
        ConfigError: the clip records another version, or none (written before clips recorded it).
    """
    from jwmsim.scenes.sources import SCENE_SOURCES

    current = SCENE_SOURCES.get(clip.scene).version
    if clip.scene_version != current:
        built = f"by {clip.scene_version}" if clip.scene_version else "by an unrecorded version"
        raise ConfigError(
            f"evaluation clip {path}: its {clip.scene} skeleton was built {built}, "
            f"but the {clip.scene} scene source is now {current}",
            hint=f"delete {path.parent} and write it again with "
            "`python -m jwmsim.worldgen.training.prepare --split eval --towns 900-904`",
        )
    return current


def _clip_group(clip: Clip) -> str:
    if clip.condition.startswith("rollout"):
        return "rollout"
    return "real" if clip.kind == "real" else "towns"


def run_eval(cfg: EvalConfig, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Evaluate every generator of ``cfg`` on every evaluation clip (see the module docstring).

    Raises:
        ConfigError: there are no evaluation clips under ``cfg.root``.
    """
    paths = list_clips(cfg.root, "eval")
    if not paths:
        raise ConfigError(
            f"no WorldGen evaluation clips under {Path(cfg.root) / 'eval'}",
            hint="write them with `python -m jwmsim.worldgen.training.prepare --split eval --towns 900-904`, "
            "or pass --root DIR",
        )
    if cfg.only:
        paths = [p for p in paths if any(k in p.name for k in cfg.only)]
        if not paths:
            raise ConfigError(f"no evaluation clip name contains any of {list(cfg.only)}",
                              hint="e.g. --only shift-2m --only real-heldout")  # fmt: skip
    gens = {n: GENERATORS.get(n).make(cfg.options) for n in cfg.generators}
    towns: dict[str, dict[str, dict[str, list]]] = {n: {} for n in gens}
    real: dict[str, dict[str, list]] = {n: {} for n in gens}
    rollout: dict[str, Any] = {}
    seconds: dict[str, list[float]] = {n: [] for n in gens}
    t_start = time.perf_counter()
    scene_versions: dict[str, str] = {}
    for path in progress_bar(paths, desc="eval gen", unit="clip"):
        clip = load_clip(path)
        scene_versions[clip.scene] = check_skeleton_current(clip, path)
        group = _clip_group(clip)
        if group == "rollout" and cfg.max_rollout_steps is not None:
            clip = _truncate(clip, cfg.max_rollout_steps)
        for name, gen in gens.items():
            run = run_clip(gen, clip, track_memory=group == "rollout")
            seconds[name] += list(run.seconds)
            if group == "rollout":
                rollout[name] = {"clip": path.name, "scene": clip.scene, **rollout_summary(run)}
            elif group == "real":
                real[name].setdefault(clip.scene, []).extend(_rows(run))
            else:
                towns[name].setdefault(clip.scene, {}).setdefault(clip.condition, []).extend(_rows(run))
    report: dict[str, Any] = {
        "generators": list(cfg.generators),
        "options": {
            "device": cfg.options.device,
            "steps": cfg.options.steps,
            "weights": str(cfg.options.weights),
        },
        "weights": {n: _weights_record(g) for n, g in gens.items() if getattr(g, "weights_path", None)},
        "root": str(cfg.root),
        "only": list(cfg.only),
        "clips": len(paths),
        "scene_versions": dict(sorted(scene_versions.items())),
        "machine": machine_info(),
        "seconds": round(time.perf_counter() - t_start, 1),
        "seconds_per_step": {n: round(float(np.mean(v)), 4) if v else None for n, v in seconds.items()},
        "towns": {
            n: {
                sc: {cond: mean_scores(rows) for cond, rows in sorted(conds.items())}
                for sc, conds in sc_.items()
            }
            for n, sc_ in towns.items()
        },
        "real_heldout": {n: {sc: mean_scores(rows) for sc, rows in sc_.items()} for n, sc_ in real.items()},
        "rollout": rollout,
    }
    log(f"evaluated {len(cfg.generators)} generator(s) on {len(paths)} clips in {report['seconds']:.0f} s")
    return report


def _weights_record(generator: FrameGenerator) -> dict[str, object]:
    """The weights a generator scored with: folder, SHA-256 of its safetensors file, sampler, and
    the sampler's module-level settings (the ``sharp`` solver's end level, the ``detail`` anchor's
    split and strength, the anchors' coverage ramp)."""
    import hashlib

    from diffusers.utils import SAFETENSORS_WEIGHTS_NAME

    from jwmsim.worldgen.pipeline_worldgen import sampler_settings

    folder = Path(generator.weights_path)  # type: ignore[attr-defined]
    digest = hashlib.sha256((folder / SAFETENSORS_WEIGHTS_NAME).read_bytes()).hexdigest()
    sampler = getattr(generator, "config", None)
    return {
        "path": str(folder),
        "sha256": digest,
        "sampler": repr(sampler),
        "sampler_settings": sampler_settings(),
    }


def _truncate(clip: Clip, steps: int) -> Clip:
    from dataclasses import replace

    per_step = ("target", "skel_rgb", "skel_depth", "skel_alpha", "world_from_ego", "log_world_from_ego")
    kw = {k: getattr(clip, k)[:steps] for k in (*per_step, "times", "shift_m", "yaw_rad")}
    return replace(clip, **kw)


# --- outputs ------------------------------------------------------------------------------------


def _num(x: float | None, digits: int = 2) -> str:
    """``x`` to ``digits`` decimals, ``-`` where it is missing or NaN (a mask with no pixel)."""
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def _cell(s: dict[str, float]) -> str:
    psnrs = " / ".join(_num(s[k]) for k in ("psnr", "psnr_uncovered", "psnr_covered"))
    return f"{psnrs} / {_num(s['ssim'], 3)}"


def _blur_cell(s: dict[str, float]) -> str:
    """``S w/u/c, HF w/u/c, F w/u/c``: the three blur-measure ratios (whole / uncovered / covered)."""
    parts = []
    for m, tag in (("sharpness", "S"), ("hf_energy", "HF"), ("flicker", "F")):
        if m in s:
            parts.append(f"{tag} {_num(s[m])}/{_num(s[m + '_uncovered'])}/{_num(s[m + '_covered'])}")
    return ", ".join(parts)


def _ssim_cell(s: dict[str, float]) -> str:
    return " / ".join(_num(s.get(k), 3) for k in ("ssim", "ssim_uncovered", "ssim_covered"))


def _pooled_cell(s: dict[str, float]) -> str:
    """``uncovered / covered [dB] (uncovered share %)``: PSNR pooled over the set's masked pixels."""
    share = s.get("uncovered_share")
    return (
        f"{_num(s.get('psnr_uncovered_pooled'))} / {_num(s.get('psnr_covered_pooled'))}"
        f" ({_num(None if share is None else 100 * share)} %)"
    )


def _tables(head: str, keys: list[str], cells: Callable[[str, str], dict[str, float] | None],
            gens: Sequence[str], label: Callable[[str], str] = str) -> str:  # fmt: skip
    """Four tables over the same rows: PSNR cells, SSIM cells, blur-measure cells and the PSNR
    pooled over each mask's pixels."""
    out = []
    for title, fmt in (("PSNR", _cell), ("SSIM whole / uncovered / covered", _ssim_cell),
                       ("blur measures, generated / true", _blur_cell),
                       ("PSNR pooled over the set's pixels: uncovered / covered [dB] "
                        "(share of the pixels uncovered)", _pooled_cell)):  # fmt: skip
        table = f"_{title}_\n\n" + head
        for k in keys:
            row = [fmt(c) if (c := cells(n, k)) else "" for n in gens]
            table += f"| {label(k)} | " + " | ".join(row) + " |\n"
        out.append(table)
    return "\n".join(out)


def markdown_report(report: dict[str, Any]) -> str:
    """Tables per condition and generator: PSNR [dB] whole / uncovered / covered and SSIM whole;
    SSIM whole / uncovered / covered; the blur measures (sharpness, high-frequency energy and
    flicker ratios, whole / uncovered / covered); PSNR pooled over each mask's pixels."""
    gens = report["generators"]
    head = "| " + " | ".join(["set", *gens]) + " |\n|" + "---|" * (len(gens) + 1) + "\n"
    lines = [
        "Cells: PSNR whole / uncovered (alpha < 0.5) / covered (alpha >= 0.5) [dB] / SSIM whole. "
        "Blur measures (`jwmsim.worldgen.training.sharpness`, generated / true, 1 = like the real "
        "images): S = sharpness (Sobel gradient), HF = energy above 0.25 cycles/pixel, F = "
        "frame-to-frame change; each whole / uncovered / covered.",
        "",
    ]
    scenes = sorted({sc for n in gens for sc in report["towns"].get(n, {})})
    for sc in scenes:
        lines.append(f"**Unseen towns (seeds 900-904), {sc} skeleton**\n")
        conds = sorted({c for n in gens for c in report["towns"][n].get(sc, {})})
        lines.append(
            _tables(head, conds, lambda n, cond, sc=sc: report["towns"][n].get(sc, {}).get(cond), gens)
        )
    if any(report["real_heldout"].get(n) for n in gens):
        lines.append("**Real log, held-out frames 50-59 (scene from frames 0-49, context up to 49)**\n")
        scenes_r = sorted({sc for n in gens for sc in report["real_heldout"][n]})
        lines.append(
            _tables(
                head,
                scenes_r,
                lambda n, sc: report["real_heldout"][n].get(sc),
                gens,
                lambda sc: f"{sc} skeleton",
            )  # fmt: skip
        )
    if report["rollout"]:
        lines.append("**Drift rollout (town 900, lidar skeleton)**\n")
        table = "| generator | steps | PSNR first 10 s | PSNR last 10 s | last - first [dB] "
        table += "| RSS growth [MiB] | sharpness first / last 10 s | flicker first / last 10 s |\n"
        table += "|---|---|---|---|---|---|---|---|\n"
        for n, r in report["rollout"].items():
            f10, l10 = r["first_10s"], r["last_10s"]
            table += (
                f"| {n} | {r['steps']} | {f10['psnr']:.2f} | {l10['psnr']:.2f} | "
                f"{r['psnr_last_minus_first_db']:+.2f} | {r.get('rss_growth_mib', float('nan')):+.1f} | "
                f"{f10.get('sharpness', float('nan')):.2f} / {l10.get('sharpness', float('nan')):.2f} | "
                f"{f10.get('flicker', float('nan')):.2f} / {l10.get('flicker', float('nan')):.2f} |\n"
            )
        lines.append(table)
    m = report["machine"]
    lines.append(f"Machine: {describe(m)}.\n")
    return "\n".join(lines)


def plot_report(report: dict[str, Any], folder: Path) -> list[Path]:
    """``psnr_vs_shift.png`` (whole and uncovered, per scene), ``drift.png`` and ``memory.png``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = []
    gens = report["generators"]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for ax, metric in zip(axes, ("psnr", "psnr_uncovered"), strict=True):
        for n in gens:
            for sc, conds in report["towns"].get(n, {}).items():
                keys = sorted((k for k in conds if k.startswith("shift-")), key=lambda k: float(k[6:-1]))
                if keys:
                    xs = [float(k[6:-1]) for k in keys]
                    ax.plot(xs, [conds[k][metric] for k in keys], marker="o", label=f"{n} ({sc})")
        ax.set_xlabel("sideways shift of the ego [m]")
        ax.set_ylabel(f"{metric.replace('_', ' ')} [dB]")
        ax.legend(fontsize=7)
    fig.suptitle("unseen towns 900-904 vs the oracle")
    fig.tight_layout()
    out.append(folder / "psnr_vs_shift.png")
    fig.savefig(out[-1], dpi=100)
    plt.close(fig)
    if report["rollout"]:
        for key, ylabel, name in (("psnr", "PSNR [dB]", "drift.png"), ("rss_mib", "RSS [MiB]", "memory.png")):
            fig, ax = plt.subplots(figsize=(6, 3.4))
            for n, r in report["rollout"].items():
                ps = r["per_second"]
                if ps and key in ps[0]:
                    ax.plot([p["second"] for p in ps], [p[key] for p in ps], label=n)
            ax.set_xlabel("rollout time [s]")
            ax.set_ylabel(ylabel)
            ax.legend(fontsize=8)
            fig.tight_layout()
            out.append(folder / name)
            fig.savefig(out[-1], dpi=100)
            plt.close(fig)
    return out


def write_outputs(report: dict[str, Any], folder: Path) -> list[Path]:
    """``results.json``, ``results.md`` and the plots in ``folder``, each written atomically."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"--out {folder} is a file", hint="name a folder for the results")
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in (
        ("results.json", json.dumps(report, indent=1, allow_nan=True)),
        ("results.md", markdown_report(report)),
    ):
        with atomic_path(folder / name) as tmp:
            tmp.write_text(text)
        written.append(folder / name)
    return written + plot_report(report, folder)


def evaluate_generators(
    root: Path, generators: Sequence[str], out: Path, options: GeneratorOptions | None = None
) -> dict[str, Any]:
    """:func:`run_eval` then :func:`write_outputs` (the ``jwmsim eval gen`` command)."""
    cfg = EvalConfig(Path(root), tuple(generators), options or GeneratorOptions())
    report = run_eval(cfg)
    write_outputs(report, out)
    return report
