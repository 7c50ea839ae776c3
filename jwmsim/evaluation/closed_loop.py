"""Closed-loop evaluation of planners on a folder of scenarios: every scenario times its jittered
runs, per agent; per scenario and overall the closed-loop metrics with confidence intervals, the
collision rate, and the per-step attribution of every penalty.

The runs are the replay's (:func:`jwmsim.replay.prepare_runs`, :func:`jwmsim.replay.execute_runs`)
and all of them, over scenarios and agents, go to one execution backend
(:mod:`jwmsim.backends`), so that the workers stay busy. Each run's result depends only on the
scenario, its seed and the run index: two agents meet exactly the same jittered runs, which makes
their per-run differences paired.

Agents are given explicitly (``--agent``), as planner specs (``idm``, ``sb3:PATH.zip``,
``file.py``); paths are relative to the working directory. A scenario's own ``agent:`` is never
used, and no policy zip or planner file is ever picked up from a scenario's folder: both run code
when loaded.

Output (``out``)::

    report.json       everything below, machine-readable
    report.md         tables: overall and per scenario, agents side by side, paired differences,
                      penalty attribution
    attribution.json  every penalised step of every run (agent, scenario, run, step, time, metric,
                      value, cause)
    plots/*.png       metric bars with confidence intervals, PDMS per scenario, penalties over time
    runs/<agent>/<scenario>/run_XXX/metrics.json   the replay's per-run records
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jwmsim.backends import BackendOptions, make_backend
from jwmsim.errors import ConfigError, JwmsimError, LogFormatError
from jwmsim.evaluation.closed_loop_report import write_report
from jwmsim.evaluation.confidence import T_METHOD, WILSON_METHOD, Interval, t_interval, wilson_interval
from jwmsim.evaluation.runs import (
    METRIC_BOUNDS,
    METRICS,
    ClosedLoopReport,
    EvalAgent,
    ScenarioRuns,
)
from jwmsim.planning import parse_planner_spec, resolve_planner_spec
from jwmsim.progress import progress_bar
from jwmsim.replay import ReplayOptions, execute_runs, prepare_runs
from jwmsim.replay_run import RunResult
from jwmsim.scenario.errors import LogDataMissing
from jwmsim.scenes.sources import DEFAULT_SCENE_SOURCE

_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


class EvaluationFailed(JwmsimError, RuntimeError):
    """A run's planner failed (or a task raised); the report of the runs that ended is written.

    Attributes:
        report: the :class:`ClosedLoopReport`; traceback: the planner's, when it raised.
    """

    exit_code = 1

    def __init__(self, message: str, hint: str, report: ClosedLoopReport, traceback: str | None) -> None:
        super().__init__(message, hint=hint)
        self.report = report
        self.traceback = traceback


@dataclass(frozen=True)
class ClosedLoopOptions:
    """What to evaluate and how.

    Attributes:
        agents: planner specs, one or more, distinct (paths relative to the working directory).
        scenarios: a folder of scenario YAML files (searched recursively) or one file; None: the
            shipped library (:func:`jwmsim.scenario.library.library_dir`).
        runs: jittered runs per scenario (None: each scenario's ``runs``).
        out: output folder.
        render: render path (default ``none``: metrics only, fastest; ``skeleton`` for camera
            policies).
        scene / cameras / image_size / render_backend / device: as for the replay.
        backend / workers / ray_address: the execution backend (:mod:`jwmsim.backends`).
        confidence: level of the confidence intervals.
        progress: show a tqdm bar.
        duration: [s] replaces every scenario's duration (None: each scenario's).
    """

    agents: tuple[str, ...]
    scenarios: Path | None = None
    runs: int | None = None
    out: Path = Path("runs/eval_closed_loop")
    render: str = "none"
    scene: str = DEFAULT_SCENE_SOURCE
    cameras: tuple[str, ...] = ("CAM_FRONT_LEFT", "CAM_FRONT", "CAM_FRONT_RIGHT")
    image_size: tuple[int, int] = (112, 200)
    render_backend: str = "auto"
    device: str = "auto"
    backend: str = "local"
    workers: int | None = None
    ray_address: str | None = None
    confidence: float = 0.95
    progress: bool = True
    duration: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "agents", tuple(self.agents))
        if not self.agents:
            raise ConfigError(
                "no agent to evaluate", hint="pass --agent NAME (e.g. --agent idm), once per agent"
            )
        if len(set(self.agents)) != len(self.agents):
            raise ConfigError(f"an agent is given twice: {list(self.agents)}", hint="pass each --agent once")
        if not 0.0 < self.confidence < 1.0:
            raise ConfigError(f"--confidence must be in (0, 1), got {self.confidence}", hint="e.g. 0.95")
        self.replay_options(self.agents[0], Path(self.out))  # validates render, runs, backend, out

    def replay_options(self, agent: str, out: Path) -> ReplayOptions:
        """The replay options of one agent's runs of one scenario."""
        return ReplayOptions(
            agent=agent,
            runs=self.runs,
            out=out,
            render=self.render,
            scene=self.scene,
            cameras=self.cameras,
            image_size=self.image_size,
            render_backend=self.render_backend,
            device=self.device,
            workers=self.workers,
            backend=self.backend,
            ray_address=self.ray_address,
            progress=False,
            duration=self.duration,
        )


def resolve_agents(specs: Sequence[str], base: Path | None = None) -> list[EvalAgent]:
    """Agents with their paths anchored at ``base`` (default: the working directory, never a
    scenario's folder) and distinct labels (``idm``, ``sb3-policy``, ``my_planner``)."""
    base = Path.cwd() if base is None else base
    agents: list[EvalAgent] = []
    taken: set[str] = set()
    for spec in specs:
        resolved = resolve_planner_spec(spec, base)
        parsed = parse_planner_spec(resolved)
        if parsed.file is not None:
            label = parsed.file.stem
        elif parsed.path is not None:
            label = f"{parsed.name}-{parsed.path.stem}"
        else:
            label = str(parsed.name)
        label = re.sub(r"[^A-Za-z0-9_.-]+", "_", label)
        unique, k = label, 2
        while unique in taken:
            unique, k = f"{label}-{k}", k + 1
        taken.add(unique)
        agents.append(EvalAgent(resolved, unique))
    return agents


def find_scenarios(folder: Path | None) -> list[Path]:
    """Scenario files of ``folder`` (recursively, sorted), the file itself, or the shipped library.

    Raises:
        ConfigError: the folder does not exist or holds no ``.yaml`` file.
    """
    from jwmsim.scenario.library import library_dir

    root = library_dir() if folder is None else Path(folder)
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise ConfigError(f"--scenarios {root} does not exist", hint="pass a folder of scenario YAML files")
    files = sorted(p for p in root.rglob("*.yaml") if p.is_file())
    if not files:
        raise ConfigError(
            f"--scenarios {root} holds no .yaml scenario file", hint="see scenarios/ for examples"
        )
    return files


def _prepare_groups(
    files: list[Path], agents: list[EvalAgent], opts: ClosedLoopOptions, root: Path
) -> tuple[list[ScenarioRuns], list[dict[str, str]]]:
    groups: list[ScenarioRuns] = []
    skipped: list[dict[str, str]] = []
    for path in files:
        rel = path.relative_to(root).with_suffix("") if path.is_relative_to(root) else Path(path.stem)
        made: list[ScenarioRuns] = []
        try:
            for agent in agents:
                out = Path(opts.out) / "runs" / agent.label / rel
                _, setup, n_runs, max_steps = prepare_runs(path, opts.replay_options(agent.spec, out))
                made.append(ScenarioRuns(agent, rel.as_posix(), path, setup, n_runs, max_steps))
        except (LogFormatError, LogDataMissing) as err:  # its log is not on this machine (a real log)
            skipped.append({"scenario": rel.as_posix(), "file": str(path), "reason": err.message})
            continue
        groups.extend(made)
    if not groups:
        raise ConfigError(
            "no scenario could be evaluated: "
            + "; ".join(f"{s['scenario']}: {s['reason']}" for s in skipped),
            hint="check the scenarios' logs (jwmsim info, or the log: field of the scenario)",
        )
    return groups, skipped


def evaluate_closed_loop(options: ClosedLoopOptions) -> ClosedLoopReport:
    """Run every scenario's jittered runs for every agent and write the report (see the module
    docstring).

    Raises:
        ConfigError / ScenarioError / CheckpointError: bad options, scenarios or agents (before
            any run).
        EvaluationFailed: a run's planner failed (after the report of the other runs is written).
        KeyboardInterrupt: with the :class:`ClosedLoopReport` of the finished runs as argument.
    """
    opts = options
    root = Path(opts.scenarios) if opts.scenarios is not None else None
    files = find_scenarios(root)
    base = root if root is not None and root.is_dir() else files[0].parent
    agents = resolve_agents(opts.agents)
    groups, skipped = _prepare_groups(files, agents, opts, base)
    tasks = [(g.setup, i) for g in groups for i in range(g.n_runs)]
    by_dir = {g.setup.out / f"run_{i:03d}": g for g in groups for i in range(g.n_runs)}
    started = time.perf_counter()
    with make_backend(opts.backend, BackendOptions(opts.workers, opts.ray_address)) as backend:
        workers = backend.parallelism(len(tasks))
        bar = progress_bar(
            total=sum(g.n_runs * g.max_steps for g in groups),
            desc=f"closed loop: {len(tasks)} run(s) on {workers} {backend.name} worker(s)",
            unit="step",
            disable=not opts.progress,
        )
        try:
            results, interrupted, task_failure = execute_runs(backend, tasks, bar.update)
        finally:
            bar.close()
        backend_info = {**backend.describe(), "workers": workers}
    for res in results:
        by_dir[res.run_dir].results.append(res)
    payload = build_payload(groups, agents, opts.confidence)
    payload.update(
        scenarios_folder=str(root) if root is not None else "shipped library",
        skipped=skipped,
        render=opts.render,
        backend=backend_info,
        wall_time_s=round(time.perf_counter() - started, 2),
        interrupted=interrupted,
    )
    failed = [r for r in results if r.status == "failed"]
    payload["failed"] = bool(failed) or task_failure is not None
    report = ClosedLoopReport(Path(opts.out), payload, groups, interrupted)
    write_report(report)
    if interrupted:
        raise KeyboardInterrupt(report)
    if task_failure is not None:
        raise EvaluationFailed(
            task_failure.message,
            f"the report of the other runs is in {opts.out}",
            report,
            task_failure.traceback,
        )
    if failed:
        first = failed[0]
        raise EvaluationFailed(
            f"a planner failed in {first.run_dir}: {first.error}",
            hint=f"fix the planner; its record is {first.run_dir / 'metrics.json'}, the report of the "
            f"other runs is in {opts.out}",
            report=report,
            traceback=first.traceback,
        )
    return report


def _intervals(rows: list[RunResult], level: float) -> dict[str, Any]:
    """Intervals of each metric over the runs that ended: finished runs with their scores, failed
    runs with :data:`jwmsim.replay.FAILED_SCORE` (a failure never counts as a good drive); the
    collision rate over finished runs, the failure rate over ended runs."""
    from jwmsim.replay import scored_values

    done = [r for r in rows if r.status == "finished"]
    failed = sum(r.status == "failed" for r in rows)
    out: dict[str, Any] = {"runs": len(done) + failed, "runs_failed": failed}
    for name in METRICS:
        vals = scored_values(rows, name)
        if vals:
            out[name] = t_interval(vals, level, METRIC_BOUNDS[name]).as_dict()
    if done:
        hits = sum(1 for r in done if (r.metrics.get("collision") or 0.0) > 0.0)
        out["collision_rate"] = wilson_interval(hits, len(done), level).as_dict()
    if done or failed:
        out["failure_rate"] = wilson_interval(failed, len(done) + failed, level).as_dict()
    return out


def cause_template(cause: str) -> str:
    """A penalty's cause with its numbers replaced by ``#`` (``would hit leader in # s``), so that
    causes of the same kind count together."""
    return _NUMBER.sub("#", cause)


def attribution(group: ScenarioRuns) -> dict[str, Any]:
    """Per-step penalty attribution of a group's finished runs: penalised steps by metric, and by
    (metric, cause kind) with the runs affected and the mean time of their first occurrence."""
    done = [r for r in group.results if r.status == "finished"]
    by_metric: dict[str, int] = {}
    kinds: dict[tuple[str, str], dict[str, Any]] = {}
    for r in done:
        first_seen: dict[tuple[str, str], float] = {}
        for p in r.record.get("penalties", []):
            by_metric[p["metric"]] = by_metric.get(p["metric"], 0) + 1
            key = (p["metric"], cause_template(p["cause"]))
            entry = kinds.setdefault(key, {"steps": 0, "runs": 0, "first_time": []})
            entry["steps"] += 1
            first_seen.setdefault(key, p["time"])
        for key, t in first_seen.items():
            kinds[key]["runs"] += 1
            kinds[key]["first_time"].append(t)
    causes = [
        {
            "metric": metric,
            "cause": cause,
            "steps": e["steps"],
            "runs": e["runs"],
            "mean_first_time_s": round(sum(e["first_time"]) / len(e["first_time"]), 3),
        }
        for (metric, cause), e in sorted(kinds.items(), key=lambda kv: (-kv[1]["steps"], kv[0]))
    ]
    return {"penalised_steps_by_metric": by_metric, "by_cause": causes}


def _paired_difference(
    base: list[ScenarioRuns], other: list[ScenarioRuns], metric: str, level: float
) -> Interval | None:
    """Mean per-run difference ``other - base`` of ``metric`` over the runs both finished (the
    same scenario and run index: the same jitter)."""
    a = {(g.scenario_file, r.run_index): r for g in base for r in g.results if r.status == "finished"}
    diffs = [
        r.metrics[metric] - a[(g.scenario_file, r.run_index)].metrics[metric]
        for g in other
        for r in g.results
        if r.status == "finished" and (g.scenario_file, r.run_index) in a
    ]
    return t_interval(diffs, level) if diffs else None


def build_payload(groups: list[ScenarioRuns], agents: list[EvalAgent], level: float) -> dict[str, Any]:
    """``report.json``'s results: per agent, overall (runs of all scenarios pooled) and per
    scenario intervals, attribution, and paired differences against the first agent."""
    results: dict[str, Any] = {}
    for agent in agents:
        mine = [g for g in groups if g.agent == agent]
        pooled = [r for g in mine for r in g.results]
        results[agent.label] = {
            "spec": agent.spec,
            "overall": _intervals(pooled, level),
            "scenarios": {
                g.scenario: {
                    **_intervals(g.results, level),
                    "file": str(g.scenario_file),
                    "runs_planned": g.n_runs,
                    "runs_failed": sum(r.status == "failed" for r in g.results),
                    "runs_interrupted": sum(r.status == "interrupted" for r in g.results),
                    "attribution": attribution(g),
                }
                for g in mine
            },
        }
    comparison: dict[str, Any] = {}
    first = [g for g in groups if g.agent == agents[0]]
    for agent in agents[1:]:
        mine = [g for g in groups if g.agent == agent]
        diffs = {m: _paired_difference(first, mine, m, level) for m in ("pdms", "hd_score", "neuroncap")}
        comparison[agent.label] = {
            "versus": agents[0].label,
            **{f"{m}_difference": d.as_dict() for m, d in diffs.items() if d is not None},
        }
    return {
        "agents": [{"label": a.label, "spec": a.spec} for a in agents],
        "scenarios": sorted({g.scenario for g in groups}),
        "confidence": {"level": level, "metrics": T_METHOD, "collision_rate": WILSON_METHOD},
        "results": results,
        "comparison": comparison,
    }
