"""What a search leaves behind: the worst cases as standalone scenario files, and a report.

* ``worst_001.yaml`` ... ``worst_00K.yaml``: the scenario with a trial's values in place of its
  ranges (one run, the searched agent), worst first (:meth:`Objective.worst_first`);
* ``report.json`` / ``report.md`` / ``report.png``: the objective's history over the trials (each
  trial and the worst so far), the worst cases, and the parameters that matter most (Optuna's
  fANOVA importance of the minimised value);
* the worst case's replay (``worst_001/``: video and ``metrics.json``, through :func:`jwmsim.replay.replay`),
  whose metrics are compared with those the search recorded.
"""

from __future__ import annotations

import json
import math
import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna

from jwmsim.replay_run import write_json_atomic
from jwmsim.scenario import Scenario
from jwmsim.scenario.dump import dump_scenario
from jwmsim.search.objective import MARGIN, Objective
from jwmsim.search.space import fixed_case
from jwmsim.search.study import finished_trials

CASE_NAME = "worst_{rank:03d}"
CASE_FILE = re.compile(r"^worst_\d{3}\.yaml$")
METRICS_COMPARED = ("pdms", "nc", "dac", "ttc", "ep", "c", "rc", "hd_score", "neuroncap", "collision")


@dataclass(frozen=True)
class Case:
    """A finished trial: its number, objective metric, TTC margin [s], every metric, its values."""

    trial: int
    metric: float
    margin: float
    metrics: dict[str, float | None]
    params: dict[str, Any]
    end_reason: str = ""


def cases_of(study: optuna.Study, objective: Objective) -> list[Case]:
    """The study's finished trials as cases, in trial order."""
    out = []
    for t in finished_trials(study):
        attrs = t.user_attrs
        out.append(
            Case(
                t.number,
                float(attrs["metric"]),
                float(attrs["ttc_margin"]),
                dict(attrs.get("metrics", {})),
                dict(t.params),
                str(attrs.get("end_reason", "")),
            )
        )
    return out


def worst_cases(cases: list[Case], objective: Objective, k: int) -> list[Case]:
    """The ``k`` worst cases, worst first."""
    return sorted(cases, key=lambda c: objective.worst_first(c.metric, c.margin, c.trial))[:k]


def history(cases: list[Case], objective: Objective) -> list[dict[str, Any]]:
    """Per finished trial (trial order): its metric and margin, and the worst metric so far."""
    rows, worst = [], None
    for c in cases:
        key = objective.worst_first(c.metric, c.margin, c.trial)
        if worst is None or key < worst[0]:
            worst = (key, c)
        rows.append(
            {
                "trial": c.trial,
                "metric": c.metric,
                "ttc_margin": c.margin,
                "worst_so_far": worst[1].metric,
                "worst_trial": worst[1].trial,
            }
        )
    return rows


def write_cases(
    scenario: Scenario, cases: list[Case], objective: Objective, agent: str, out: Path
) -> list[Path]:
    """Write each case as ``worst_NNN.yaml`` in ``out`` (files of an earlier, longer list are
    removed); returns the paths, worst first."""
    for old in out.iterdir():
        if CASE_FILE.match(old.name):
            old.unlink()
    paths = []
    for rank, case in enumerate(cases, start=1):
        name = CASE_NAME.format(rank=rank)
        text = (
            f"Case {rank} of a search of {scenario.name!r} for the {objective.describe()}: "
            f"trial {case.trial}, {objective.metric} = {case.metric:.6g}, "
            f"{MARGIN} = {case.margin:.3g} s ({case.end_reason or 'finished'}). "
            + (scenario.description or "")
        ).strip()
        fixed = fixed_case(
            scenario, case.params, agent=agent, name=f"{scenario.name}_{name}", description=text
        )
        path = out / f"{name}.yaml"
        dump_scenario(fixed, path)
        paths.append(path)
    return paths


def importance(study: optuna.Study) -> tuple[dict[str, float] | None, str]:
    """Optuna's fANOVA importance of each parameter for the minimised value (normalised to sum
    to 1), and a note; None with the reason where it cannot be computed (too few trials, or every
    trial scored the same)."""
    trials = finished_trials(study)
    if len(trials) < 2:
        return None, "needs at least 2 finished trials"
    if len({t.value for t in trials}) < 2:
        return None, "every trial scored the same: no parameter explains a difference"
    evaluator = optuna.importance.FanovaImportanceEvaluator(seed=0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            found = optuna.importance.get_param_importances(study, evaluator=evaluator)
    except (RuntimeError, ValueError) as err:
        return None, f"not computed: {err}"
    return {k: round(float(v), 4) for k, v in found.items()}, f"fANOVA over {len(trials)} finished trials"


def compare_metrics(recorded: dict[str, Any], replayed: dict[str, Any]) -> dict[str, Any]:
    """Whether a replay gave the metrics the search recorded (to 1e-6), and those that differ."""
    differ = {}
    for name in METRICS_COMPARED:
        a, b = recorded.get(name), replayed.get(name)
        same = (a is None and b is None) or (
            a is not None and b is not None and math.isclose(a, b, rel_tol=0.0, abs_tol=1e-6)
        )
        if not same:
            differ[name] = {"search": a, "replay": b}
    return {"reproduced": not differ, "differ": differ}


def plot(out: Path, rows: list[dict[str, Any]], imp: dict[str, float] | None, objective: Objective) -> Path:
    """``report.png``: the metric of every trial and the worst so far; the parameters' importance."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4), gridspec_kw={"width_ratios": [3, 2]})
    ax = axes[0]
    trials = [r["trial"] for r in rows]
    ax.scatter(trials, [r["metric"] for r in rows], s=14, color="#7a9cc6", label="trial")
    ax.step(trials, [r["worst_so_far"] for r in rows], where="post", color="#c0392b", label="worst so far")
    ax.set_xlabel("trial")
    ax.set_ylabel(objective.metric)
    ax.set_title(f"search for the {objective.describe().split(',')[0]}")
    ax.legend(loc="best", fontsize=8)
    ax.grid(alpha=0.3)
    ax = axes[1]
    if imp:
        names = list(imp)[::-1]
        ax.barh(names, [imp[n] for n in names], color="#27ae60")
        ax.set_xlabel("importance (fANOVA)")
        ax.tick_params(axis="y", labelsize=7)
    else:
        ax.text(0.5, 0.5, "importance not available", ha="center", va="center")
        ax.set_axis_off()
    fig.tight_layout()
    path = out / "report.png"
    tmp = out / ".report.png.partial"
    fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
    os.replace(tmp, path)
    return path


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def markdown(data: dict[str, Any]) -> str:
    """``report.md`` from the report's data."""
    obj = data["objective"]
    lines = [
        f"# Search: {data['scenario']} with {data['agent']}",
        "",
        f"- objective: the {obj['description']}",
        f"- sampler: {data['sampler']} (seed {data['seed']}), budget {data['budget']}, "
        f"{data['trials']['finished']} finished trial(s), {data['trials']['failed']} failed or interrupted",
        f"- scenario file: `{data['scenario_file']}`; study: `{data['study']}`",
        "",
        "## Worst cases",
        "",
        f"| rank | trial | {obj['metric']} | {MARGIN} [s] | end | file |",
        "|---:|---:|---:|---:|---|---|",
    ]
    for case in data["worst"]:
        lines.append(
            f"| {case['rank']} | {case['trial']} | {case['metric']:.4g} | {case['ttc_margin']:.3g} | "
            f"{case['end_reason']} | [{Path(case['file']).name}]({Path(case['file']).name}) |"
        )
    if data["worst"]:
        lines += ["", "Values of the worst case:", ""]
        lines += [f"- `{k}` = {_fmt(v)}" for k, v in data["worst"][0]["params"].items()]
    lines += ["", "## Parameters that matter most", ""]
    if data["importance"]:
        lines += ["| parameter | importance |", "|---|---:|"]
        lines += [f"| `{k}` | {v:.3f} |" for k, v in data["importance"].items()]
        lines += ["", data["importance_note"]]
    else:
        lines.append(f"Not available: {data['importance_note']}.")
    lines += ["", "## History", "", f"![objective per trial and worst so far]({data['plot']})", ""]
    found = [r for r in data["history"] if r["worst_trial"] == r["trial"]]
    lines += ["New worst cases as the search went on:", "", f"| trial | {obj['metric']} |", "|---:|---:|"]
    lines += [f"| {r['trial']} | {r['metric']:.4g} |" for r in found]
    replay = data.get("replay")
    if replay:
        lines += ["", "## Replay of the worst case", ""]
        verdict = "the same metrics as in the search" if replay["reproduced"] else "DIFFERENT metrics"
        lines.append(f"`jwmsim replay {Path(replay['case']).name}` gave {verdict}.")
        if replay.get("video"):
            lines.append(f"Video: [{replay['video']}]({replay['video']})")
        for name, pair in replay["differ"].items():
            lines.append(f"- {name}: search {pair['search']}, replay {pair['replay']}")
    lines += [
        "",
        f"View a case: `jwmsim view {Path(data['worst'][0]['file']).as_posix()}`" if data["worst"] else "",
    ]
    return "\n".join(lines).rstrip() + "\n"


def write_report(out: Path, data: dict[str, Any]) -> tuple[Path, Path]:
    """Write ``report.json`` and ``report.md`` (atomically); returns their paths."""
    json_path, md_path = out / "report.json", out / "report.md"
    write_json_atomic(json_path, data)
    tmp = out / ".report.md.partial"
    tmp.write_text(markdown(data), encoding="utf-8")
    os.replace(tmp, md_path)
    return json_path, md_path


def load_report(out: Path) -> dict[str, Any]:
    """The ``report.json`` of a search folder."""
    return json.loads((out / "report.json").read_text())


__all__ = [
    "Case",
    "cases_of",
    "compare_metrics",
    "history",
    "importance",
    "load_report",
    "markdown",
    "plot",
    "worst_cases",
    "write_cases",
    "write_report",
]
