"""Writing a closed-loop evaluation: ``report.json``, ``attribution.json``, ``report.md`` and plots
(matplotlib, headless). Every file goes through a temporary name and an atomic rename."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from jwmsim.evaluation.confidence import Interval
from jwmsim.evaluation.runs import METRIC_TITLES, METRICS, ClosedLoopReport, ScenarioRuns
from jwmsim.replay_run import write_json_atomic

BAR_METRICS = ("nc", "dac", "ttc", "ep", "c", "pdms", "rc", "hd_score", "collision_rate")
PENALTY_METRICS = ("nc", "dac", "ttc", "c")


def write_report(report: ClosedLoopReport) -> list[Path]:
    """Write every output of ``report`` into ``report.out``; returns the paths written."""
    out = report.out
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out / "report.json", report.payload)
    write_json_atomic(out / "attribution.json", attribution_rows(report.groups))
    _write_text(out / "report.md", markdown(report.payload))
    plots = write_plots(report, out / "plots")
    return [out / "report.json", out / "attribution.json", out / "report.md", *plots]


def attribution_rows(groups: list[ScenarioRuns]) -> list[dict[str, Any]]:
    """Every penalised step of every run that ended (finished or interrupted)."""
    rows = []
    for g in groups:
        for r in sorted(g.results, key=lambda r: r.run_index):
            for p in r.record.get("penalties", []):
                rows.append(
                    {
                        "agent": g.agent.label,
                        "scenario": g.scenario,
                        "run": r.run_index,
                        "status": r.status,
                        **p,
                    }
                )
    return rows


def _write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.partial")
    tmp.write_text(text)
    os.replace(tmp, path)


def _cell(entry: dict[str, Any] | None, digits: int = 3) -> str:
    if entry is None:
        return "-"
    return Interval(entry["mean"], entry["low"], entry["high"], entry["n"]).text(digits)


def markdown(payload: dict[str, Any]) -> str:
    """The report as markdown: overall and per-scenario tables (agents side by side), paired
    differences, penalty attribution, plots."""
    labels = [a["label"] for a in payload["agents"]]
    res = payload["results"]
    conf = payload["confidence"]
    level = int(round(100 * conf["level"]))
    cols = [*METRICS, "collision_rate"]
    lines = [
        "# Closed-loop evaluation",
        "",
        "- agents: " + ", ".join(f"`{a['label']}` (`{a['spec']}`)" for a in payload["agents"]),
        f"- scenarios: {len(payload['scenarios'])} from {payload.get('scenarios_folder', '?')}; render path "
        f"`{payload.get('render', '?')}`; backend {payload.get('backend', {}).get('name', '?')} with "
        f"{payload.get('backend', {}).get('workers', '?')} worker(s); {payload.get('wall_time_s', '?')} s",
        f"- {level}% confidence intervals `mean [low, high]`: {conf['metrics']}; {conf['collision_rate']}.",
    ]
    if payload.get("interrupted"):
        lines.append("- **interrupted**: only the runs that finished are counted.")
    if payload.get("failed"):
        lines.append("- **a planner failed**: see its run's metrics.json; the other runs are counted.")
    for s in payload.get("skipped", []):
        lines.append(f"- skipped `{s['scenario']}`: {s['reason']}")
    lines += ["", "## Overall (runs of all scenarios pooled)", ""]
    lines += ["| metric | " + " | ".join(f"`{lb}`" for lb in labels) + " |"]
    lines += ["|---|" + "---|" * len(labels)]
    for m in cols:
        row = [_cell(res[lb]["overall"].get(m)) for lb in labels]
        lines.append(f"| {METRIC_TITLES[m]} | " + " | ".join(row) + " |")
    lines.append("| runs | " + " | ".join(str(res[lb]["overall"]["runs"]) for lb in labels) + " |")
    if payload.get("comparison"):
        lines += ["", f"## Paired differences against `{labels[0]}` (same scenarios, same jittered runs)", ""]
        lines += ["| agent | PDMS diff | HD-Score diff | NeuroNCAP diff |", "|---|---|---|---|"]
        for lb, c in payload["comparison"].items():
            cells = [_cell(c.get(f"{m}_difference")) for m in ("pdms", "hd_score", "neuroncap")]
            lines.append(f"| `{lb}` | " + " | ".join(cells) + " |")
    lines += ["", "## Per scenario", ""]
    lines += ["| scenario | agent | runs | " + " | ".join(METRIC_TITLES[m] for m in cols) + " |"]
    lines += ["|---|---|---|" + "---|" * len(cols)]
    for sc in payload["scenarios"]:
        for lb in labels:
            entry = res[lb]["scenarios"].get(sc)
            if entry is None:
                continue
            cells = [_cell(entry.get(m), 2) for m in cols]
            lines.append(f"| {sc} | `{lb}` | {entry['runs']} | " + " | ".join(cells) + " |")
    lines += ["", "## Penalty attribution (penalised steps by cause, numbers replaced by #)", ""]
    lines += [
        "| scenario | agent | metric | cause | steps | runs | first at (mean s) |",
        "|---|---|---|---|---|---|---|",
    ]
    for sc in payload["scenarios"]:
        for lb in labels:
            entry = res[lb]["scenarios"].get(sc)
            for c in (entry or {}).get("attribution", {}).get("by_cause", []):
                metric = METRIC_TITLES.get(c["metric"], c["metric"])
                lines.append(
                    f"| {sc} | `{lb}` | {metric} | {c['cause'] or '-'} | "
                    f"{c['steps']} | {c['runs']} | {c['mean_first_time_s']:.2f} |"
                )
    lines += ["", "Every penalised step, with its run, step and time: `attribution.json`.", ""]
    lines += [
        "## Plots",
        "",
        "![metrics](plots/metrics.png)",
        "",
        "![PDMS per scenario](plots/pdms_by_scenario.png)",
    ]
    lines += ["", "![penalties over time](plots/penalties_over_time.png)", ""]
    return "\n".join(lines)


def _bar_groups(ax: Any, names: list[str], labels: list[str], entries: list[list[dict | None]]) -> None:
    """Grouped bars: ``entries[agent][name]`` with their intervals as error bars."""
    x = np.arange(len(names))
    width = 0.8 / max(1, len(labels))
    for k, (label, row) in enumerate(zip(labels, entries, strict=True)):
        means = np.array([e["mean"] if e else np.nan for e in row])
        low = np.array([e["mean"] - e["low"] if e and e["low"] is not None else 0.0 for e in row])
        high = np.array([e["high"] - e["mean"] if e and e["high"] is not None else 0.0 for e in row])
        xs = x + (k - (len(labels) - 1) / 2) * width
        ax.bar(xs, means, width, label=label)
        for xi, mi, lo, hi in zip(xs, means, low, high, strict=True):  # one by one: scalars only
            if np.isfinite(mi) and (lo > 0 or hi > 0):
                ax.errorbar(
                    float(xi), float(mi), yerr=[[float(lo)], [float(hi)]], fmt="none", ecolor="k", capsize=3
                )
    ax.set_xticks(x, names, rotation=20, ha="right")
    ax.legend(fontsize=8)


def write_plots(report: ClosedLoopReport, folder: Path) -> list[Path]:
    """``metrics.png``, ``pdms_by_scenario.png`` and ``penalties_over_time.png``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    payload = report.payload
    labels = [a["label"] for a in payload["agents"]]
    res = payload["results"]
    level = int(round(100 * payload["confidence"]["level"]))
    written = []

    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4), gridspec_kw={"width_ratios": [5, 1]})
    _bar_groups(
        ax,
        [METRIC_TITLES[m] for m in BAR_METRICS],
        labels,
        [[res[lb]["overall"].get(m) for m in BAR_METRICS] for lb in labels],
    )
    ax.set_ylim(0, 1.05)
    ax.set_title(f"closed-loop metrics over all runs ({level}% CI)")
    _bar_groups(ax2, ["NeuroNCAP"], labels, [[res[lb]["overall"].get("neuroncap")] for lb in labels])
    ax2.set_ylim(0, 5.2)
    written.append(_save(fig, folder / "metrics.png"))

    scenarios = payload["scenarios"]
    fig, ax = plt.subplots(figsize=(max(6, 1.2 * len(scenarios) + 2), 4))
    _bar_groups(
        ax,
        scenarios,
        labels,
        [[res[lb]["scenarios"].get(sc, {}).get("pdms") for sc in scenarios] for lb in labels],
    )
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("PDMS")
    ax.set_title(f"PDMS per scenario ({level}% CI over runs)")
    written.append(_save(fig, folder / "pdms_by_scenario.png"))

    fig, axes = plt.subplots(1, len(labels), figsize=(5 * len(labels), 3.5), squeeze=False, sharey=True)
    for ax, label in zip(axes[0], labels, strict=True):
        groups = [g for g in report.groups if g.agent.label == label]
        runs = sum(1 for g in groups for r in g.results if r.status == "finished")
        times = {m: [] for m in PENALTY_METRICS}
        for g in groups:
            for r in g.results:
                if r.status != "finished":
                    continue
                for p in r.record.get("penalties", []):
                    if p["metric"] in times:
                        times[p["metric"]].append(p["time"])
        t_max = max([t for ts in times.values() for t in ts], default=1.0)
        width = max(t_max / 30.0, 0.1)  # [s] at least a 10 Hz step, so that steps do not fall between bins
        bins = np.arange(0.0, t_max + 2 * width, width) - width / 2
        hist = [np.histogram(times[m], bins)[0] / max(1, runs) for m in PENALTY_METRICS]
        ax.stackplot(bins[:-1], hist, labels=[METRIC_TITLES[m] for m in PENALTY_METRICS], step="post")
        ax.set_title(f"{label}: penalised steps per run")
        ax.set_xlabel("time since the run started [s]")
        ax.legend(fontsize=8, loc="upper right")
    written.append(_save(fig, folder / "penalties_over_time.png"))
    return written


def _save(fig: Any, path: Path) -> Path:
    import matplotlib.pyplot as plt

    tmp = path.with_name(f".{path.stem}.partial.png")
    fig.tight_layout()
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, path)
    return path
