"""``search(scenario, options)``: the whole failure search, from the scenario file to the report.

1. the scenario's jitter becomes the search space (:mod:`jwmsim.search.space`); a scenario
   without jitter stops here;
2. the scenario is checked against its log and the planner is made, as a replay does
   (:func:`jwmsim.replay.prepare_runs`);
3. the study in ``OUT/study.db`` is created or continued (:mod:`jwmsim.search.study`) and trials
   run on the execution backend until ``budget`` trials have finished, counting those of earlier
   calls;
4. the worst cases, the report and the worst case's replay are written
   (:mod:`jwmsim.search.report`).
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jwmsim.backends import BACKENDS, BackendOptions, make_backend
from jwmsim.errors import ConfigError
from jwmsim.search.errors import SearchFailed, SearchInterrupted
from jwmsim.search.objective import DEFAULT_OBJECTIVE, MARGIN, Objective, metric_of, objective_by_name
from jwmsim.search.report import (
    Case,
    cases_of,
    compare_metrics,
    history,
    importance,
    plot,
    worst_cases,
    write_cases,
    write_report,
)
from jwmsim.search.space import (
    describe_space,
    fixed_values,
    portable_agent,
    scenario_fingerprint,
    search_space,
)
from jwmsim.search.study import (
    SAMPLERS,
    STUDY_FILE,
    TrialProgress,
    TrialsRun,
    close_stale_trials,
    finished_trials,
    folder_lock,
    make_sampler,
    open_study,
    run_trials,
)
from jwmsim.search.trials import TrialOutcome


@dataclass(frozen=True)
class SearchOptions:
    """How to search.

    Attributes:
        agent: planner spec (None: the scenario's agent, else ``idm``).
        objective: a metric of the registry or ``ttc_margin`` (:mod:`jwmsim.search.objective`).
        budget: finished trials the study should hold (those of earlier calls count).
        out: output folder (None: ``runs/search/<scenario name>``).
        sampler: ``tpe``, ``cmaes`` (continuous parameters only) or ``random``.
        seed: the sampler's seed (None: the scenario's seed).
        top: how many worst cases to write.
        workers: trials at a time (None: one per core, on Ray the cluster's CPUs). With 1 and a
            seed the search is reproducible; with more the order results arrive in varies.
        backend / ray_address: execution backend (:data:`jwmsim.backends.BACKENDS`).
        render: render path of the trials (``none``: metrics only; a planner that reads images
            needs one with images).
        video: replay the worst case with a video (else metrics only), on ``render`` or, where
            that is ``none``, the default picture path (``jwm``).
        progress: show progress (a bar on a terminal, plain lines otherwise).
    """

    agent: str | None = None
    objective: str = DEFAULT_OBJECTIVE
    budget: int = 50
    out: Path | None = None
    sampler: str = "tpe"
    seed: int | None = None
    top: int = 3
    workers: int | None = 1
    backend: str = "local"
    ray_address: str | None = None
    render: str = "none"
    video: bool = True
    progress: bool = True

    def __post_init__(self) -> None:
        if isinstance(self.budget, bool) or not isinstance(self.budget, int) or self.budget < 1:
            raise ConfigError(
                f"--budget must be at least 1 (trials to run), got {self.budget!r}", hint="e.g. --budget 50"
            )
        if self.top < 1:
            raise ConfigError(f"--top must be at least 1, got {self.top}", hint="e.g. --top 3")
        if self.sampler not in SAMPLERS:
            raise ConfigError(f"unknown sampler {self.sampler!r}", hint=f"choose one of {list(SAMPLERS)}")
        if self.seed is not None and self.seed < 0:
            raise ConfigError(f"--seed must be >= 0, got {self.seed}")
        objective_by_name(self.objective)
        if self.backend not in BACKENDS:
            raise ConfigError(
                f"execution backend {self.backend!r} is not available",
                hint=f"choose one of {BACKENDS.names()}",
            )
        if self.ray_address is not None and self.backend != "ray":
            raise ConfigError("--ray-address needs --backend ray", hint="add --backend ray")
        BackendOptions(self.workers, self.ray_address)
        if self.out is not None and Path(self.out).exists() and not Path(self.out).is_dir():
            raise ConfigError(f"--out {self.out} is a file, not a folder", hint="pass a folder")


@dataclass(frozen=True)
class SearchResult:
    """What a search wrote: the folder, the case files (worst first), the report's data."""

    out: Path
    cases: list[Path]
    report: dict[str, Any]
    new_trials: int


def default_out(scenario_name: str) -> Path:
    """``runs/search/<scenario name>``."""
    return Path("runs") / "search" / scenario_name


def search(scenario_path: str | Path, options: SearchOptions | None = None) -> SearchResult:
    """Search the scenario's jitter for the cases where the agent does worst; see the module
    docstring.

    Raises:
        NothingToSearch: the scenario has no jitter. ConfigError / ScenarioError: bad options,
            scenario, agent or log. StudyMismatch: the folder holds another search's study.
        SearchBusy: another search runs in the folder. SearchFailed: a trial's planner failed.
        SearchInterrupted: Ctrl-C (every finished trial is kept in the study).
    """
    from jwmsim.replay import ReplayOptions, prepare_runs
    from jwmsim.scenario import load_scenario

    opts = options or SearchOptions()
    objective = objective_by_name(opts.objective)
    scenario = load_scenario(scenario_path)
    space = search_space(scenario)
    out = Path(opts.out) if opts.out is not None else default_out(str(scenario.name))
    agent = portable_agent(opts.agent or scenario.agent or "idm")
    identity = {
        "scenario": str(scenario.name),
        "fingerprint": scenario_fingerprint(scenario),
        "agent": agent,
        "objective": objective.metric,
    }
    started = time.perf_counter()
    with folder_lock(out):
        open_study(out, identity, create=False)  # a mismatch fails before the log is loaded
        replay_opts = ReplayOptions(
            agent=agent,
            runs=1,
            out=out / "trials",
            render=opts.render,
            workers=opts.workers,
            backend=opts.backend,
            ray_address=opts.ray_address,
            progress=False,
        )
        scenario, setup, _, _ = prepare_runs(Path(scenario_path), replay_opts)
        study = open_study(out, identity)
        assert study is not None
        close_stale_trials(study)
        done = len(finished_trials(study))
        n_new = max(0, opts.budget - done)
        seed = scenario.seed if opts.seed is None else opts.seed
        ran, backend_info = TrialsRun(), {"name": opts.backend, "workers": 0}
        if n_new > 0:
            ran, backend_info = _run(study, setup, space, scenario, objective, opts, seed, done, n_new)
        kept = len(finished_trials(study))
        if ran.interrupted:
            raise SearchInterrupted(
                f"search interrupted: {kept} finished trial(s) are kept in {out / STUDY_FILE}",
                hint="run the same command again to continue the search",
            )
        if ran.task_failure is not None:
            raise ran.task_failure
        if ran.failed is not None:
            failed = ran.failed
            raise SearchFailed(
                f"planner {agent!r} failed in trial {failed.number} at step {failed.steps}: {failed.error}",
                hint=f"fix the planner; the trial's record is {setup.out / f'run_{failed.number:03d}'}, "
                f"the {kept} finished trial(s) are kept in {out / STUDY_FILE}",
                traceback=failed.traceback,
            )
        header = {
            "scenario": scenario.name,
            "scenario_file": str(scenario_path),
            "agent": agent,
            "objective": {
                "metric": objective.metric,
                "worst": "highest" if objective.higher_is_worse else "lowest",
                "tie_break": None if objective.metric == MARGIN else MARGIN,
                "description": objective.describe(),
            },
            "sampler": opts.sampler,
            "seed": seed,
            "budget": opts.budget,
            "study": str(out / STUDY_FILE),
            "space": describe_space(space),
            "backend": backend_info,
            "render": opts.render,
        }
        data = _write_outputs(out, scenario, study, objective, opts, agent, header, ran.finished)
        data["wall_time_s"] = round(time.perf_counter() - started, 2)
        write_report(out, data)
        return SearchResult(out, [Path(c["file"]) for c in data["worst"]], data, ran.finished)


def _run(
    study: Any,
    setup: Any,
    space: dict[str, Any],
    scenario: Any,
    objective: Objective,
    opts: SearchOptions,
    seed: int,
    done: int,
    n_new: int,
) -> tuple[TrialsRun, dict[str, Any]]:
    """Run ``n_new`` trials on the options' backend, with progress; what ran and where."""
    worst = WorstSoFar(objective, cases_of(study, objective))
    with make_backend(opts.backend, BackendOptions(opts.workers, opts.ray_address)) as backend:
        parallel = backend.parallelism(n_new)
        study.sampler = make_sampler(opts.sampler, space, seed, len(study.trials), parallel, opts.budget)
        progress = TrialProgress(
            opts.budget, min(done, opts.budget), f"search {scenario.name}", opts.progress
        )

        def on_trial(outcome: TrialOutcome) -> None:
            progress.update(worst.add(outcome))

        try:
            ran = run_trials(study, backend, setup, space, fixed_values(scenario), objective, n_new, on_trial)
        finally:
            progress.close()
        return ran, {**backend.describe(), "workers": parallel}


class WorstSoFar:
    """The worst case among the trials told so far, in words for the progress output."""

    def __init__(self, objective: Objective, cases: list[Case]) -> None:
        self.objective = objective
        found = worst_cases(cases, objective, 1)
        self.case: Case | None = found[0] if found else None

    def add(self, outcome: TrialOutcome) -> str:
        """Count a finished trial; the worst case so far as text."""
        obj = self.objective
        metric = metric_of(outcome.metrics, outcome.margin, obj)
        assert metric is not None  # only trials that count are passed on
        case = Case(outcome.number, metric, outcome.margin, outcome.metrics, {}, outcome.reason)
        if self.case is None or obj.worst_first(metric, case.margin, case.trial) < obj.worst_first(
            self.case.metric, self.case.margin, self.case.trial
        ):
            self.case = case
        c = self.case
        return f"{obj.metric}={c.metric:.4g} ({MARGIN} {c.margin:.2g} s, trial {c.trial})"


def _write_outputs(
    out: Path,
    scenario: Any,
    study: Any,
    objective: Objective,
    opts: SearchOptions,
    agent: str,
    header: dict[str, Any],
    new_trials: int,
) -> dict[str, Any]:
    """Write the case files and the plot, replay the worst case; the report's data."""
    cases = cases_of(study, objective)
    worst = worst_cases(cases, objective, opts.top)
    paths = write_cases(scenario, worst, objective, agent, out)
    imp, imp_note = importance(study)
    rows = history(cases, objective)
    data: dict[str, Any] = {
        **header,
        "trials": {"finished": len(cases), "failed": len(study.trials) - len(cases), "this_call": new_trials},
        "worst": [
            {
                "rank": rank,
                "trial": c.trial,
                "file": str(path),
                "metric": c.metric,
                "ttc_margin": c.margin,
                "end_reason": c.end_reason,
                "metrics": c.metrics,
                "params": c.params,
            }
            for rank, (c, path) in enumerate(zip(worst, paths, strict=True), start=1)
        ],
        "importance": imp,
        "importance_note": imp_note,
        "history": rows,
        "plot": "report.png",
    }
    if rows:
        plot(out, rows, imp, objective)
    if worst:
        data["replay"] = replay_case(paths[0], worst[0], opts)
    return data


def replay_case(path: Path, case: Case, opts: SearchOptions) -> dict[str, Any]:
    """Replay a case file with ``jwmsim replay`` (video unless ``opts.video`` is off) into the
    folder beside it named like it, and compare its metrics with the search's."""
    from jwmsim.envs.render_paths import PICTURE_PATH
    from jwmsim.replay import ReplayOptions, replay

    render = opts.render if opts.render != "none" else (PICTURE_PATH if opts.video else "none")
    result = replay(
        path,
        ReplayOptions(
            runs=1,
            out=path.with_suffix(""),
            render=render,
            workers=1,
            progress=opts.progress and sys.stderr.isatty(),
        ),
    )
    run = result.runs[0]
    return {
        "case": str(path),
        "out": str(result.out),
        "render": render,
        "video": str(run.video.relative_to(path.parent)) if run.video is not None else None,
        "metrics": run.metrics,
        **compare_metrics(case.metrics, run.metrics),
    }


__all__ = ["SearchOptions", "SearchResult", "default_out", "replay_case", "search"]
