"""The closed-loop evaluation's data: the metrics it reports, its agents, each agent's runs of a
scenario, and the report they make (written by :mod:`jwmsim.evaluation.closed_loop_report`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jwmsim.replay_run import RunResult, RunSetup

METRICS = ("nc", "dac", "ttc", "ep", "c", "pdms", "rc", "hd_score", "neuroncap", "red_light_penalty")
METRIC_BOUNDS = {name: (0.0, 5.0) if name == "neuroncap" else (0.0, 1.0) for name in METRICS}
METRIC_TITLES = {
    "nc": "NC",
    "dac": "DAC",
    "ttc": "TTC",
    "ep": "EP",
    "c": "C",
    "pdms": "PDMS",
    "rc": "RC",
    "hd_score": "HD-Score",
    "neuroncap": "NeuroNCAP",
    "red_light_penalty": "red light",
    "collision_rate": "collision rate",
}


@dataclass(frozen=True)
class EvalAgent:
    """An agent as evaluated: its spec (paths made absolute) and its folder / column label."""

    spec: str
    label: str


@dataclass
class ScenarioRuns:
    """One agent's runs of one scenario."""

    agent: EvalAgent
    scenario: str  # its key: the file's path below the scenarios folder, without .yaml
    scenario_file: Path
    setup: RunSetup
    n_runs: int
    max_steps: int
    results: list[RunResult] = field(default_factory=list)


@dataclass
class ClosedLoopReport:
    """The evaluation's outcome: ``payload`` is what ``report.json`` holds."""

    out: Path
    payload: dict[str, Any]
    groups: list[ScenarioRuns]
    interrupted: bool = False
