"""Model-quality and benchmark tables, rendered from the results files (the only copy of a figure).

Sources: ``assets/*/eval_results*.json`` (written by ``jwmsim eval recon`` / ``jwmsim eval gen``)
and ``benchmarks/results/*.json`` (written by ``benchmarks/bench_*.py``).

* The docs build calls :func:`render` through ``docs/hooks.py`` for every
  ``<!-- generated: NAME -->`` marker of a page.
* ``python docs/gen_tables.py`` rewrites the README's generated block (between
  ``<!-- generated: model-summary -->`` and ``<!-- end generated -->``); ``--check`` exits 1
  when the README differs from what the results files give (a test runs it).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
BEGIN = "<!-- generated: model-summary -->"
END = "<!-- end generated -->"


@cache
def _load(relative: str) -> dict[str, Any]:
    return json.loads((ROOT / relative).read_text())


def _table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _db(value: float) -> str:
    return f"{value:.2f}"


def _signed(value: float) -> str:
    return f"{value:+.2f}"


def _calibration(data: dict[str, Any]) -> str:
    machine = data.get("machine")
    if not isinstance(machine, dict):
        return "-"
    value = machine.get("fp32_matmul_gflops_1024", machine.get("fp32_matmul_gflops"))
    return "-" if value is None else f"{value:.0f}"


# ------------------------------------------------------------------------------------------------
# Models
# ------------------------------------------------------------------------------------------------
WORLDREC = "assets/worldrec/eval_results.json"
WORLDREC_FIT = "assets/worldrec/eval_results_previous.json"  # the towns' per-scene fit column
WORLDREC_BENCH = "assets/worldrec/bench_reconstruct.json"  # the real log's two sets, with the fit
WORLDGEN = "assets/worldgen/eval_results.json"
WORLDGEN_ODE = "assets/worldgen_ode/eval_results.json"
WORLDGEN_SHARP = "assets/worldgen_student/eval_results.json"


def model_summary() -> str:
    """The README's short table: one line per headline figure of each model, each saying whether
    the model saw the data it is scored on."""
    rec = _load(WORLDREC)["summary"]
    fit = _load(WORLDREC_FIT)["summary"]
    new_log = _bench_real_sets()["out_of_sample"]
    gen = _load(WORLDGEN)
    sharp = _load(WORLDGEN_SHARP)
    towns = rec["towns"]
    gens = ("skeleton", "copy-last", "worldgen", "worldgen-student")
    g2 = {g: sharp["towns"][g]["worldrec"]["shift-2m"] for g in gens}
    held = {g: sharp["real_heldout"][g]["worldrec"] for g in gens}
    roll = {g: gen["rollout"][g]["psnr_last_minus_first_db"] for g in ("skeleton", "worldgen")}

    def whole_uncovered(d: dict[str, Any]) -> str:
        return f"{_db(d['psnr'])} / {_db(d['psnr_uncovered'])}"

    rows = [
        [
            "WorldRec + 60 s refinement (default scene)",
            "real log, frames 40-59 as a new log, held-out frames (out-of-sample)",
            f"**{_db(new_log['worldrec+budget60']['psnr'])} dB**",
            f"per-scene fit (3000 steps) {_db(new_log['fit']['psnr'])}, WorldRec alone "
            f"{_db(new_log['worldrec']['psnr'])}, lidar skeleton {_db(new_log['lidar']['psnr'])}",
        ],
        [
            "WorldRec",
            "unseen towns, ego shifted 2 m (out-of-sample)",
            f"**{_db(towns['worldrec']['oracle_2m']['psnr'])} dB**",
            f"lidar skeleton {_db(towns['lidar']['oracle_2m']['psnr'])}, "
            f"per-scene fit {_db(fit['towns']['fit']['oracle_2m']['psnr'])}",
        ],
        [
            "WorldGen (`jwm` path, default sampler)",
            "unseen towns, ego shifted 2 m, WorldRec skeleton (out-of-sample): whole / uncovered",
            f"**{whole_uncovered(g2['worldgen'])} dB**, SSIM {g2['worldgen']['ssim']:.3f}",
            f"skeleton {whole_uncovered(g2['skeleton'])}, SSIM {g2['skeleton']['ssim']:.3f}",
        ],
        [
            "WorldGen, 1-step student",
            "unseen towns, ego shifted 2 m, WorldRec skeleton (out-of-sample): whole / uncovered",
            f"**{whole_uncovered(g2['worldgen-student'])} dB**",
            f"skeleton {whole_uncovered(g2['skeleton'])}",
        ],
        [
            "WorldGen (default sampler)",
            "real log, frames 50-59, WorldRec skeleton (never trained on; frames 0-49 were)",
            f"**{_db(held['worldgen']['psnr'])} dB**, SSIM {held['worldgen']['ssim']:.3f}",
            f"copy-last {_db(held['copy-last']['psnr'])}, skeleton {_db(held['skeleton']['psnr'])} / "
            f"{held['skeleton']['ssim']:.3f}",
        ],
        [
            "WorldGen (default sampler)",
            "60 s rollout: last 10 s against the first 10 s",
            f"**{_signed(roll['worldgen'])} dB**",
            f"lidar skeleton {_signed(roll['skeleton'])}",
        ],
    ]
    return _table(["model", "evaluation (PSNR)", "score", "baselines"], rows)


# ------------------------------------------------------------------------------------------------
# Closed-loop driving
# ------------------------------------------------------------------------------------------------
# the closed-loop evaluation of the planners on the scenario library (``jwmsim eval closed-loop``'s
# report.json, copied here with the machine it ran on in machine.json beside it)
CLOSED_LOOP = "benchmarks/results/closed_loop/report_library.json"
CLOSED_LOOP_METRICS = ("pdms", "nc", "ttc", "ep", "c", "rc", "hd_score", "neuroncap", "collision_rate")


def _interval(entry: dict[str, Any] | None) -> str:
    if entry is None:
        return "-"
    return f"{entry['mean']:.3f} [{entry['low']:.3f}, {entry['high']:.3f}]"


def closed_loop_summary(source: str = CLOSED_LOOP) -> str:
    """Every agent's overall closed-loop scores (mean and confidence interval over all the runs of
    every scenario, failed runs counted as 0) from the evaluation's report."""
    data = _load(source)
    titles = {"pdms": "PDMS", "nc": "NC", "ttc": "TTC", "ep": "EP", "c": "C", "rc": "RC"}
    titles |= {"hd_score": "HD-Score", "neuroncap": "NeuroNCAP", "collision_rate": "collision rate"}
    rows = []
    for agent in data["agents"]:
        overall = data["results"][agent["label"]]["overall"]
        runs = f"{overall['runs']}" + (
            f" ({overall['runs_failed']} failed)" if overall.get("runs_failed") else ""
        )
        rows.append([f"`{agent['label']}`", runs, *(_interval(overall.get(m)) for m in CLOSED_LOOP_METRICS)])
    machine = _load(str(Path(source).parent / "machine.json"))
    level = data["confidence"]["level"]
    note = (
        f"\n{len(data['scenarios'])} scenarios, {level:.0%} confidence intervals; measured on "
        f"{machine['machine'].get('cpu', '?')} with `{machine['command']}`.\n"
    )
    return _table(["agent", "runs", *(titles[m] for m in CLOSED_LOOP_METRICS)], rows) + note


def _bench_real_sets() -> dict[str, Any]:
    return _load(WORLDREC_BENCH)["results"]


REAL_SET_LABELS = {
    "out_of_sample": "out-of-sample: frames 40-59 as a new log, held-out 42, 46, 50, 54, 58",
    "in_sample": "in-sample: frames 0-39, held-out 4, 12, 20, 28, 36",
}


def worldrec_real_sets() -> str:
    """The real log's two sets (``benchmarks/bench_reconstruct.py``): WorldRec alone, refined
    within the 60 s budget, the 3000-step fit and the lidar skeleton, with build times."""
    data = _bench_real_sets()

    def cell(d: dict[str, Any]) -> str:
        return f"{_db(d['psnr'])} / {d['ssim']:.3f} ({d['build_seconds']:.0f} s)"

    rows = [
        [
            REAL_SET_LABELS[part],
            f"{cell(data[part]['worldrec'])}",
            f"**{cell(data[part]['worldrec+budget60'])}**",
            cell(data[part]["fit"]),
            cell(data[part]["lidar"]),
        ]
        for part in ("out_of_sample", "in_sample")
        if part in data
    ]
    header = ["set (PSNR dB / SSIM, build time)", "WorldRec", "WorldRec + 60 s", "fit, 3000 steps"]
    return _table([*header, "lidar skeleton"], rows)


def worldrec_results() -> str:
    """The WorldRec card's table: every evaluation set, WorldRec beside the baselines."""
    rec = _load(WORLDREC)["summary"]
    fit = _load(WORLDREC_FIT)["summary"]
    bench = _bench_real_sets()
    towns = rec["towns"]

    def cell(d: dict[str, Any]) -> str:
        return f"{_db(d['psnr'])} / {d['ssim']:.3f}"

    rows = []
    for part in ("out_of_sample", "in_sample"):
        real = rec[f"real_{part}"]
        rows.append(
            [
                REAL_SET_LABELS[part],
                f"**{cell(real['worldrec'])}**",
                cell(real["lidar"]),
                cell(bench[part]["fit"]) + " (3000 steps)",
                cell(real["worldrec+refine300"]),
            ]
        )
    rows.append(
        [
            "unseen towns, held-out frames",
            f"**{cell(towns['worldrec']['logged_heldout'])}**",
            cell(towns["lidar"]["logged_heldout"]),
            cell(fit["towns"]["fit"]["logged_heldout"]),
            "",
        ]
    )
    for shift in range(4):
        key = f"oracle_{shift}m"
        rows.append(
            [
                f"unseen towns, {shift} m shift",
                f"**{cell(towns['worldrec'][key])}**",
                cell(towns["lidar"][key]),
                cell(fit["towns"]["fit"][key]),
                "",
            ]
        )
    oos = rec["real_out_of_sample"]
    rows.append(
        [
            "build time, 4 s town log / 2 s new log [s]",
            f"{towns['worldrec']['seconds']:.1f} / {oos['worldrec']['seconds']:.1f}",
            f"{towns['lidar']['seconds']:.1f} / {oos['lidar']['seconds']:.1f}",
            f"{fit['towns']['fit']['seconds']:.0f} / {bench['out_of_sample']['fit']['build_seconds']:.0f}",
            f"- / {oos['worldrec+refine300']['seconds']:.1f}",
        ]
    )
    header = [
        "set (PSNR dB / SSIM, 90x160)",
        "WorldRec",
        "lidar skeleton",
        "per-scene fit",
        "WorldRec + refine 300",
    ]
    return _table(header, rows)


def worldrec_per_camera() -> str:
    """Per camera on the out-of-sample set (``bench_reconstruct.json``)."""
    real = _bench_real_sets()["out_of_sample"]
    methods = ("worldrec", "worldrec+budget60", "fit", "lidar")
    cameras = list(real["worldrec"]["per_camera"])
    rows = [[cam] + [_db(real[m]["per_camera"][cam]["psnr"]) for m in methods] for cam in cameras]
    header = ["camera (out-of-sample set, PSNR dB)", "WorldRec", "WorldRec + 60 s", "fit, 3000 steps"]
    return _table([*header, "lidar skeleton"], rows)


CONDITIONS = ("shift-0m", "shift-1m", "shift-2m", "shift-3m", "lane-change", "actors-moved")


def _gen_cell(d: dict[str, Any]) -> str:
    return f"{_db(d['psnr'])} / {_db(d['psnr_uncovered'])} / {_db(d['psnr_covered'])} / {d['ssim']:.3f}"


def worldgen_towns(scene: str) -> str:
    """WorldGen against the skeleton and copy-last on unseen towns, one skeleton kind."""
    towns = _load(WORLDGEN)["towns"]
    generators = ("skeleton", "copy-last", "worldgen")
    rows = []
    for condition in CONDITIONS:
        if condition in towns["worldgen"][scene]:
            rows.append([condition] + [_gen_cell(towns[g][scene][condition]) for g in generators])
    return _table([f"{scene} skeleton", *generators], rows)


def worldgen_real() -> str:
    held = _load(WORLDGEN)["real_heldout"]
    generators = ("skeleton", "copy-last", "worldgen")
    rows = [
        [f"{scene} skeleton"] + [_gen_cell(held[g][scene]) for g in generators]
        for scene in ("lidar", "worldrec")
    ]
    return _table(["real log, held-out second", *generators], rows)


def worldgen_rollout() -> str:
    roll = _load(WORLDGEN)["rollout"]
    rows = []
    for g, r in roll.items():
        rows.append(
            [
                g,
                r["steps"],
                _db(r["first_10s"]["psnr"]),
                _db(r["last_10s"]["psnr"]),
                _signed(r["psnr_last_minus_first_db"]),
                f"{r['traced_growth_mib']:+.2f}",
            ]
        )
    header = [
        "60 s rollout",
        "steps",
        "PSNR first 10 s",
        "PSNR last 10 s",
        "last - first [dB]",
        "traced heap [MiB]",
    ]
    return _table(header, rows)


def worldgen_ode() -> str:
    """The ODE student beside the teacher it was distilled from, in one evaluation run."""
    data = _load(WORLDGEN_ODE)
    generators = [g for g in data["generators"] if g != "copy-last"]
    rows = []
    for scene in ("lidar", "worldrec"):
        rows.append(
            [f"towns 2 m, {scene}"] + [_gen_cell(data["towns"][g][scene]["shift-2m"]) for g in generators]
        )
    for scene in ("lidar", "worldrec"):
        rows.append([f"real log, {scene}"] + [_gen_cell(data["real_heldout"][g][scene]) for g in generators])
    rows.append(["seconds per 3-camera step"] + [f"{data['seconds_per_step'][g]:.3f}" for g in generators])
    return _table(["set (whole / uncovered / covered PSNR dB / SSIM)", *generators], rows)


def _sharp_sets(data: dict[str, Any]) -> list[tuple[str, dict[str, dict[str, Any]]]]:
    """(label, generator -> scores) of the 2 m towns and the real log's held-out second."""
    gens = data["generators"]
    out = []
    for scene in ("lidar", "worldrec"):
        out.append((f"towns 2 m, {scene}", {g: data["towns"][g][scene]["shift-2m"] for g in gens}))
    for scene in ("lidar", "worldrec"):
        out.append((f"real log 50-59, {scene}", {g: data["real_heldout"][g][scene] for g in gens}))
    return out


def worldgen_sharp_criteria() -> str:
    """Per set and generator: PSNR uncovered [dB] / SSIM covered / sharpness ratio uncovered."""
    data = _load(WORLDGEN_SHARP)
    rows = [
        [label]
        + [
            f"{_db(d['psnr_uncovered'])} / {d['ssim_covered']:.3f} / {d['sharpness_uncovered']:.2f}"
            for d in per.values()
        ]  # fmt: skip
        for label, per in _sharp_sets(data)
    ]
    rows.append(
        ["seconds per 3-camera step"] + [f"{data['seconds_per_step'][g]:.3f}" for g in data["generators"]]
    )
    return _table(["set: PSNR uncov. / SSIM cov. / sharpness uncov.", *data["generators"]], rows)


def worldgen_pooled() -> str:
    """Per set: the share of pixels the skeleton leaves uncovered, and per generator the PSNR pooled
    over the set's uncovered pixels [dB] (``jwmsim.worldgen.training.gen_metrics``)."""
    data = _load(WORLDGEN_SHARP)
    rows = []
    for label, per in _sharp_sets(data):
        skel = per["skeleton"]["psnr_uncovered_pooled"]
        cells = [f"{100 * per['skeleton']['uncovered_share']:.2f} %"]
        for g, d in per.items():
            v = d["psnr_uncovered_pooled"]
            cells.append(_db(v) if g == "skeleton" else f"{_db(v)} ({_signed(v - skel)})")
        rows.append([label, *cells])
    return _table(["set", "uncovered share", *data["generators"]], rows)


def _sweep_report(case: dict[str, Any], name: str) -> dict[str, Any]:
    """One case of ``bench_worldgen_sampler.json`` in ``eval gen``'s report layout, its sampler
    named ``worldgen`` beside the skeleton (what :func:`picture_check` reads)."""
    per: dict[str, Any] = {"generators": ["skeleton", "worldgen"]}
    for k in ("towns", "real_heldout"):
        per[k] = {"skeleton": case[k]["skeleton"], "worldgen": case[k][name]}
    return per


DEFAULT_CASE = "end-0.1"  # the default sampler's case in bench_worldgen_sampler.json


def worldgen_sampler_sweep() -> str:
    """The default sampler's end level, guidance, anchor split, strength and coverage ramp and
    starting-noise correlation (``benchmarks/bench_worldgen_sampler.py``):
    on the WorldRec skeleton's sets, the real log's and the towns' sharpness ratio and PSNR over the
    skeleton (pooled) on uncovered pixels and SSIM on covered pixels (the skeleton's beside it);
    the default check's count."""
    data = _load("benchmarks/results/bench_worldgen_sampler.json")
    rows = []
    for name, case in data["results"].items():
        per = _sweep_report(case, name)
        check = picture_check(per)
        default = " (default)" if name == DEFAULT_CASE else ""
        setting = [case[k] for k in ("end_level", "guidance", "detail_sigma", "detail_strength")]
        ramp = "-".join(f"{v:g}" for v in case["anchor_ramp"])
        row = [" / ".join([*(f"{v:g}" for v in setting), ramp, f"{case['noise_correlation']:g}"]) + default]
        for gen, skel in (
            [per["real_heldout"][g]["worldrec"] for g in ("worldgen", "skeleton")],
            [per["towns"][g]["worldrec"]["shift-2m"] for g in ("worldgen", "skeleton")],
        ):
            row += [
                f"{gen['sharpness_uncovered']:.2f}",
                _signed(gen["psnr_uncovered_pooled"] - skel["psnr_uncovered_pooled"]),
                f"{gen['ssim_covered']:.3f} / {skel['ssim_covered']:.3f}",
            ]
        rows.append([*row, f"{sum(ok for *_, ok in check)} of {len(check)}"])
    header = ["end level / guidance / detail sigma [px] / strength / anchor ramp / noise correlation"]
    for where in ("real", "towns"):
        header += [
            f"sharpness unc. ({where})",
            f"PSNR unc. pooled ({where})",
            f"SSIM cov. / skeleton ({where})",
        ]
    header.append("default check")
    m = data["machine"]
    where = f"{m['cpu_model']}, {m['cpu_count']} cores, fp32 matmul {_calibration(data)} GFLOP/s"
    return _table(header, rows) + f"\nMeasured with `{data['command']}` ({where}).\n"


def worldgen_previous_frame() -> str:
    """The teacher before and after it takes the previous frame (``assets/worldgen/previous_frame``):
    the default sampler on the WorldRec skeleton, PSNR uncovered over the skeleton (per-image mean,
    pooled), covered SSIM, the real log's uncovered sharpness, the towns' uncovered flicker, and
    the default check's count."""
    folder = "assets/worldgen/previous_frame"
    cases: list[tuple[str, dict[str, Any]]] = [("without the previous frame (the teacher before)",
                                                 _load(f"{folder}/sweep_before.json"))]  # fmt: skip
    for alpha in ("0.3", "0.4", "0.5"):
        label = f"WiSE-FT alpha {alpha}" + (" (shipped)" if alpha == "0.3" else "")
        cases.append((label, _load(f"{folder}/sweep_alpha_{alpha}.json")))
    rows = [_teacher_row(label, _sweep_report(data["results"]["end-0.35"], "end-0.35"))
            for label, data in cases]  # fmt: skip
    run7 = _load(f"{folder}/eval_alpha_1.0.json")
    rows.append(_teacher_row("run 7 alone (alpha 1)", run7))
    header = ["teacher", "towns: PSNR unc. mean / pooled", "towns: SSIM cov.", "towns: flicker unc."]
    header += ["real: PSNR unc. mean / pooled", "real: SSIM cov.", "real: sharpness unc.", "default check"]
    return _table(header, rows)


def _teacher_row(
    label: str,
    data: dict[str, Any],
    town_extra: tuple[str, ...] = ("flicker_uncovered",),
    real_extra: tuple[str, ...] = ("sharpness_uncovered",),
) -> list[str]:
    """One row of a teacher comparison from a report with ``skeleton`` and ``worldgen``: per set
    (towns, real log; WorldRec skeleton) PSNR uncovered over the skeleton (mean / pooled), covered
    SSIM and the ``*_extra`` measures (the skeleton's in brackets), then the default check's count."""
    town = [data["towns"][g]["worldrec"]["shift-2m"] for g in ("worldgen", "skeleton")]
    real = [data["real_heldout"][g]["worldrec"] for g in ("worldgen", "skeleton")]
    check = picture_check(data)
    cells = [label]
    for (g, s), extra in ((town, town_extra), (real, real_extra)):
        cells.append(
            f"{_signed(g['psnr_uncovered'] - s['psnr_uncovered'])} / "
            f"{_signed(g['psnr_uncovered_pooled'] - s['psnr_uncovered_pooled'])}"
        )
        cells.append(f"{g['ssim_covered']:.3f} ({s['ssim_covered']:.3f})")
        cells += [f"{g[k]:.2f} ({s[k]:.2f})" for k in extra]
    cells.append(f"{sum(ok for *_, ok in check)} of {len(check)}")
    return cells


GRADIENT_VARIANCE = "assets/worldgen/gradient_variance"
# file in GRADIENT_VARIANCE -> the teacher it scored
GRADIENT_VARIANCE_TEACHERS = {
    "sweep_shipped.json": "teacher before (MSE)",
    "sweep_gv_0.02.json": "fine-tune, gradient variance 0.02",
    "sweep_gv_0.02_wise_0.5.json": "WiSE-FT 0.5 of it",
    "sweep_gv_0.05.json": "fine-tune, gradient variance 0.05",
    "sweep_gv_0.05_real.json": "fine-tune, gradient variance 0.05 on the real clips",
    "sweep_gv_0.05_real_wise_0.5.json": "WiSE-FT 0.5 of it",
    "sweep_gv_0.1_real_lr5e-5.json": "fine-tune, gradient variance 0.1 on the real clips, lr 5e-5",
    "sweep_gv_0.05_real_preserve_1.json": "fine-tune, gradient variance 0.05 on the real clips, preserve 1",
    "sweep_gv_0.15_real_preserve_1.json": "fine-tune, gradient variance 0.15 on the real clips, preserve 1",
    "sweep_gv_0.15_real_preserve_3.json": "fine-tune, gradient variance 0.15 on the real clips, preserve 3",
    "sweep_gv_0.15_real_preserve_3_towns.json": "the same, preserve 3 on the town clips only",
    "sweep_gv_0.15_real_preserve_10_towns.json": "the same, preserve 10 on the town clips only",
}


def worldgen_gradient_variance() -> str:
    """The teacher fine-tuned with the gradient variance loss against the one before
    (``assets/worldgen/gradient_variance``), the default sampler at three end levels with the
    ``detail`` anchor split at 2 px (the split then), on the WorldRec skeleton: as
    :func:`worldgen_previous_frame`, with the towns' uncovered sharpness."""
    rows = []
    for name, teacher in GRADIENT_VARIANCE_TEACHERS.items():
        data = _load(f"{GRADIENT_VARIANCE}/{name}")
        for case_name, case in data["results"].items():
            label = f"{teacher}, end {case['end_level']:g}"
            report = _sweep_report(case, case_name)
            rows.append(_teacher_row(label, report, ("sharpness_uncovered", "flicker_uncovered")))
    header = ["teacher, end level", "towns: PSNR unc. mean / pooled", "towns: SSIM cov."]
    header += ["towns: sharpness unc.", "towns: flicker unc.", "real: PSNR unc. mean / pooled"]
    header += ["real: SSIM cov.", "real: sharpness unc.", "default check"]
    data = _load(f"{GRADIENT_VARIANCE}/sweep_shipped.json")
    m = data["machine"]
    where = f"{m['cpu_model']}, {m['cpu_count']} cores, fp32 matmul {_calibration(data)} GFLOP/s"
    note = f"\nMeasured with `{data['command']}`, the fine-tunes with `--weights DIR` ({where}).\n"
    return _table(header, rows) + note


def worldgen_sharp_whole() -> str:
    """Whole image: PSNR / SSIM / sharpness / high-frequency energy / flicker ratios."""
    data = _load(WORLDGEN_SHARP)
    rows = [
        [label]
        + [
            f"{_db(d['psnr'])} / {d['ssim']:.3f} / {d['sharpness']:.2f} / {d['hf_energy']:.2f} / "
            f"{d['flicker']:.2f}"
            for d in per.values()
        ]  # fmt: skip
        for label, per in _sharp_sets(data)
    ]
    return _table(["set: PSNR / SSIM / sharpness / HF energy / flicker", *data["generators"]], rows)


# the measures of the default-picture check: (key, label, better); ``higher``: PSNR and SSIM,
# ``near 1``: a ratio to the real images (sharpness, high-frequency energy, flicker)
PICTURE_MEASURES = [
    (f"{m}{part}", f"{label}{where}", better)
    for m, label, better in (
        ("psnr", "PSNR", "higher"),
        ("ssim", "SSIM", "higher"),
        ("sharpness", "sharpness", "near 1"),
        ("hf_energy", "HF energy", "near 1"),
        ("flicker", "flicker", "near 1"),
    )
    for part, where in (("", ""), ("_uncovered", ", uncovered"), ("_covered", ", covered"))
]


def picture_check(data: dict[str, Any], generator: str = "worldgen") -> list[tuple[str, str, bool]]:
    """``(set, measure, holds)`` for every set and measure: whether ``generator`` is at least the
    skeleton's equal (PSNR and SSIM at least as high, ratios at least as near 1; to the precision
    the tables print: 0.01 dB, 0.001)."""
    out = []
    for label, per in _sharp_sets(data):
        gen, skel = per[generator], per["skeleton"]
        for key, name, better in PICTURE_MEASURES:
            g, s = gen[key], skel[key]
            if better == "higher":
                digits = 2 if key.startswith("psnr") else 3
                holds = round(g, digits) >= round(s, digits)
            else:
                holds = round(abs(g - 1.0), 2) <= round(abs(s - 1.0), 2)
            out.append((label, name, holds))
    return out


def worldgen_default_check() -> str:
    """Whether the default sampler is the skeleton's equal on every measure of every set: a row
    per measure, a column per set, cells ``default / skeleton`` and a tick where it holds."""
    data = _load(WORLDGEN_SHARP)
    sets = _sharp_sets(data)
    rows = []
    for key, name, better in PICTURE_MEASURES:
        row = [f"{name} ({better})"]
        for _, per in sets:
            g, s = per["worldgen"][key], per["skeleton"][key]
            fmt = (lambda v: _db(v)) if key.startswith("psnr") else (lambda v: f"{v:.3f}")
            row.append(f"{fmt(g)} / {fmt(s)}")
        rows.append(row)
    held = picture_check(data)
    for i in range(len(PICTURE_MEASURES)):
        for j in range(len(sets)):
            if held[j * len(PICTURE_MEASURES) + i][2]:
                rows[i][j + 1] += " ✓"
    return _table(["measure: default / skeleton", *(label for label, _ in sets)], rows)


# ------------------------------------------------------------------------------------------------
# Benchmarks
# ------------------------------------------------------------------------------------------------
def _bench(name: str) -> dict[str, Any]:
    return _load(f"benchmarks/results/{name}.json")


def _render_rows() -> list[list[Any]]:
    data = _bench("bench_render")
    rows = []
    for r in data["results"]:
        size = f"{r['cameras']}x{r['height']}x{r['width']}"
        if r.get("case") == "skeleton":
            what = (
                f"CPU rasterizer, built-in log, {r['skeleton']} ({r['gaussians']:,}), {r['renderer']}, {size}"
            )
        else:
            what = f"CPU rasterizer, synthetic {r['gaussians']:,} Gaussians, {size}, {r['pass']}"
        rows.append([what, f"{r['median_ms']:.1f} ms median", _calibration(data)])
    return rows


def _env_rows() -> list[list[Any]]:
    data = _bench("bench_env_render")
    rows = [
        [
            f"`JWM-Drive-v0`, 3 front cameras 112x200, {name}",
            f"{r['steps_per_s']:.1f} steps/s",
            _calibration(data),
        ]
        for name, r in data["results"].items()
    ]
    steps = _bench("bench_env_steps")
    peer = steps["results"].get("highway_v0")
    highway = peer["steps_per_s"] if isinstance(peer, dict) else None
    labels = {
        "jwm_bev": "no camera, 64x64 BEV",
        "jwm_skeleton_1cam": "skeleton v1, CAM_FRONT 64x112",
        "jwm_skeleton_3cam": "skeleton v1, 3 cameras 64x112",
        "jwm_skeleton_3cam_112x200": "skeleton v1, 3 cameras 112x200",
        "jwm_skeleton_3cam_112x200_async2": "same, AsyncVectorEnv with 2 workers",
        "jwm_skeleton_3cam_112x200_async2_unbudgeted": "same, 2 workers without thread budgets",
        "jwm_skeleton_3cam_112x200_1thread": "skeleton v1, 3 cameras 112x200, one thread",
        "jwm_skeleton_3cam_112x200_logged_actions": "skeleton v1, 3 cameras 112x200, the log's actions",
        "jwm_generator_3cam_112x200": "`jwm` generator, 3 cameras 112x200",
        "jwm_generator_3cam_112x200_async2": "same, AsyncVectorEnv with 2 workers",
        "sb3_camera_dummy1": "`train_ppo.py --observation camera`, DummyVecEnv of 1",
        "sb3_camera_subproc2": "same, SubprocVecEnv with 2 workers",
        "sb3_bev_dummy1": "`train_ppo.py --observation bev`, DummyVecEnv of 1",
        "sb3_bev_subproc2": "same, SubprocVecEnv with 2 workers",
        "highway_v0": "highway-env `highway-v0`, default configuration",
    }
    for key, r in steps["results"].items():
        if not isinstance(r, dict):  # a skipped case (its reason)
            continue
        ratio = f" ({r['steps_per_s'] / highway:.1f}x highway-v0)" if highway and key != "highway_v0" else ""
        rows.append(
            [f"`JWM-Drive-v0`, {labels.get(key, key)}", f"{r['steps_per_s']:.1f} steps/s{ratio}", "-"]
        )
    return rows


def _env_scaling_rows() -> list[list[Any]]:
    """Two vector workers against one environment (``scaling`` of bench_env_steps.json)."""
    steps = _bench("bench_env_steps")
    labels = {
        "skeleton_3cam_112x200_async2": "skeleton, 3 cameras 112x200, `AsyncVectorEnv`",
        "skeleton_3cam_112x200_async2_unbudgeted": "the same without thread budgets",
        "generator_3cam_112x200_async2": "`jwm` generator, 3 cameras 112x200, `AsyncVectorEnv`",
        "train_ppo_camera_subproc2": "`train_ppo.py --observation camera`, `SubprocVecEnv`",
        "train_ppo_bev_subproc2": "`train_ppo.py --observation bev`, `SubprocVecEnv`",
    }
    scaling = steps.get("scaling")
    if not scaling:
        return [["not measured yet", "run `python benchmarks/bench_env_steps.py`", "-"]]
    load = steps["meta"].get("load_average_before", ["?"])[0]

    def cap(r: dict[str, Any]) -> str:
        if "ceiling" not in r:
            return ""
        return (
            f"; ceiling 2 x {r['one_env_1thread_steps_per_s']:.1f} / {r['one_env_steps_per_s']:.1f} ="
            f" {r['ceiling']:.2f}x, {r['share_of_ceiling']:.0%} of it reached"
        )

    return [
        [
            f"2 workers, {labels.get(key, key)}",
            f"{r['ratio']:.2f}x ({r['one_env_steps_per_s']:.1f} -> {r['two_workers_steps_per_s']:.1f} "
            f"steps/s{cap(r)}; load {load})",
            _calibration(steps["meta"]),
        ]
        for key, r in scaling.items()
    ]


def _sim_rows() -> list[list[Any]]:
    data = _bench("bench_sim_transition")
    labels = {
        "synthetic_idm_30": "straight road, 30 inserted IDM cars",
        "synthetic_log_30": "straight road, 30 log-replayed cars",
        "pandaset_log_95": "real log, 95 actors, expert actions",
        "pandaset_released_95": "real log after its end, 95 released actors",
    }
    rows = []
    for key, r in data["results"].items():
        value = f"{r['median_ms']:.2f} ms median" if "median_ms" in r else f"{r['mean_ms']:.2f} ms mean"
        rows.append([f"`transition`, {labels.get(key, key)}", value, "-"])
    return rows


def _skeleton_rows() -> list[list[Any]]:
    rows = []
    for name in ("bench_skeleton_quality", "bench_skeleton_quality_180x320"):
        data = _bench(name)
        h, w = data["size_hw"]
        for r in data["results"]:
            if r["variant"] not in ("v1", "v2"):
                continue
            rows.append(
                [
                    f"lidar skeleton {r['variant']}, {r['log']} log, held-out frames, {h}x{w}",
                    f"{_db(r['psnr'])} dB / SSIM {r['ssim']:.3f}; {r['gaussians']:,} Gaussians; "
                    f"{r['render_ms_3cam']:.0f} ms for 3 cameras",
                    _calibration(data),
                ]
            )
    return rows


def _fit_rows() -> list[list[Any]]:
    data = _bench("bench_fit")
    return [
        [
            f"per-scene fit, {r['log']}, {r['steps']} steps at 90x160",
            f"{_db(r['heldout_psnr'])} dB / SSIM {r['heldout_ssim']:.3f} held out, {r['fit_seconds']:.0f} s",
            "-",
        ]
        for r in data["results"]
    ]


def _log_rows() -> list[list[Any]]:
    data = _bench("bench_procedural_log")
    log = data["default_log"]
    return [
        [
            f"built-in seed log: {log['frames']} frames x 6 cameras 320x180 + lidar, "
            f"{log['workers']} workers",
            f"{log['wall_s']:.1f} s wall, {log['cpu_s']:.0f} s CPU, {log['size_mb']:.0f} MB",
            "-",
        ],
        [
            "ground-truth render, one camera 320x180 / 640x360",
            f"{data['render_320x180_s']['median']:.2f} / {data['render_640x360_s']['median']:.2f} s",
            "-",
        ],
    ]


def _first_command_rows() -> list[list[Any]]:
    data = _bench("bench_first_command")
    first = data["first_command"]
    videos = f", `{first['render']}` videos of {first['videos']}" if first.get("videos") is not None else ""
    loaded = _bench("bench_first_command_loaded")
    ratios = " / ".join(f"{r['replay_over_env']:.2f}" for r in loaded["env_vs_replay_repeats"])
    return [
        [
            f"first command `jwmsim replay scenarios/cut_in.yaml`, empty cache "
            f"({first['runs']} runs{videos})",
            f"{first['total_s']:.0f} s: seed log and start-up {first['log_generation_and_startup_s']:.0f} s, "
            f"scene {first['scene_build_s']:.1f} s, runs {first['runs_s']:.0f} s "
            f"({first['replay_steps_per_s']:.1f} steps/s on {first['workers']} workers)",
            _calibration(data),
        ],
        [
            "one replay run against the environment alone (step-rate ratio, 3 repeats)",
            ratios,
            _calibration(loaded),
        ],
    ]


def _throughput_rows() -> list[list[Any]]:
    data = _bench("bench_eval_throughput")
    rows = [
        [
            f"evaluation throughput, `hard_brake`, {case.replace('/', ', ').replace('_', ' ')}",
            f"{r['runs_per_min']:.2f} runs/min",
            _calibration(data),
        ]
        for case, r in data["results"].items()
    ]
    export = _bench("bench_export")
    for r in export["results"]:
        rows.append(
            [
                f"`jwmsim export`, 2 s scenes, 6 cameras 112x200, {r['backend']} backend, "
                f"{r['workers']} worker(s)",
                f"{r['scenes_per_minute']:.2f} scenes/min, {r['images_per_second']:.1f} images/s",
                _calibration(export),
            ]
        )
    return rows


def _model_speed_rows() -> list[list[Any]]:
    data = _bench("bench_worldrec")
    rows = [
        [
            f"WorldRec, {r['log_seconds']:g} s of log, 3 cameras",
            f"{r['seconds_median']:.1f} s, {r['gaussians']:,} Gaussians, "
            f"peak RSS {r['peak_rss_mib']:.0f} MiB",
            _calibration(data),
        ]
        for r in data["results"]
    ]
    gen = _bench("bench_worldgen")
    for name, r in gen["latency_3_cameras"].items():
        rows.append(
            [
                f"WorldGen sampler `{name}`, 3 cameras 112x200",
                f"{r['seconds_per_step']:.3f} s per step ({r['denoiser_calls']} denoiser calls)",
                _calibration(gen),
            ]
        )
    for name, r in gen["env"].items():
        rows.append(
            [
                f"`JWM-Drive-v0`, `{name}`, 3 cameras 112x200",
                f"{r['steps_per_s']:.2f} steps/s",
                _calibration(gen),
            ]
        )
    mem = gen["memory"]
    rows.append(
        [
            f"`JWM-Drive-v0` `jwm` path, RSS over {mem['seconds']:.0f} s ({mem['steps']} steps)",
            f"{mem['rss_growth_mib']:+.1f} MiB (first to last 10 s)",
            _calibration(gen),
        ]
    )
    comp = gen["compute_fp32_vs_bf16"]
    for what, key in (("training step (fwd + bwd)", "training_step_s"), ("denoiser call", "denoiser_call_s")):
        r = comp[key]
        rows.append(
            [
                f"WorldGen {what}, fp32 / bf16 autocast",
                f"{r['fp32']:.3f} / {r['bf16']:.3f} s ({r['bf16_speedup']:.1f}x)",
                _calibration(gen),
            ]
        )
    return rows


BENCHMARK_SECTIONS: dict[str, tuple[str, Callable[[], list[list[Any]]]]] = {
    "bench-render": ("python benchmarks/bench_render.py", _render_rows),
    "bench-env": ("python benchmarks/bench_env_render.py; python benchmarks/bench_env_steps.py", _env_rows),
    "bench-env-scaling": ("python benchmarks/bench_env_steps.py", _env_scaling_rows),
    "bench-sim": ("python benchmarks/bench_sim_transition.py", _sim_rows),
    "bench-skeleton": ("python benchmarks/bench_skeleton_quality.py", _skeleton_rows),
    "bench-fit": ("python benchmarks/bench_fit.py --steps 3000 --size 90x160", _fit_rows),
    "bench-log": ("python benchmarks/bench_procedural_log.py", _log_rows),
    "bench-first-command": ("python benchmarks/bench_first_command.py", _first_command_rows),
    "bench-throughput": (
        "python benchmarks/bench_eval_throughput.py; python benchmarks/bench_export.py",
        _throughput_rows,
    ),
    "bench-models": (
        "python benchmarks/bench_worldrec.py; python benchmarks/bench_worldgen.py",
        _model_speed_rows,
    ),
}


def actor_insertion() -> str:
    """Inserted actors against the procedural oracle (``benchmarks/bench_actor_insertion.py``): the
    actor bank's real-log car, the mesh sedan and the Gaussian box in place of town cars."""
    data = _bench("bench_actor_insertion")
    labels = {
        "bank_car": f"real-log car (actor bank, `{data['bank_car']['name']}`)",
        "mesh_sedan": "mesh sedan (the shipped sedan before)",
        "box": "Gaussian box (the stand-in before)",
    }
    rows = [
        [
            labels.get(name, name),
            f"{v['psnr_mean']:.2f} ({v['psnr_median']:.2f})",
            f"{v['sharpness_ratio_mean']:.3f} ({v['sharpness_ratio_median']:.3f})",
        ]
        for name, v in data["summary"].items()
    ]
    h, w = data["image_hw"]
    towns = data["towns"]
    cpu = data["machine"].get("cpu_model", "?")
    views = data["rows"]
    better = sum(r["bank_car"]["psnr"] > r["mesh_sedan"]["psnr"] for r in views) / len(views)
    note = (
        f"\nThe real-log car scores a higher PSNR than the mesh sedan in {better:.0%} of the views. "
        f"{data['actor_views']} views of cars (at least {data['min_pixels']} pixels) in towns "
        f"{min(towns)}-{max(towns)}, six cameras at {h}x{w}; measured on {cpu} (fp32 matmul "
        f"{_calibration(data)} GFLOP/s). Reproduce: `python benchmarks/bench_actor_insertion.py`\n"
    )
    header = ["stand-in", "PSNR in the actor's region [dB], mean (median)", "sharpness ratio, mean (median)"]
    return _table(header, rows) + note


def _benchmark_section(name: str) -> str:
    command, rows = BENCHMARK_SECTIONS[name]
    return _table(["measured", "result", "calibration [GFLOP/s]"], rows()) + f"\nReproduce: `{command}`\n"


GENERATED: dict[str, Callable[[], str]] = {
    "model-summary": model_summary,
    "worldrec-results": worldrec_results,
    "worldrec-per-camera": worldrec_per_camera,
    "worldrec-real-sets": worldrec_real_sets,
    "worldgen-towns-lidar": lambda: worldgen_towns("lidar"),
    "worldgen-towns-worldrec": lambda: worldgen_towns("worldrec"),
    "worldgen-real": worldgen_real,
    "worldgen-rollout": worldgen_rollout,
    "worldgen-ode": worldgen_ode,
    "actor-insertion": actor_insertion,
    "worldgen-sharp-criteria": worldgen_sharp_criteria,
    "worldgen-sharp-whole": worldgen_sharp_whole,
    "worldgen-pooled": worldgen_pooled,
    "worldgen-sampler-sweep": worldgen_sampler_sweep,
    "worldgen-previous-frame": worldgen_previous_frame,
    "worldgen-gradient-variance": worldgen_gradient_variance,
    "worldgen-default-check": worldgen_default_check,
    **{name: (lambda name=name: _benchmark_section(name)) for name in BENCHMARK_SECTIONS},
}


def cut_in_gaps() -> str:
    """The cut-in's time gap and TTC at the moment of the cut-in, and what each planner made of the
    draws (``benchmarks/bench_cut_in.py``)."""
    data = _load("benchmarks/results/cut_in_gaps.json")

    def span(values: list[float], unit: str) -> str:
        return f"{values[0]:g}-{values[1]:g} {unit}" if values else "-"

    rows = [
        [
            f"`{agent}`",
            span(v["time_gap_s"], "s"),
            span(v["ttc_s"], "s"),
            span(v["closing_speed_mps"], "m/s"),
            span(v["decel_to_match_mps2"], "m/s^2"),
            f"{v['comfortable_runs']}/{v['runs']}",
            v["collisions"],
            f"{v['strongest_braking_mps2']:g}",
        ]
        for agent, v in data["summary"].items()
    ]
    header = ["planner", "time gap", "TTC", "closing speed", "deceleration to match", "C = 1"]
    header += ["at-fault collisions", "strongest braking [m/s^2]"]
    return _table(header, rows) + f"\nMeasured on {data['machine']} with `{data['command'].strip()}`.\n"


if (ROOT / CLOSED_LOOP).is_file():  # the block exists once the evaluation's results are saved
    GENERATED["closed-loop-summary"] = closed_loop_summary
GENERATED["cut-in"] = cut_in_gaps


def render(name: str) -> str:
    """The Markdown of one generated block (KeyError for an unknown name)."""
    return GENERATED[name]()


# ------------------------------------------------------------------------------------------------
# README
# ------------------------------------------------------------------------------------------------
README_BLOCKS = ("model-summary", "closed-loop-summary")  # blocks the README may hold


def readme_with_tables(text: str) -> str:
    """``text`` with each generated block it holds (:data:`README_BLOCKS`) replaced by the current
    table."""
    for name in README_BLOCKS:
        begin = f"<!-- generated: {name} -->"
        if begin not in text:
            continue
        start = text.index(begin) + len(begin)
        end = text.index(END, start)
        text = text[:start] + "\n" + render(name) + text[end:]
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Render the README's model table from the results files.")
    parser.add_argument("--check", action="store_true", help="fail if README.md's table is out of date")
    parser.add_argument("--print", dest="name", help="print one generated block, e.g. worldgen-real")
    args = parser.parse_args(argv)
    if args.name:
        sys.stdout.write(render(args.name))
        return 0
    text = README.read_text()
    updated = readme_with_tables(text)
    if args.check:
        if updated != text:
            print("README.md's model table is out of date: run python docs/gen_tables.py", file=sys.stderr)
            return 1
        return 0
    README.write_text(updated)
    print(f"updated {README}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
